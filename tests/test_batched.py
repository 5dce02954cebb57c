"""The batched engine (regimes/batched.py) against the unbatched loop regimes.train.train.

Expected values come from the independent implementation: each run of a batch is trained
again, alone, by :func:`regimes.train.train`, and the trajectories must agree **bitwise** in
float64 on the CPU (final W and V, every recorded training and held-out loss, the stall
and stop steps). The projection (ℓ∞ ball) has no unbatched counterpart in ``train``; it is
checked against ``torch.autograd`` + ``torch.optim.Adam`` + ``clamp_`` (tolerance 1e-10
absolute on θ of size ~0.3 after 30 steps: autograd sums the gradient in another order,
so agreement is only to rounding, amplified by Adam's normalisation).
"""

from __future__ import annotations

import math

import pytest
import torch

from regimes.batched import BatchedNonFiniteError, train_batched
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train

C = TrainConfig


def _setup(setting: str, p: int, h: int, n: int, S: int, *, small: bool = False, zero: tuple[int, ...] = ()):
    nets = []
    for s in range(S):
        net = QuadraticNet.init(p, h, seed=s)
        if small:   # clamping to ±0.05 makes many entries tie at the maximum |θ_i|
            net = QuadraticNet(net.W.clamp(-0.05, 0.05), net.V.clamp(-0.05, 0.05))
        if s in zero:
            net = QuadraticNet(torch.zeros_like(net.W), torch.zeros_like(net.V))
        nets.append(net)
    splits = [sample_split(Task(p, setting), n=n, seed=s) for s in range(S)]
    return nets, splits


def _assert_equal_to_train(nets, splits, cfgs, rb) -> None:
    for s, (net, sp, cfg) in enumerate(zip(nets, splits, cfgs, strict=True)):
        r = train(net, sp.train, cfg, test=sp.test)
        assert torch.equal(r.net.W, rb.nets[s].W), f"run {s}: W differs"
        assert torch.equal(r.net.V, rb.nets[s].V), f"run {s}: V differs"
        assert r.history["step"] == rb.histories[s]["step"]
        for key in ("train_loss", "test_loss", "train_acc", "test_acc", "theta_inf"):
            assert r.history[key] == rb.histories[s][key], f"run {s}: {key} differs"
        assert (r.stalled_at, r.stall_kind, r.stopped_at) == (rb.stalled_at[s], rb.stall_kind[s],
                                                               rb.stopped_at[s])


