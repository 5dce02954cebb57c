"""Experiment 23 (reading sensitivity) at a tiny config: each flip reaches the run it names, the
cells agree with an independent reduction of the stored per-seed rows, and a flip "changes the
verdict" exactly when the claim's criterion (C16 (a): acc ≥ 0.95; C15: ratio ≤ ½ and acc ≥ 0.95)
holds on one side and not the other."""

from __future__ import annotations

import numpy as np
import pytest

from regimes.harness import discover, run

#: p = 11 classification (n = 2p^{5/3} = 109 of 121 pairs), p = 5 regression (n = 2p^{2.25} = 75 of 125)
TINY = {"classification": {"ps": [11], "seeds": [0, 1], "steps": 20, "n_evals": 2},
        "regression": {"ps": [5], "seeds": [0, 1], "steps": 20, "n_evals": 2}}


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory):
    exp = next(e for e in discover() if e.number == "23")
    return run(exp, out=tmp_path_factory.mktemp("exp23"), quiet=True, overrides=TINY).result["metrics"]


def _rows(m, setting, base, flip, p):
    return [r for r in m["rows"] if (r["setting"], r["base"], r["flip"], r["p"]) == (setting, base, flip, p)]


def test_each_flip_reaches_its_run(metrics) -> None:
    for r in metrics["rows"]:
        if r["setting"] == "classification":
            # Prop 3.8's h = 8p, Fig 3's 4p under the width flip
            assert r["width"] == (4 if r["flip"] == "width" else 8) * r["p"], r
    # the init flip draws a different net: the runs differ from the base's on the same seed
    base = _rows(metrics, "regression", metrics["blocks"][-1]["base"], None, 5)
    he = _rows(metrics, "regression", metrics["blocks"][-1]["base"], "init", 5)
    assert [r["theta_inf"] for r in base] != [r["theta_inf"] for r in he]


def test_cells_agree_with_the_stored_rows(metrics) -> None:
    for b in metrics["blocks"]:
        for e in b["cells"]:
            runs = _rows(metrics, b["setting"], b["base"], e["flip"], e["p"])
            base = {r["seed"]: r for r in _rows(metrics, b["setting"], b["base"], None, e["p"])}
            acc = np.mean([r["heldout_acc"] for r in runs])
            assert e["heldout_acc"]["estimate"] == pytest.approx(acc, abs=1e-12)
            d = np.mean([r["heldout_acc"] - base[r["seed"]]["heldout_acc"] for r in runs])
            assert e["delta_heldout_acc"]["estimate"] == pytest.approx(d, abs=1e-12)
            if e["flip"] is None:     # the base against itself: a paired difference of exactly 0
                assert e["delta_heldout_acc"]["estimate"] == 0.0
            if b["setting"] == "classification":
                holds = acc >= 0.95
            else:
                holds = np.mean([r["heldout_l2_ratio"] for r in runs]) <= 0.5 and acc >= 0.95
            assert e["holds"] == bool(holds)
            base_holds = next(c["holds"] for c in b["cells"] if c["flip"] is None and c["p"] == e["p"])
            assert e["changes_verdict"] == (e["flip"] is not None and e["holds"] != base_holds)
