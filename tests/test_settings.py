"""The settings layer's schema and the command line that reads it.

Each misuse the suite once let through (a value checked by truthiness, late, or not at all)
fails here with one line naming the key, the value and what is allowed, before any work (no
file is written); ``--set`` reaches every leaf, ``--print-config`` shows the resolved config
without training, ``--seed`` reaches an experiment that loops over its own seeds, ``--force``
recomputes, and ``publish`` refuses overridden results unless told.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from regimes import cli
from regimes._validate import MAX_POINTS, check_seed
from regimes.harness import discover, full_config, publish, run
from regimes.settings import schema

EXPS = {e.number: e for e in discover()}


def _one_line_error(fn, *match: str) -> str:
    with pytest.raises(ValueError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg
    for m in match:
        assert m in msg, msg
    return msg


# ----------------------------------------------------------------------------- the schema
@pytest.mark.parametrize(("config", "path"), [
    ({"base": {"fraction": 0}}, "base.fraction=0"),         # 0 is a value, not "not given"
    ({"base": {"fraction": 1.5}}, "base.fraction=1.5"),
    ({"run": {"lr": math.inf}}, "run.lr=Infinity"),
    ({"lr": math.nan}, "lr=NaN"),
    ({"dtype": "float46"}, "dtype=\"float46\""),
    ({"seed": 1.5}, "seed=1.5"),
    ({"seeds": [0, 2**70]}, "seeds="),
    ({"device": "gpu"}, "device=\"gpu\""),
    ({"rcond": -1}, "rcond=-1"),
    ({"rcond": 2}, "rcond=2"),
    ({"optimizer": "adamww"}, "optimizer="),
    ({"ps": 11}, "ps=11"),
    ({"runs": [{"lr": 0.1}, {"lr": -1}]}, "runs.1.lr=-1"),
    ({"p": MAX_POINTS}, f"p={MAX_POINTS}"),
    ({"steps": True}, "steps=true"),
])
def test_schema_refuses_each_misuse_naming_the_full_path(config, path):
    msg = _one_line_error(lambda: schema.validate_config(config), path, "is not allowed:")
    assert "allowed" in msg


def test_every_declared_tier_passes_the_schema():
    """The schema accepts every config the experiments declare (it is not stricter than the suite)."""
    for exp in EXPS.values():
        for tier in (exp.quick, exp.paper, exp.full):
            if tier is not None:
                schema.validate_config(tier, tasks=exp.tasks)
                full_config(exp, mode="quick" if tier is exp.quick else "paper" if tier is exp.paper else "full")


def test_seed_is_an_integer_in_the_64_bit_range():
    assert check_seed("seed", 2**63 - 1) == 2**63 - 1
    for bad in (1.5, 1.0, True, "3", -1, 2**63, 2**70):
        _one_line_error(lambda bad=bad: check_seed("seed", bad), "seed")
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split

    _one_line_error(lambda: QuadraticNet.init(5, 4, seed=1.5), "seed=1.5")
    _one_line_error(lambda: sample_split(Task(5), fraction=0.5, seed=2**70), "seed=", "2**63")


def test_device_names_are_checked_before_torch_sees_them():
    from regimes.gromov import GromovRunConfig, gromov_run
    from regimes.models.quadratic import QuadraticNet

    _one_line_error(lambda: QuadraticNet.init(5, 4, device="gpu"), "device='gpu'", "'cpu'")
    _one_line_error(lambda: gromov_run(GromovRunConfig(p=5, h=4, steps=1), device="gpu"), "device='gpu'")
    _one_line_error(lambda: full_config(EXPS["01"], device="gpu"), "device=\"gpu\"")


def test_every_public_runner_checks_its_device_by_name():
    """The same kind, everywhere a device reaches torch: each entry point refuses 'gpu' by name."""
    from regimes import runs
    from regimes.constructions import fourier_interpolator, gromov_solution
    from regimes.models.attention import AttentionOnly

    rich = runs.paper_config("classification", 11, steps=1, kernel_baseline=False)
    for call in (lambda: runs.rich_run(rich, device="gpu"), lambda: runs.stored_rich_run(rich, device="gpu"),
                 lambda: runs.tracked_run({"p": 5, "steps": 1}, device="gpu"),
                 lambda: runs.stored_tracked_run({"p": 5, "steps": 1}, device="gpu"),
                 lambda: runs.init_scale_run(1.0, 0, device="gpu"),
                 lambda: runs.mlp_run({"p": 5, "steps": 1}, device="gpu"),
                 lambda: AttentionOnly.init(5, n_embd=8, n_heads=2, device="gpu"),
                 lambda: fourier_interpolator(5, device="gpu"),
                 lambda: gromov_solution(5, 4, device="gpu")):
        _one_line_error(call, "device='gpu'", "'cpu'")


def test_rcond_is_a_relative_cutoff_in_0_1():
    from regimes.kernels.regression import KernelRegressor, kernel_regression

    K = torch.eye(3, dtype=torch.float64)
    for bad in (-1, 1, 2, math.inf):
        _one_line_error(lambda bad=bad: KernelRegressor(rcond=bad), f"rcond={bad!r}", "[0, 1)")
        _one_line_error(lambda bad=bad: kernel_regression(K, torch.ones(3), K, rcond=bad), "rcond")
    # inside the range the cutoff acts: the identity's eigenvalues all equal λ_max, so any rcond < 1 keeps them
    assert torch.allclose(kernel_regression(K, torch.ones(3), K, rcond=0.99), torch.ones(3, dtype=torch.float64))


def test_run_configs_check_every_value_by_the_schema():
    from regimes.runs import MLPRunConfig, TrackedRunConfig

    _one_line_error(lambda: TrackedRunConfig.from_dict({"dtype": "float46"}), "dtype=\"float46\"")
    _one_line_error(lambda: TrackedRunConfig.from_dict({"fraction": 0}), "fraction=0")
    _one_line_error(lambda: MLPRunConfig.from_dict({"lr": math.inf}), "lr=Infinity")
    assert TrackedRunConfig.from_dict({"fraction": None}).fraction is None   # None: n_rule decides


def test_a_population_too_large_is_refused_from_its_size():
    """p is refused from p**arity alone, at the largest p whose population fits MAX_POINTS + 1."""
    from regimes.tasks import Task

    for setting, arity in (("classification", 2), ("regression", 3)):
        top = max(p for p in range(2, 8000) if p**arity <= MAX_POINTS)
        assert top**arity <= MAX_POINTS < (top + 1) ** arity
        assert Task(top, setting).size == top**arity                        # allowed, nothing built
        _one_line_error(lambda s=setting, t=top: Task(t + 1, s), f"p={top + 1}", f"p <= {top}")
    _one_line_error(lambda: Task(10**7), "p=10000000")                      # 10^14 pairs, never allocated


def test_parse_set_tells_a_sweep_from_a_list_and_json():
    scalar, listy = (lambda: False), (lambda: True)
    assert schema.parse_set("11,17", scalar) == [11, 17]                         # a sweep
    assert schema.parse_set("kernel,net,adamw", listy) == [["kernel", "net", "adamw"]]   # one list
    assert schema.parse_set("11", listy) == [[11]]
    assert schema.parse_set("[1,2]", scalar) == [[1, 2]]
    assert schema.parse_set('{"lam_inf":1e-3,"lr":0.1}', scalar) == [{"lam_inf": 1e-3, "lr": 0.1}]
    assert schema.parse_set("[11];[17,23]", listy) == [[11], [17, 23]]
    assert schema.parse_set("Infinity", scalar) == [math.inf]


def test_resolve_key_short_unique_ambiguous_unknown():
    paths = schema.all_paths({"base": {"lr": 1, "fraction": 0.5}, "mlp": {"base": {"lr": 2}}, "p": 3})
    assert schema.resolve_key("fraction", paths) == "base.fraction"
    assert schema.resolve_key("mlp.base.lr", paths) == "mlp.base.lr"
    _one_line_error(lambda: schema.resolve_key("lr", paths), "ambiguous", "base.lr", "mlp.base.lr")
    _one_line_error(lambda: schema.resolve_key("lrr", paths), "no config key 'lrr'", "base", "p")


# ----------------------------------------------------------------------------- the command line
def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("setting", ["base.fraction=0", "base.fraction=1.5", "base.lr=Infinity",
                                     "base.dtype=float46", "base.optimizer=adamww"])
def test_bad_values_fail_in_one_line_before_any_work(capsys, tmp_path, setting):
    rc, _, err = _cli(capsys, "run", "14", "--set", setting, "--out", str(tmp_path), "--quiet")
    assert rc == 2 and err.startswith("error:") and err.count("\n") == 1
    assert setting.split("=")[0] in err and not any(tmp_path.iterdir())


def test_bad_seed_and_device_fail_in_one_line(capsys, tmp_path):
    rc, _, err = _cli(capsys, "run", "01", "--seed", str(2**70), "--out", str(tmp_path))
    assert rc == 2 and "seed" in err and err.count("\n") == 1 and not any(tmp_path.iterdir())
    with pytest.raises(SystemExit) as info:   # refused by the parser
        cli.main(["run", "01", "--device", "gpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "gpu" in err and err.count("\n") == 1


def _printed(out: str) -> list[dict]:
    dec, i, docs = json.JSONDecoder(), 0, []
    while i < len(out):
        if out[i].isspace():
            i += 1
            continue
        doc, i = dec.raw_decode(out, i)
        docs.append(doc)
    return docs


def test_print_config_shows_the_resolved_config_and_trains_nothing(capsys, tmp_path):
    rc, out, _ = _cli(capsys, "run", "14", "--set", "base.fraction=0.5", "--set", "wd_on=100",
                      "--print-config", "--out", str(tmp_path))
    (cfg,) = _printed(out)
    assert rc == 0 and not any(tmp_path.iterdir())
    assert cfg == full_config(EXPS["14"], overrides={"base": {**EXPS["14"].quick["base"], "fraction": 0.5},
                                                     "wd_on": 100})


def test_set_reaches_lists_json_rows_and_schema_fields(capsys, tmp_path):
    o = ("--print-config", "--out", str(tmp_path))
    # a scalar for a list key is a one-element list; a comma list for a list key is the list
    (c,) = _printed(_cli(capsys, "run", "08", "--set", "ps=11", *o)[1])
    assert c["ps"] == [11]
    (c,) = _printed(_cli(capsys, "run", "08", "--set", "seeds=0,1,2", *o)[1])
    assert c["seeds"] == [0, 1, 2]
    (c,) = _printed(_cli(capsys, "run", "09", "--set", "methods=kernel,net,adamw,max_margin", *o)[1])
    assert c["methods"] == ["kernel", "net", "adamw", "max_margin"]
    # a comma sweep on a one-value key; a JSON object is one value, never split on commas
    assert [c["base"]["fraction"] for c in _printed(_cli(capsys, "run", "14", "--set", "base.fraction=0.5,0.6",
                                                         *o)[1])] == [0.5, 0.6]
    # App. A.1 written out in the paper tier, so λ∞ is one leaf a short key reaches (lr 1 and λ 1e-4 on
    # ½(g − y)² are lr 1/2 and λ 2e-4 on the suite's mean loss, the default square_loss reading)
    (c,) = _printed(_cli(capsys, "run", "07", "--paper", *o)[1])
    assert c["settings"] == {"paper": {"lr": 0.5, "lam_inf": 2e-4}} and c["steps"] == 50_000 and c["beta"] == 2.25
    (c,) = _printed(_cli(capsys, "run", "07", "--paper", "--set", "lam_inf=1e-3", *o)[1])
    assert c["settings"] == {"paper": {"lr": 0.5, "lam_inf": 1e-3}}
    (c,) = _printed(_cli(capsys, "run", "07", "--paper", "--set", 'settings.paper={"lam_inf":1e-3,"lr":0.1}', *o)[1])
    assert c["settings"]["paper"] == {"lam_inf": 1e-3, "lr": 0.1}
    # a row of a list of sub-configs, and a dataclass field the tier does not spell out, by short key
    (c,) = _printed(_cli(capsys, "run", "10", "--set", "runs.1.lam_inf=1e-3", *o)[1])
    assert c["runs"][1]["lam_inf"] == 1e-3 and c["runs"][2] == EXPS["10"].quick["runs"][2]
    (c,) = _printed(_cli(capsys, "run", "13", "--set", "lam_inf=1e-3", *o)[1])
    assert c["run"]["lam_inf"] == 1e-3 and c["run"]["p"] == EXPS["13"].quick["run"]["p"]
    rc, _, err = _cli(capsys, "run", "10", "--set", "steps=10", *o)
    assert rc == 2 and "runs.0.steps" in err and "runs.2.steps" in err
    # a key a row's reading sets is refused on that row, before any work: the reading is what to change
    rc, _, err = _cli(capsys, "run", "10", "--set", "runs.2.lam_inf=1e-3", "--out", str(tmp_path / "r"))
    assert rc == 2 and "has a reading, which sets them" in err and not (tmp_path / "r" / "results").exists()


# ----------------------------------------------------------------------------- seeds, --force, publish
TINY_15 = ("--set", "run.p=11", "--set", "run.lr=5.0", "--set", "run.steps=40", "--set", "run.eval_every=10")


def test_seed_reaches_an_experiment_that_loops_over_its_seeds(capsys, tmp_path):
    """`run 15 --seed 3 4` trains seeds 3 and 4 (not 0–2 under other labels): each stored run equals
    gromov_run with that seed, called directly."""
    from regimes.gromov import G1_RUN, GromovRunConfig, gromov_run

    rc, _, _ = _cli(capsys, "run", "15", "--seed", "3", "4", *TINY_15, "--out", str(tmp_path), "--quiet")
    assert rc == 0
    result = json.loads((tmp_path / "results" / "15_gromov_dynamics.json").read_text())
    assert result["config"]["seeds"] == [3, 4] and result["config"]["seed"] == 0
    runs = result["metrics"]["runs"]
    for r, s in zip(runs, (3, 4), strict=True):
        direct, _ = gromov_run(GromovRunConfig(**{**G1_RUN, "p": 11, "lr": 5.0, "steps": 40, "eval_every": 10,
                                                  "seed": s}))
        assert r["config"]["seed"] == s and r["final_test_loss"] == pytest.approx(direct["final_test_loss"], rel=1e-6)
    assert runs[0]["final_test_loss"] != runs[1]["final_test_loss"]
    # a seed that would not reach it is refused, naming its seeds key
    with pytest.raises(ValueError, match="'seeds'"):
        run(EXPS["15"], seed=1, out=tmp_path, quiet=True)
    rc, _, err = _cli(capsys, "run", "15", "--seed", "3", "--set", "seeds=[1]", "--out", str(tmp_path))
    assert rc == 2 and "seeds" in err


def test_force_recomputes_every_point(capsys, tmp_path):
    """A poisoned memoised point is served by a plain rerun of the same points, never by --force."""
    args = ("run", "15", "--seed", "3", *TINY_15, "--out", str(tmp_path), "--quiet")
    assert _cli(capsys, *args)[0] == 0
    rpath = tmp_path / "results" / "15_gromov_dynamics.json"
    true_loss = json.loads(rpath.read_text())["metrics"]["runs"][0]["final_test_loss"]
    (point,) = [p for p in (tmp_path / "results" / "cache" / "15_gromov_dynamics").glob("*-points/*.json")]
    stored = json.loads(point.read_text())
    stored["metrics"]["final_test_loss"] = -1.0
    point.write_text(json.dumps(stored))
    for entry in (tmp_path / "results" / "cache" / "15_gromov_dynamics").glob("*.json"):
        entry.unlink()                               # the whole-run entry: the points decide
    assert _cli(capsys, *args)[0] == 0
    assert json.loads(rpath.read_text())["metrics"]["runs"][0]["final_test_loss"] == -1.0   # memo served
    assert _cli(capsys, *args, "--force")[0] == 0
    assert json.loads(rpath.read_text())["metrics"]["runs"][0]["final_test_loss"] == true_loss
    assert json.loads(point.read_text())["metrics"]["final_test_loss"] == true_loss          # overwritten


def test_publish_refuses_overridden_results_unless_told(capsys, tmp_path):
    assert _cli(capsys, "run", "15", "--seed", "3", *TINY_15, "--out", str(tmp_path), "--quiet")[0] == 0
    to, gallery = tmp_path / "pub", tmp_path / "gal"
    with pytest.raises(ValueError, match="overrides") as info:
        publish([EXPS["15"]], out=tmp_path, to=to, gallery=gallery)
    assert "run.p=11" in str(info.value) and "seeds=[3]" in str(info.value) and not to.exists()
    manifest = publish([EXPS["15"]], out=tmp_path, to=to, gallery=gallery, allow_overrides=True)
    over = manifest["experiments"]["15_gromov_dynamics"]["overrides"]
    assert over["run.p"] == 11 and over["seeds"] == [3] and over["run.steps"] == 40
    stored = json.loads((Path(to) / "MANIFEST.json").read_text())
    assert stored["experiments"]["15_gromov_dynamics"]["overrides"] == over
    only = tmp_path / "exps"
    only.mkdir()
    (only / "15_gromov_dynamics.py").write_bytes(Path(EXPS["15"].compute.__code__.co_filename).read_bytes())
    rc, _, err = _cli(capsys, "publish", "--out", str(tmp_path), "--to", str(to), "--gallery", str(gallery),
                      "--experiments", str(only))
    assert rc == 2 and "--allow-overrides" in err


def test_check_g1_judges_experiment_15s_stored_runs(capsys, tmp_path, monkeypatch):
    """One grid for the figure and the check: after `run 15`, check G1 reads every run it needs
    from the stored runs and trains nothing (gromov_run is made to fail), and its verdict rows
    are the experiment's."""
    import regimes.gromov
    from regimes import runcache
    from regimes.checks.gromov import g1
    from regimes.gromov import G1_RUN
    from regimes.settings import grids

    tiny = {"run": {**G1_RUN, "p": 11, "lr": 5.0, "steps": 40, "eval_every": 10}, "seeds": [0, 1], "window": 0.2}
    monkeypatch.setitem(grids.G1, "quick", tiny)
    exp15 = run(EXPS["15"], out=tmp_path, quiet=True, overrides=tiny)
    monkeypatch.setattr(regimes.gromov, "gromov_run", lambda *a, **k: pytest.fail("check G1 retrained a run"))
    with runcache.using(tmp_path / "results" / "runs"):
        res = g1(quick=True)
    assert res.details["seeds"] == [0, 1]
    assert res.details["per_seed"] == exp15.result["metrics"]["per_seed"]


