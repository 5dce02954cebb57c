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
    pca_axes,
    project,
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
    with pytest.raises(ValueError, match="fewer than k"):
        pca_axes(torch.ones(7, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="E must be"):
        pca_axes(torch.ones(7))
