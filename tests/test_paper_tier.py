"""The paper tier (``--paper``): a third config tier for the experiments of the central
paper's figures, run at the paper's own App. A hyperparameters on a CPU.

Two kinds of test: the harness and CLI plumbing (a tier that an experiment lacks is a
``ValueError`` before any work; results, publishing and ``load_run`` keep the tiers apart),
and the configs themselves, checked against App. A of the paper as written there (the
expected values are typed from the paper, not read from the code).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from regimes import harness
from regimes.harness import MODES, Experiment, RunContext, discover, mode_config, publish, run


def _compute(ctx: RunContext):
    return {"n": ctx.config["n"]}, {"xs": np.arange(float(ctx.config["n"]))}


def _plot(result, arrays, path):
    path.write_bytes(b"png")


WITH = Experiment("97", "tiered", "tiered", "none", quick={"n": 2}, full={"n": 9}, paper={"n": 4},
                  compute=_compute, plot=_plot)
WITHOUT = Experiment("96", "untiered", "untiered", "none", quick={"n": 2}, full={"n": 9},
                     compute=_compute, plot=_plot)


def test_modes_and_mode_config():
    assert MODES == ("quick", "paper", "full")
    assert [mode_config(WITH, m)["n"] for m in MODES] == [2, 4, 9]
    with pytest.raises(ValueError, match=r"mode='paper' is not allowed for 96_untiered: it has no paper tier"):
        mode_config(WITHOUT, "paper")
    with pytest.raises(ValueError, match=r"mode='medium' is not allowed: choose one of 'quick', 'paper', 'full'"):
        mode_config(WITH, "medium")


def test_paper_run_stores_its_mode_and_a_missing_tier_writes_nothing(tmp_path):
    out = run(WITH, mode="paper", out=tmp_path / "a", quiet=True)
    res = json.loads(out.result_path.read_text())
    assert res["config"] == {"experiment": "97_tiered", "mode": "paper", "seed": 0, "device": "cpu", "n": 4}
    with pytest.raises(ValueError, match="no paper tier"):
        run(WITHOUT, mode="paper", out=tmp_path / "b", quiet=True)
    assert not (tmp_path / "b").exists()


def test_publish_paper_takes_only_tiered_experiments_into_a_gallery_subfolder(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "GALLERY_DIR", tmp_path / "gallery")
    out = tmp_path / "out"
    run(WITH, mode="paper", out=out, quiet=True)
    run(WITHOUT, mode="quick", out=out, quiet=True)
    manifest = publish([WITH, WITHOUT], out=out, mode="paper", to=tmp_path / "pub")
    assert manifest["mode"] == "paper" and list(manifest["experiments"]) == ["97_tiered"]
    assert (tmp_path / "gallery" / "paper" / "97_tiered.png").exists()
    assert not (tmp_path / "gallery" / "97_tiered.png").exists()   # the quick gallery is untouched
    # a quick result is never published as the paper tier
    run(WITH, mode="quick", out=out, quiet=True)
    with pytest.raises(FileNotFoundError, match="regimes run 97 --paper"):
        publish([WITH], out=out, mode="paper", to=tmp_path / "pub2")


def test_load_run_accepts_the_paper_tier_and_refuses_others():
    with pytest.raises(ValueError, match="'quick', 'paper' or 'full'"):
        harness.load_run("10", published="medium")


# --------------------------------------------------------------------------- the configs against App. A
TIERED = {e.number: e for e in discover() if e.paper is not None}


def test_the_paper_tier_covers_the_central_papers_figures_with_five_seeds():
    assert sorted(TIERED) == ["07", "08", "09", "10", "11", "12", "20", "23"]
    for num, exp in TIERED.items():
        if num == "23":   # per setting: Fig 4's classification 5 seeds, Fig 3's 50k-step regression 3 (as 07's)
            c = exp.paper
            assert len(set(c["classification"]["seeds"])) >= 5 and len(set(c["regression"]["seeds"])) >= 3
            continue
        seeds = exp.paper["seeds"]
        # the interpolator search (20) is an existence search, not a training claim: 3 seeds
        assert (seeds if isinstance(seeds, int) else len(set(seeds))) >= (3 if num == "20" else 5), num
        assert exp.seconds_paper == exp.seconds_paper and exp.seconds_paper > 0, num
    # the whole tier fits the five hours of 2 cores it is sized for (estimates, --jobs 2)
    assert sum(e.seconds_paper for e in TIERED.values()) <= 5 * 3600


def test_regression_rows_use_app_a1_under_each_square_loss_reading():
    """App. A.1: GD, "learning rate 1", "regularization 1e-4", n = 2p^{2.25}, 50k–200k steps;
    Fig 3: h = 4p. On the suite's mean (g − y)², "squared loss" read as ½(g − y)² is lr 1/2 and
    λ 2·1e-4 (the GD step of (1/2n)Σr² + λ‖θ‖∞ at lr 1 is the step of (1/n)Σr² + 2λ‖θ‖∞ at lr
    1/2), and read as (g − y)² is lr 1 and λ 1e-4."""
    from regimes.runs import paper_config

    half = paper_config("regression", 11, 0, reading={"square_loss": "half"})
    plain = paper_config("regression", 11, 0, reading={"square_loss": "plain"})
    assert (half.optimizer, half.lr, half.lam_inf, half.width_mult, half.n_exponent) == ("gd", 0.5, 2e-4, 4, 2.25)
    assert (plain.optimizer, plain.lr, plain.lam_inf) == ("gd", 1.0, 1e-4)
    assert half.reading["square_loss"] == "half" and plain.reading["square_loss"] == "plain"
    c = TIERED["07"].paper
    assert 50_000 <= c["steps"] <= 200_000 and c["beta"] == 2.25
    reg = next(r for r in TIERED["10"].paper["runs"] if r.get("setting") == "regression")
    assert (reg["optimizer"], reg["n_rule"]) == ("gd", "2p^2.25")
    assert 50_000 <= reg["steps"] <= 200_000 and reg["eval_size"] == 2000


def test_classification_rows_use_app_a2_under_both_normalizations():
    """App. A.2: normalized GD, lr 10, ℓ∞ strength 1e-20, cross-entropy, n = 2p^{5/3}; what eq.
    A.1 normalizes is open, and every paper-tier classification experiment runs both readings."""
    from regimes.runs import paper_config

    for norm in ("whole", "loss"):
        cfg = paper_config("classification", 23, 0, reading={"normalization": norm})
        assert (cfg.optimizer, cfg.lr, cfg.lam_inf, cfg.loss, cfg.normalize) == (
            "normalized_gd", 10.0, 1e-20, "cross_entropy", norm)
        assert cfg.n == round(2 * 23 ** (5 / 3))
    assert {r["normalization"] for r in TIERED["08"].paper["readings"]} == {"whole", "loss"}
    c09 = TIERED["09"].paper
    assert (c09["lr"], c09["lam_inf"]) == (10.0, 1e-20) and {"net", "net_loss"} <= set(c09["methods"])
    cls = [r for r in TIERED["10"].paper["runs"] if r.get("optimizer") == "normalized_gd"]
    assert {r["reading"]["normalization"] for r in cls} == {"whole", "loss"}
    for r in cls:
        assert (r["lr"], r["lam_inf"], r["weight_decay"], r["eval_size"], r["width_mult"]) == (
            10.0, 1e-20, 0.0, 2000, 8)
    full_cls = [r for r in TIERED["10"].full["runs"] if r.get("optimizer") == "normalized_gd"]
    assert full_cls and all(r["width_mult"] == 8 for r in full_cls)
    r11 = TIERED["11"].paper
    assert (r11["run"]["optimizer"], r11["run"]["lr"], r11["run"]["lam_inf"], r11["run"]["loss"]) == (
        "normalized_gd", 10.0, 1e-20, "cross_entropy")
    assert {r["normalization"] for r in r11["readings"]} == {"whole", "loss"}


def test_an_unknown_reading_is_refused_before_any_work(tmp_path):
    for num, mode in (("08", "quick"), ("11", "paper")):   # 11's quick tier reads no readings (AdamW runs)
        with pytest.raises(ValueError, match=r"normalization\W+both\W+ is not allowed: (choose )?one of"):
            run(TIERED[num], mode=mode, out=tmp_path / num, quiet=True,
                overrides={"readings": [{"normalization": "both"}]})
        assert not (tmp_path / num / "results").exists() or not list((tmp_path / num / "results").glob("*.json"))


def test_a_result_under_one_reading_is_never_served_for_another(tmp_path):
    """Experiment 08's points are keyed by their reading: the second reading computes its own runs."""
    tiny = {"ps": [7], "seeds": [0], "steps": 20, "n_evals": 2}
    a = run(TIERED["08"], out=tmp_path, quiet=True, overrides={**tiny, "readings": [{"normalization": "whole"}]})
    b = run(TIERED["08"], out=tmp_path, quiet=True, overrides={**tiny, "readings": [{"normalization": "loss"}]})
    assert not b.cached
    ra, rb = a.result["metrics"]["readings"][0], b.result["metrics"]["readings"][0]
    assert (ra["reading"]["normalization"], rb["reading"]["normalization"]) == ("whole", "loss")
    assert ra["runs"][0]["config"]["normalize"] == "whole" and rb["runs"][0]["config"]["normalize"] == "loss"


