"""The embedding-circle measures of experiment 19 (:mod:`regimes.metrics.circle`), on synthetic
embeddings whose circles are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from regimes.metrics.circle import (
    circular_rank_correlation,
    frequency_circles,
    frequency_plane,
    half_frequency,
    mod2_degeneracy,
    once_around_separation,
    pca_axes,
    project,
    sheet_masks,
    token_angles,
)
from regimes.metrics.fourier import circle_score


def _orthonormal(d: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, k, generator=g, dtype=torch.float64))
    return q


def _two_circles(p: int = 23, d: int = 12, j1: int = 3, j2: int = 7, r1: float = 2.0, r2: float = 1.0):
    """E[a] = c + r1 (u1 cos θ1 + v1 sin θ1) + r2 (u2 cos θ2 + v2 sin θ2), θi = 2π ji a / p, with
    u1, v1, u2, v2 orthonormal: two circles at frequencies j1, j2 in orthogonal planes."""
    Q = _orthonormal(d, 4, 0)
    a = torch.arange(p, dtype=torch.float64)[:, None]
    t1, t2 = 2 * math.pi * j1 * a / p, 2 * math.pi * j2 * a / p
    E = 5.0 + r1 * (torch.cos(t1) * Q[:, 0] + torch.sin(t1) * Q[:, 1]) \
        + r2 * (torch.cos(t2) * Q[:, 2] + torch.sin(t2) * Q[:, 3])
    return E, Q


def test_frequency_planes_separate_two_circles() -> None:
    E, Q = _two_circles()
    for j, cols in ((3, [0, 1]), (7, [2, 3])):
        basis, coords = frequency_plane(E, j)
        # the plane found is the circle's plane: equal orthogonal projectors
        torch.testing.assert_close(basis @ basis.t(), Q[:, cols] @ Q[:, cols].t(), atol=1e-12, rtol=0)
        score, freq = circle_score(coords)
        assert score == pytest.approx(1.0, abs=1e-12) and freq == j
    fc = frequency_circles(E, 2)
    assert [f["freq"] for f in fc] == [3, 7]          # the larger circle carries more power
    assert fc[0]["power_share"] == pytest.approx(4 / 5) and fc[1]["power_share"] == pytest.approx(1 / 5)
    assert all(f["circle_score"] == pytest.approx(1.0, abs=1e-12) for f in fc)


def test_pca_axes_are_the_top_covariance_eigenvectors() -> None:
    E, _ = _two_circles(r1=2.0, r2=1.0)
    axes, centre = pca_axes(E, 2)
    torch.testing.assert_close(axes.t() @ axes, torch.eye(2, dtype=torch.float64), atol=1e-12, rtol=0)
    C = (E - E.mean(0)).numpy()
    w, V = np.linalg.eigh(C.T @ C)
    top = V[:, np.argsort(w)[::-1][:2]]
    np.testing.assert_allclose(axes.numpy() @ axes.numpy().T, top @ top.T, atol=1e-10)
    # the top-2 plane is the larger circle's: a perfect circle at frequency 3 there
    score, freq = circle_score(project(E, axes, centre))
    assert score == pytest.approx(1.0, abs=1e-10) and freq == 3


def test_tokens_with_one_embedding_up_to_round_off_have_no_axis_plane_or_spectrum() -> None:
    """p equal rows c centre to exactly 0, but the column means can differ from c by an ulp, and
    pca_axes(E, 1) used to return a unit axis spanned by that residue (its S[0] ~ 5e-16 passed the
    relative test against itself). Equal rows, rows one float64 ulp apart and float32 rows one
    float32 ulp apart now raise in every function that centres E; a genuine circle of radius
    1e-9 on the same offset keeps its plane (the circle's own projector, built independently)."""
    p, d = 11, 4
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):
        E = torch.randn(d, generator=gen, dtype=torch.float64).repeat(p, 1)
        E_ulp = E.clone()
        E_ulp[::2, 0] = torch.nextafter(E_ulp[::2, 0], torch.tensor(math.inf, dtype=torch.float64))
        E32 = E.float()
        E32[::3, 1] = torch.nextafter(E32[::3, 1], torch.tensor(math.inf))
        for X in (E, E_ulp, E32):
            for call in (lambda X=X: pca_axes(X, 1), lambda X=X: frequency_plane(X, 2),
                         lambda X=X: frequency_circles(X, 2), lambda X=X: mod2_degeneracy(X, 1)):
                with pytest.raises(ValueError, match="same embedding for every token"):
                    call()
    Q = _orthonormal(d, 2, 1)
    a = torch.arange(p, dtype=torch.float64)[:, None]
    t = 2 * math.pi * 2 * a / p
    E = 0.7 + 1e-9 * (torch.cos(t) * Q[:, 0] + torch.sin(t) * Q[:, 1])
    axes, _ = pca_axes(E, 2)
    basis, _ = frequency_plane(E, 2)
    for B in (axes, basis):
        torch.testing.assert_close(B @ B.t(), Q @ Q.t(), atol=1e-6, rtol=0)


