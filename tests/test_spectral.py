"""Appendix D machinery: Σ from C_d (Lemma D.10), its exact spectrum (D.9), the
Ky Fan sums (D.7), Lemma D.6, D.11's gap, and the exact best-fit loss (C5).

Every closed form is compared with an independent computation: the dense Σ
against an enumeration over all of S_p^m, the spectrum against eigvalsh and a
Krawtchouk sum, Tr((I − P)Σ) against the dense trace and against the average
of dist²(Ψ_σ, span) over every σ; the orbit representatives C5 averages over
against the full list of (p!)^m targets.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from regimes import spectral as S
from regimes.bounds.lower import (
    cor_d8_exact_lower_bound,
    cor_d8_lower_bound,
    lemma_d7_top_eigensum,
    lemma_d7_top_eigensum_exact,
    lemma_d9_bound,
    lemma_d9_exact,
)
from regimes.tasks import all_points

F64 = torch.float64


def _eye(n: int) -> torch.Tensor:
    return torch.eye(n, dtype=F64)


@pytest.mark.parametrize("p,m", [(3, 2), (5, 2), (4, 3), (6, 3), (3, 4)])
def test_c_d_recursion_and_values(p, m):
    c = S.c_d(p, m)
    assert abs(c[0] - 1 / p) < 1e-15 and abs(c[1]) < 1e-15
    for d in range(2, m + 1):  # the proof's recursion Q_d = (1 − Q_{d−1})/(p − 1), Q = pC
        assert abs(p * c[d] - (1 - p * c[d - 1]) / (p - 1)) < 1e-14


@pytest.mark.parametrize("p,m", [(3, 2), (4, 2), (3, 3)])
def test_sigma_matches_enumeration_over_all_permutations(p, m):
    assert torch.allclose(S.sigma_enumerated(p, m), S.sigma_matrix(p, m), atol=1e-14, rtol=0)


def test_sigma_monte_carlo_within_six_standard_errors():
    p, m, draws = 5, 2, 3000
    C0 = 1 / p
    se = math.sqrt(C0 * (1 - C0) / draws)
    dev = (S.sigma_monte_carlo(p, m, draws, seed=1) - S.sigma_matrix(p, m)).abs().max()
    assert dev <= 6 * se


@pytest.mark.parametrize("p,m", [(3, 2), (5, 2), (7, 2), (3, 3), (4, 3), (5, 3), (3, 4)])
def test_exact_spectrum(p, m):
    Sig = S.sigma_matrix(p, m)
    ev = torch.linalg.eigvalsh(Sig).flip(0)
    spec = S.sigma_spectrum(p, m)
    expect = torch.cat([torch.full((mult,), val, dtype=F64) for val, mult in spec])
    assert torch.allclose(ev, expect, atol=1e-11, rtol=0)
    assert abs(float(torch.trace(Sig)) - p ** (m - 1)) < 1e-9
    assert sum(mult for _, mult in spec) == p**m
    # Krawtchouk route (independent of the closed form): degree 0 and m carry the mass.
    by_deg = S.sigma_eigenvalues_by_degree(p, m)
    assert abs(by_deg[0] - p ** (m - 2)) < 1e-12
    assert abs(by_deg[m] - lemma_d9_exact(p, m)) < 1e-12
    assert by_deg[1:m].abs().max() < 1e-12 if m > 1 else True


@pytest.mark.parametrize("p,m", [(5, 2), (4, 3), (5, 3)])
def test_top_eigenvalue_off_slices_lemma_d9(p, m):
    Sig = S.sigma_matrix(p, m)
    R = _eye(p**m) - S.slice_projector(p, m)
    top = float(torch.linalg.eigvalsh(R @ Sig @ R)[-1])
    assert abs(top - lemma_d9_exact(p, m)) < 1e-11
    assert top <= lemma_d9_bound(p, m)
    # Random unit vectors orthogonal to V_s obey the bound (Lemma D.9).
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        v = R @ torch.randn(p**m, generator=g, dtype=F64)
        v /= v.norm()
        assert S.lemma_d9_quadratic_form(p, m, v) <= lemma_d9_exact(p, m) + 1e-12


@pytest.mark.parametrize("p,m", [(5, 2), (4, 3)])
def test_ky_fan_sums_lemma_d7(p, m):
    Sig = S.sigma_matrix(p, m)
    for n in range(0, p**m + 1):
        ky = S.top_eigensum(Sig, n)
        assert abs(ky - lemma_d7_top_eigensum_exact(p, n, m)) < 1e-9
        assert ky <= lemma_d7_top_eigensum(p, n, m) + 1e-12
        assert abs(S.lemma_d4_lower_bound(Sig, n) - (p ** (m - 1) - ky)) < 1e-9


def test_lemma_d6_for_slices_and_random_subspaces():
    p, m = 4, 3
    Sig = S.sigma_matrix(p, m)
    g = torch.Generator().manual_seed(3)
    projectors = [S.slice_projector(p, m)]
    for r in (1, 5, 20):
        Q = S.span_basis(torch.randn(p**m, r, generator=g, dtype=F64))
        projectors.append(Q @ Q.t())
    for P in projectors:
        for n in (1, 3, 10, 30):
            assert S.top_eigensum(Sig, n) <= S.lemma_d6_rhs(Sig, n, P) + 1e-9
    # With V = V_s, Tr(PΣP) = p^{m−2} (the constant part), as in the proof of D.7.
    P = projectors[0]
    assert abs(float(torch.trace(P @ Sig @ P)) - p ** (m - 2)) < 1e-10


def test_lemma_d11_holds_on_top_degree_and_fails_below_it():
    p, m = 4, 3
    g = torch.Generator().manual_seed(0)
    v = S.apply_top_degree(torch.randn(p**m, 1, generator=g, dtype=F64), p, m)[:, 0]
    v /= v.norm()
    for d in range(m + 1):
        assert abs(S.lemma_d11_pair_sum(p, m, v, d) - (-1) ** d * math.comb(m, d)) < 1e-10
    # A unit vector ⊥ V_s of degree 2 (function of (x1, x2), centred in both): D.11's identity fails,
    # yet D.9's conclusion still holds because Σ vanishes on degree 2 (see the Lemma D.11 erratum).
    u = torch.randn(p, p, generator=g, dtype=F64)
    u = u - u.mean(0, keepdim=True) - u.mean(1, keepdim=True) + u.mean()
    w = u[:, :, None].expand(p, p, p).reshape(-1).clone()
    w /= w.norm()
    assert float((S.slice_projector(p, m) @ w).norm()) < 1e-12  # w ⊥ V_s
    assert abs(S.lemma_d11_pair_sum(p, m, w, 1) - (-1) * math.comb(m, 1)) > 0.5
    assert abs(S.lemma_d9_quadratic_form(p, m, w)) < 1e-12


def _enumerated_best_fit(Q: torch.Tensor, p: int, m: int) -> float:
    """Average over every σ ∈ S_p^m of ‖(I − QQᵀ)Ψ_σ‖² (the definition, no Σ)."""
    perms = [torch.tensor(q) for q in itertools.permutations(range(p))]
    tot, cnt = 0.0, 0
    for sig in itertools.product(perms, repeat=m):
        psi = S.psi_sigma(p, sig)
        r = psi - Q @ (Q.t() @ psi)
        tot += float(r @ r)
        cnt += 1
    return tot / cnt


@pytest.mark.parametrize("p,m,n", [(3, 2, 3), (4, 2, 6), (3, 3, 5)])
def test_best_fit_loss_equals_definition(p, m, n):
    g = torch.Generator().manual_seed(p * 100 + n)
    A = torch.randn(p**m, n, generator=g, dtype=F64)
    tr = S.best_fit_loss(A, p, m)
    Q = S.span_basis(A)
    dense = float(torch.trace((_eye(p**m) - Q @ Q.t()) @ S.sigma_matrix(p, m)))
    assert abs(tr - dense) < 1e-10
    assert abs(tr - _enumerated_best_fit(Q, p, m)) < 1e-10
    assert tr >= cor_d8_exact_lower_bound(p, n, m) - 1e-10


def test_best_fit_loss_with_eigenvector_span_attains_exact_form():
    """The span of the top-n eigenvectors of Σ attains Tr Σ − Σ_{i≤n} λ_i (Lemma D.4 is tight)."""
    p, m = 5, 2
    _, U = torch.linalg.eigh(S.sigma_matrix(p, m))
    for n in (1, 4, 10, 17):
        tr = S.best_fit_loss(U[:, -n:], p, m)
        assert abs(tr - cor_d8_exact_lower_bound(p, n, m)) < 1e-10
        assert tr >= cor_d8_lower_bound(p, n, m)


def test_matrix_valued_and_shared_versions_agree_with_flattening():
    p, n = 5, 7
    g = torch.Generator().manual_seed(2)
    Th = torch.randn(p * p, n, generator=g, dtype=F64)
    K4 = Th[:, :, None, None] * torch.eye(p, dtype=F64)
    a, b = S.best_fit_loss_shared(Th, p), S.best_fit_loss_matrix_valued(K4, p)
    assert abs(a - b) < 1e-10
    f0 = torch.randn(p * p, p, generator=g, dtype=F64)
    a, b = S.best_fit_loss_shared(Th, p, extra=f0), S.best_fit_loss_matrix_valued(K4, p, extra=f0)
    assert abs(a - b) < 1e-10


def test_matrix_valued_equals_thm_d2_definition_by_enumeration():
    """Thm D.2's target Ψ^{σ3}_{σ1σ2}(i, j)_k = 1(σ1(i) + σ2(j) ≡ σ3(k)), averaged over all σ."""
    p, n = 3, 2
    g = torch.Generator().manual_seed(4)
    K = torch.randn(p * p, n, p, p, generator=g, dtype=F64)
    A = K.permute(0, 2, 1, 3).reshape(p**3, n * p)
    Q = S.span_basis(A)
    perms = [torch.tensor(q) for q in itertools.permutations(range(p))]
    i, j, k = all_points(p, 3).unbind(1)
    tot, cnt = 0.0, 0
    for s1, s2, s3 in itertools.product(perms, repeat=3):
        psi = ((s1[i] + s2[j]) % p == s3[k]).to(F64)
        r = psi - Q @ (Q.t() @ psi)
        tot, cnt = tot + float(r @ r), cnt + 1
    assert abs(S.best_fit_loss_matrix_valued(K, p) - tot / cnt) < 1e-10


