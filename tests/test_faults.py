"""Regression tests for reported faults: each test failed before its fix and passes now.

* dtype-blind tolerances (a float32 PSD Gram refused as "not PSD" by a float64-sized
  fixed tolerance; the tracker's after-kernel swallowing the error as a silent NaN);
* caches keyed on object identity (the dense quadratic eNTK's mask cache keyed on
  ``data_ptr()``);
* conflicting duplicate labels (``NestedKernelRegression(keys=...)`` kept the first label
  where least squares averages);
* empty inputs in the autodiff eNTK.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from regimes.kernels import NestedKernelRegression, check_gram, kernel_regression
from regimes.kernels.builders import random_psd_gram
from regimes.kernels.regression import gram_tol
from regimes.metrics import KernelTracker
from regimes.metrics.tracking import quadratic_kernel_fn
from regimes.models.quadratic import QuadraticNet
from regimes.ntk.autodiff import entk_autodiff
from regimes.ntk.closed_form import first_logit_ntk
from regimes.tasks import Task, sample_split

F64 = torch.float64


def all_pairs(p: int) -> torch.Tensor:
    return Task(p).population().x


# ------------------------------------------------------------------ dtype-scaled PSD tolerance
def test_float32_psd_gram_is_accepted() -> None:
    """Failed before: a fixed relative tolerance 1e-8 is below float32 round-off, so the low-rank
    float32 Gram (smallest eigenvalue ≈ −2e-7) was refused, and 19 of 20 such Grams failed."""
    K = random_psd_gram(60, 5, seed=0).float()
    pred = kernel_regression(K, torch.ones(60), K)
    assert pred.dtype == F64 and torch.isfinite(pred).all()
    for seed in range(20):
        K = random_psd_gram(60, 5, seed=seed).float()
        check_gram("K", K)
        kernel_regression(K, torch.ones(60), K)


def test_float64_tolerance_stays_tight_and_error_names_the_allowance() -> None:
    """A float64 Gram keeps a float64-sized allowance, and a real negative eigenvalue is refused
    with a message naming c·n·eps of the input's precision."""
    assert gram_tol(60, torch.float32) > 1e-5 > 1e-10 > gram_tol(60, F64)
    K = random_psd_gram(60, 5, seed=0)
    K = K - 1e-6 * float(torch.linalg.eigvalsh(K)[-1]) * torch.eye(60, dtype=F64)
    with pytest.raises(ValueError, match=r"not positive semi-definite.*c·n·eps.*float64"):
        kernel_regression(K, torch.ones(60), K)
    check_gram("K", K.float())  # the same −1e-6·λ_max is float32 round-off at n = 60


def test_float32_autodiff_kernel_keeps_its_precision() -> None:
    """Failed before: ``entk_autodiff(dtype=None)`` of a float32 net returned float64, so the
    regression applied a float64 tolerance to a float32-accurate kernel and refused it."""
    p, h = 7, 2
    net = QuadraticNet.init(p, h, seed=0, dtype=torch.float32)
    x = all_pairs(p)

    def fn(prm, xx):
        return QuadraticNet.apply(prm, xx, net.output_scale)

    K = entk_autodiff(fn, net.params(), x, output=0, dtype=None)
    assert K.dtype == torch.float32
    ref = first_logit_ntk(net.W.double(), net.V.double(), x)
    assert float((K.double() - ref).abs().max()) < 1e-4 * float(ref.abs().max())
    pred = kernel_regression(K, torch.ones(x.shape[0]), K)
    assert torch.isfinite(pred).all()


