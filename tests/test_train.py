"""Tests of the full-batch training loop: hand-written gradients vs
autograd, optimizers vs torch.optim, penalties, metrics, determinism,
checkpoint/resume, NaN handling and bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Dataset, Task, sample_split
from regimes.train import (
    NonFiniteError,
    TrainConfig,
    _data_loss_and_grad,
    _opt_update,
    _prepare,
    _StallMonitor,
    evaluate,
    linf_subgradient,
    linf_subgradient_all,
    objective_and_grad,
    train,
)


def _cls(p=7, n=30, seed=0):
    return sample_split(Task(p), n=n, seed=seed)


def _reg(p=5, n=40, seed=0):
    return sample_split(Task(p, "regression"), n=n, seed=seed)


def _autograd_objective(net, data, cfg):
    W = net.W.clone().requires_grad_(True)
    V = net.V.clone().requires_grad_(True)
    params = {"W": W, "V": V}
    if data.task.setting == "regression":
        g = QuadraticNet.apply_regression(params, data.x, net.output_scale)
        L = ((g - data.y.to(g.dtype)) ** 2).mean()
    else:
        out = QuadraticNet.apply(params, data.x, net.output_scale)
        if cfg.loss == "cross_entropy":
            L = torch.nn.functional.cross_entropy(out, data.y)
        else:
            t = cfg.target_scale * torch.nn.functional.one_hot(data.y, data.task.p).to(out.dtype)
            L = ((out - t) ** 2).sum(dim=1).mean()
    obj = L + cfg.lam_inf * torch.maximum(W.abs().max(), V.abs().max())
    obj = obj + 0.5 * cfg.weight_decay * ((W**2).sum() + (V**2).sum())
    obj.backward()
    return obj.detach(), W.grad, V.grad


@pytest.mark.parametrize("setting,loss,scale", [
    ("classification", "cross_entropy", 1.0), ("classification", "mse", 0.3),
    ("regression", "mse", 1.0), ("regression", "mse", 2.0),
])
def test_gradients_match_autograd(setting, loss, scale):
    split = _cls() if setting == "classification" else _reg()
    net = QuadraticNet.init(split.train.task.p, 9, seed=3)
    net = QuadraticNet(net.W, net.V, output_scale=scale)
    # λ>0 with a unique maximiser: autograd's max gradient is then the subgradient.
    cfg = TrainConfig(steps=1, lr=0.1, loss=loss, lam_inf=0.37, weight_decay=0.05, target_scale=1.7)
    obj, g = objective_and_grad(net.params(), split.train, cfg, output_scale=scale)
    obj2, gW, gV = _autograd_objective(net, split.train, cfg)
    assert torch.allclose(obj, obj2, rtol=1e-12, atol=1e-12)
    assert torch.allclose(g["W"], gW, rtol=1e-10, atol=1e-12)
    assert torch.allclose(g["V"], gV, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("setting", ["classification", "regression"])
def test_matmul_scatter_path_equals_index_add_path(setting):
    # The CUDA path uses one-hot matmuls; on CPU both must agree.
    split = _cls() if setting == "classification" else _reg()
    net = QuadraticNet.init(split.train.task.p, 6, seed=1)
    Wt = net.W.t().contiguous()
    a = _data_loss_and_grad(Wt, net.V, _prepare(split.train, net.dtype, net.device, False), "mse", 1.0, 1.0)
    b = _data_loss_and_grad(Wt, net.V, _prepare(split.train, net.dtype, net.device, True), "mse", 1.0, 1.0)
    for u, v in zip(a, b, strict=True):
        assert torch.allclose(u, v, rtol=1e-12, atol=1e-13)


def test_linf_subgradient_ties_and_zero():
    W = torch.tensor([[1.0, -2.0], [0.5, 2.0]], dtype=torch.float64)
    V = torch.tensor([[-2.0, 0.1]], dtype=torch.float64)
    m, gW, gV = linf_subgradient(W, V)
    assert float(m) == 2.0
    # three tied entries share the unit ℓ1 mass: the minimum-norm subgradient
    assert torch.equal(gW, torch.tensor([[0.0, -1 / 3], [0.0, 1 / 3]], dtype=torch.float64))
    assert torch.equal(gV, torch.tensor([[-1 / 3, 0.0]], dtype=torch.float64))
    assert math.isclose(float(gW.abs().sum() + gV.abs().sum()), 1.0)
    # it is a subgradient: <g, θ> = ‖θ‖∞ and ‖g‖₁ = 1
    assert math.isclose(float((gW * W).sum() + (gV * V).sum()), 2.0)
    m0, g0W, g0V = linf_subgradient(torch.zeros(2, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64))
    assert float(m0) == 0 and not g0W.any() and not g0V.any()


def _torch_optim_run(net, data, opt_name, steps, lr, **kw):
    W = torch.nn.Parameter(net.W.clone())
    V = torch.nn.Parameter(net.V.clone())
    if opt_name == "adam":
        opt = torch.optim.Adam([W, V], lr=lr, betas=kw["betas"], eps=kw["eps"], weight_decay=kw["wd"])
    elif opt_name == "adamw":
        opt = torch.optim.AdamW([W, V], lr=lr, betas=kw["betas"], eps=kw["eps"], weight_decay=kw["wd"])
    else:
        opt = torch.optim.SGD([W, V], lr=lr, momentum=kw["momentum"], weight_decay=kw["wd"])
    for _ in range(steps):
        opt.zero_grad()
        out = QuadraticNet.apply({"W": W, "V": V}, data.x)
        torch.nn.functional.cross_entropy(out, data.y).backward()
        opt.step()
    return W.detach(), V.detach()


@pytest.mark.parametrize("opt_name,extra", [
    ("adam", {"weight_decay": 0.01}), ("adamw", {"weight_decay": 0.1}),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.01}),
])
def test_optimizers_match_torch_optim(opt_name, extra):
    split = _cls(p=5, n=15)
    net = QuadraticNet.init(5, 8, seed=2)
    betas, eps = (0.8, 0.95), 1e-7
    cfg = TrainConfig(steps=25, lr=0.05, optimizer=opt_name, loss="cross_entropy", betas=betas, eps=eps,
                      eval_every=25, **extra)
    res = train(net, split.train, cfg)
    W, V = _torch_optim_run(net, split.train, opt_name, 25, 0.05, betas=betas, eps=eps,
                            wd=extra.get("weight_decay", 0.0), momentum=extra.get("momentum", 0.0))
    assert torch.allclose(res.net.W, W, rtol=1e-11, atol=1e-13)
    assert torch.allclose(res.net.V, V, rtol=1e-11, atol=1e-13)


def test_gd_is_plain_gradient_step_and_normalized_gd_moves_lr():
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    cfg = TrainConfig(steps=1, lr=0.3, loss="cross_entropy", lam_inf=1e-3)
    _, g = objective_and_grad(net.params(), split.train, cfg)
    res = train(net, split.train, cfg)
    assert torch.allclose(res.net.W, net.W - 0.3 * g["W"], atol=1e-15)
    cfgn = TrainConfig(steps=1, lr=0.3, optimizer="normalized_gd", loss="cross_entropy",
                       lam_inf=1e-3)
    resn = train(net, split.train, cfgn)
    dist = torch.sqrt(((resn.net.W - net.W) ** 2).sum() + ((resn.net.V - net.V) ** 2).sum())
    assert math.isclose(float(dist), 0.3, rel_tol=1e-12)
    gn = torch.sqrt((g["W"] ** 2).sum() + (g["V"] ** 2).sum())
    assert torch.allclose(resn.net.W, net.W - 0.3 * g["W"] / gn, atol=1e-15)


def test_gd_decreases_objective_and_fits_small_problem():
    split = _cls(p=5, n=20)
    net = QuadraticNet.init(5, 40, seed=0)
    cfg = TrainConfig(steps=100, lr=0.5, loss="cross_entropy", eval_every=20)
    res = train(net, split.train, cfg, test=split.test)
    losses = res.history["train_loss"]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(losses))
    assert res.final["train_acc"] == 1.0
    assert res.history["step"] == [0, 20, 40, 60, 80, 100]


def test_linf_penalty_shrinks_the_largest_entry():
    # With the data loss switched off in effect (tiny lr on a huge λ), the ℓ∞ step lowers ‖θ‖∞.
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    res = train(net, split.train, TrainConfig(steps=50, lr=1e-3, lam_inf=10.0, eval_every=50))
    r0, r1 = res.history["theta_inf"][0], res.history["theta_inf"][-1]
    assert r1 < r0 - 1e-3


def test_linf_training_is_permutation_equivariant():
    # Tie-splitting subgradient keeps GD + λ‖θ‖∞ equivariant (Thm 3.3 / Cor C.7 with the penalty).
    from regimes.tasks import random_sigma, transform

    split = _cls(p=7, n=25)
    net = QuadraticNet.init(7, 12, seed=1)
    sigma = random_sigma(7, seed=4)
    cfg = TrainConfig(steps=30, lr=0.2, loss="cross_entropy", lam_inf=0.05, eval_every=30)
    a = train(net, split.train, cfg)
    b = train(net.permuted(sigma), transform(split.train, sigma), cfg)
    pop = split.population
    fa = a.net(pop.x)
    fb = b.net(transform(pop, sigma).x)
    assert torch.allclose(fb[:, sigma[2]], fa, atol=1e-9)


def test_metrics_definitions():
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    cfg = TrainConfig(steps=0, lr=1.0)
    rec = evaluate(net, split.train, cfg, test=split.test)
    logits = net(split.train.x)
    fy = logits[torch.arange(len(logits)), split.train.y]
    others = logits.clone()
    others[torch.arange(len(logits)), split.train.y] = -float("inf")
    q = (fy - others.max(dim=1).values).min()
    assert math.isclose(rec["q_min"], float(q), rel_tol=1e-12)
    assert math.isclose(rec["theta_inf"], net.theta_inf())
    assert math.isclose(rec["norm_margin"], float(q) / net.theta_inf() ** 3, rel_tol=1e-12)
    assert math.isclose(rec["theta_l2"] ** 2, rec["W_l2"] ** 2 + rec["V_l2"] ** 2, rel_tol=1e-12)
    assert rec["train_acc"] == float((logits.argmax(1) == split.train.y).double().mean())
    # 3-homogeneity: the normalized margin is scale-free (C10's second half, on a random net)
    net2 = QuadraticNet(2.5 * net.W, 2.5 * net.V)
    rec2 = evaluate(net2, split.train, cfg)
    assert math.isclose(rec2["q_min"], 2.5**3 * rec["q_min"], rel_tol=1e-10)
    assert math.isclose(rec2["norm_margin"], rec["norm_margin"], rel_tol=1e-10)


def test_norm_margin_is_nan_when_theta_cubed_underflows():
    """Weights decayed to ~1e-120 (a long run with weight decay): ‖θ‖∞ > 0 but ‖θ‖∞³
    underflows to 0.0 — the normalized margin is NaN, not a ZeroDivisionError."""
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    tiny = QuadraticNet(1e-120 * net.W, 1e-120 * net.V)
    rec = evaluate(tiny, split.train, TrainConfig(steps=0, lr=1.0))
    assert 0 < rec["theta_inf"] < 1e-110
    assert math.isnan(rec["norm_margin"])


def test_regression_metrics_use_argmax_over_c():
    split = _reg(p=5, n=60)
    net = QuadraticNet.init(5, 8, seed=7)
    rec = evaluate(net, split.train, TrainConfig(steps=0, lr=1.0), test=split.test)
    pairs = torch.unique(split.train.x[:, :2], dim=0)
    acc = float((net(pairs).argmax(1) == (pairs.sum(1) % 5)).double().mean())
    assert rec["train_acc"] == acc
    g = net.regression(split.test.x)
    assert math.isclose(rec["test_loss"], float(((g - split.test.y) ** 2).mean()), rel_tol=1e-12)


def test_regression_training_runs_and_decreases_loss():
    split = _reg(p=5, n=60)
    net = QuadraticNet.init(5, 20, seed=0)
    res = train(net, split.train, TrainConfig(steps=100, lr=0.05, lam_inf=1e-4, eval_every=100))
    assert res.final["train_loss"] < 0.5 * res.history["train_loss"][0]


def test_deterministic_and_float32():
    split = _cls()
    cfg = TrainConfig(steps=20, lr=0.1, optimizer="adam", loss="cross_entropy", lam_inf=1e-3, eval_every=5)
    for dtype in (torch.float64, torch.float32):
        net = QuadraticNet.init(7, 10, seed=5, dtype=dtype)
        a, b = train(net, split.train, cfg), train(net, split.train, cfg)
        assert a.net.W.dtype == dtype
        assert torch.equal(a.net.W, b.net.W) and torch.equal(a.net.V, b.net.V)
        assert a.history == b.history


def test_callbacks_called_at_eval_steps_and_can_add_keys():
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    seen = []

    def cb(step, params, record):
        seen.append(step)
        assert set(params) == {"W", "V"}
        record["w00"] = float(params["W"][0, 0])

    res = train(net, split.train, TrainConfig(steps=7, lr=0.1, eval_steps=[3, 5]), callbacks=[cb])
    assert seen == [0, 3, 5, 7]
    assert res.history["step"] == [0, 3, 5, 7]
    assert res.history["w00"][0] == float(net.W[0, 0])
    assert len(res.history["w00"]) == 4


def test_checkpoint_resume_reproduces_uninterrupted_run(tmp_path):
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    base = dict(lr=0.05, optimizer="adam", loss="cross_entropy", lam_inf=1e-3, eval_every=2,
                checkpoint_every=3)
    full = train(net, split.train, TrainConfig(steps=10, **base), test=split.test)
    ck = tmp_path / "run.pt"
    part = train(net, split.train, TrainConfig(steps=6, **base), test=split.test, checkpoint=ck)
    assert part.resumed_from is None and ck.exists()
    rest = train(net, split.train, TrainConfig(steps=10, **base), test=split.test, checkpoint=ck)
    assert rest.resumed_from == 6
    assert torch.equal(rest.net.W, full.net.W) and torch.equal(rest.net.V, full.net.V)
    assert rest.history == full.history
    # a checkpoint from a different config is refused
    with pytest.raises(ValueError, match="different config"):
        train(net, split.train, TrainConfig(steps=10, **{**base, "lr": 0.2}), checkpoint=ck)


def test_nan_raises_with_step_and_last_metrics():
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5, alpha=5.0)
    with pytest.raises(NonFiniteError, match=r"at step \d+; last finite metrics: step=") as ei:
        train(net, split.train, TrainConfig(steps=200, lr=1e6, loss="mse"))
    assert ei.value.step >= 0 and ei.value.last_record is not None


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": -1.0}, "lr"), ({"lr": 0.1, "lam_inf": -1e-3}, "lam_inf"),
    ({"lr": 0.1, "optimizer": "rmsprop"}, "optimizer"), ({"lr": 0.1, "loss": "hinge"}, "loss"),
    ({"lr": 0.1, "weight_decay": -1.0}, "weight_decay"), ({"lr": 0.1, "momentum": 0.5}, "momentum"),
    ({"lr": 0.1, "eval_every": 0}, "eval_every"), ({"lr": float("nan")}, "lr"),
])
def test_bad_config_raises(kwargs, match):
    split = _cls()
    net = QuadraticNet.init(7, 4)
    with pytest.raises(ValueError, match=match):
        train(net, split.train, TrainConfig(steps=1, **kwargs))


def test_bad_inputs_raise():
    split, rsplit = _cls(), _reg()
    net = QuadraticNet.init(7, 4)
    with pytest.raises(ValueError, match="p=5"):
        train(QuadraticNet.init(5, 4), split.train, TrainConfig(steps=1, lr=0.1))
    with pytest.raises(ValueError, match="regression"):
        train(QuadraticNet.init(5, 4), rsplit.train, TrainConfig(steps=1, lr=0.1, loss="cross_entropy"))
    bad = QuadraticNet.init(7, 4)
    bad.V = bad.V.float()
    with pytest.raises(ValueError, match="dtype"):
        train(bad, split.train, TrainConfig(steps=1, lr=0.1))
    with pytest.raises(ValueError, match=r"test\.task"):
        train(net, split.train, TrainConfig(steps=1, lr=0.1), test=_cls(p=5, n=10).test)
    with pytest.raises(ValueError, match="QuadraticNet"):
        train("net", split.train, TrainConfig(steps=1, lr=0.1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=5)
    cfg = TrainConfig(steps=20, lr=0.1, optimizer="adam", loss="cross_entropy", lam_inf=1e-3)
    a = train(net, split.train, cfg, test=split.test)
    b = train(net, split.train, cfg, test=split.test, device="cuda")
    assert b.net.W.device.type == "cuda"
    assert torch.allclose(b.net.W.cpu(), a.net.W, atol=1e-10)


# =========================================================================== functional models
class _QuadAsFunctional:
    """The quadratic net seen only through the functional-model interface, so :func:`train`
    takes its torch.func path: an independent implementation to cross-check the fast path."""

    def __init__(self, params, output_scale=1.0):
        self._params = params
        self.output_scale = output_scale

    def params(self):
        return self._params

    def apply(self, params, x):
        return QuadraticNet.apply(params, x, self.output_scale)

    def with_params(self, params):
        return _QuadAsFunctional(dict(params), self.output_scale)


@pytest.mark.parametrize("opt_name,extra", [
    ("gd", {}), ("adam", {"weight_decay": 0.01}), ("gd", {"lam_inf": 0.05}),
    ("normalized_gd", {"lam_inf": 0.02}), ("sgd", {"momentum": 0.9}), ("adamw", {"weight_decay": 0.1}),
])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_functional_path_reproduces_quadratic_fast_path(opt_name, extra, loss):
    # hand-written gradients + W-transposed layout vs torch.func gradients on the plain layout
    split = _cls(p=7, n=25)
    net = QuadraticNet.init(7, 10, seed=3)
    net = QuadraticNet(net.W, net.V, output_scale=0.7)
    cfg = TrainConfig(steps=30, lr=0.05, optimizer=opt_name, loss=loss, target_scale=1.5, eval_every=10, **extra)
    a = train(net, split.train, cfg, test=split.test)
    b = train(_QuadAsFunctional(net.params(), 0.7), split.train, cfg, test=split.test)
    assert isinstance(b.net, _QuadAsFunctional)
    assert torch.allclose(b.net.params()["W"], a.net.W, rtol=0, atol=1e-10)
    assert torch.allclose(b.net.params()["V"], a.net.V, rtol=0, atol=1e-10)
    assert b.history["step"] == a.history["step"]
    assert "norm_margin" not in b.history        # 3-homogeneity is the quadratic net's alone
    for k, col in b.history.items():
        assert k in a.history
        if k == "stalled_at":          # int or None, not a float column
            assert col == a.history[k]
            continue
        assert all(math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-10) for u, v in zip(col, a.history[k], strict=True)), k
    # the λ term really moved the trajectory (so the subgradient was exercised)
    if extra.get("lam_inf"):
        c = train(net, split.train, TrainConfig(**{**cfg.as_dict(), "lam_inf": 0.0, "betas": cfg.betas}))
        assert not torch.allclose(c.net.W, a.net.W, atol=1e-6)


def test_linf_subgradient_all_splits_ties_across_tensors():
    from regimes.train import linf_subgradient_all

    ts = [torch.tensor([2.0, -1.0], dtype=torch.float64), torch.tensor([[-2.0]], dtype=torch.float64),
          torch.tensor([0.5, 2.0, 2.0], dtype=torch.float64)]
    m, gs = linf_subgradient_all(ts)
    assert float(m) == 2.0
    assert torch.equal(gs[0], torch.tensor([0.25, 0.0], dtype=torch.float64))
    assert torch.equal(gs[1], torch.tensor([[-0.25]], dtype=torch.float64))
    assert torch.equal(gs[2], torch.tensor([0.0, 0.25, 0.25], dtype=torch.float64))
    assert math.isclose(sum(float((g * t).sum()) for g, t in zip(gs, ts, strict=True)), 2.0)


def _tiny_transformer(seed=0, dtype=torch.float64):
    from regimes.models.transformer import Transformer

    return Transformer.init(5, d_model=8, n_heads=2, d_mlp=16, seed=seed, dtype=dtype)


def test_transformer_trains_deterministically_with_callbacks_and_metrics():
    from regimes.models.transformer import PARAM_NAMES, Transformer

    split = _cls(p=5, n=18)
    net = _tiny_transformer()
    init = {k: v.clone() for k, v in net.params().items()}
    seen = []

    def cb(step, params, record):
        seen.append(step)
        assert set(params) == set(PARAM_NAMES)

    cfg = TrainConfig(steps=60, lr=0.1, loss="cross_entropy", lam_inf=1e-3, eval_every=20)
    a = train(net, split.train, cfg, test=split.test, callbacks=[cb])
    b = train(net, split.train, cfg, test=split.test)
    assert seen == [0, 20, 40, 60]
    assert isinstance(a.net, Transformer) and a.net.n_heads == net.n_heads
    assert all(torch.equal(net.params()[k], init[k]) for k in init)       # the input is not modified
    assert all(torch.equal(a.net.params()[k], b.net.params()[k]) for k in init)
    assert a.history == b.history
    L = a.history["train_loss"]
    assert all(v < u for u, v in itertools.pairwise(L)) and L[-1] < 0.75 * L[0]
    # the record's loss is the loss of the returned model; per-tensor norms cover every tensor
    out = a.net(split.train.x)
    ce = float(torch.nn.functional.cross_entropy(out, split.train.y))
    assert math.isclose(a.final["train_loss"], ce, rel_tol=1e-12)
    assert math.isclose(a.final["theta_inf"], a.net.theta_inf())
    assert math.isclose(a.final["theta_l2"] ** 2, sum(a.final[f"{k}_l2"] ** 2 for k in PARAM_NAMES), rel_tol=1e-12)
    loop_only = ("step", "stalled_at", "grad_data_l2", "grad_penalty_l2")     # recorded by the loop, not evaluate
    assert evaluate(a.net, split.train, cfg, test=split.test) == {k: v for k, v in a.final.items()
                                                                  if k not in loop_only}
    # a different seed gives a different run
    c = train(_tiny_transformer(seed=1), split.train, cfg)
    assert c.history["train_loss"] != a.history["train_loss"]


def test_transformer_checkpoint_resume_and_nan(tmp_path):
    split = _cls(p=5, n=18)
    net = _tiny_transformer()
    base = dict(lr=0.01, optimizer="adam", loss="cross_entropy", lam_inf=1e-3, eval_every=2, checkpoint_every=3)
    full = train(net, split.train, TrainConfig(steps=8, **base))
    ck = tmp_path / "tr.pt"
    train(net, split.train, TrainConfig(steps=6, **base), checkpoint=ck)
    rest = train(net, split.train, TrainConfig(steps=8, **base), checkpoint=ck)
    assert rest.resumed_from == 6 and rest.history == full.history
    assert all(torch.equal(rest.net.params()[k], v) for k, v in full.net.params().items())
    with pytest.raises(ValueError, match="Transformer"):   # a checkpoint of another shape is refused
        from regimes.models.transformer import Transformer

        train(Transformer.init(5, d_model=4, n_heads=2, seed=0), split.train, TrainConfig(steps=8, **base),
              checkpoint=ck)
    with pytest.raises(NonFiniteError):
        train(net, split.train, TrainConfig(steps=50, lr=1e8, loss="mse"))


def test_functional_bad_inputs_raise():
    from regimes.models.transformer import Transformer

    split, rsplit = _cls(p=5, n=18), _reg(p=5)
    net = _tiny_transformer()
    cfg = TrainConfig(steps=1, lr=0.1)
    with pytest.raises(ValueError, match="regression"):
        train(net, rsplit.train, cfg)
    with pytest.raises(ValueError, match=r"\(1, 7\)"):          # model p=5 vs task p=7
        train(net, _cls(p=7).train, cfg)
    mixed = dict(net.params())
    mixed["W_U"] = mixed["W_U"].float()
    with pytest.raises(ValueError, match="dtype"):
        train(Transformer(mixed, 2), split.train, cfg)
    with pytest.raises(ValueError, match="QuadraticNet or a functional model"):
        train(object(), split.train, cfg)
    with pytest.raises(ValueError, match=r"test\.task"):
        train(net, split.train, cfg, test=_cls(p=7).test)


# ----------------------------------------------------------------------------- small losses, stalls
def _large_margin_case(dtype, q_target=50.0):
    """p = 5, all 25 pairs labelled by the net's own argmax, weights scaled (3-homogeneous
    logits) so that the smallest margin is ``q_target``: every per-pair loss is ≲ e^{−50}."""
    p = 5
    net = QuadraticNet.init(p, 12, seed=0)
    x = Task(p).population().x
    out = net(x)
    y = out.argmax(1)
    q = (out.gather(1, y[:, None]).squeeze(1) - out.scatter(1, y[:, None], -math.inf).max(1).values).min()
    c = (q_target / float(q)) ** (1 / 3)
    big = QuadraticNet((c * net.W).to(dtype), (c * net.V).to(dtype))
    return big, Dataset(Task(p), x, y)


def _log_space_reference(W, V, data):
    """Mean cross-entropy log1p(Σ_{j≠y} exp(f_j − f_y)) and its autograd gradient, float64."""
    W = W.detach().to(torch.float64).requires_grad_(True)
    V = V.detach().to(torch.float64).requires_grad_(True)
    out = QuadraticNet.apply({"W": W, "V": V}, data.x)
    d = out - out.gather(1, data.y[:, None])
    mask = torch.nn.functional.one_hot(data.y, out.shape[1]).bool()
    L = torch.log1p(torch.exp(d.masked_fill(mask, -math.inf)).sum(1)).mean()
    L.backward()
    return L.detach(), W.grad, V.grad


def test_cross_entropy_in_the_small_loss_regime():
    """Margins ≥ 50: the textbook lse − f_y rounds every loss to exactly 0 (and softmax − 1 on
    the true class to exactly 0), while the loss is ~1e-22 and representable. The
    logit-difference form matches a log-space reference (float64 autograd of
    log1p(Σ_{j≠y} e^{f_j − f_y})) to 1e-12 in float64; in float32 it matches the float64
    reference on the same weights to float32 precision (a float32 run measured in float64)."""
    cfg = TrainConfig(steps=1, lr=1.0, loss="cross_entropy")
    net, data = _large_margin_case(torch.float64)
    out = net(data.x)
    old = (torch.logsumexp(out, 1) - out.gather(1, data.y[:, None]).squeeze(1)).mean()
    old_true_class = torch.softmax(out, 1).gather(1, data.y[:, None]) - 1.0
    assert float(old) == 0.0 and bool((old_true_class == 0).all())       # the old formulas
    L_ref, gW_ref, gV_ref = _log_space_reference(net.W, net.V, data)
    assert 1e-40 < float(L_ref) < 1e-20
    obj, g = objective_and_grad(net.params(), data, cfg)
    assert math.isclose(float(obj), float(L_ref), rel_tol=1e-12)
    for mine, ref in ((g["W"], gW_ref), (g["V"], gV_ref)):
        assert float((mine - ref).abs().max()) <= 1e-10 * float(ref.abs().max())
    assert evaluate(net, data, cfg)["train_loss"] == pytest.approx(float(L_ref), rel=1e-12)

    net32, _ = _large_margin_case(torch.float32)
    L_ref, gW_ref, gV_ref = _log_space_reference(net32.W, net32.V, data)   # float64 on float32 weights
    obj32, g32 = objective_and_grad(net32.params(), data, cfg)
    assert obj32.dtype == torch.float32 and math.isclose(float(obj32), float(L_ref), rel_tol=1e-4)
    for mine, ref in ((g32["W"], gW_ref), (g32["V"], gV_ref)):
        assert float((mine.double() - ref).abs().max()) <= 1e-4 * float(ref.abs().max())


def test_normalized_gd_norm_does_not_underflow():
    """Entries of 1e-30 (float32) or 1e-170 (float64) square to 0, so sqrt(Σg²) was 0 and the
    step was skipped; scaled by max|g| first, the step has length lr."""
    cfg = TrainConfig(steps=1, lr=0.5, optimizer="normalized_gd")
    for dtype, tiny in ((torch.float32, 1e-30), (torch.float64, 1e-170)):
        P = {"W": torch.zeros(3, 4, dtype=dtype), "V": torch.zeros(2, 4, dtype=dtype)}
        G = {"W": torch.full((3, 4), tiny, dtype=dtype), "V": torch.zeros(2, 4, dtype=dtype)}
        G["V"][0, 0] = -2 * tiny
        assert float((G["W"] * G["W"]).sum()) == 0.0                       # the old norm
        _opt_update(P, G, {}, 1, cfg)
        step = torch.cat([P["W"].reshape(-1), P["V"].reshape(-1)]).double()
        assert math.isclose(float(step.norm()), 0.5, rel_tol=1e-6)
        assert float(P["V"][0, 0]) > 0 > float(P["W"][0, 0])             # along −g
        Z = {"W": torch.zeros(3, 4, dtype=dtype), "V": torch.zeros(2, 4, dtype=dtype)}
        _opt_update(P, Z, {}, 2, cfg)                                      # g = 0: θ unchanged
        assert math.isclose(float(torch.cat([P["W"].reshape(-1), P["V"].reshape(-1)]).double().norm()), 0.5,
                            rel_tol=1e-6)


@pytest.mark.parametrize("host", [True, False])
def test_stall_monitor_classifies_steps(host):
    """Synthetic θ sequences through both code paths (host: torch.equal per step; device:
    per-step codes read back by sync): moving, frozen, a period-2 cycle, zero loss."""
    def run(seq, losses, patience):
        P = {"W": seq[0].clone()}
        mon = _StallMonitor(P, patience, torch.device("cpu"), 1, len(seq) - 1, host=host)
        for t in range(1, len(seq)):
            P["W"].copy_(seq[t])
            mon.step(t, P, torch.tensor(losses[t]))
        mon.sync(len(seq) - 1)
        return mon.first, mon.kind, mon.run

    a, b, c = torch.tensor([1.0, 2.0]), torch.tensor([1.0, -8.0]), torch.tensor([3.0, 2.0])
    moving = [torch.tensor([float(i), 0.0]) for i in range(12)]
    assert run(moving, [1.0] * 12, 3) == (None, None, 0)
    frozen = moving[:5] + [moving[4]] * 7          # θ_5 = θ_4: steps 5..11 stalled
    assert run(frozen, [1.0] * 12, 3) == (5, "frozen", 7)
    assert run(frozen, [1.0] * 12, 8) == (None, None, 7)       # 7 < patience: no stall yet
    cycle = moving[:4] + [a, b] * 4                # θ_6 = θ_4: steps 6..11 stalled
    assert run(cycle, [1.0] * 12, 4) == (6, "cycle2", 6)
    zero = moving[:]                               # θ moves, loss exactly 0 from step 7
    assert run(zero, [1.0] * 7 + [0.0] * 5, 5) == (7, "zero_loss", 5)
    # an interrupted stretch restarts the count; the first confirmed stretch is kept
    broken = moving[:3] + [c] * 3 + [moving[6]] + [a] * 5
    assert run(broken, [1.0] * 12, 3) == (8, "frozen", 4)


def _rich_cls(p: int, dtype):
    n = round(2 * p ** (5 / 3))
    split = sample_split(Task(p), n=n, seed=0)
    return split, QuadraticNet.init(p, 8 * p, seed=0, dtype=dtype)


@pytest.mark.parametrize("dtype,old_step,old_q,underflow_q", [
    (torch.float32, 262, 63.60, 103.3),     # e^{-q} < 2^-149, float32's smallest subnormal
    (torch.float64, 618, 400.7, 744.4),     # e^{-q} < 2^-1074
])
def test_normalized_gd_no_longer_freezes_on_rounding(dtype, old_step, old_q, underflow_q):
    """The App. A.2 setting without the ℓ∞ term (normalized GD, lr 10, cross-entropy,
    h = 8p, n = 2p^{5/3}, p = 23, seed 0). Before the fix θ froze bitwise at ``old_step``
    with min margin ``old_q`` (measured with the previous code): the reported loss was
    exactly 0, the true-class gradient 1 − p_y was exactly 0, and Σg² underflowed to 0 so
    the normalized step was skipped, while the gradient entries (~1e-28 in float32) were
    not 0. Now θ moves until every e^{f_j − f_y} underflows, i.e. the data gradient is
    exactly 0 in the format (min margin > ``underflow_q``); only then does it freeze, and
    the freeze is reported as a stall (``stop_on_stall`` ends the run there)."""
    split, net = _rich_cls(23, dtype)
    cfg = TrainConfig(steps=3000, lr=10.0, optimizer="normalized_gd", loss="cross_entropy", eval_every=3000,
                      stall_patience=50, stop_on_stall=True)
    res = train(net, split.train, cfg, test=split.test)
    assert res.stall_kind == "frozen" and res.stalled_at is not None
    assert res.stopped_at == res.stalled_at + 49 == res.final["step"] < 3000
    assert res.final["stalled_at"] == res.stalled_at == res.history["stalled_at"][-1]
    assert res.history["stalled_at"][0] is None
    q = res.final["q_min"]
    assert q > underflow_q > old_q
    if dtype == torch.float32:
        assert res.stalled_at > old_step                   # moved past the old freeze step
    obj, g = objective_and_grad(res.net.params(), split.train, cfg)
    assert float(obj) == 0.0 and all(bool((v == 0).all()) for v in g.values())   # a true zero gradient


def test_deliberate_stalls_are_reported():
    split = _cls()
    # lr so small that every float32 update rounds away: frozen from step 1
    net32 = QuadraticNet.init(7, 10, seed=0, dtype=torch.float32)
    res = train(net32, split.train, TrainConfig(steps=30, lr=1e-30, eval_every=10, stall_patience=10))
    assert (res.stalled_at, res.stall_kind, res.stopped_at) == (1, "frozen", None)
    assert torch.equal(res.net.W, net32.W)
    assert res.history["stalled_at"] == [None, 1, 1, 1]
    # zero loss with θ still moving (plain GD on the ℓ∞ term of a net with margins beyond exp underflow)
    big, data = _large_margin_case(torch.float32, q_target=400.0)
    res = train(big, data, TrainConfig(steps=20, lr=1.0, loss="cross_entropy", lam_inf=1e-3, stall_patience=5))
    assert (res.stalled_at, res.stall_kind) == (1, "zero_loss")
    assert not torch.equal(res.net.W, big.W) or not torch.equal(res.net.V, big.V)
    # a moving run has no stall; detection off: no key at all
    net = QuadraticNet.init(7, 10, seed=0)
    res = train(net, split.train, TrainConfig(steps=30, lr=0.1, eval_every=10))
    assert res.stalled_at is None and res.final["stalled_at"] is None
    res = train(net, split.train, TrainConfig(steps=30, lr=0.1, eval_every=10, stall_patience=None))
    assert res.stalled_at is None and "stalled_at" not in res.final and "stalled_at" not in res.history


def test_stall_state_survives_checkpoint_resume(tmp_path):
    split = _cls()
    net32 = QuadraticNet.init(7, 10, seed=0, dtype=torch.float32)
    base = dict(lr=1e-30, eval_every=5, stall_patience=15, checkpoint_every=10)
    full = train(net32, split.train, TrainConfig(steps=30, **base))
    ck = tmp_path / "ck.pt"
    train(net32, split.train, TrainConfig(steps=10, **base), checkpoint=ck)   # 10 stalled steps < 15
    rest = train(net32, split.train, TrainConfig(steps=30, **base), checkpoint=ck)
    assert rest.resumed_from == 10
    assert (rest.stalled_at, rest.stall_kind) == (full.stalled_at, full.stall_kind) == (1, "frozen")
    assert rest.history == full.history


@pytest.mark.parametrize("kwargs,match", [
    ({"stall_patience": 0}, "stall_patience"), ({"stall_patience": -3}, "stall_patience"),
    ({"stall_patience": 2.5}, "stall_patience"), ({"stall_patience": True}, "stall_patience"),
    ({"stop_on_stall": "yes"}, "stop_on_stall"), ({"stop_on_stall": True, "stall_patience": None}, "stop_on_stall"),
])
def test_bad_stall_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(steps=1, lr=0.1, **kwargs).validate()


def test_gradient_balance_diagnostic_matches_autograd() -> None:
    """With λ∞ > 0 each record holds ‖∇(data loss)‖₂ and λ‖∂‖θ‖∞‖₂; both are recomputed here
    independently (autograd on the data loss; the subgradient by hand: a single largest entry
    has subgradient norm 1) at the final step."""
    p, h = 7, 12
    task = Task(p)
    split = sample_split(task, n=30, seed=3)
    net = QuadraticNet.init(p, h, seed=3, dtype=torch.float64)
    lam = 0.05
    cfg = TrainConfig(steps=40, lr=0.5, optimizer="normalized_gd", loss="cross_entropy", lam_inf=lam, eval_every=20)
    res = train(net, split.train, cfg)
    W = res.net.W.detach().clone().requires_grad_(True)
    V = res.net.V.detach().clone().requires_grad_(True)
    logits = QuadraticNet.apply({"W": W, "V": V}, split.train.x, res.net.output_scale)
    torch.nn.functional.cross_entropy(logits, split.train.y).backward()
    data_l2 = float(torch.sqrt((W.grad**2).sum() + (V.grad**2).sum()))
    assert res.final["grad_data_l2"] == pytest.approx(data_l2, rel=1e-10)
    theta = torch.cat([W.detach().reshape(-1), V.detach().reshape(-1)]).abs()
    ties = int((theta == theta.max()).sum())
    assert res.final["grad_penalty_l2"] == pytest.approx(lam / ties**0.5, rel=1e-12)   # k ties: ‖(1/k)·1_k‖ = 1/√k
    plain = train(net, split.train, TrainConfig(steps=5, lr=0.5, optimizer="normalized_gd", loss="cross_entropy"))
    assert "grad_data_l2" not in plain.final                                              # λ = 0: no diagnostic


# --------------------------------------------------------------------------- the readings of eq. A.1
def _autograd_ce_grad(net: QuadraticNet, data: Dataset) -> torch.Tensor:
    """∇ of the mean cross-entropy by torch.autograd on the textbook log-softmax (an
    implementation independent of the hand-written gradients), flattened (W, V)."""
    W = net.W.detach().clone().requires_grad_(True)
    V = net.V.detach().clone().requires_grad_(True)
    logits = QuadraticNet(W, V).apply({"W": W, "V": V}, data.x)
    torch.nn.functional.cross_entropy(logits, data.y).backward()
    return torch.cat([W.grad.reshape(-1), V.grad.reshape(-1)])


def test_loss_only_normalized_step_is_the_unit_loss_gradient_plus_the_penalty_outside():
    """normalize='loss': θ₁ − θ₀ = −η(∇L/‖∇L‖₂ + λ∂‖θ₀‖∞), with ∇L from autograd (float64)."""
    split = _cls()
    net = QuadraticNet.init(7, 10, seed=0, dtype=torch.float64)
    lr, lam = 0.3, 0.05
    res = train(net, split.train, TrainConfig(steps=1, lr=lr, optimizer="normalized_gd", loss="cross_entropy",
                                              lam_inf=lam, normalize="loss"))
    g = _autograd_ce_grad(net, split.train)
    _, (sW, sV) = linf_subgradient_all([net.W, net.V])
    expect = -lr * (g / g.norm() + lam * torch.cat([sW.reshape(-1), sV.reshape(-1)]))
    got = torch.cat([(res.net.W - net.W).reshape(-1), (res.net.V - net.V).reshape(-1)])
    assert torch.allclose(got, expect, rtol=0, atol=1e-14)
    # the whole-gradient reading normalizes the sum instead: a different step of length exactly η
    res_w = train(net, split.train, TrainConfig(steps=1, lr=lr, optimizer="normalized_gd", loss="cross_entropy",
                                                lam_inf=lam))
    total = g + lam * torch.cat([sW.reshape(-1), sV.reshape(-1)])
    got_w = torch.cat([(res_w.net.W - net.W).reshape(-1), (res_w.net.V - net.V).reshape(-1)])
    assert torch.allclose(got_w, -lr * total / total.norm(), rtol=0, atol=1e-14)


def test_shifted_cross_entropy_gradient_is_a_positive_multiple_of_the_true_one():
    """The loss-only reading's gradient (every entry times exp(c)) has the direction of the
    unshifted one wherever the latter is representable: cosine 1 to 1e-12 (float64), on a net
    with margins ~50 where the unshifted entries are ~e^-50."""
    big, data = _large_margin_case(torch.float64, q_target=50.0)
    b = _prepare(data, torch.float64, torch.device("cpu"), False)
    Wt = big.W.t().contiguous()
    L0, gW0, gV0 = (t.clone() for t in _data_loss_and_grad(Wt, big.V, b, "cross_entropy", 1.0, 1.0, False))
    L1, gW1, gV1 = _data_loss_and_grad(Wt, big.V, b, "cross_entropy", 1.0, 1.0, True)
    u = torch.cat([gW0.reshape(-1), gV0.reshape(-1)])
    v = torch.cat([gW1.reshape(-1), gV1.reshape(-1)])
    assert float(L0) == float(L1) and float(u.norm()) < 1e-15 < float(v.norm())
    assert float(u @ v / (u.norm() * v.norm())) == pytest.approx(1.0, abs=1e-12)


def test_loss_only_normalized_gd_grows_the_margin_past_exp_underflow():
    """App. A.2 at p = 23 (normalized GD, lr 10, λ∞ 1e-20, CE, h = 8p, n = 2p^{5/3}, float64).
    Unshifted, every e^{f_j − f_y} underflows once the smallest margin passes ~745 and the
    gradient is exactly 0 (test_normalized_gd_no_longer_freezes_on_rounding: θ freezes there).
    Under the loss-only reading the margin keeps growing far past that point, with no stall,
    and the loss itself reads exactly 0 there without counting as a stall."""
    split, net = _rich_cls(23, torch.float64)
    cfg = TrainConfig(steps=1200, lr=10.0, optimizer="normalized_gd", loss="cross_entropy", lam_inf=1e-20,
                      eval_every=300, normalize="loss")
    res = train(net, split.train, cfg, test=split.test)
    q = res.history["q_min"]
    assert q[-1] > 10 * 745.0
    assert all(b > a for a, b in itertools.pairwise(q[1:]))   # still growing at every evaluation
    assert res.stalled_at is None and res.final["train_loss"] == 0.0


@pytest.mark.parametrize("bad,match", [
    ({"normalize": "total"}, r"normalize='total' is not allowed: choose one of \('whole', 'loss'\)"),
    ({"normalize": "loss", "optimizer": "gd"}, "normalize='loss' needs optimizer='normalized_gd'"),
    ({"linf_ties": "last"}, r"linf_ties='last' is not allowed"),
])
def test_reading_fields_are_checked_before_any_work(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{"steps": 1, "lr": 1.0, "optimizer": "normalized_gd", **bad}).validate()


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 0])
def test_train_refuses_an_unknown_device_by_name_before_any_work(device) -> None:
    """Before: device='gpu' reached torch.device and surfaced torch's own "Expected one of cpu,
    cuda, …" error. Now it is a ValueError naming the argument and the allowed values."""
    split = sample_split(Task(5), fraction=0.6, seed=0)
    with pytest.raises(ValueError, match=r"device=.* is not allowed: choose 'cpu', 'cuda' or 'cuda:N'"):
        train(QuadraticNet.init(5, 8, seed=0), split.train, TrainConfig(steps=1, lr=0.01), device=device)


@pytest.mark.parametrize("seed", [1.5, 2**70, -1, True, "0"])
def test_rich_run_config_refuses_a_seed_that_is_not_a_64_bit_integer(seed) -> None:
    """A seed of 1.5 was truncated and 2**70 gave torch's "Overflow when unpacking long long";
    both are refused by name with the allowed range before any sampling."""
    from regimes.runs import paper_config

    with pytest.raises(ValueError, match=r"^seed=.*(not allowed|out of range): a seed is an integer in \[0, "):
        paper_config("classification", 7, seed=seed)
