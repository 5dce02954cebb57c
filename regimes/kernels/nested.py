"""Nested-Cholesky training-size sweeps of kernel predictors (experiments 03–04 and the
benchmark): every training size n of one draw solved from one kernel build and one factor.

One sweep = one (p, kernel, trial): draw one i.i.d. sequence of ``n_max``
training points (the theory's sampling, Thm 3.4 / 4.3), build the kernel
**once** over the population (the union of every training set and the
evaluation points), factor the Gram of the sequence **once**
(:class:`~regimes.kernels.NestedKernelRegression`: the Cholesky factor of the
largest Gram contains those of all its prefixes), and evaluate every ``n`` on
the grid as a prefix of that sequence. ``nested=False`` re-solves each n from
scratch (kernel slice + eigendecomposition) — the baseline of
``benchmarks/bench_kernels.py``; both give the same predictions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from regimes._validate import check_choice, check_int, check_seed
from regimes.kernels.builders import full_ntk_apply, kernel_gram
from regimes.kernels.population import (
    classification_l2_ratio,
    classification_labels,
    regression_l2_ratio,
    regression_targets,
    regression_zero_one_error,
    zero_one_error,
)
from regimes.kernels.regression import NestedKernelRegression, kernel_regression, matrix_kernel_regression
from regimes.models.quadratic import QuadraticNet
from regimes.ntk import full_ntk
from regimes.stats import roundoff_spread
from regimes.tasks import Dataset, Task, all_points, clean_pair_mask

F64 = torch.float64

REGRESSION_KERNELS = ("entk", "expected_ntk", "relu_ntk", "quad_ntk", "rbf")
CLASSIFICATION_KERNELS = ("entk_shared", "entk_full", "expected_ntk", "relu_ntk", "relu_nngp", "quad_ntk",
                          "quad_nngp", "rbf")

__all__ = ["CLASSIFICATION_KERNELS", "REGRESSION_KERNELS", "SweepResult", "classification_sweep",
           "grid_sizes", "regression_sweep"]


@dataclass
class SweepResult:
    """Per-n metrics of one sweep (lists aligned with ``n``) and timings in seconds.

    ``population_l2_ratio``: population ℓ2 loss over the zero predictor's (all points,
    training points included: the quantity of Thm 3.4 / 4.3); ``population_acc``: accuracy
    over the whole population (regression: argmax_c over all p² pairs), training points
    included, so it rises by memorisation alone; ``acc_heldout``: accuracy on the held-out
    points only (:func:`regimes.tasks.clean_pair_mask`: classification, the pairs not in the
    training set; regression, the pairs whose labelled triple (a, b, (a+b) mod p) is not),
    NaN when there are none.
    """

    n: list[int]
    population_l2_ratio: list[float]
    population_acc: list[float]
    acc_heldout: list[float]
    build_s: float
    solve_s: float
    stats: dict[str, int]

    @property
    def l2_ratio(self) -> list[float]:
        """Old name of :attr:`population_l2_ratio` (kept for ``benchmarks/bench_kernels.py``)."""
        return self.population_l2_ratio


def grid_sizes(N: int, fractions: list[float]) -> list[int]:
    """Training sizes ``round(f·N)`` (at least 1), sorted and deduplicated."""
    N = check_int("N", N, low=1)
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions={fractions!r}: need a non-empty list of values in (0, 1]")
    return sorted({max(1, round(f * N)) for f in fractions})


def _draw(N: int, n_max: int, seed: int) -> torch.Tensor:
    return torch.randint(N, (n_max,), generator=torch.Generator().manual_seed(check_seed("seed", seed)))


def regression_sweep(p: int, kernel: str, fractions: list[float], *, seed: int = 0, width: int = 256,
                     prior_mean: bool = True, nested: bool = True) -> SweepResult:
    """Ridgeless regression on n i.i.d. triples for every n = f·p³ on the grid (Thm 3.4 setting).

    ``kernel`` ∈ :data:`REGRESSION_KERNELS`; ``entk`` uses a fresh
    ``QuadraticNet.init(p, width, seed=seed)`` and (``prior_mean``) its output
    f₀ as the prior mean. Metrics (see :class:`SweepResult`): population loss / p,
    population accuracy of ``argmax_c`` over all pairs, and held-out accuracy over the
    clean pairs (those whose labelled triple (a, b, a+b) is not in the training set).
    """
    p = check_int("p", p, low=4)
    check_choice("kernel", kernel, REGRESSION_KERNELS)
    N = p**3
    sizes = grid_sizes(N, fractions)
    pts = all_points(p, 3)
    y = regression_targets(p)
    idx = _draw(N, sizes[-1], seed)
    t0 = time.perf_counter()
    net = QuadraticNet.init(p, width, seed=seed) if kernel == "entk" else None
    K_pop = kernel_gram(kernel, pts, p=p, net=net, h=width)
    f0 = net.regression(pts).to(F64) if (net is not None and prior_mean) else None
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    task = Task(p, "regression")
    pairs = task.pair_task().population().x  # the p² pairs, in the order of pred.reshape(p², p)
    out = SweepResult([], [], [], [], build, 0.0, {})
    if nested:
        solver = NestedKernelRegression(K_pop[idx][:, idx], y[idx], K_eval=K_pop[:, idx], keys=idx,
                                        prior_union=None if f0 is None else f0[idx], prior_eval=f0)
    for n in sizes:
        s = idx[:n]
        if nested:
            pred = solver.predict(n)
        else:
            pred = kernel_regression(K_pop[s][:, s], y[s], K_pop[:, s],
                                     prior_train=None if f0 is None else f0[s], prior_test=f0)
        held = clean_pair_mask(Dataset(task, pts[s], y[s]), pairs)  # labelled triple never trained on
        out.n.append(n)
        out.population_l2_ratio.append(regression_l2_ratio(pred, p))
        out.population_acc.append(1 - regression_zero_one_error(pred, p))
        out.acc_heldout.append(1 - regression_zero_one_error(pred, p, held) if held.any() else float("nan"))
    out.solve_s = time.perf_counter() - t0
    out.stats = dict(solver.stats) if nested else {"eigh": len(sizes)}
    return out


def classification_sweep(p: int, kernel: str, fractions: list[float], *, seed: int = 0, width: int = 256,
                         prior_mean: bool = True, nested: bool = True) -> SweepResult:
    """Ridgeless regression on one-hot labels of n i.i.d. pairs, every n = f·p² on the grid.

    ``kernel`` ∈ :data:`CLASSIFICATION_KERNELS`: ``entk_shared`` is the first-logit
    eNTK used as Θ̂ ⊗ I_p (Mohamadi et al. 2023), ``entk_full`` the matrix-valued
    eNTK (Def 4.1; its (np)² Gram limits p), the others scalar kernels ⊗ I_p.
    Metrics (see :class:`SweepResult`): population ℓ2 loss ratio to the zero predictor
    (Thm 4.3), accuracy on the population and on the held-out pairs (not in the training set).
    """
    p = check_int("p", p, low=4)
    check_choice("kernel", kernel, CLASSIFICATION_KERNELS)
    N = p * p
    sizes = grid_sizes(N, fractions)
    pts = all_points(p, 2)
    labels = classification_labels(p)
    Y = torch.nn.functional.one_hot(labels, p).to(F64)
    idx = _draw(N, sizes[-1], seed)
    t0 = time.perf_counter()
    net = QuadraticNet.init(p, width, seed=seed) if kernel.startswith("entk") else None
    f0 = net(pts).to(F64) if (net is not None and prior_mean) else None
    out = SweepResult([], [], [], [], 0.0, 0.0, {})
    if kernel == "entk_full":
        K_u = full_ntk(net.W, net.V, pts[idx])  # (n_max, n_max, p, p) over the sequence
        G = K_u.permute(0, 2, 1, 3).reshape(idx.numel() * p, idx.numel() * p)
        out.build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        resid_prior = None if f0 is None else f0[idx].reshape(-1)
        if nested:
            solver = NestedKernelRegression(
                G, Y[idx].reshape(-1), block=p, keys=idx, prior_union=resid_prior,
                prior_eval=f0, evaluate=lambda used, c: full_ntk_apply(net, pts, pts[idx[used]], c))
    else:
        K_pop = kernel_gram("entk" if kernel == "entk_shared" else kernel, pts, p=p, net=net, h=width)
        out.build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if nested:
            solver = NestedKernelRegression(K_pop[idx][:, idx], Y[idx], K_eval=K_pop[:, idx], keys=idx,
                                            prior_union=None if f0 is None else f0[idx], prior_eval=f0)
    for n in sizes:
        s = idx[:n]
        if nested:
            pred = solver.predict(n)
        elif kernel == "entk_full":
            Ks = K_u[:n, :n]
            pred = matrix_kernel_regression(Ks, Y[s], full_ntk(net.W, net.V, pts, pts[s]),
                                            prior_train=None if f0 is None else f0[s], prior_test=f0)
        else:
            pred = kernel_regression(K_pop[s][:, s], Y[s], K_pop[:, s],
                                     prior_train=None if f0 is None else f0[s], prior_test=f0)
        pred = pred.reshape(N, p)
        test = clean_pair_mask(Dataset(Task(p), pts[s], labels[s]), pts)  # pairs not in the training set
        out.n.append(n)
        out.population_l2_ratio.append(classification_l2_ratio(pred, p))
        out.population_acc.append(1 - zero_one_error(pred, labels))
        out.acc_heldout.append(1 - zero_one_error(pred[test], labels[test]) if test.any() else float("nan"))
    out.solve_s = time.perf_counter() - t0
    out.stats = dict(solver.stats) if nested else {"eigh": len(sizes)}
    return out


def _trial_mean_se(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard error of ``stack`` (trials, points); zero SE for one trial.
    A column whose trials all agree has exactly its common value and SE 0: the deviations from
    the computed mean of equal values are round-off (three ratios of 0.7 gave an SE of 7.9e-17),
    and deviations within ‖x − x̄‖₂ ≤ 4·t·eps·‖x‖₂ (t trials, float64 eps) count as none."""
    t = stack.shape[0]
    equal = (stack == stack[:1]).all(axis=0)
    mean = np.where(equal, stack[0], stack.mean(0))
    if t == 1:
        return mean, np.zeros(stack.shape[1])
    return mean, np.where(roundoff_spread(stack, axis=0), 0.0, stack.std(0, ddof=1) / math.sqrt(t))


