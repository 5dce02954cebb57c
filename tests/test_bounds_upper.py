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
    b = upper.lemma_e2_rademacher(7, 100, 1.0)
    assert upper.lemma_e2_rademacher(7, 400, 1.0) == pytest.approx(b / 2)
    assert upper.lemma_e2_rademacher(7, 100, 2.0) == pytest.approx(8 * b)
    assert upper.lemma_e2_rademacher(28, 100, 1.0) == pytest.approx(2 * b)
    assert upper.lemma_e5_rademacher(7, 100, 13, 1.0) == pytest.approx(13 * b)
    # the single-neuron class is bounded by the cube-Lipschitz argument: 27 r² · r·√(3p) · √(3n)·4/n
    assert b == pytest.approx(4 * 27 * math.sqrt(3 * 7) * math.sqrt(3 * 100) / 100)


def test_e6_interpolator_form_and_prop_3_7():
    n, p, h, R, d = 5000, 7, 56, 0.6, 0.05
    # Hand-computed (bc -l) from Prop 3.7's proof, L̂ = 0: R_n = h·324R³√p/√n = 146.63944431…,
    # b = (4hR³ + p)² = 3067.387456, bound = H log³n R_n² + b log(1/δ)/n with H = 2 (the
    # curvature of (g − y)²) = 26571809.6619225…
    want = 26571809.6619225212
    assert upper.prop_3_7_loss_bound(p, n, h, R, d) == pytest.approx(want, rel=1e-12)
    assert upper.prop_3_7_loss_bound(p, n, h, R, d, K=3.0) == pytest.approx(3 * want, rel=1e-12)
    # with positive empirical loss the bound exceeds it
    assert upper.prop_3_7_loss_bound(p, n, h, R, d, emp_loss=0.1) > want + 0.1
    # monotone: more data helps, larger norm hurts
    assert upper.prop_3_7_loss_bound(p, 2 * n, h, R, d) < want
    assert upper.prop_3_7_loss_bound(p, n, h, 1.1 * R, d) > want


def test_regression_loss_range_is_attained_by_a_net():
    """b = (4hR³ + p)² is the largest square loss of a width-h net with ‖θ‖_∞ ≤ R: a net
    with W ≡ R and V ≡ −R outputs −4hR³ on every input (computed by the model, not the
    formula), which on a target p costs exactly b; random nets in the ball stay below."""
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task

    p, h, R = 5, 12, 0.7
    x = Task(p, "regression").population().x
    y = p * ((x[:, 0] + x[:, 1]) % p == x[:, 2]).to(torch.float64)
    ext = QuadraticNet(torch.full((h, 2 * p), R, dtype=torch.float64), torch.full((p, h), -R, dtype=torch.float64))
    worst = float(((ext.regression(x) - y) ** 2).max())
    assert worst == pytest.approx(upper.regression_loss_range(p, h, R), rel=1e-12)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        W = (torch.rand(h, 2 * p, generator=g, dtype=torch.float64) * 2 - 1) * R
        V = (torch.rand(p, h, generator=g, dtype=torch.float64) * 2 - 1) * R
        assert float(((QuadraticNet(W, V).regression(x) - y) ** 2).max()) <= upper.regression_loss_range(p, h, R)


def test_prop_3_8_min_norm_matches_construction():
    for p, h in [(5, 40), (5, 90), (7, 8 * 7 * 3), (6, 8 * 6 * 8 + 3)]:
        assert fourier_interpolator(p, h=h).theta_inf() == pytest.approx(upper.prop_3_8_min_norm(p, h))
        assert fourier_interpolator(p, h=h, target="regression").theta_inf() == pytest.approx(
            upper.prop_3_8_min_norm(p, h, "regression"))
    with pytest.raises(ValueError, match="h"):
        upper.prop_3_8_min_norm(5, 39)


def test_theorem_3_6_rate_in_n():
    # Thm 3.6: loss = O(p²/n · log³ n) for h = Θ(p); doubling n (large) roughly halves it.
    a = upper.thm_3_6_bound(11, 10**8, 88, 0.05)
    b = upper.thm_3_6_bound(11, 2 * 10**8, 88, 0.05)
    assert 0.5 < b / a < 0.5 * (math.log(2e8) / math.log(1e8)) ** 3 + 1e-12


def test_perturbation_bound_width_condition_boundary():
    """G.11 needs h ≥ 8 log(2/δ'); the union bound uses δ' = δ/(2p·p²). Hand values (bc -l):
    p = 7, δ = 0.1: δ' = 0.1/686 and 8 log(2/δ') = 76.2128…, so width 76 is outside the lemma
    (∞) and 77 inside; for G.11 alone at δ = 1e-3, 8 log 2000 = 60.807… > 10."""
    p, r, s, d = 7, 1.0, 0.1, 0.1
    assert math.isinf(upper.perturbation_bound(p, 76, r, s, d))
    assert math.isfinite(upper.perturbation_bound(p, 77, r, s, d))
    assert math.isinf(upper.lemma_g11_bound(60, r, s, 1e-3))
    assert math.isfinite(upper.lemma_g11_bound(61, r, s, 1e-3))
    # a union over fewer inputs is a smaller bound (δ' larger)
    assert upper.perturbation_bound(p, 200, r, s, d, n_inputs=1) < upper.perturbation_bound(p, 200, r, s, d)


