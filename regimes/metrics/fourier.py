"""Fourier views of learned weights: spectra, Gromov's IPR, and the PCA circle.

The first layer W = [W_a | W_b] ∈ R^{h×2p} gives every neuron two signals on
Z_p (its a-block row and b-block row), and the token embedding of the input
``a`` is the column W[:, a]. A trained (grokked) network concentrates each
neuron on one frequency ω_k = 2πk/p (Gromov 2023 eqs 6–7; the paper's Prop 3.8
construction); at random init the power is spread over all frequencies.

* :func:`frequency_power` — power of real signals on Z_p per frequency
  k = 0..⌊p/2⌋, with the mirror coefficients k and p−k merged (a real wave
  A cos(ω_k n + φ) puts all its power on k, whatever φ). Normalised so the
  powers of a signal sum to its squared norm (Parseval).
* :func:`weight_spectrum`, :func:`layer_spectrum`, :func:`embedding_spectrum` — the
  same for W per neuron/block, for the whole layer, and for any (p, d) embedding.
* :func:`ipr` — Gromov's inverse participation ratio (his eqs 28–29): per neuron,
  IPR_r = Σ_ν |w̃_ν|^{2r} over the neuron's normalised Fourier weights w̃
  (Σ_ν |w̃_ν|² = 1), averaged over neurons. It is 1 when one Fourier component
  carries all the power and (number of equal components)^{1−r} when the power is
  spread evenly. Which components ν count is a convention Gromov leaves open:
  ``basis="frequency"`` (default) uses the merged frequencies k, summed over the
  two blocks, so each neuron of the analytic solution has IPR = 1;
  ``basis="coefficient"`` uses all 2p complex DFT coefficients of the row (his
  literal sum over D = 2p), where the analytic solution's neurons have IPR_2 = 1/4.
* :func:`embedding_pca`, :func:`circle_score` — the picture of the blog post "Some
  thoughts on Grokking" (code: okitouni/simple-grokking):
  the top principal components of the token embeddings, and how much of their
  2-D layout is a single circle a ↦ r e^{i(2πja/p + φ)} traversed at frequency j.
"""

from __future__ import annotations

import torch

from regimes._validate import check_choice, check_int, check_positive

__all__ = [
    "circle_score",
    "embedding_pca",
    "embedding_spectrum",
    "frequency_power",
    "ipr",
    "ipr_per_neuron",
    "layer_spectrum",
    "weight_spectrum",
]

F64 = torch.float64
#: Relative size below which a centred layout is round-off of its uncentred values: centring
#: float64 numbers leaves residues of a few ulps (≈ 1e-16 relative), far below this, while any
#: real spread between token embeddings is far above it.
_FLAT_RTOL = 1e-12


def _flat_rtol(X: object, n: int) -> float:
    """The relative size below which a centred layout of ``n`` tokens is round-off of ``X``:
    :data:`_FLAT_RTOL`, or 4·n·eps of ``X``'s dtype where that is larger (a float32 layout's
    rounding, ~1e-7 relative, is far above 1e-12)."""
    given = X.dtype if isinstance(X, torch.Tensor) and X.dtype.is_floating_point else F64
    return max(_FLAT_RTOL, 4 * n * torch.finfo(given).eps)


def _matrix(name: str, X: object) -> torch.Tensor:
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.numel() == 0:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"{name} must be a non-empty 2-D tensor, got {shape}")
    if X.is_complex() or not torch.isfinite(X).all():
        raise ValueError(f"{name} must be real and finite")
    return X.detach().to(F64)


def frequency_power(X: torch.Tensor) -> torch.Tensor:
    """Power of each row of X (m, p) — a real signal on Z_p — per frequency k = 0..⌊p/2⌋.

    P_0 = |F_0|²/p, P_k = (|F_k|² + |F_{p−k}|²)/p for 0 < k < p/2, P_{p/2} = |F_{p/2}|²/p
    (even p), with F the DFT over the row; Σ_k P_k = ‖row‖² (Parseval). Shape (m, ⌊p/2⌋+1).
    """
    X = _matrix("X", X)
    p = X.shape[1]
    F = torch.fft.rfft(X, dim=1)
    P = F.real**2 + F.imag**2
    mirrored = torch.ones(P.shape[1], dtype=F64, device=P.device)
    mirrored[1:] = 2.0
    if p % 2 == 0:
        mirrored[-1] = 1.0
    return P * mirrored / p


def _split_W(W: torch.Tensor) -> tuple[torch.Tensor, int]:
    W = _matrix("W", W)
    if W.shape[1] % 2 or W.shape[1] < 4:
        raise ValueError(f"W has shape {tuple(W.shape)}: expected (h, 2p) with p >= 2")
    return W, W.shape[1] // 2


def weight_spectrum(W: torch.Tensor) -> torch.Tensor:
    """Per-neuron, per-block power of the first layer: shape (h, 2, ⌊p/2⌋+1) (block 0 = a, 1 = b)."""
    W, p = _split_W(W)
    return torch.stack([frequency_power(W[:, :p]), frequency_power(W[:, p:])], dim=1)


def layer_spectrum(W: torch.Tensor) -> torch.Tensor:
    """Share of the first layer's total power at each frequency k = 0..⌊p/2⌋ (sums to 1)."""
    P = weight_spectrum(W).sum(dim=(0, 1))
    tot = float(P.sum())
    if tot == 0:
        raise ValueError("W is zero: its spectrum is undefined")
    return P / tot


