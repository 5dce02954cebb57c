"""Kernels on index inputs for the kernel-regime comparisons.

Every builder takes integer index rows — pairs ``(a, b)`` (classification,
or Cor D.8 with m = 2) or tuples ``(a, b, c)`` (regression) — and returns a
float64 Gram. G-invariance below means invariance under S_p^m acting
coordinate-wise, ``K(Tx, Tx') = K(x, x')`` (Def 3.2); by Thm 2.4 kernel
regression with such a kernel is permutation-equivariant.

================  ==========================================================  =============
name              kernel                                                      G-invariant?
================  ==========================================================  =============
``entk``          eNTK of a QuadraticNet at one random init                   no (one draw);
                  (:func:`regimes.ntk.entk`)                                  equivariant in
                                                                              distribution
``expected_ntk``  E over an i.i.d. init of W and V (Prop B.3)                 yes
``relu_ntk``      infinite-width NTK of a 2-layer ReLU net (no biases)        yes
``relu_nngp``     infinite-width NNGP of the same net                         yes
``quad_ntk``      infinite-width NTK of a 2-layer x² net                      yes
``quad_nngp``     infinite-width NNGP of the x² net                           yes
``rbf``           exp(−γ‖onehot(x) − onehot(x')‖²) = exp(−2γ·d(x, x'))        yes
================  ==========================================================  =============

The infinite-width kernels of one-hot inputs depend only on the number ``s``
of matching coordinates (``x·x' = s`` for concatenated one-hots), so they are
computed in closed form here (:func:`infinite_width_kernel`; derivation in
``proofs/thm_4_3_classification_lower_bound.md``) and cross-checked against
neural-tangents ``stax`` in the tests (:func:`infinite_width_kernel_nt`, an
optional dependency imported lazily).

A consequence worth knowing: *any* S_p²-invariant kernel on pairs is a
function of ``(1(a = a'), 1(b = b'))``, i.e. ``α + β₁1(a=a') + β₂1(b=b') +
γ1(x = x')``; so away from the training points its predictor is
``const + g(a) + h(b)``, which cannot express ``1(a + b ≡ c)``. Worse, for a
held-out pair (a, b) the only training pair (a, ·) with label a + b would be
(a, b) itself, so the true class gets no support from g or h: test accuracy
sits at or below chance (0% for the infinite-width kernels in practice).
"""

from __future__ import annotations

import math

import torch

from regimes._validate import check_choice, check_index_tensor, check_int, check_positive, check_seed
from regimes.models.quadratic import QuadraticNet, init_moments
from regimes.ntk import entk, expected_ntk

F64 = torch.float64

KERNEL_NAMES = ("entk", "expected_ntk", "relu_ntk", "relu_nngp", "quad_ntk", "quad_nngp", "rbf")

#: Whether each kernel is invariant under the coordinate-wise group S_p^m.
G_INVARIANT = {
    "entk": False, "expected_ntk": True, "relu_ntk": True, "relu_nngp": True,
    "quad_ntk": True, "quad_nngp": True, "rbf": True,
}

__all__ = [
    "G_INVARIANT",
    "KERNEL_NAMES",
    "full_ntk_apply",
    "infinite_width_kernel",
    "infinite_width_kernel_nt",
    "kernel_gram",
    "matches",
    "random_psd_gram",
    "rbf_one_hot_kernel",
]