@pytest.mark.parametrize("p,m", [(3, 2), (4, 2), (3, 3), (4, 3), (5, 2)])
def test_orbit_representatives_are_every_target_equally_often(p, m):
    """Each target Ψ_σ has the same share of the representatives as of all (p!)^m tuples σ,
    so a plain average over the representatives is the average over S_p^m (what C5 relies
    on). p = 4 is composite (units {1, 3}), where only the shifts may be used."""
    from collections import Counter

    reps = S.psi_orbit_representatives(p, m)
    # every tuple, written out here: 1(Σ_i σ_i(x_i) ≡ 0) on the lexicographic grid [p]^m
    perms = torch.tensor(list(itertools.permutations(range(p))))
    tuples = torch.tensor(list(itertools.product(range(perms.shape[0]), repeat=m)))
    grid = torch.tensor(list(itertools.product(range(p), repeat=m)))
    total_s = sum(perms[tuples[:, i]][:, grid[:, i]] for i in range(m))
    every = (total_s % p == 0).to(F64)
    counts = Counter(tuple(r) for r in every.tolist())
    rows = Counter(tuple(r) for r in reps.tolist())
    assert set(rows) == set(counts)
    total = math.factorial(p) ** m
    for key, c in counts.items():
        assert rows[key] * total == c * reps.shape[0]


