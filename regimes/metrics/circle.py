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
* :func:`mod2_degeneracy`, :func:`half_frequency`, :func:`sheet_masks` — the blog's "two
  degenerate circles": "the circle can be ordered modulo 2 in the first two principal
  components such that there are two degenerate circles on top of each other. But this
  multiplicity is broken in lower principal components." Relative to a fundamental frequency
  k (the token order r(n) = k·n mod p), a plane carrying frequency 2k shows the tokens at angle
  2·(2πr/p): the circle is traversed twice as r runs once round Z_p, the two halves of the
  k-order (the two "sheets" r < p/2 and r > p/2) each going round once, interleaved, on top of
  each other; on the plane of k itself the sheets are the two opposite half circles. Scores
  and their values for perfect circles (derived in :func:`mod2_degeneracy`) are in the
  function's docstring.

Embeddings are (p, d) real tensors, row a = token a. Bad input raises ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from regimes._validate import check_int
from regimes.metrics.fourier import _flat_rtol, circle_score, embedding_spectrum

__all__ = ["circular_rank_correlation", "frequency_circles", "frequency_plane", "half_frequency",
           "mod2_degeneracy", "once_around_separation", "pca_axes", "project", "sheet_masks", "token_angles"]

F64 = torch.float64


def _emb(E: object) -> torch.Tensor:
    if not isinstance(E, torch.Tensor) or E.ndim != 2 or E.shape[0] < 3 or E.shape[1] < 2:
        shape = tuple(E.shape) if isinstance(E, torch.Tensor) else type(E).__name__
        raise ValueError(f"E must be a (p, d) tensor with p >= 3 tokens and d >= 2, got {shape}")
    if E.is_complex() or not torch.isfinite(E).all():
        raise ValueError("E must be real and finite")
    return E.detach().to(F64).cpu()


