"""The embedding circle of the blog post "Some thoughts on Grokking" (code:
okitouni/simple-grokking), made measurable.

The blog draws the first two principal components of the learned token embeddings of a
model trained on a + b mod p: the p tokens sit on a circle in their cyclic order (or a
multiple of it). It adds two claims: the circle may be "spread out over many components at
different frequencies", and it is a "lottery ticket": in the axes of the *final* principal
components, the embeddings are already arranged on that circle at init, up to local order,
and this gets better the wider the model.

* :func:`frequency_plane` — the plane in embedding space that carries frequency j: spanned by
  the real and imaginary parts of the DFT coefficient F_j = Σ_a E[a] e^{−2πija/p} ∈ C^d. A
  circle at frequency j, E[a] = c + u cos(2πja/p) + v sin(2πja/p), lies in exactly this plane.
  Projecting onto it and scoring with :func:`regimes.metrics.fourier.circle_score` shows each
  frequency's circle even when the top two principal components mix several.
* :func:`pca_axes`, :func:`project` — fixed axes (e.g. the final top-2 PCA plane) to project the
  embeddings of every training step onto, as the blog's animation does.
* :func:`circular_rank_correlation` — how well the tokens' angular order on such a plane agrees
  with a reference order: the Spearman correlation of angle ranks, maximised over the p cyclic
  shifts (an angle's rank depends on where the circle is cut). 1 for the same cyclic order;
  for random angles its expectation is small but positive (the maximum over shifts).

Embeddings are (p, d) real tensors, row a = token a. Bad input raises ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from regimes._validate import check_int
from regimes.metrics.fourier import circle_score, embedding_spectrum

__all__ = ["circular_rank_correlation", "frequency_circles", "frequency_plane", "pca_axes", "project",
           "token_angles"]

F64 = torch.float64


def _emb(E: object) -> torch.Tensor:
    if not isinstance(E, torch.Tensor) or E.ndim != 2 or E.shape[0] < 3 or E.shape[1] < 2:
        shape = tuple(E.shape) if isinstance(E, torch.Tensor) else type(E).__name__
        raise ValueError(f"E must be a (p, d) tensor with p >= 3 tokens and d >= 2, got {shape}")
    if E.is_complex() or not torch.isfinite(E).all():
        raise ValueError("E must be real and finite")
    return E.detach().to(F64).cpu()


def pca_axes(E: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-``k`` principal axes of embeddings ``E`` (p, d): ``(axes (d, k) orthonormal,
    centre (d,))``. Each axis is signed so its largest-magnitude coordinate of the projected
    tokens is positive (deterministic). ``ValueError`` when E has fewer than ``k`` non-zero
    directions after centring."""
    E = _emb(E)
    k = check_int("k", k, low=1, high=min(E.shape))
    c = E.mean(dim=0)
    _, S, Vh = torch.linalg.svd(E - c, full_matrices=False)
    if float(S[k - 1]) <= 1e-12 * float(S[0]) or float(S[0]) == 0.0:
        raise ValueError(f"E spans fewer than k={k} directions after centring: no {k}-D PCA plane")
    axes = Vh[:k].t().contiguous()
    coords = (E - c) @ axes
    idx = coords.abs().argmax(dim=0)
    sign = torch.sign(coords[idx, torch.arange(k)])
    return axes * torch.where(sign == 0, torch.ones_like(sign), sign), c


def project(E: torch.Tensor, axes: torch.Tensor, centre: torch.Tensor | None = None) -> torch.Tensor:
    """Coordinates (p, k) of the rows of ``E`` (p, d) on ``axes`` (d, k), after subtracting
    ``centre`` (default: E's own mean)."""
    E = _emb(E)
    axes = axes.to(F64).cpu()
    if axes.ndim != 2 or axes.shape[0] != E.shape[1]:
        raise ValueError(f"axes has shape {tuple(axes.shape)}: expected (d, k) with d = {E.shape[1]}")
    c = E.mean(dim=0) if centre is None else centre.to(F64).cpu()
    return (E - c) @ axes