def test_no_paper_setting_is_written_outside_the_settings_layer():
    """App. A's stated values live in regimes/settings/mohamadi.py alone: no other module of the
    package and no experiment script holds the literal ℓ∞ strength 1e-20 (A.2, A.3) or 1e-4 (A.1), nor
    a config dict pairing App. A's optimizer with its learning rate (normalized GD at 10, GD at 0.25)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [f for f in (*(root / "regimes").rglob("*.py"), *(root / "experiments").glob("*.py"))
             if "settings" not in f.relative_to(root).parts]
    found = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and node.value in (1e-20,):
                found.append(f"{f.relative_to(root)}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.Dict):
                d = {k.value: v.value for k, v in zip(node.keys, node.values, strict=True)
                     if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
                if (d.get("optimizer"), d.get("lr")) in (("normalized_gd", 10.0), ("gd", 0.25)) or \
                        (d.get("lam_inf") == 1e-4 and d.get("optimizer") == "gd"):
                    found.append(f"{f.relative_to(root)}:{node.lineno}: {d}")
    assert not found, "App. A literals outside regimes/settings: " + "; ".join(found)


# ----------------------------------------------------------------------------- refused before any work
def _refused(capsys, monkeypatch, tmp_path, *argv: str) -> str:
    """Run ``regimes run …`` with training made to fail: exit 2, one line, nothing under --out."""
    from regimes import harness

    monkeypatch.setattr(harness, "compute_result", lambda *a, **k: pytest.fail("a refused run trained"))
    rc, _, err = _cli(capsys, "run", *argv, "--out", str(tmp_path), "--quiet")
    assert rc == 2 and err.startswith("error:") and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())
    return err


@pytest.mark.parametrize("key", ["readings", "ps", "seeds", "alphas", "widths", "kernels", "fractions"])
def test_every_list_key_must_be_non_empty(key):
    """An empty list runs nothing: refused for every list key, declared by name or not."""
    _one_line_error(lambda: schema.validate_config({key: []}), f"{key}=[]", "non-empty list")


def test_empty_readings_are_refused_before_training(capsys, monkeypatch, tmp_path):
    err = _refused(capsys, monkeypatch, tmp_path, "08", "--set", "readings=[]", "--set", "ps=[5]", "--set", "steps=5",
                   "--set", "seeds=[0]")
    assert "readings=[]" in err and "non-empty" in err


def test_the_modulus_limit_follows_the_task():
    """p³ triples (regression) and p² pairs (classification) each fit MAX_POINTS at max_p and not above."""
    for task, power in (("regression", 3), ("classification", 2)):
        top = schema.max_p(task)
        assert top**power <= MAX_POINTS < (top + 1) ** power
    assert schema.max_p("regression") < schema.max_p("classification")


def test_regression_p_beyond_p_cubed_is_refused_naming_ps(capsys, monkeypatch, tmp_path):
    err = _refused(capsys, monkeypatch, tmp_path, "07", "--set", "ps=[11,1009]", "--set", "steps=10")
    assert "ps=[11, 1009]" in err and f"[2, {schema.max_p('regression')}]" in err and "regression" in err
    # the same p is a classification modulus in 23's classification block, and a regression one in its other
    o = ("--print-config", "--out", str(tmp_path))
    assert _cli(capsys, "run", "23", "--set", "classification.ps=[400]", *o)[0] == 0
    rc, _, err = _cli(capsys, "run", "23", "--set", "regression.ps=[400]", *o)
    assert rc == 2 and "regression.ps=[400]" in err
    # a row of experiment 10 whose own `setting` is regression
    rc, _, err = _cli(capsys, "run", "10", "--set", "runs.2.p=400", *o)
    assert rc == 2 and "runs.2.p=400" in err and not any(tmp_path.iterdir())


def test_a_run_too_large_for_memory_is_refused_with_the_largest_p(capsys, monkeypatch, tmp_path):
    err = _refused(capsys, monkeypatch, tmp_path, "11", "--set", "run.p=7001", "--set", "run.steps=2",
                   "--set", "alphas=[1.0]", "--set", "seeds=[0]")
    assert "run.p=7001" in err and "memory" in err
    top = int(err.rsplit("largest p allowed here is ", 1)[1].split()[0])
    budget = schema.memory_budget()
    # the stated bound is the model's own threshold: the largest p fits the budget, the next does not
    assert schema.run_bytes(top, "classification", 8 * top, 4) <= budget
    assert schema.run_bytes(top + 1, "classification", 8 * (top + 1), 4) > budget
    # against a stated budget, the same model decides, and a float64 reading doubles every number
    p = 101
    need32 = schema.run_bytes(p, "classification", 8 * p, 4)
    assert schema.run_bytes(p, "classification", 8 * p, 8) == 2 * need32
    schema.validate_config({"p": p}, budget=need32)
    _one_line_error(lambda: schema.validate_config({"p": p}, budget=need32 - 1), "p=101", "largest p allowed")
    _one_line_error(lambda: schema.validate_config({"p": p, "dtype": "float64"}, budget=need32), "p=101")


def test_a_misspelt_key_inside_a_json_value_is_refused_at_print_config(capsys, monkeypatch, tmp_path):
    err = _refused(capsys, monkeypatch, tmp_path, "07", "--paper", "--set",
                   'settings.paper={"lam_inf":1e-3,"lrr":0.1}', "--print-config")
    assert "settings.paper.lrr" in err and "lam_inf" in err and " lr," in err
    # the whole kind: a row of sub-configs, a nested run config, a new entry of `settings`
    with pytest.raises(ValueError, match=r"runs\.0\.lrr"):
        full_config(EXPS["10"], overrides={"runs": [{**EXPS["10"].quick["runs"][0], "lrr": 1.0}]})
    with pytest.raises(ValueError, match=r"run\.stepz"):
        full_config(EXPS["11"], overrides={"run": {**EXPS["11"].quick["run"], "stepz": 3}})
    cfg = full_config(EXPS["07"], overrides={"settings": {"mine": {"lr": 0.1}}})   # any entry name, known fields
    assert cfg["settings"] == {"mine": {"lr": 0.1}}
    with pytest.raises(ValueError, match=r"settings\.mine\.steps"):   # set by the experiment itself: refused
        full_config(EXPS["07"], overrides={"settings": {"mine": {"steps": 3}}})


def _seeds_leaves(cfg: dict) -> dict:
    return {p: v for p, v in schema.leaves(cfg) if p.rsplit(".", 1)[-1] == "seeds"}


def test_seed_sets_every_seeds_leaf(capsys, tmp_path):
    o = ("--print-config", "--out", str(tmp_path))
    (c,) = _printed(_cli(capsys, "run", "23", "--paper", "--seed", "1", *o)[1])
    assert _seeds_leaves(c) == {"classification.seeds": [1], "regression.seeds": [1]} and c["seed"] == 0
    (c,) = _printed(_cli(capsys, "run", "07", "--paper", "--seed", "5", "6", *o)[1])
    assert _seeds_leaves(c) == {"seeds": [5, 6], "long.seeds": [5, 6]} and c["seed"] == 0
    # 14's base sweeps read the run seed, its textbook sweeps their lists: one --seed reaches both
    (c,) = _printed(_cli(capsys, "run", "14", "--seed", "7", *o)[1])
    assert _seeds_leaves(c) == {"textbook.t1.seeds": [7], "textbook.t2.seeds": [7]} and c["seed"] == 7
    rc, _, err = _cli(capsys, "run", "14", "--seed", "7", "8", *o)
    assert rc == 2 and "textbook.t1.seeds" in err and "textbook.t2.seeds" in err
    # a seed label that the lists do not carry is refused, naming every seeds key
    with pytest.raises(ValueError, match=r"classification\.seeds=.*regression\.seeds="):
        full_config(EXPS["23"], mode="paper", seed=1)
    assert not any(tmp_path.iterdir())


def test_an_ambiguous_short_key_is_refused_and_a_leading_dot_names_the_top_level(capsys, tmp_path):
    o = ("--print-config", "--out", str(tmp_path))
    rc, _, err = _cli(capsys, "run", "07", "--paper", "--set", "steps=100", *o)
    assert rc == 2 and "ambiguous" in err and "steps, long.steps" in err and "'.steps'" in err
    (c,) = _printed(_cli(capsys, "run", "07", "--paper", "--set", ".steps=100", *o)[1])
    assert c["steps"] == 100 and c["long"]["steps"] == EXPS["07"].paper["long"]["steps"]
    (c,) = _printed(_cli(capsys, "run", "07", "--paper", "--set", ".long.steps=100", *o)[1])
    assert c["steps"] == EXPS["07"].paper["steps"] and c["long"]["steps"] == 100
    paths = ["steps", "long", "long.steps", "run", "run.lr"]
    assert schema.resolve_key("lr", paths) == "run.lr" and schema.resolve_key(".steps", paths) == "steps"
    _one_line_error(lambda: schema.resolve_key("steps", paths), "ambiguous", "steps, long.steps")
    _one_line_error(lambda: schema.resolve_key(".lr", paths), "no config key 'lr'")


def test_readings_are_checked_in_the_schema_with_their_path(capsys, monkeypatch, tmp_path):
    err = _refused(capsys, monkeypatch, tmp_path, "08", "--set", 'readings=[{"normalisation":"loss"}]',
                   "--print-config")
    assert "readings.0=" in err and "normalisation" in err and "normalization" in err
    # a regression-only setting on a classification experiment is refused, naming its task
    err = _refused(capsys, monkeypatch, tmp_path, "08", "--set", 'readings=[{"square_loss":"half"}]')
    assert "readings.0.square_loss" in err and "regression runs only" in err
    # the same setting is one of a regression run's: accepted there (07's settings, 11's full tier)
    (c,) = _printed(_cli(capsys, "run", "07", "--set", 'settings.paper.reading={"square_loss":"plain"}',
                         "--print-config", "--out", str(tmp_path))[1])
    assert c["settings"]["paper"]["reading"] == {"square_loss": "plain"}
    rc, _, err = _cli(capsys, "run", "07", "--set", 'settings.paper.reading={"normalization":"loss"}',
                      "--print-config", "--out", str(tmp_path))
    assert rc == 2 and "classification runs only" in err and not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_print_config_applies_the_device_check(capsys, tmp_path):
    rc, out, err = _cli(capsys, "run", "08", "--device", "cuda", "--print-config", "--out", str(tmp_path))
    assert rc == 2 and out == "" and "CUDA is not available" in err and not any(tmp_path.iterdir())


def test_a_semicolon_sweep_on_a_list_key_names_the_list_syntax(capsys, tmp_path):
    rc, _, err = _cli(capsys, "run", "08", "--set", "ps=11;17", "--print-config", "--out", str(tmp_path))
    assert rc == 2 and "'ps=[11];[17]'" in err
    cs = _printed(_cli(capsys, "run", "08", "--set", "ps=[11];[17]", "--print-config", "--out", str(tmp_path))[1])
    assert [c["ps"] for c in cs] == [[11], [17]]


def test_the_rerun_command_of_a_stored_result_resolves_to_its_config(capsys, tmp_path):
    """The command a missing or corrupt result's error names (harness._rerun_command) gives back the
    stored config, also where a top-level key shares its name with a nested one (07's paper tier:
    steps and long.steps), so a bare short key would be refused."""
    import shlex

    from regimes import harness

    cfg = full_config(EXPS["07"], mode="paper", overrides={"steps": 123, "seeds": [4]})
    path = tmp_path / "results" / "07_rich_regression.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": cfg}))
    words = shlex.split(harness._rerun_command(path))
    assert words[:3] == ["regimes", "run", "07"]
    out = tmp_path / "o"
    rc, printed, err = _cli(capsys, *words[1:], "--print-config", "--out", str(out))
    assert rc == 0, err
    (again,) = _printed(printed)
    assert again == cfg


@pytest.mark.parametrize("argv, match", [
    (("07", "--set", "settings.paper=5"), "an object here"),                 # a number where the tier has an object
    (("10", "--set", "runs.0=5"), "an object here"),                         # a row of sub-configs
    (("11", "--set", "run=null"), "an object here"),                         # 11's run cannot be switched off
    (("09", "--set", "adamw_lr=inf"), "a number here"),                      # text where the tier has a number
    (("09", "--set", "adamw_lr=Infinity"), "a finite number"),               # a leaf no table declares
    (("07", "--set", "long.steps=10"), "paper tier, not of its quick tier"),  # a key only --paper reads
    (("10", "--set", "runs.3.steps=10"), "paper tier, not of its quick tier"),
    (("07", "--set", "settings={}"), "non-empty object"),
    (("01", "--set", "frac_cls=1.5"), "(0, 1]"),
    (("06", "--set", "train_fraction=1.5"), "(0, 1]"),
    (("03", "--set", "ps=[100]"), "kernel matrix"),                          # 10⁶ triples: a 10¹² Gram
    (("15", "--set", "run.h=100000000"), "or lower run.h"),                  # the width, not p, is the size
    (("02", "--set", "widths=[100000000]"), "or lower widths"),
    (("07", "--set", "..steps=3"), "empty part"),
])
def test_misshapen_values_are_refused_in_one_line_before_any_work(capsys, monkeypatch, tmp_path, argv, match):
    """Each of these passed --print-config before and then crashed the run with a traceback (or
    allocated until the machine ran out); now one line, exit 2, nothing written, nothing trained."""
    assert match in _refused(capsys, monkeypatch, tmp_path, *argv, "--print-config")
    assert match in _refused(capsys, monkeypatch, tmp_path, *argv)


@pytest.mark.parametrize("exp, key, value", [("10", "runs.1.dtype", "float32"), ("10", "runs.1.dist", "normal"),
                                              ("16", "optimizers.gd.weight_decay", 0.01),
                                              ("17", "run.grok_threshold", 0.8)])
def test_every_field_of_a_rows_run_config_is_reachable(capsys, tmp_path, exp, key, value):
    """A row that becomes a run config (experiment 10's rows: TrackedRunConfig; 16's optimizers and
    17's run: GromovRunConfig) takes any field of that config, not only those some tier spells out."""
    rc, out, err = _cli(capsys, "run", exp, "--set", f"{key}={value}", "--print-config", "--out", str(tmp_path))
    assert rc == 0, err
    (cfg,) = _printed(out)
    assert schema.get_path(cfg, key) == value


def test_a_part_an_experiment_declares_optional_may_be_switched_off(capsys, tmp_path):
    """Experiment 14's MLP rows are optional (``optional=("mlp", "textbook")``): ``null`` switches them off."""
    rc, out, err = _cli(capsys, "run", "14", "--set", "mlp=null", "--print-config", "--out", str(tmp_path))
    assert rc == 0, err
    assert _printed(out)[0]["mlp"] is None