@pytest.mark.parametrize("p,m", [(7, 2), (5, 3)])
def test_orbit_average_equals_sigma_from_c_d(p, m):
    """At C5's sizes the representatives' average of Ψ_σΨ_σᵀ is Σ from Lemma D.10's C_d."""
    reps = S.psi_orbit_representatives(p, m)
    assert reps.shape[0] == (math.factorial(p) if m == 2 else 3 * 2 * 24 * 120)
    assert torch.allclose(reps.t() @ reps / reps.shape[0], S.sigma_matrix(p, m), atol=1e-14, rtol=0)


def test_psi_draws_are_targets_and_average_to_sigma():
    p, m, draws = 5, 2, 3000
    psi = S.psi_draws(p, m, draws, seed=4)
    assert torch.all(psi.sum(1) == p ** (m - 1))        # each Ψ_σ has p^{m−1} ones
    C0 = 1 / p
    se = math.sqrt(C0 * (1 - C0) / draws)
    assert float((psi.t() @ psi / draws - S.sigma_matrix(p, m)).abs().max()) <= 6 * se


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        S.span_basis(torch.tensor([[float("nan")], [1.0]]))
    with pytest.raises(ValueError, match="p"):
        S.c_d(1, 2)
    with pytest.raises(ValueError, match="m"):
        S.sigma_matrix(3, 0)
    with pytest.raises(ValueError, match="rows"):
        S.best_fit_loss(torch.ones(10, 2, dtype=F64), 3, 2)
    with pytest.raises(ValueError, match="shape"):
        S.best_fit_loss_matrix_valued(torch.ones(9, 2, 3, 2, dtype=F64), 3)
    with pytest.raises(ValueError, match="too many"):
        S.sigma_enumerated(6, 3)
    with pytest.raises(ValueError, match="too many"):
        S.c_d(100, 5)
    with pytest.raises(ValueError, match="too many"):
        S.psi_orbit_representatives(7, 3)
    with pytest.raises(ValueError, match="m=1"):
        S.psi_orbit_representatives(5, 1)
