"""Tests of regimes.constructions: Prop 3.8's Fourier interpolator (and Remark F.1's
4p−3 variant), Gromov's analytic solution (eqs 6-7, 12, 18, 19) and the phase read-out."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.constructions import (
    analytic_accuracy,
    fourier_block,
    fourier_interpolator,
    gromov_solution,
    phase_alignment,
)
from regimes.models.quadratic import QuadraticNet


def _pairs(p):
    return torch.cartesian_prod(torch.arange(p), torch.arange(p))


def _delta_table(p):
    x = _pairs(p)
    q = torch.arange(p)
    return x, ((x[:, 0:1] + x[:, 1:2] - q[None, :]) % p == 0).double()


@pytest.mark.parametrize("p", [2, 3, 4, 6, 9, 10, 17])
def test_interpolator_exact_odd_and_even(p):
    x, delta = _delta_table(p)
    net = fourier_interpolator(p)
    assert net.h == 8 * p
    assert torch.allclose(net(x), 4 * p * delta, atol=1e-10, rtol=0)
    assert float(net.W.abs().max()) == pytest.approx(1.0, abs=1e-15)
    assert float(net.V.abs().max()) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("p,k", [(5, 0), (5, 2), (8, 3), (8, 4)])
def test_block_contributes_one_cosine(p, k):
    # One block computes 4 cos(2πk(n+m−q)/p), by the product-to-sum identities (F.10).
    W, V = fourier_block(p, k)
    x = _pairs(p)
    f = QuadraticNet(W, V)(x)
    s = (x[:, 0:1] + x[:, 1:2] - torch.arange(p)[None, :]).double()
    assert torch.allclose(f, 4 * torch.cos(2 * math.pi * k * s / p), atol=1e-12)


@pytest.mark.parametrize("c,extra", [(2, 0), (3, 5)])
def test_duplication_keeps_function_and_shrinks_norm(c, extra):
    p = 7
    x = _pairs(p)
    base = fourier_interpolator(p)
    dup = fourier_interpolator(p, h=8 * p * c + extra)
    assert dup.h == 8 * p * c + extra
    assert torch.allclose(dup(x), base(x), atol=1e-11)
    assert dup.theta_inf() == pytest.approx(c ** (-1 / 3), rel=1e-14)


@pytest.mark.parametrize("p", [3, 5, 11, 13])
def test_compact_variant_for_odd_p(p):
    x, delta = _delta_table(p)
    net = fourier_interpolator(p, variant="4p-3")
    assert net.h == 4 * p - 3
    assert torch.allclose(net(x), 4 * p * delta, atol=1e-10, rtol=0)
    assert float(net.W.abs().max()) == pytest.approx(2 ** (1 / 3))
    assert float(net.V.abs().max()) == pytest.approx(2 ** (1 / 3))


def test_regression_scaling_zero_population_loss():
    from regimes.tasks import Task

    for p in (4, 7):
        pop = Task(p, "regression").population()
        net = fourier_interpolator(p, target="regression")
        assert torch.allclose(net.regression(pop.x), pop.y, atol=1e-11)
        assert net.theta_inf() == pytest.approx(4 ** (-1 / 3), rel=1e-14)


def test_interpolator_dtype_device():
    net = fourier_interpolator(5, dtype=torch.float32)
    assert net.dtype == torch.float32
    x, delta = _delta_table(5)
    assert torch.allclose(net(x), 20 * delta.float(), atol=1e-4)


def test_interpolator_bad_input():
    with pytest.raises(ValueError, match="width h >= 56"):
        fourier_interpolator(7, h=8 * 7 - 1)
    trunc = fourier_interpolator(7, h=10, exact=False)
    assert trunc.h == 10
    with pytest.raises(ValueError, match="odd p"):
        fourier_interpolator(8, variant="4p-3")
    with pytest.raises(ValueError, match="width h >= 25"):
        fourier_interpolator(7, h=4 * 7 - 4, variant="4p-3")
    with pytest.raises(ValueError, match="p"):
        fourier_interpolator(1)
    with pytest.raises(ValueError, match="variant"):
        fourier_interpolator(5, variant="2p")
    with pytest.raises(ValueError, match="dtype"):
        fourier_interpolator(5, dtype=torch.int64)


def test_gromov_phase_average_is_the_delta_function():
    # With φ3 = φ1 + φ2 and uniform φ1, φ2, every wave except cos(2πk(n+m−q)/p) averages
    # out (eq 11-13), so E_φ h_q(n, m) = (1/N) Σ_k cos(2πk s/p) = δ(s) when p | N.
    p, N, draws = 5, 10, 1500
    x, delta = _delta_table(p)
    outs = torch.stack([gromov_solution(p, N, seed=s).net(x) for s in range(draws)])
    mean, se = outs.mean(0), outs.std(0) / math.sqrt(draws)
    assert ((mean - delta).abs() <= 5 * se + 1e-12).all()


def test_gromov_accuracy_grows_with_width_quadratic():
    p = 13
    acc = {N: sum(analytic_accuracy(gromov_solution(p, N, seed=s).net) for s in range(5)) / 5
           for N in (13, 400)}
    assert acc[400] == 1.0
    assert acc[13] < acc[400]


def test_gromov_generalisations():
    p = 11
    sq = gromov_solution(p, 600, f1=lambda t: t * t, f2=lambda t: t * t, seed=1)
    assert sq.branches == 1
    assert analytic_accuracy(sq.net, op="sum_of_squares") == 1.0
    # F(s) = s² has two branches for odd prime p: the readout keeps the smallest root,
    # so exactly the pairs whose n+m is that root are classified correctly.
    sol = gromov_solution(p, 600, F=lambda t: t * t, seed=1)
    assert sol.branches == 2
    x = _pairs(p)
    s = (x[:, 0] + x[:, 1]) % p
    pred = sol.net(x).argmax(1)
    small_root = torch.minimum(s, (p - s) % p) == s
    assert bool((pred[small_root] == (s * s % p)[small_root]).all())
    assert small_root.double().mean() <= analytic_accuracy(sol.net, op="square_of_sum") < 0.9


def test_gromov_other_activations_and_bad_input():
    net = gromov_solution(11, 800, seed=0).net
    assert analytic_accuracy(net, activation="relu") > 0.9
    assert analytic_accuracy(net, activation=lambda z: z.abs()) > 0.9
    with pytest.raises(ValueError, match="activation"):
        analytic_accuracy(net, activation="softsign")
    with pytest.raises(ValueError, match="f1"):
        gromov_solution(5, 10, f1=[0, 1, 2])
    with pytest.raises(ValueError, match="h=0"):
        gromov_solution(5, 0)


def test_phase_alignment_of_a_constant_neuron_has_no_frequency_or_phase() -> None:
    """A constant (or zero) neuron has no power away from frequency 0 and no phase at any ν ≥ 1;
    its DFT coefficients there are round-off, whose angles used to be reported (freq 2, δ = −2.65
    for a row of 0.3 with min_power = 0, and kept). Now power is exactly 0, the phases NaN and the
    neuron is not kept, for random constants; a constant b-block under a real a-wave gives a NaN
    φ⁽²⁾. A wave of amplitude 1e-9 on the same constant keeps its phase φ and the power share
    (A²/2)/(c² + A²/2) of x_n = c + A cos(2πνn/p + φ) (Parseval, computed by hand)."""
    p, nu, phi = 11, 3, 0.4
    gen = torch.Generator().manual_seed(0)
    n = torch.arange(p, dtype=torch.float64)
    for c in [*torch.rand(10, generator=gen, dtype=torch.float64).tolist(), 0.0]:
        W = torch.full((2, 2 * p), c, dtype=torch.float64)
        W[1, :p] = torch.cos(2 * math.pi * nu * n / p + phi)            # a real wave, constant b-block
        V = torch.cos(2 * math.pi * nu * n / p + 2 * phi)[:, None].repeat(1, 2)
        pa = phase_alignment(W, V, min_power=0.0)
        assert float(pa["power"][0]) == 0.0 and not bool(pa["keep"].any())
        assert all(math.isnan(float(pa[k][0])) for k in ("phi1", "phi2", "phi3", "delta"))
        assert abs(float(pa["phi1"][1]) - phi) < 1e-12
        assert math.isnan(float(pa["phi2"][1])) and int(pa["freq"][1]) == nu
    c, A = 0.3, 1e-9
    wave = c + A * torch.cos(2 * math.pi * nu * n / p + phi)
    W = torch.cat([wave, wave])[None, :]
    V = torch.cos(2 * math.pi * nu * n / p + 2 * phi)[:, None]
    pa = phase_alignment(W, V)
    assert int(pa["freq"][0]) == nu and bool(pa["keep"][0])
    assert abs(float(pa["phi1"][0]) - phi) < 1e-6 and abs(float(pa["phi2"][0]) - phi) < 1e-6
    assert abs(float(pa["delta"][0])) < 1e-6                               # φ + φ − 2φ = 0
    assert float(pa["power"][0]) == pytest.approx((A**2 / 2) / (c**2 + A**2 / 2), rel=1e-6)


def test_phase_alignment():
    # Fourier interpolator and Gromov's solution satisfy φ1 + φ2 − φ3 = 0 exactly; random nets don't.
    for net in (fourier_interpolator(11), gromov_solution(11, 60, seed=2).net):
        pa = phase_alignment(net.W, net.V, min_power=0.5)
        assert int(pa["keep"].sum()) > 0
        assert float(pa["delta"][pa["keep"]].abs().max()) < 1e-9
    rnd = QuadraticNet.init(11, 500, seed=0)
    d = phase_alignment(rnd.W, rnd.V)["delta"]
    assert float(d.abs().mean()) > 1.0   # uniform on [−π, π) has mean |δ| = π/2