def trial_averaged_sweeps(memo: Callable[[dict, Callable[[], tuple[dict, dict]]], tuple[dict, dict]],
                          sweep: Callable[..., SweepResult], kernels_for: Callable[[int], list[str]], cfg: dict,
                          *, seed: int) -> tuple[dict, dict]:
    """Run ``sweep`` (:func:`regression_sweep` or :func:`classification_sweep`) for every
    p in ``cfg["ps"]``, kernel in ``kernels_for(p)`` and trial in ``range(cfg["trials"])``,
    each memoised by ``memo(key, fn) -> (metrics, arrays)`` (e.g. an experiment run's
    :meth:`regimes.harness.RunContext.point`), and average over trials.

    Returns ``(metrics, arrays)`` with per-sweep wall times in
    ``metrics["sweep_seconds"]`` and, for ``key = f"p{p}_{kernel}"``, the arrays
    ``{key}_n`` and ``{key}_{ratio|population_acc|acc_heldout}`` (trial means) with ``_se``
    (standard errors; zeros for a single trial): ``ratio`` is the population ℓ2 loss ratio,
    ``population_acc`` the population accuracy (training points included), ``acc_heldout``
    the held-out accuracy (see :class:`SweepResult`). Trial ``t`` uses seed
    ``1000·seed + t`` for both the init and the data draw.
    """
    metrics: dict = {"sweep_seconds": {}}
    arrays: dict = {}
    for p in cfg["ps"]:
        for kernel in kernels_for(p):
            rows = []
            for trial in range(cfg["trials"]):
                def run(p=p, kernel=kernel, trial=trial):
                    r = sweep(p, kernel, cfg["fractions"], seed=seed * 1000 + trial,
                              width=cfg["width"], prior_mean=cfg["prior_mean"])
                    # point-level names unchanged, so points cached before the renames stay valid
                    return ({"build_s": r.build_s, "solve_s": r.solve_s, "stats": r.stats},
                            {"n": np.array(r.n), "ratio": np.array(r.population_l2_ratio),
                             "acc": np.array(r.population_acc), "acc_heldout": np.array(r.acc_heldout)})
                m, a = memo({"p": p, "kernel": kernel, "trial": trial}, run)
                rows.append(a)
                metrics["sweep_seconds"][f"p={p},{kernel},trial={trial}"] = m["build_s"] + m["solve_s"]
            key = f"p{p}_{kernel}"
            arrays[f"{key}_n"] = rows[0]["n"]
            for field, name in (("ratio", "ratio"), ("acc", "population_acc"), ("acc_heldout", "acc_heldout")):
                arrays[f"{key}_{name}"], arrays[f"{key}_{name}_se"] = _trial_mean_se(
                    np.stack([r[field] for r in rows]))
    metrics["total_sweep_seconds"] = sum(metrics["sweep_seconds"].values())
    return metrics, arrays
