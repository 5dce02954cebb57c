"""Measures of grokking on logged training curves (textbook chapter, seed 002; issue 5 §1).

All functions take the evaluation steps and a curve sampled at them (lists or
arrays of equal length, steps strictly increasing; the spacing may be uneven,
e.g. log-spaced) and return plain Python numbers; ``None`` means "never
happened within the logged steps".

Definitions used here (our wording of the chapter's):

* memorisation time ``t_mem``: the first logged step at which the training
  accuracy reaches its threshold (100 % by default);
* grokking time ``t_grok``: the first logged step at which the test accuracy
  reaches its threshold (90 % by default; the digest's C17 uses 95 %);
* grokking gap: ``t_grok − t_mem``, the time spent memorised but not general;
* sharpness: how abrupt the jump is, reported three ways: the gap relative to
  ``t_grok``; the rise time (from the last step at or below a low accuracy level
  to the first step at or above a high level) and its ratio to ``t_grok``; and
  the slope of the raw curve just before ``t_grok``;
* automatic detection without thresholds: the step where the smoothed curve
  rises fastest (moving average, then discrete derivative), and a four-parameter
  logistic fit ``a(t) = c + (d − c) / (1 + exp(−k (t − t₀)))`` whose centre t₀
  and steepness k describe the transition;
* kernel-exit time ``t_exit``: the first logged step at which a kernel distance
  (Fort et al.'s S(t, 0) ∈ [0, 1]) reaches a threshold (this suite's own measure
  of leaving the kernel regime).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from regimes._validate import check_fraction, check_int

__all__ = [
    "GrokkingMeasures",
    "SigmoidFit",
    "Transition",
    "detect_transition",
    "first_crossing",
    "fit_sigmoid",
    "grokking_gap",
    "grokking_measures",
    "rise_time",
    "sigmoid",
    "smoothed_derivative",
    "t_exit",
    "t_grok",
    "t_mem",
]

ArrayLike = Sequence[float] | np.ndarray
#: Accuracies are ratios k/n; compare with this slack so 1.0 - 1e-16 counts as 1.
_TOL = 1e-12


def _curve(steps: ArrayLike, values: ArrayLike, name: str = "values", *, min_len: int = 1
           ) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if s.shape != v.shape:
        raise ValueError(f"steps has {s.size} entries but {name} has {v.size}: curves must have equal lengths")
    if s.size < min_len:
        raise ValueError(f"{name} has {s.size} entries: need at least {min_len}")
    if not np.all(np.isfinite(s)):
        raise ValueError("steps contains NaN or inf")
    if s.size > 1 and not np.all(np.diff(s) > 0):
        raise ValueError("steps must be strictly increasing")
    return s, v


def _as_step(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def first_crossing(steps: ArrayLike, values: ArrayLike, threshold: float) -> int | float | None:
    """The first step whose value is ≥ ``threshold`` (NaN values never cross), else ``None``."""
    s, v = _curve(steps, values)
    thr = float(threshold)
    if not math.isfinite(thr):
        raise ValueError(f"threshold={threshold!r} must be finite")
    hit = np.nonzero(np.nan_to_num(v, nan=-np.inf) >= thr - _TOL)[0]
    return _as_step(s[hit[0]]) if hit.size else None


def t_mem(steps: ArrayLike, train_acc: ArrayLike, threshold: float = 1.0) -> int | float | None:
    """Memorisation time: first step with training accuracy ≥ ``threshold`` ∈ (0, 1] (default 100 %)."""
    check_fraction("threshold", threshold)
    return first_crossing(steps, train_acc, threshold)


def t_grok(steps: ArrayLike, test_acc: ArrayLike, threshold: float = 0.9) -> int | float | None:
    """Grokking time: first step with test accuracy ≥ ``threshold`` ∈ (0, 1] (default 90 %)."""
    check_fraction("threshold", threshold)
    return first_crossing(steps, test_acc, threshold)


def t_exit(steps: ArrayLike, distance: ArrayLike, threshold: float = 0.1) -> int | float | None:
    """Kernel-exit time: first step at which a kernel distance S(t, 0) ∈ [0, 1] reaches
    ``threshold`` ∈ (0, 1] (Fort et al.'s distance; see :func:`regimes.metrics.kernel_distance`)."""
    check_fraction("threshold", threshold)
    return first_crossing(steps, distance, threshold)


def grokking_gap(t_memorize: float | None, t_generalize: float | None) -> int | float | None:
    """``t_grok − t_mem``; ``None`` if either never happened. Negative when the test
    curve crosses its threshold before the training set is fit (no grokking delay)."""
    if t_memorize is None or t_generalize is None:
        return None
    return _as_step(float(t_generalize) - float(t_memorize))


def rise_time(steps: ArrayLike, values: ArrayLike, *, low: float = 0.1, high: float = 0.9
              ) -> tuple[int | float, int | float] | None:
    """(t_low, t_high): ``t_high`` is the first step with value ≥ ``high``; ``t_low`` is the
    last step before it with value ≤ ``low`` (the first logged step if there is none).
    ``None`` if the curve never reaches ``high``. Levels in (0, 1], ``low < high``."""
    check_fraction("low", low)
    check_fraction("high", high)
    if not low < high:
        raise ValueError(f"low={low!r} must be below high={high!r}")
    s, v = _curve(steps, values)
    th = first_crossing(s, v, high)
    if th is None:
        return None
    i_hi = int(np.searchsorted(s, th))
    below = np.nonzero(np.nan_to_num(v[:i_hi], nan=np.inf) <= low + _TOL)[0]
    t_lo = s[below[-1]] if below.size else s[0]
    return _as_step(t_lo), th


def _x(s: np.ndarray, log_time: bool) -> np.ndarray:
    if not log_time:
        return s
    if np.any(s < 0):
        raise ValueError("log_time needs non-negative steps")
    return np.log10(s + 1.0)


def smoothed_derivative(steps: ArrayLike, values: ArrayLike, *, window: int = 5,
                        log_time: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(smoothed curve, its derivative) at each logged step.

    The curve is smoothed by a centred moving average over ``window`` samples
    (shrunk at the ends) and differentiated by central differences in the step
    (``log_time=False``) or in log10(step + 1) (``log_time=True``, for log-spaced
    logs). The textbook's practice problem 5 detector (steps 2–4).
    """
    window = check_int("window", window, low=1)
    s, v = _curve(steps, values, min_len=2)
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or inf: drop unlogged steps first")
    half = window // 2
    c = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(v.size)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, v.size)
    sm = (c[hi] - c[lo]) / (hi - lo)
    return sm, np.gradient(sm, _x(s, log_time))


@dataclass(frozen=True)
class Transition:
    """Result of :func:`detect_transition`: the step of fastest rise, the rate there
    (per step, or per decade with ``log_time``), and the smoothed curve ``before`` and
    ``after`` it (one window away), so a caller can reject a flat curve."""

    step: int | float
    rate: float
    before: float
    after: float

    @property
    def jump(self) -> float:
        return self.after - self.before


def detect_transition(steps: ArrayLike, values: ArrayLike, *, window: int = 5,
                      log_time: bool = False) -> Transition:
    """The step where the smoothed curve rises fastest (argmax of :func:`smoothed_derivative`)."""
    s, v = _curve(steps, values, min_len=2)
    sm, d = smoothed_derivative(s, v, window=window, log_time=log_time)
    i = int(np.argmax(d))
    j0, j1 = max(0, i - window), min(v.size - 1, i + window)
    return Transition(_as_step(s[i]), float(d[i]), float(sm[j0]), float(sm[j1]))


def sigmoid(t: np.ndarray | float, t0: float, k: float, low: float, high: float) -> np.ndarray:
    """c + (d − c) / (1 + exp(−k (t − t₀))) with c = ``low``, d = ``high`` (overflow-safe)."""
    z = np.clip(-k * (np.asarray(t, dtype=np.float64) - t0), -700, 700)
    return low + (high - low) / (1.0 + np.exp(z))


@dataclass(frozen=True)
class SigmoidFit:
    """Logistic fit of a curve: centre ``t0`` (in steps), steepness ``k`` (per step, or per
    decade of steps with ``log_time``), plateaus ``low``/``high``, the fit's RMS residual
    and whether scipy's least squares converged."""

    t0: float
    k: float
    low: float
    high: float
    rmse: float
    converged: bool
    log_time: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_sigmoid(steps: ArrayLike, values: ArrayLike, *, log_time: bool = False,
                window: int = 5) -> SigmoidFit:
    """Least-squares logistic fit a(t) = c + (d − c)/(1 + e^{−k(t − t₀)}) (textbook problem 5).

    Fitted with ``scipy.optimize.curve_fit`` (bounded trust region, k > 0), started
    from the :func:`detect_transition` step and the curve's extremes. With
    ``log_time`` the fit is done in u = log10(t + 1) and ``t0`` is mapped back to steps
    (``k`` is then per decade). On failure ``converged=False`` and the start values
    are returned.
    """
    from scipy.optimize import curve_fit

    s, v = _curve(steps, values, min_len=4)
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or inf: drop unlogged steps first")
    x = _x(s, log_time)
    span = float(x[-1] - x[0])
    lo, hi = float(np.min(v)), float(np.max(v))
    rng = max(hi - lo, 1e-12)
    tr = detect_transition(s, v, window=window, log_time=log_time)
    x0 = float(_x(np.array([float(tr.step)]), log_time)[0])
    k0 = 4.0 * max(abs(tr.rate), 1e-12) / rng
    k0 = float(np.clip(k0, 1e-3 / span, 1e4 / span))
    p0 = [x0, k0, lo, hi]
    bounds = ([x[0] - span, 1e-6 / span, lo - rng, lo - rng], [x[-1] + span, 1e6 / span, hi + rng, hi + rng])
    converged = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, _ = curve_fit(sigmoid, x, v, p0=p0, bounds=bounds, method="trf", maxfev=20000)
    except (RuntimeError, ValueError):
        popt, converged = np.array(p0), False
    rmse = float(np.sqrt(np.mean((sigmoid(x, *popt) - v) ** 2)))
    t0 = float(10 ** popt[0] - 1.0) if log_time else float(popt[0])
    return SigmoidFit(t0, float(popt[1]), float(popt[2]), float(popt[3]), rmse, converged, log_time)


@dataclass
class GrokkingMeasures:
    """All the chapter's measures for one run (``None`` = did not happen in the log)."""

    t_mem: int | float | None
    t_grok: int | float | None
    gap: int | float | None
    gap_ratio: float | None
    rise_time: int | float | None
    rise_ratio: float | None
    slope_at_grok: float | None
    detected_step: int | float
    detected_rate: float
    sigmoid: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grokking_measures(steps: ArrayLike, train_acc: ArrayLike, test_acc: ArrayLike, *,
                      mem_threshold: float = 1.0, grok_threshold: float = 0.9,
                      low: float = 0.1, window: int = 5, log_time: bool = False,
                      fit: bool = True) -> GrokkingMeasures:
    """t_mem, t_grok, gap, sharpness (gap/t_grok, rise time and its ratio to t_grok, slope
    just before t_grok), the detector's step and rate on the test curve, and (``fit``)
    the logistic fit of the test curve. Thresholds and ``low`` lie in (0, 1]."""
    s, tr = _curve(steps, train_acc, "train_acc")
    _, te = _curve(steps, test_acc, "test_acc")
    if te.size != s.size:
        raise ValueError("train_acc and test_acc must have equal lengths")
    tm = t_mem(s, tr, mem_threshold)
    tg = t_grok(s, te, grok_threshold)
    gap = grokking_gap(tm, tg)
    gap_ratio = None if gap is None or not tg else float(gap) / float(tg)
    rise = rise_time(s, te, low=min(low, grok_threshold / 2), high=grok_threshold) if tg is not None else None
    rt = None if rise is None else _as_step(float(rise[1]) - float(rise[0]))
    rise_ratio = None if rt is None or not tg else float(rt) / float(tg)
    slope = None
    if tg is not None:
        i = int(np.searchsorted(s, tg))
        slope = float((te[i] - te[i - 1]) / (s[i] - s[i - 1])) if i > 0 else None
    ok = np.isfinite(te)
    if ok.sum() >= 2:
        det = detect_transition(s[ok], te[ok], window=window, log_time=log_time)
        det_step, det_rate = det.step, det.rate
    else:
        det_step, det_rate = _as_step(s[0]), float("nan")
    sig = fit_sigmoid(s[ok], te[ok], log_time=log_time, window=window).as_dict() if fit and ok.sum() >= 4 \
        else None
    return GrokkingMeasures(tm, tg, gap, gap_ratio, rt, rise_ratio, slope, det_step, det_rate, sig)
