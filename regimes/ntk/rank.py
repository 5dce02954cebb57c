"""The rank of the empirical NTK on distinct regression triples (Thm 3.1, Prop B.3, B.4, B.6).

Thm 3.1: ``rank K_θ ≤ min(n, 3ph)``, so the eNTK on ``n`` distinct triples is singular
whenever ``h < n/(3p)``; Prop B.3: ``λ_min(E_W K) ≥ 4hσ_W⁴`` given V; Prop B.4: a width
``h > (4 s_W⁴/σ_W⁴) ρ_c log(n/δ)`` (:func:`regimes.bounds.prop_b4_sufficient_width`)
makes K_θ full rank with probability ``≥ 1 − δ``, with ``ρ_c`` the count of the most
frequent output index (:func:`rho_c`).

Numerical rank: an eigenvalue of the symmetric float64 Gram counts as non-zero when it
exceeds ``n · eps · λ_max`` (eps = 2.2e-16): the round-off in the eigenvalues of an
n×n symmetric matrix is of order n·eps·‖K‖, and this is the cutoff numpy's
``matrix_rank`` and :func:`regimes.kernels.kernel_regression` use, so "full rank" here is
exactly "the ridgeless solver inverts every direction". Used by check C8 and experiment 02.
"""

from __future__ import annotations

import numpy as np
import torch

from regimes._validate import check_int
from regimes.models.quadratic import QuadraticNet, init_moments
from regimes.ntk.closed_form import expected_ntk, regression_ntk
from regimes.tasks import Task, sample_split

__all__ = ["RANK_RTOL_PER_POINT", "distinct_triples", "numerical_rank", "rank_sweep", "rho_c"]

F64 = torch.float64

#: Relative eigenvalue cutoff of the numerical rank: λ counts iff λ > n·eps·λ_max.
RANK_RTOL_PER_POINT = torch.finfo(F64).eps


def numerical_rank(K: torch.Tensor) -> tuple[int, torch.Tensor, float]:
    """``(rank, ascending eigenvalues, cutoff)`` of a symmetric PSD Gram ``K`` (n, n), in
    float64; an eigenvalue counts iff it exceeds the cutoff ``n·eps·λ_max``.

    Raises ``ValueError`` if ``K`` is not a square 2-D tensor.

    Examples
    --------
    >>> r, s, cut = numerical_rank(torch.ones(3, 3, dtype=torch.float64))   # 11ᵀ has rank 1
    >>> r
    1
    """
    if not isinstance(K, torch.Tensor) or K.ndim != 2 or K.shape[0] != K.shape[1]:
        shape = tuple(K.shape) if isinstance(K, torch.Tensor) else type(K).__name__
        raise ValueError(f"K must be a square (n, n) tensor, got {shape}")
    s = torch.linalg.eigvalsh(0.5 * (K + K.t()).to(F64))
    cut = K.shape[0] * RANK_RTOL_PER_POINT * max(float(s[-1]), 0.0)
    return int((s > cut).sum()), s, cut


def distinct_triples(p: int, n: int, seed: int) -> torch.Tensor:
    """``n`` distinct regression triples (a, b, c) of Z_p, drawn without replacement with
    ``seed``: int64 (n, 3). ``ValueError`` unless ``1 <= n <= p³``."""
    return sample_split(Task(p, "regression"), n=n, replace=False, seed=seed).train.x


def rho_c(x: torch.Tensor) -> int:
    """ρ_c of Prop B.4: the count of the most frequent output index c among the triples
    ``x`` (n, 3); ``ceil(n/p) <= ρ_c <= n``.

    Examples
    --------
    >>> rho_c(torch.tensor([[0, 0, 1], [1, 0, 1], [0, 1, 2]]))
    2
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != 3 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a non-empty (n, 3) tensor of triples, got {shape}")
    return int(torch.bincount(x[:, 2]).max())


def rank_sweep(p: int, n: int, widths: list[int], trials: int, *, seed: int = 0,
               dist: str = "uniform") -> dict[str, np.ndarray]:
    """eNTK rank and λ_min on ``n`` distinct triples for each width ``h`` in ``widths``
    (Thm 3.1, Prop B.3, B.6).

    Returns arrays over (width, trial): ``rank``, ``lam_min`` (of K_θ), ``lam_max``,
    ``cutoff`` (the rank tolerance), ``lam_min_expected`` (λ_min of E_W K given the
    trial's V, Prop B.3); and ``widths`` (the h values), ``bound_expected`` = 4hσ_W⁴ per
    width, ``x`` the triples. Nets: ``QuadraticNet.init(p, h, dist=dist)`` with seed
    ``seed·100003 + 1009·i + t`` for width index i and trial t.
    """
    check_int("trials", trials, low=1)
    for h in widths:
        check_int("widths entry", h, low=1)
    x = distinct_triples(p, n, seed)
    wm = init_moments(dist, 2 * p)
    W_, T_ = len(widths), trials
    res = {k: np.zeros((W_, T_)) for k in ("rank", "lam_min", "lam_max", "cutoff", "lam_min_expected")}
    for i, h in enumerate(widths):
        for t in range(trials):
            net = QuadraticNet.init(p, h, dist=dist, seed=seed * 100_003 + 1009 * i + t)
            K = regression_ntk(net.W, net.V, x)
            r, s, cut = numerical_rank(K)
            EK = expected_ntk(x, p=p, h=h, w_moments=wm, kind="regression", V=net.V)
            res["rank"][i, t] = r
            res["lam_min"][i, t] = float(s[0])
            res["lam_max"][i, t] = float(s[-1])
            res["cutoff"][i, t] = cut
            res["lam_min_expected"][i, t] = float(torch.linalg.eigvalsh(EK)[0])
    res["widths"] = np.array(widths)
    res["bound_expected"] = 4.0 * np.array(widths) * wm.sigma2**2
    res["x"] = x.numpy()
    return res
