"""Running the registered checks and storing their verdicts (``results/checks.json``).

:func:`run_checks` runs checks and returns one JSON-able record per check (a check that
raises is recorded with verdict ``"error"``, so one broken check never hides the others);
given ``out`` it stores each verdict the moment it is finished, so an interrupt (Ctrl-C or
``kill -9``) loses only the check in flight and rerunning the same checks resumes.
:func:`save_checks` merges records into ``out/results/checks.json`` atomically (through
:mod:`regimes.store`) and :func:`load_checks` reads them back; a corrupt file is refused
with a ``ValueError`` naming it, never silently replaced (it holds other checks' verdicts). The report
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
from regimes.store import atomic_write_json, config_hash, git_revision, jsonable, library_fingerprint

#: Where the stored verdicts live, relative to an ``--out`` folder.
CHECKS_FILE = Path("results") / "checks.json"

#: Every verdict a stored check entry can carry (lower case), in display order.
ENTRY_VERDICTS = ("pass", "fail", "vacuous", "inconclusive", "observation", "error")


def verdict_of(res: CheckResult) -> str:
    """The stored verdict of a result: ``res.verdict`` in lower case (``"pass"``, ``"fail"``,
    ``"vacuous"``, ``"inconclusive"``, ``"observation"``; see :data:`regimes.checks.VERDICTS`)."""
    return str(res.verdict).lower()


def diverged_result(chk: Check, err: FloatingPointError) -> CheckResult:
    """The INCONCLUSIVE result of check ``chk`` whose training run diverged with ``err``.

    A run that blows up (:class:`regimes.train.NonFiniteError`: NaN/∞ loss or parameters) never
    reached the event its claim is about, so the claim is untested at the check's setting — not
    broken code, and not a FAIL. The details name where it diverged (``step``, ``step_range``,
    the last finite metrics) and the message.

    >>> from regimes.checks import Check
    >>> chk = Check("X", "Thm 0", "s", "t", lambda quick=True: None)
    >>> diverged_result(chk, FloatingPointError("overflow")).verdict
    'INCONCLUSIVE'
    """
    details = {"diverged": True, "message": str(err), "step": getattr(err, "step", None),
               "step_range": list(getattr(err, "step_range", ()) or ()) or None,
               "last_finite_metrics": getattr(err, "last_record", None)}
    return CheckResult(chk.id, chk.theorem, float("nan"), float("nan"), "n/a", None, details,
                       verdict="INCONCLUSIVE")


def _run_one(chk: Check, quick: bool, rev: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    entry: dict[str, Any] = {"id": chk.id, "theorem": chk.theorem, "statement": chk.statement,
                             "test": chk.test, "mode": "quick" if quick else "full"}
    try:
        res = chk.fn(quick=quick)
        if not isinstance(res, CheckResult):
            raise TypeError(f"check {chk.id} returned {type(res).__name__}, not CheckResult")
        entry.update(result=jsonable(res.to_dict()), verdict=verdict_of(res), error=None)
    except FloatingPointError as e:   # a training run of the check diverged: the claim went untested
        res = diverged_result(chk, e)
        entry.update(result=jsonable(res.to_dict()), verdict=verdict_of(res), error=None,
                     traceback=traceback.format_exc(limit=6))
    except Exception as e:
        entry.update(result=None, verdict="error", error=f"{type(e).__name__}: {e}",
                     traceback=traceback.format_exc(limit=6))
    entry.update(wall_s=time.perf_counter() - t0,
                 finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), git_revision=rev)
    return entry


def run_checks(checks: Iterable[Check], *, quick: bool = True,
               on_result: Callable[[dict[str, Any]], None] | None = None,
               out: str | Path | None = None) -> list[dict[str, Any]]:
    """Run each check and return one JSON-able record per check (``id``, ``theorem``,
    ``statement``, ``test``, ``mode``, ``result``, ``verdict``, ``error``, ``wall_s`` in
    seconds, ``finished_at``, ``git_revision``).

    A check that raises gets verdict ``"error"`` with the exception text, so one
    broken check never hides the others' verdicts; a check whose training diverges
    (``FloatingPointError``, e.g. :class:`regimes.train.NonFiniteError`) gets ``"inconclusive"``
    with where it diverged (:func:`diverged_result`). ``on_result`` (optional) is called
    with each record as soon as it is finished.

    ``out`` (optional): store each record in ``out/results/checks.json`` the moment it is
    finished (atomically), with a note of the run in progress (the check ids, the mode and
    the library's code fingerprint). A run killed part-way (Ctrl-C, ``kill -9``) loses only
    the check in flight: rerunning the same checks in the same mode on the same code keeps
    the verdicts that run finished (their records get ``"resumed": true``) and runs the
    rest. ``ValueError`` (before any check runs) if the stored file is corrupt.
    """
    checks = list(checks)
    rev = git_revision()
    mode = "quick" if quick else "full"
    kept: dict[str, dict[str, Any]] = {}
    session: dict[str, Any] | None = None
    if out is not None:
        stored, note = _read(out)
        want = {"ids": sorted(c.id for c in checks), "mode": mode, "code": library_fingerprint()}
        if note is not None and {k: note.get(k) for k in want} == want:
            session = note     # the same run, interrupted: resume it
            kept = {i: {**e, "resumed": True} for i, e in stored.items() if e.get("run") == note["run"]}
        else:
            session = {**want, "run": config_hash({**want, "started_at": time.time()}),
                       "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            save_checks(out, [], in_progress=session)
    entries = []
    for chk in checks:
        entry = kept.get(chk.id)
        if entry is None:
            entry = _run_one(chk, quick, rev)
            if session is not None:
                entry["run"] = session["run"]
                save_checks(out, [entry], in_progress=session)
        entries.append(entry)
        if on_result:
            on_result(entry)
    if out is not None:
        save_checks(out, [], in_progress=None)
    return entries


def _read(out: str | Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """(records by id, the note of the run in progress or ``None``) from ``checks.json``."""
    path = Path(out) / CHECKS_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        raise ValueError(f"cannot read the stored verdicts {path} ({e.strerror or e}): fix its permissions, "
                         "or move it away to start over") from None
    try:
        stored = json.loads(text)
        if not isinstance(stored, dict) or not isinstance(stored.get("checks", []), list):
            raise ValueError("not an object with a list of checks")
    except ValueError as e:
        raise ValueError(f"the stored verdicts {path} are corrupt ({' '.join(str(e).split())[:120]}): they are "
                         "kept as they are; delete or move the file to start over (its verdicts are lost)") from None
    note = stored.get("in_progress")
    return ({e["id"]: e for e in stored.get("checks", []) if isinstance(e, dict) and "id" in e},
            note if isinstance(note, dict) and "run" in note else None)


def load_checks(out: str | Path) -> dict[str, dict[str, Any]]:
    """Stored check records by id from ``out/results/checks.json`` (empty if none);
    ``ValueError`` naming the file if it is corrupt (never read as "no verdicts")."""
    return _read(out)[0]


def save_checks(out: str | Path, entries: list[dict[str, Any]], *,
                in_progress: dict[str, Any] | None = None) -> Path:
    """Merge ``entries`` into ``out/results/checks.json`` (atomically) and return its path.

    ``in_progress``: the note of the :func:`run_checks` run under way (``None`` once
    it is finished). ``ValueError`` if the stored file is corrupt: it is not replaced."""
    merged, _ = _read(out)
    merged.update({e["id"]: e for e in entries})
    path = Path(out) / CHECKS_FILE
    record: dict[str, Any] = {"checks": list(merged.values()),
                              "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if in_progress is not None:
        record["in_progress"] = in_progress
    atomic_write_json(path, record)
    return path
