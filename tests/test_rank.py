"""eNTK rank and interpolation: Thm 3.1, Prop B.3, B.4, B.6 (check C8).

Proof notes: proofs/thm_3_1_entk_interpolation.md, proofs/prop_b3_expected_ntk.md,
proofs/prop_b4_full_rank.md, proofs/prop_b6_singular.md.

Numerical rank: an eigenvalue counts when it exceeds n·eps·λ_max (see
:mod:`regimes.checks.foundation`).
"""

from __future__ import annotations

import math

import pytest
import torch

from regimes.bounds import prop_b4_sufficient_width as sufficient_width
from regimes.checks import run_check
from regimes.kernels import kernel_regression
from regimes.models.quadratic import QuadraticNet, init_moments
from regimes.ntk.closed_form import expected_ntk, regression_ntk
from regimes.ntk.rank import distinct_triples, numerical_rank, rho_c
from regimes.tasks import Task, sample_split

F64 = torch.float64


@pytest.fixture(scope="module")
def c8():
    return run_check("C8")


def test_c8_holds(c8) -> None:
    assert c8.holds, c8.details
    assert c8.measured <= 1.0


def test_c8_rank_bound_and_singularity(c8) -> None:
    d = c8.details
    assert d["max_rank_over_cap"] <= 1.0  # Prop B.6: rank ≤ min(n, 3ph)
    assert d["singular_for_all_h_below_n_over_3p"]  # Thm 3.1 converse
    # Prop B.3: λ_min(E K) ≥ 4hσ⁴ (equality is attained up to round-off, hence the 1e-9).
    for v in d["min_lam_min_EK_over_4h_sigma4"].values():
        assert v >= 1 - 1e-9


def test_c8_sufficient_width_and_its_looseness(c8) -> None:
    d = c8.details
    assert d["fraction_full_rank_at_h_sufficient"] >= 1 - d["delta"]
    # Pigeonhole: n triples over p output classes put at least ⌈n/p⌉ on one class.
    assert math.ceil(d["n"] / d["p"]) <= d["rho_c"] <= d["n"]
    # The necessary width n/(3p) is a lower bound on any width giving full rank.
    assert d["h_empirical_all_trials_full_rank"] >= d["h_necessary_n_over_3p"]
    # The sufficient width is far from tight (recorded in proofs/prop_b4_full_rank.md).
    assert d["looseness_h_sufficient_over_h_empirical"] > 10


def _indicator(col: torch.Tensor, col2: torch.Tensor) -> torch.Tensor:
    return (col[:, None] == col2[None, :]).to(F64)


@pytest.mark.parametrize("p,h,n", [(5, 3, 60), (6, 2, 100), (7, 4, 150)])
def test_prop_b6_decomposition_reconstructs_the_kernel(p: int, h: int, n: int) -> None:
    """Prop B.6's proof writes K_θ = Σ_j [diag(z_j²) C diag(z_j²) + diag(u_j) (A + B) diag(u_j)]
    with u_j = 2 V_{c j} z_j and A, B, C the same-a/b/c indicator matrices. Rebuilt
    here term by term (independently of the closed form) it matches to 1e-12, and the
    rank is at most h·(rank A + rank B + rank C) ≤ 3ph."""
    net = QuadraticNet.init(p, h, seed=p)
    x = sample_split(Task(p, "regression"), n=n, replace=True, seed=1).train.x  # duplicates allowed
    A, B, C = (_indicator(x[:, i], x[:, i]) for i in range(3))
    Z = QuadraticNet.hidden(net.W, x)  # (n, h)
    K = torch.zeros(n, n, dtype=F64)
    for j in range(h):
        w = Z[:, j] ** 2
        u = 2 * net.V[x[:, 2], j] * Z[:, j]
        K += w[:, None] * C * w[None, :] + u[:, None] * (A + B) * u[None, :]
    K_closed = regression_ntk(net.W, net.V, x)
    assert torch.allclose(K, K_closed, rtol=0, atol=1e-12 * float(K.abs().max()))
    r, _, _ = numerical_rank(K_closed)
    ranks = [int(torch.linalg.matrix_rank(M)) for M in (A, B, C)]
    assert ranks == [len(torch.unique(x[:, i])) for i in range(3)]
    assert r <= h * sum(ranks) <= 3 * p * h
    # Sharper (suite's observation, argued in proofs/prop_b6_singular.md): per neuron the
    # a/b part has rank ≤ 2p − 1 and shares the direction z_j² V_{c j} with the c part.
    assert r <= (3 * p - 2) * h


