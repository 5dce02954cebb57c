"""Running the registered checks and storing their verdicts (``results/checks.json``).

:func:`run_checks` runs checks and returns one JSON-able record per check (a check that
raises is recorded with verdict ``"error"``, so one broken check never hides the others);
:func:`save_checks` merges records into ``out/results/checks.json`` atomically (through
:mod:`regimes.store`) and :func:`load_checks` reads them back. The report
(:mod:`regimes.report`) only renders what is stored here; the CLI (``regimes check``,
``regimes report``, ``regimes reproduce``) runs and stores.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from regimes.checks import Check, CheckResult
from regimes.store import atomic_write_json, git_revision, jsonable

#: Where the stored verdicts live, relative to an ``--out`` folder.
CHECKS_FILE = Path("results") / "checks.json"

#: Every verdict a stored check entry can carry (lower case), in display order.
ENTRY_VERDICTS = ("pass", "fail", "vacuous", "inconclusive", "observation", "error")


def verdict_of(res: CheckResult) -> str:
    """The stored verdict of a result: ``res.verdict`` in lower case (``"pass"``, ``"fail"``,
    ``"vacuous"``, ``"inconclusive"``, ``"observation"``; see :data:`regimes.checks.VERDICTS`)."""
    return str(res.verdict).lower()


def run_checks(checks: Iterable[Check], *, quick: bool = True,
               on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run each check and return one JSON-able record per check (``id``, ``theorem``,
    ``statement``, ``test``, ``mode``, ``result``, ``verdict``, ``error``, ``wall_s`` in
    seconds, ``finished_at``, ``git_revision``).

    A check that raises gets verdict ``"error"`` with the exception text, so one
    broken check never hides the others' verdicts. ``on_result`` (optional) is called
    with each record as soon as it is finished.
    """
    entries = []
    rev = git_revision()
    for chk in checks:
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"id": chk.id, "theorem": chk.theorem, "statement": chk.statement,
                                 "test": chk.test, "mode": "quick" if quick else "full"}
        try:
            res = chk.fn(quick=quick)
            if not isinstance(res, CheckResult):
                raise TypeError(f"check {chk.id} returned {type(res).__name__}, not CheckResult")
            entry.update(result=jsonable(res.to_dict()), verdict=verdict_of(res), error=None)
        except Exception as e:
            entry.update(result=None, verdict="error", error=f"{type(e).__name__}: {e}",
                         traceback=traceback.format_exc(limit=6))
        entry.update(wall_s=time.perf_counter() - t0,
                     finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), git_revision=rev)
        entries.append(entry)
        if on_result:
            on_result(entry)
    return entries


def load_checks(out: str | Path) -> dict[str, dict[str, Any]]:
    """Stored check records by id from ``out/results/checks.json`` (empty if none or unreadable)."""
    path = Path(out) / CHECKS_FILE
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {e["id"]: e for e in stored.get("checks", []) if isinstance(e, dict) and "id" in e}


def save_checks(out: str | Path, entries: list[dict[str, Any]]) -> Path:
    """Merge ``entries`` into ``out/results/checks.json`` (atomically) and return its path."""
    merged = load_checks(out)
    merged.update({e["id"]: e for e in entries})
    path = Path(out) / CHECKS_FILE
    atomic_write_json(path, {"checks": list(merged.values()),
                             "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return path
