"""regimes.models.QuadraticNet: forward pass, inits, π_σ, dtype/device/seed, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.models.quadratic import QuadraticNet, init_moments, permute_params
from regimes.tasks import Task, inverse, one_hot, random_sigma, sample_split

F64 = torch.float64


def _reference_logits(W: torch.Tensor, V: torch.Tensor, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Eq. 2.1 literally: V (W u)^{⊙2} with u = (e_a, e_b) a dense one-hot matmul."""
    p = V.shape[0]
    u = one_hot(x, p, dtype=W.dtype)  # (n, 2p)
    return scale * ((u @ W.t()) ** 2) @ V.t()


@pytest.mark.parametrize("p,h", [(2, 1), (5, 7), (8, 32)])
@pytest.mark.parametrize("mean_field", [False, True])
def test_forward_matches_one_hot_reference(p: int, h: int, mean_field: bool) -> None:
    net = QuadraticNet.init(p, h, seed=1, mean_field=mean_field)
    x = Task(p).population().x
    ref = _reference_logits(net.W, net.V, x, net.output_scale)
    out = net(x)
    assert out.shape == (p * p, p) and out.dtype == F64
    assert torch.allclose(out, ref, rtol=1e-13, atol=1e-13)
    # regression head g(θ; (a, b, c)) = f_c(θ; (a, b))
    x3 = Task(p, "regression").population().x
    g = net.regression(x3)
    assert torch.allclose(g, _reference_logits(net.W, net.V, x3[:, :2], net.output_scale)
                          [torch.arange(len(x3)), x3[:, 2]], rtol=1e-13, atol=1e-13)
    # the functional forms agree with the methods
    assert torch.equal(QuadraticNet.apply(net.params(), x, net.output_scale), out)
    assert torch.equal(QuadraticNet.apply_regression(net.params(), x3, net.output_scale), g)
    if mean_field:
        assert net.output_scale == pytest.approx(2.0 / h)


def test_gradients_match_lemma_c6_formulas() -> None:
    """torch.func gradient of g = f_c vs the closed forms of Lemma C.6:
    ∂g/∂V_{k,j} = 1(k = c) z_j², ∂g/∂W_{j,i} = 2 V_{c,j} z_j (1(i = a) + 1(i = p + b))."""
    p, h = 5, 6
    net = QuadraticNet.init(p, h, seed=2)
    x3 = Task(p, "regression").population().x[::7]
    for a, b, c in x3.tolist():
        grad = torch.func.grad(lambda P, a=a, b=b, c=c: QuadraticNet.apply_regression(
            P, torch.tensor([[a, b, c]]))[0])(net.params())
        z = net.W[:, a] + net.W[:, p + b]
        gV = torch.zeros(p, h, dtype=F64)
        gV[c] = z**2
        gW = torch.zeros(h, 2 * p, dtype=F64)
        gW[:, a] += 2 * net.V[c] * z
        gW[:, p + b] += 2 * net.V[c] * z
        assert torch.allclose(grad["V"], gV, atol=1e-14)
        assert torch.allclose(grad["W"], gW, atol=1e-14)


def test_three_homogeneity() -> None:
    net = QuadraticNet.init(5, 6, seed=3)
    x = Task(5).population().x
    scaled = QuadraticNet(2.0 * net.W, 2.0 * net.V)
    assert torch.allclose(scaled(x), 8.0 * net(x), rtol=1e-13)


# --------------------------------------------------------------------------- inits
@pytest.mark.parametrize("dist", ["uniform", "normal", "standard_normal", "rademacher"])
@pytest.mark.parametrize("alpha", [1.0, 0.25])
def test_init_moments_match_empirical(dist: str, alpha: float) -> None:
    """Empirical variance, kurtosis and mean of W's and V's entries vs :func:`init_moments`.

    With N i.i.d. entries the sample variance has standard error σ²·sqrt((κ − 1)/N) and
    the sample mean σ/√N; we allow 6 standard errors (a false alarm has probability
    < 1e-8 per assertion). The kurtosis is compared to 5% (N ≥ 3·10⁵; its standard
    error is below 1% for these laws).
    """
    p, h = 64, 2400  # W: 2400×128, V: 64×2400 → 307,200 and 153,600 entries
    net = QuadraticNet.init(p, h, dist=dist, alpha=alpha, seed=7)
    for w, fan_in in ((net.W, 2 * p), (net.V, h)):
        m = init_moments(dist, fan_in, alpha)
        w = w.flatten()
        N = w.numel()
        var = float((w**2).mean())
        assert abs(float(w.mean())) <= 6 * math.sqrt(m.sigma2 / N)
        assert abs(var - m.sigma2) <= 6 * m.sigma2 * math.sqrt(max(m.kappa - 1, 1e-3) / N) + 1e-15
        assert float((w**4).mean()) / var**2 == pytest.approx(m.kappa, rel=0.05)
        if dist == "uniform":
            assert float(w.abs().max()) <= alpha / math.sqrt(fan_in)
        if dist == "rademacher":
            assert torch.allclose(w.abs(), torch.full_like(w, alpha / math.sqrt(fan_in)))