@pytest.mark.parametrize("dist", ["uniform", "normal", "rademacher"])
def test_singular_below_n_over_3p_every_draw(dist: str) -> None:
    """h < n/(3p) ⇒ K_θ singular for every draw (not just w.h.p.), any i.i.d. law;
    ridgeless regression then cannot fit a label vector in ker K (Lemma B.2)."""
    p, n = 6, 120
    x = distinct_triples(p, n, seed=2)
    h = math.ceil(n / (3 * p)) - 1
    assert h < n / (3 * p)
    for seed in range(6):
        net = QuadraticNet.init(p, h, dist=dist, seed=seed)
        K = regression_ntk(net.W, net.V, x)
        r, _s, _cut = numerical_rank(K)
        assert r <= 3 * p * h < n
        # Lemma B.2: labels along the null space are not interpolated.
        _, U = torch.linalg.eigh(K)
        y = U[:, 0] * math.sqrt(n)
        fit = kernel_regression(K, y, K)
        assert float((fit - y).abs().max()) > 0.1


@pytest.mark.parametrize("dist", ["uniform", "normal", "standard_normal", "rademacher"])
@pytest.mark.parametrize("h", [1, 3, 17])
def test_prop_b3_expected_kernel_min_eigenvalue(dist: str, h: int) -> None:
    """λ_min(E_W K) ≥ 4hσ_W⁴ on distinct triples, for any V (conditioned on) and any
    zero-mean zero-skew law (κ ≥ 1), here including α ≠ 1 and a V of large norm."""
    p, n = 5, 60
    x = distinct_triples(p, n, seed=h)
    alpha = 0.3 if h == 3 else 1.0
    wm = init_moments(dist, 2 * p, alpha=alpha)
    V = 10.0 * torch.randn(p, h, dtype=F64, generator=torch.Generator().manual_seed(h))
    EK = expected_ntk(x, p=p, h=h, w_moments=wm, kind="regression", V=V)
    lam = float(torch.linalg.eigvalsh(EK)[0])
    assert lam >= 4 * h * wm.sigma2**2 * (1 - 1e-9)


def test_prop_b3_lemma_b1_interpolation_with_expected_kernel() -> None:
    """E K ≻ 0 ⇒ ridgeless regression interpolates any labels (Lemma B.1)."""
    p = 5
    x = distinct_triples(p, 80, seed=3)
    EK = expected_ntk(x, p=p, h=4, w_moments=init_moments("uniform", 2 * p), kind="regression",
                      v_sigma2=init_moments("uniform", 4).sigma2)
    y = torch.randn(80, dtype=F64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(kernel_regression(EK, y, EK), y, atol=1e-8)


def test_prop_b4_probability_bound_is_respected() -> None:
    """At a width where Prop B.4's bound 1 − n·exp(−4hσ⁴/(16 s⁴ ρ_c)) is non-trivial,
    the empirical full-rank frequency is at least the bound (here: every draw)."""
    p, n, delta = 5, 40, 0.2
    x = distinct_triples(p, n, seed=4)
    rho = rho_c(x)
    h = math.floor(sufficient_width(n, rho, delta)) + 1
    bound = 1 - n * math.exp(-4 * h / (16 * 9 * rho))  # σ⁴/s⁴ = 1/9 for a uniform law
    assert bound >= 1 - delta
    full = 0
    trials = 8
    for t in range(trials):
        net = QuadraticNet.init(p, h, seed=100 + t)
        full += numerical_rank(regression_ntk(net.W, net.V, x))[0] == n
    assert full / trials >= bound


def test_rho_c_and_sufficient_width() -> None:
    x = torch.tensor([[0, 0, 1], [1, 0, 1], [2, 2, 0], [0, 1, 1]])
    assert rho_c(x) == 3
    assert sufficient_width(100, 10, 0.1) == pytest.approx(36 * 10 * math.log(1000))


def test_numerical_rank_tolerance() -> None:
    """The cutoff n·eps·λ_max separates an exactly rank-r Gram from its complement."""
    g = torch.Generator().manual_seed(0)
    G = torch.randn(50, 7, dtype=F64, generator=g)
    r, s, cut = numerical_rank(G @ G.t())
    assert r == 7
    assert cut == pytest.approx(50 * torch.finfo(F64).eps * float(s[-1]))


def test_sufficient_width_refuses_bad_input() -> None:
    """Prop B.4's width (regimes.bounds) names the argument out of range."""
    for bad in ({"n": 0, "rho": 1, "delta": 0.1}, {"n": 10, "rho": 11, "delta": 0.1},
                {"n": 10, "rho": 2, "delta": 1.0}, {"n": 10, "rho": 2, "delta": 0.0}):
        with pytest.raises(ValueError):
            sufficient_width(**bad)