def test_transformer_row_uses_app_a3():
    """App. A.3: full-batch GD, lr 0.25, ℓ∞ strength 1e-20."""
    c = TIERED["12"].paper
    assert (c["optimizer"], c["lr"], c["lam_inf"], c["weight_decay"]) == ("gd", 0.25, 1e-20, 0.0)


def test_cli_lists_the_tier_and_refuses_it_where_missing(capsys):
    from regimes.cli import main

    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "paper tier" in text and "regimes reproduce --paper --jobs 2" in text
    assert main(["run", "01", "--paper"]) == 2
    assert "no paper tier" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:          # the checks have quick and full grids only
        main(["check", "--paper"])
    assert e.value.code == 2


def test_a_diverging_transformer_seed_is_recorded_not_fatal(tmp_path):
    """App. A.3's full-batch GD can blow up on our transformer (the paper tier saw it): a seed
    whose loss turns non-finite is kept as ``diverged_at`` and left out of the time summaries,
    and a run whose every seed diverged still stores a result and a figure."""
    exp = TIERED["12"]
    tiny = {"p": 11, "d_model": 8, "n_heads": 2, "d_mlp": 16, "steps": 30, "n_track": 4, "after_pairs": 5,
            "seeds": [0, 1], "optimizer": "gd", "lr": 1e4, "weight_decay": 0.0}
    out = run(exp, out=tmp_path, quiet=True, overrides=tiny)
    m = out.result["metrics"]
    assert m["n_diverged"] == 2 and all(r["diverged_at"] is not None and r["t_mem"] is None for r in m["per_seed"])
    assert m["summary"]["t_mem"]["estimate"] is None and m["exit_before_mem_every_seed"] is False
    assert out.figure_path.stat().st_size > 0
    calm = run(exp, out=tmp_path, quiet=True, overrides={**tiny, "lr": 0.01})
    assert calm.result["metrics"]["n_diverged"] == 0 and calm.result["metrics"]["curves_seed"] == 0


