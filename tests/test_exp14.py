"""Experiment 14 (the textbook's grokking measures) at a tiny config: every run is one point of
``ctx.map``, so a run on two worker processes must give exactly the in-process result, with
one row per run of each sweep (a run in two sweeps computed once) and one textbook row per
(γ or fraction, seed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from regimes.harness import discover, run
from regimes.settings.textbook import TEXTBOOK_RUN

TINY_Q = {"p": 7, "optimizer": "adamw", "lr": 1e-2, "loss": "cross_entropy", "steps": 20, "track": False,
          "n_track": 5, "fraction": 0.7}
TINY_M = {"p": 7, "d_embed": 8, "hidden": 8, "optimizer": "adamw", "lr": 3e-2, "fraction": 0.6, "steps": 20,
          "n_track": 5, "dtype": "float32"}
TINY = {"base": TINY_Q, "wds": [0.0, 1.0], "wd_fixed": 1.0, "fractions": [0.5, 0.7], "wd_on": 10,
        "mlp": {"base": TINY_M, "wds": [0.3], "wd_fixed": 1.0, "fractions": [0.6]},
        "textbook": {"t1": {"run": TEXTBOOK_RUN, "wds": [0.3, 3.0], "fraction": 0.7, "seeds": [0, 1], "steps": 20,
                            "eval_every": 10},
                     "t2": {"run": TEXTBOOK_RUN, "fractions": [0.6, 0.8], "wd": 3.0, "seeds": [0], "steps": 20,
                            "eval_every": 10}}}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    exp = next(e for e in discover() if e.number == "14")
    serial = run(exp, out=tmp_path_factory.mktemp("exp14_serial"), quiet=True, overrides=TINY)
    par_out = tmp_path_factory.mktemp("exp14_jobs2")
    par = run(exp, out=par_out, quiet=True, overrides=TINY, executor={"jobs": 2, "executor": "local"})
    return serial.result["metrics"], par.result["metrics"], par_out


def test_one_row_per_run(both) -> None:
    m, _, out = both
    assert [(r["sweep"], r["value"]) for r in m["rows"]] == [
        ("weight_decay", 0.0), ("weight_decay", 1.0), ("fraction", 0.5), ("fraction", 0.7), ("wd_after_mem", 10.0)]
    # fraction 0.7 at the fixed decay is the same run as decay 1.0 at the base fraction: computed once
    assert {k: v for k, v in m["rows"][1].items() if k not in ("sweep", "value")} == \
        {k: v for k, v in m["rows"][3].items() if k not in ("sweep", "value")}
    assert [(r["sweep"], r["value"]) for r in m["mlp_rows"]] == [("weight_decay", 0.3), ("fraction", 0.6)]
    assert len(m["textbook"]["t1"]["rows"]) == 2 * 2 and len(m["textbook"]["t2"]["rows"]) == 2 * 1
    assert Path(out, "figures", "14_grokking_measures.png").exists()


def test_two_workers_give_the_in_process_result(both) -> None:
    serial, par, _ = both
    strip = {"train_wall_s"}      # wall times differ; everything else must be identical
    for rows in ("rows", "mlp_rows"):
        assert [{k: v for k, v in r.items() if k not in strip} for r in serial[rows]] == \
            [{k: v for k, v in r.items() if k not in strip} for r in par[rows]]
    assert serial["textbook"] == par["textbook"]
