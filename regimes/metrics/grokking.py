"""Measures of grokking on logged training curves (after a textbook chapter on grokking).

All functions take the evaluation steps and a curve sampled at them (lists or
arrays of equal length, steps strictly increasing; the spacing may be uneven,
e.g. log-spaced) and return plain Python numbers; ``None`` means "never
happened within the logged steps".

Definitions used here (our wording of the chapter's):

* memorisation time ``t_mem``: the first logged step at which the training
  accuracy reaches its threshold (100 % by default);
* grokking time ``t_grok``: the first logged step at which the test accuracy
  reaches its threshold (90 % by default; check C17 uses 95 % for its t_gen);
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

A curve that does not move has no transition. The detector and the logistic fit
report one only where the curve rises by more than :data:`JUMP_TOL` (times
max(1, max |value|)); below that, a "fastest rise" or a fitted centre would be
chosen by floating-point round-off, not by the data. Steps and rates are then
``None`` and a fit has ``converged=False``. Non-finite samples (NaN for an
unlogged step, or an overflowed ±inf) never count as crossing a threshold.
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
    "JUMP_TOL",
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

#: The smallest rise (in the curve's units, scaled by max(1, max |value|)) that counts as a
#: transition for :func:`detect_transition` and :func:`fit_sigmoid`. It sits between two scales:
#: float64 round-off of the smoothing (≲ 1e-13 for curves of up to 10⁶ samples; a constant curve
#: now smooths to itself exactly) and float32 resolution of an accuracy near 1 (6e-8) below it,
#: and the smallest real move of an accuracy curve above it: one example of the test set,
#: 1/n_test ≥ 1/p² ≈ 1.1e-4 for the paper's largest p = 97 (Sec. 5), still ≥ 1e-5 for 10⁵
#: test points. So a flat curve (constant, or moving by round-off only) has no transition,
#: and any curve that gains one test example does.
JUMP_TOL = 1e-6
#: Derivatives within this relative distance of the largest one are ties (a moving average
#: of a step is a linear ramp, whose central differences agree up to round-off).
_TIE_RTOL = 1e-9


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


def _scale_tol(v: np.ndarray, tol: float) -> float:
    """``tol`` in the units of the finite values of ``v``: tol · max(1, max |v|)."""
    fin = v[np.isfinite(v)]
    return float(tol) * max(1.0, float(np.max(np.abs(fin))) if fin.size else 1.0)


def first_crossing(steps: ArrayLike, values: ArrayLike, threshold: float) -> int | float | None:
    """The first step whose value is ≥ ``threshold`` (up to a 1e-12 slack for ratios k/n),
    else ``None``. Non-finite values (NaN: not logged; ±inf: overflow) never cross.
    A single sample counts: this is the chapter's "first logged step" definition (use
    :func:`detect_transition` for a sustained rise)."""
    s, v = _curve(steps, values)
    thr = float(threshold)
    if not math.isfinite(thr):
        raise ValueError(f"threshold={threshold!r} must be finite")
    hit = np.nonzero(np.isfinite(v) & (v >= thr - _TOL))[0]
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
    last step before it with value ≤ ``low`` (the first step with a finite value if there is
    none). ``None`` if the curve never reaches ``high``. Levels in (0, 1], ``low < high``."""
    check_fraction("low", low)
    check_fraction("high", high)
    if not low < high:
        raise ValueError(f"low={low!r} must be below high={high!r}")
    s, v = _curve(steps, values)
    th = first_crossing(s, v, high)
    if th is None:
        return None
    i_hi = int(np.searchsorted(s, th))
    fin = np.isfinite(v[:i_hi + 1])
    below = np.nonzero(fin[:i_hi] & (v[:i_hi] <= low + _TOL))[0]
    t_lo = s[below[-1]] if below.size else s[int(np.argmax(fin))]
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

    The average is taken of the deviations from the first value (then added back), so a
    constant curve smooths to itself exactly and its derivative is exactly 0 (a running
    sum of the raw values would leave round-off of order 1e-19 per step).
    """
    window = check_int("window", window, low=1)
    s, v = _curve(steps, values, min_len=2)
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or inf: drop unlogged steps first")
    half = window // 2
    ref = v[0]
    c = np.concatenate([[0.0], np.cumsum(v - ref)])
    idx = np.arange(v.size)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, v.size)
    sm = ref + (c[hi] - c[lo]) / (hi - lo)
    return sm, np.gradient(sm, _x(s, log_time))


@dataclass(frozen=True)
class Transition:
    """Result of :func:`detect_transition`: the step of fastest rise, the rate there
    (per step, or per decade with ``log_time``), and the level of the raw curve ``before``
    and ``after`` it (medians of the ``window`` samples on each side, so an isolated spike
    does not count as a level)."""

    step: int | float
    rate: float
    before: float
    after: float

    @property
    def jump(self) -> float:
        return self.after - self.before


def _fastest(d: np.ndarray) -> int:
    """Index of the largest entry of ``d``; among ties (within ``_TIE_RTOL``) the middle of
    the run of tied entries around the first maximum (upper middle for an even run)."""
    i = int(np.argmax(d))
    tie = d >= d[i] - _TIE_RTOL * abs(d[i])
    lo, hi = i, i
    while lo > 0 and tie[lo - 1]:
        lo -= 1
    while hi < d.size - 1 and tie[hi + 1]:
        hi += 1
    return (lo + hi + 1) // 2


def detect_transition(steps: ArrayLike, values: ArrayLike, *, window: int = 5,
                      log_time: bool = False, tol: float = JUMP_TOL) -> Transition | None:
    """The step where the smoothed curve rises fastest (argmax of :func:`smoothed_derivative`),
    or ``None`` if the curve has no rise there: the median of the ``window`` raw samples after
    that step exceeds the median of the ``window`` samples before it by at most
    ``tol`` · max(1, max |value|) (:data:`JUMP_TOL`). So a constant curve, a curve moving by
    round-off only, a falling curve and an isolated spike give ``None`` instead of a step
    chosen by round-off. Where several steps rise equally fast up to round-off (a moving
    average of a step is a linear ramp), the middle of them is reported."""
    s, v = _curve(steps, values, min_len=2)
    _, d = smoothed_derivative(s, v, window=window, log_time=log_time)
    i = _fastest(d)
    before = float(np.median(v[max(0, i - window):i])) if i > 0 else float(v[0])
    after = float(np.median(v[i + 1:i + 1 + window])) if i < v.size - 1 else float(v[-1])
    if not (d[i] > 0 and after - before > _scale_tol(v, tol)):
        return None
    return Transition(_as_step(s[i]), float(d[i]), before, after)


def sigmoid(t: np.ndarray | float, t0: float, k: float, low: float, high: float) -> np.ndarray:
    """c + (d − c) / (1 + exp(−k (t − t₀))) with c = ``low``, d = ``high`` (overflow-safe)."""
    z = np.clip(-k * (np.asarray(t, dtype=np.float64) - t0), -700, 700)
    return low + (high - low) / (1.0 + np.exp(z))


@dataclass(frozen=True)
class SigmoidFit:
    """Logistic fit of a curve: centre ``t0`` (in steps), steepness ``k`` (per step, or per
    decade of steps with ``log_time``), plateaus ``low``/``high``, the fit's RMS residual
    and whether it is a fit of a transition (scipy's least squares converged, on a curve with
    a sustained change, to plateaus more than :data:`JUMP_TOL` apart)."""

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
                window: int = 5, tol: float = JUMP_TOL) -> SigmoidFit:
    """Least-squares logistic fit a(t) = c + (d − c)/(1 + e^{−k(t − t₀)}) (textbook problem 5).

    Fitted with ``scipy.optimize.curve_fit`` (bounded trust region, k > 0), started
    from the :func:`detect_transition` step (of the negated curve if it only falls) and the
    curve's extremes. With ``log_time`` the fit is done in u = log10(t + 1) and
    ``t0`` is mapped back to steps (``k`` is then per decade). On failure ``converged=False``
    and the start values are returned.

    A curve with no sustained rise or fall (:func:`detect_transition` of the curve and of its
    negative both ``None``: constant, moving by no more than ``tol`` · max(1, max |value|),
    or an isolated spike) has no transition to fit: ``converged=False``, ``t0`` and ``k``
    NaN, both plateaus at its median. A fit whose plateaus differ by no more than that
    tolerance is not converged either.
    """
    from scipy.optimize import curve_fit

    s, v = _curve(steps, values, min_len=4)
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or inf: drop unlogged steps first")
    x = _x(s, log_time)
    span = float(x[-1] - x[0])
    lo, hi = float(np.min(v)), float(np.max(v))
    tol_v = _scale_tol(v, tol)
    tr = detect_transition(s, v, window=window, log_time=log_time, tol=tol)
    if tr is None:  # no rise: a sustained fall is fitted with high < low
        fall = detect_transition(s, -v, window=window, log_time=log_time, tol=tol)
        if fall is None:
            mid = float(np.median(v))
            rmse = float(np.sqrt(np.mean((v - mid) ** 2)))
            return SigmoidFit(float("nan"), float("nan"), mid, mid, rmse, False, log_time)
        tr = Transition(fall.step, -fall.rate, -fall.before, -fall.after)
    rng = hi - lo
    x0 = float(_x(np.array([float(tr.step)]), log_time)[0])
    k0 = 4.0 * max(abs(tr.rate), 1e-12) / rng
    k0 = float(np.clip(k0, 1e-3 / span, 1e4 / span))
    p0 = [x0, k0, lo, hi] if tr.rate > 0 else [x0, k0, hi, lo]
    bounds = ([x[0] - span, 1e-6 / span, lo - rng, lo - rng], [x[-1] + span, 1e6 / span, hi + rng, hi + rng])
    converged = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, _ = curve_fit(sigmoid, x, v, p0=p0, bounds=bounds, method="trf", maxfev=20000)
    except (RuntimeError, ValueError):
        popt, converged = np.array(p0), False
    if not abs(float(popt[3]) - float(popt[2])) > tol_v:
        converged = False  # a "fit" with equal plateaus has no centre and no steepness
    rmse = float(np.sqrt(np.mean((sigmoid(x, *popt) - v) ** 2)))
    t0 = float(10 ** popt[0] - 1.0) if log_time else float(popt[0])
    return SigmoidFit(t0, float(popt[1]), float(popt[2]), float(popt[3]), rmse, converged, log_time)


@dataclass
class GrokkingMeasures:
    """All the chapter's measures for one run (``None`` = did not happen in the log).

    ``detected_step``/``detected_rate`` are ``None`` when the test curve has no rise above
    :data:`JUMP_TOL`; ``sigmoid`` is the converged logistic fit of that rise, else ``None``."""

    t_mem: int | float | None
    t_grok: int | float | None
    gap: int | float | None
    gap_ratio: float | None
    rise_time: int | float | None
    rise_ratio: float | None
    slope_at_grok: float | None
    detected_step: int | float | None
    detected_rate: float | None
    sigmoid: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grokking_measures(steps: ArrayLike, train_acc: ArrayLike, test_acc: ArrayLike, *,
                      mem_threshold: float = 1.0, grok_threshold: float = 0.9,
                      low: float = 0.1, window: int = 5, log_time: bool = False,
                      fit: bool = True) -> GrokkingMeasures:
    """t_mem, t_grok, gap, sharpness (gap/t_grok, rise time and its ratio to t_grok, slope
    from the last logged sample before t_grok to t_grok), the detector's step and rate on the
    test curve, and (``fit``) the logistic fit of the test curve. Thresholds and ``low`` lie
    in (0, 1]. Unlogged (NaN) samples are skipped. A test curve without a rise above
    :data:`JUMP_TOL` has no detected step and no fit (``None``); a fit that does not converge
    is ``None`` too (call :func:`fit_sigmoid` for its diagnostics)."""
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
    ok = np.isfinite(te)
    slope = None
    if tg is not None:
        i = int(np.searchsorted(s, tg))
        prev = np.nonzero(ok[:i])[0]  # the last logged sample before t_grok
        if prev.size:
            j = int(prev[-1])
            slope = float((te[i] - te[j]) / (s[i] - s[j]))
    det = detect_transition(s[ok], te[ok], window=window, log_time=log_time) if ok.sum() >= 2 else None
    det_step, det_rate = (None, None) if det is None else (det.step, det.rate)
    sig = None
    if fit and det is not None and ok.sum() >= 4:
        f = fit_sigmoid(s[ok], te[ok], log_time=log_time, window=window)
        sig = f.as_dict() if f.converged else None
    return GrokkingMeasures(tm, tg, gap, gap_ratio, rt, rise_ratio, slope, det_step, det_rate, sig)
