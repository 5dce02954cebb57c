"""Closed-form kernel-regime lower bounds (regimes.bounds.lower).

The formulas are checked against values computed by hand (bc -l) from each
theorem's displayed formula and against the spectrum of Σ computed numerically
(eigvalsh), never against each other's code; the exact form dominating the
paper's form is asserted on grids.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch

import regimes.bounds as bounds_pkg
from regimes.bounds import lower as B
from regimes.spectral import best_fit_loss_matrix_valued, sigma_matrix, top_eigensum


def test_all_exports_are_documented_functions():
    assert B.__all__, "lower.__all__ must list the bounds"
    for name in B.__all__:
        fn = getattr(B, name)
        assert callable(fn) and inspect.getdoc(fn), name
        assert getattr(bounds_pkg, name) is fn  # re-exported by regimes.bounds


def test_cor_d8_hand_values():
    # p = 5, m = 2, n = 3: 5(1 − 1/5 − (3/25) e^{1/4}); p = 7, m = 3, n = 50: 49(1 − 1/7 − (50/343) e^{1/3}).
    assert math.isclose(B.cor_d8_lower_bound(5, 3, 2), 5 * (0.8 - 0.12 * math.exp(0.25)), rel_tol=1e-14)
    assert math.isclose(B.cor_d8_lower_bound(7, 50, 3), 49 * (6 / 7 - 50 / 343 * math.exp(1 / 3)),
                        rel_tol=1e-14)


@pytest.mark.parametrize("p,m", [(5, 2), (7, 2), (5, 3), (4, 3)])
def test_exact_form_equals_numerical_spectrum_and_dominates(p, m):
    Sig = sigma_matrix(p, m)
    for n in range(1, p**m + 1, max(1, p**m // 25)):
        exact = B.cor_d8_exact_lower_bound(p, n, m)
        assert abs(exact - (float(torch.trace(Sig)) - top_eigensum(Sig, n))) < 1e-9
        assert exact >= B.cor_d8_lower_bound(p, n, m) - 1e-12
        assert B.lemma_d7_top_eigensum_exact(p, n, m) <= B.lemma_d7_top_eigensum(p, n, m) + 1e-12


def test_d1_d2_3_4_3_5_4_3_hand_values():
    """Each theorem's displayed formula evaluated by hand (bc -l), not through Cor D.8's code:
    D.1 (p=5, n=10): 25(1 − 1/5 − (10/125)e^{1/2}); D.2 (p=5, n=2 pairs): 25(1 − 1/5 − (2/25)e^{1/2})
    — the same number, as D.2's proof (n·p columns on triples) says; Thm 3.4 = D.1/p (the loss
    (1/p³)Σ(f − pΨ)² is ‖f/p − Ψ‖²/p), with n + 1 for a prior mean; Thm 3.5 (p=7, m=2, n=10):
    7(1 − 1/7 − (10/49)e^{1/6}); Thm 4.3 (p=7, n=5): 1 − 1/7 − (5/49)e^{1/3}, and with a prior
    mean 1 − 1/7 − (36/343)e^{1/3}."""
    rel = 1e-13
    assert math.isclose(B.thm_d1_lower_bound(5, 10), 16.7025574585997437, rel_tol=rel)
    assert math.isclose(B.thm_d2_classification_lower_bound(5, 2), 16.7025574585997437, rel_tol=rel)
    assert math.isclose(B.thm_3_4_regression_lower_bound(5, 10), 3.34051149171994874, rel_tol=rel)
    assert math.isclose(B.thm_3_4_regression_lower_bound(5, 10, prior_mean=True), 3.27456264089194362,
                        rel_tol=rel)
    assert math.isclose(B.thm_3_5_lower_bound(7, 10, 2), 4.31234226733479146, rel_tol=rel)
    assert math.isclose(B.thm_4_3_classification_lower_bound(7, 5), 0.714733426011623517, rel_tol=rel)
    assert math.isclose(B.thm_4_3_classification_lower_bound(7, 5, prior_mean=True), 0.710664585122159700,
                        rel_tol=rel)


@pytest.mark.parametrize("p", [5, 7])
def test_d1_d2_below_the_numerical_spectrum(p):
    """Thm D.1 ≤ Tr Σ − Σ_{i≤n} λ_i(Σ) and Thm D.2 ≤ Tr Σ − Σ_{i≤np} λ_i(Σ) with the eigenvalues
    of the dense Σ (m = 3) from eigvalsh (Lemma D.4 + Lemma D.7's relaxation), and D.2 below
    the exact averaged best fit of random matrix-valued kernels (Thm D.2's claim)."""
    Sig = sigma_matrix(p, 3)
    tr = float(torch.trace(Sig))
    for n in (1, 3, p**2 // 2, p**3 // 4):
        assert B.thm_d1_lower_bound(p, n) <= tr - top_eigensum(Sig, n) + 1e-9
    g = torch.Generator().manual_seed(p)
    for n in (1, 2, p // 2 + 1):
        assert B.thm_d2_classification_lower_bound(p, n) <= tr - top_eigensum(Sig, n * p) + 1e-9
        K = torch.randn(p * p, n, p, p, generator=g, dtype=torch.float64)
        assert B.thm_d2_classification_lower_bound(p, n) <= best_fit_loss_matrix_valued(K, p) + 1e-9


@pytest.mark.parametrize("p", [5, 7, 13, 31])
@pytest.mark.parametrize("prior", [False, True])
def test_thm_3_4_half_threshold(p, prior):
    n = B.thm_3_4_max_n_for_half(p, prior_mean=prior)
    assert n >= 1
    assert B.thm_3_4_regression_lower_bound(p, n, prior_mean=prior) >= p / 2
    assert B.thm_3_4_regression_lower_bound(p, n + 1, prior_mean=prior) < p / 2
    # From the explicit form of Thm 3.4: n ≲ 0.18 p³ at p = 5 and ≲ 0.44 p³ at p = 31.
    if p == 5 and not prior:
        assert 0.17 <= n / p**3 <= 0.19
    if p == 31 and not prior:
        assert 0.43 <= n / p**3 <= 0.45


def test_cor_d5_condition_matches_half_bound():
    for p in (5, 7, 11):
        for n in range(1, p**3, p):
            if B.cor_d5_half_condition(p, n, 3):
                assert B.cor_d8_lower_bound(p, n, 3) >= 0.5 * p**2 - 1e-9


def test_prop_e7():
    assert B.prop_e7_zero_one_from_l2(0.0, 7) == 0.0
    assert math.isclose(B.prop_e7_zero_one_from_l2(7.0, 7), 2.0)  # zero predictor: vacuous bound 2


def test_bad_input():
    with pytest.raises(ValueError, match="m=5"):
        B.cor_d8_lower_bound(5, 3, 5)  # m ≥ p
    with pytest.raises(ValueError, match="m=7"):
        B.cor_d8_lower_bound(5, 3, 7)
    with pytest.raises(ValueError, match="n=0"):
        B.cor_d8_lower_bound(5, 0, 2)
    with pytest.raises(ValueError, match="n=-3"):
        B.thm_3_4_regression_lower_bound(7, -3)
    with pytest.raises(ValueError, match="n=0"):
        B.thm_4_3_classification_lower_bound(7, 0)
    with pytest.raises(ValueError, match="p=1"):
        B.thm_d2_classification_lower_bound(1, 3)
    with pytest.raises(ValueError, match="p=3"):
        B.thm_3_4_regression_lower_bound(3, 2)  # D.1 needs m = 3 < p
    with pytest.raises(ValueError, match="l2_loss"):
        B.prop_e7_zero_one_from_l2(float("nan"), 5)
    with pytest.raises(ValueError, match="integer"):
        B.cor_d8_lower_bound(5.5, 3, 2)