def test_tracker_after_kernel_warns_instead_of_silent_nan() -> None:
    """Failed before: a refused Gram became NaN with no trace. Now it is NaN with a RuntimeWarning
    and a failure count; a valid float32 kernel is no longer refused at all."""
    task = Task(7)
    split = sample_split(task, n=20, seed=0)
    net = QuadraticNet.init(7, 2, seed=0, dtype=torch.float32)

    def fn(prm, xx):
        return QuadraticNet.apply(prm, xx, net.output_scale)

    def f32_kernel(prm, x, x2=None):
        return entk_autodiff(fn, prm, x, x2, output=0, dtype=None)

    pairs = all_pairs(7)
    tr = KernelTracker(task, split.train.x, split.train.y, kernel_fn=f32_kernel, after_pairs=pairs)
    rec: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr(0, net.params(), rec)
    assert rec["after_kernel_acc"] == rec["after_kernel_acc"] and tr.after_kernel_failures == 0

    def broken(prm, x, x2=None):
        K = f32_kernel(prm, x, x2)
        return K - 0.5 * float(K.abs().max()) * torch.eye(K.shape[0]) if x2 is None else K

    tr = KernelTracker(task, split.train.x, split.train.y, kernel_fn=broken, after_pairs=pairs)
    rec = {}
    with pytest.warns(RuntimeWarning, match="not positive semi-definite"):
        tr(0, net.params(), rec)
    assert rec["after_kernel_acc"] != rec["after_kernel_acc"] and tr.after_kernel_failures == 1


# ------------------------------------------------------------------ content-keyed cache
def test_dense_kernel_cache_sees_in_place_edits() -> None:
    """Failed before: the mask cache was keyed on ``data_ptr()`` and shape, so after ``x[:, 0] = 0``
    in place the next call reused the old masks (kernel off by ≈ 0.1 at p = 7, h = 16)."""
    p, h = 7, 16
    net = QuadraticNet.init(p, h, seed=0)
    kf = quadratic_kernel_fn()
    x = all_pairs(p)[torch.randperm(p * p, generator=torch.Generator().manual_seed(0))[:20]].clone()
    kf(net.params(), x)
    x[:, 0] = 0
    got = kf(net.params(), x)
    ref = first_logit_ntk(net.W, net.V, x)
    assert float((got - ref).abs().max()) < 1e-10 * float(ref.abs().max())


def test_dense_kernel_cache_never_serves_a_reused_address() -> None:
    """Failed before: a new tensor allocated at a freed address got the old tensor's masks."""
    p, h = 7, 16
    net = QuadraticNet.init(p, h, seed=0)
    kf = quadratic_kernel_fn()
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):
        x = all_pairs(p)[torch.randperm(p * p, generator=gen)[:20]].clone()
        got = kf(net.params(), x)
        ref = first_logit_ntk(net.W, net.V, x)
        assert float((got - ref).abs().max()) < 1e-10 * float(ref.abs().max())
        del x


# ------------------------------------------------------------------ duplicate labels
def test_nested_regression_averages_conflicting_duplicate_labels() -> None:
    """Failed before: with ``keys`` the nested solver kept the first label of a repeated point
    while ``kernel_regression`` (least squares) averages them: predictions differed by 0.33."""
    K = random_psd_gram(8, 8, seed=0)
    idx = torch.tensor([0, 1, 2, 3, 2, 4, 2, 5])
    Ku = K[idx][:, idx]
    y = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0, 2.0, 0.0, -1.0], dtype=F64)  # point 2: 1, 0, 0
    nested = NestedKernelRegression(Ku, y, K_eval=K[:, idx], keys=idx)
    for n in range(1, 9):
        ref = kernel_regression(Ku[:n, :n], y[:n], K[:, idx[:n]])
        assert float((nested.predict(n) - ref).abs().max()) < 1e-8, n
    assert abs(float(nested.predict(8)[2]) - 1 / 3) < 1e-8


def test_nested_regression_refuses_keys_of_different_points() -> None:
    """Two rows of K_union that differ cannot share a key."""
    K = random_psd_gram(4, 4, seed=0)
    with pytest.raises(ValueError, match="keys"):
        NestedKernelRegression(K, torch.ones(4, dtype=F64), K_eval=K, keys=torch.tensor([0, 1, 1, 2]))


# ------------------------------------------------------------------ empty inputs
def test_empty_input_gives_empty_kernel_in_both_methods() -> None:
    """Failed before: the closed form returned a (0, 0) kernel but autodiff raised ValueError."""
    net = QuadraticNet.init(5, 4, seed=0)
    x0 = torch.zeros(0, 2, dtype=torch.long)
    x = all_pairs(5)[:3]

    def fn(prm, xx):
        return QuadraticNet.apply(prm, xx, net.output_scale)

    assert first_logit_ntk(net.W, net.V, x0).shape == (0, 0)
    assert entk_autodiff(fn, net.params(), x0, output=0).shape == (0, 0)
    assert entk_autodiff(fn, net.params(), x0, x, output=0).shape == (0, 3)
    assert entk_autodiff(fn, net.params(), x, x0).shape == (3, 0, 5, 5)


