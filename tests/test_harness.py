"""The experiment harness: caching by config hash, atomic results, metadata, figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regimes.harness import Experiment, RunContext, atomic_write_json, config_hash, run

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