def _centred(E: object) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``(E, C, rtol)``: ``E`` (p, d) in float64 after :func:`_emb`'s checks, ``C = E − Ē`` (the
    mean over tokens), and ``rtol`` = max(1e-12, 4·p·eps) (:func:`regimes.metrics.fourier._flat_rtol`,
    eps of the dtype ``E`` was given in), the relative size below which a direction of C is
    round-off. ``ValueError`` when C itself is round-off of E, ‖C‖_F ≤ 4·p·eps·‖E‖_F (every token
    has the same embedding up to round-off): the column means of equal rows can differ from them
    by an ulp, and a PCA axis, frequency plane or spectrum of that residue would be chosen by it."""
    given = E.dtype if isinstance(E, torch.Tensor) and E.dtype.is_floating_point else F64
    E64 = _emb(E)
    C = E64 - E64.mean(dim=0)
    p = E64.shape[0]
    if float(torch.linalg.matrix_norm(C)) <= 4 * p * torch.finfo(given).eps * float(torch.linalg.matrix_norm(E64)):
        raise ValueError("E has the same embedding for every token (up to round-off): "
                         "no direction, plane or spectrum of its centred layout is defined")
    return E64, C, _flat_rtol(E, p)


def pca_axes(E: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-``k`` principal axes of embeddings ``E`` (p, d): ``(axes (d, k) orthonormal,
    centre (d,))``. Each axis is signed so its largest-magnitude coordinate of the projected
    tokens is positive (deterministic). ``ValueError`` when E has fewer than ``k`` non-zero
    directions after centring: a direction counts when its singular value exceeds
    max(1e-12, 4·p·eps)·S[0], and a centred E within 4·p·eps·‖E‖_F of 0 (every token equal up
    to round-off) has none (eps of the dtype E was given in)."""
    E, C, rtol = _centred(E)
    k = check_int("k", k, low=1, high=min(E.shape))
    _, S, Vh = torch.linalg.svd(C, full_matrices=False)
    if float(S[k - 1]) <= rtol * float(S[0]) or float(S[0]) == 0.0:
        raise ValueError(f"E spans fewer than k={k} directions after centring: no {k}-D PCA plane")
    axes = Vh[:k].t().contiguous()
    coords = C @ axes
    idx = coords.abs().argmax(dim=0)
    sign = torch.sign(coords[idx, torch.arange(k)])
    return axes * torch.where(sign == 0, torch.ones_like(sign), sign), E.mean(dim=0)


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
    along Re F_j). ``ValueError`` for j out of range or a frequency with (numerically: at most
    max(1e-12, 4·p·eps) of ‖E − Ē‖_F, eps of E's dtype) no power, where no plane is defined,
    and for an E whose centred rows are round-off (‖E − Ē‖_F ≤ 4·p·eps·‖E‖_F: every token
    equal up to round-off)."""
    E, C, rtol = _centred(E)
    p = E.shape[0]
    j = check_int("j", j, low=1, high=(p - 1) // 2)
    a = torch.arange(p, dtype=F64)
    re = (torch.cos(2 * math.pi * j * a / p)[:, None] * C).sum(dim=0)
    im = -(torch.sin(2 * math.pi * j * a / p)[:, None] * C).sum(dim=0)
    scale = float(torch.linalg.matrix_norm(C))
    n1 = float(re.norm())
    if n1 <= rtol * scale:
        re, im = im, re
        n1 = float(re.norm())
    if n1 <= rtol * scale:
        raise ValueError(f"frequency j={j} carries no power in E: its plane is undefined")
    u = re / n1
    w = im - (im @ u) * u
    n2 = float(w.norm())
    if n2 <= rtol * scale:
        raise ValueError(f"frequency j={j} spans a single direction in E: its plane is undefined")
    basis = torch.stack([u, w / n2], dim=1)
    return basis, C @ basis


def frequency_circles(E: torch.Tensor, top: int = 3) -> list[dict[str, float]]:
    """For the ``top`` frequencies j ≥ 1 carrying the most power of E
    (:func:`regimes.metrics.fourier.embedding_spectrum`): ``freq``, ``power_share`` (share of the
    centred E's power at j) and ``circle_score`` (of the projection on :func:`frequency_plane`: 1 for a
    perfect circle traversed once at frequency j), with ``circle_freq`` the frequency
    :func:`~regimes.metrics.fourier.circle_score` finds there. Strongest first. ``ValueError``
    when every token has the same embedding up to round-off (‖E − Ē‖_F ≤ 4·p·eps·‖E‖_F): the
    centred spectrum would be that of the residue."""
    E, C, _ = _centred(E)
    p = E.shape[0]
    top = check_int("top", top, low=1, high=(p - 1) // 2)
    spec = embedding_spectrum(C)   # centred: shares of the non-constant power
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
    # both rank vectors are permutations of 0..p−1 (argsort of argsort breaks ties by position), so
    # every shifted ranking has the same mean (p − 1)/2 and variance: Pearson's r is a dot product
    mu = (p - 1) / 2
    ra = np.argsort(np.argsort(a)).astype(float) - mu
    rb = np.argsort(np.argsort(b))
    shifted = (rb[None, :] + np.arange(p)[:, None]) % p - mu          # (p shifts, p tokens)
    return float(np.max(shifted @ ra) / (ra @ ra))


# =========================================================================== two degenerate circles (mod 2)
def _odd_p(p: int) -> int:
    if p % 2 == 0:
        raise ValueError(f"p={p} is not allowed: the mod-2 degeneracy needs an odd p (then n -> 2n is a "
                         "bijection of Z_p and every frequency is the double of exactly one other)")
    return p


def _k(k: object, p: int, name: str = "k") -> int:
    return check_int(name, k, low=1, high=p // 2)


def _fold(j: int, p: int) -> int:
    j %= p
    return min(j, p - j)


def half_frequency(j: int, p: int) -> int:
    """The frequency k in 1..⌊p/2⌋ whose double is ``j`` (2k ≡ ±j mod p), for an odd ``p`` ≥ 3:
    k = j·(p + 1)/2 mod p, folded. ``ValueError`` for an even p or j outside 1..⌊p/2⌋.

    >>> half_frequency(6, 13), half_frequency(3, 13)
    (3, 5)
    """
    p = _odd_p(check_int("p", p, low=3))
    j = _k(j, p, "j")
    return _fold(j * (p + 1) // 2, p)


def sheet_masks(p: int, k: int) -> np.ndarray:
    """The two sheets of the k-order on Z_p (odd ``p`` ≥ 3, ``k`` in 1..⌊p/2⌋): a boolean (p,)
    array, True for the tokens n with r = k·n mod p ≤ (p − 1)/2 (sheet 0, (p + 1)/2 tokens), False
    for r ≥ (p + 1)/2 (sheet 1, (p − 1)/2 tokens). On a circle of frequency 2k each sheet goes
    round once, the two interleaved; on the circle of frequency k they are opposite halves."""
    p = _odd_p(check_int("p", p, low=3))
    k = _k(k, p)
    return (k * np.arange(p)) % p <= (p - 1) // 2


def once_around_separation(p: int) -> float:
    """The sheet separation (see :func:`mod2_degeneracy`) of a unit circle traversed once in the
    k-order, z_n = e^{2πi·kn/p}, for odd ``p``: (1/m + 1/(m − 1)) / (2 sin(π/(2p))), m = (p + 1)/2
    (→ 4/π for large p). Derivation: Σ_{r=0}^{m−1} e^{2πir/p} has modulus
    sin(πm/p)/sin(π/p) = 1/(2 sin(π/(2p))), and the other sheet's sum is its negative."""
    p = _odd_p(check_int("p", p, low=3))
    m = (p + 1) // 2
    return (1 / m + 1 / (m - 1)) / (2 * math.sin(math.pi / (2 * p)))


def _plane_scores(xy: torch.Tensor, k: int, sheet0: np.ndarray) -> dict[str, object]:
    """Scores of one planar layout xy (p, 2) against the fundamental k (see mod2_degeneracy)."""
    p = xy.shape[0]
    z = torch.complex(xy[:, 0], xy[:, 1])
    z = z - z.mean()
    n = torch.arange(p, dtype=F64)
    rms2 = float((z.abs() ** 2).mean())
    if rms2 <= 0.0:
        return {"circle_k": math.nan, "circle_2k": math.nan, "sheet_circle_2k": [math.nan, math.nan],
                "separation": math.nan}

    def coherence(j: int, mask: torch.Tensor) -> float:
        zs, ns = z[mask], n[mask]
        den = float(mask.sum()) * float((zs.abs() ** 2).sum())
        if den <= 0.0:
            return math.nan
        best = 0.0
        for sign in (1.0, -1.0):
            ph = torch.exp(torch.complex(torch.zeros_like(ns), -sign * 2 * math.pi * j * ns / p))
            best = max(best, float((zs * ph).sum().abs() ** 2) / den)
        return best

    every = torch.ones(p, dtype=torch.bool)
    s0 = torch.as_tensor(sheet0)
    sep = float((z[s0].mean() - z[~s0].mean()).abs()) / math.sqrt(rms2)
    return {"circle_k": coherence(k, every), "circle_2k": coherence(2 * k, every),
            "sheet_circle_2k": [coherence(2 * k, s0), coherence(2 * k, ~s0)],
            "separation": sep / once_around_separation(p)}


def mod2_degeneracy(E: torch.Tensor, k: int) -> dict[str, object]:
    """The blog's "two degenerate circles on top of each other" ("Some thoughts on Grokking":
    the circle "ordered modulo 2 in the first two principal components … this multiplicity is
    broken in lower principal components"), measured for embeddings ``E`` (p, d), odd p ≥ 5,
    d ≥ 2, against a fundamental frequency ``k`` in 1..⌊p/2⌋.

    With r(n) = k·n mod p the token order at frequency k, the two sheets are r < p/2 and
    r > p/2 (:func:`sheet_masks`). On a planar layout z_n (complex, centred over all tokens):

    * ``circle_k``, ``circle_2k`` — the circle coherence at frequency j of all tokens,
      max over orientation of |Σ_n z_n e^{∓2πijn/p}|² / (p Σ_n |z_n|²): the share of the
      layout's power on one rotating phasor, 1 for a perfect circle at j (as
      :func:`regimes.metrics.fourier.circle_score`), 0 for a circle at another frequency.
    * ``sheet_circle_2k`` — the same at 2k for each sheet alone (|S| in place of p): each sheet
      scored as a circle. 1 for every subset of a perfect 2k circle; below 1 where the sheets
      deviate from a common 2k circle (e.g. a k component shifting them apart).
    * ``separation`` — |mean of sheet 0 − mean of sheet 1| / rms radius, divided by its value
      for a once-around circle (:func:`once_around_separation`): ≈ 1 when the sheets are opposite
      half circles (the k circle: the multiplicity broken), ≈ 0 when they lie on top of each
      other. For a perfect 2k circle it is exactly sin(π/(2p)) / cos(π/p) (≈ π/(2p)): the sheet
      sums Σ_{r=0}^{m−1} e^{4πir/p} have modulus sin(π/p)/sin(2π/p) = 1/(2 cos(π/p)).

    Returns ``p``, ``k``, ``double`` (2k folded to 1..⌊p/2⌋), ``power_share_k`` and
    ``power_share_2k`` (shares of the centred E's power at k and at 2k,
    :func:`regimes.metrics.fourier.embedding_spectrum`), ``pca_frequency`` (the frequency
    :func:`~regimes.metrics.fourier.circle_score` finds in the top-2 PCA plane) and the scores on
    three planes: ``pca`` (top-2 principal components), ``lower_pca`` (components 3–4; ``None``
    when E has fewer than 4 directions) and ``base`` (the plane of k itself,
    :func:`frequency_plane`; ``None`` when k carries no power). The blog's picture is: ``pca``
    with circle_2k ≈ 1, circle_k ≈ 0, separation ≈ 0 (two circles on top of each other) and
    ``base`` (or ``lower_pca``) with separation ≈ 1 (broken). For odd p the parity classes
    n mod 2 are not the two circles: in the k-order a parity class winds twice round the 2k
    circle (r = 2s sits at angle 2π·4s/p, s = 0..(p − 1)/2); the halves of the k-order are.

    ``ValueError`` for E not (p, d) real finite with p ≥ 5 odd and d ≥ 2, for k outside
    1..⌊p/2⌋, or for an E with fewer than 2 directions (no PCA plane; an E whose tokens all
    share one embedding up to round-off, ‖E − Ē‖_F ≤ 4·p·eps·‖E‖_F, has none).
    """
    p = _emb(E).shape[0]
    if p < 5:
        raise ValueError(f"E has p={p} rows: the mod-2 degeneracy needs p >= 5 tokens (odd)")
    _odd_p(p)
    k = _k(k, p)
    given = E   # pca_axes and frequency_plane judge round-off in the dtype E was given in
    E, C, _ = _centred(given)
    sheet0 = sheet_masks(p, k)
    spec = embedding_spectrum(C)
    double = _fold(2 * k, p)
    axes, c = pca_axes(given, 2)
    xy = project(E, axes, c)
    out: dict[str, object] = {"p": p, "k": k, "double": double, "power_share_k": float(spec[k]),
                              "power_share_2k": float(spec[double]), "pca_frequency": circle_score(xy)[1],
                              "pca": _plane_scores(xy, k, sheet0), "lower_pca": None, "base": None}
    if E.shape[1] >= 4:
        try:
            ax4, c4 = pca_axes(given, 4)
            out["lower_pca"] = _plane_scores(project(E, ax4[:, 2:], c4), k, sheet0)
        except ValueError:   # fewer than 4 directions: no components 3-4
            out["lower_pca"] = None
    try:
        out["base"] = _plane_scores(frequency_plane(given, k)[1], k, sheet0)
    except ValueError:
        out["base"] = None
    return out
