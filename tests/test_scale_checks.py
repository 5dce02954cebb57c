"""C15 and C16 (the rich-regime scaling claims at the paper's settings) and the recipe behind them.

The verdict logic is tested on hand-made runs with known answers (each of PASS, FAIL and
INCONCLUSIVE is reachable); the recipe on a tiny real run; the checks themselves at quick
scale are slow (minutes) and run with ``pytest -m slow``.
"""

from __future__ import annotations

import math

import pytest
import torch

from regimes.checks import run_check, scale
from regimes.runs import RichRunConfig, paper_config, rich_run


def _rows(setting: str, ps, seeds, **vals):
    rows = []
    for p in ps:
        for s in seeds:
            r = {"p": p, "seed": s, "stalled_at": None}
            for k, v in vals.items():
                r[k] = v(p, s) if callable(v) else v
            rows.append(r)
    return rows


@pytest.fixture
def fake_grid(monkeypatch: pytest.MonkeyPatch):
    def install(rows):
        monkeypatch.setattr(scale, "rich_grid", lambda *a, **k: rows)
    return install


@pytest.mark.parametrize("cid", ["C16", "C16b"])
def test_c16_verdicts_on_hand_made_runs(fake_grid, cid: str) -> None:
    ps, seeds = [17, 23, 31], [0, 1, 2]
    good = dict(train_acc=1.0, heldout_acc=0.99, kernel_heldout_acc=0.1, theta_inf=1.0,
                norm_margin=lambda p, s: 0.3 * p * (1 + 0.02 * s))      # exactly linear in p up to seed noise
    fake_grid(_rows("classification", ps, seeds, **good))
    r = run_check(cid)
    assert r.verdict == "PASS", r.details["criteria_met"]
    assert abs(r.details["norm_margin_exponent"]["estimate"] - 1.0) < 0.05
    fake_grid(_rows("classification", ps, seeds, **{**good, "norm_margin": lambda p, s: 5.0 + 0.01 * s}))
    r = run_check(cid)                                                 # a flat margin is not Ω(p)
    assert r.verdict == "FAIL" and r.details["criteria_met"]["b_margin_grows"] is False
    fake_grid(_rows("classification", ps, seeds, **{**good, "kernel_heldout_acc": 0.9}))
    assert run_check(cid).verdict == "FAIL"                            # the kernel learned: Thm 4.3 violated
    fake_grid(_rows("classification", ps, seeds, **{**good, "train_acc": lambda p, s: 0.99 if s == 1 else 1.0}))
    r = run_check(cid)                                                 # a run never fit: no margin to speak of
    assert r.verdict == "INCONCLUSIVE" and r.holds is None


def test_each_c16_runs_under_its_own_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """C16 and C16b differ only in the reading of eq. A.1 they train under, and each records it."""
    seen = {}

    def grid(setting, ps, seeds, steps, reading=None, **kw):
        seen[len(seen)] = reading
        return _rows(setting, ps, seeds, train_acc=1.0, heldout_acc=0.99, kernel_heldout_acc=0.1, theta_inf=1.0,
                     norm_margin=lambda p, s: 0.3 * p)

    monkeypatch.setattr(scale, "rich_grid", grid)
    a, b = run_check("C16"), run_check("C16b")
    assert seen == {0: {"normalization": "whole", "dtype": "float32"}, 1: {"normalization": "loss", "dtype": "float64"}}
    assert (a.details["reading"]["normalization"], b.details["reading"]["normalization"]) == ("whole", "loss")


def test_c15_verdicts_on_hand_made_runs(fake_grid) -> None:
    ps, seeds = [7, 11, 13], [0, 1, 2]
    good = dict(train_loss=1e-6, heldout_l2_ratio=0.1, heldout_acc=1.0, kernel_heldout_l2_ratio=0.9,
                theta_inf=0.8)
    fake_grid(_rows("regression", ps, seeds, **good))
    assert run_check("C15").verdict == "PASS"
    fake_grid(_rows("regression", ps, seeds, **{**good, "heldout_l2_ratio": lambda p, s: 2.0 if p == 13 else 0.1}))
    r = run_check("C15")
    assert r.verdict == "FAIL" and r.measured == pytest.approx(2.0)
    fake_grid(_rows("regression", ps, seeds, **{**good, "train_loss": 1.0}))
    assert run_check("C15").verdict == "INCONCLUSIVE"


def test_paper_config_is_app_a_and_refuses_bad_input() -> None:
    # App. A.1's lr 1 and λ 1e-4 on ½(g − y)² (the default square_loss reading) = lr 1/2, λ 2e-4 on the mean
    reg, cls = paper_config("regression", 11), paper_config("classification", 11)
    assert (reg.optimizer, reg.lr, reg.lam_inf, reg.width_mult, reg.n_exponent, reg.loss) == \
        ("gd", 0.5, 2e-4, 4, 2.25, "mse")
    assert (cls.optimizer, cls.lr, cls.lam_inf, cls.width_mult, cls.loss) == \
        ("normalized_gd", 10.0, 1e-20, 8, "cross_entropy")
    assert reg.n == round(2 * 11**2.25) and cls.n == round(2 * 11 ** (5 / 3))
    with pytest.raises(ValueError, match="setting"):
        paper_config("ranking", 11)
    with pytest.raises(ValueError, match="p"):
        paper_config("regression", 2)
    with pytest.raises(TypeError):
        paper_config("regression", 11, stepz=10)                         # a misspelt key is refused
    with pytest.raises(ValueError, match="loss"):
        RichRunConfig("regression", 7, loss="cross_entropy").validate()


