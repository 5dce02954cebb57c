"""Kernel predictors, kernel builders and population metrics (regimes.kernels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regimes import QuadraticNet, Task, random_sigma
from regimes.kernels import (
    G_INVARIANT,
    KERNEL_NAMES,
    KernelRegressor,
    NestedKernelRegression,
    check_gram,
    classification_l2_loss,
    classification_l2_ratio,
    classification_labels,
    full_ntk_apply,
    infinite_width_kernel,
    kernel_gram,
    kernel_regression,
    matrix_kernel_regression,
    regression_l2_loss,
    regression_l2_ratio,
    regression_targets,
    regression_zero_one_error,
    zero_one_error,
)
from regimes.ntk import full_ntk
from regimes.spectral import slice_projector, span_basis
from regimes.tasks import all_points

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pd(n: int, seed: int, rank: int | None = None) -> torch.Tensor:
    G = torch.randn(n, rank or n + 3, generator=_gen(seed), dtype=F64)
    return G @ G.t()


# ----------------------------------------------------------------------------- predictors
def test_ridgeless_interpolates_on_pd_gram_lemma_b1():
    n, m = 30, 12
    K = _pd(n + m, 0)
    y = torch.randn(n, generator=_gen(1), dtype=F64)
    pred = kernel_regression(K[:n, :n], y, K[:n, :n])
    assert torch.allclose(pred, y, atol=1e-8)
    test = kernel_regression(K[:n, :n], y, K[n:, :n])
    assert torch.allclose(test, K[n:, :n] @ torch.linalg.solve(K[:n, :n], y), atol=1e-8)


def test_ridgeless_is_minimum_norm_on_singular_gram():
    n = 25
    K = _pd(n, 2, rank=6)  # rank 6 < n: singular
    y = torch.randn(n, generator=_gen(3), dtype=F64)
    model = KernelRegressor().fit(K, y)
    assert model.rank_ == 6
    alpha_ref = torch.from_numpy(np.linalg.pinv(K.numpy(), hermitian=False) @ y.numpy())
    assert torch.allclose(model.dual_coef_, alpha_ref, atol=1e-8)
    # Lemma B.2: some labels (here y ∈ ker K's complement direction) are not interpolated.
    assert (model.predict(K) - y).abs().max() > 1e-3


def test_ridge_matches_linear_solve_and_prior_mean():
    n, m = 20, 9
    K = _pd(n + m, 4)
    y = torch.randn(n, 3, generator=_gen(5), dtype=F64)
    f0 = torch.randn(n + m, 3, generator=_gen(6), dtype=F64)
    lam = 0.7
    pred = kernel_regression(K[:n, :n], y, K[n:, :n], ridge=lam, prior_train=f0[:n], prior_test=f0[n:])
    ref = f0[n:] + K[n:, :n] @ torch.linalg.solve(K[:n, :n] + lam * torch.eye(n, dtype=F64), y - f0[:n])
    assert torch.allclose(pred, ref, atol=1e-10)
    # (n, k) targets = k independent scalar regressions.
    for j in range(3):
        pj = kernel_regression(K[:n, :n], y[:, j], K[n:, :n], ridge=lam, prior_train=f0[:n, j],
                               prior_test=f0[n:, j])
        assert torch.allclose(pj, pred[:, j], atol=1e-12)
    model = KernelRegressor(ridge=lam).fit(K[:n, :n], y, prior=f0[:n])
    assert torch.allclose(model.predict(K[n:, :n], prior=f0[n:]), pred, atol=1e-12)


def test_matrix_valued_regression_with_kron_identity_equals_scalar():
    n, m, p = 10, 6, 4
    K = _pd(n + m, 7)
    eye = torch.eye(p, dtype=F64)
    K4 = K[:, :, None, None] * eye
    Y = torch.randn(n, p, generator=_gen(8), dtype=F64)
    a = matrix_kernel_regression(K4[:n, :n], Y, K4[n:, :n])
    b = kernel_regression(K[:n, :n], Y, K[n:, :n])
    assert torch.allclose(a, b, atol=1e-9)


def test_full_ntk_apply_equals_materialised_kernel():
    p, n = 5, 9
    net = QuadraticNet.init(p, 12, seed=1)
    pts = all_points(p, 2)
    idx = torch.randint(p * p, (n,), generator=_gen(9))
    coef = torch.randn(n, p, generator=_gen(10), dtype=F64)
    K = full_ntk(net.W, net.V, pts, pts[idx])  # (p², n, p, p)
    ref = torch.einsum("xtkl,tl->xk", K, coef)
    assert torch.allclose(full_ntk_apply(net, pts, pts[idx], coef), ref, atol=1e-12)


def test_nested_solver_equals_direct_solves():
    p = 5
    task = Task(p, "regression")
    pop = task.population()
    net = QuadraticNet.init(p, 40, seed=2)
    K_pop = kernel_gram("entk", pop.x, p=p, net=net)
    f0 = net.regression(pop.x)
    idx = torch.randint(p**3, (100,), generator=_gen(11))  # i.i.d.: repeats present
    assert idx.unique().numel() < idx.numel()
    for ridge in (0.0, 1e-3):
        nk = NestedKernelRegression(K_pop[idx][:, idx], pop.y[idx], K_eval=K_pop[:, idx], ridge=ridge,
                                    keys=idx, prior_union=f0[idx], prior_eval=f0)
        for n in (1, 7, 30, 64, 100):
            s = idx[:n]
            ref = kernel_regression(K_pop[s][:, s], pop.y[s], K_pop[:, s], ridge=ridge,
                                    prior_train=f0[s], prior_test=f0)
            assert torch.allclose(nk.predict(n), ref, atol=1e-7 * float(ref.abs().max()))
        assert nk.stats["cholesky"] == 5 and nk.stats["eigh"] == 0


def test_nested_solver_falls_back_to_eigh_when_singular():
    K = _pd(40, 12, rank=15)
    y = torch.randn(40, generator=_gen(13), dtype=F64)
    nk = NestedKernelRegression(K, y, K_eval=K)
    assert 14 <= nk.valid_points <= 15
    for n in (10, 15, 25, 40):
        assert torch.allclose(nk.predict(n), kernel_regression(K[:n, :n], y[:n], K[:, :n]), atol=1e-6)
    assert nk.stats["eigh"] >= 2


def test_nested_solver_matrix_valued_block():
    p, n = 5, 12
    net = QuadraticNet.init(p, 16, seed=3)
    pts = all_points(p, 2)
    labels = classification_labels(p)
    idx = torch.randint(p * p, (n,), generator=_gen(14))
    K = full_ntk(net.W, net.V, pts[idx])
    G = K.permute(0, 2, 1, 3).reshape(n * p, n * p)
    Y = torch.nn.functional.one_hot(labels[idx], p).to(F64)
    nk = NestedKernelRegression(G, Y.reshape(-1), block=p, keys=idx,
                                evaluate=lambda used, c: full_ntk_apply(net, pts, pts[idx[used]], c))
    for k in (3, 8, 12):
        s = idx[:k]
        ref = matrix_kernel_regression(K[:k, :k], Y[:k], full_ntk(net.W, net.V, pts, pts[s]))
        assert torch.allclose(nk.predict(k), ref, atol=1e-7 * float(ref.abs().max()))


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("activation", ["relu", "quadratic"])
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_infinite_width_kernel_properties(activation, kind):
    p = 5
    x = all_points(p, 3)
    K = infinite_width_kernel(x, p=p, activation=activation, kind=kind)
    assert torch.linalg.eigvalsh(K)[0] > -1e-10 * float(K.max())  # PSD
    sig = random_sigma(p, seed=4)
    Tx = torch.stack([sig[i][x[:, i]] for i in range(3)], 1)
    assert torch.allclose(infinite_width_kernel(Tx, p=p, activation=activation, kind=kind), K, atol=1e-14)


@pytest.mark.nt
@pytest.mark.parametrize("activation", ["relu", "quadratic"])
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_infinite_width_closed_form_matches_neural_tangents(activation, kind):
    pytest.importorskip("neural_tangents", reason="cross-check needs the optional [nt] extra (neural-tangents)")
    from regimes.kernels import infinite_width_kernel_nt

    p = 5
    g = _gen(15)
    for m in (2, 3):
        x = torch.randint(p, (14, m), generator=g)
        x2 = torch.randint(p, (9, m), generator=g)
        ours = infinite_width_kernel(x, x2, p=p, activation=activation, kind=kind, w_std=1.3, v_std=0.7)
        ref = infinite_width_kernel_nt(x, x2, p=p, activation=activation, kind=kind, w_std=1.3, v_std=0.7)
        assert torch.allclose(ours, ref.reshape(ours.shape), atol=1e-12, rtol=1e-10)


def test_g_invariance_table():
    p = 5
    x = all_points(p, 2)
    sig = random_sigma(p, seed=7)
    Tx = torch.stack([sig[0][x[:, 0]], sig[1][x[:, 1]]], 1)
    net = QuadraticNet.init(p, 16, seed=5)
    for name in KERNEL_NAMES:
        K = kernel_gram(name, x, p=p, net=net)
        KT = kernel_gram(name, Tx, p=p, net=net)
        invariant = torch.allclose(K, KT, atol=1e-12 * float(K.abs().max()))
        assert invariant == G_INVARIANT[name], name


def test_invariant_kernels_predict_degree_one_off_the_training_set():
    """Figure caption claim: an S_p²-invariant kernel on pairs is a function of
    (1(a=a'), 1(b=b')), i.e. α + β₁1(a=a') + β₂1(b=b') + γ1(x=x'); so away from the
    training points its predictor is const + g(a) + h(b) (it lies in V_s there).
    A single eNTK draw (not invariant) is the negative control."""
    p = 7
    pts = all_points(p, 2)
    labels = classification_labels(p)
    idx = torch.randperm(p * p, generator=_gen(16))[:30]
    test = torch.ones(p * p, dtype=torch.bool)
    test[idx] = False
    Y = torch.nn.functional.one_hot(labels[idx], p).to(F64)
    B = span_basis(slice_projector(p, 2))[test]  # V_s restricted to the test pairs
    net = QuadraticNet.init(p, 64, seed=6)
    for name in ("relu_ntk", "quad_ntk", "relu_nngp", "quad_nngp", "rbf", "expected_ntk", "entk"):
        K = kernel_gram(name, pts, p=p, net=net)
        pred = kernel_regression(K[idx][:, idx], Y, K[:, idx])
        coef = torch.linalg.lstsq(B, pred[test]).solution
        resid = float((B @ coef - pred[test]).abs().max()) / float(pred.abs().max())
        if G_INVARIANT[name]:
            assert resid < 1e-9, name
        else:
            assert resid > 1e-4, name


# ----------------------------------------------------------------------------- metrics
def test_metrics_normalisation():
    p = 7
    y = regression_targets(p)
    assert abs(regression_l2_loss(torch.zeros(p**3, dtype=F64), p) - p) < 1e-12  # paper §1 footnote
    assert regression_l2_ratio(y, p) == 0.0 and regression_zero_one_error(y, p) == 0.0
    task = Task(p, "regression")
    assert torch.equal(task.population().y, y)
    assert torch.equal(Task(p).population().y, classification_labels(p))
    onehot = torch.nn.functional.one_hot(classification_labels(p), p).to(F64)
    assert classification_l2_ratio(torch.zeros(p * p, p, dtype=F64), p) == 1.0
    assert abs(classification_l2_ratio(torch.zeros(p * p, p, dtype=F64), p, target_scale=p) - 1) < 1e-12
    assert classification_l2_loss(onehot, p) == 0.0
    assert zero_one_error(onehot, classification_labels(p)) == 0.0


# ----------------------------------------------------------------------------- bad input
def test_bad_gram_input():
    K = _pd(6, 17)
    y = torch.ones(6, dtype=F64)
    bad = K.clone()
    bad[0, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        kernel_regression(bad, y, K)
    notpsd = K - 2 * float(torch.linalg.eigvalsh(K)[-1]) * torch.eye(6, dtype=F64)
    with pytest.raises(ValueError, match="positive semi-definite"):
        kernel_regression(notpsd, y, K)
    with pytest.raises(ValueError, match="symmetric"):
        check_gram("K", K + torch.triu(torch.ones(6, 6, dtype=F64), 1))
    with pytest.raises(ValueError, match="square"):
        kernel_regression(K[:, :5], y, K)
    with pytest.raises(ValueError, match="y_train"):
        kernel_regression(K, torch.ones(5, dtype=F64), K)
    with pytest.raises(ValueError, match="K_test_train"):
        kernel_regression(K, y, K[:, :4])
    with pytest.raises(ValueError, match="ridge"):
        kernel_regression(K, y, K, ridge=-1.0)
    with pytest.raises(ValueError, match="prior_train"):
        kernel_regression(K, y, K, prior_train=torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="not fitted"):
        KernelRegressor().predict(K)
    with pytest.raises(ValueError, match="n=0"):
        NestedKernelRegression(K, y, K_eval=K).predict(0)
    with pytest.raises(ValueError, match="n=7"):
        NestedKernelRegression(K, y, K_eval=K).predict(7)
    with pytest.raises(ValueError, match="pred"):
        regression_l2_loss(torch.zeros(10, dtype=F64), 7)
    with pytest.raises(ValueError, match="name"):
        kernel_gram("laplace", all_points(3, 2), p=3)
    with pytest.raises(ValueError, match="net"):
        kernel_gram("entk", all_points(3, 2), p=3)
    with pytest.raises(ValueError, match="index"):
        infinite_width_kernel(torch.tensor([[0, 5]]), p=3)


# ----------------------------------------------------------------------------- sweeps + experiments
def test_sweeps_nested_equal_per_n():
    from regimes.kernels.nested import classification_sweep, regression_sweep

    fr = [0.1, 0.4, 0.9]
    for kernel in ("entk", "relu_ntk"):
        a = regression_sweep(5, kernel, fr, seed=1, width=16)
        b = regression_sweep(5, kernel, fr, seed=1, width=16, nested=False)
        assert a.n == b.n and np.allclose(a.population_l2_ratio, b.population_l2_ratio, atol=1e-8)
        assert np.allclose(a.population_acc, b.population_acc)
        assert np.allclose(a.acc_heldout, b.acc_heldout, equal_nan=True)
    for kernel in ("entk_shared", "entk_full", "rbf"):
        a = classification_sweep(7, kernel, fr, seed=2, width=16)
        b = classification_sweep(7, kernel, fr, seed=2, width=16, nested=False)
        assert np.allclose(a.population_l2_ratio, b.population_l2_ratio, atol=1e-8), kernel
        assert a.stats.get("cholesky", 0) >= 1


def test_sweep_bad_input():
    from regimes.kernels.nested import classification_sweep, grid_sizes, regression_sweep

    with pytest.raises(ValueError, match="fractions"):
        grid_sizes(100, [0.0, 0.5])
    with pytest.raises(ValueError, match="fractions"):
        grid_sizes(100, [1.5])
    with pytest.raises(ValueError, match="kernel"):
        regression_sweep(5, "entk_full", [0.5])
    with pytest.raises(ValueError, match="p=3"):
        classification_sweep(3, "rbf", [0.5])


@pytest.mark.parametrize("number", ["03", "04", "05"])
def test_experiments_run_on_tiny_configs(number, tmp_path):
    import importlib.util
    from pathlib import Path

    from regimes.harness import EXPERIMENTS_DIR, run

    path = next(Path(EXPERIMENTS_DIR).glob(f"{number}_*.py"))
    spec = importlib.util.spec_from_file_location(f"exp_{number}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exp = mod.EXPERIMENT
    tiny = {"03": {"ps": [5], "kernels": ["entk", "relu_ntk"], "fractions": [0.1, 0.5], "trials": 2, "width": 8},
            "04": {"ps": [5], "kernels": ["entk_shared", "entk_full", "rbf"], "fractions": [0.2, 0.6],
                   "trials": 2, "width": 8},
            "05": {"p": 5, "m": 2, "p_class": 5, "grid": 3, "width": 8}}[number]
    out = run(exp, out=tmp_path, quiet=True, overrides=tiny)
    assert out.figure_path.exists() and out.figure_path.with_suffix(".pdf").exists()
    metrics = out.result["metrics"]
    gaps = [v for k, v in metrics.items() if "min_gap" in k]
    # Curves are trial means (2 trials) or exact σ-averages (05); the bounds are far below them here
    # (gaps ≥ 0.1 at these sizes), so a violation would signal a bug, not noise.
    assert gaps and min(gaps) >= 0


def test_training_size_out_of_range():
    from regimes import sample_split

    task = Task(5, "regression")
    with pytest.raises(ValueError, match="n=126"):
        sample_split(task, n=126)  # above the population without replacement
    with pytest.raises(ValueError, match="n=0"):
        sample_split(task, n=0)
    assert len(sample_split(task, n=126, replace=True).train) == 126  # i.i.d. sampling may exceed it


def test_non_psd_gram_rejected_by_every_solver():
    K = _pd(8, 18)
    bad = K - 2 * float(torch.linalg.eigvalsh(K)[-1]) * torch.eye(8, dtype=F64)
    y = torch.ones(8, dtype=F64)
    with pytest.raises(ValueError, match="positive semi-definite"):
        KernelRegressor().fit(bad, y)
    with pytest.raises(ValueError, match="positive semi-definite"):
        NestedKernelRegression(bad, y, K_eval=bad).predict(5)  # Cholesky fails → eigh path checks
    with pytest.raises(ValueError, match="positive semi-definite"):
        matrix_kernel_regression(bad[:, :, None, None], y[:, None], bad[:, :, None, None])


def test_trial_average_of_agreeing_trials_has_zero_standard_error() -> None:
    """Trials that agree have mean = their common value and SE 0 exactly; np.std of three equal
    ratios 0.7 is 1.4e-16 (its deviations from the computed mean are round-off), which the sweep
    used to report as a standard error. Now exactly 0 for every (value, trial count) drawn; a
    genuine 1e-9 spread keeps the textbook SE s/√t (computed here with the statistics module)."""
    import math
    import statistics

    from regimes.kernels.nested import trial_averaged_sweeps

    rng = np.random.default_rng(0)
    for trials in (2, 3, 5):
        vals = [0.7, 0.1, *rng.uniform(0, 1, 10)]
        spread = [0.3 + 1e-9 * k for k in range(trials)]
        per = {t: {"n": np.arange(len(vals) + 1), "ratio": np.array([*vals, spread[t]]),
                   "acc": np.array([*vals, spread[t]]), "acc_heldout": np.array([*vals, spread[t]])}
               for t in range(trials)}

        def memo(key, fn, per=per):
            return {"build_s": 0.0, "solve_s": 0.0}, per[key["trial"]]

        _, arrays = trial_averaged_sweeps(memo, None, lambda p: ["k"], {"ps": [5], "trials": trials}, seed=0)
        for name in ("ratio", "population_acc", "acc_heldout"):
            mean, se = arrays[f"p5_k_{name}"], arrays[f"p5_k_{name}_se"]
            assert np.array_equal(mean[:-1], vals) and np.all(se[:-1] == 0.0)
            assert se[-1] == pytest.approx(statistics.stdev(spread) / math.sqrt(trials), rel=1e-6) and se[-1] > 0
