"""Statistics over independent runs (seeds): intervals, threshold crossings, exponent fits.

The unit of replication everywhere is the **seed** (one independent run: its own
data draw and its own init). Nothing here resamples or counts pseudo-replicates
(several numbers taken from the same run) as if they were independent.

* :func:`mean_ci` — the mean of one value per seed with a t interval or a
  percentile bootstrap interval (:class:`CI`).
* :func:`threshold_crossing` — the smallest training size n* at which a criterion
  (e.g. held-out accuracy ≥ 0.95) holds, from the sizes a search evaluated, with
  censoring marked (:class:`Crossing`).
* :func:`fit_exponent` — the log-log least-squares slope of n*(p) with a
  **cluster bootstrap over seeds** (:class:`ExponentFit`): a whole seed's curve
  across p is resampled together, so identical or correlated values within a
  seed never masquerade as independent evidence.

Bad input raises ``ValueError`` naming the argument, the value and the allowed
range, before any work. Only numpy and scipy are used.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from regimes._validate import check_choice, check_fraction, check_int

__all__ = [
    "CENSOR_STATUSES",
    "CI",
    "Crossing",
    "ExponentFit",
    "check_confidence",
    "check_seeds",
    "fit_exponent",
    "mean_ci",
    "roundoff_spread",
    "threshold_crossing",
]

#: statuses of a :class:`Crossing`; every one but ``"ok"`` is censored
CENSOR_STATUSES = ("never", "ceiling", "floor")


# --------------------------------------------------------------------------- validation
def check_confidence(confidence: float) -> float:
    """Return ``confidence`` as a float if it lies in the open interval (0, 1)."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a real number, got {confidence!r}") from None
    if not (0.0 < c < 1.0):
        raise ValueError(f"confidence={confidence!r} is out of range: allowed (0, 1), e.g. 0.95")
    return c


def check_seeds(name: str, seeds: Sequence[Hashable], *, n: int | None = None) -> list[Hashable]:
    """Return ``seeds`` as a list if it is non-empty, has no repeats and (optionally) length ``n``.

    A repeated seed is the same run counted twice, so it is an error, not a weight.
    """
    try:
        s = list(seeds)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of seeds, got {type(seeds).__name__}") from None
    if not s:
        raise ValueError(f"{name} is empty: need at least one seed")
    try:
        distinct = len(set(s))
    except TypeError:
        raise ValueError(f"{name} must hold hashable seed ids (ints or strings), got {s!r}") from None
    if distinct != len(s):
        rep = sorted({x for x in s if s.count(x) > 1}, key=str)
        raise ValueError(f"{name} has repeated seeds {rep}: each seed must be one independent run, "
                         "listed once")
    if n is not None and len(s) != n:
        raise ValueError(f"{name} has {len(s)} entries: expected {n}, one per value")
    return s


def _vector(name: str, values: object, *, allow_nan: bool = False, allow_inf: bool = False) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of real numbers, got {values!r}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} has shape {a.shape}: expected a 1-D sequence")
    if a.size == 0:
        raise ValueError(f"{name} is empty: need at least one value")
    bad = np.zeros(a.shape, dtype=bool)
    if not allow_nan:
        bad |= np.isnan(a)
    if not allow_inf:
        bad |= np.isinf(a)
    if bad.any():
        raise ValueError(f"{name} contains {float(a[bad][0])!r} at index {int(np.flatnonzero(bad)[0])}: "
                         "allowed finite real numbers")
    return a


# --------------------------------------------------------------------------- mean_ci
@dataclass(frozen=True)
class CI:
    """An estimate with a two-sided interval.

    ``estimate``: the sample mean; ``low``/``high``: the interval bounds (NaN when
    ``n = 1``: one run has no interval); ``n``: the number of independent values;
    ``method``: ``"t"`` or ``"bootstrap"``; ``confidence``: the nominal coverage.
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (NaN stays NaN; the harness stores it as null)."""
        return asdict(self)