def test_init_moments_values() -> None:
    """σ² and κ of the named laws (uniform: s²/3, 9/5; Gaussian κ = 3; Rademacher κ = 1)."""
    m = init_moments("uniform", 8, alpha=2.0)
    assert m.sigma2 == pytest.approx(4 / (3 * 8)) and m.kappa == pytest.approx(9 / 5)
    assert init_moments("normal", 8).sigma2 == pytest.approx(1 / 8)
    assert init_moments("standard_normal", 8).kappa == 3.0
    assert init_moments("rademacher", 8).kappa == 1.0


def test_alpha_scales_every_entry() -> None:
    a = QuadraticNet.init(5, 6, seed=4)
    b = QuadraticNet.init(5, 6, seed=4, alpha=0.1)
    assert torch.allclose(b.W, 0.1 * a.W, rtol=1e-15) and torch.allclose(b.V, 0.1 * a.V, rtol=1e-15)


def test_custom_sampler() -> None:
    def laplace(shape, gen):
        u = torch.rand(shape, generator=gen, dtype=F64) - 0.5
        return -torch.sign(u) * torch.log1p(-2 * u.abs())

    net = QuadraticNet.init(6, 2000, dist=laplace, seed=0)
    w = net.W.flatten()
    assert float((w**2).mean()) == pytest.approx(2.0, rel=0.05)  # Laplace(0, 1): variance 2


# --------------------------------------------------------------------------- π_σ
def test_permuted_matches_explicit_loop() -> None:
    """Corrected Def C.3: W'[:, σ1(a)] = W[:, a], W'[:, p + σ2(b)] = W[:, p + b], V'[σ3(k)] = V[k]."""
    p, h = 6, 4
    net = QuadraticNet.init(p, h, seed=5)
    sigma = random_sigma(p, seed=6)
    perm = net.permuted(sigma)
    for a in range(p):
        assert torch.equal(perm.W[:, int(sigma[0][a])], net.W[:, a])
        assert torch.equal(perm.W[:, p + int(sigma[1][a])], net.W[:, p + a])
        assert torch.equal(perm.V[int(sigma[2][a])], net.V[a])
    assert perm.output_scale == net.output_scale


def test_permutation_action_is_a_group_action() -> None:
    """π is a homomorphism: π_σ ∘ π_τ = π_{σ∘τ}, π_{σ⁻¹} = π_σ⁻¹, and it is one-to-one
    (Remark C.4)."""
    p = 5
    net = QuadraticNet.init(p, 3, seed=6)
    s, t = random_sigma(p, seed=1), random_sigma(p, seed=2)
    comp = tuple(si[ti] for si, ti in zip(s, t, strict=True))  # (σ∘τ)(i) = σ(τ(i))
    twice = net.permuted(t).permuted(s)
    once = net.permuted(comp)
    assert torch.equal(twice.W, once.W) and torch.equal(twice.V, once.V)
    back = net.permuted(s).permuted(inverse(s))
    assert torch.equal(back.W, net.W) and torch.equal(back.V, net.V)
    W2, V2 = permute_params(net.W, net.V, t)
    assert not (torch.equal(W2, net.permuted(s).W) and torch.equal(V2, net.permuted(s).V))


