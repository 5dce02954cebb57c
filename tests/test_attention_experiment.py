"""Experiment 22 (Gromov App. E, Figs 11–13) at a tiny config: the result's structure, the
stored transformer, the parameter count of the attention-only models (fixed across head
counts, computed by hand from the architecture), and the diagonal-share measure on an image
built to be a wave in n + m."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from regimes.gromov import line_power_share
from regimes.harness import discover, run
from regimes.runs import rebuild_net, stored_runs

TINY = {"p": 7, "fraction": 0.6, "seeds": [0, 1, 2],
        "transformer": {"d_model": 8, "n_heads": 2, "d_mlp": 16, "lr": 1e-2, "weight_decay": 1.0, "steps": 5},
        "attention": {"n_embd": 8, "lr": 1e-2, "weight_decay": 1.0, "steps": 5},
        "heads": [1, 2, 4], "sweep": ["softmax1"], "heads_b": 2, "eval_every": 5}


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory):
    exp = next(e for e in discover() if e.number == "22")
    out = tmp_path_factory.mktemp("exp22")
    return run(exp, out=out, quiet=True, overrides=TINY), out


def test_structure(done) -> None:
    res, out = done
    m = res.result["metrics"]
    assert [r["seed"] for r in m["transformer"]["rows"]] == [0, 1, 2]
    got = {(e["model"], e["heads"]) for e in m["attention"]}
    assert got == {("softmax1", 1), ("softmax1", 2), ("softmax1", 4), ("linear1", 2), ("softmax2", 2)}
    assert len(m["attention_rows"]) == 5 * 3
    for e in m["attention"]:
        for k in ("train_acc", "test_acc"):
            assert e[k]["n"] == 3 and 0.0 <= e[k]["estimate"] <= 1.0
    for k in ("diag_share", "init_diag_share"):
        assert 0.0 <= m["transformer"][k]["estimate"] <= 1.0
    assert Path(out, "figures", "22_attention_heads.png").exists()


def test_parameter_count_fixed_across_heads(done) -> None:
    """(p + 1)d token embeddings + 3d positions + 4Ld² attention weights + dp unembedding,
    whatever the number of heads (each W is d × d; heads only split its columns)."""
    res, _ = done
    m = res.result["metrics"]
    p, d = 7, 8
    by_hand = {name: (p + 1) * d + 3 * d + 4 * L * d * d + d * p for name, L in
               (("linear1", 1), ("softmax1", 1), ("softmax2", 2))}
    assert m["num_params"] == by_hand == {"linear1": 400, "softmax1": 400, "softmax2": 656}
    assert m["params_fixed_across_heads"] is True
    assert {r["num_params"] for r in m["attention_rows"] if r["model"] == "softmax1"} == {400}


def test_transformer_is_stored(done) -> None:
    _, out = done
    arrays = dict(np.load(Path(out, "results", "22_attention_heads.npz"), allow_pickle=False))
    runs = stored_runs(arrays)
    assert {"transformer-s0", "transformer-s1", "transformer-s2"} <= set(runs)
    net = rebuild_net(arrays, "transformer-s0")
    assert type(net).__name__ == "Transformer" and net.p == 7


def test_wave_in_n_plus_m_is_all_diagonal() -> None:
    """A pure wave cos(2πk(n + m)/p) has all its non-zero-frequency power at (k, k) and
    (−k, −k): diagonal share 1; a wave in n alone has none there."""
    p = 11
    n = torch.arange(p, dtype=torch.float64)
    wave = torch.cos(2 * math.pi * 3 * (n[:, None] + n[None, :]) / p)
    assert line_power_share(wave, "diagonal") == pytest.approx(1.0, abs=1e-12)
    assert line_power_share(torch.cos(2 * math.pi * 3 * n[:, None] / p).expand(p, p), "diagonal") \
        == pytest.approx(0.0, abs=1e-12)
