"""Trained weights can be re-analysed: every experiment that trains stores its nets, and
:func:`regimes.load_run` rebuilds them.

Each case runs the experiment at a tiny config (small p, tens of steps) into a temporary
folder, rebuilds one stored net with ``load_run`` and recomputes a stored number from the
rebuilt net alone: the held-out (and training) accuracy with a plain ``argmax`` over the
net's logits on the split regenerated from the seed, and, where the run logs it, the final
training cross-entropy with ``torch.nn.functional.cross_entropy``. Parameters are stored as
float32, so a float64 run's loss is compared to a relative 1e-4 (float32 rounding of the
weights moves it by ~1e-6) and accuracies exactly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import regimes
from regimes.harness import discover, load_run, run
from regimes.tasks import Task, sample_split


@pytest.fixture(scope="module")
def experiments() -> dict[str, Any]:
    return {e.number: e for e in discover()}


def _run(experiments: dict[str, Any], num: str, out: Path, overrides: dict[str, Any], *,
         plot: bool = True) -> dict[str, Any]:
    """Run experiment ``num`` at ``overrides`` into ``out`` (``plot=False``: skip the figure,
    whose log axes need runs that memorise, which a few tens of steps need not)."""
    exp = experiments[num] if plot else dataclasses.replace(experiments[num], plot=lambda *_: None)
    return run(exp, out=out, quiet=True, overrides=overrides).result


def _acc(net: Any, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).double().mean())


def _ce(net: Any, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(net(x).double(), y))


def _tracked_split(p: int, fraction: float | None, seed: int):
    """The split :func:`regimes.runs.tracked_run` draws (classification, n = 2p^{5/3} or fraction·p²)."""
    n = max(1, round(fraction * p**2)) if fraction else round(2 * p ** (5 / 3))
    return sample_split(Task(p), n=n, seed=seed)


TINY_RUN = {"p": 11, "steps": 60, "n_track": 6, "eval_size": 30, "after_pairs": 10, "after_every": 3}


def test_load_run_is_exported() -> None:
    assert regimes.load_run is load_run


def test_exp10_final_and_snapshots(experiments, tmp_path: Path) -> None:
    res = _run(experiments, "10", tmp_path, {"runs": [{"name": "tiny", **TINY_RUN}], "seeds": [0, 1]})
    r = load_run("10", out=tmp_path, run=0, seed=1)
    assert r.point == {"run": 0, "seed": 1} and type(r.net).__name__ == "QuadraticNet"
    split = _tracked_split(11, None, 1)
    stored = res["metrics"]["runs"][0]["per_seed"][1]
    assert _acc(r.net, split.test.x, split.test.y) == stored["final_test_acc"]
    assert _acc(r.net, split.train.x, split.train.y) == stored["final_train_acc"]
    # the first seed's curves are stored: its final training loss, recomputed
    r0 = load_run("10", out=tmp_path, run=0, seed=0)
    s0 = _tracked_split(11, None, 0)
    assert _ce(r0.net, s0.train.x, s0.train.y) == pytest.approx(float(r0.arrays["run0_train_loss"][-1]), rel=1e-4)
    # every snapshot is a net of the same architecture, taken at a logged step
    for name, net in r.nets.items():
        assert (net.W.shape, net.V.shape) == (r.net.W.shape, r.net.V.shape), name
        assert name == "final" or r.steps[name] in set(r0.arrays["run0_step"].astype(int))


def test_exp11_point_by_alpha_and_seed(experiments, tmp_path: Path) -> None:
    from regimes.settings.dynamics import C17B_RUN

    _run(experiments, "11", tmp_path, {"alphas": [0.5, 2.0], "seeds": [0],
                                       "run": {**C17B_RUN, "p": 11, "steps": 60, "n_track": 6}})
    r = load_run("11", out=tmp_path, alpha=2.0, seed=0)
    split = _tracked_split(11, None, 0)
    assert _acc(r.net, split.test.x, split.test.y) == float(r.arrays["a2_s0_test"][-1])
    assert _acc(r.net, split.train.x, split.train.y) == float(r.arrays["a2_s0_train"][-1])


@pytest.fixture(scope="module")
def exp12(experiments, tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """Experiment 12 (the transformer) run once at a tiny config: (out folder, result)."""
    out = tmp_path_factory.mktemp("exp12")
    res = _run(experiments, "12", out, {"p": 11, "d_model": 8, "n_heads": 2, "d_mlp": 16, "steps": 30,
                                        "n_track": 5, "after_pairs": 5, "seeds": [0]})
    return out, res


def test_exp12_transformer(exp12) -> None:
    out, res = exp12
    r = load_run("12", out=out)           # one run: no point needed
    assert type(r.net).__name__ == "Transformer" and r.net.n_heads == 2
    split = sample_split(Task(11), n=round(2 * 11 ** (5 / 3)), seed=0)
    assert _acc(r.net, split.test.x, split.test.y) == res["metrics"]["final_test_acc"]
    assert _ce(r.net, split.train.x, split.train.y) == pytest.approx(float(r.arrays["train_loss"][-1]), rel=1e-4)


@pytest.mark.slow  # ~17 s here (Gromov's analytic solution and the MLP's PCA views for the figure)
def test_exp13_quadratic_and_mlp(experiments, tmp_path: Path) -> None:
    res = _run(experiments, "13", tmp_path, {
        "run": {"p": 11, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0, "steps": 60, "track": False,
                "n_track": 6},
        "mlp": {"p": 11, "d_embed": 8, "hidden": 8, "optimizer": "adamw", "lr": 3e-2, "weight_decay": 0.03,
                "fraction": 0.6, "steps": 60, "n_track": 6, "dtype": "float32"}})
    with pytest.raises(ValueError, match="matches 2 stored runs"):
        load_run("13", out=tmp_path)
    q = load_run("13", out=tmp_path, model="quadratic")
    split = _tracked_split(11, None, 0)
    assert _acc(q.net, split.test.x, split.test.y) == res["metrics"]["final_test_acc"]
    m = load_run("13", out=tmp_path, model="mlp")
    assert type(m.net).__name__ == "EmbeddingMLP"
    msplit = sample_split(Task(11), fraction=0.6, seed=0)
    assert _acc(m.net, msplit.test.x, msplit.test.y) == res["metrics"]["mlp"]["final_test_acc"]


def test_exp14_rows(experiments, tmp_path: Path) -> None:
    base = {"p": 11, "optimizer": "adamw", "lr": 1e-3, "steps": 60, "track": False, "n_track": 6, "fraction": 0.7}
    res = _run(experiments, "14", tmp_path, {"base": base, "wds": [1.0], "fractions": [0.5], "wd_on": 30,
                                             "mlp": None}, plot=False)   # null: the MLP rows are off
    rows = res["metrics"]["rows"]
    for i, row in enumerate(rows):
        r = load_run("14", out=tmp_path, model="quadratic", sweep=row["sweep"], value=row["value"])
        assert r.run_key == f"r{i}"
        frac = row["value"] if row["sweep"] == "fraction" else 0.7
        split = _tracked_split(11, frac, 0)
        assert _acc(r.net, split.test.x, split.test.y) == row["final_test_acc"]


@pytest.mark.slow  # ~6-10 s each
@pytest.mark.parametrize("num,tiny,point", [
    ("07", {"ps": [7], "seeds": [0], "betas": [2.25], "sweep_p": 7, "steps": 30, "n_evals": 5},
     {"setting": "paper", "p": 7, "seed": 0}),
    ("08", {"ps": [11], "seeds": [0], "steps": 30, "n_evals": 5}, {"p": 11, "seed": 0}),
])
def test_rich_runs(experiments, tmp_path: Path, num: str, tiny: dict, point: dict) -> None:
    _run(experiments, num, tmp_path, tiny)
    r = load_run(num, out=tmp_path, **point)
    assert type(r.net).__name__ == "QuadraticNet"


def test_exp09_net_at_its_threshold(experiments, tmp_path: Path) -> None:
    """Experiment 09 keeps, per (p, seed), the net trained at the accuracy criterion's n* (or
    at the ceiling when censored); the rebuilt net reproduces that size's held-out accuracy
    from the trace (parameters are stored in float32: at most one held-out pair may flip)."""
    res = _run(experiments, "09", tmp_path, {"ps": [7], "seeds": 1, "steps": 20}, plot=False)
    (row,) = [r for r in res["metrics"]["n_star"] if r["method"] == "net"]
    r = load_run("09", out=tmp_path, method="net", p=7, seed=0, n=row["stored_net_n"])
    n = row["stored_net_n"]
    task = Task(7)
    split = sample_split(task, n=n, seed=row["data_seed"])
    pop = task.population()
    seen = {tuple(x) for x in split.train.x.tolist()}
    held = torch.tensor([tuple(x) not in seen for x in pop.x.tolist()])
    acc = _acc(r.net, pop.x[held], pop.y[held])
    trace = r.arrays["trace_net_p7_s0"]
    stored = float(trace[trace[:, 0] == n][0, 1])
    assert abs(acc - stored) <= 1 / int(held.sum()) + 1e-12


def test_never_run_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"regimes run 10 --quick --out"):
        load_run("10", out=tmp_path)


def test_unknown_point_names_the_command_and_the_stored_points(exp12) -> None:
    out, _ = exp12
    with pytest.raises(FileNotFoundError, match=r'regimes run 12 --quick --out .* --seed 7') as e:
        load_run("12", out=out, seed=7)
    assert '{"seed": 0}' in str(e.value)              # the stored points are listed
    with pytest.raises(ValueError, match="experiment='x'"):
        load_run("x", out=out)


def test_typed_run_configs_refuse_unknown_keys() -> None:
    """A misspelt key fails before any work, naming the key and the known keys."""
    from regimes.runs import MLPRunConfig, TrackedRunConfig, mlp_run, tracked_run

    with pytest.raises(ValueError, match=r"'lrr' is not a TrackedRunConfig field: known keys are p, setting"):
        tracked_run({"lrr": 1e-3})
    with pytest.raises(ValueError, match=r"'hiden' is not a MLPRunConfig field"):
        mlp_run({"hiden": 8})
    assert TrackedRunConfig.from_dict({"lr": 0.5}).lr == 0.5 and TrackedRunConfig().steps == 4000
    assert len(TrackedRunConfig().as_dict()) == 26 and MLPRunConfig.from_dict({}).p == 53


def test_stored_parameters_are_float32(exp12) -> None:
    """Parameters are stored as float32 (the npz stays small)."""
    out, _ = exp12
    r = load_run("12", out=out, seed=0)
    params = [v for k, v in r.arrays.items() if k.startswith("params/") and v.dtype.kind == "f"]
    assert params and all(v.dtype == np.float32 for v in params)


# --------------------------------------------------------------------------- experiments 15–21
TINY_GROMOV = {"p": 11, "h": 24, "fraction": 0.6, "function": "add", "optimizer": "gd", "lr": 1.0,
               "steps": 40, "eval_every": 10, "dtype": "float32", "grad_norms": True,
               "grok_threshold": 0.95, "onset_level": 0.1}


def _gromov_split(p: int, fraction: float, seed: int, function: str = "add"):
    """The split :func:`regimes.gromov.gromov_run` draws."""
    return sample_split(Task(p, "classification", function), fraction=fraction, seed=seed)


def _close(acc: float, stored: float, n: int) -> bool:
    """Equal, or within one flipped point of ``n`` (parameters are stored as float32)."""
    return abs(acc - stored) <= 1 / n + 1e-12


def test_exp15_gromov_dynamics(experiments, tmp_path: Path) -> None:
    res = _run(experiments, "15", tmp_path, {"run": TINY_GROMOV, "seeds": [0, 1]}, plot=False)
    for i, seed in enumerate((0, 1)):
        r = load_run("15", out=tmp_path, seed=seed)
        assert r.point == {"seed": seed} and type(r.net).__name__ == "QuadraticNet"
        split = _gromov_split(11, 0.6, seed)
        stored = res["metrics"]["runs"][i]
        assert _close(_acc(r.net, split.test.x, split.test.y), stored["final_test_acc"], len(split.test))
        assert _close(_acc(r.net, split.train.x, split.train.y), stored["final_train_acc"], len(split.train))


def test_exp18_trained_net(experiments, tmp_path: Path) -> None:
    res = _run(experiments, "18", tmp_path, {"run": {**TINY_GROMOV, "grad_norms": False}, "q": 2,
                                             "analytic_wide": 50}, plot=False)
    r = load_run("18", out=tmp_path)
    assert type(r.net).__name__ == "QuadraticNet" and r.net.output_scale == pytest.approx(2 / 24)
    split = _gromov_split(11, 0.6, r.point.get("seed", 0))
    stored = res["metrics"]["run"]["final_test_acc"]
    assert _close(_acc(r.net, split.test.x, split.test.y), stored, len(split.test))


@pytest.mark.slow  # ~14 s here under load (the circle measures of every frame)
def test_exp19_embedding_mlp(experiments, tmp_path: Path) -> None:
    mlp = {"p": 11, "hidden": 16, "optimizer": "adamw", "lr": 3e-2, "weight_decay": 5.0, "fraction": 0.6,
           "steps": 30, "dtype": "float32"}
    res = _run(experiments, "19", tmp_path, {"mlp": mlp, "widths": [8], "seeds": [0, 1], "frames": [0, 10, 30],
                                             "top": 2, "null_draws": 20}, plot=False)
    r = load_run("19", out=tmp_path, d=8, seed=1)
    assert r.point == {"d": 8, "seed": 1} and type(r.net).__name__ == "EmbeddingMLP"
    split = sample_split(Task(11), fraction=0.6, seed=1)
    stored = next(x for x in res["metrics"]["runs"] if x["width"] == 8 and x["seed"] == 1)
    assert _close(_acc(r.net, split.test.x, split.test.y), stored["final_test_acc"], len(split.test))
    assert _close(_acc(r.net, split.train.x, split.train.y), stored["final_train_acc"], len(split.train))


def test_exp16_nets_around_the_critical_fraction(experiments, tmp_path: Path) -> None:
    run = {k: v for k, v in TINY_GROMOV.items() if k not in ("optimizer", "lr", "fraction", "grad_norms",
                                                             "onset_level")}
    res = _run(experiments, "16", tmp_path, {"run": {**run, "steps": 60, "stop_at": 0.95},
                                             "optimizers": {"gd": {"optimizer": "gd", "lr": 1.0},
                                                            "adamw": {"optimizer": "adamw", "lr": 3e-2,
                                                                      "weight_decay": 1.0}},
                                             "fractions": [0.5, 0.8], "seeds": [0]}, plot=False)
    ran = [r for r in res["metrics"]["rows"] if not r["skipped"]]
    checked = 0
    for row in ran:
        try:
            r = load_run("16", out=tmp_path, optimizer=row["optimizer"], fraction=row["fraction"], seed=row["seed"])
        except FileNotFoundError:   # a grokked fraction above α_c: not stored
            assert row["t_grok"] is not None
            continue
        split = _gromov_split(11, row["fraction"], row["seed"])
        assert _close(_acc(r.net, split.test.x, split.test.y), row["final_test_acc"], len(split.test))
        checked += 1
    assert checked >= 2             # at least one net per (optimizer, seed)


def test_exp17_nets_per_function(experiments, tmp_path: Path) -> None:
    run = {k: v for k, v in TINY_GROMOV.items() if k not in ("fraction", "function", "grad_norms", "onset_level")}
    res = _run(experiments, "17", tmp_path, {"run": {**run, "optimizer": "adamw", "lr": 3e-2, "weight_decay": 1.0,
                                                     "steps": 60, "stop_at": 1.0},
                                             "functions": ["add", "mul"], "fractions": [0.5, 0.9], "seeds": [0],
                                             "crit_level": 0.95}, plot=False)
    checked = 0
    for row in res["metrics"]["rows"]:
        if row["skipped"]:
            continue
        try:
            r = load_run("17", out=tmp_path, function=row["function"], fraction=row["fraction"], seed=row["seed"])
        except FileNotFoundError:   # a fraction above the stored pair: not stored
            continue
        assert type(r.net).__name__ == "QuadraticNet"
        split = _gromov_split(11, row["fraction"], row["seed"], row["function"])
        assert _close(_acc(r.net, split.test.x, split.test.y), row["final_test_acc"], len(split.test))
        assert _close(_acc(r.net, split.train.x, split.train.y), row["final_train_acc"], len(split.train))
        checked += 1
    assert checked >= 2             # at least one net per (function, seed)


def test_exp21_max_margin_nets(experiments, tmp_path: Path) -> None:
    res = _run(experiments, "21", tmp_path, {"ps": [7], "seeds": [0, 1], "width_mult": 8, "n_exponent": 5 / 3,
                                             "temperatures": [0.1, 1.0], "steps_per_stage": 20}, plot=False)
    for row in res["metrics"]["rows"]:
        r = load_run("21", out=tmp_path, p=7, seed=row["seed"])
        assert type(r.net).__name__ == "QuadraticNet" and r.net.V.shape[1] == 56
        split = sample_split(Task(7), n=row["n"], seed=row["seed"])
        assert _close(_acc(r.net, split.test.x, split.test.y), row["heldout_acc"], len(split.test))
        assert _close(_acc(r.net, split.train.x, split.train.y), row["train_acc"], len(split.train))


def test_exp20_interpolator_at_r_star(experiments, tmp_path: Path) -> None:
    from regimes.tasks import clean_pairs

    res = _run(experiments, "20", tmp_path, {"ps": [5], "n_exponents": [2.0], "width_mults": [8], "seeds": [0, 1],
                                             "search": {"steps": 300, "lr": 1e-2, "tol": 1e-3, "rounds": 1,
                                                        "per_round": 1}}, plot=False)
    rows = [r for r in res["metrics"]["rows"] if not r["censored"]]
    assert rows                      # at least one seed bracketed
    for row in rows:
        r = load_run("20", out=tmp_path, p=5, n_exponent=2.0, width_mult=8, seed=row["seed"])
        assert r.point["h"] == 40 and r.point["n"] == row["n"]
        assert float(r.net.params()["W"].abs().max()) <= row["r_star"] * (1 + 1e-6)
        split = sample_split(Task(5, "regression"), n=row["n"], seed=row["seed"])
        pairs = clean_pairs(split.train, split.test)
        acc = _acc(r.net, pairs, Task(5).label(pairs))
        assert _close(acc, row["heldout_acc"], len(pairs))


def test_gromov_run_keeps_the_net_at_an_early_stop() -> None:
    """With ``stop_at`` the run ends inside training; ``keep_net`` still returns the net at the
    stopping evaluation (what experiments 16 and 17 store), whose accuracy is the final one."""
    from regimes.gromov import GromovRunConfig, gromov_run

    s, _, (_, net) = gromov_run(GromovRunConfig(p=11, h=24, fraction=0.6, lr=1.0, steps=300, eval_every=10,
                                                stop_at=0.05), keep_net=True)
    assert s["stopped_at"] is not None and net is not None
    split = _gromov_split(11, 0.6, 0)
    assert _acc(net, split.test.x, split.test.y) == s["final_test_acc"]