# --------------------------------------------------------------------------- dtype / device / seed
def test_seed_dtype_device_determinism() -> None:
    a = QuadraticNet.init(7, 9, seed=11)
    b = QuadraticNet.init(7, 9, seed=11)
    c = QuadraticNet.init(7, 9, seed=12)
    assert torch.equal(a.W, b.W) and torch.equal(a.V, b.V)
    assert not torch.equal(a.W, c.W)
    f = QuadraticNet.init(7, 9, seed=11, dtype=torch.float32)
    assert f.dtype == torch.float32 and f.W.dtype == f.V.dtype == torch.float32
    assert torch.equal(f.W, a.W.float()) and torch.equal(f.V, a.V.float())
    x = Task(7).population().x
    assert f(x).dtype == torch.float32
    assert torch.allclose(f(x).double(), a(x), rtol=1e-5, atol=1e-5)
    assert a.device.type == "cpu" and a.p == 7 and a.h == 9
    assert a.theta_inf() == max(float(a.W.abs().max()), float(a.V.abs().max()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available on this machine")
def test_cuda_matches_cpu() -> None:
    a = QuadraticNet.init(7, 9, seed=11)
    g = QuadraticNet.init(7, 9, seed=11, device="cuda")
    assert torch.equal(g.W.cpu(), a.W)
    x = Task(7).population().x
    assert torch.allclose(g(x).cpu(), a(x), rtol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("h", [0, -2, 1.5, None])
def test_bad_width(h) -> None:
    with pytest.raises(ValueError, match=r"^h"):
        QuadraticNet.init(5, h)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan"), float("inf"), "big"])
def test_bad_alpha(alpha) -> None:
    with pytest.raises(ValueError, match="alpha"):
        QuadraticNet.init(5, 4, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        init_moments("uniform", 4, alpha=alpha)


def test_bad_init_arguments() -> None:
    with pytest.raises(ValueError, match="p=1"):
        QuadraticNet.init(1, 4)
    with pytest.raises(ValueError, match="dist='cauchy'"):
        QuadraticNet.init(5, 4, dist="cauchy")
    with pytest.raises(ValueError, match="dtype"):
        QuadraticNet.init(5, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match="dist sampler"):
        QuadraticNet.init(5, 4, dist=lambda shape, gen: torch.zeros(3))
    with pytest.raises(ValueError, match="fan_in"):
        init_moments("uniform", 0)


def test_bad_constructor_shapes() -> None:
    W = torch.zeros(4, 10, dtype=F64)
    with pytest.raises(ValueError, match="V has shape"):
        QuadraticNet(W, torch.zeros(4, 4, dtype=F64))
    with pytest.raises(ValueError, match="W has shape"):
        QuadraticNet(torch.zeros(4, 9, dtype=F64), torch.zeros(4, 4, dtype=F64))
    with pytest.raises(ValueError, match="dtype"):
        QuadraticNet(W, torch.zeros(5, 4, dtype=torch.float32))


@pytest.mark.parametrize("x,msg", [
    (torch.tensor([[0, 5]]), r"index 5.*0\.\.4"),
    (torch.tensor([[-1, 0]]), r"index -1"),
    (torch.tensor([[0, 1, 2]]), r"shape"),
    (torch.tensor([0, 1]), r"shape"),
    (torch.tensor([[0.0, 1.0]]), r"dtype"),
])
def test_bad_net_inputs(x, msg: str) -> None:
    net = QuadraticNet.init(5, 4)
    with pytest.raises(ValueError, match=msg):
        net(x)


def test_bad_regression_inputs() -> None:
    net = QuadraticNet.init(5, 4)
    with pytest.raises(ValueError, match="shape"):
        net.regression(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="index 5"):
        net.regression(torch.tensor([[0, 1, 5]]))


def test_mismatched_p_between_net_and_data() -> None:
    """Data from a task with a larger p than the net: out-of-range indices (net call) or
    an explicit p mismatch (training loop)."""
    from regimes.train import TrainConfig, train

    net = QuadraticNet.init(5, 4)
    data = sample_split(Task(7), n=30, seed=0).train
    with pytest.raises(ValueError, match=r"out of range.*p=5"):
        net(Task(7).population().x)
    with pytest.raises(ValueError, match=r"p=5.*p=7"):
        train(net, data, TrainConfig(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="sigma"):
        net.permuted(random_sigma(7, seed=0))


def test_h_is_the_only_name_of_the_hidden_width() -> None:
    """``h`` is the hidden width's name (the paper's) everywhere: the pre-rename keyword
    ``width=`` and attribute ``net.width`` are gone, not translated."""
    from regimes.constructions import fourier_interpolator, gromov_solution
    from regimes.equivariance import column_scaled_net
    from regimes.kernels import kernel_gram
    from regimes.ntk import expected_ntk

    x = Task(5).population().x[:6]
    for call in (lambda: QuadraticNet.init(5, width=9, seed=3), lambda: fourier_interpolator(5, width=80),
                 lambda: gromov_solution(5, width=12), lambda: column_scaled_net(5, width=6),
                 lambda: expected_ntk(x, p=5, width=7, w_moments=init_moments("uniform", 10))):
        with pytest.raises(TypeError, match="width"):
            call()
    with pytest.raises((TypeError, ValueError), match="width"):
        kernel_gram("expected_ntk", x, p=5, width=7)
    assert QuadraticNet.init(5, 9, seed=3).h == 9 and not hasattr(QuadraticNet.init(5, 9), "width")
