"""Checks G1–G6 (Gromov's claims; :mod:`regimes.checks.gromov`).

The verdict logic of the training-run checks (G1, G2) is tested on hand-made rows whose
answers are known, so every verdict each can return is reached here; the analytic checks
(G3, G4) run in full (deterministic, about a second); the training-run checks run under
``-m slow``.
"""

from __future__ import annotations

import math

import pytest

from regimes.checks import run_check
from regimes.gromov import critical_fraction, g1_verdict, g2_verdict


def _g1_row(seed: int, t_peak, t_onset, t_grok) -> dict:
    return {"config": {"seed": seed}, "t_mem": 100, "t_peak": t_peak, "t_onset": t_onset, "t_grok": t_grok}


def test_g1_verdicts() -> None:
    # (t_onset − t_peak)/t_grok = (800 − 700)/1300 ≈ 0.077 and (830 − 750)/1400 ≈ 0.057: inside [0, 0.2]
    ok = [_g1_row(0, 700, 800, 1300), _g1_row(1, 750, 830, 1400), _g1_row(2, 790, 790, 1200)]
    v = g1_verdict(ok, 0.2)
    assert v["verdict"] == "PASS"
    assert v["measured"] == pytest.approx(100 / 1300)
    assert v["smallest"] == 0.0
    # a peak after the onset (ratio < 0) fails, as does one far before it (0.5 > 0.2)
    assert g1_verdict([*ok[:2], _g1_row(2, 900, 800, 1300)], 0.2)["verdict"] == "FAIL"
    assert g1_verdict([*ok[:2], _g1_row(2, 150, 800, 1300)], 0.2)["verdict"] == "FAIL"
    # a held-out loss that never rises, in a run that grokked, fails the claim
    assert g1_verdict([*ok[:2], _g1_row(2, None, 800, 1300)], 0.2)["verdict"] == "FAIL"
    # a seed that never groks leaves the claim untested
    v = g1_verdict([*ok[:2], _g1_row(2, 700, 800, None)], 0.2)
    assert v["verdict"] == "INCONCLUSIVE"
    with pytest.raises(ValueError, match="window"):
        g1_verdict(ok, 0.0)


def _sweep(opt: str, seed: int, tgrok: dict[float, int | None]) -> list[dict]:
    return [{"optimizer": opt, "seed": seed, "fraction": f, "t_grok": t, "skipped": False}
            for f, t in sorted(tgrok.items(), reverse=True)]


def test_critical_fraction_is_the_bottom_of_the_unbroken_top_run() -> None:
    assert critical_fraction(_sweep("gd", 0, {0.8: 100, 0.7: 200, 0.6: None, 0.5: 900})) == 0.7
    assert critical_fraction(_sweep("gd", 0, {0.8: None, 0.7: 200})) is None
    assert critical_fraction(_sweep("gd", 0, {0.8: 100, 0.7: 200})) == 0.7


def _rows(gd, mom, adam) -> list[dict]:
    out = []
    for s in range(3):
        out += _sweep("gd", s, gd[s]) + _sweep("momentum", s, mom[s]) + _sweep("adamw", s, adam[s])
    return out


def test_g2_verdicts() -> None:
    gd = [{0.8: 1000, 0.6: 2000 + 100 * s, 0.4: None} for s in range(3)]
    better = [{0.8: 300, 0.6: 500 + 50 * s, 0.4: 900} for s in range(3)]
    v = g2_verdict(_rows(gd, better, better))
    assert v["verdict"] == "PASS"
    # α_c: 0.6 vs 0.4 in every seed, a zero-width interval at 0.2; time: log(300/1000), log(500/2000) …
    c = v["comparisons"]["momentum"]
    assert c["alpha_c_diff"]["estimate"] == pytest.approx(0.2)
    expected = [0.5 * (math.log(300 / 1000) + math.log((500 + 50 * s) / (2000 + 100 * s))) for s in range(3)]
    assert c["log_time_ratio"]["estimate"] == pytest.approx(sum(expected) / 3)
    assert v["measured"] < 0
    # momentum no faster and at the same α_c as GD: FAIL
    v = g2_verdict(_rows(gd, gd, better))
    assert v["verdict"] == "FAIL" and v["measured"] >= 0
    # GD never groks anywhere, and neither does momentum: no α_c and no time comparison for momentum
    never = [{0.8: None, 0.6: None, 0.4: None} for _ in range(3)]
    assert g2_verdict(_rows(never, never, better))["verdict"] == "INCONCLUSIVE"
    with pytest.raises(ValueError, match="optimizers"):
        g2_verdict([r for r in _rows(gd, better, better) if r["optimizer"] != "adamw"])