def matches(x: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
    """Number of equal coordinates between index rows, (n, n2) float64 (= ⟨onehot(x), onehot(x')⟩)."""
    x2 = x if x2 is None else x2
    s = torch.zeros(x.shape[0], x2.shape[0], dtype=F64, device=x.device)
    for i in range(x.shape[1]):
        s += (x[:, None, i] == x2[None, :, i]).to(F64)
    return s


def _check_pts(x: torch.Tensor, x2: torch.Tensor | None, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = check_index_tensor("x", x, p, tuple(range(1, 16)))
    x2 = x if x2 is None else check_index_tensor("x2", x2, p, x.shape[1])
    return x, x2


def infinite_width_kernel(x: torch.Tensor, x2: torch.Tensor | None = None, *, p: int,
                          activation: str = "relu", kind: str = "ntk",
                          w_std: float = 1.0, v_std: float = 1.0) -> torch.Tensor:
    """Infinite-width NTK/NNGP of ``f(u) = v_std/√h Σ_j v_j φ(w_std/√d ⟨w_j, u⟩)`` (NTK
    parametrisation, no biases, standard normal weights) on one-hot inputs
    ``u = onehot(x) ∈ R^{d}``, ``d = m·p`` — what neural-tangents'
    ``stax.serial(Dense(h, W_std=w_std, b_std=None), φ, Dense(1, W_std=v_std, b_std=None))``
    computes as h → ∞.

    With s = #matching coordinates: the first-layer covariance is
    ``q₁₂ = w_std² s/d`` and ``q = w_std²/p`` on the diagonal, ``ρ = s/m``, and

    * ReLU: ``E φφ = q (sin θ + (π − θ)ρ)/(2π)``, ``E φ'φ' = (π − θ)/(2π)``, θ = arccos ρ;
    * x²:   ``E φφ = q² + 2q₁₂²``,               ``E φ'φ' = 4 q₁₂``;

    NNGP = ``v_std² E φφ``; NTK = NNGP + ``v_std² E φ'φ' · q₁₂``.
    """
    p = check_int("p", p, low=2)
    check_choice("activation", activation, ("relu", "quadratic"))
    check_choice("kind", kind, ("ntk", "nngp"))
    w2, v2 = check_positive("w_std", w_std) ** 2, check_positive("v_std", v_std) ** 2
    x, x2 = _check_pts(x, x2, p)
    m = x.shape[1]
    s = matches(x, x2)
    q12 = w2 * s / (m * p)
    q = w2 / p
    if activation == "relu":
        rho = (s / m).clamp(-1.0, 1.0)
        th = torch.arccos(rho)
        eff = q * (torch.sin(th) + (math.pi - th) * rho) / (2 * math.pi)
        edd = (math.pi - th) / (2 * math.pi)
    else:
        eff = q * q + 2 * q12 * q12
        edd = 4 * q12
    nngp = v2 * eff
    return nngp if kind == "nngp" else nngp + v2 * edd * q12


def infinite_width_kernel_nt(x: torch.Tensor, x2: torch.Tensor | None = None, *, p: int,
                             activation: str = "relu", kind: str = "ntk",
                             w_std: float = 1.0, v_std: float = 1.0) -> torch.Tensor:
    """The same kernel computed by neural-tangents ``stax`` (x64), for cross-checks.

    Needs the optional ``[nt]`` extra; raises ``ImportError`` with install
    instructions otherwise. Importing it pulls TensorFlow and prints warnings.
    """
    try:
        import jax
        from neural_tangents import stax
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("infinite_width_kernel_nt needs neural-tangents: pip install -e '.[nt]'") from e
    jax.config.update("jax_enable_x64", True)
    import numpy as np

    from regimes.tasks import one_hot

    p = check_int("p", p, low=2)
    check_choice("activation", activation, ("relu", "quadratic"))
    check_choice("kind", kind, ("ntk", "nngp"))
    x, x2 = _check_pts(x, x2, p)
    act = stax.Relu() if activation == "relu" else stax.Monomial(2)
    _, _, kfn = stax.serial(stax.Dense(512, W_std=w_std, b_std=None), act,
                            stax.Dense(1, W_std=v_std, b_std=None))
    u, u2 = one_hot(x, p).numpy(), one_hot(x2, p).numpy()
    return torch.from_numpy(np.array(kfn(u, u2, kind), dtype=np.float64))


def rbf_one_hot_kernel(x: torch.Tensor, x2: torch.Tensor | None = None, *, p: int,
                       gamma: float | None = None) -> torch.Tensor:
    """RBF kernel on concatenated one-hots: ``exp(−γ‖u − u'‖²) = exp(−2γ d)`` with d the
    number of differing coordinates; ``γ`` defaults to ``1/m``. G-invariant; strictly
    PD on distinct points."""
    p = check_int("p", p, low=2)
    x, x2 = _check_pts(x, x2, p)
    m = x.shape[1]
    g = 1.0 / m if gamma is None else check_positive("gamma", gamma)
    return torch.exp(-2.0 * g * (m - matches(x, x2)))


def random_psd_gram(N: int, rank: int, seed: int = 0) -> torch.Tensor:
    """A random PSD kernel on N points, ``G Gᵀ/rank`` with G (N, rank) standard normal."""
    N = check_int("N", N, low=1)
    rank = check_int("rank", rank, low=1)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    G = torch.randn(N, rank, generator=gen, dtype=F64)
    return G @ G.t() / rank


def kernel_gram(name: str, x: torch.Tensor, x2: torch.Tensor | None = None, *, p: int,
                net: QuadraticNet | None = None, h: int = 256, dist: str = "uniform",
                entk_kind: str | None = None, **kw: float) -> torch.Tensor:
    """Gram of kernel ``name`` (see :data:`KERNEL_NAMES`) between index rows ``x`` and ``x2``.

    Pairs (m = 2) use the classification forms, triples (m = 3) the regression
    forms. ``entk`` needs ``net``; ``entk_kind`` overrides the eNTK kind
    (``"first_logit"`` for pairs, ``"regression"`` for triples by default;
    ``"full"`` gives (n, n2, p, p)). ``expected_ntk`` averages over an i.i.d.
    init (``dist`` of :meth:`QuadraticNet.init`, hidden width ``h``) of both layers.
    Extra keywords go to the builder (``w_std``, ``v_std``, ``gamma``); ``entk`` and
    ``expected_ntk`` take none (``ValueError`` naming them, never a silent drop).
    """
    check_choice("name", name, KERNEL_NAMES)
    if kw and name in ("entk", "expected_ntk"):
        raise ValueError(f"kernel {name!r} takes no extra keywords, got {', '.join(sorted(kw))}: "
                         "allowed p, net, h, dist, entk_kind")
    p = check_int("p", p, low=2)
    x, x2 = _check_pts(x, x2, p)
    m = x.shape[1]
    if name == "entk":
        if net is None:
            raise ValueError("kernel 'entk' needs net=QuadraticNet(...)")
        kind = entk_kind or ("regression" if m == 3 else "first_logit")
        return entk(net, x, x2, kind=kind)
    if name == "expected_ntk":
        if m not in (2, 3):
            raise ValueError(f"expected_ntk needs pairs or triples, got m={m}")
        kind = entk_kind or ("regression" if m == 3 else "first_logit")
        wm = init_moments(dist, 2 * p)
        vm = init_moments(dist, h)
        return expected_ntk(x, x2, p=p, h=h, w_moments=wm, kind=kind, v_sigma2=vm.sigma2)
    if name == "rbf":
        return rbf_one_hot_kernel(x, x2, p=p, **kw)
    act, kind = name.split("_")
    return infinite_width_kernel(x, x2, p=p, activation="relu" if act == "relu" else "quadratic",
                                 kind=kind, **kw)


def full_ntk_apply(net: QuadraticNet, x_eval: torch.Tensor, x_train: torch.Tensor,
                   coef: torch.Tensor) -> torch.Tensor:
    """``Σ_t K(x, x_t) λ_t`` for the matrix-valued eNTK (Def 4.1) without forming the
    (N, n, p, p) kernel: with ``G = (z⊙z)(z'⊙z')ᵀ`` and m(x, x') the number of
    shared input coordinates,

        f(x) = s² [ G(x, X) Λ + 4 ((z(x) ⊙ (M(x, X) (Z_X ⊙ ΛV))) Vᵀ) ],

    where ``Λ`` is (n, p) (row t = λ_t). Returns (N, p), float64. Used as the
    ``evaluate`` callable of :class:`~regimes.kernels.NestedKernelRegression`.
    """
    p = net.p
    x_eval = check_index_tensor("x_eval", x_eval, p, 2)
    x_train = check_index_tensor("x_train", x_train, p, 2)
    W, V = net.W.to(F64), net.V.to(F64)
    Lam = coef.to(F64).reshape(x_train.shape[0], p)
    Z, Zt = QuadraticNet.hidden(W, x_eval), QuadraticNet.hidden(W, x_train)
    G = (Z * Z) @ (Zt * Zt).t()
    M = matches(x_eval, x_train)
    H = M @ (Zt * (Lam @ V))
    out = G @ Lam + 4.0 * ((Z * H) @ V.t())
    return out * net.output_scale**2
