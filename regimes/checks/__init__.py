"""The check registry: each numbered check (C1…C17b) is a function
returning a :class:`CheckResult` — the measured value, the bound, and whether
the inequality holds — registered under its id with the theorem it tests.

Tests assert through the registry (``run_check("C8").holds``), and the CLI
prints the same results as a verification table, so a verdict shown to a user
is exactly the one the test suite asserts.

Registering a check::

    @register("C8", theorem="Thm 3.1, Prop B.4, B.6", test="tests/test_rank.py",
              statement="rank K ≤ min(n, 3ph); singular if h < n/(3p)")
    def c8(quick: bool = True) -> CheckResult: ...

Check modules live in ``regimes/checks/`` and are imported by :func:`all_checks`.
Running checks and storing their verdicts (``results/checks.json``) is
:mod:`regimes.checks.runner`'s job; the report only renders what it stored.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: The verdicts a check can return, and what each one means.
VERDICTS: dict[str, str] = {
    "PASS": "the inequality was evaluated where it says something, and it holds",
    "FAIL": "the inequality was evaluated where it says something, and it is violated",
    "VACUOUS": "the bound cannot say anything at this size (e.g. an error bound ≥ 1); "
               "details name the size at which it would",
    "OBSERVATION": "a measurement the source makes no claim about (no pass/fail)",
    "INCONCLUSIVE": "a run never reached the event the claim is about (e.g. never fit, never generalised)",
}
#: Verdicts that make ``regimes check`` exit non-zero (besides a crashed check, ``"ERROR"``).
BAD_VERDICTS = ("FAIL", "INCONCLUSIVE", "ERROR")


@dataclass
class CheckResult:
    """Outcome of one numbered check.

    ``measured`` and ``bound`` are the two sides of the asserted inequality
    (``relation`` says which way, e.g. ``"<="``). ``verdict`` is one of
    :data:`VERDICTS`; when it is not given it follows from ``holds``
    (True → PASS, False → FAIL, None → OBSERVATION). ``holds`` is ``True`` only
    for PASS, ``False`` only for FAIL and ``None`` for every other verdict, so a
    vacuous bound or an inconclusive run can never read as a pass.
    ``details`` carries per-case numbers for the report.

    Raises ``ValueError`` for an unknown verdict, or one that contradicts ``holds``.
    """

    id: str
    theorem: str
    measured: float
    bound: float
    relation: str
    holds: bool | None
    details: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None

    def __post_init__(self) -> None:
        derived = "OBSERVATION" if self.holds is None else ("PASS" if self.holds else "FAIL")
        if self.verdict is None:
            self.verdict = derived
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not allowed: use one of {sorted(VERDICTS)}")
        if self.verdict in ("PASS", "FAIL") and self.verdict != derived:
            raise ValueError(f"verdict={self.verdict!r} contradicts holds={self.holds!r}")
        if self.verdict not in ("PASS", "FAIL"):
            self.holds = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-able dict (for ``results/checks.json`` and the report)."""
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """A registered check: id, theorem, one-line statement, test path, function."""

    id: str
    theorem: str
    statement: str
    test: str
    fn: Callable[..., CheckResult]


_REGISTRY: dict[str, Check] = {}


def register(id: str, *, theorem: str, statement: str, test: str) -> Callable:
    """Decorator registering ``fn(quick: bool = True) -> CheckResult`` under ``id``."""

    def deco(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if id in _REGISTRY and _REGISTRY[id].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"check id {id!r} is registered twice")
        _REGISTRY[id] = Check(id, theorem, statement, test, fn)
        return fn

    return deco


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def _sort_key(cid: str) -> tuple[int, str, int, str]:
    """The central paper's checks (C…) first, then the other sources' (G…, Gromov), each
    family in numeric order: C2 < C10 < C12 < C12b < G1."""
    m = re.fullmatch(r"([A-Za-z]*)(\d*)(.*)", cid)
    prefix, digits, rest = m.groups() if m else ("", "", cid)
    return (0 if prefix == "C" else 1, prefix, int(digits) if digits else 10**6, rest)


def all_checks() -> list[Check]:
    """Every registered check, in id order (C1, C2, …, C10, …)."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=_sort_key)]


def get_check(id: str) -> Check:
    """The check registered under ``id``; ``ValueError`` if unknown."""
    _load_all()
    if id not in _REGISTRY:
        raise ValueError(f"unknown check id {id!r}: known ids are {sorted(_REGISTRY, key=_sort_key)}")
    return _REGISTRY[id]


def run_check(id: str, quick: bool = True) -> CheckResult:
    """Run one check and return its result."""
    return get_check(id).fn(quick=quick)