def test_a_float32_line_has_no_second_principal_axis() -> None:
    """Tokens on a line (a cosine wave along one direction) span one direction; stored in
    float32 their rounding adds a second direction of relative size ~1e-8, which passed the
    float64-only 1e-12 test, and pca_axes(E, 2) returned a plane whose second axis was that
    rounding. Now the threshold is max(1e-12, 4·p·eps) in E's dtype: the line is refused in
    both precisions, and a float32 circle keeps its plane (the circle's own projector)."""
    p = 11
    t = 2 * math.pi * 3 * torch.arange(p, dtype=torch.float64) / p
    u = torch.tensor([1.0, 0.37, -0.2, 0.5], dtype=torch.float64)
    line = torch.tensor([0.3, 0.7, 1.1, -0.37], dtype=torch.float64) + torch.outer(t.cos(), u)
    for E in (line, line.float()):
        with pytest.raises(ValueError, match="fewer than k=2"):
            pca_axes(E, 2)
    Q = _orthonormal(4, 2, 5)
    ring = (0.5 + torch.cos(t)[:, None] * Q[:, 0] + torch.sin(t)[:, None] * Q[:, 1]).float()
    axes, _ = pca_axes(ring, 2)
    torch.testing.assert_close(axes @ axes.t(), Q @ Q.t(), atol=1e-6, rtol=0)


def test_circular_rank_correlation() -> None:
    p = 12
    theta = np.linspace(-math.pi, math.pi, p, endpoint=False)
    rotated = np.angle(np.exp(1j * (theta + 1.3)))          # same cyclic order, another cut
    assert circular_rank_correlation(theta, rotated) == pytest.approx(1.0)
    reversed_ = -theta                                      # opposite orientation: not the same order
    assert circular_rank_correlation(theta, reversed_) < 1 - 1e-9
    # one adjacent swap costs 1 − 6·2/(p(p²−1)) in Spearman's ρ (Σd² = 2)
    swapped = theta.copy()
    swapped[[4, 5]] = swapped[[5, 4]]
    assert circular_rank_correlation(theta, swapped) == pytest.approx(1 - 12 / (p * (p * p - 1)))
    with pytest.raises(ValueError, match="equal length"):
        circular_rank_correlation(theta, theta[:5])


