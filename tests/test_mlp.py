"""Tests of the blog post's embedding MLP (:mod:`regimes.models.mlp`): parity with an
independent ``torch.nn`` build, the init law, training through the generic loop, its
``torch.func`` eNTK against an explicit autograd Jacobian, and input validation."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.models.mlp import PARAM_NAMES, EmbeddingMLP, mlp_apply
from regimes.ntk.autodiff import entk_autodiff
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train


class _TorchMLP(torch.nn.Module):
    """The blog's model written with torch.nn layers (as in okitouni/simple-grokking)."""

    def __init__(self, p: int, d: int, m: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(p, d)
        self.fc1 = torch.nn.Linear(2 * d, m)
        self.readout = torch.nn.Linear(m, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embedding(x).flatten(start_dim=1)
        return self.readout(torch.relu(self.fc1(z)))


def _reference(net: EmbeddingMLP) -> _TorchMLP:
    """A torch.nn copy of ``net`` (nn.Linear stores weights as (out, in): transpose)."""
    P = net.params()
    ref = _TorchMLP(net.p, net.d_embed, net.hidden).double()
    with torch.no_grad():
        ref.embedding.weight.copy_(P["embed"])
        ref.fc1.weight.copy_(P["W1"].t())
        ref.fc1.bias.copy_(P["b1"])
        ref.readout.weight.copy_(P["W2"].t())
        ref.readout.bias.copy_(P["b2"])
    return ref


def test_matches_torch_nn_reference() -> None:
    p, d, m = 13, 16, 24
    net = EmbeddingMLP.init(p, d_embed=d, hidden=m, seed=1)
    g = torch.Generator().manual_seed(7)
    x = torch.randint(p, (200, 2), generator=g)
    y = net(x)
    assert y.shape == (200, p) and y.dtype == torch.float64
    assert torch.allclose(y, _reference(net)(x), atol=1e-12, rtol=1e-12)
    # the order of the operands matters (concatenation, not a sum)
    assert not torch.allclose(net(x), net(x.flip(1)))
    # the functional form is the same map
    assert torch.equal(net.apply(net.params(), x), mlp_apply(net.params(), x))
    assert net.num_params() == sum(t.numel() for t in _reference(net).parameters())


def test_init_law_seed_and_alpha() -> None:
    p, d, m = 17, 64, 96
    a = EmbeddingMLP.init(p, d_embed=d, hidden=m, seed=3)
    b = EmbeddingMLP.init(p, d_embed=d, hidden=m, seed=3)
    c = EmbeddingMLP.init(p, d_embed=d, hidden=m, seed=4)
    assert all(torch.equal(a.params()[k], b.params()[k]) for k in PARAM_NAMES)
    assert all(not torch.equal(a.params()[k], c.params()[k]) for k in PARAM_NAMES)
    fan = {"W1": 2 * d, "b1": 2 * d, "W2": m, "b2": m}
    for k, f in fan.items():
        t = a.params()[k]
        bound = 1 / math.sqrt(f)
        assert float(t.abs().max()) <= bound                       # U(±1/√fan_in) support
        # variance of U(±c) is c²/3; the sample variance of N draws has relative s.e.
        # √(0.8/N) (kurtosis 9/5 of a uniform): allow 5 s.e.
        n = t.numel()
        assert abs(float(t.var()) / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / n)
    # embeddings N(0, 1): 17·64 = 1088 draws; the sample variance's relative s.e. is √(2/N)
    E = a.params()["embed"]
    assert abs(float(E.var()) - 1) < 5 * math.sqrt(2 / E.numel())
    assert abs(float(E.mean())) < 5 / math.sqrt(E.numel())
    # alpha multiplies every entry of the same draw exactly (a power of two: exact in float)
    s = EmbeddingMLP.init(p, d_embed=d, hidden=m, seed=3, alpha=0.25)
    assert all(torch.equal(s.params()[k], 0.25 * a.params()[k]) for k in PARAM_NAMES)
    assert s.theta_inf() == 0.25 * a.theta_inf()
    f32 = EmbeddingMLP.init(p, d_embed=d, hidden=m, seed=3, dtype=torch.float32)
    assert all(v.dtype == torch.float32 for v in f32.params().values())
    assert torch.equal(f32.params()["W1"], a.params()["W1"].float())


def test_trains_to_full_train_accuracy_with_generic_loop() -> None:
    p = 13
    split = sample_split(Task(p), fraction=0.5, seed=0)
    net = EmbeddingMLP.init(p, d_embed=32, hidden=32, seed=0)
    cfg = TrainConfig(steps=300, lr=1e-2, optimizer="adamw", weight_decay=0.1, loss="cross_entropy",
                      eval_every=100)
    res = train(net, split.train, cfg, test=split.test)
    assert isinstance(res.net, EmbeddingMLP) and res.net.p == p
    assert res.history["train_acc"][0] < 0.5
    assert res.final["train_acc"] == 1.0
    assert res.history["train_loss"][-1] < 0.1 * res.history["train_loss"][0]
    # the trained net's own forward pass agrees with the recorded accuracy
    acc = float((res.net(split.train.x).argmax(1) == split.train.y).double().mean())
    assert acc == res.final["train_acc"]
    # training moved the embeddings and left the input net as it was
    fresh = EmbeddingMLP.init(p, d_embed=32, hidden=32, seed=0)
    assert not torch.equal(res.net.params()["embed"], fresh.params()["embed"])
    assert all(torch.equal(net.params()[k], fresh.params()[k]) for k in PARAM_NAMES)


def test_entk_matches_explicit_jacobian() -> None:
    p = 7
    net = EmbeddingMLP.init(p, d_embed=6, hidden=10, seed=2)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(p, (9, 2), generator=g)
    K = entk_autodiff(net.apply, net.params(), x, output=0)
    # explicit Jacobian of the first logit by torch.autograd, one row per point
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in net.params().items()}
    rows = []
    for i in range(x.shape[0]):
        out = mlp_apply(leaves, x[i: i + 1])[0, 0]
        grads = torch.autograd.grad(out, list(leaves.values()), allow_unused=True)
        rows.append(torch.cat([torch.zeros_like(v).flatten() if gr is None else gr.flatten()
                               for v, gr in zip(leaves.values(), grads, strict=True)]))
    J = torch.stack(rows)
    assert J.shape == (9, net.num_params())
    assert torch.allclose(K, J @ J.t(), atol=1e-12, rtol=1e-12)
    assert torch.allclose(K, K.t(), atol=1e-13)
    assert float(torch.linalg.eigvalsh(K).min()) > -1e-10 * float(K.diagonal().max())
    # the cross kernel on another set is the off-diagonal block
    K2 = entk_autodiff(net.apply, net.params(), x[:4], x[4:], output=0)
    assert torch.allclose(K2, (J @ J.t())[:4, 4:], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"p": 1}, "p=1"),
    ({"p": 5.5}, "p must be an integer"),
    ({"p": 5, "d_embed": 0}, "d_embed=0"),
    ({"p": 5, "hidden": -2}, "hidden=-2"),
    ({"p": 5, "alpha": 0.0}, "alpha"),
    ({"p": 5, "alpha": float("nan")}, "alpha"),
    ({"p": 5, "seed": -1}, "seed=-1"),
    ({"p": 5, "dtype": torch.int64}, "dtype"),
])
def test_init_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    p = kwargs.pop("p")
    with pytest.raises(ValueError, match=match):
        EmbeddingMLP.init(p, **kwargs)


