"""Checks C4, C5, C6, C7, C11 (kernel regime) through the registry, plus their details.

Statistical margins (stated here and in the check details):
* C4: Monte-Carlo Σ within 6 standard errors entrywise (4000 draws, fixed seeds).
* C5: exact — the average over every σ (up to the target's symmetries) agrees with
  the trace from Σ's spectrum to 1e-9·p^{m−1}; Monte Carlo (full mode only): 5 SE.
* C6/C7: the mean over independent trials (fresh init and fresh i.i.d. data per
  trial, fixed seeds) minus 3 standard errors must exceed the bound; n is
  chosen so the bound is far from vacuous (≈ p/2 for C6, ≈ 0.4 for C7).
  C6's Fourier control over 400 random relabellings σ: mean − 3·SE, and within 4 SE of 2(p − 1).
"""

from __future__ import annotations

import pytest
import torch

from regimes.checks import get_check, run_check


@pytest.fixture(scope="module")
def results():
    return {cid: run_check(cid) for cid in ("C4", "C5", "C6", "C7", "C11")}


def test_registered_with_test_path():
    for cid in ("C4", "C5", "C6", "C7", "C11"):
        assert get_check(cid).test == "tests/test_kernel_checks.py"


def test_c4_sigma_spectrum(results):
    r = results["C4"]
    assert r.holds
    for key, d in r.details.items():
        if key.startswith("p="):
            assert d["spectrum_err"] < 1e-10 and d["trace_err"] < 1e-9 and d["ky_fan_ok"]
            assert d["mc_max_dev_in_se"] <= 6.0


def test_c5_identity_and_bound_for_every_kernel(results):
    r = results["C5"]
    d = r.details
    assert r.holds and r.verdict == "PASS"
    # Tr((I − P)Σ) from Σ's spectrum equals the enumerated E_σ dist²(Ψ_σ, span) ...
    assert d["identity_dev_over_tol"] <= 1.0 and d["projector_err_over_1e-9"] <= 1.0
    # ... and lies above Cor D.8 and its exact form, which eigenvector spans attain.
    assert d["min_gap_to_cor_d8"] >= 0 and d["min_gap_to_exact_form"] >= -1e-9
    assert d["tightness_dev_over_tol"] <= 1.0
    kernels = {k.split(",")[2] for k in d if k.count(",") == 2}
    assert {"entk", "expected_ntk", "relu_ntk", "quad_ntk", "rbf", "random_psd"} <= kernels
    assert {k.split(",")[1] for k in d if k.startswith("p=")} == {"m=2", "m=3"}
    # quick mode averages over every σ (up to the target's symmetries), not a sample
    assert {d[k]["targets"] for k in ("p=7,m=2", "p=5,m=3")} == {"enumeration"}
    # the tabulated rows: (n, Tr from Σ, enumerated average, exact form, Cor D.8)
    for k in d:
        if k.count(",") == 2:
            for _n, tr, avg, exact, paper in d[k]:
                assert abs(tr - avg) <= 1e-9 * 25 and tr >= exact - 1e-9 >= paper - 1e-9


def _wrong_sigma_best_fit(K_cols, p, m, *, extra=None, rtol=None):
    """Tr((I − P)Σ') for a wrong Σ': the top-degree eigenvalue taken as 1/p, i.e. the factor
    (p/(p−1))^{m−1} of Lemma D.9 forgotten (Σ' ≼ Σ, so Tr((I − P)Σ') is too *large*)."""
    from regimes import spectral as S

    Q = S.span_basis(K_cols.to(torch.float64))
    ones = float((Q.sum(0) ** 2).sum()) / p**m
    top = float((S.apply_top_degree(Q, p, m) ** 2).sum())
    return float(p) ** (m - 1) - (float(p) ** (m - 2) * ones + top / p)


@pytest.mark.parametrize("fault", ["wrong_sigma", "wrong_projector", "wrong_basis"])
def test_c5_fails_for_a_wrong_sigma_or_projector(monkeypatch, fault):
    """A deliberately wrong Σ or projector makes C5 FAIL — although each still satisfies the
    old criterion (Tr ≥ Cor D.8 and ≥ the exact form), which Ky Fan makes true for any span."""
    import regimes.checks.kernel as K
    from regimes.spectral import best_fit_loss, span_basis

    if fault == "wrong_sigma":
        monkeypatch.setattr(K, "best_fit_loss", _wrong_sigma_best_fit)
    elif fault == "wrong_projector":     # the projector of all but the last kernel section
        monkeypatch.setattr(K, "best_fit_loss", lambda A, p, m, **kw: best_fit_loss(A[:, :-1], p, m)
                            if A.shape[1] > 1 else best_fit_loss(A, p, m))
    else:                                # an orthonormal basis missing one direction of the span
        monkeypatch.setattr(K, "span_basis", lambda A, rtol=None: span_basis(A, rtol)[:, :-1])
    r = K._c5_result([(5, 2), (4, 3)], sets=2, kernels=("random_psd", "rbf"))
    assert r.verdict == "FAIL" and r.holds is False
    assert r.details["min_gap_to_exact_form"] >= 0      # the bound alone would have passed
    monkeypatch.undo()
    assert K._c5_result([(5, 2), (4, 3)], sets=2, kernels=("random_psd", "rbf")).verdict == "PASS"