def test_token_angles_and_bad_input() -> None:
    xy = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    np.testing.assert_allclose(token_angles(xy), [0.0, math.pi / 2, math.pi, -math.pi / 2])
    E, _ = _two_circles(p=23)
    for j in (0, 12):
        with pytest.raises(ValueError, match="j="):
            frequency_plane(E, j)
    with pytest.raises(ValueError, match="no power"):
        frequency_plane(E, 5)                 # frequency 5 is absent from E
    with pytest.raises(ValueError, match="same embedding for every token"):
        pca_axes(torch.ones(7, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="fewer than k"):   # tokens on one line: a single direction
        pca_axes(torch.outer(torch.arange(7, dtype=torch.float64), torch.ones(4, dtype=torch.float64)))
    with pytest.raises(ValueError, match="E must be"):
        pca_axes(torch.ones(7))


# ----------------------------------------------------------------------------- two degenerate circles (mod 2)
def _doubled(p: int, k: int, a: float, c: float, b: float, d: int = 6, seed: int = 1) -> torch.Tensor:
    """E[n] = 3 + a (u cos 2θ + v sin 2θ) + c (u cos θ + v sin θ) + b (x cos θ + y sin θ), θ = 2πkn/p,
    u, v, x, y orthonormal in R^d: a circle at 2k (radius a) in one plane, optionally with a k
    component (radius c) in the same plane, and the k circle (radius b) in an orthogonal plane."""
    Q = _orthonormal(d, min(d, 4), seed)
    t = 2 * math.pi * k * torch.arange(p, dtype=torch.float64)[:, None] / p
    E = 3.0 + a * (torch.cos(2 * t) * Q[:, 0] + torch.sin(2 * t) * Q[:, 1]) \
        + c * (torch.cos(t) * Q[:, 0] + torch.sin(t) * Q[:, 1])
    return E + b * (torch.cos(t) * Q[:, 2] + torch.sin(t) * Q[:, 3]) if b else E


def _G(j: int, p: int) -> complex:
    """Σ_{r=0}^{m−1} e^{2πijr/p}, m = (p+1)/2, by the geometric-series closed form
    e^{iπj(m−1)/p} sin(πjm/p) / sin(πj/p)."""
    m = (p + 1) // 2
    return complex(np.exp(1j * math.pi * j * (m - 1) / p) * math.sin(math.pi * j * m / p) / math.sin(math.pi * j / p))


def test_sheets_and_half_frequency_by_hand() -> None:
    # p = 7, k = 3: r = 3n mod 7 = 0, 3, 6, 2, 5, 1, 4 for n = 0..6; sheet 0 is r <= 3
    assert sheet_masks(7, 3).tolist() == [True, True, False, True, False, True, False]
    for p in (5, 13, 53):
        for k in range(1, p // 2 + 1):
            assert sheet_masks(p, k).sum() == (p + 1) // 2
            j = min(2 * k % p, p - 2 * k % p)
            assert half_frequency(j, p) == k          # brute force: 2k ≡ ±j (mod p)
    # p = 5: m = 3, (1/3 + 1/2) / (2 sin(π/10)) = (5/6) / 0.6180340 = 1.3483616
    assert once_around_separation(5) == pytest.approx((5 / 6) / (2 * math.sin(math.pi / 10)), rel=1e-14)
    assert once_around_separation(5) == pytest.approx(1.3483616, abs=1e-7)
    assert once_around_separation(100_001) == pytest.approx(4 / math.pi, rel=1e-4)


@pytest.mark.parametrize("p,k", [(13, 3), (13, 5), (53, 7)])   # 2·5 = 10 ≡ −3 (mod 13): folded, reversed
def test_a_doubled_circle_is_two_circles_on_top_of_each_other(p: int, k: int) -> None:
    """Circle at 2k (radius 2) in one plane, circle at k (radius 1) in an orthogonal one. By hand:
    the top-2 PCA plane is the 2k plane (variance 2²/2 > 1²/2 per axis), where the circle
    coherence is 1 at 2k and 0 at k (orthogonality of characters, 3k, k ≢ 0), each sheet alone is
    a perfect 2k circle (coherence 1), and the sheets' centres are |G₂|(1/m + 1/(m−1)) apart with
    |G₂| = sin(π/p)/sin(2π/p): separation sin(π/(2p))/cos(π/p) of the once-around value. On the k
    plane (= components 3–4) the sheets are opposite half circles: separation 1. Power shares
    4/5 and 1/5."""
    r = mod2_degeneracy(_doubled(p, k, a=2.0, c=0.0, b=1.0), k)
    double = min(2 * k % p, p - 2 * k % p)
    assert (r["k"], r["double"], r["pca_frequency"]) == (k, double, double)
    assert r["power_share_2k"] == pytest.approx(0.8, abs=1e-12)
    assert r["power_share_k"] == pytest.approx(0.2, abs=1e-12)
    top = r["pca"]
    assert top["circle_2k"] == pytest.approx(1.0, abs=1e-12)
    assert top["circle_k"] == pytest.approx(0.0, abs=1e-12)
    assert top["sheet_circle_2k"] == pytest.approx([1.0, 1.0], abs=1e-12)
    assert top["separation"] == pytest.approx(math.sin(math.pi / (2 * p)) / math.cos(math.pi / p), rel=1e-10)
    for name in ("base", "lower_pca"):
        low = r[name]
        assert low["circle_k"] == pytest.approx(1.0, abs=1e-12)
        assert low["circle_2k"] == pytest.approx(0.0, abs=1e-12)
        assert low["separation"] == pytest.approx(1.0, rel=1e-10)


def test_a_once_around_circle_is_not_degenerate() -> None:
    """A single circle at k (d = 2): the PCA plane is the k plane, separation 1 (opposite half
    circles), coherence 1 at k and 0 at 2k; no components 3–4."""
    r = mod2_degeneracy(_doubled(13, 4, a=0.0, c=1.5, b=0.0, d=2), 4)
    assert r["pca_frequency"] == 4 and r["lower_pca"] is None
    assert r["pca"]["separation"] == pytest.approx(1.0, rel=1e-10)
    assert r["pca"]["circle_k"] == pytest.approx(1.0, abs=1e-12)
    assert r["pca"]["circle_2k"] == pytest.approx(0.0, abs=1e-12)
    assert r["base"]["separation"] == pytest.approx(1.0, rel=1e-10)


@pytest.mark.parametrize("c", [0.0, 0.3, 1.0, 3.0])
def test_a_k_component_splits_the_two_circles(c: float) -> None:
    """z_n = a e^{2iθ} + c e^{iθ} in one plane (θ = 2πr/p): by linearity the sheets' centres differ
    by (a G₂ + c G₁)(1/m + 1/(m−1)), so the separation is |a G₂ + c G₁| / (|G₁| √(a² + c²)), with G_j
    the half-sums in closed form (:func:`_G`); the coherences are a²/(a² + c²) at 2k and
    c²/(a² + c²) at k; sheet 0's coherence at 2k is |m a + c conj(G₁)|² / (m (m(a² + c²) +
    2ac Re G₁))."""
    p, k, a = 13, 3, 1.0
    r = mod2_degeneracy(_doubled(p, k, a=a, c=c, b=0.0, d=3), k)["pca"]
    G1, G2 = _G(1, p), _G(2, p)
    m = (p + 1) // 2
    assert r["separation"] == pytest.approx(abs(a * G2 + c * G1) / (abs(G1) * math.hypot(a, c)), rel=1e-10)
    assert r["circle_2k"] == pytest.approx(a * a / (a * a + c * c), abs=1e-12)
    assert r["circle_k"] == pytest.approx(c * c / (a * a + c * c), abs=1e-12)
    s0 = abs(m * a + c * G1.conjugate()) ** 2 / (m * (m * (a * a + c * c) + 2 * a * c * G1.real))
    assert r["sheet_circle_2k"][0] == pytest.approx(s0, rel=1e-10)


def test_mod2_bad_input() -> None:
    E = _doubled(13, 3, 2.0, 0.0, 1.0)
    for bad in (0, 7, -1, 2.5):
        with pytest.raises(ValueError, match="k"):
            mod2_degeneracy(E, bad)
    with pytest.raises(ValueError, match="odd"):
        mod2_degeneracy(torch.randn(12, 4, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="p >= 5"):
        mod2_degeneracy(torch.randn(3, 4, dtype=torch.float64), 1)
    with pytest.raises(ValueError, match="E must be"):
        mod2_degeneracy(torch.randn(13, dtype=torch.float64), 1)
    with pytest.raises(ValueError, match="j"):
        half_frequency(7, 13)
    with pytest.raises(ValueError, match="odd"):
        sheet_masks(12, 1)
