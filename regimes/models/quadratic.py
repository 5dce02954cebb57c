"""The paper's two-layer quadratic network (eq. 2.1), its inits and parameter action.

    f(θ; (a, b)) = s · V (W[:, a] + W[:, p + b])^{⊙2},   W ∈ R^{h×2p}, V ∈ R^{p×h},

with no biases and output scale ``s`` (1 in the paper; ``2/h`` for Gromov's
mean-field parametrisation, his eq. 4). The regression head on triples is
``g(θ; (a, b, c)) = f_c(θ; (a, b))``. The first layer is a gather of two
columns of ``W``: one-hot inputs are never materialised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from regimes._validate import check_choice, check_device, check_index_tensor, check_int, check_positive, check_seed
from regimes.models.protocol import Params
from regimes.tasks import Sigma, _check_sigma

#: A custom i.i.d. law: ``sampler(shape, generator) -> float64 tensor`` (CPU).
Sampler = Callable[[tuple[int, ...], torch.Generator], torch.Tensor]

DISTS = ("uniform", "normal", "standard_normal", "rademacher")


@dataclass(frozen=True)
class InitMoments:
    """Per-entry moments of an i.i.d. init law: variance σ² and kurtosis κ = E w⁴ / σ⁴
    (Prop B.3's σ_W², κ_W). Zero mean and zero skewness are assumed."""

    sigma2: float
    kappa: float


def init_moments(dist: str, fan_in: int, alpha: float = 1.0) -> InitMoments:
    """Moments of one weight under :meth:`QuadraticNet.init`'s named laws.

    ``uniform``: U(±α/√fan_in), PyTorch's default Linear init (σ² = s²/3, κ = 9/5).
    ``normal``: N(0, α²/fan_in) (κ = 3). ``standard_normal``: N(0, α²), Gromov's
    init (κ = 3). ``rademacher``: ±α/√fan_in (κ = 1).

    Examples
    --------
    >>> m = init_moments("uniform", 12)      # U(±1/√12): σ² = (1/12)/3 = 1/36, κ = 9/5
    >>> round(1 / m.sigma2, 9), m.kappa
    (36.0, 1.8)
    """
    check_choice("dist", dist, DISTS)
    check_int("fan_in", fan_in, low=1)
    alpha = check_positive("alpha", alpha)
    if dist == "uniform":
        return InitMoments(alpha**2 / (3 * fan_in), 9 / 5)
    if dist == "normal":
        return InitMoments(alpha**2 / fan_in, 3.0)
    if dist == "standard_normal":
        return InitMoments(alpha**2, 3.0)
    return InitMoments(alpha**2 / fan_in, 1.0)


def _sample(dist: str | Sampler, shape: tuple[int, int], fan_in: int, gen: torch.Generator) -> torch.Tensor:
    if callable(dist):
        w = dist(shape, gen)
        if not isinstance(w, torch.Tensor) or tuple(w.shape) != shape:
            raise ValueError(f"dist sampler returned {type(w).__name__} of wrong shape: expected {shape}")
        return w.to(torch.float64)
    s = fan_in**-0.5
    if dist == "uniform":
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * s
    if dist == "normal":
        return torch.randn(shape, generator=gen, dtype=torch.float64) * s
    if dist == "standard_normal":
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    return (torch.randint(2, shape, generator=gen, dtype=torch.float64) * 2 - 1) * s


class _ScaledApply:
    """The descriptor behind :meth:`QuadraticNet.apply`: the plain function on the class
    (``QuadraticNet.apply(params, x, output_scale)``, used by ``torch.func`` and the training
    loop), and on an instance that function with the instance's ``output_scale`` as the
    default, so a net satisfies the :class:`regimes.models.Model` protocol's
    ``apply(params, x)``."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj: QuadraticNet | None, objtype: type | None = None) -> Callable[..., torch.Tensor]:
        if obj is None:
            return self.fn
        fn, scale = self.fn, obj.output_scale

        def apply(params: Params, x: torch.Tensor, output_scale: float = scale) -> torch.Tensor:
            return fn(params, x, output_scale)

        apply.__doc__ = fn.__doc__
        return apply


class QuadraticNet:
    """Two-layer quadratic network f(θ; (a, b)) = s·V (W[:, a] + W[:, p+b])^{⊙2} (eq. 2.1).

    Parameters
    ----------
    W : (h, 2p) first-layer weights; columns ``0..p-1`` embed ``a``, ``p..2p-1`` embed ``b``.
    V : (p, h) second-layer weights.
    output_scale : the factor ``s`` (1 for the paper; 2/h for Gromov's mean field).

    Calling the net on an (n, 2) int64 index tensor returns (n, p) logits. The
    static :meth:`apply` is the functional form ``(params, x) -> logits`` used
    by ``torch.func`` and the training loop; with :meth:`params` and :meth:`with_params`
    the net is a :class:`regimes.models.Model`.

    Examples
    --------
    One neuron with W = 1, V = 1 at p = 2: f_k(a, b) = (W[a] + W[p+b])² = 4 for both logits,
    and the net is 3-homogeneous, f(cθ) = c³ f(θ):

    >>> W, V = torch.ones(1, 4, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)
    >>> x = torch.tensor([[0, 1]])
    >>> QuadraticNet(W, V)(x).tolist(), QuadraticNet(2 * W, 2 * V)(x).tolist()
    ([[4.0, 4.0]], [[32.0, 32.0]])
    >>> net = QuadraticNet.init(7, 16, seed=0)
    >>> net.h, net.p, tuple(net(torch.tensor([[0, 1], [3, 6], [6, 6]])).shape)
    (16, 7, (3, 7))
    """

    def __init__(self, W: torch.Tensor, V: torch.Tensor, *, output_scale: float = 1.0) -> None:
        if not isinstance(W, torch.Tensor) or W.ndim != 2 or W.shape[1] % 2 or W.shape[1] < 4:
            shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
            raise ValueError(f"W has shape {shape}: expected (h, 2p) with p >= 2")
        h, p = W.shape[0], W.shape[1] // 2
        if not isinstance(V, torch.Tensor) or tuple(V.shape) != (p, h):
            shape = tuple(V.shape) if isinstance(V, torch.Tensor) else type(V).__name__
            raise ValueError(f"V has shape {shape}: expected (p, h) = ({p}, {h}) to match W")
        if W.dtype != V.dtype or W.device != V.device:
            raise ValueError(f"W and V differ in dtype/device: {W.dtype}/{W.device} vs {V.dtype}/{V.device}")
        if not W.dtype.is_floating_point:
            raise ValueError(f"W has dtype {W.dtype}: expected a floating dtype")
        check_int("h", h, low=1)
        self.W = W
        self.V = V
        self.output_scale = check_positive("output_scale", output_scale)

    # ------------------------------------------------------------------ sizes
    @property
    def p(self) -> int:
        """The modulus (number of logits)."""
        return self.V.shape[0]

    @property
    def h(self) -> int:
        """The hidden width h (the paper's notation)."""
        return self.V.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' dtype (float32 or float64)."""
        return self.W.dtype

    @property
    def device(self) -> torch.device:
        """The parameters' device."""
        return self.W.device

    # ------------------------------------------------------------------ init
    @classmethod
    def init(
        cls,
        p: int,
        h: int,
        *,
        alpha: float = 1.0,
        dist: str | Sampler = "uniform",
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        mean_field: bool = False,
    ) -> QuadraticNet:
        """Random i.i.d. init, every entry scaled by ``alpha`` (Fig 1 middle, Fig 2 left).

        ``dist``: ``"uniform"`` is PyTorch's default Linear init U(±1/√fan_in)
        (fan_in = 2p for W, h for V; the paper's "default PyTorch init"),
        ``"normal"`` N(0, 1/fan_in), ``"standard_normal"`` N(0, 1) (Gromov),
        ``"rademacher"`` ±1/√fan_in, or a callable ``sampler(shape, generator)``
        for any other i.i.d. law. Draws happen on the CPU in float64 from a
        generator seeded with ``seed`` (W first, then V), then are cast and
        moved, so a seed gives the same net on every device and dtype.
        ``mean_field=True`` sets the output scale to 2/h (Gromov eq. 4). ``h`` is the hidden
        width.
        """
        p = check_int("p", p, low=2)
        h = check_int("h", h, low=1)
        alpha = check_positive("alpha", alpha)
        check_device("device", device)
        if not callable(dist):
            check_choice("dist", dist, DISTS)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} is not allowed: choose torch.float32 or torch.float64")
        gen = torch.Generator().manual_seed(check_seed("seed", seed))
        W = alpha * _sample(dist, (h, 2 * p), 2 * p, gen)
        V = alpha * _sample(dist, (p, h), h, gen)
        scale = 2.0 / h if mean_field else 1.0
        return cls(W.to(dtype=dtype, device=device), V.to(dtype=dtype, device=device), output_scale=scale)

    # ------------------------------------------------------------------ forward
    def params(self) -> Params:
        """The parameters θ = (W, V) as a dict (the functional form's first argument)."""
        return {"W": self.W, "V": self.V}

    @staticmethod
    def hidden(W: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Pre-activations z = W[:, a] + W[:, p + b], shape (n, h): a gather, no one-hot."""
        p = W.shape[1] // 2
        Wt = W.t()
        return Wt[x[:, 0]] + Wt[p + x[:, 1]]

    @_ScaledApply
    def apply(params: Params, x: torch.Tensor, output_scale: float = 1.0) -> torch.Tensor:
        """Functional forward pass: logits f(θ; x) of shape (n, p) (eq. 2.1).

        On the class, ``QuadraticNet.apply(params, x, output_scale=1.0)`` is the static
        functional form; on a net, ``net.apply(params, x)`` scales by ``net.output_scale``
        (the :class:`regimes.models.Model` method, so ``net.apply(net.params(), x)`` equals
        ``net(x)``). ``x`` is trusted here (hot path); :meth:`__call__` validates it.
        """
        z = QuadraticNet.hidden(params["W"], x)
        out = (z * z) @ params["V"].t()
        return out * output_scale if output_scale != 1.0 else out

    def with_params(self, params: Params) -> QuadraticNet:
        """A net with this one's output scale holding ``params = {"W", "V"}`` (the
        :class:`regimes.models.Model` method); ``ValueError`` on missing keys or bad shapes."""
        if not isinstance(params, dict) or set(params) != {"W", "V"}:
            keys = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"params must be a dict with keys 'W' and 'V', got {keys}")
        return QuadraticNet(params["W"], params["V"], output_scale=self.output_scale)

    @staticmethod
    def apply_regression(params: Params, x: torch.Tensor, output_scale: float = 1.0) -> torch.Tensor:
        """Functional regression head g(θ; (a, b, c)) = f_c(θ; (a, b)), shape (n,).

        Only the c-th row of V is touched per point (no full logit vector).
        """
        z = QuadraticNet.hidden(params["W"], x)
        out = (z * z * params["V"][x[:, 2]]).sum(dim=1)
        return out * output_scale if output_scale != 1.0 else out

    def _check_x(self, x: torch.Tensor, arity: int) -> torch.Tensor:
        x = check_index_tensor("x", x, self.p, arity)
        return x.to(self.device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits on an (n, 2) index tensor, shape (n, p)."""
        return self.apply(self.params(), self._check_x(x, 2), self.output_scale)

    def regression(self, x: torch.Tensor) -> torch.Tensor:
        """The regression head on an (n, 3) index tensor, shape (n,)."""
        return self.apply_regression(self.params(), self._check_x(x, 3), self.output_scale)

    # ------------------------------------------------------------------ utilities
    def theta_inf(self) -> float:
        """‖θ‖_∞: the largest absolute entry over W and V jointly (eq. 2.2)."""
        return max(float(self.W.abs().max()), float(self.V.abs().max()))

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> QuadraticNet:
        """A copy on another device and/or dtype."""
        return QuadraticNet(self.W.to(device=device, dtype=dtype), self.V.to(device=device, dtype=dtype),
                            output_scale=self.output_scale)

    def clone(self) -> QuadraticNet:
        """A detached deep copy."""
        return QuadraticNet(self.W.detach().clone(), self.V.detach().clone(), output_scale=self.output_scale)

    def permuted(self, sigma: Sigma) -> QuadraticNet:
        """The parameter action π_σ (Def C.3, with the corrected convention).

        Columns of the a-block move a → σ1(a), of the b-block b → σ2(b), and
        rows of V move k → σ3(k): W'[:, σ1(a)] = W[:, a], W'[:, p+σ2(b)] = W[:, p+b],
        V'[σ3(k)] = V[k]. Then f_{σ3(k)}(π_σθ; (σ1(a), σ2(b))) = f_k(θ; (a, b))
        (Lemma C.5). The paper prints W'_{ij} = W_{i,σ1(j)}, the inverse
        convention, which breaks Lemma C.5's proof (see proofs/thm_3_3_equivariance.md
        and ``proofs/ERRATA.md``).
        """
        return QuadraticNet(*permute_params(self.W, self.V, sigma), output_scale=self.output_scale)

    def __repr__(self) -> str:
        return f"QuadraticNet(p={self.p}, h={self.h}, dtype={self.dtype}, device={self.device})"


def permute_params(W: torch.Tensor, V: torch.Tensor, sigma: Sigma) -> tuple[torch.Tensor, torch.Tensor]:
    """π_σ on raw (W, V) or on anything shaped like them (e.g. gradients); see
    :meth:`QuadraticNet.permuted`."""
    p = V.shape[0]
    _check_sigma(sigma, p, 3)
    s1, s2, s3 = (s.to(W.device) for s in sigma[:3])
    W2 = torch.empty_like(W)
    W2[:, s1] = W[:, :p]
    W2[:, p + s2] = W[:, p:]
    V2 = torch.empty_like(V)
    V2[s3] = V
    return W2, V2
