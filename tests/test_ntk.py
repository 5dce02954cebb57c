"""The empirical NTK three ways (closed form, torch.func, neural-tangents) and the expected NTK.

* Cross-checks: the closed form (proofs/closed_form_entk.md) against generic
  autodiff (both implementations) and against an independent JAX re-implementation
  through neural-tangents, to 1e-6 relative Frobenius error in float64.
* Prop B.3: the expected NTK, conditioned on V and averaged over V, against a
  Monte-Carlo mean of closed-form eNTKs over random inits, entry by entry within
  a Bonferroni-corrected multiple of the per-entry standard error.
* Bad input to ``entk`` raises ValueError before any work.
"""

from __future__ import annotations

import pytest
import torch
from scipy.stats import norm

from regimes.models.quadratic import QuadraticNet, init_moments
from regimes.ntk import entk, expected_ntk
from regimes.ntk.autodiff import entk_autodiff, quadratic_entk_autodiff

RTOL = 1e-6


AUTODIFF_IMPLS = ("jacobian_contraction", "ntk_vector_products")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype == torch.float64
    return float((a - b).norm() / b.norm())


def all_pairs(p: int) -> torch.Tensor:
    return torch.cartesian_prod(torch.arange(p), torch.arange(p))


def random_points(p: int, n: int, arity: int, seed: int) -> torch.Tensor:
    return torch.randint(p, (n, arity), generator=torch.Generator().manual_seed(seed))


# (p, h, dist, mean_field): odd and even p, widths below and above p, both output scales.
NETS = [
    (5, 7, "uniform", False),
    (6, 16, "normal", True),
    (7, 3, "standard_normal", False),
    (4, 33, "rademacher", True),
]


def make_net(p: int, h: int, dist: str, mean_field: bool, seed: int = 0) -> QuadraticNet:
    return QuadraticNet.init(p, h, dist=dist, alpha=1.3, seed=seed, mean_field=mean_field)