def test_call_and_params_validation() -> None:
    net = EmbeddingMLP.init(5, d_embed=4, hidden=6, seed=0)
    for bad, match in ((torch.tensor([[0, 5]]), "out of range"), (torch.tensor([[0, -1]]), "out of range"),
                       (torch.tensor([[0, 1, 2]]), "shape"), (torch.tensor([[0.0, 1.0]]), "integer"),
                       ([[0, 1]], "torch.Tensor")):
        with pytest.raises(ValueError, match=match):
            net(bad)
    P = net.params()
    with pytest.raises(ValueError, match="missing"):
        EmbeddingMLP({k: v for k, v in P.items() if k != "b2"})
    with pytest.raises(ValueError, match="W1"):
        EmbeddingMLP({**P, "W1": P["W1"][:-1]})
    with pytest.raises(ValueError, match="b1"):
        net.with_params({**P, "b1": P["b1"][:-1]})
    with pytest.raises(ValueError, match="W2"):
        EmbeddingMLP({**P, "W2": P["W2"].t()})
    with pytest.raises(ValueError, match="dict"):
        EmbeddingMLP([P["embed"]])


def test_mlp_run_records_the_init_embedding_and_t_mem_of_its_history():
    """``regimes.runs.mlp_run``: its ``embed_init`` is the seeded init's table, and its
    t_mem is the first logged step at 100 % train accuracy, read off its own history."""
    import numpy as np

    from regimes.runs import mlp_run

    cfg = {"p": 11, "d_embed": 16, "hidden": 16, "steps": 300, "n_track": 12, "lr": 1e-2, "dtype": "float64",
           "seed": 3}
    s, a = mlp_run(cfg)
    E0 = EmbeddingMLP.init(11, d_embed=16, hidden=16, seed=3).params()["embed"].numpy()
    np.testing.assert_array_equal(a["embed_init"], E0)
    assert a["embed_end"].shape == (11, 16) and not np.array_equal(a["embed_end"], E0)
    hit = np.flatnonzero(a["train_acc"] >= 1.0)
    assert s["t_mem"] == (int(a["step"][hit[0]]) if hit.size else None)
    assert 0.0 <= s["circle_score_end"] <= 1.0
