"""regimes/extremal.py and the C18/C19 verdict rules (regimes/checks/extremal.py).

Expected values are hand calculations: the sup bound |g| ≤ 4h r³ (and the net attaining it),
Prop 3.8's norms 4^{-1/3} (h = 8p) and 2^{-1/3} (4p − 3 variant), its margins 4p and 2p, and
verdicts of hand-made rows. Training runs are tiny (p = 5) and seeded.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from regimes.checks.extremal import c18_verdict, c19_verdict
from regimes.extremal import (
    construction_margin,
    construction_norm,
    max_margin,
    min_linf_interpolators,
    radius_lower_bound,
)
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task


def test_radius_lower_bound_is_attained_by_the_all_r_net() -> None:
    p, h = 7, 56
    r = radius_lower_bound(p, h)
    assert math.isclose(r, (1 / 32) ** (1 / 3), rel_tol=1e-12)
    # W = V = r everywhere: z = 2r, g = h · r · (2r)² = 4h r³ = p on every triple (the bound's equality case)
    net = QuadraticNet(torch.full((h, 2 * p), r, dtype=torch.float64), torch.full((p, h), r, dtype=torch.float64))
    g = net.regression(Task(p, "regression").population().x)
    assert torch.allclose(g, torch.full_like(g, float(p)), rtol=1e-12)
    # any net in the ball stays below: a random one clipped to r
    w = QuadraticNet.init(p, h, alpha=10.0, seed=0)
    clipped = QuadraticNet(w.W.clamp(-r, r), w.V.clamp(-r, r))
    assert float(clipped.regression(Task(p, "regression").population().x).abs().max()) <= p * (1 + 1e-12)


def test_construction_norm_and_margin() -> None:
    assert math.isclose(construction_norm(7, 56), 4 ** (-1 / 3), rel_tol=1e-12)
    assert math.isclose(construction_norm(7, 28), 2 ** (-1 / 3), rel_tol=1e-12)   # Remark F.1 variant
    assert math.isclose(construction_norm(5, 80), 4 ** (-1 / 3) * 2 ** (-1 / 3), rel_tol=1e-12)   # 2 copies
    assert math.isclose(construction_margin(7, 56), 28.0, rel_tol=1e-9)
    assert math.isclose(construction_margin(5, 40), 20.0, rel_tol=1e-9)
    assert math.isclose(construction_margin(7, 28), 14.0, rel_tol=1e-9)
    with pytest.raises(ValueError, match="h=20 is out of range"):
        construction_norm(7, 20)
    with pytest.raises(ValueError, match="h=16 is out of range"):
        construction_norm(4, 16)


def test_min_linf_interpolators_bad_inputs() -> None:
    with pytest.raises(ValueError, match="r_lo"):
        min_linf_interpolators(5, 30, 40, [0], r_lo=0.0)
    with pytest.raises(ValueError, match="r_hi"):
        min_linf_interpolators(5, 30, 40, [0], r_hi=-1.0)
    with pytest.raises(ValueError, match="must be below"):
        min_linf_interpolators(5, 30, 40, [0], r_lo=0.5, r_hi=0.4)
    with pytest.raises(ValueError, match="n=125"):
        min_linf_interpolators(5, 125, 40, [0])
    with pytest.raises(ValueError, match="seeds"):
        min_linf_interpolators(5, 30, 40, [0, 0])
    # both ends below the provable lower bound (0.315 at h = 8p): r_hi cannot interpolate
    with pytest.raises(ValueError, match="does not bracket"):
        min_linf_interpolators(5, 30, 40, [0], r_lo=0.1, r_hi=0.2, steps=50)


def test_min_linf_interpolators_small() -> None:
    p, h, n = 5, 40, 30
    rows = min_linf_interpolators(p, n, h, [0, 1], steps=400, rounds=1, per_round=2, also_at=[0.63])
    lb = radius_lower_bound(p, h)
    for r in rows:
        assert not r["censored"]
        assert lb <= r["r_fail"] < r["r_star"] <= 1.5 * construction_norm(p, h) + 1e-12
        assert r["train_loss"] < 1e-3 and r["theta_inf"] <= r["r_star"] + 1e-15
        assert 0.0 <= r["heldout_acc"] <= 1.0 and r["heldout_l2_ratio"] > 0
        assert r["also"][0]["radius"] == 0.63
    # censoring instead of raising
    rows = min_linf_interpolators(p, n, h, [0], r_lo=0.1, r_hi=0.2, steps=50, on_unbracketed="censor")
    assert rows[0]["censored"] and rows[0]["r_star"] is None


def test_max_margin_small() -> None:
    p, h, n = 5, 40, 20
    rows = max_margin(p, n, h, [0, 1], temperatures=[0.1, 0.5], steps_per_stage=150)
    for r in rows:
        assert r["theta_inf"] <= 1.0 + 1e-12
        assert r["construction_norm_margin"] == pytest.approx(20.0)
        assert r["train_acc"] == 1.0 and r["norm_margin"] > 0
    with pytest.raises(ValueError, match="temperatures is empty"):
        max_margin(p, n, h, [0], temperatures=[])
    with pytest.raises(ValueError, match="lrs has 1 entries"):
        max_margin(p, n, h, [0], temperatures=[0.1, 0.2], lrs=[1e-2])
    with pytest.raises(ValueError, match="n=25"):
        max_margin(p, 25, h, [0])


def _row18(p, seed, acc, l2, censored=False):
    return {"p": p, "seed": seed, "censored": censored, "heldout_acc": acc, "heldout_l2_ratio": l2,
            "r_star_over_rc": 0.8}


def test_c18_verdict_rules() -> None:
    good = [_row18(7, s, a, 0.3) for s, a in enumerate((0.95, 0.97, 0.96))]
    assert c18_verdict(good, {7: [0.1, 0.1, 0.1]})["verdict"] == "PASS"
    bad = [_row18(7, s, a, 1.2) for s, a in enumerate((0.1, 0.12, 0.08))]
    assert c18_verdict(bad, {7: [0.1, 0.1, 0.1]})["verdict"] == "FAIL"
    # accuracy above the baseline but the ℓ2 ratio no better than the zero predictor
    assert c18_verdict([_row18(7, s, 0.9, 1.1) for s in range(3)])["verdict"] == "FAIL"
    assert c18_verdict([*good, _row18(7, 9, 0.0, 0.0, censored=True)])["verdict"] == "INCONCLUSIVE"


def _row19(p, seed, m, acc=1.0):
    return {"p": p, "seed": seed, "norm_margin": m, "construction_norm_margin": 4.0 * p, "heldout_acc": 0.9,
            "train_acc": acc}


def test_c19_verdict_rules() -> None:
    # margin = 8p·(1 + small seed noise): above 4p, exponent ≈ 1
    rows = [_row19(p, s, 8 * p * (1 + 0.01 * s)) for p in (11, 13, 17) for s in range(3)]
    v = c19_verdict(rows)
    assert v["verdict"] == "PASS" and v["exponent"]["estimate"] == pytest.approx(1.0, abs=1e-9)
    # margin 3p·(1 + small noise): below the construction's 4p at every p
    rows = [_row19(p, s, 3 * p * (1 + 0.01 * s)) for p in (11, 13, 17) for s in range(3)]
    assert c19_verdict(rows)["verdict"] == "FAIL"
    # a sublinear margin that stays above 4p passes: Ω(p) is the premise, the exponent is only reported
    rows = [_row19(p, s, 50 * p**0.3 * (1 + 0.01 * s)) for p in (11, 13, 17) for s in range(3)]
    v = c19_verdict(rows)
    assert v["verdict"] == "PASS" and v["exponent"]["high"] < 0.5
    # an interval straddling 4p, and a run that does not separate its training set
    rows = [_row19(p, s, 4 * p * (0.8 + 0.2 * s)) for p in (11, 13) for s in range(3)]
    assert c19_verdict(rows)["verdict"] == "INCONCLUSIVE"
    rows = [_row19(p, s, 8 * p * (1 + 0.01 * s), acc=0.9 if s == 0 else 1.0) for p in (11, 13) for s in range(3)]
    assert c19_verdict(rows)["verdict"] == "INCONCLUSIVE"


@pytest.mark.slow
def test_c18_c19_quick_run() -> None:
    from regimes.checks import run_check

    for cid in ("C18", "C19"):
        res = run_check(cid, quick=True)
        assert res.verdict in ("PASS", "FAIL", "INCONCLUSIVE")


def test_checks_c18_c19_judge_experiments_20_21s_stored_runs_without_retraining(tmp_path, monkeypatch) -> None:
    """One grid per claim: C18 reads regimes.settings.grids.C18 (experiment 20's h = 8p,
    n = 2p^{2.25} cells) and C19 grids.C19 (experiment 21's grid); every search and ascent goes
    through the run cache, so after the experiments the checks run neither solver, and they judge
    the experiments' own rows."""
    import regimes.extremal
    from regimes import harness, runcache
    from regimes.checks import run_check
    from regimes.settings import grids

    search = {"steps": 200, "lr": 1e-2, "tol": 1e-3, "rounds": 1, "per_round": 1}
    tiny18 = {"ps": [5], "seeds": [0, 1], "width_mult": 8, "n_exponent": 2.25, "search": search}
    tiny19 = {"ps": [5, 7], "seeds": [0, 1], "width_mult": 8, "n_exponent": 5 / 3, "temperatures": [0.1, 1.0],
              "steps_per_stage": 20}
    monkeypatch.setitem(grids.C18, "quick", tiny18)
    monkeypatch.setitem(grids.C19, "quick", tiny19)
    exps = {e.number: e for e in harness.discover()}
    no_plot = {n: dataclasses.replace(exps[n], plot=lambda *_: None) for n in ("20", "21")}
    # experiment 20 over two n exponents, C18's cell among them
    e20 = harness.run(no_plot["20"], out=tmp_path, quiet=True,
                      overrides={"ps": [5], "n_exponents": [2.0, 2.25], "width_mults": [8], "seeds": [0, 1],
                                 "search": search}).result["metrics"]
    e21 = harness.run(no_plot["21"], out=tmp_path, quiet=True, overrides=tiny19).result["metrics"]
    for name in ("min_linf_interpolators", "max_margin"):
        monkeypatch.setattr(regimes.extremal, name, lambda *a, **k: pytest.fail("a check re-ran a stored solve"))
    with runcache.using(tmp_path / "results" / "runs"):
        r18, r19 = run_check("C18"), run_check("C19")
    assert r18.details["rows"] == [r for r in e20["rows"] if r["n"] == round(2 * 5**2.25)]
    assert {(r["p"], r["seed"]) for r in r18.details["rows"]} == {(5, 0), (5, 1)}
    assert r19.details["rows"] == e21["rows"]
    assert r19.details["verdict"] == e21["c19_verdict"]