def frequency_plane(E: torch.Tensor, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal basis (d, 2) of the plane of frequency ``j`` (1 ≤ j ≤ ⌊(p−1)/2⌋) and the
    tokens' coordinates on it (p, 2), centred.

    The plane is span(Re F_j, Im F_j) with F_j = Σ_a E[a] e^{−2πija/p} (Gram–Schmidt, first axis
    along Re F_j). ``ValueError`` for j out of range or a frequency with (numerically) no
    power, where no plane is defined."""
    E = _emb(E)
    p = E.shape[0]
    j = check_int("j", j, low=1, high=(p - 1) // 2)
    a = torch.arange(p, dtype=F64)
    C = E - E.mean(dim=0)
    re = (torch.cos(2 * math.pi * j * a / p)[:, None] * C).sum(dim=0)
    im = -(torch.sin(2 * math.pi * j * a / p)[:, None] * C).sum(dim=0)
    scale = float(torch.linalg.matrix_norm(C))
    n1 = float(re.norm())
    if n1 <= 1e-12 * scale:
        re, im = im, re
        n1 = float(re.norm())
    if n1 <= 1e-12 * scale:
        raise ValueError(f"frequency j={j} carries no power in E: its plane is undefined")
    u = re / n1
    w = im - (im @ u) * u
    n2 = float(w.norm())
    if n2 <= 1e-12 * scale:
        raise ValueError(f"frequency j={j} spans a single direction in E: its plane is undefined")
    basis = torch.stack([u, w / n2], dim=1)
    return basis, C @ basis


def frequency_circles(E: torch.Tensor, top: int = 3) -> list[dict[str, float]]:
    """For the ``top`` frequencies j ≥ 1 carrying the most power of E
    (:func:`regimes.metrics.fourier.embedding_spectrum`): ``freq``, ``power_share`` (share of the
    centred E's power at j) and ``circle_score`` (of the projection on :func:`frequency_plane`: 1 for a
    perfect circle traversed once at frequency j), with ``circle_freq`` the frequency
    :func:`~regimes.metrics.fourier.circle_score` finds there. Strongest first."""
    E = _emb(E)
    p = E.shape[0]
    top = check_int("top", top, low=1, high=(p - 1) // 2)
    spec = embedding_spectrum(E - E.mean(dim=0))   # centred: shares of the non-constant power
    band = spec[1:(p - 1) // 2 + 1]
    order = torch.argsort(band, descending=True)[:top] + 1
    out = []
    for j in order.tolist():
        _, coords = frequency_plane(E, j)
        score, jj = circle_score(coords)
        out.append({"freq": int(j), "power_share": float(spec[j]), "circle_score": score, "circle_freq": int(jj)})
    return out


def token_angles(coords: torch.Tensor) -> np.ndarray:
    """Angle atan2(y, x) of each token's (x, y) coordinates (p, 2), in (−π, π]."""
    c = coords.detach().to(F64).cpu()
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"coords has shape {tuple(c.shape)}: expected (p, 2)")
    return torch.atan2(c[:, 1], c[:, 0]).numpy()


def circular_rank_correlation(theta_ref: np.ndarray, theta: np.ndarray) -> float:
    """Spearman correlation between the angular ranks of ``theta`` and ``theta_ref`` (both (p,)
    radians), maximised over the p cyclic shifts of ``theta``'s ranks: 1 when the tokens go round
    in the same cyclic order (same orientation), whatever the starting point.

    >>> round(circular_rank_correlation(np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.0, 3.0, -3.0, -2.0])), 6)
    1.0
    """
    a = np.asarray(theta_ref, dtype=float).reshape(-1)
    b = np.asarray(theta, dtype=float).reshape(-1)
    if a.shape != b.shape or a.size < 3 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"theta_ref and theta must be finite, of equal length >= 3; got {a.shape} and {b.shape}")
    p = a.size
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b))
    best = -1.0
    for s in range(p):
        r = ((rb + s) % p).astype(float)
        best = max(best, float(np.corrcoef(ra, r)[0, 1]))
    return best