def test_perturbation_bound_holds_for_a_worst_case_net():
    """Thm 4.6 step 3 as a probability statement: with every first-layer entry r (all
    pre-activations 2r) and second-layer entries ±r, max_{x,c}|f(θ+u) − f(θ)| stays below
    perturbation_bound(δ) in ≥ 1 − δ of the noise draws (here: in all 2000, δ = 0.05)."""
    from regimes.checks.rich import perturbation_samples

    p, width, r, d = 3, 16, 1.0, 0.05
    for sigma in (0.05, 2.0):
        s = perturbation_samples(p, width, r, sigma, trials=1, total_trials=2000, seed=1, weights="adversarial")
        assert float(s["total"].max()) <= upper.perturbation_bound(p, 2 * width, r, sigma, d)


def test_lemma_g10_printed_and_corrected_constants():
    """Lemma G.10 as printed, 4r²σ√(h log(2/δ)), and with the Gaussian tail's √2 restored
    (Lemma G.4: |X| < ν√(2 log(2/δ))). Hand value: h = 50, r = 0.5, σ = 0.2, δ = e^{-1}·2
    (log(2/δ) = 1): printed 4·0.25·0.2·√50 = 1.41421356…, corrected 2.0."""
    d = 2 * math.exp(-1)
    assert upper.lemma_g10_bound(50, 0.5, 0.2, d, printed=True) == pytest.approx(0.2 * math.sqrt(50), rel=1e-12)
    assert upper.lemma_g10_bound(50, 0.5, 0.2, d) == pytest.approx(2.0, rel=1e-12)


def test_theorem_4_6_sigma_is_admissible_and_maximal_on_grid():
    p, width, r, gamma = 11, 88, 1.0, 44.0
    h = 2 * width
    s = upper.thm_4_6_sigma(p, h, r, gamma)
    assert s > 0
    assert upper.perturbation_bound(p, h, r, s, 0.5) <= gamma / 4
    assert upper.perturbation_bound(p, h, r, 2 * s, 0.5) > gamma / 4


def test_theorem_4_6_bound_kl_and_confidence_terms():
    """Lemma G.9: L₀ ≤ L_γ + 4√((KL + log(6n/δ_g))/(n − 1)). The KL of the posterior
    N(θ, σ²I) to the prior N(0, σ²I) is computed by torch.distributions (not by the bound's
    ‖θ‖²/(2σ²)); the difference of (B/4)²(n − 1) between two ‖θ‖₂² values is the difference
    of these KLs. The confidence term at ‖θ‖ → 0 is log(6n·120/δ) (G.9's log(6n/δ) with δ
    split over the 120-point σ grid): log(7.2e6) = 15.78959158… (bc -l) for n = 500, δ = 0.05."""
    p, width, r, gamma, d, n = 11, 88, 1.0, 44.0, 0.05, 500
    h = 2 * width
    s = upper.thm_4_6_sigma(p, h, r, gamma)
    normal = torch.distributions.Normal

    def kl(theta: torch.Tensor) -> float:
        return float(torch.distributions.kl_divergence(
            normal(theta, s), normal(torch.zeros_like(theta), s)).sum())

    def inside(b: float) -> float:          # KL + log term, read back from the bound
        return (b / 4) ** 2 * (n - 1)

    worst = torch.full((3 * h * p,), r, dtype=torch.float64)     # every parameter of the doubled net at r
    half = worst / 2
    b_worst = upper.thm_4_6_bound(p, n, width, r, gamma, d)  # default: the 3hp r² worst case
    b_half = upper.thm_4_6_bound(p, n, width, r, gamma, d, theta_l2_sq=float((half**2).sum()))
    assert inside(b_worst) - inside(b_half) == pytest.approx(kl(worst) - kl(half), rel=1e-9)
    b0 = upper.thm_4_6_bound(p, n, width, r, gamma, d, theta_l2_sq=1e-300)
    assert inside(b0) == pytest.approx(15.7895915839862837, rel=1e-12)
    assert upper.thm_4_6_bound(p, n, width, r, gamma, d, margin_loss=0.1) == pytest.approx(b_worst + 0.1)
    assert upper.thm_4_6_bound(p, 4 * n, width, r, gamma, d) < b_worst
    assert upper.thm_4_6_bound(p, n, width, r, 8 * gamma, d) < b_worst


