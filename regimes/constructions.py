"""Explicit weights that solve modular addition (Prop 3.8, Remark F.1; Gromov eqs 6-7, 18-19).

* :func:`fourier_interpolator` — the exact Fourier construction of Prop 3.8 /
  Appendix F: ``h = 8p`` neurons with ``‖W‖_∞ = ‖V‖_∞ = 1`` and
  ``f_q(e_n, e_m) = 4p·1(n + m ≡ q)`` for every ``p ≥ 2`` (odd or even: the
  roots-of-unity sum needs no parity, although the paper says the construction needs p odd; see
  proofs/prop_3_8_fourier_interpolator.md), duplicated to wider
  nets with each copy scaled by ``c^{-1/3}`` (the function is unchanged and
  ``‖θ‖_∞ = c^{-1/3}``), rescaled by ``4^{-1/3}`` for the regression target
  ``p·1(a+b≡c)``, and the ``4p − 3``-neuron variant for odd ``p`` (Remark F.1).
* :func:`gromov_solution` — Gromov's approximate analytic solution: cosine
  weights with random phases constrained by ``φ⁽³⁾ = φ⁽¹⁾ + φ⁽²⁾`` (eqs 6-7, 12),
  its ``f₁(n) + f₂(m)`` generalisation (eq 18) and the ``F⁻¹`` readout (eq 19),
  whose accuracy drops to about ``1/b`` when ``F⁻¹`` has ``b`` branches;
  :func:`analytic_accuracy` evaluates it with any activation (Gromov Figs 4b, 5).
* :func:`phase_alignment` — the per-neuron phase combination
  ``φ⁽¹⁾ + φ⁽²⁾ − φ⁽³⁾`` read off a net's weights by a DFT (Gromov Fig 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from regimes._validate import check_choice, check_device, check_int, check_seed
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import OPS, all_points

__all__ = [
    "ACTIVATIONS",
    "GromovSolution",
    "analytic_accuracy",
    "fourier_block",
    "fourier_interpolator",
    "gromov_solution",
    "phase_alignment",
]


def _check_dtype(dtype: torch.dtype) -> None:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype={dtype} is not allowed: choose torch.float32 or torch.float64")


def fourier_block(p: int, k: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8 neurons of frequency ``k`` of Prop 3.8's construction (Appendix F, eq. F.10).

    With ``ω = 2πk/p``, ``c_t = cos ωt`` and ``s_t = sin ωt``, the rows of ``W`` (a-part;
    b-part) are ``(c, c), (c, −c), (s, s), (s, −s), (s, c), (s, −c), (c, s), (−c, s)`` and
    the columns of ``V`` at output ``q`` are ``(c_q, −c_q, −c_q, c_q, s_q, −s_q, s_q, −s_q)``.
    Their contribution to ``f_q(e_n, e_m)`` is ``4 cos ω(n + m − q)``. (F.10 as printed
    writes ``cos cos − sin sin`` in an intermediate line; with these +sin entries it is
    ``cos cos + sin sin``; an erratum, see proofs/prop_3_8_fourier_interpolator.md.)
    Returns ``(W_k (8, 2p), V_k (p, 8))``.
    """
    t = torch.arange(p, dtype=torch.float64)
    om = 2 * math.pi * k / p
    c, s = torch.cos(om * t), torch.sin(om * t)
    W = torch.stack([
        torch.cat([c, c]), torch.cat([c, -c]), torch.cat([s, s]), torch.cat([s, -s]),
        torch.cat([s, c]), torch.cat([s, -c]), torch.cat([c, s]), torch.cat([-c, s]),
    ])
    V = torch.stack([c, -c, -c, c, s, -s, s, -s], dim=1)
    return W.to(dtype), V.to(dtype)


