"""The experiment harness: caching by config hash, atomic results, metadata, figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regimes.harness import Experiment, RunContext, run
from regimes.store import atomic_write_json, config_hash

CALLS: list[dict] = []


def _compute(ctx: RunContext):
    CALLS.append(dict(ctx.config))
    rng = np.random.default_rng(ctx.seed)
    xs = rng.normal(size=ctx.config["n"])
    return {"mean": float(xs.mean())}, {"xs": xs}


def _plot(result, arrays, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot(arrays["xs"])
    fig.savefig(path)
    plt.close(fig)


EXP = Experiment("99", "toy", "toy", "none", quick={"n": 5}, full={"n": 50}, compute=_compute, plot=_plot)


def test_run_writes_results_with_metadata_and_figure(tmp_path):
    CALLS.clear()
    out = run(EXP, mode="quick", seed=3, out=tmp_path, quiet=True)
    res = json.loads(out.result_path.read_text())
    assert res["complete"] is True
    assert res["config"] == {"experiment": "99_toy", "mode": "quick", "seed": 3, "device": "cpu", "n": 5}
    assert {"torch", "numpy", "python"} <= set(res["versions"])
    assert res["wall_time_s"] >= 0 and res["git_revision"]
    assert out.figure_path.exists() and out.figure_path.stat().st_size > 0
    arrays = np.load(out.result_path.with_suffix(".npz"))
    np.testing.assert_allclose(arrays["xs"].mean(), res["metrics"]["mean"])


def test_rerun_with_same_config_recomputes_nothing(tmp_path):
    CALLS.clear()
    first = run(EXP, mode="quick", seed=1, out=tmp_path, quiet=True)
    second = run(EXP, mode="quick", seed=1, out=tmp_path, quiet=True)
    assert len(CALLS) == 1 and not first.cached and second.cached
    assert second.result["metrics"] == first.result["metrics"]
    run(EXP, mode="quick", seed=2, out=tmp_path, quiet=True)  # a new seed is a new config
    run(EXP, mode="full", seed=1, out=tmp_path, quiet=True)
    assert len(CALLS) == 3
    run(EXP, mode="quick", seed=1, out=tmp_path, quiet=True, force=True)
    assert len(CALLS) == 4


def test_incomplete_cache_entry_is_not_trusted(tmp_path):
    CALLS.clear()
    out = run(EXP, mode="quick", seed=0, out=tmp_path, quiet=True)
    h = out.result["config_hash"]
    cache = tmp_path / "results" / "cache" / "99_toy" / f"{h}.json"
    stored = json.loads(cache.read_text())
    stored["complete"] = False  # as if the run died before finishing
    atomic_write_json(cache, stored)
    again = run(EXP, mode="quick", seed=0, out=tmp_path, quiet=True)
    assert not again.cached and len(CALLS) == 2


def test_point_memoisation_survives_failure(tmp_path):
    ctx = RunContext({"a": 1}, 0, "cpu", True, tmp_path / "points")
    calls = []

    def ok():
        calls.append(1)
        return {"v": 1.0}, {"arr": np.arange(3)}

    ctx.point({"i": 0}, ok)
    m, a = ctx.point({"i": 0}, ok)
    assert calls == [1] and m == {"v": 1.0} and a["arr"].tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError):
        ctx.point({"i": 1}, lambda: (_ for _ in ()).throw(RuntimeError("diverged")))
    assert len(list((tmp_path / "points").glob("*.json"))) == 1  # the failed point left nothing


def test_config_hash_is_order_independent_and_sensitive():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_bad_mode_and_device(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        run(EXP, mode="medium", out=tmp_path)
    with pytest.raises(ValueError, match="device"):
        run(EXP, device="tpu", out=tmp_path)


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; the error path cannot be exercised")
    with pytest.raises(ValueError, match="CUDA is not available"):
        run(EXP, device="cuda", out=tmp_path)
    assert not (tmp_path / "results").exists()  # nothing half-written


def test_configure_threads():
    import torch

    from regimes.harness import configure_threads

    before = torch.get_num_threads()
    try:
        configure_threads(None, "quick")
        assert torch.get_num_threads() == 1
        configure_threads(2, "full")
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError, match="threads=0"):
            configure_threads(0, "quick")
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- the cache key covers the code
_SCRIPT = '''
import numpy as np
from regimes.harness import Experiment

CALLS = []


def compute(ctx):
    CALLS.append(1)
    xs = np.arange(ctx.config["n"], dtype=float)
    metrics = {{"total": float(xs.sum())}}
    {extra}
    return metrics, {{"xs": xs}}


def plot(result, arrays, path):
    path.write_bytes(b"{style}")


EXPERIMENT = Experiment("98", "edited", "edited", "none", quick={{"n": 4}}, full={{"n": 8}},
                        compute=compute, plot=plot)
'''


def _write_script(folder, extra: str = "", style: str = "v1"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "98_edited.py"
    path.write_text(_SCRIPT.format(extra=extra, style=style))
    return path


def test_editing_the_experiment_script_recomputes(tmp_path, capsys):
    """The reported case, through the CLI: a copied experiment run with ``--experiments``,
    then a metric added to its ``compute``. Before, the second run said "(cached)" and the
    new metric was missing (the key was the config alone)."""
    from regimes.cli import main as cli

    exps, out = tmp_path / "exps", tmp_path / "out"
    _write_script(exps)
    argv = ["run", "98", "--experiments", str(exps), "--out", str(out), "--quiet"]
    assert cli(argv) == 0 and "(cached)" not in capsys.readouterr().out
    assert cli(argv) == 0 and "(cached)" in capsys.readouterr().out     # unchanged: served
    _write_script(exps, extra='metrics["count"] = len(xs)')
    assert cli(argv) == 0 and "(cached)" not in capsys.readouterr().out
    res = json.loads((out / "results" / "98_edited.json").read_text())
    assert res["metrics"] == {"total": 6.0, "count": 4}
    assert set(res["code"]) == {"script", "library"}
    # restyling the figure (the plot function only) is served from the cache and redrawn
    _write_script(exps, extra='metrics["count"] = len(xs)', style="v2")
    assert cli(argv) == 0 and "(cached)" in capsys.readouterr().out
    assert (out / "figures" / "98_edited.png").read_bytes() == b"v2"
    # --force still recomputes
    assert cli([*argv, "--force"]) == 0 and "(cached)" not in capsys.readouterr().out


def test_stale_entry_is_recomputed_not_served(tmp_path):
    from regimes.harness import discover

    exps = tmp_path / "exps"
    _write_script(exps)
    first = run(discover(exps)[0], out=tmp_path, quiet=True)
    _write_script(exps, extra='metrics["count"] = len(xs)')
    exp = discover(exps)[0]
    again = run(exp, out=tmp_path, quiet=True)
    assert not again.cached and again.result["metrics"]["count"] == 4
    assert again.result["config"] == first.result["config"]            # same config,
    assert again.result["config_hash"] != first.result["config_hash"]  # another key
    assert again.result["code"]["script"] != first.result["code"]["script"]
    assert again.result["code"]["library"] == first.result["code"]["library"]
    # an entry whose stored code disagrees with its name is not trusted either
    cache = tmp_path / "results" / "cache" / "98_edited" / f"{again.result['config_hash']}.json"
    stored = json.loads(cache.read_text())
    stored["code"] = first.result["code"]
    atomic_write_json(cache, stored)
    assert not run(exp, out=tmp_path, quiet=True).cached


def test_an_edited_library_recomputes(tmp_path, monkeypatch):
    from regimes import harness

    CALLS.clear()
    run(EXP, out=tmp_path, quiet=True)
    assert run(EXP, out=tmp_path, quiet=True).cached
    monkeypatch.setattr(harness, "library_fingerprint", lambda: "an-edited-tree")
    again = run(EXP, out=tmp_path, quiet=True)
    assert not again.cached and len(CALLS) == 2 and again.result["code"]["library"] == "an-edited-tree"


def test_library_fingerprint_follows_the_sources_not_git(tmp_path):
    """Hash of the package's ``*.py`` files: an uncommitted edit (a dirty tree) changes it,
    undoing the edit restores it, and the presentation-only modules are left out."""
    import shutil

    from regimes.store import PACKAGE_DIR, PRESENTATION_MODULES, library_fingerprint

    pkg = tmp_path / "regimes"
    shutil.copytree(PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))

    def fp() -> str:
        library_fingerprint.cache_clear()
        return library_fingerprint(pkg)

    try:
        base = fp()
        assert fp() == base and len(base) == 16
        tasks = pkg / "tasks.py"
        original = tasks.read_bytes()
        tasks.write_bytes(original + b"\n# an uncommitted edit\n")
        edited = fp()
        assert edited != base
        tasks.write_bytes(original)
        assert fp() == base
        (pkg / "metrics" / "new_metric.py").write_text("X = 1\n")       # a new module counts
        assert fp() != base
        (pkg / "metrics" / "new_metric.py").unlink()
        for name in PRESENTATION_MODULES:                                 # these do not
            (pkg / name).write_bytes((pkg / name).read_bytes() + b"\n# restyled\n")
        assert fp() == base
    finally:
        library_fingerprint.cache_clear()


def test_presentation_modules_never_run_inside_compute():
    """What keeps :data:`PRESENTATION_MODULES` out of the key honest: no other library module
    imports them."""
    import re

    from regimes.store import PACKAGE_DIR, PRESENTATION_MODULES

    names = "|".join(n.removesuffix(".py") for n in PRESENTATION_MODULES)
    pattern = re.compile(rf"(regimes\.({names})\b|from regimes import .*\b({names})\b)")
    for path in PACKAGE_DIR.rglob("*.py"):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        if rel in PRESENTATION_MODULES or "__pycache__" in path.parts:
            continue
        code = [ln for ln in path.read_text().splitlines() if re.match(r"\s*(from|import)\s", ln)]
        assert not [ln for ln in code if pattern.search(ln)], rel


def test_config_hash_tells_nan_none_and_inf_apart():
    """Before, NaN hashed as None and ±inf as the strings "inf"/"-inf" (via _jsonable)."""
    nan, inf = float("nan"), float("inf")
    keys = [config_hash({"a": v}) for v in (nan, None, inf, "inf", -inf, "-inf", 0.0)]
    assert len(set(keys)) == len(keys)
    assert config_hash({"a": nan}) == config_hash({"a": np.float64("nan")}) == config_hash({"a": nan})
    assert config_hash({"a": [1, 2]}) == config_hash({"a": (1, 2)}) == config_hash({"a": np.array([1, 2])})
    assert config_hash({"a": 1}) != config_hash({"a": 1.0}) != config_hash({"a": True})
