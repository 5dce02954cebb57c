"""Input validation shared by every public entry point.

Each helper raises ``ValueError`` naming the argument, the offending value and
the allowed range, so bad input fails before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value.__index__())  # type: ignore[attr-defined]
    if low is not None and v < low:
        raise ValueError(f"{name}={v} is out of range: need {name} >= {low}" + _hi(name, high))
    if high is not None and v > high:
        raise ValueError(f"{name}={v} is out of range: need {name} <= {high}")
    return v


def _hi(name: str, high: int | None) -> str:
    return f" and {name} <= {high}" if high is not None else ""


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is finite and > 0 (>= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        rng = "[0, inf)" if allow_zero else "(0, inf)"
        raise ValueError(f"{name}={value!r} is out of range: allowed {rng}")
    return v


def check_fraction(name: str, value: float, *, closed_low: bool = False) -> float:
    """Return ``value`` if it lies in (0, 1] (or [0, 1] with ``closed_low``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    ok = (0 <= v <= 1) if closed_low else (0 < v <= 1)
    if not ok:
        rng = "[0, 1]" if closed_low else "(0, 1]"
        raise ValueError(f"{name}={value!r} is out of range: allowed {rng}")
    return v


#: The largest population (p**arity index rows) any code enumerates or samples from: 50 million
#: rows (400 MB of int64 pairs), so classification allows p <= 7071 and regression p <= 368. A
#: larger p is refused from this size before anything is allocated.
MAX_POINTS = 50_000_000

#: Seeds are 64-bit signed integers (``torch.Generator.manual_seed``'s range, non-negative part).
MAX_SEED = 2**63 - 1


def check_seed(name: str, value: object) -> int:
    """Return ``value`` as an int if it is an integer seed in ``[0, 2**63 - 1]``: a float (even
    ``1.0``), a bool or a string is refused, never truncated; a seed past 64 bits names the
    range instead of torch's "Overflow when unpacking long long".

    >>> check_seed("seed", 3)
    3
    """
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"{name}={value!r} is not allowed: a seed is an integer in [0, {MAX_SEED}]")
    v = int(value.__index__())  # type: ignore[attr-defined]
    if not 0 <= v <= MAX_SEED:
        raise ValueError(f"{name}={v} is out of range: a seed is an integer in [0, 2**63 - 1]")
    return v


def check_device(name: str, value: object) -> object:
    """Return ``value`` if it names a device: a ``torch.device``, or ``"cpu"``, ``"cuda"`` or
    ``"cuda:N"`` (availability is the caller's check); else ``ValueError`` naming the allowed
    ones, before torch's raw "Expected one of cpu, cuda, …" error."""
    if isinstance(value, torch.device):
        return value
    ok = isinstance(value, str) and (value in ("cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()))
    if not ok:
        raise ValueError(f"{name}={value!r} is not allowed: choose 'cpu', 'cuda' or 'cuda:N'")
    return value


def check_choice(name: str, value: object, choices: Iterable[object]) -> object:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed: choose one of {choices}")
    return value


def check_index_tensor(name: str, x: object, p: int, arity: int | tuple[int, ...]) -> torch.Tensor:
    """Validate an integer index tensor of shape (n, arity) with entries in [0, p).

    ``arity`` may be a tuple of allowed widths. Returns the tensor as int64.
    """
    arities = (arity,) if isinstance(arity, int) else tuple(arity)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of integer indices, got {type(x).__name__}")
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer indices, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] not in arities:
        want = " or ".join(f"(n, {a})" for a in arities)
        raise ValueError(f"{name} has shape {tuple(x.shape)}: expected {want}")
    if x.numel():
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi >= p:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} holds index {bad}, out of range: allowed 0..{p - 1} (p={p})")
    return x.long()
