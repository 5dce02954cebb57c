"""The dense regression engine (``TrainConfig.engine="dense"``) against the gather engine and
against ``torch.autograd``: two independent implementations of the gradient of App. A.1's
objective, mean (g − y)² over the training triples plus λ‖θ‖_∞ (eq. 2.2)."""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from regimes.models.mlp import EmbeddingMLP
from regimes.models.quadratic import QuadraticNet
from regimes.settings.mohamadi import n_train
from regimes.tasks import Dataset, Task, sample_split
from regimes.train import (
    TrainConfig,
    _data_loss_and_grad,
    _dense_regression_loss_and_grad,
    _prepare,
    _prepare_dense,
    train,
)


def _split(p: int, replace: bool = True, seed: int = 0, n: int | None = None):
    n = n_train(p, 2.25, p**3) if n is None else n      # App. A.1: n = 2p^{2.25} triples
    return sample_split(Task(p, "regression"), n=n, seed=seed, replace=replace)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _autograd(net: QuadraticNet, data: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean (g − y)² over the rows of ``data`` (every copy a row) and its gradient by autograd."""
    W = net.W.detach().clone().requires_grad_(True)
    V = net.V.detach().clone().requires_grad_(True)
    g = QuadraticNet.apply_regression({"W": W, "V": V}, data.x, net.output_scale)
    L = ((g - data.y.to(g.dtype)) ** 2).mean()
    gW, gV = torch.autograd.grad(L, (W, V))
    return L.detach(), gW, gV


def _dense(net: QuadraticNet, data: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    db = _prepare_dense(data, net.dtype, net.device)
    L, gWt, gV = _dense_regression_loss_and_grad(net.W.t().contiguous(), net.V.clone(), db, net.output_scale)
    return L, gWt.t().clone(), gV.clone()


def _with_copies(data: Dataset, rows: list[int], y: torch.Tensor | None = None) -> Dataset:
    """``data`` with the given rows appended once more (targets ``y`` if given)."""
    x = torch.cat([data.x, data.x[rows]])
    y = torch.cat([data.y, data.y[rows] if y is None else y.to(data.y.dtype)])
    return Dataset(data.task, x, y)


@pytest.mark.parametrize("output_scale", [1.0, 0.37])
def test_one_step_gradient_matches_autograd(output_scale):
    p = 11
    split = _split(p, replace=True, seed=1)
    net = QuadraticNet.init(p, 4 * p, seed=1)
    net = QuadraticNet(net.W, net.V, output_scale=output_scale)
    L_ad, gW_ad, gV_ad = _autograd(net, split.train)
    L, gW, gV = _dense(net, split.train)
    # float64, one evaluation: both are sums of O(p³) terms, so they agree to ~1e-15 relative
    assert abs(float(L) - float(L_ad)) <= 1e-12 * abs(float(L_ad))
    assert _rel(gW, gW_ad) <= 1e-12
    assert _rel(gV, gV_ad) <= 1e-12


def test_duplicates_count_with_multiplicity():
    """A triple drawn k times enters the mean k times: the dense loss of the sample with copies
    equals the per-row loss (autograd over every row) and differs from the sample without them."""
    p = 7
    base = _split(p, replace=False, seed=2)
    data = _with_copies(base.train, [0, 0, 3])   # row 0 three times, row 3 twice
    net = QuadraticNet.init(p, 4 * p, seed=2)
    L_ad, gW_ad, gV_ad = _autograd(net, data)
    L, gW, gV = _dense(net, data)
    assert abs(float(L) - float(L_ad)) <= 1e-12 * abs(float(L_ad))
    assert _rel(gW, gW_ad) <= 1e-12 and _rel(gV, gV_ad) <= 1e-12
    L_once, _, _ = _dense(net, base.train)
    assert abs(float(L) - float(L_once)) > 1e-6 * abs(float(L_once))   # the copies do count
    # a with-replacement sample (App. A.1's i.i.d. reading) has repeats, and the two engines agree on it
    wr = _split(p, replace=True, seed=3)
    assert len(torch.unique(wr.train.x, dim=0)) < len(wr.train)
    Lg, gWg, gVg = _gather(net, wr.train)
    Ld, gWd, gVd = _dense(net, wr.train)
    assert abs(float(Ld) - float(Lg)) <= 1e-12 * abs(float(Lg))
    assert _rel(gWd, gWg) <= 1e-12 and _rel(gVd, gVg) <= 1e-12


def test_copies_with_different_targets():
    """Copies of one triple with different targets (not an App. A.1 sample, but a Dataset allows
    it): the loss keeps the unfittable part Σ(y − ȳ)², the gradient is that of the per-row mean."""
    p = 7
    base = _split(p, replace=False, seed=4)
    data = _with_copies(base.train, [1, 2], y=base.train.y[[1, 2]] + torch.tensor([0.5, -3.0]))
    net = QuadraticNet.init(p, 4 * p, seed=4)
    L_ad, gW_ad, gV_ad = _autograd(net, data)
    L, gW, gV = _dense(net, data)
    assert abs(float(L) - float(L_ad)) <= 1e-12 * abs(float(L_ad))
    assert _rel(gW, gW_ad) <= 1e-12 and _rel(gV, gV_ad) <= 1e-12


def _gather(net: QuadraticNet, data: Dataset):
    b = _prepare(data, net.dtype, net.device, False)
    L, gWt, gV = _data_loss_and_grad(net.W.t().contiguous(), net.V.clone(), b, "mse", net.output_scale, 1.0)
    return L, gWt.t().clone(), gV.clone()


def test_dense_and_gather_trajectories_agree_over_1000_gd_steps():
    """1,000 steps of App. A.1's GD (lr 0.5, λ∞ 1e-4: paper_config("regression", p)'s step) in
    float64 at p = 7, h = 4p, n = 2p^{2.25} drawn with replacement. The two engines compute the
    same gradient in different summation orders (one step: ≤ 2e-15 relative), so the runs
    differ by rounding only.

    Tolerances. θ and the O(1) quantities (‖θ‖_∞, the held-out loss): 1e-9 relative. The
    difference is set in the first ~100 steps, while the loss falls from 9 to 0.2 and GD
    amplifies rounding ~100×, and then stays flat (measured: 1.8e-11 at step 100, 1.9e-11 at
    step 1000, also with λ∞ = 0); 1e-9 is 50× that and 5 orders below a modelling fault (a
    wrong term moves θ by ≳ lr·λ = 5e-5 per step). The training loss, objective and ‖∇L‖,
    which shrink by up to 1e10 to a residual: 1e-8 relative (their relative rounding is the
    θ error magnified by |g|/|g − y|; measured ≤ 3.6e-10).
    """
    p = 7
    split = _split(p, replace=True, seed=0)
    net = QuadraticNet.init(p, 4 * p, seed=0)
    runs = {}
    for engine in ("gather", "dense"):
        cfg = TrainConfig(steps=1000, lr=0.5, lam_inf=1e-4, eval_every=50, engine=engine)
        runs[engine] = train(net, split.train, cfg, test=split.test)
        assert runs[engine].engine == engine
    g, d = runs["gather"], runs["dense"]
    assert g.history["train_loss"][-1] < 1e-6 * g.history["train_loss"][0]    # it trained
    assert g.history["step"] == d.history["step"]
    tols = {"theta_inf": 1e-9, "test_loss": 1e-9, "train_loss": 1e-8, "objective": 1e-8, "grad_data_l2": 1e-8,
            "grad_penalty_l2": 1e-9}
    for key, tol in tols.items():
        for a, b in zip(g.history[key], d.history[key], strict=True):
            assert abs(a - b) <= tol * abs(a), (key, a, b)
    assert _rel(d.net.W, g.net.W) <= 1e-9 and _rel(d.net.V, g.net.V) <= 1e-9


def test_auto_picks_dense_for_app_a1_regression_only():
    p = 7
    net = QuadraticNet.init(p, 4 * p, seed=0)
    cfg = TrainConfig(steps=2, lr=0.1)
    assert cfg.engine == "auto"
    assert train(net, _split(p).train, cfg).engine == "dense"              # n = 2p^{2.25} ≥ 2p²
    assert train(net, _split(p, n=p * p).train, cfg).engine == "gather"    # n = p² < 2p²
    narrow = QuadraticNet.init(p, p - 1, seed=0)                           # h < p
    assert train(narrow, _split(p).train, cfg).engine == "gather"
    cls = sample_split(Task(p), fraction=0.5, seed=0)
    assert train(net, cls.train, cfg).engine == "gather"


def test_rich_run_regression_uses_dense(monkeypatch):
    """Experiment 07's path (rich_run on paper_config("regression", ...)) reaches the dense engine
    through engine="auto" without naming it."""
    from regimes.runs import paper_config, rich_run

    tr = importlib.import_module("regimes.train")   # the module (``regimes.train`` the attribute is the function)

    calls = []
    inner = tr._dense_regression_loss_and_grad

    def counted(*a, **k):
        calls.append(1)
        return inner(*a, **k)

    monkeypatch.setattr(tr, "_dense_regression_loss_and_grad", counted)
    rich_run(paper_config("regression", 7, steps=5, n_evals=1, kernel_baseline=False))
    assert len(calls) >= 5


def test_resume_keeps_the_checkpoints_engine(tmp_path):
    """A checkpoint written by the gather engine resumes on it under "auto" (bit for bit the
    uninterrupted run); naming the other engine is refused."""
    p = 7
    split = _split(p)
    net = QuadraticNet.init(p, 4 * p, seed=0)
    ck = tmp_path / "ck.pt"
    full = train(net, split.train, TrainConfig(steps=20, lr=0.5, lam_inf=1e-4, engine="gather"))
    train(net, split.train, TrainConfig(steps=10, lr=0.5, lam_inf=1e-4, engine="gather"), checkpoint=ck)
    res = train(net, split.train, TrainConfig(steps=20, lr=0.5, lam_inf=1e-4), checkpoint=ck)
    assert res.resumed_from == 10 and res.engine == "gather"
    assert torch.equal(res.net.W, full.net.W) and torch.equal(res.net.V, full.net.V)
    with pytest.raises(ValueError, match=r"engine='gather'.*engine='dense'"):
        train(net, split.train, TrainConfig(steps=30, lr=0.5, lam_inf=1e-4, engine="dense"), checkpoint=ck)


def test_bad_engine_refused_before_any_work(tmp_path):
    p = 7
    net = QuadraticNet.init(p, 4 * p, seed=0)
    with pytest.raises(ValueError, match=r"engine='fast'.*'auto', 'gather', 'dense'"):
        TrainConfig(steps=1, lr=0.1, engine="fast").validate()
    ck = tmp_path / "never.pt"
    with pytest.raises(ValueError, match=r"engine='fast'"):
        train(net, _split(p).train, TrainConfig(steps=1, lr=0.1, engine="fast"), checkpoint=ck)
    cls = sample_split(Task(p), fraction=0.5, seed=0)
    with pytest.raises(ValueError, match=r"engine='dense'.*setting='classification'"):
        train(net, cls.train, TrainConfig(steps=1, lr=0.1, engine="dense"), checkpoint=ck)
    mlp = EmbeddingMLP.init(p, d_embed=8, hidden=8, seed=0)
    with pytest.raises(ValueError, match=r"engine='dense'.*EmbeddingMLP"):
        train(mlp, cls.train, TrainConfig(steps=1, lr=0.1, engine="dense"), checkpoint=ck)
    assert not ck.exists()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dense_and_gather_agree_at_p23(dtype):
    """App. A.1 at p = 23 (n = 2p^{2.25}, h = 4p, GD lr 0.5, λ∞ 1e-4), 300 steps: the recorded
    losses agree to rounding (float64: 1e-8 as above; float32: 1e-3, its ε is 5e8× float64's
    but the loss only falls ~1e3× in 300 steps)."""
    p = 23
    split = _split(p, replace=True, seed=0)
    net = QuadraticNet.init(p, 4 * p, seed=0, dtype=dtype)
    res = {e: train(net, split.train, TrainConfig(steps=300, lr=0.5, lam_inf=1e-4, eval_every=100, engine=e))
           for e in ("gather", "dense")}
    tol = 1e-8 if dtype == torch.float64 else 1e-3
    for a, b in zip(res["gather"].history["train_loss"], res["dense"].history["train_loss"], strict=True):
        assert math.isclose(a, b, rel_tol=tol)
