"""Tests of the full-batch training loop (issue 4 §2): hand-written gradients vs
autograd, optimizers vs torch.optim, penalties, metrics, determinism,
checkpoint/resume, NaN handling and bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task, sample_split
from regimes.train import (
    NonFiniteError,
    TrainConfig,
    _data_loss_and_grad,
    _prepare,
    evaluate,
    linf_subgradient,
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
    assert evaluate(a.net, split.train, cfg, test=split.test) == {k: v for k, v in a.final.items()
                                                                  if k not in ("step", "stalled_at")}
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