# ------------------------------------------------------------------ training loop
def test_sparse_finite_check_names_the_range_of_steps() -> None:
    """Failed before: with ``check_finite_every=50`` the error named only the checked step (49),
    not when the loss blew up; now it gives the range, which holds the exact step."""
    from regimes.train import NonFiniteError, TrainConfig, train

    split = sample_split(Task(7), n=30, seed=0)
    net = QuadraticNet.init(7, 10, seed=5, alpha=5.0)
    cfg = dict(steps=200, lr=1e6, loss="mse", eval_every=1000)
    with pytest.raises(NonFiniteError) as exact:
        train(net, split.train, TrainConfig(**cfg))
    blew = exact.value.step
    assert exact.value.step_range == (blew, blew)
    with pytest.raises(NonFiniteError, match=r"between steps 1 and 49.*check_finite_every=50") as ei:
        train(net, split.train, TrainConfig(check_finite_every=50, **cfg))
    a, b = ei.value.step_range
    assert (a, b) == (1, 49) and a <= blew <= b


@pytest.mark.parametrize("opt,lr,wd", [("adamw", 0.5, 2.0), ("adamw", 1.0, 1.0), ("gd", 2.0, 0.75)])
def test_decay_that_flips_theta_is_refused(opt: str, lr: float, wd: float) -> None:
    """Failed before: lr·wd ≥ 1 was accepted, and each step multiplied θ by 1 − lr·wd ≤ 0."""
    from regimes.train import TrainConfig

    with pytest.raises(ValueError, match=r"lr=.*weight_decay=.*lr·weight_decay < 1"):
        TrainConfig(steps=1, lr=lr, weight_decay=wd, optimizer=opt).validate()
    TrainConfig(steps=1, lr=lr, weight_decay=0.99 / lr, optimizer=opt).validate()


# ------------------------------------------------------------------ resume with stateful callbacks
def test_resume_restores_tracker_and_history(tmp_path) -> None:
    """Failed before: resuming at step 20 with a fresh tracker took Θ̂₀ = Θ̂_20 (S(t, 0) at step 25
    read ≈ 2e-16 instead of ≈ 0.09) and the history kept an extra row at the interruption step."""
    from regimes.train import TrainConfig, train

    task = Task(7)
    split = sample_split(task, n=30, seed=0)
    net = QuadraticNet.init(7, 16, seed=5)
    steps = [0, 5, 10, 15, 25, 30, 35, 40]   # 20 (the interruption) is not an evaluation step
    base = dict(lr=0.05, optimizer="adam", loss="cross_entropy", eval_steps=steps, checkpoint_every=1000)

    def tracker():
        return KernelTracker(task, split.train.x, split.train.y, steps=steps)

    t_full = tracker()
    full = train(net, split.train, TrainConfig(steps=40, **base), callbacks=[t_full])
    ck = tmp_path / "run.pt"
    train(net, split.train, TrainConfig(steps=20, **{**base, "eval_steps": [s for s in steps if s <= 20]}),
          callbacks=[tracker()], checkpoint=ck)
    t_rest = tracker()
    rest = train(net, split.train, TrainConfig(steps=40, **base), callbacks=[t_rest], checkpoint=ck)
    assert rest.resumed_from == 20
    assert torch.equal(rest.net.W, full.net.W) and torch.equal(rest.net.V, full.net.V)
    drop = {"tracking_time_s"}
    assert rest.history["step"] == full.history["step"] == steps
    for a, b in ((rest.history, full.history), (t_rest.history, t_full.history)):
        assert set(a) == set(b)
        for k in b:
            if k not in drop:
                np.testing.assert_array_equal(np.asarray(a[k], dtype=float), np.asarray(b[k], dtype=float), err_msg=k)
    assert rest.history["ntk_dist_train"][steps.index(25)] > 1e-3
    # a stateful callback the checkpoint has no state for is refused, not silently restarted
    with pytest.raises(ValueError, match="no state for callback"):
        train(net, split.train, TrainConfig(steps=40, **base), callbacks=[lambda *a: None, tracker()],
              checkpoint=ck)