CASES = {
    # setting, p, h, n, configs (per run), ties
    "gd_regression_lam_ties_per_run_lr": (
        "regression", 7, 28, 40, [C(steps=40, lr=0.05 * (1 + s), lam_inf=1e-3 * s, eval_every=20) for s in range(3)],
        True),
    "adam_regression_lam_ties": (
        "regression", 7, 28, 40, [C(steps=40, lr=1e-2 * (1 + s), optimizer="adam", lam_inf=1e-2, eval_every=20)
                                  for s in range(3)], True),
    "adamw_regression_per_run_wd": (
        "regression", 7, 28, 40, [C(steps=40, lr=1e-2, optimizer="adamw", weight_decay=0.1 * s, eval_every=20)
                                  for s in range(3)], False),
    "normalized_gd_ce_lam_ties": (
        "classification", 7, 56, 30, [C(steps=40, lr=1.0, optimizer="normalized_gd", loss="cross_entropy",
                                        lam_inf=1e-2, eval_every=20)] * 3, True),
    "normalized_gd_ce_per_run_lr": (
        "classification", 7, 56, 30, [C(steps=40, lr=1.0 + s, optimizer="normalized_gd", loss="cross_entropy",
                                        lam_inf=1e-2, eval_every=20) for s in range(3)], False),
    "adam_ce_per_run_lam_ties": (
        "classification", 7, 56, 30, [C(steps=40, lr=0.01, optimizer="adam", loss="cross_entropy",
                                        lam_inf=1e-3 * s, eval_every=20) for s in range(3)], True),
    "gd_mse_classification": (
        "classification", 7, 56, 30, [C(steps=40, lr=0.1, loss="mse", lam_inf=1e-3, eval_every=20)] * 3, False),
    "sgd_momentum_mse": (
        "classification", 5, 20, 12, [C(steps=30, lr=0.01, optimizer="sgd", momentum=0.9, eval_every=10)] * 2,
        False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_batched_equals_unbatched_bitwise(name: str) -> None:
    setting, p, h, n, cfgs, ties = CASES[name]
    nets, splits = _setup(setting, p, h, n, len(cfgs), small=ties)
    if ties:   # the tie-splitting subgradient is exercised: several entries share the maximum
        assert int((nets[0].W.abs() == 0.05).sum()) > 1
    rb = train_batched(nets, [sp.train for sp in splits], cfgs, tests=[sp.test for sp in splits])
    _assert_equal_to_train(nets, splits, cfgs, rb)


def test_stall_stops_one_run_only() -> None:
    # run 1 starts at θ = 0, a stationary point (z = 0 gives zero gradients and the ℓ∞
    # subgradient is 0 at θ = 0): θ is frozen from step 1, so with patience 5 its stall is
    # confirmed at step 5 and starts at step 1; runs 0 and 2 go on to step 30
    cfg = C(steps=30, lr=0.1, lam_inf=1e-3, eval_every=10, stall_patience=5, stop_on_stall=True)
    nets, splits = _setup("regression", 5, 20, 30, 3, zero=(1,))
    rb = train_batched(nets, [sp.train for sp in splits], cfg, tests=[sp.test for sp in splits])
    assert rb.stalled_at == [None, 1, None] and rb.stall_kind[1] == "frozen"
    assert rb.stopped_at == [None, 5, None]
    assert rb.histories[1]["step"] == [0, 5] and rb.histories[0]["step"] == [0, 10, 20, 30]
    _assert_equal_to_train(nets, splits, [cfg] * 3, rb)


def test_nan_names_run_and_step() -> None:
    # GD at lr 1e3 on the square loss diverges; only run 2 gets it
    cfgs = [C(steps=200, lr=0.01), C(steps=200, lr=0.01), C(steps=200, lr=1e3)]
    nets, splits = _setup("regression", 5, 20, 30, 3)
    with pytest.raises(BatchedNonFiniteError, match="of run 2") as e:
        train_batched(nets, [sp.train for sp in splits], cfgs)
    assert e.value.run == 2 and 0 < e.value.step < 200


def test_checkpoint_resume_equals_uninterrupted(tmp_path) -> None:
    cfg = C(steps=40, lr=0.01, optimizer="adam", lam_inf=1e-3, eval_every=10, checkpoint_every=10)
    nets, splits = _setup("regression", 5, 20, 30, 3)
    trs, tes = [sp.train for sp in splits], [sp.test for sp in splits]
    full = train_batched(nets, trs, cfg, tests=tes)
    ck = tmp_path / "batch.pt"
    half = train_batched(nets, trs, C(**{**cfg.__dict__, "steps": 20}), tests=tes, checkpoint=ck)
    assert half.resumed_from is None and ck.exists()
    res = train_batched(nets, trs, cfg, tests=tes, checkpoint=ck)
    assert res.resumed_from == 20
    for s in range(3):
        assert torch.equal(res.nets[s].W, full.nets[s].W) and torch.equal(res.nets[s].V, full.nets[s].V)
        assert res.histories[s]["train_loss"] == full.histories[s]["train_loss"]
        assert res.histories[s]["step"] == full.histories[s]["step"]
    with pytest.raises(ValueError, match="different config"):
        train_batched(nets, trs, C(**{**cfg.__dict__, "lr": 0.02}), tests=tes, checkpoint=ck)


def test_projected_adam_matches_autograd_reference() -> None:
    p, h, n, r = 5, 20, 40, 0.3
    nets, splits = _setup("regression", p, h, n, 2)
    cfg = C(steps=30, lr=0.01, optimizer="adam", eval_every=30)
    rb = train_batched(nets, [sp.train for sp in splits], cfg, radius=[r, 2 * r])
    for s, rad in enumerate((r, 2 * r)):
        W = nets[s].W.clone().clamp_(-rad, rad).requires_grad_(True)
        V = nets[s].V.clone().clamp_(-rad, rad).requires_grad_(True)
        opt = torch.optim.Adam([W, V], lr=0.01)
        x, y = splits[s].train.x, splits[s].train.y.double()
        for _ in range(30):
            opt.zero_grad()
            z = W.t()[x[:, 0]] + W.t()[p + x[:, 1]]
            g = (z * z * V[x[:, 2]]).sum(1)
            ((g - y) ** 2).mean().backward()
            opt.step()
            with torch.no_grad():
                W.clamp_(-rad, rad)
                V.clamp_(-rad, rad)
        assert float((W.detach() - rb.nets[s].W).abs().max()) < 1e-10
        assert float((V.detach() - rb.nets[s].V).abs().max()) < 1e-10
        assert rb.nets[s].theta_inf() <= rad
    assert math.isclose(rb.nets[0].theta_inf(), r)   # the constraint is active


def test_bad_inputs_raise_before_work() -> None:
    nets, splits = _setup("regression", 5, 20, 30, 2)
    trs = [sp.train for sp in splits]
    cfg = C(steps=5, lr=0.01)
    with pytest.raises(ValueError, match="S >= 1"):
        train_batched([], [], cfg)
    wide = QuadraticNet.init(5, 24, seed=0)
    with pytest.raises(ValueError, match="one shape"):
        train_batched([nets[0], wide], trs, cfg)
    short = sample_split(Task(5, "regression"), n=20, seed=3).train
    with pytest.raises(ValueError, match="one task and size"):
        train_batched(nets, [trs[0], short], cfg)
    with pytest.raises(ValueError, match=r"only .* may differ"):
        train_batched(nets, trs, [cfg, C(steps=6, lr=0.01)])
    with pytest.raises(ValueError, match="radius"):
        train_batched(nets, trs, cfg, radius=0.0)
    with pytest.raises(ValueError, match="trains has 1 entries"):
        train_batched(nets, trs[:1], cfg)