def test_g2_censored_baseline_counts_as_the_next_grid_step() -> None:
    """GD never groks; momentum's α_c is 0.4: the difference is taken against 0.8 + 0.2 = 1.0,
    the smallest value GD's α_c can have, so it understates the improvement."""
    never = [{0.8: None, 0.6: None, 0.4: None} for _ in range(3)]
    better = [{0.8: 300, 0.6: 500, 0.4: 900} for _ in range(3)]
    v = g2_verdict(_rows(never, better, better))
    assert v["censored_as"] == pytest.approx(1.0)
    assert v["comparisons"]["momentum"]["alpha_c_diff"]["estimate"] == pytest.approx(0.6)
    # no fraction where both grokked: the time comparison cannot be made
    assert v["comparisons"]["momentum"]["log_time_ratio"] is None
    assert v["verdict"] == "INCONCLUSIVE"


def test_g3_analytic_sum_of_squares_is_exact() -> None:
    r = run_check("G3")
    assert r.verdict == "PASS" and r.measured == 1.0


def test_g4_analytic_square_of_sum_one_branch() -> None:
    """Chosen branch all right; the other branch near chance 1/97 (bound 0.1); overall ≈ 51%
    (Gromov Fig 7), i.e. (p+1)/(2p) = 0.505 plus the chance hits of the other branch."""
    r = run_check("G4")
    assert r.verdict == "PASS"
    for d in r.details["per_phase_seed"].values():
        assert d["acc_chosen_branch"] == 1.0
        assert 98 / 194 <= d["acc"] <= 98 / 194 + 0.1 * 96 / 194


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["G1", "G2", "G5", "G6"])
def test_training_checks_reach_a_verdict(cid: str) -> None:
    """The training-run checks at quick scale (minutes each): they return one of their verdicts
    with per-seed details; what the verdict is, is the finding (see the report)."""
    r = run_check(cid)
    assert r.verdict in ("PASS", "FAIL", "INCONCLUSIVE")
    assert r.details


def _experiment(number: str):
    from regimes import harness

    return {e.number: e for e in harness.discover()}[number]


def test_check_g2_judges_experiment_16s_stored_runs_without_retraining(tmp_path, monkeypatch) -> None:
    """One grid per claim: G2 reads regimes.settings.grids.G2, as experiment 16 does, and every
    (optimizer, seed) sweep goes through the run cache, so after the experiment the check trains
    nothing (gromov_run is made to fail) and judges the experiment's rows."""
    import regimes.gromov
    from regimes import harness, runcache
    from regimes.settings import grids

    tiny = {**grids.G2["quick"], "run": {**grids.G2["quick"]["run"], "p": 11, "h": 40, "steps": 40, "eval_every": 10},
            "fractions": [0.5, 0.8], "seeds": [0, 1]}
    monkeypatch.setitem(grids.G2, "quick", tiny)
    exp16 = harness.run(_experiment("16"), out=tmp_path, quiet=True, overrides=tiny)
    monkeypatch.setattr(regimes.gromov, "gromov_run", lambda *a, **k: pytest.fail("check G2 retrained a run"))
    with runcache.using(tmp_path / "results" / "runs"):
        res = run_check("G2")
    assert res.details["seeds"] == [0, 1]
    assert res.details["rows"] == exp16.result["metrics"]["rows"]


def test_checks_g5_g6_judge_experiment_17s_stored_runs_without_retraining(tmp_path, monkeypatch) -> None:
    """G5 and G6 read regimes.settings.grids.G5, as experiment 17 does: after the experiment they
    train nothing and judge its runs at the largest fraction of each (function, seed) sweep."""
    import regimes.gromov
    from regimes import harness, runcache
    from regimes.settings import grids

    tiny = {**grids.G5["quick"], "run": {**grids.G5["quick"]["run"], "p": 11, "h": 40, "steps": 40, "eval_every": 10},
            "functions": ["square_of_sum", "cubic"], "fractions": [0.5, 0.9], "seeds": [0, 1]}
    monkeypatch.setitem(grids.G5, "quick", tiny)
    exp17 = harness.run(_experiment("17"), out=tmp_path, quiet=True, overrides=tiny)
    rows = exp17.result["metrics"]["rows"]
    monkeypatch.setattr(regimes.gromov, "gromov_run", lambda *a, **k: pytest.fail("a check retrained a run"))
    with runcache.using(tmp_path / "results" / "runs"):
        for cid, function in (("G5", "square_of_sum"), ("G6", "cubic")):
            res = run_check(cid)
            assert res.details["fraction"] == 0.9 and res.details["seeds"] == [0, 1]
            stored = {r["seed"]: r for r in rows if r["function"] == function and r["fraction"] == 0.9}
            assert [(d["seed"], d["final_test_acc"], d["final_train_acc"]) for d in res.details["per_seed"]] == \
                [(s, stored[s]["final_test_acc"], stored[s]["final_train_acc"]) for s in (0, 1)]
