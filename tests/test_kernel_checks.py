"""Checks C4, C5, C6, C7, C11 (kernel regime) through the registry, plus their details.

Statistical margins (stated here and in the check details):
* C4: Monte-Carlo Σ within 6 standard errors entrywise (4000 draws, fixed seeds).
* C6/C7: the mean over independent trials (fresh init and fresh i.i.d. data per
  trial, fixed seeds) minus 3 standard errors must exceed the bound; n is
  chosen so the bound is far from vacuous (≈ p/2 for C6, ≈ 0.4 for C7).
"""

from __future__ import annotations

import pytest

from regimes.bounds.lower import thm_3_4_regression_lower_bound
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


def test_c5_best_fit_above_cor_d8_for_every_kernel(results):
    r = results["C5"]
    assert r.holds
    assert r.details["min_gap_to_cor_d8"] >= 0 and r.details["min_gap_to_exact_form"] >= -1e-9
    kernels = {k.split(",")[2] for k in r.details if k.startswith("p=")}
    assert {"entk", "expected_ntk", "relu_ntk", "quad_ntk", "rbf", "random_psd"} <= kernels
    assert {k.split(",")[1] for k in r.details if k.startswith("p=")} == {"m=2", "m=3"}


def test_c6_thm_3_4_end_to_end(results):
    r = results["C6"]
    d = r.details
    assert r.holds
    assert d["mean_minus_3se"] >= d["bound"] >= d["p"] / 2  # non-vacuous: bound ≥ half the zero loss
    assert d["bound"] == thm_3_4_regression_lower_bound(d["p"], d["n"], prior_mean=True)
    assert d["trials"] >= 20
    # The exact σ-averaged best fit of every trial's kernel is above the bound too (Thm D.1).
    assert d["min_exact_sigma_avg_best_fit_loss"] >= d["bound"]


def test_c7_thm_4_3_and_zero_one_observation(results):
    r = results["C7"]
    d = r.details
    assert r.holds
    assert d["bound"] > 0.3  # non-vacuous
    assert d["mean_minus_3se"] >= d["bound"]
    assert d["min_exact_sigma_avg_best_fit_ratio"] >= d["bound"]
    assert d["max_train_fit_err"] < 1e-8  # ridgeless fit interpolates the training labels
    obs = d["zero_one_observation"]
    assert obs["holds"] is None and 0.0 <= obs["mean_test_error"] <= 1.0


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