def test_rich_run_scores_only_held_out_points() -> None:
    """A tiny real run: the held-out counts are the complement of the training set, the zero
    predictor's held-out loss is p² × (share of labelled-true triples among the held-out ones),
    and the kernel baseline interpolates nothing it should not."""
    from regimes.tasks import Task, sample_split

    torch.manual_seed(0)
    cfg = paper_config("regression", 5, 1, steps=50, n_evals=5)
    s, arrays = rich_run(cfg)
    split = sample_split(Task(5, "regression"), n=cfg.n, seed=1)
    true_held = int((split.test.y != 0).sum())
    assert s["heldout_zero_loss"] == pytest.approx(25.0 * true_held / len(split.test), rel=1e-12)
    assert s["heldout_l2_ratio"] == pytest.approx(s["heldout_loss"] / s["heldout_zero_loss"], rel=1e-12)
    assert math.isfinite(s["kernel_heldout_l2_ratio"]) and len(arrays["step"]) >= 2
    assert 0.0 <= s["kernel_heldout_acc"] <= 1.0 and 0.0 <= s["heldout_acc"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["C15", "C16", "C16b"])
def test_quick_checks_give_a_real_verdict(cid: str) -> None:
    r = run_check(cid)
    assert r.verdict in ("PASS", "FAIL", "INCONCLUSIVE")
    assert len({row["seed"] for row in r.details["runs"]}) >= 3


def test_direction_record_is_the_angle_between_evaluations_and_settles() -> None:
    """rich_run's direction measure: the angle θ turns between evaluations is 0 for a pure rescaling
    (normalized GD late in the loss-only reading grows θ along a fixed direction), π/2 between
    orthogonal θ, and 2·asin(‖u − v‖/2) keeps its digits for tiny angles where arccos(u·v) rounds
    to 0; the settling step is the first from which every angle stays below DIRECTION_TOL."""
    from regimes.runs import DIRECTION_TOL, _DirectionCallback, _settled_at

    cb, rec = _DirectionCallback(), {}
    theta = {"W": torch.tensor([[3.0, 4.0]], dtype=torch.float64), "V": torch.zeros(1, 1, dtype=torch.float64)}
    cb(0, theta, rec)
    assert math.isnan(rec["theta_angle"])
    cb(1, {k: 2.5 * v for k, v in theta.items()}, rec)
    assert rec["theta_angle"] == 0.0
    cb(2, {"W": torch.tensor([[-4.0, 3.0]], dtype=torch.float64), "V": torch.zeros(1, 1, dtype=torch.float64)}, rec)
    assert rec["theta_angle"] == pytest.approx(math.pi / 2, abs=1e-15)
    eps = 1e-9
    cb(3, {"W": torch.tensor([[-4.0 * math.cos(eps) - 3.0 * math.sin(eps), 3.0 * math.cos(eps) - 4.0 * math.sin(eps)]],
                             dtype=torch.float64), "V": torch.zeros(1, 1, dtype=torch.float64)}, rec)
    assert rec["theta_angle"] == pytest.approx(eps, rel=1e-6)
    small, big = DIRECTION_TOL / 10, DIRECTION_TOL * 10
    assert _settled_at([0, 10, 20, 30, 40], [math.nan, big, small, big, small]) == 40
    assert _settled_at([0, 10, 20, 30], [math.nan, big, small, small]) == 20
    assert _settled_at([0, 10, 20], [math.nan, big, big]) is None


def test_checks_c16_judge_experiment_08s_stored_runs_without_retraining(tmp_path, monkeypatch) -> None:
    """One grid per claim: C16 and C16b read regimes.settings.grids.C16, as experiment 08 does, and
    every run goes through the run cache, so after the experiment the checks train nothing."""
    from regimes import harness, runcache, runs
    from regimes.settings import grids

    tiny = {"ps": [5, 7], "seeds": [0, 1], "steps": 10, "n_evals": 2}
    monkeypatch.setitem(grids.C16, "quick", tiny)
    exp = {e.number: e for e in harness.discover()}["08"]
    harness.run(exp, out=tmp_path, quiet=True, overrides=tiny)
    monkeypatch.setattr(runs, "rich_run", lambda *a, **k: pytest.fail("a check retrained a stored run"))
    with runcache.using(tmp_path / "results" / "runs"):
        for cid in ("C16", "C16b"):
            r = run_check(cid)
            assert {(row["p"], row["seed"]) for row in r.details["runs"]} == {(5, 0), (5, 1), (7, 0), (7, 1)}
