"""The model interface (regimes.models.Model): the quadratic net, the transformer, the
embedding MLP and the attention-only model satisfy it, round-trip through it, and train() / the autodiff eNTK take it.

Expected values are independent of the interface: ``net(x)`` is each model's own forward
pass, the closed-form eNTK (:mod:`regimes.ntk.closed_form`) is checked against the generic
autodiff one through the protocol.
"""

from __future__ import annotations

import pytest
import torch

from regimes.models import EmbeddingMLP, Model, QuadraticNet, Transformer
from regimes.models.attention import AttentionOnly
from regimes.ntk import entk
from regimes.ntk.autodiff import entk_autodiff, model_entk
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train

P = 5


def _models() -> list[Model]:
    return [
        QuadraticNet.init(P, 12, seed=0),
        QuadraticNet.init(P, 12, seed=1, mean_field=True),       # output scale 2/h ≠ 1
        Transformer.init(P, d_model=8, n_heads=2, seed=0),
        EmbeddingMLP.init(P, d_embed=6, hidden=10, seed=0),
        AttentionOnly.init(P, n_embd=8, n_heads=2, dtype=torch.float64, seed=0),
    ]


@pytest.mark.parametrize("net", _models(), ids=["quadratic", "quadratic_mean_field", "transformer", "mlp", "attention"])
def test_models_satisfy_the_protocol_and_round_trip(net: Model) -> None:
    assert isinstance(net, Model)
    x = Task(P).population().x
    direct = net(x)
    assert direct.shape == (P * P, P)
    assert torch.equal(net.apply(net.params(), x), direct)                  # apply equals forward
    twin = net.with_params(net.params())
    assert type(twin) is type(net)
    assert torch.equal(twin(x), direct)                                    # identical outputs
    assert torch.equal(twin.apply(twin.params(), x), direct)
    # with_params really swaps θ: doubled parameters give a different function
    doubled = net.with_params({k: 2 * v for k, v in net.params().items()})
    assert not torch.equal(doubled(x), direct)


def test_non_models_are_not_models() -> None:
    assert not isinstance(object(), Model)
    assert not isinstance({"W": torch.zeros(2, 4)}, Model)
    with pytest.raises(ValueError, match="Model"):
        model_entk({"W": torch.zeros(2, 4)}, torch.zeros(1, 2, dtype=torch.long))  # type: ignore[arg-type]
    net = QuadraticNet.init(P, 4)
    with pytest.raises(ValueError, match="'W' and 'V'"):
        net.with_params({"W": net.W})


def test_quadratic_class_apply_stays_the_static_functional_form() -> None:
    """``QuadraticNet.apply(params, x, scale)`` on the class (used by torch.func and the loop)
    is unchanged; only the bound method defaults to the net's output scale."""
    net = QuadraticNet.init(P, 12, seed=1, mean_field=True)
    x = Task(P).population().x
    s = net.output_scale
    assert s != 1.0
    z = net.W.t()[x[:, 0]] + net.W.t()[P + x[:, 1]]                          # eq. 2.1 by hand
    by_hand = s * (z * z) @ net.V.t()
    assert torch.allclose(QuadraticNet.apply(net.params(), x, s), by_hand, rtol=1e-14, atol=0)
    assert torch.allclose(QuadraticNet.apply(net.params(), x), by_hand / s, rtol=1e-14, atol=0)
    assert torch.allclose(net.apply(net.params(), x), by_hand, rtol=1e-14, atol=0)


def test_model_entk_agrees_with_the_closed_form() -> None:
    net = QuadraticNet.init(P, 12, seed=3, mean_field=True)
    x = Task(P).population().x[:10]
    K_closed = entk(net, x, kind="first_logit")
    assert torch.allclose(model_entk(net, x, output=0), K_closed, rtol=1e-12, atol=1e-14)
    tr = Transformer.init(P, d_model=8, n_heads=2, seed=0)
    assert torch.equal(model_entk(tr, x, output=1), entk_autodiff(tr.apply, tr.params(), x, output=1))


def test_train_takes_any_model_and_returns_one() -> None:
    split = sample_split(Task(P), fraction=0.6, seed=0)
    cfg = TrainConfig(steps=3, lr=1e-2, optimizer="adam", loss="cross_entropy")
    for net in (QuadraticNet.init(P, 12, seed=0), Transformer.init(P, d_model=8, n_heads=2, seed=0)):
        res = train(net, split.train, cfg, test=split.test)
        assert isinstance(res.net, Model) and type(res.net) is type(net)
        # the trained model's apply at its own params is its forward pass
        assert torch.equal(res.net.apply(res.net.params(), split.test.x), res.net(split.test.x))
