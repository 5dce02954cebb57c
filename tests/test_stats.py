"""regimes.stats: t and bootstrap intervals, threshold crossings with censoring, and the
log-log exponent fit with a cluster bootstrap over seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from regimes.stats import CI, fit_exponent, mean_ci, threshold_crossing


# --------------------------------------------------------------------------- mean_ci
def test_t_interval_matches_scipy_by_hand():
    x = np.array([2.0, 4.0, 9.0])
    ci = mean_ci(x, confidence=0.9)
    half = st.t.ppf(0.95, df=2) * x.std(ddof=1) / math.sqrt(3)
    assert ci.estimate == pytest.approx(5.0)
    assert ci.low == pytest.approx(5.0 - half, rel=1e-12)
    assert ci.high == pytest.approx(5.0 + half, rel=1e-12)
    assert (ci.n, ci.method, ci.confidence) == (3, "t", 0.9)
    assert isinstance(ci, CI) and ci.as_dict()["high"] == ci.high


def test_t_interval_coverage_by_simulation():
    # 2,000 samples of 5 standard normals: the 95% t interval must cover 0 in
    # 0.95 ± 4 binomial standard errors (se = sqrt(.95·.05/2000) ≈ 0.0049) of them
    rng = np.random.default_rng(12345)
    draws = rng.standard_normal((2000, 5))
    hits = 0
    for row in draws:
        ci = mean_ci(row)
        hits += ci.low <= 0.0 <= ci.high
    cover = hits / 2000
    se = math.sqrt(0.95 * 0.05 / 2000)
    assert abs(cover - 0.95) <= 4 * se, cover


def test_one_value_has_no_interval():
    for method in ("t", "bootstrap"):
        ci = mean_ci([3.5], method=method)
        assert ci.estimate == 3.5 and ci.n == 1
        assert math.isnan(ci.low) and math.isnan(ci.high)


def test_identical_values_give_zero_width():
    """Equal values have mean v and sample deviation 0 exactly; the computed mean of 0.7 three
    times is 0.7 − 1.1e-16 and the deviations from it are pure round-off (a t half-width of
    3.3e-16). The interval is exactly [v, v] for every (v, n) drawn, by both methods; a genuine
    spread of 1e-9 keeps its textbook t interval (mean ± t·s/√n computed independently)."""
    rng = np.random.default_rng(0)
    for v in [0.7, 0.1, *rng.uniform(-5, 5, 30)]:
        for n in (2, 3, 7, 10):
            for method in ("t", "bootstrap"):
                ci = mean_ci([float(v)] * n, method=method, n_boot=50)
                assert (ci.estimate, ci.low, ci.high) == (v, v, v), (v, n, method)
    x = 0.7 + 1e-9 * np.array([-1.0, 0.5, 2.0, -0.25])
    ci = mean_ci(x, confidence=0.9)
    half = st.t.ppf(0.95, df=3) * np.std(x, ddof=1) / 2.0
    assert ci.high - ci.low == pytest.approx(2 * half, rel=1e-6) and ci.high - ci.low > 1e-9


def test_bootstrap_is_seeded_and_inside_the_data():
    x = [1.0, 2.0, 2.5, 4.0, 7.0, 3.0]
    a = mean_ci(x, method="bootstrap", seed=3, n_boot=4000)
    b = mean_ci(x, method="bootstrap", seed=3, n_boot=4000)
    c = mean_ci(x, method="bootstrap", seed=4, n_boot=4000)
    assert a == b and a != c
    assert min(x) <= a.low < a.estimate < a.high <= max(x)
    t = mean_ci(x)
    assert a.high - a.low < t.high - t.low  # the percentile bootstrap is narrower for small n


# --------------------------------------------------------------------------- threshold_crossing
def test_crossing_interior_and_censoring():
    c = threshold_crossing([10, 20, 40, 80], [0.1, 0.5, 0.97, 0.99], 0.95, floor=10, ceiling=99)
    assert (c.n_star, c.status, c.censored) == (40.0, "ok", False)
    never = threshold_crossing([10, 99], [0.1, 0.9], 0.95, floor=10, ceiling=99)
    assert never.status == "never" and math.isnan(never.n_star) and never.censored
    ceil = threshold_crossing([10, 50, 99], [0.1, 0.9, 1.0], 0.95, floor=10, ceiling=99)
    assert (ceil.n_star, ceil.status) == (99.0, "ceiling")
    floor = threshold_crossing([10, 99], [0.96, 1.0], 0.95, floor=10, ceiling=99)
    assert (floor.n_star, floor.status) == (10.0, "floor")


def test_crossing_loss_direction_order_and_nonmonotone():
    # unsorted input; "<=" for a loss ratio; a pass at 20 before a fail at 40 is reported
    c = threshold_crossing([80, 20, 40, 10], [0.2, 0.4, 0.6, 0.9], 0.5, direction="<=")
    assert (c.n_star, c.status, c.nonmonotone) == (80.0, "ok", 1)
    nan = threshold_crossing([10, 20, 40], [0.1, float("nan"), 0.2], 0.5, direction="<=")
    assert nan.n_star == 40.0  # NaN (not measured) counts as a failure


# --------------------------------------------------------------------------- fit_exponent
def _synthetic(n_seeds: int, beta: float = 1.7, rng_seed: int = 0, ps=(11, 13, 17, 19, 23, 29, 31),
               intercept_sd: float = 0.3):
    """n* = c·p^β with seed-level noise (each seed its own level and its own slope
    perturbation, pivoting at the middle p) plus small point noise."""
    rng = np.random.default_rng(rng_seed)
    mid = float(np.exp(np.mean(np.log(ps))))
    p, n, s = [], [], []
    for k in range(n_seeds):
        a = intercept_sd * rng.standard_normal()
        db = 0.1 * rng.standard_normal()
        for q in ps:
            p.append(q)
            n.append(2.0 * q**beta * (q / mid) ** db * math.exp(a + 0.02 * rng.standard_normal()))
            s.append(k)
    return np.array(p, float), np.array(n), s


def test_exponent_recovered_and_ci_shrinks_with_seeds():
    widths = []
    for n_seeds in (5, 40):
        p, n, s = _synthetic(n_seeds, rng_seed=7)
        fit = fit_exponent(p, n, s, n_boot=3000, seed=1)
        assert fit.low <= 1.7 <= fit.high, fit
        assert fit.n_seeds == n_seeds and fit.n_used == len(p) and fit.n_censored == 0
        assert fit.reason == "" and fit.n_boot_valid == 3000
        widths.append(fit.high - fit.low)
    assert widths[1] < 0.6 * widths[0], widths


def test_exact_power_law_is_recovered_exactly():
    p = np.array([11, 13, 17, 19, 23] * 3, float)
    n = 0.5 * p**2
    fit = fit_exponent(p, n, [0] * 5 + [1] * 5 + [2] * 5)
    assert fit.estimate == pytest.approx(2.0, abs=1e-12)
    assert fit.intercept == pytest.approx(math.log(0.5), abs=1e-10)
    # the seeds agree: the cluster bootstrap gives a zero-width interval, not a falsely
    # "tight but positive" one from counting 15 points as independent
    assert fit.low == pytest.approx(2.0, abs=1e-9) and fit.high == pytest.approx(2.0, abs=1e-9)
    assert fit.resid_rms == pytest.approx(0.0, abs=1e-12)


def test_brackets_keep_the_search_resolution_when_seeds_agree():
    # three seeds whose bisections stopped at the same sizes: exact values would give a
    # zero-width interval; the brackets [0.87 n*, n*] keep the resolution in it
    p = np.array([11, 13, 17, 19, 23] * 3, float)
    n = np.round(0.7 * p**2)
    seeds = [0] * 5 + [1] * 5 + [2] * 5
    exact = fit_exponent(p, n, seeds)
    assert exact.high - exact.low == pytest.approx(0.0, abs=1e-9)
    same = fit_exponent(p, n, seeds, n_min=n)  # n_min = n_star: exact, the same fit
    assert (same.estimate, same.low, same.high) == pytest.approx((exact.estimate, exact.low, exact.high))
    br = fit_exponent(p, n, seeds, n_min=np.round(0.87 * n), n_boot=4000, seed=2)
    assert br.high - br.low > 0.05
    assert br.low < br.estimate < br.high
    # the point estimate uses the geometric midpoints (a constant factor: same slope)
    assert br.estimate == pytest.approx(exact.estimate, abs=0.01)


def _naive_point_bootstrap(p, n, n_boot=3000, seed=1):
    rng = np.random.default_rng(seed)
    x, y = np.log(p), np.log(n)
    out = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        if np.unique(x[i]).size >= 2:
            out.append(np.polyfit(x[i], y[i], 1)[0])
    return np.quantile(out, [0.025, 0.975])


def test_cluster_bootstrap_is_wider_than_naive_on_correlated_seeds():
    # each seed's curve has its own slope (the correlation within a seed), point noise
    # is tiny: resampling points as if independent hides the seed-to-seed spread
    p, n, s = _synthetic(6, rng_seed=3, ps=tuple(range(11, 60, 4)), intercept_sd=0.0)
    fit = fit_exponent(p, n, s, n_boot=3000, seed=1)
    lo, hi = _naive_point_bootstrap(p, n)
    assert (fit.high - fit.low) > 1.5 * (hi - lo), (fit.low, fit.high, lo, hi)


def test_censored_points_are_excluded_and_reported():
    p = np.array([11, 13, 17, 19] * 2, float)
    n = 3 * p**1.6
    n[[3, 7]] = np.nan  # never met at p = 19
    cens = np.isnan(n)
    n[2] = 288.0  # a ceiling point (p² − 1 at p = 17), marked censored: its value is ignored
    cens[2] = True
    fit = fit_exponent(p, n, ["a"] * 4 + ["b"] * 4, cens)
    assert fit.n_censored == 3 and fit.n_used == 5 and fit.n_points == 8
    assert sorted(map(tuple, fit.censored)) == [(17.0, "a"), (19.0, "a"), (19.0, "b")]
    assert fit.estimate == pytest.approx(1.6, abs=1e-12)


def test_too_few_p_after_censoring_gives_nan_with_reason():
    p = [11, 13, 11, 13]
    n = [50.0, math.nan, 60.0, math.nan]
    fit = fit_exponent(p, n, [0, 0, 1, 1], [False, True, False, True])
    assert math.isnan(fit.estimate) and math.isnan(fit.low) and math.isnan(fit.high)
    assert "fewer than 2 distinct p" in fit.reason and fit.n_censored == 2


def test_one_seed_has_a_slope_but_no_interval():
    fit = fit_exponent([11, 13, 17], [100.0, 140.0, 230.0], [0, 0, 0])
    assert math.isfinite(fit.estimate) and math.isnan(fit.low) and "one seed" in fit.reason


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    ({"values": []}, "values is empty"),
    ({"values": [1.0, float("nan")]}, "values contains"),
    ({"values": [[1.0, 2.0]]}, "1-D"),
    ({"values": [1.0, 2.0], "confidence": 0.0}, r"confidence=0.0 is out of range: allowed \(0, 1\)"),
    ({"values": [1.0, 2.0], "confidence": 1.0}, r"confidence=1.0 is out of range"),
    ({"values": [1.0, 2.0], "method": "wald"}, "method='wald' is not allowed"),
    ({"values": [1.0, 2.0], "n_boot": 0}, "n_boot=0 is out of range"),
    ({"values": [1.0, 2.0], "seeds": []}, "seeds is empty"),
    ({"values": [1.0, 2.0], "seeds": [3, 3]}, r"seeds has repeated seeds \[3\]"),
    ({"values": [1.0, 2.0], "seeds": [1, 2, 3]}, "seeds has 3 entries: expected 2"),
])
def test_mean_ci_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(**kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    (([10, 20], [0.1]), {"threshold": 0.5}, "lengths 2 and 1"),
    (([10, 10], [0.1, 0.2]), {"threshold": 0.5}, r"repeated sizes \[10.0\]"),
    (([0, 10], [0.1, 0.2]), {"threshold": 0.5}, "training sizes must be > 0"),
    (([10, 20], [0.1, 0.2]), {"threshold": 0.0}, r"threshold=0.0 is out of range: allowed \(0, 1\]"),
    (([10, 20], [0.1, 0.2]), {"threshold": 1.5}, r"threshold=1.5 is out of range"),
    (([10, 20], [0.1, 0.2]), {"threshold": 0.5, "direction": ">"}, "direction='>' is not allowed"),
])
def test_threshold_crossing_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        threshold_crossing(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    (([11, 13], [1.0, 2.0, 3.0], [0, 0]), {}, "unequal lengths"),
    (([11, 13], [1.0, 2.0], [0, 0], [True]), {}, "unequal lengths"),
    (([], [], []), {}, "p is empty"),
    (([11, 13], [1.0, 2.0], []), {}, "seeds is empty"),
    (([11, 11], [1.0, 2.0], [0, 0]), {}, r"repeated \(seed, p\) pairs"),
    (([11, -13], [1.0, 2.0], [0, 0]), {}, "a log fit needs p > 0"),
    (([11, 0], [1.0, 2.0], [0, 0]), {}, "a log fit needs p > 0"),
    (([11, 13], [1.0, 0.0], [0, 0]), {}, r"n_star\[1\]=0.0 is not allowed"),
    (([11, 13], [1.0, float("nan")], [0, 0]), {}, r"n_star\[1\]=nan is not allowed"),
    (([11, 13], [1.0, 2.0], [0, 0], [0, 1]), {}, "censored must be a boolean mask"),
    (([11, 13], [1.0, 2.0], [0, 1]), {"n_min": [1.0]}, "unequal lengths"),
    (([11, 13], [1.0, 2.0], [0, 1]), {"n_min": [1.0, 3.0]}, r"n_min\[1\]=3.0 is out of range"),
    (([11, 13], [1.0, 2.0], [0, 1]), {"n_min": [0.0, 2.0]}, r"n_min\[0\]=0.0 is out of range"),
    (([11, 13], [1.0, 2.0], [0, 1]), {"confidence": 1.2}, r"confidence=1.2 is out of range"),
    (([11, 13], [1.0, 2.0], [0, 1]), {"n_boot": 0}, "n_boot=0 is out of range"),
])
def test_fit_exponent_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_exponent(*args, **kwargs)


def test_docstring_examples_run():
    import doctest

    import regimes.stats

    res = doctest.testmod(regimes.stats, optionflags=doctest.ELLIPSIS)
    assert res.attempted >= 3 and res.failed == 0


def test_roundoff_spread_is_true_exactly_for_equal_values_and_agrees_along_an_axis():
    """Equal values (any count, any magnitude) have a spread of pure round-off around their computed
    mean; a relative spread of 1e-9, far above 4·n·eps, is a spread. Along an axis: the per-column answer."""
    from regimes.stats import roundoff_spread

    rng = np.random.default_rng(0)
    for v in rng.uniform(-1e3, 1e3, size=32):
        for n in (2, 3, 5, 17):
            assert roundoff_spread(np.full(n, v))
            assert not roundoff_spread(np.full(n, v) + np.linspace(0, 1e-9 * abs(v), n))
    stack = np.stack([np.full(4, 0.7), rng.normal(size=4), np.full(4, -3.1)], axis=1)
    assert list(roundoff_spread(stack, axis=0)) == [bool(roundoff_spread(stack[:, j])) for j in range(3)] \
        == [True, False, True]
    with pytest.raises(ValueError, match="no values"):
        roundoff_spread(np.array([]))