def cases(p: int, kind: str, seed: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """(x, x2) pairs: the symmetric all-points case and an x2 ≠ x case."""
    if kind == "regression":
        x = random_points(p, 40, 3, seed)
        return [(x, None), (x, random_points(p, 23, 3, seed + 1))]
    x = all_pairs(p)
    return [(x, None), (x, random_points(p, 11, 2, seed + 1))]


# ---------------------------------------------------------------- closed form vs torch.func
@pytest.mark.parametrize("implementation", AUTODIFF_IMPLS)
@pytest.mark.parametrize("kind", ["first_logit", "full", "regression"])
@pytest.mark.parametrize(("p", "h", "dist", "mean_field"), NETS)
def test_closed_form_matches_autodiff(p, h, dist, mean_field, kind, implementation):
    net = make_net(p, h, dist, mean_field, seed=p * h)
    logit = p - 2
    for x, x2 in cases(p, kind, seed=p + h):
        closed = entk(net, x, x2, kind=kind, logit=logit)
        auto = quadratic_entk_autodiff(net, x, x2, kind=kind, logit=logit,
                                       implementation=implementation, chunk_size=9)
        assert closed.shape == auto.shape
        assert rel_err(auto, closed) < RTOL


def test_dispatcher_autodiff_and_scale():
    """``entk(method="autodiff")`` goes through the generic path, and the output
    scale enters squared (mean field s = 2/h)."""
    p, h = 5, 9
    base = make_net(p, h, "uniform", False)
    mf = QuadraticNet(base.W, base.V, output_scale=2.0 / h)
    x = all_pairs(p)
    k_base = entk(base, x, method="autodiff")
    k_mf = entk(mf, x, method="autodiff")
    assert rel_err(k_mf, (2.0 / h) ** 2 * k_base) < 1e-12
    assert rel_err(k_mf, entk(mf, x)) < RTOL


def test_float32_net_gives_float64_kernel():
    net = QuadraticNet.init(5, 8, seed=3, dtype=torch.float32)
    x = all_pairs(5)
    ref = entk(net.to(dtype=torch.float64), x)
    for method in ("closed_form", "autodiff"):
        k = entk(net, x, method=method)
        assert k.dtype == torch.float64 and rel_err(k, ref) < 1e-6


# ---------------------------------------------------------------- generic model
def test_generic_autodiff_on_another_model():
    """entk_autodiff is model-agnostic: a tanh MLP with biases and a non-matrix
    parameter, against per-output ``torch.autograd.grad`` loops."""
    gen = torch.Generator().manual_seed(0)
    params = {
        "W1": torch.randn(6, 4, generator=gen, dtype=torch.float64),
        "b1": torch.randn(6, generator=gen, dtype=torch.float64),
        "W2": torch.randn(3, 6, generator=gen, dtype=torch.float64),
        "gain": torch.randn((), generator=gen, dtype=torch.float64),
    }

    def fn(prm, x):
        return prm["gain"] * torch.tanh(x @ prm["W1"].t() + prm["b1"]) @ prm["W2"].t()

    x = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    x2 = torch.randn(5, 4, generator=gen, dtype=torch.float64)

    def grads(xx):
        rows = []
        for i in range(xx.shape[0]):
            for k in range(3):
                leaves = {n: t.clone().requires_grad_(True) for n, t in params.items()}
                g = torch.autograd.grad(fn(leaves, xx[i : i + 1])[0, k], list(leaves.values()))
                rows.append(torch.cat([gi.reshape(-1) for gi in g]))
        return torch.stack(rows).reshape(xx.shape[0], 3, -1)

    ref = torch.einsum("akt,blt->abkl", grads(x), grads(x2))
    for impl in AUTODIFF_IMPLS:
        full = entk_autodiff(fn, params, x, x2, implementation=impl, chunk_size=3)
        assert full.shape == (7, 5, 3, 3) and rel_err(full, ref) < 1e-12
        one = entk_autodiff(fn, params, x, x2, output=1, implementation=impl, chunk_size=4)
        assert rel_err(one, ref[:, :, 1, 1].contiguous()) < 1e-12
        sym = entk_autodiff(fn, params, x, implementation=impl, chunk_size=2)
        assert rel_err(sym.permute(1, 0, 3, 2).contiguous(), sym) < 1e-14
        ref_sym = torch.einsum("akt,blt->abkl", grads(x), grads(x))
        assert rel_err(sym, ref_sym) < 1e-12


def test_generic_autodiff_passes_non_float_params_through():
    """Integer tensors in ``params`` (buffers, index maps) are constants, not parameters:
    permuting the logits by an integer buffer permutes the kernel's outputs."""
    net = make_net(5, 7, "uniform", False)
    x = all_pairs(5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    params = {**net.params(), "perm": perm}

    def fn(prm, xx):
        return QuadraticNet.apply(prm, xx)[:, prm["perm"]]

    for impl in AUTODIFF_IMPLS:
        k = entk_autodiff(fn, params, x, output=0, implementation=impl)
        assert rel_err(k, entk(net, x, logit=3)) < RTOL
    with pytest.raises(ValueError, match="floating"):
        entk_autodiff(lambda prm, xx: xx.double(), {"i": perm}, x)


def test_generic_autodiff_validation():
    params = {"W": torch.ones(2, 3, dtype=torch.float64)}

    def fn(prm, x):
        return x @ prm["W"].t()

    x = torch.ones(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="implementation"):
        entk_autodiff(fn, params, x, implementation="structured")
    with pytest.raises(ValueError, match="output"):
        entk_autodiff(fn, params, x, output=2)
    with pytest.raises(ValueError, match="chunk_size"):
        entk_autodiff(fn, params, x, chunk_size=0)
    with pytest.raises(ValueError, match="params"):
        entk_autodiff(fn, {}, x)
    with pytest.raises(ValueError, match="fn"):
        entk_autodiff(lambda prm, xx: xx[:, :, None] * prm["W"][0, 0], params, x)


# ---------------------------------------------------------------- neural-tangents
NT_CASES = [  # (p, h, dist, mean_field, implementation): odd and even p, both implementations
    (5, 7, "uniform", False, "jacobian_contraction"),
    (6, 4, "normal", True, "jacobian_contraction"),
    (6, 9, "uniform", True, "ntk_vector_products"),
]


@pytest.fixture(scope="module")
def nt_module():
    pytest.importorskip("neural_tangents", reason="neural-tangents not installed: pip install -e .[nt]")
    from regimes.ntk import jax_nt

    return jax_nt


@pytest.mark.nt
@pytest.mark.parametrize(("p", "h", "dist", "mean_field", "implementation"), NT_CASES)
def test_closed_form_matches_neural_tangents(nt_module, p, h, dist, mean_field, implementation):
    net = make_net(p, h, dist, mean_field, seed=7 * p + h)
    for kind in ("first_logit", "full", "regression"):
        for x, x2 in cases(p, kind, seed=h):
            closed = entk(net, x, x2, kind=kind, logit=1)
            jx = nt_module.quadratic_entk_nt(net, x, x2, kind=kind, logit=1,
                                             implementation=implementation)
            assert rel_err(jx, closed) < RTOL


@pytest.mark.nt
def test_neural_tangents_dispatch_chunks_and_x64_restored(nt_module):
    import jax

    net = make_net(7, 5, "uniform", True, seed=1)
    x, x2 = all_pairs(7), random_points(7, 10, 2, 3)
    ref = entk(net, x, x2)
    before = bool(jax.config.jax_enable_x64)
    try:
        for setting in (False, True):  # the caller's x64 setting survives either way
            jax.config.update("jax_enable_x64", setting)
            via_entk = entk(net, x, x2, method="neural_tangents")
            assert bool(jax.config.jax_enable_x64) is setting
            assert rel_err(via_entk, ref) < RTOL
    finally:
        jax.config.update("jax_enable_x64", before)
    chunked = nt_module.quadratic_entk_nt(net, x, x2, chunk_size=8)  # ragged last blocks
    assert rel_err(chunked, ref) < RTOL


@pytest.mark.nt
@pytest.mark.parametrize("implementation", ["structured_derivatives", "auto"])
def test_neural_tangents_broken_implementations_are_reported(nt_module, implementation):
    """On the pinned jax 0.5.3 these fail inside neural-tangents; we surface a clear
    RuntimeError. Should a future version fix them, they must then agree."""
    net = make_net(5, 4, "uniform", False)
    x = all_pairs(5)
    try:
        k = nt_module.quadratic_entk_nt(net, x, implementation=implementation)
    except RuntimeError as err:
        assert "known broken" in str(err)
    else:
        assert rel_err(k, entk(net, x)) < RTOL


# ---------------------------------------------------------------- expected NTK (Prop B.3)
def _assert_within_sampling_error(s1: torch.Tensor, s2: torch.Tensor, draws: int,
                                  expected: torch.Tensor) -> None:
    """Monte-Carlo mean (from running sums s1 = Σ K, s2 = Σ K²) vs ``expected``, entrywise.

    Tolerance per entry: z · SE + 1e-12·max|E|, with SE = sample std / √draws and z the
    two-sided Bonferroni quantile for family-wise level 1e-3 over all entries (z ≈ 5).
    """
    mean = s1 / draws
    var = (s2 / draws - mean * mean).clamp_min(0) * draws / (draws - 1)
    se = var.sqrt() / draws**0.5
    z = float(norm.ppf(1 - 1e-3 / (2 * expected.numel())))
    err = (mean - expected).abs()
    ok = err <= z * se + 1e-12 * float(expected.abs().max())
    assert bool(ok.all()), f"worst |mean - E| / SE = {float((err / (se + 1e-300)).max()):.2f} > z = {z:.2f}"
    # the test has power: the allowed deviation is under 10% of the kernel
    assert float((z * se).norm()) < 0.1 * float(expected.norm())


@pytest.mark.parametrize(("dist", "p", "h", "given_v"), [
    ("uniform", 5, 256, True),       # kurtosis 9/5
    ("rademacher", 4, 192, True),    # kurtosis 1
    ("normal", 5, 256, False),       # kurtosis 3
    ("uniform", 4, 192, False),
])
def test_expected_ntk_matches_monte_carlo(dist, p, h, given_v):
    """Prop B.3: E_W[eNTK] given V, and E_{W,V}[eNTK] (V Vᵀ → h σ_V² I), for the
    first-logit, matrix-valued and regression kernels, against the mean of closed-form
    eNTKs over independent inits."""
    alpha, scale, draws = 1.5, 0.7, 400
    pairs, triples = all_pairs(p), random_points(p, 30, 3, p)
    inputs = {"first_logit": pairs, "full": pairs[::2], "regression": triples}
    V0 = QuadraticNet.init(p, h, dist=dist, alpha=alpha, seed=10_000).V
    w_mom = init_moments(dist, 2 * p, alpha)
    cond = {"V": V0} if given_v else {"v_sigma2": init_moments(dist, h, alpha).sigma2}
    expected = {kind: expected_ntk(xx, p=p, h=h, w_moments=w_mom, kind=kind,
                                   output_scale=scale, **cond) for kind, xx in inputs.items()}
    s1 = {kind: torch.zeros_like(e) for kind, e in expected.items()}
    s2 = {kind: torch.zeros_like(e) for kind, e in expected.items()}
    for r in range(draws):
        net = QuadraticNet.init(p, h, dist=dist, alpha=alpha, seed=r)
        net = QuadraticNet(net.W, V0 if given_v else net.V, output_scale=scale)
        for kind, xx in inputs.items():
            k = entk(net, xx, kind=kind)
            s1[kind] += k
            s2[kind] += k * k
    for kind in inputs:
        _assert_within_sampling_error(s1[kind], s2[kind], draws, expected[kind])


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("method", ["closed_form", "autodiff"])
def test_entk_rejects_bad_input(method):
    net = make_net(5, 4, "uniform", False)
    x = all_pairs(5)
    with pytest.raises(ValueError, match="kind"):
        entk(net, x, kind="diagonal", method=method)
    with pytest.raises(ValueError, match="x"):
        entk(net, random_points(5, 4, 3, 0), method=method)  # triples for a pair kernel
    with pytest.raises(ValueError, match="x"):
        entk(net, x, kind="regression", method=method)  # pairs for the regression kernel
    with pytest.raises(ValueError, match="x2"):
        entk(net, x, x[:, :1], method=method)
    with pytest.raises(ValueError, match="x"):
        entk(net, x + 5, method=method)  # index out of range for p = 5
    with pytest.raises(ValueError, match="x"):
        entk(net, x.double(), method=method)
    with pytest.raises(ValueError, match="logit"):
        entk(net, x, logit=5, method=method)
    with pytest.raises(ValueError, match="net"):
        entk(object(), x, method=method)
    with pytest.raises(ValueError, match="method"):
        entk(net, x, method="finite_differences")


@pytest.mark.parametrize("kind", ["first_logit", "regression", "full"])
def test_closed_form_code_paths_agree_with_autodiff(kind):
    """The closed form's fast paths — BLAS syrk for x2 = None with n ≥ 64, one padded
    batched matmul for balanced groups, a per-group loop for very uneven groups —
    each against torch.func on the same points."""
    p, h = 11, 7
    net = QuadraticNet.init(p, h, seed=5)
    gen = torch.Generator().manual_seed(0)
    arity = 3 if kind == "regression" else 2
    balanced = torch.randint(p, (90, arity), generator=gen)
    uneven = balanced.clone()
    uneven[:80, 0] = 3  # 80 of 90 points share a: padding would waste > 2x, so the loop runs
    n = 40 if kind == "full" else 90
    for x in (balanced[:n], uneven[:n]):
        for x2 in (None, x.flip(0)[: n // 2]):
            cf = entk(net, x, x2, kind=kind)
            ad = quadratic_entk_autodiff(net, x, x2, kind=kind, logit=0)
            assert float((cf - ad).norm() / ad.norm()) < 1e-12
