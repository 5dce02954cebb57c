"""Attention-only models of Gromov's App. E.2 (:mod:`regimes.models.attention`): the forward pass
against an independent per-example, per-head loop, causality, the head-count validation, the
fixed parameter count, and training through :func:`regimes.train.train`."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.models.attention import AttentionOnly, check_heads
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train


def _loop_forward(net: AttentionOnly, a: int, b: int) -> torch.Tensor:
    """The module doc's formulas, one example, one head, one position at a time (plain Python sums)."""
    P = net.params()
    p, d, H = net.p, net.n_embd, net.n_heads
    dh = d // H
    h = [P["embed"][t] + P["pos"][i] for i, t in enumerate((a, b, p))]
    for layer in range(net.n_layers):
        WQ, WK, WV, WO = (P[f"{w}{layer}"] for w in ("W_Q", "W_K", "W_V", "W_O"))
        new = []
        for i in range(3):
            heads = []
            for hd in range(H):
                sl = slice(hd * dh, (hd + 1) * dh)
                q = h[i] @ WQ[:, sl]
                scores = [float(q @ (h[j] @ WK[:, sl])) / math.sqrt(dh) for j in range(i + 1)]
                if net.kind == "softmax":
                    mx = max(scores)
                    ex = [math.exp(s - mx) for s in scores]
                    w = [e / sum(ex) for e in ex]
                else:
                    w = scores
                heads.append(sum(w[j] * (h[j] @ WV[:, sl]) for j in range(i + 1)))
            new.append(h[i] + torch.cat(heads) @ WO)
        h = new
    return h[2] @ P["W_U"]


@pytest.mark.parametrize("kind,layers,heads", [("softmax", 1, 1), ("softmax", 1, 4), ("linear", 1, 2),
                                               ("softmax", 2, 4), ("linear", 2, 8)])
def test_forward_matches_a_loop(kind: str, layers: int, heads: int) -> None:
    net = AttentionOnly.init(5, n_embd=8, n_heads=heads, n_layers=layers, kind=kind, seed=1, dtype=torch.float64)
    x = torch.tensor([[0, 0], [1, 4], [3, 2]])
    out = net(x)
    for i, (a, b) in enumerate(x.tolist()):
        torch.testing.assert_close(out[i], _loop_forward(net, a, b), rtol=1e-12, atol=1e-12)


def test_output_depends_on_both_tokens() -> None:
    """Causality (position i attends to j ≤ i) is checked against the loop above; here the logits,
    read at the last position, change with either operand."""
    net = AttentionOnly.init(7, n_embd=8, n_heads=2, n_layers=2, seed=0, dtype=torch.float64)
    out = net(torch.tensor([[1, 2], [1, 3], [4, 2]]))
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[0], out[2])


def test_head_count_must_divide_n_embd() -> None:
    with pytest.raises(ValueError, match=r"n_heads=3 does not divide n_embd=128.*\[1, 2, 4, 8, 16, 32, 64, 128\]"):
        AttentionOnly.init(11, n_embd=128, n_heads=3)
    with pytest.raises(ValueError, match="n_heads"):
        check_heads(0, 8)
    with pytest.raises(ValueError, match="kind"):
        AttentionOnly.init(11, n_embd=8, n_heads=2, kind="relu")
    with pytest.raises(ValueError, match="n_layers"):
        AttentionOnly.init(11, n_embd=8, n_heads=2, n_layers=0)


@pytest.mark.parametrize("layers", [1, 2])
def test_parameter_count_is_fixed_across_head_counts(layers: int) -> None:
    p, d = 13, 16
    expected = (p + 1) * d + 3 * d + 4 * layers * d * d + d * p
    counts = {h: AttentionOnly.init(p, n_embd=d, n_heads=h, n_layers=layers).num_params() for h in (1, 2, 4, 8, 16)}
    assert set(counts.values()) == {expected}


def test_trains_through_the_shared_loop() -> None:
    """Full-batch AdamW on cross-entropy through train()'s functional backend lowers the training loss."""
    split = sample_split(Task(7), fraction=0.8, seed=0)
    net = AttentionOnly.init(7, n_embd=16, n_heads=4, seed=0, dtype=torch.float64)
    res = train(net, split.train, TrainConfig(steps=30, lr=1e-2, optimizer="adamw", loss="cross_entropy",
                                              eval_every=30), test=split.test)
    assert res.history["train_loss"][-1] < 0.8 * res.history["train_loss"][0]
    assert isinstance(res.net, AttentionOnly) and res.net.n_heads == 4