def test_theorem_4_6_sigma_regimes():
    # The perturbation bound is c·max(σ³, rσ², r²σ): for σ* ≥ r it is c σ³ (σ* ∝ γ^{1/3}, so
    # KL ∝ (γ/r³)^{-2/3}, the (h²/(γ/r³))^{1/3} of eq. 4.4); for σ* ≤ r it is c r²σ (σ* ∝ γ).
    # The grid is powers of 2, so these scalings are exact on it.
    p, h = 7, 200
    small_r = 1e-4
    s1 = upper.thm_4_6_sigma(p, h, small_r, 1.0)
    assert s1 >= small_r
    assert upper.thm_4_6_sigma(p, h, small_r, 64.0) == 4 * s1
    big_r = 1.0
    s2 = upper.thm_4_6_sigma(p, h, big_r, 1e-3)
    assert s2 <= big_r
    assert upper.thm_4_6_sigma(p, h, big_r, 8e-3) == 8 * s2


def test_theorem_4_5_defaults_to_construction_margin():
    p, h, n, d = 11, 88, 10**6, 0.05
    assert upper.thm_4_5_bound(p, n, h, d) == upper.thm_4_6_bound(p, n, h, 1.0, 4.0 * p, d)
    assert upper.thm_4_5_bound(p, n, 2 * h, d) == upper.thm_4_6_bound(p, n, 2 * h, 1.0, 8.0 * p, d)
    with pytest.raises(ValueError, match="norm_margin"):
        upper.thm_4_5_bound(p, n, 8 * p - 1, d)
    assert upper.thm_4_5_rate(11, 4 * 11**2) == pytest.approx(math.sqrt(11 ** (5 / 3)) / 22)


def test_paper_form_regime():
    """In its own regime (σ ≥ r) the paper's closed form and ours differ only through σ:
    the paper sets 64√(2h)L₁^{3/2}σ³ = γ/4 and writes KL as 3hp L₁/x^{2/3} (x = (γ/r³)/(256√(2h)));
    ours takes the largest grid σ = 2^{-j} with G.11 + G.13 (union at δ' = 1/(4p³)) ≤ γ/4.
    From the two lemmas, for σ ≥ r the root σ_c lies between (γ/(4√h(16√log(2/δ') +
    32L'^{3/2})))^{1/3} and (γ/(128√h L'^{3/2}))^{1/3}, L' = log(2(h+1)/δ'), and the grid
    loses at most a factor 2; that window for σ gives the window for the ratio."""
    p, width, d, n, r = 5, 40, 0.05, 10**9, 1.0
    h = 2 * width
    L1 = math.log(2 * (h + 1) / d)
    gamma = 256 * math.sqrt(2 * h) * L1**1.5 * 100             # x = 100 L₁^{3/2}
    paper = upper.thm_4_6_paper_form(p, n, width, r, gamma, d)
    # by hand: x^{2/3} = 100^{2/3} L₁, so KL_paper = 3hp/100^{2/3}
    assert paper == pytest.approx(4 * math.sqrt((3 * h * p / 100 ** (2 / 3) + math.log(6 * n / d)) / (n - 1)),
                                  rel=1e-12)
    dp = 0.5 / (2 * p * p * p)
    Lp = math.log(2 * (h + 1) / dp)
    s_hi = (gamma / (128 * math.sqrt(h) * Lp**1.5)) ** (1 / 3)
    s_lo = 0.5 * (gamma / (4 * math.sqrt(h) * (16 * math.sqrt(math.log(2 / dp)) + 32 * Lp**1.5))) ** (1 / 3)
    assert s_lo >= r                                              # the σ³ regime, as assumed
    s = upper.thm_4_6_sigma(p, h, r, gamma)
    assert s_lo <= s <= s_hi
    conf = math.log(6 * n * 120 / d)

    def ours_at(sig: float) -> float:
        return 4 * math.sqrt((3 * h * p * r**2 / (2 * sig**2) + conf) / (n - 1))

    ours = upper.thm_4_6_bound(p, n, width, r, gamma, d)
    assert ours_at(s_hi) / paper <= ours / paper <= ours_at(s_lo) / paper
    assert 0.75 < ours_at(s_hi) / paper and ours_at(s_lo) / paper < 1.2   # the window is < 1.6×


@pytest.mark.parametrize("fn,args", [
    (upper.lemma_e2_rademacher, (5, 0, 1.0)),
    (upper.lemma_e2_rademacher, (1, 10, 1.0)),
    (upper.lemma_e2_rademacher, (5, 10, -1.0)),
    (upper.prop_3_7_loss_bound, (5, 100, 40, 1.0, 1.5)),
    (upper.prop_3_7_loss_bound, (5, 100, 40, 1.0, 0.0)),
    (upper.thm_4_6_bound, (5, 100, 40, 1.0, -2.0, 0.05)),
    (upper.thm_4_6_bound, (5, 1, 40, 1.0, 2.0, 0.05)),
    (upper.thm_e6_optimistic_rate, (-0.1, 100, 0.1, 0.05, 1.0, 1.0)),
])
def test_bad_input_raises(fn, args):
    with pytest.raises(ValueError):
        fn(*args)