def embedding_spectrum(E: torch.Tensor) -> torch.Tensor:
    """Share of an embedding's power at each frequency k = 0..⌊p/2⌋ (sums to 1).

    ``E`` is (p, d): row ``a`` is the embedding of token ``a`` (for the quadratic net
    the a-block, ``W[:, :p].T``). Each of the d coordinates is a signal over tokens.
    """
    E = _matrix("E", E)
    P = frequency_power(E.t()).sum(dim=0)
    tot = float(P.sum())
    if tot == 0:
        raise ValueError("E is zero: its spectrum is undefined")
    return P / tot


def ipr_per_neuron(W: torch.Tensor, r: float = 2.0, *, basis: str = "frequency") -> torch.Tensor:
    """Gromov's IPR_r(k) for each neuron (row of W), eq. 28; NaN for an all-zero row.

    ``basis="frequency"``: components are the merged frequencies k = 0..⌊p/2⌋ with the a-
    and b-block powers added. ``basis="coefficient"``: components are the 2p complex DFT
    coefficients of the two blocks. ``r > 0`` (Gromov takes 2; IPR_1 ≡ 1).
    """
    r = check_positive("r", r)
    check_choice("basis", basis, ("frequency", "coefficient"))
    W, p = _split_W(W)
    if basis == "frequency":
        P = weight_spectrum(W).sum(dim=1)
    else:
        F = torch.cat([torch.fft.fft(W[:, :p], dim=1), torch.fft.fft(W[:, p:], dim=1)], dim=1)
        P = F.real**2 + F.imag**2
    tot = P.sum(dim=1, keepdim=True)
    w2 = P / torch.where(tot > 0, tot, torch.ones_like(tot))
    out = (w2**r).sum(dim=1)
    return torch.where(tot[:, 0] > 0, out, torch.full_like(out, float("nan")))


def ipr(W: torch.Tensor, r: float = 2.0, *, basis: str = "frequency") -> float:
    """Average IPR over the neurons with non-zero weights (Gromov eq. 29); see :func:`ipr_per_neuron`."""
    per = ipr_per_neuron(W, r, basis=basis)
    ok = ~torch.isnan(per)
    if not bool(ok.any()):
        raise ValueError("every neuron of W is zero: the IPR is undefined")
    return float(per[ok].mean())


def embedding_pca(E: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` principal components of token embeddings ``E`` (p, d).

    Returns ``(coords, explained)``: the centred embeddings projected on the first k
    principal axes, shape (p, k), and the share of the total variance each axis
    explains, shape (k,). Signs of the axes are fixed so each axis' largest-magnitude
    coordinate is positive (a deterministic orientation). An axis whose singular value is
    round-off (≤ max(1e-12, 4·p·eps) of the embeddings' norm, eps of E's dtype: e.g. every axis
    when all tokens share one embedding) has zero coordinates and explains 0, instead of a
    direction and a share chosen by round-off.
    """
    rtol = _flat_rtol(E, E.shape[0] if isinstance(E, torch.Tensor) and E.ndim == 2 else 1)
    E = _matrix("E", E)
    k = check_int("k", k, low=1, high=min(E.shape))
    C = E - E.mean(dim=0, keepdim=True)
    U, S, _ = torch.linalg.svd(C, full_matrices=False)
    S = torch.where(S > rtol * float(torch.linalg.matrix_norm(E)), S, torch.zeros_like(S))
    coords = U[:, :k] * S[:k]
    idx = coords.abs().argmax(dim=0)
    sign = torch.sign(coords[idx, torch.arange(k)])
    coords = coords * torch.where(sign == 0, torch.ones_like(sign), sign)
    tot = float((S**2).sum())
    explained = (S[:k] ** 2) / tot if tot > 0 else torch.zeros(k, dtype=F64)
    return coords, explained


def circle_score(coords: torch.Tensor) -> tuple[float, int]:
    """How circular a 2-D layout of the p tokens is, and at which frequency.

    With z_a = coords[a, 0] + i·coords[a, 1] (centred), returns ``(score, j)``: the
    largest share of Σ_a |z_a|² carried by one complex Fourier coefficient j ≠ 0 of z
    over a, and that j folded to 1..⌊p/2⌋. A circle z_a = r e^{i(2πja/p + φ)} scores 1;
    a segment traversed back and forth (a cosine on both axes) scores 1/2. Coordinates equal up
    to round-off (centred spread ≤ max(1e-12, 4·p·eps) of their size, eps of their dtype) raise
    ``ValueError``: there is no layout to score.
    """
    rtol = _flat_rtol(coords, coords.shape[0] if isinstance(coords, torch.Tensor) and coords.ndim == 2 else 1)
    C = _matrix("coords", coords)
    if C.shape[1] != 2:
        raise ValueError(f"coords has shape {tuple(C.shape)}: expected (p, 2)")
    z0 = torch.complex(C[:, 0], C[:, 1])
    z = z0 - z0.mean()
    if float(z.abs().max()) <= rtol * float(z0.abs().max()):  # equal up to round-off
        raise ValueError("coords are all equal: no layout to score")
    F = torch.fft.fft(z)
    P = F.real**2 + F.imag**2
    tot = float(P.sum())
    j = int(torch.argmax(P[1:])) + 1
    p = C.shape[0]
    return float(P[j]) / tot, min(j, p - j)