def roundoff_spread(x: np.ndarray, axis: int | None = None) -> bool | np.ndarray:
    """Whether the deviations of the values ``x`` from their mean are pure round-off (float64):
    ‖x − x̄‖₂ ≤ 4·n·eps·‖x‖₂ over the n values (along ``axis``, one answer per other index). Equal
    values leave ulp residues around their computed mean, whose standard deviation is no spread;
    the suite's intervals, standard errors and coefficients of variation report 0 for them.

    >>> bool(roundoff_spread(np.full(3, 0.7))), bool(roundoff_spread(np.array([0.7, 0.7, 0.7 + 1e-9])))
    (True, False)
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size if axis is None else x.shape[axis]
    if n == 0:
        raise ValueError(f"x has no values{'' if axis is None else f' along axis={axis}'}: a spread needs at least one")
    mean = x.mean() if axis is None else x.mean(axis=axis, keepdims=True)
    return (np.linalg.norm(x - mean, axis=axis)
            <= 4 * n * np.finfo(np.float64).eps * np.linalg.norm(x, axis=axis))


def mean_ci(values: Sequence[float], confidence: float = 0.95, method: str = "t", seed: int = 0, *,
            n_boot: int = 10_000, seeds: Sequence[Hashable] | None = None) -> CI:
    """Mean of independent per-run values with a two-sided interval.

    Parameters
    ----------
    values : (n,) one finite value per independent run (seed); n ≥ 1.
    confidence : nominal coverage in (0, 1).
    method : ``"t"`` — mean ± t_{(1+c)/2, n−1} · s/√n (Student t, s the sample
        standard deviation; exact for normal values); ``"bootstrap"`` — percentile
        bootstrap of the mean, ``n_boot`` resamples drawn with
        ``numpy.random.default_rng(seed)`` (reproducible; under-covers for small n).
    seed : the bootstrap's random seed (unused by ``"t"``).
    n_boot : bootstrap resamples (≥ 1).
    seeds : optional (n,) run ids of the values; checked to be distinct (a repeated
        seed would count one run twice).

    Returns a :class:`CI`. ``n = 1`` gives NaN bounds (an anecdote has no interval),
    not an error. Values that all agree give a zero-width interval: that is what
    the spread between runs says, nothing more. It is exactly zero-width, at their common
    value, by either method: the deviations from the computed mean of equal values are
    round-off (0.7 three times: a t half-width of 3e-16 around 0.7 − 1e-16), and deviations
    within ‖x − x̄‖₂ ≤ 4·n·eps·‖x‖₂ (float64 eps) count as no spread at all.

    Raises ``ValueError`` for empty or non-finite values, confidence outside (0, 1),
    an unknown method, ``n_boot < 1`` or bad ``seeds``.

    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.estimate, 3), round(ci.low, 3), round(ci.high, 3)
    (2.0, -0.484, 4.484)
    >>> mean_ci([5.0]).low
    nan
    """
    x = _vector("values", values)
    c = check_confidence(confidence)
    check_choice("method", method, ("t", "bootstrap"))
    seed = check_int("seed", seed, low=0)
    n_boot = check_int("n_boot", n_boot, low=1)
    if seeds is not None:
        check_seeds("seeds", seeds, n=x.size)
    n = int(x.size)
    est = float(x[0]) if bool((x == x[0]).all()) else float(x.mean())
    if n == 1:
        return CI(est, math.nan, math.nan, 1, method, c)
    if roundoff_spread(x):
        return CI(est, est, est, n, method, c)   # a spread of pure round-off is no spread
    if method == "t":
        from scipy import stats as st

        half = float(st.t.ppf(0.5 + c / 2, df=n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
        return CI(est, est - half, est + half, n, method, c)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    lo, hi = np.quantile(means, [0.5 - c / 2, 0.5 + c / 2])
    return CI(est, float(lo), float(hi), n, method, c)


# --------------------------------------------------------------------------- threshold_crossing
@dataclass(frozen=True)
class Crossing:
    """Where a criterion starts to hold along the evaluated training sizes.

    ``n_star``: the smallest evaluated n from which the criterion holds at every
    larger evaluated n (NaN when status is ``"never"``); ``status``:

    * ``"ok"`` — an interior crossing: a usable n*;
    * ``"never"`` — fails at the largest evaluated n (right-censored: n* > that n);
    * ``"ceiling"`` — holds only at ``ceiling`` (e.g. n = p² − 1, where the held-out
      set is a single pair: one coin flip, not a measurement);
    * ``"floor"`` — already holds at ``floor``, the smallest size searched
      (left-censored: n* ≤ floor).

    ``nonmonotone``: evaluated sizes below n* where the criterion held anyway
    (the search assumes monotonicity; a count > 0 says how wrong that was).
    """

    n_star: float
    status: str
    nonmonotone: int

    @property
    def censored(self) -> bool:
        """True unless ``status == "ok"``."""
        return self.status != "ok"

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def threshold_crossing(ns: Sequence[float], values: Sequence[float], threshold: float, *,
                       direction: str = ">=", floor: float | None = None,
                       ceiling: float | None = None) -> Crossing:
    """n* of one run from the (n, value) pairs a search evaluated.

    Parameters
    ----------
    ns : (k,) distinct evaluated training sizes, any order, > 0.
    values : (k,) the criterion's metric at each size (finite, or NaN for "not
        measured", which counts as a failure).
    threshold : in (0, 1] (an accuracy or a loss ratio).
    direction : ``">="`` (pass when value ≥ threshold, e.g. accuracy) or ``"<="``
        (pass when value ≤ threshold, e.g. a loss ratio).
    floor, ceiling : the smallest and largest sizes the search could try; a
        crossing at either is censored (see :class:`Crossing`).

    >>> threshold_crossing([10, 20, 40, 80], [0.1, 0.5, 0.97, 0.99], 0.95)
    Crossing(n_star=40.0, status='ok', nonmonotone=0)
    >>> threshold_crossing([10, 99], [0.2, 1.0], 0.95, ceiling=99).status
    'ceiling'
    """
    n = _vector("ns", ns)
    v = _vector("values", values, allow_nan=True)
    if n.size != v.size:
        raise ValueError(f"ns and values have lengths {n.size} and {v.size}: they must be equal")
    if (n <= 0).any():
        raise ValueError(f"ns contains {float(n[n <= 0][0])!r}: training sizes must be > 0")
    uniq, cnt = np.unique(n, return_counts=True)
    if (cnt > 1).any():
        raise ValueError(f"ns has repeated sizes {uniq[cnt > 1].tolist()}: give each evaluated size once")
    thr = check_fraction("threshold", threshold)
    check_choice("direction", direction, (">=", "<="))
    order = np.argsort(n)
    n, v = n[order], v[order]
    with np.errstate(invalid="ignore"):
        ok = (v >= thr) if direction == ">=" else (v <= thr)
    ok &= np.isfinite(v)
    if not ok[-1]:
        return Crossing(math.nan, "never", int(ok.sum()))
    fails = np.flatnonzero(~ok)
    k = 0 if fails.size == 0 else int(fails[-1]) + 1
    n_star = float(n[k])
    nonmono = int(ok[:k].sum())
    if ceiling is not None and n_star >= float(ceiling):
        return Crossing(n_star, "ceiling", nonmono)
    if floor is not None and n_star <= float(floor):
        return Crossing(n_star, "floor", nonmono)
    return Crossing(n_star, "ok", nonmono)


# --------------------------------------------------------------------------- fit_exponent
@dataclass(frozen=True)
class ExponentFit:
    """A log-log fit ``log n* = a + β log p`` with a cluster-bootstrap interval on β.

    ``estimate``/``low``/``high``: β and its percentile interval (NaN when the fit
    or the interval is impossible; ``reason`` then says why); ``intercept``: a;
    ``n_points``: points given; ``n_used``: uncensored points fitted;
    ``n_censored`` and ``censored``: the excluded points as ``[p, seed]`` pairs;
    ``n_seeds``: seeds (clusters) with at least one fitted point; ``n_p``: distinct
    p among the fitted points; ``n_boot``/``n_boot_valid``: resamples drawn / usable
    (a resample whose points span fewer than 2 distinct p has no slope and is
    dropped); ``resid_rms``: root-mean-square log residual of the fit — the
    power law's misfit, which the seed-level interval does not measure.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    intercept: float
    n_points: int
    n_used: int
    n_censored: int
    n_seeds: int
    n_p: int
    n_boot: int
    n_boot_valid: int
    resid_rms: float
    method: str = "least squares on log-log; percentile cluster bootstrap over seeds"
    reason: str = ""
    censored: list[list[Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (NaN stays NaN; the harness stores it as null)."""
        return asdict(self)


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    b = float(((x - xm) * (y - ym)).sum()) / sxx
    return b, float(ym - b * xm)


def fit_exponent(p: Sequence[float], n_star: Sequence[float], seeds: Sequence[Hashable],
                 censored: Sequence[bool] | None = None, *, n_min: Sequence[float] | None = None,
                 confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> ExponentFit:
    """Exponent β of n*(p) ≈ c·p^β, with an interval from a cluster bootstrap over seeds.

    Parameters
    ----------
    p : (k,) the modulus of each point, > 0.
    n_star : (k,) the measured n* of each point; > 0 where not censored (censored
        points may hold NaN or any value: they are not used).
    seeds : (k,) the seed (run id) each point came from — the cluster id. A seed
        normally has one point per p (its curve); a (seed, p) pair may appear only
        once, since a second point would be a pseudo-replicate of the same run.
    censored : optional (k,) bool mask: points whose n* is not a measurement (the
        criterion was never met, or met only at the ceiling n = p² − 1 where the
        held-out set is one pair, or already at the search's floor). They are
        **excluded from the fit**, counted in ``n_censored`` and listed in
        ``censored`` as ``[p, seed]``. Excluding right-censored points biases the
        exponent down when censoring grows with p; the count is returned so a
        reader can judge.
    n_min : optional (k,) search brackets: the crossing of each uncensored point is known
        only to lie in [n_min, n_star] (e.g. n_min = the largest size a bisection saw fail,
        plus one; n_min = n_star for an exact value). Then the fit uses the geometric
        midpoints √(n_min·n_star), and every bootstrap resample draws each point's log n*
        uniformly in its bracket (one draw per point and resample, shared by a seed drawn
        twice), so the search's resolution enters the interval. Without it, seeds that
        agree only because a deterministic search visits the same sizes would give a
        falsely narrow interval.
    confidence : nominal coverage in (0, 1).
    n_boot : bootstrap resamples (≥ 1).
    seed : random seed of the bootstrap (``numpy.random.default_rng``).

    The point estimate is ordinary least squares of log n* on log p over the
    uncensored points. The interval is a percentile **cluster bootstrap**: each
    resample draws the seeds with replacement and keeps every fitted point of each
    drawn seed (its whole curve across p), so within-seed correlation is kept and
    k points from G seeds are never treated as k independent draws. Consequences,
    by design:

    * if every seed gives identical, exact n* at every p, every resample reproduces
      the same curve and the interval has zero width: the seeds agree, and the
      interval says so; it does *not* grow narrower by counting the identical
      values as extra data (a naive point bootstrap over the pooled points would).
      When the agreement is only the search's resolution, pass ``n_min``: the
      interval then keeps the bracket widths. ``resid_rms`` reports the power
      law's misfit, which this interval ignores;
    * one seed gives NaN bounds (no between-seed variation to resample);
    * fewer than 2 distinct p among the uncensored points gives NaN for the
      estimate too, with the reason.

    Raises ``ValueError`` for unequal lengths, empty input, non-positive or
    non-finite p, non-positive or non-finite uncensored n*, an uncensored n_min
    outside (0, n*], a repeated (seed, p), confidence outside (0, 1) or ``n_boot < 1``.

    >>> ps = [11, 13, 17, 11, 13, 17]
    >>> ns = [2 * q**1.5 for q in ps[:3]] + [3 * q**1.5 for q in ps[3:]]
    >>> fit = fit_exponent(ps, ns, seeds=[0, 0, 0, 1, 1, 1])
    >>> round(fit.estimate, 6), fit.n_used, fit.n_seeds
    (1.5, 6, 2)
    """
    pv = _vector("p", p)
    nv = _vector("n_star", n_star, allow_nan=True, allow_inf=True)
    try:
        sv = list(seeds)
    except TypeError:
        raise ValueError(f"seeds must be a sequence of seed ids, got {type(seeds).__name__}") from None
    if not sv:
        raise ValueError("seeds is empty: need one seed id per point")
    cm = np.zeros(pv.size, dtype=bool) if censored is None else np.asarray(censored)
    mv = nv.copy() if n_min is None else _vector("n_min", n_min, allow_nan=True, allow_inf=True)
    lengths = {"p": pv.size, "n_star": nv.size, "seeds": len(sv), "censored": cm.size, "n_min": mv.size}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"p, n_star, seeds, censored and n_min have unequal lengths {lengths}: one entry per "
                         "point")
    if cm.dtype != bool:
        raise ValueError(f"censored must be a boolean mask, got dtype {cm.dtype}")
    if (pv <= 0).any():
        raise ValueError(f"p contains {float(pv[pv <= 0][0])!r}: a log fit needs p > 0")
    use = ~cm
    bad = use & ~(np.isfinite(nv) & (nv > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"n_star[{i}]={float(nv[i])!r} is not allowed for an uncensored point: a log fit needs "
                         "finite n_star > 0 (mark it censored if the criterion was not met)")
    bad = use & ~(np.isfinite(mv) & (mv > 0) & (mv <= nv))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"n_min[{i}]={float(mv[i])!r} is out of range: an uncensored point needs "
                         f"0 < n_min <= n_star={float(nv[i])!r}")
    try:
        pairs = [(s, float(q)) for s, q in zip(sv, pv, strict=True)]
        if len(set(pairs)) != len(pairs):
            rep = sorted({pr for pr in pairs if pairs.count(pr) > 1}, key=str)
            raise ValueError(f"seeds has repeated (seed, p) pairs {rep}: one point per seed and p (a second "
                             "point would be a pseudo-replicate of the same run)")
    except TypeError:
        raise ValueError(f"seeds must hold hashable ids (ints or strings), got {sv!r}") from None
    c = check_confidence(confidence)
    n_boot = check_int("n_boot", n_boot, low=1)
    seed = check_int("seed", seed, low=0)

    cens_list = [[float(pv[i]), sv[i]] for i in np.flatnonzero(cm)]
    x, y_hi, y_lo = np.log(pv[use]), np.log(nv[use]), np.log(mv[use])
    y = 0.5 * (y_lo + y_hi)  # the geometric midpoint of each bracket (n* itself when exact)
    cl = [sv[i] for i in np.flatnonzero(use)]
    ids = list(dict.fromkeys(cl))
    n_p = int(np.unique(x).size)
    base = dict(confidence=c, n_points=int(pv.size), n_used=int(use.sum()), n_censored=int(cm.sum()),
                n_seeds=len(ids), n_p=n_p, n_boot=n_boot, censored=cens_list)
    nan = math.nan
    if n_p < 2:
        return ExponentFit(nan, nan, nan, intercept=nan, n_boot_valid=0, resid_rms=nan,
                           reason=f"fewer than 2 distinct p among the uncensored points ({n_p} of "
                                  f"{int(np.unique(pv).size)} p; {int(cm.sum())} of {pv.size} points censored)",
                           **base)
    b, a = _slope(x, y)
    resid = float(np.sqrt(np.mean((y - a - b * x) ** 2)))
    if len(ids) < 2:
        return ExponentFit(b, nan, nan, intercept=a, n_boot_valid=0, resid_rms=resid,
                           reason="one seed: no interval (the bootstrap resamples seeds)", **base)
    g = np.array([ids.index(s) for s in cl])
    G = len(ids)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(G, np.full(G, 1.0 / G), size=n_boot)  # seeds drawn with replacement
    w = counts[:, g].astype(float)  # (n_boot, points): each point weighted by its seed's draws
    Y = y_lo + rng.random((n_boot, x.size)) * (y_hi - y_lo)  # a draw inside each bracket
    N, Sx, Sxx = w.sum(1), w @ x, w @ (x * x)
    Sy, Sxy = (w * Y).sum(1), (w * Y) @ x
    den = N * Sxx - Sx * Sx
    ok = den > 1e-12 * np.maximum(N * Sxx, 1e-300)  # resamples spanning ≥ 2 distinct p
    slopes = (N[ok] * Sxy[ok] - Sx[ok] * Sy[ok]) / den[ok]
    if slopes.size == 0:
        return ExponentFit(b, nan, nan, intercept=a, n_boot_valid=0, resid_rms=resid,
                           reason="no bootstrap resample spans 2 distinct p", **base)
    lo, hi = np.quantile(slopes, [0.5 - c / 2, 0.5 + c / 2])
    reason = "" if slopes.size >= 0.9 * n_boot else (
        f"only {slopes.size} of {n_boot} resamples span 2 distinct p: the interval rests on those")
    return ExponentFit(b, float(lo), float(hi), intercept=a,
                       n_boot_valid=int(slopes.size), resid_rms=resid, reason=reason, **base)
