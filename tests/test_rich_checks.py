"""Rich-regime checks C9, C10, C12, C12b (Lemma E.2), C13, C14 through the registry,
plus direct assertions on their details."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.checks import get_check, run_check


def test_registered():
    for cid in ("C9", "C10", "C12", "C12b", "C13", "C14"):
        assert get_check(cid).test == "tests/test_rich_checks.py"


def test_c9_fourier_construction_exact():
    r = run_check("C9")
    assert r.holds
    assert r.measured <= 1e-10
    assert r.details["p_range"] == [2, 31]


def test_c10_margins():
    r = run_check("C10")
    assert r.holds
    for p, q in r.details["q_min_by_p"].items():
        assert q == pytest.approx(4 * int(p), rel=1e-12)


def test_c12_lemma_e1_corrected_sign_and_printed_sign_fails():
    r = run_check("C12")
    assert r.holds
    assert r.details["rel_error_corrected"] <= 1e-10
    # the erratum: the printed Q3 = (−W/2; V) does not reproduce the neuron
    assert r.details["min_rel_error_printed_sign"] > 1e-3


def test_c12b_rademacher_mc_below_lemma_e2():
    r = run_check("C12b")
    assert r.holds
    for case in r.details["cases"]:
        assert 0 < case["mc_mean"] <= case["mc_ucl"] <= case["bound"]


def test_c12b_optimizer_finds_the_brute_force_sup():
    # On a tiny problem the projected-gradient sup equals a dense-grid search's.
    from regimes.checks.rich import empirical_rademacher_cubic

    p, n = 2, 10
    x = torch.randint(p, (n, 3), generator=torch.Generator().manual_seed(1))
    est = empirical_rademacher_cubic(x, p, 1.0, draws=3, seed=7)
    s = torch.randint(2, (3, n), generator=torch.Generator().manual_seed(7)).double() * 2 - 1
    grid = torch.linspace(-1, 1, 9, dtype=torch.float64)
    U = torch.cartesian_prod(*[grid] * (3 * p))
    z = U[:, x[:, 0]] + U[:, p + x[:, 1]] + U[:, 2 * p + x[:, 2]]
    brute = 4 * ((z**3) @ s.t() / n).max(0).values
    assert torch.all(est >= brute - 1e-12)


def test_c13_perturbation_quantiles_below_bounds():
    """Margin: a bound fails only if exceeded in more than Nδ + 4√(Nδ(1−δ)) of N draws
    (fixed seeds; 20000 draws per single-output term, 2000 of the full max_{x,c})."""
    r = run_check("C13")
    assert r.holds and r.verdict == "PASS"
    cases = r.details["cases"]
    assert {c["sigma"] for c in cases} == {0.03, 0.3, 1.5}    # the r²σ, rσ², σ³ regimes
    assert {c["weights"] for c in cases} == {"uniform", "adversarial"}
    assert min(c["delta"] for c in cases) <= 0.01               # small δ, where G.10's constant matters
    for c in cases:
        assert not c["fails"], c
        for k, v in c["ratios_lo"].items():
            assert 0 < v <= 1, (k, c)
    # the adversarial weights are the tight case of Lemma G.10: ≈ Φ⁻¹(1−δ/2)/√(2 log(2/δ)) of it
    adv = [c for c in cases if c["weights"] == "adversarial" and c["delta"] == 0.01]
    assert all(0.75 < c["ratios"]["g10"] < 0.83 for c in adv)
    assert r.details["erratum_g10_printed"]["refuted_at_smallest_delta"]


def test_c13_adversarial_g10_term_is_the_exact_gaussian():
    """With every first-layer entry r, (Wx)_j = 2r for all j, so the G.10 term is
    |N(0, 16r⁴σ²h)| exactly: compare its mean with √(2/π)·4r²σ√h (Monte Carlo, 5 SE)."""
    from regimes.checks.rich import perturbation_samples

    p, width, r, sigma, N = 5, 48, 0.7, 0.2, 50_000
    g = perturbation_samples(p, width, r, sigma, trials=N, total_trials=0, seed=3, weights="adversarial")["g10"]
    sd = 4 * r**2 * sigma * math.sqrt(2 * width)
    assert abs(float(g.mean()) - sd * math.sqrt(2 / math.pi)) <= 5 * sd * math.sqrt(1 - 2 / math.pi) / math.sqrt(N)


@pytest.mark.parametrize("delta,N", [(0.05, 200_000), (0.01, 50_000)])
def test_lemma_g10_printed_constant_fails_with_worst_case_weights(delta, N):
    """Erratum (proofs/lemma_g_10_g_13_perturbations.md): Lemma G.10 prints 4r²σ√(h log(2/δ));
    for the worst-case W (all entries r) the term is |N(0, 16r⁴σ²h)|, which exceeds that value
    with probability 2(1 − Φ(√log(2/δ))) > δ whenever δ < 0.0629 (0.0548 at δ = 0.05, 0.0213
    at δ = 0.01). N draws (≈ 10 and ≈ 25 binomial SDs of excess expected): the printed bound
    is exceeded in more than Nδ + 4√(Nδ(1−δ)) of them (refuted), the corrected
    4r²σ√(2h log(2/δ)) is not."""
    from statistics import NormalDist

    from regimes.bounds import upper
    from regimes.checks.rich import exceedance_test, perturbation_samples

    p, width, r, sigma = 5, 48, 1.0, 0.1
    h = 2 * width
    g = perturbation_samples(p, width, r, sigma, trials=N, total_trials=0, seed=11, weights="adversarial")["g10"]
    printed = exceedance_test(g, upper.lemma_g10_bound(h, r, sigma, delta, printed=True), delta)
    corrected = exceedance_test(g, upper.lemma_g10_bound(h, r, sigma, delta), delta)
    exact = 2 * (1 - NormalDist().cdf(math.sqrt(math.log(2 / delta))))
    assert exact > delta
    assert printed["fails"] and printed["exceed_frac"] > delta
    assert abs(printed["exceed_frac"] - exact) <= 5 * math.sqrt(exact * (1 - exact) / N)
    assert not corrected["fails"] and corrected["exceed_frac"] < delta


def test_lemma_g10_printed_constant_holds_above_the_crossover():
    """At δ = 0.1 (above the crossover 0.0629) the printed G.10 constant holds even for the
    worst-case W: exact exceedance probability 0.0835 < 0.1."""
    from regimes.bounds import upper
    from regimes.checks.rich import exceedance_test, perturbation_samples

    p, width, r, sigma, delta = 5, 48, 1.0, 0.1, 0.1
    g = perturbation_samples(p, width, r, sigma, trials=50_000, total_trials=0, seed=12, weights="adversarial")["g10"]
    assert not exceedance_test(g, upper.lemma_g10_bound(2 * width, r, sigma, delta, printed=True), delta)["fails"]


def test_c13_fails_if_the_printed_g10_constant_is_checked(monkeypatch):
    """C13 checks the corrected G.10: put the printed constant in its place and it FAILS."""
    import regimes.checks.rich as rich
    from regimes.bounds import upper

    real = upper.lemma_g10_bound
    monkeypatch.setattr(rich.upper, "lemma_g10_bound",
                        lambda h, r, s, d, printed=False: real(h, r, s, d, printed=True))
    res = rich._c13_result([(5, 48)], (0.01,), trials=20_000, total_trials=200, sigmas=(0.3,))
    assert res.verdict == "FAIL" and res.measured > 1
    assert any("g10" in c["fails"] for c in res.details["cases"] if c["weights"] == "adversarial")


def test_c14_bounds_for_trained_interpolators():
    """At p = 11 / 5 every bound is vacuous: the verdict must say so (never PASS), name the
    sample size where each would bite, and score only held-out points."""
    r = run_check("C14")
    cls, reg = r.details["classification"], r.details["regression"]
    assert cls["interpolates"] and cls["train_acc"] == 1.0
    assert reg["train_loss"] < 1e-3
    # held-out sets: the complement of the distinct training points
    assert cls["heldout_n"] == 11**2 - cls["n"] and reg["heldout_n"] == 5**3 - reg["n"]
    assert r.measured == cls["heldout_err"]
    # an interpolator's held-out error is at least its population error (which counts training pairs)
    assert cls["heldout_err"] >= cls["population_err"] - 1e-12
    assert cls["thm_4_6"] >= 1 and reg["prop_3_7_K1"] >= 5           # vacuous at this size ...
    assert r.verdict == "VACUOUS" and r.holds is None                 # ... so no PASS
    assert r.details["n_for_nonvacuous"]["thm_4_6"] > cls["n"]
    assert r.details["n_for_nonvacuous"]["prop_3_7"] > reg["n"]
    assert math.isfinite(cls["thm_4_5"])