def test_c6_thm_3_4_end_to_end(results):
    r = results["C6"]
    d = r.details
    assert r.holds
    assert d["mean_minus_3se"] >= d["bound"] >= d["p"] / 2  # non-vacuous: bound ≥ half the zero loss
    # By hand (bc -l), p = 7: the largest n with 1/p + ((n+1)/p³)e^{2/(p−1)} ≤ 1/2 is
    # ⌊(1/2 − 1/7)·343·e^{−1/3}⌋ − 1 = ⌊87.775…⌋ − 1 = 86, and the bound is
    # 7(1 − 1/7 − (87/343)e^{1/3}) = 3.52207589831653…
    assert d["n"] == 86
    assert d["bound"] == pytest.approx(3.52207589831653492, rel=1e-13)
    assert d["trials"] >= 20
    # The exact σ-averaged best fit of every trial's kernel is above the bound too (Thm D.1).
    assert d["min_exact_sigma_avg_best_fit_loss"] >= d["bound"]


def test_c6_positive_controls(results):
    """The fit interpolates its training set (Lemma B.1), and a predictor the theorem does not
    cover — the Fourier interpolator of Prop 3.8 at regression scale, a fixed non-equivariant
    function — scores ≈ 0 ≪ the bound; averaged over relabelled tasks Ψ_σ it scores ≥ p − 1
    (Lemma D.4 with a one-dimensional span; exactly 2(p − 1) = 12 since E_σΨ_σ = 1/p)."""
    d = results["C6"].details
    c = d["controls"]
    assert d["controls_ok"] and all(v["holds"] for v in c.values())
    assert c["kernel_fit_interpolates"]["max_train_fit_err"] <= 1e-8 * d["p"]
    assert c["fourier_below_bound"]["population_loss"] <= 1e-12 < d["bound"]
    avg = c["fourier_sigma_averaged"]
    assert avg["mean_loss"] - 3 * avg["se"] >= d["p"] - 1 >= d["bound"]
    assert abs(avg["mean_loss"] - 2 * (d["p"] - 1)) <= 4 * avg["se"]


@pytest.mark.parametrize("fault", ["unfitted_predictor", "broken_loss"])
def test_c6_fails_when_a_control_fails(monkeypatch, fault):
    """A predictor that never fits (it returns the prior mean f₀) still clears the bound — its
    loss is ≈ p — but the interpolation control makes C6 FAIL; a loss function that cannot
    register a small loss fails the Fourier control."""
    import regimes.checks.kernel as K

    if fault == "unfitted_predictor":
        monkeypatch.setattr(K, "kernel_regression", lambda K_tr, y, K_te, *, prior_train, prior_test: prior_test)
    else:
        monkeypatch.setattr(K, "regression_l2_loss", lambda pred, p: float(p))
    r = K.c6(quick=True)
    assert r.verdict == "FAIL" and not r.details["controls_ok"]
    assert r.details["mean_minus_3se"] >= r.details["bound"]   # the inequality alone would pass


def test_c7_thm_4_3_and_zero_one_observation(results):
    r = results["C7"]
    d = r.details
    assert r.holds
    assert d["bound"] > 0.3  # non-vacuous
    assert d["mean_minus_3se"] >= d["bound"]
    assert d["min_exact_sigma_avg_best_fit_ratio"] >= d["bound"]
    assert d["max_train_fit_err"] < 1e-8  # ridgeless fit interpolates the training labels
    # An interpolator classifies its training pairs correctly, so in every trial its population
    # error is the held-out error scaled by the held-out fraction, hence at most it.
    obs = d["zero_one_observation"]
    assert obs["mean_population_error"] <= obs["mean_test_error"] + 1e-12


def test_c11_prop_e7(results):
    r = results["C11"]
    assert r.holds and r.measured <= 0
    preds = r.details["predictors"]
    assert {"trained_net", "e7_extremal"} <= set(preds)
    assert any(k.startswith("entk") for k in preds) and any(k.startswith("pure_noise") for k in preds)
    for row in preds.values():
        assert row["zero_one"] <= row["bound"] + 1e-12
    # the extremal predictor shows the bound is attained (up to its ε)
    ext = preds["e7_extremal"]
    assert ext["bound"] - ext["zero_one"] < 1e-6


def test_mean_se_of_agreeing_trials_is_exact() -> None:
    """C6/C7's mean − 3·SE: trials that agree (e.g. the same 0-1 test error in every trial) have
    their common value and SE 0; torch's std of 0.7 three times is 1.4e-16, round-off that was
    reported as a standard error. A 1e-9 spread keeps s/√n (statistics.stdev, independent)."""
    import math
    import statistics

    from regimes.checks.kernel import _mean_se

    for v in (0.7, 0.1, 1 / 3, 0.857142857142857):
        for n in (2, 3, 20):
            assert _mean_se([v] * n) == (v, 0.0)
    x = [0.7 + 1e-9 * k for k in (-1.0, 0.5, 2.0)]
    mean, se = _mean_se(x)
    assert mean == pytest.approx(statistics.fmean(x), abs=1e-15)
    assert se == pytest.approx(statistics.stdev(x) / math.sqrt(3), rel=1e-6) and se > 0
    assert math.isnan(_mean_se([0.7])[1])