def fourier_interpolator(
    p: int,
    h: int | None = None,
    *,
    variant: str = "8p",
    target: str = "classification",
    exact: bool = True,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> QuadraticNet:
    """The Fourier interpolator of Prop 3.8 (Appendix F) as a :class:`QuadraticNet`.

    Parameters
    ----------
    p : modulus, ``p ≥ 2`` (any parity for ``variant="8p"``).
    h : hidden width; default the base width (``8p``,
        or ``4p − 3``).
        With ``h ≥`` base, the base net is copied ``c = ⌊h / base⌋`` times, each copy
        scaled by ``c^{-1/3}`` (3-homogeneity keeps the function; ``‖θ‖_∞`` becomes
        ``c^{-1/3}``, Prop 3.8's ``⌊h/8p⌋^{-1/3}``); leftover neurons are zero.
    variant : ``"8p"``: all ``p`` frequencies, 8 neurons each, neuron ``8k + j`` is
        neuron ``j`` of :func:`fourier_block` ``k`` (interleaved layout: App. F stacks W
        blockwise but indexes V and h as 8k..8k+7; we use 8k + j for all three).
        ``"4p-3"`` (odd ``p`` only, Remark F.1): frequency 0 collapses to the single
        neuron ``W = 1, V = 1`` (it contributes the constant 4) and frequencies
        ``1..(p−1)/2`` keep their 8 neurons with ``V`` doubled (pairing ``k`` with
        ``p − k``), so ``1 + 8(p−1)/2 = 4p − 3`` neurons; the layers are then balanced
        (``W·2^{1/3}``, ``V·2^{-2/3}``, same function) to ``‖W‖_∞ = ‖V‖_∞ = 2^{1/3}``, so
        the normalized margin is ``4p/2 = 2p``.
    target : ``"classification"``: ``f_q(e_n, e_m) = 4p·1(n+m ≡ q)``, margin ``4p`` at
        ``‖θ‖_∞ = 1``; ``"regression"``: everything scaled by ``4^{-1/3}`` so that
        ``g(a, b, c) = p·1(a+b ≡ c)`` exactly (zero population square loss).
    exact : if True (default), a width ``h`` below the base width is a ``ValueError``;
        if False, the first ``h`` neurons of the base net are kept (the function
        is then only approximate).
    dtype, device : of the returned tensors (built in float64 on the CPU first).

    Examples
    --------
    The net interpolates exactly: f_q(a, b) = 4p·1(a + b ≡ q) on all p² pairs, with
    ‖θ‖_∞ = 1 and h = 8p neurons (Prop 3.8):

    >>> from regimes.tasks import Task
    >>> p = 5
    >>> net = fourier_interpolator(p)
    >>> pop = Task(p).population()
    >>> target = 4 * p * torch.nn.functional.one_hot(pop.y, p).double()
    >>> net.h, net.theta_inf(), bool((net(pop.x) - target).abs().max() < 1e-10)
    (40, 1.0, True)
    """
    p = check_int("p", p, low=2)
    check_choice("variant", variant, ("8p", "4p-3"))
    check_choice("target", target, ("classification", "regression"))
    _check_dtype(dtype)
    check_device("device", device)
    if variant == "4p-3" and p % 2 == 0:
        raise ValueError(f"variant='4p-3' needs odd p (Remark F.1), got p={p}")
    base = 8 * p if variant == "8p" else 4 * p - 3
    h = base if h is None else check_int("h", h, low=1)
    if h < base and exact:
        raise ValueError(f"h={h} is too small for an exact interpolator: need width h >= {base} "
                         f"(variant={variant!r}, p={p}); pass exact=False to truncate")
    if variant == "8p":
        blocks = [fourier_block(p, k) for k in range(p)]
        W = torch.cat([b[0] for b in blocks])
        V = torch.cat([b[1] for b in blocks], dim=1)
    else:
        Ws = [torch.ones(1, 2 * p, dtype=torch.float64)]
        Vs = [torch.ones(p, 1, dtype=torch.float64)]
        for k in range(1, (p - 1) // 2 + 1):
            Wk, Vk = fourier_block(p, k)
            Ws.append(Wk)
            Vs.append(2 * Vk)
        W, V = torch.cat(Ws), torch.cat(Vs, dim=1)
        # balance the layers (f is unchanged: (2^{1/3})² · 2^{-2/3} = 1): ‖W‖∞ = ‖V‖∞ = 2^{1/3}
        W, V = W * 2.0 ** (1 / 3), V * 2.0 ** (-2 / 3)
    if h < base:
        W, V = W[:h], V[:, :h]
    else:
        c = h // base
        if c > 1:
            s = c ** (-1.0 / 3.0)
            W, V = s * W.repeat(c, 1), s * V.repeat(1, c)
        if h > c * base:
            W = torch.cat([W, torch.zeros(h - c * base, 2 * p, dtype=W.dtype)])
            V = torch.cat([V, torch.zeros(p, h - c * base, dtype=V.dtype)], dim=1)
    if target == "regression":
        s = 4.0 ** (-1.0 / 3.0)
        W, V = s * W, s * V
    return QuadraticNet(W.to(dtype=dtype, device=device), V.to(dtype=dtype, device=device))


# =========================================================================== Gromov
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "quadratic": lambda z: z * z,
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "silu": torch.nn.functional.silu,
    "abs": torch.abs,
    "cubic": lambda z: z**3,
}


@dataclass
class GromovSolution:
    """Gromov's analytic weights (eqs 6-7 / 18-19) and what was used to build them.

    ``net``: the weights as a mean-field :class:`QuadraticNet` (output scale ``2/N``,
    Gromov eq. 4); ``freqs``: the frequency of each neuron; ``phi1, phi2, phi3``:
    its phases; ``branches``: the largest number of preimages of ``F`` (1 when no
    ``F`` is given), Gromov's ``b`` (accuracy ≈ 1/b).
    """

    net: QuadraticNet
    freqs: torch.Tensor
    phi1: torch.Tensor
    phi2: torch.Tensor
    phi3: torch.Tensor
    branches: int


def _table(name: str, f: Sequence[int] | torch.Tensor | Callable | None, p: int) -> torch.Tensor:
    t = torch.arange(p)
    if f is None:
        return t
    out = torch.as_tensor(f(t) if callable(f) else f).long()
    if out.shape != (p,):
        raise ValueError(f"{name} must give {p} values (a table over Z_p), got shape {tuple(out.shape)}")
    return out % p


def gromov_solution(
    p: int,
    h: int,
    *,
    f1: Sequence[int] | torch.Tensor | Callable | None = None,
    f2: Sequence[int] | torch.Tensor | Callable | None = None,
    F: Sequence[int] | torch.Tensor | Callable | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> GromovSolution:
    """Gromov's analytic solution for ``F(f₁(n) + f₂(m)) mod p`` (eqs 6-7, 12, 18, 19).

    Neuron ``k = 1..N`` (``N = h``, the hidden width) has
    frequency ``k`` (mod ``p``), first-layer
    weights ``cos(2πk f₁(n)/p + φ⁽¹⁾_k)`` and ``cos(2πk f₂(m)/p + φ⁽²⁾_k)`` (eq 18;
    eq 6 for ``f₁ = f₂ = id``), and readout ``cos(−2πk F⁻¹(q)/p − φ⁽³⁾_k)`` (eq 19;
    eq 7 for ``F = id``), with ``φ⁽¹⁾, φ⁽²⁾`` i.i.d. uniform on ``[0, 2π)`` (seeded) and
    ``φ⁽³⁾ = φ⁽¹⁾ + φ⁽²⁾`` (eq 12). The quadratic net then computes, up to waves that
    cancel only on average (eq 15), ``δ(f₁(n) + f₂(m) − F⁻¹(q))``. When ``F`` is not
    injective, ``F⁻¹(q)`` is the smallest preimage of ``q`` (one branch); outputs ``q``
    outside the image of ``F`` get zero readout weights.

    ``f1, f2, F`` are tables of ``p`` integers or callables on an int64 tensor.
    """
    p = check_int("p", p, low=2)
    N = check_int("h", h, low=1)
    _check_dtype(dtype)
    check_device("device", device)
    a1, a2, Ft = _table("f1", f1, p), _table("f2", f2, p), _table("F", F, p)
    inv = torch.full((p,), -1, dtype=torch.long)
    counts = torch.zeros(p, dtype=torch.long)
    for r in range(p - 1, -1, -1):  # smallest preimage wins
        inv[Ft[r]] = r
        counts[Ft[r]] += 1
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    phi1 = torch.rand(N, generator=gen, dtype=torch.float64) * 2 * math.pi
    phi2 = torch.rand(N, generator=gen, dtype=torch.float64) * 2 * math.pi
    phi3 = phi1 + phi2
    k = torch.arange(1, N + 1, dtype=torch.float64)
    om = 2 * math.pi * k[:, None] / p                                  # (N, 1)
    Wa = torch.cos(om * a1.double()[None, :] + phi1[:, None])           # (N, p)
    Wb = torch.cos(om * a2.double()[None, :] + phi2[:, None])
    valid = inv >= 0
    Vt = torch.cos(-om * inv.clamp(min=0).double()[None, :] - phi3[:, None])  # (N, p)
    Vt = Vt * valid.double()[None, :]
    net = QuadraticNet(torch.cat([Wa, Wb], dim=1).to(dtype=dtype, device=device),
                       Vt.t().contiguous().to(dtype=dtype, device=device), output_scale=2.0 / N)
    return GromovSolution(net, (torch.arange(1, N + 1) % p), phi1, phi2, phi3 % (2 * math.pi),
                          int(counts.max()))


@torch.no_grad()
def analytic_accuracy(
    net: QuadraticNet,
    *,
    activation: str | Callable[[torch.Tensor], torch.Tensor] = "quadratic",
    op: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "add",
) -> float:
    """Accuracy of ``argmax_q V φ(W (e_n, e_m))`` over all ``p²`` pairs (Gromov Figs 4b, 5).

    ``activation``: a key of :data:`ACTIVATIONS` or a callable (Gromov App. B, eq. 27:
    the same cosine weights with another activation; the positive output scale does
    not change the argmax). ``op``: the label ``op(n, m) mod p`` (a key of
    :data:`regimes.tasks.OPS` or a callable).
    """
    if isinstance(activation, str):
        check_choice("activation", activation, ACTIVATIONS)
        act = ACTIVATIONS[activation]
    elif callable(activation):
        act = activation
    else:
        raise ValueError(f"activation must be a name in {tuple(ACTIVATIONS)} or a callable")
    if isinstance(op, str):
        check_choice("op", op, OPS)
        fn = OPS[op]
    else:
        fn = op
    p = net.p
    x = all_points(p, 2).to(net.device)
    z = QuadraticNet.hidden(net.W, x)
    out = act(z) @ net.V.t()
    y = fn(x[:, 0], x[:, 1]) % p
    return float((out.argmax(dim=1) == y).double().mean())


@torch.no_grad()
def phase_alignment(W: torch.Tensor, V: torch.Tensor, *, min_power: float = 0.0
                    ) -> dict[str, torch.Tensor]:
    """Per-neuron dominant frequency and the phase combination ``φ⁽¹⁾ + φ⁽²⁾ − φ⁽³⁾``
    (Gromov Fig 3).

    For neuron ``k`` the DFTs of ``W[k, :p]`` (over ``n``), ``W[k, p:]`` (over ``m``)
    and ``V[:, k]`` (over ``q``) are taken; the frequency ``ν ∈ {1..⌊p/2⌋}`` with the
    largest first-layer power is the neuron's, and the phases are the angles of the
    three coefficients at ``ν``: a wave ``A cos(2πνt/p + φ)`` has coefficient
    ``(pA/2) e^{iφ}``, and Gromov's readout ``cos(−2πνq/p − φ⁽³⁾) = cos(2πνq/p + φ⁽³⁾)``.
    Returns ``freq``, ``phi1``, ``phi2``, ``phi3``, ``delta`` (``φ⁽¹⁾+φ⁽²⁾−φ⁽³⁾`` wrapped
    to ``[−π, π)``), ``power`` (share of the first layer's total power, constant
    included, at ``±ν``; exactly 0 for a constant neuron) and ``keep`` (``power ≥ min_power``
    and every phase defined).

    A DFT coefficient is round-off when |X_ν|² ≤ (4·p·eps)²·Σ_k |X_k|² (eps of the dtype ``W``,
    ``V`` were given in): a constant block's coefficients away from 0 are such residues, and their
    angles are chosen by round-off. A neuron whose first layer has only round-off away from
    frequency 0 (constant or zero) has ``power`` 0; any phase read off a round-off coefficient is
    NaN, so is ``delta``, and the neuron is not kept.
    """
    p = V.shape[0]
    eps = max(torch.finfo(t.dtype if t.dtype.is_floating_point else torch.float64).eps for t in (W, V))
    tol2 = (4 * p * eps) ** 2
    A = torch.fft.fft(W[:, :p].double(), dim=1)
    B = torch.fft.fft(W[:, p:].double(), dim=1)
    C = torch.fft.fft(V.t().double(), dim=1)
    half = p // 2
    pw = A.abs() ** 2 + B.abs() ** 2
    band = pw[:, 1:half + 1]
    nu = band.argmax(dim=1) + 1
    total = pw.sum(dim=1)
    flat = pw[:, 1:].sum(dim=1) <= tol2 * total   # no non-constant power beyond round-off
    # a frequency and its mirror p-ν carry the same real-signal power; count both
    power = 2 * band.gather(1, (nu - 1)[:, None]).squeeze(1) / total.clamp_min(1e-300)
    if p % 2 == 0:
        power = torch.where(nu == half, power / 2, power)
    power = torch.where(flat, torch.zeros_like(power), power)
    idx = nu[:, None]

    def phase(X: torch.Tensor) -> torch.Tensor:
        c = X.gather(1, idx).squeeze(1)
        noise = c.abs() ** 2 <= tol2 * (X.abs() ** 2).sum(dim=1)
        return torch.where(noise | flat, torch.full_like(c.real, math.nan), torch.angle(c))

    phi1, phi2, phi3 = phase(A), phase(B), phase(C)
    delta = torch.remainder(phi1 + phi2 - phi3 + math.pi, 2 * math.pi) - math.pi
    return {"freq": nu, "phi1": phi1, "phi2": phi2, "phi3": phi3, "delta": delta, "power": power,
            "keep": (power >= min_power) & ~torch.isnan(delta)}