_TIERED_SCRIPT = '''
import numpy as np
from regimes.harness import Experiment

def compute(ctx):
    return {{"n": ctx.config["n"]}}, {{"xs": np.arange(float(ctx.config["n"]))}}

def plot(result, arrays, path):
    path.write_bytes(b"png")

EXPERIMENT = Experiment("{num}", "{slug}", "{slug}", "none", quick={{"n": 2}}, full={{"n": 9}}, {paper}
                        compute=compute, plot=plot)
'''


def test_reproduce_paper_runs_only_the_tiered_experiments(tmp_path, capsys):
    from regimes.cli import main

    exps = tmp_path / "exps"
    exps.mkdir()
    (exps / "93_tiered.py").write_text(_TIERED_SCRIPT.format(num="93", slug="tiered", paper='paper={"n": 4},'))
    (exps / "94_plain.py").write_text(_TIERED_SCRIPT.format(num="94", slug="plain", paper=""))
    assert main(["reproduce", "--paper", "--jobs", "0", "--experiments", str(exps), "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "results").exists()
    code = main(["reproduce", "--paper", "--jobs", "2", "--experiments", str(exps), "--out", str(tmp_path),
                 "--quiet"])
    assert code == 0, capsys.readouterr()
    stored = json.loads((tmp_path / "results" / "93_tiered.json").read_text())
    assert stored["config"]["mode"] == "paper" and stored["metrics"] == {"n": 4}
    assert not (tmp_path / "results" / "94_plain.json").exists()


def test_apply_reading_sets_what_the_reading_owns_and_refuses_a_run_that_sets_it():
    """A tracked run under a reading: App. A.1's lr 1, λ 1e-4 become lr 1/2, λ 2e-4 on the mean
    loss under ½(g − y)² and stay lr 1, λ 1e-4 under (g − y)²; normalized GD takes the reading's
    normalization; the dtype is the reading's; a run that sets any of these itself is refused."""
    from regimes.runs import apply_reading

    reg = {"setting": "regression", "optimizer": "gd", "p": 11}
    assert {k: apply_reading(reg, {"square_loss": "half"})[k] for k in ("lr", "lam_inf", "dtype")} == {
        "lr": 0.5, "lam_inf": 2e-4, "dtype": "float32"}
    assert (apply_reading(reg, {"square_loss": "plain", "dtype": "float64"})["lam_inf"],
            apply_reading(reg, {"square_loss": "plain", "dtype": "float64"})["dtype"]) == (1e-4, "float64")
    cls = {"optimizer": "normalized_gd", "p": 31}
    assert apply_reading(cls, {"normalization": "loss"})["normalize"] == "loss"
    assert "normalize" not in apply_reading({"optimizer": "adamw"}, {"normalization": "loss"})
    for bad in ({**reg, "lam_inf": 1e-3}, {**cls, "dtype": "float64"}):
        with pytest.raises(ValueError, match="has a reading, which sets them"):
            apply_reading(bad, {})
