"""Tests of regimes.bounds.upper: the rich-regime bounds (Lemma E.1/E.2/E.5, Thm E.6,
Prop 3.7/3.8, Thm 3.6/4.5/4.6, Lemmas G.10-G.13), cross-checked against independent
computations and the defining properties of each bound."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.bounds import upper
from regimes.constructions import fourier_interpolator


def test_exported_through_package():
    import regimes.bounds as b

    for name in upper.__all__:
        assert getattr(b, name) is getattr(upper, name)


def test_lemma_e1_identity_and_printed_sign():
    gen = torch.Generator().manual_seed(0)
    p = 4
    x = torch.cartesian_prod(torch.arange(p), torch.arange(p), torch.arange(p))
    w = torch.randn(2 * p, generator=gen, dtype=torch.float64)
    v = torch.randn(p, generator=gen, dtype=torch.float64)
    neuron = v[x[:, 2]] * (w[x[:, 0]] + w[p + x[:, 1]]) ** 2
    U = upper.lemma_e1_decomposition(w, v)
    assert U.shape == (4, 3 * p)
    assert torch.allclose(upper.cubic_sum(U, x), neuron, atol=1e-12)
    bad = upper.cubic_sum(upper.lemma_e1_decomposition(w, v, printed_sign=True), x)
    assert float((bad - neuron).abs().max()) > 1e-2
    assert float(U.abs().max()) == pytest.approx((2 / 9) ** (1 / 3) * max(w.abs().max(), v.abs().max()))
    with pytest.raises(ValueError, match="shape"):
        upper.lemma_e1_decomposition(w, v[:-1])


def test_rademacher_bounds_scaling():
    b = upper.lemma_e2_rademacher_bound(100, 7, 1.0)
    assert upper.lemma_e2_rademacher_bound(400, 7, 1.0) == pytest.approx(b / 2)
    assert upper.lemma_e2_rademacher_bound(100, 7, 2.0) == pytest.approx(8 * b)
    assert upper.lemma_e2_rademacher_bound(100, 28, 1.0) == pytest.approx(2 * b)
    assert upper.lemma_e5_rademacher_bound(100, 7, 13, 1.0) == pytest.approx(13 * b)
    # the single-neuron class is bounded by the cube-Lipschitz argument: 27 r² · r·√(3p) · √(3n)·4/n
    assert b == pytest.approx(4 * 27 * math.sqrt(3 * 7) * math.sqrt(3 * 100) / 100)


def test_e6_interpolator_form_and_prop_3_7():
    n, p, h, R, d = 5000, 7, 56, 0.6, 0.05
    Rn = upper.lemma_e5_rademacher_bound(n, p, h, R)
    b = (4 * h * R**3 + p) ** 2
    want = 2 * math.log(n) ** 3 * Rn**2 + b * math.log(1 / d) / n
    assert upper.prop_3_7_bound(n, p, h, R, d) == pytest.approx(want, rel=1e-12)
    assert upper.prop_3_7_bound(n, p, h, R, d, K=3.0) == pytest.approx(3 * want, rel=1e-12)
    # with positive empirical loss the bound exceeds it
    assert upper.prop_3_7_bound(n, p, h, R, d, emp_loss=0.1) > want + 0.1
    # monotone: more data helps, larger norm hurts
    assert upper.prop_3_7_bound(2 * n, p, h, R, d) < want
    assert upper.prop_3_7_bound(n, p, h, 1.1 * R, d) > want


def test_prop_3_8_min_norm_matches_construction():
    for p, h in [(5, 40), (5, 90), (7, 8 * 7 * 3), (6, 8 * 6 * 8 + 3)]:
        assert fourier_interpolator(p, width=h).theta_inf() == pytest.approx(upper.prop_3_8_min_norm(p, h))
        assert fourier_interpolator(p, width=h, target="regression").theta_inf() == pytest.approx(
            upper.prop_3_8_min_norm(p, h, "regression"))
    with pytest.raises(ValueError, match="h"):
        upper.prop_3_8_min_norm(5, 39)


def test_theorem_3_6_rate_in_n():
    # Thm 3.6: loss = O(p²/n · log³ n) for h = Θ(p); doubling n (large) roughly halves it.
    a = upper.theorem_3_6_bound(10**8, 11, 88, 0.05)
    b = upper.theorem_3_6_bound(2 * 10**8, 11, 88, 0.05)
    assert 0.5 < b / a < 0.5 * (math.log(2e8) / math.log(1e8)) ** 3 + 1e-12


def test_perturbation_bound_composition():
    p, h, r, s, d = 7, 200, 1.0, 0.1, 0.1
    dd = d / (2 * p * p * p)
    assert upper.perturbation_bound(p, h, r, s, d) == pytest.approx(
        upper.lemma_g11_bound(h, r, s, dd) + upper.lemma_g13_bound(h, r, s, dd))
    # G.11's width condition h >= 8 log(2/δ') → inf when violated
    assert math.isinf(upper.perturbation_bound(p, 10, r, s, d))
    assert math.isinf(upper.lemma_g11_bound(10, r, s, 1e-3))


def test_theorem_4_6_sigma_is_admissible_and_maximal_on_grid():
    p, width, r, gamma = 11, 88, 1.0, 44.0
    h = 2 * width
    s = upper.theorem_4_6_sigma(p, h, r, gamma)
    assert s > 0
    assert upper.perturbation_bound(p, h, r, s, 0.5) <= gamma / 4
    assert upper.perturbation_bound(p, h, r, 2 * s, 0.5) > gamma / 4


def test_theorem_4_6_bound_formula_and_monotonicity():
    p, width, r, gamma, d, n = 11, 88, 1.0, 44.0, 0.05, 500
    h = 2 * width
    s = upper.theorem_4_6_sigma(p, h, r, gamma)
    kl = 3 * h * p * r**2 / (2 * s**2)
    want = 4 * math.sqrt((kl + math.log(6 * n * 120 / d)) / (n - 1))
    assert upper.theorem_4_6_bound(n, p, width, r, gamma, d) == pytest.approx(want, rel=1e-12)
    assert upper.theorem_4_6_bound(n, p, width, r, gamma, d, margin_loss=0.1) == pytest.approx(want + 0.1)
    assert upper.theorem_4_6_bound(4 * n, p, width, r, gamma, d) < want
    assert upper.theorem_4_6_bound(n, p, width, r, 8 * gamma, d) < want


def test_theorem_4_6_sigma_regimes():
    # The perturbation bound is c·max(σ³, rσ², r²σ): for σ* ≥ r it is c σ³ (σ* ∝ γ^{1/3}, so
    # KL ∝ (γ/r³)^{-2/3}, the (h²/(γ/r³))^{1/3} of eq. 4.4); for σ* ≤ r it is c r²σ (σ* ∝ γ).
    # The grid is powers of 2, so these scalings are exact on it.
    p, h = 7, 200
    small_r = 1e-4
    s1 = upper.theorem_4_6_sigma(p, h, small_r, 1.0)
    assert s1 >= small_r
    assert upper.theorem_4_6_sigma(p, h, small_r, 64.0) == 4 * s1
    big_r = 1.0
    s2 = upper.theorem_4_6_sigma(p, h, big_r, 1e-3)
    assert s2 <= big_r
    assert upper.theorem_4_6_sigma(p, h, big_r, 8e-3) == 8 * s2


def test_theorem_4_5_defaults_to_construction_margin():
    p, h, n, d = 11, 88, 10**6, 0.05
    assert upper.theorem_4_5_bound(n, p, h, d) == upper.theorem_4_6_bound(n, p, h, 1.0, 4.0 * p, d)
    assert upper.theorem_4_5_bound(n, p, 2 * h, d) == upper.theorem_4_6_bound(n, p, 2 * h, 1.0, 8.0 * p, d)
    with pytest.raises(ValueError, match="norm_margin"):
        upper.theorem_4_5_bound(n, p, 8 * p - 1, d)
    assert upper.theorem_4_5_rate(4 * 11**2, 11) == pytest.approx(math.sqrt(11 ** (5 / 3)) / 22)


def test_paper_form_regime():
    # In its own regime (ratio >= 1) the paper's closed form is of the same order as ours.
    p, width, d = 5, 40, 0.05
    h = 2 * width
    gamma = 256 * math.sqrt(2 * h) * math.log(2 * (h + 1) / d) ** 1.5 * 100
    ours = upper.theorem_4_6_bound(10**9, p, width, 1.0, gamma, d)
    paper = upper.theorem_4_6_paper_form(10**9, p, width, 1.0, gamma, d)
    assert 0.1 < ours / paper < 10


@pytest.mark.parametrize("fn,args", [
    (upper.lemma_e2_rademacher_bound, (0, 5, 1.0)),
    (upper.lemma_e2_rademacher_bound, (10, 1, 1.0)),
    (upper.lemma_e2_rademacher_bound, (10, 5, -1.0)),
    (upper.prop_3_7_bound, (100, 5, 40, 1.0, 1.5)),
    (upper.prop_3_7_bound, (100, 5, 40, 1.0, 0.0)),
    (upper.theorem_4_6_bound, (100, 5, 40, 1.0, -2.0, 0.05)),
    (upper.theorem_4_6_bound, (1, 5, 40, 1.0, 2.0, 0.05)),
    (upper.theorem_e6_optimistic_rate, (-0.1, 100, 0.1, 0.05, 1.0, 1.0)),
])
def test_bad_input_raises(fn, args):
    with pytest.raises(ValueError):
        fn(*args)
