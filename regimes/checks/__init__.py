"""The check registry: each numbered check of the digest (C1…C17) is a function
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
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CheckResult:
    """Outcome of one numbered check.

    ``measured`` and ``bound`` are the two sides of the asserted inequality
    (``relation`` says which way, e.g. ``"<="``); ``holds`` is the verdict;
    ``holds=None`` marks an observation the paper makes no claim about (e.g.
    the 0-1 error of kernel methods, an open question). ``details`` carries
    per-case numbers for the report.
    """

    id: str
    theorem: str
    measured: float
    bound: float
    relation: str
    holds: bool | None
    details: dict[str, Any] = field(default_factory=dict)

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


def _sort_key(cid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in cid if ch.isdigit())
    return (int(digits) if digits else 10**6, cid)


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
