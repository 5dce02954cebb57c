"""Sweeps: config-hash cache, kill-and-resume of a real subprocess, Dask = local.

The point function is ``regimes.sweep.demo_point``: deterministic in the point
(it seeds its generator from the point's hash), so two executors must produce
bit-identical results, and a recomputation is detectable by file identity.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from regimes import harness, store
from regimes.harness import ExperimentCache, experiment_point
from regimes.sweep import PointCache, demo_point, fn_fingerprint, grid, run_sweep

REPO = Path(__file__).resolve().parent.parent


def _finished(cache_dir: Path) -> set[str]:
    """Hashes whose JSON is complete (what a rerun must not recompute)."""
    out = set()
    for j in cache_dir.glob("*.json"):
        with contextlib.suppress(ValueError, OSError):
            if json.loads(j.read_text()).get("complete") is True:
                out.add(j.stem)
    return out


def _same_point(a: tuple[dict, dict], b: tuple[dict, dict]) -> bool:
    (ma, xa), (mb, xb) = a, b
    ma = {k: v for k, v in ma.items() if k != "pid"}
    mb = {k: v for k, v in mb.items() if k != "pid"}
    return ma == mb and xa.keys() == xb.keys() and all(np.array_equal(xa[k], xb[k]) for k in xa)


# --------------------------------------------------------------------------- grid and cache
def test_grid_is_the_cartesian_product_first_axis_slowest() -> None:
    g = grid(p=[11, 17], seed=[0, 1, 2])
    assert len(g) == 6 and g[0] == {"p": 11, "seed": 0} and g[3] == {"p": 17, "seed": 0}
    assert len({store.config_hash(x) for x in g}) == 6
    with pytest.raises(ValueError, match="seed"):
        grid(p=[1], seed=[])


def test_partial_or_corrupt_entries_are_never_read_as_complete(tmp_path: Path) -> None:
    cache = PointCache(tmp_path)
    pts = grid(x=range(6))
    run_sweep(demo_point, pts, cache, quiet=True)
    assert all(cache.load(p) is not None for p in pts)
    j = [cache.paths(p)[0] for p in pts]
    n = [cache.paths(p)[1] for p in pts]
    j[0].unlink()                                           # arrays written, JSON never
    j[1].write_text(j[1].read_text()[: 40])                 # truncated JSON
    d = json.loads(j[2].read_text())
    d["complete"] = False
    j[2].write_text(json.dumps(d))                          # not marked complete
    n[3].write_bytes(n[3].read_bytes()[:50])                # truncated arrays
    n[4].unlink()                                           # JSON without arrays
    for i in range(5):
        assert cache.load(pts[i]) is None, i
    before = j[5].stat().st_mtime_ns
    res = run_sweep(demo_point, pts, cache, quiet=True)
    assert [r.cached for r in res] == [False] * 5 + [True]
    assert j[5].stat().st_mtime_ns == before                # the good one was not rewritten
    for p, r in zip(pts, res, strict=True):
        assert _same_point((r.metrics, r.arrays), demo_point(p))
        assert cache.load(p) is not None


def test_sweep_rejects_bad_arguments(tmp_path: Path) -> None:
    cache = PointCache(tmp_path)
    with pytest.raises(ValueError, match="jobs"):
        run_sweep(demo_point, grid(x=[1]), cache, jobs=0)
    with pytest.raises(ValueError, match="executor"):
        run_sweep(demo_point, grid(x=[1]), cache, executor="slurm")
    with pytest.raises(ValueError, match="scheduler"):
        run_sweep(demo_point, grid(x=[1]), cache, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="duplicates"):
        run_sweep(demo_point, [{"x": 1}, {"x": 1}], cache)
    assert not list(tmp_path.iterdir())                     # nothing written


# --------------------------------------------------------------------------- kill and resume
@pytest.mark.parametrize(("sig", "jobs"), [(signal.SIGINT, 2), (signal.SIGKILL, 1)],
                         ids=["ctrl-c-2-processes", "kill-9-in-process"])
def test_killed_sweep_keeps_finished_points_and_resumes(tmp_path: Path, sig: int,
                                                        jobs: int) -> None:
    n_points, cache_dir = 40, tmp_path / "cache"    # ≥ 18 s of work left when the signal is sent
    # `python -m regimes.sweep demo …` (its main()), with Python's Ctrl-C handler installed first: a shell
    # that starts the suite in the background ignores SIGINT, and children inherit that
    args = ["demo", "--cache", str(cache_dir), "--points", str(n_points), "--sleep", "0.5", "--jobs", str(jobs)]
    boot = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            f"from regimes.sweep import main; sys.exit(main({args!r}))")
    proc = subprocess.Popen([sys.executable, "-c", boot], cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(_finished(cache_dir)) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "sweep made no progress"
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)             # any orphaned pool worker
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "rerun to resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    done = _finished(cache_dir)
    assert 3 <= len(done) < n_points                        # killed mid-run, progress kept
    # every file that reads as finished holds exactly what the point computes; the CLI keys
    # them by the demo function's code (read back from an entry: the library may be edited
    # by someone else while this test runs, which would rightly change the key)
    code = json.loads((cache_dir / f"{sorted(done)[0]}.json").read_text())["code"]
    assert set(code) == {"fn", "library"} and code["fn"] == fn_fingerprint(demo_point)["fn"]
    cache, pts = PointCache(cache_dir, code=code), grid(x=range(n_points))
    by_hash = {cache.key(p): p for p in pts}
    stamps = {}
    for h in done:
        hit = cache.load(by_hash[h])
        assert hit is not None and _same_point(hit, demo_point(by_hash[h]))
        stamps[h] = (cache_dir / f"{h}.json").stat().st_mtime_ns
    # rerun: nothing finished is recomputed, everything else is
    res = run_sweep(functools.partial(demo_point, sleep=0.0), pts, cache, quiet=True)
    assert {r.hash for r in res if r.cached} == done
    assert sum(not r.cached for r in res) == n_points - len(done)
    assert all((cache_dir / f"{h}.json").stat().st_mtime_ns == t for h, t in stamps.items())
    assert _finished(cache_dir) == set(by_hash)
    assert all(_same_point((r.metrics, r.arrays), demo_point(r.point)) for r in res)


# --------------------------------------------------------------------------- dask
def test_dask_local_cluster_equals_local_run_point_by_point(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed", reason="Dask (distributed) not installed")
    pts = grid(x=range(5), y=[0, 1])
    local = run_sweep(demo_point, pts, PointCache(tmp_path / "local"), jobs=1, quiet=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        remote = run_sweep(demo_point, pts, PointCache(tmp_path / "dask"), executor="dask",
                           client=client, quiet=True)
        again = run_sweep(demo_point, pts, PointCache(tmp_path / "dask"), executor="dask",
                          client=client, quiet=True)
        mapped = _mapped_run(tmp_path / "map-dask", {"executor": "dask", "client": client})
    assert [r.hash for r in local] == [r.hash for r in remote]
    assert not any(r.cached for r in remote) and all(r.cached for r in again)
    assert all(r.metrics["pid"] != os.getpid() for r in remote)  # computed on the workers
    for a, b, c in zip(local, remote, again, strict=True):
        assert _same_point((a.metrics, a.arrays), (b.metrics, b.arrays))
        assert _same_point((b.metrics, b.arrays), (c.metrics, c.arrays))
    # both caches hold the same files, point by point
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == sorted(
        p.name for p in (tmp_path / "dask").iterdir())
    # an experiment's ctx.map on Dask gives the in-process result
    serial = _mapped_run(tmp_path / "map-serial", None).result["metrics"]
    assert mapped.result["metrics"]["workers"] and not serial["workers"]
    assert {k: mapped.result["metrics"][k] for k in ("sq", "draw")} == {
        k: serial[k] for k in ("sq", "draw")}


# --------------------------------------------------------------------------- experiments as points
_TINY = '''
import numpy as np
from regimes.harness import Experiment

def compute(ctx):
    rng = np.random.default_rng(ctx.seed)
    v = [ctx.point({"k": k}, lambda: ({"v": float(rng.standard_normal())}, {}))[0]["v"]
         for k in range(ctx.config["k"])]
    return {"sum": float(sum(v))}, {"v": np.array(v)}

def plot(result, arrays, path):
    path.write_bytes(b"")

EXPERIMENT = Experiment("97", "tinysweep", "tiny", "none", quick={"k": 2}, full={"k": 3},
                        compute=compute, plot=plot)
'''


def test_experiment_points_fill_the_harness_cache(tmp_path: Path) -> None:
    """A run computed as a sweep point is a cache hit for ``harness.run`` (same hash, same file)."""
    script = tmp_path / "exps" / "97_tinysweep.py"
    script.parent.mkdir()
    script.write_text(_TINY)
    out = tmp_path / "out"
    pts = [{"script": str(script), "mode": "quick", "seed": s, "device": "cpu",
            "overrides": {"k": k}} for s in (0, 1) for k in (2, 4)]
    fn = functools.partial(experiment_point, out=str(out))
    res = run_sweep(fn, pts, ExperimentCache(out), quiet=True)
    exp = harness.discover(script.parent)[0]
    for r in res:
        oc = harness.run(exp, seed=r.point["seed"], out=out, overrides=r.point["overrides"],
                         quiet=True)
        assert oc.cached and oc.result["config_hash"] == r.hash
        assert oc.result["metrics"] == r.metrics["metrics"]
        assert oc.result["config"]["k"] == r.point["overrides"]["k"]
    assert all(r.cached for r in run_sweep(fn, pts, ExperimentCache(out), quiet=True))
    # a truncated cache entry is neither a sweep hit nor a harness hit: both recompute it
    jpath, _ = ExperimentCache(out).paths(pts[0])
    jpath.write_text(jpath.read_text()[:100])
    assert ExperimentCache(out).load(pts[0]) is None
    oc = harness.run(exp, seed=0, out=out, overrides={"k": 2}, quiet=True)
    assert not oc.cached and oc.result["metrics"] == res[0].metrics["metrics"]
    assert not any(r.cached for r in run_sweep(fn, pts, ExperimentCache(out, force=True),
                                               quiet=True))


_MAPPED = '''
import os
import numpy as np
from regimes.harness import Experiment


def square(key):
    rng = np.random.default_rng(key["i"])
    return {"sq": key["i"] ** 2, "draw": float(rng.standard_normal()), "pid": os.getpid()}, {}


def compute(ctx):
    keys = [{"i": i} for i in range(ctx.config["n"])]
    out = ctx.map(keys, square)
    return ({"sq": [m["sq"] for m, _ in out], "draw": [m["draw"] for m, _ in out],
             "workers": sorted({m["pid"] for m, _ in out} - {os.getpid()})},
            {"draw": np.array([m["draw"] for m, _ in out])})


def plot(result, arrays, path):
    path.write_bytes(b"")

EXPERIMENT = Experiment("96", "mapped", "mapped", "none", quick={"n": 6}, full={"n": 6},
                        compute=compute, plot=plot)
'''


def _mapped_run(root: Path, executor: dict | None) -> harness.RunOutcome:
    (root / "exps").mkdir(parents=True)
    (root / "exps" / "96_mapped.py").write_text(_MAPPED)
    exp = harness.discover(root / "exps")[0]
    return harness.run(exp, out=root / "out", quiet=True, executor=executor)


def test_ctx_map_runs_points_on_worker_processes_and_shares_the_point_cache(tmp_path: Path) -> None:
    """``RunContext.map`` with ``--jobs 2``: same result as in-process, functions of the
    experiment script shipped by value, and its points are ``ctx.point`` cache hits."""
    serial = _mapped_run(tmp_path / "serial", None)
    par = _mapped_run(tmp_path / "par", {"jobs": 2, "executor": "local"})
    assert serial.result["metrics"]["workers"] == []            # all in this process
    assert len(par.result["metrics"]["workers"]) >= 1           # computed in spawned workers
    for k in ("sq", "draw"):
        assert par.result["metrics"][k] == serial.result["metrics"][k]
    assert par.result["metrics"]["sq"] == [i * i for i in range(6)]
    # the points written by map are served to ctx.point (same names, same layout)
    cfg = par.result["config"]
    ctx = harness.RunContext(cfg, 0, "cpu", True, tmp_path / "par" / "out" / "results" / "cache"
                             / "96_mapped" / f"{par.result['config_hash']}-points")
    m, _ = ctx.point({"i": 3}, lambda: pytest.fail("recomputed a point map had finished"))
    assert m["sq"] == 9


_THREADS = '''
import torch
from regimes.harness import Experiment


def threads(key):
    return {"threads": torch.get_num_threads()}, {}


def compute(ctx):
    out = ctx.map([{"i": i} for i in range(ctx.config["n"])], threads)
    return {"threads": [m["threads"] for m, _ in out]}, {}


def plot(result, arrays, path):
    path.write_bytes(b"")

EXPERIMENT = Experiment("95", "threads", "threads", "none", quick={"n": 2}, full={"n": 2},
                        compute=compute, plot=plot)
'''


def test_spawned_workers_use_the_parents_torch_thread_count(tmp_path: Path) -> None:
    """A spawned worker starts with torch's default of one thread per core, so without an
    initializer ``--jobs J`` ran J × cores threads on the cores (oversubscribed: 2 threads
    per worker were seen on a 2-core machine). The workers must report the count set in the
    parent; it is chosen unlike the default (cores + 1), so a worker that ignores it fails."""
    import torch

    before = torch.get_num_threads()
    want = (os.cpu_count() or 1) + 1
    (tmp_path / "exps").mkdir()
    (tmp_path / "exps" / "95_threads.py").write_text(_THREADS)
    exp = harness.discover(tmp_path / "exps")[0]
    try:
        torch.set_num_threads(want)
        out = harness.run(exp, out=tmp_path / "out", quiet=True, executor={"jobs": 2, "executor": "local"})
    finally:
        torch.set_num_threads(before)
    assert out.result["metrics"]["threads"] == [want, want]


# --------------------------------------------------------------------------- code in the key
def test_edited_experiment_script_is_recomputed_by_a_sweep(tmp_path: Path) -> None:
    """ExperimentCache keys by config and code like harness.run: after an edit of the
    script's compute, a sweep recomputes (before: served the old entries) and the new
    entries are harness.run hits; a result computed by other code is refused."""
    from regimes.sweep import SweepError

    script = tmp_path / "exps" / "97_tinysweep.py"
    script.parent.mkdir()
    script.write_text(_TINY)
    out = tmp_path / "out"
    pts = [{"script": str(script), "mode": "quick", "seed": s, "device": "cpu", "overrides": {}}
           for s in (0, 1)]
    fn = functools.partial(experiment_point, out=str(out))
    first = run_sweep(fn, pts, ExperimentCache(out), quiet=True)
    assert all(r.cached for r in run_sweep(fn, pts, ExperimentCache(out), quiet=True))
    script.write_text(_TINY.replace('return {"sum": float(sum(v))}',
                                    'return {"sum": float(sum(v)), "n": len(v)}'))
    again = run_sweep(fn, pts, ExperimentCache(out), quiet=True)
    assert not any(r.cached for r in again)
    assert all(r.metrics["metrics"]["n"] == 2 for r in again)
    assert {r.hash for r in again}.isdisjoint(r.hash for r in first)
    exp = harness.discover(script.parent)[0]
    for r in again:
        oc = harness.run(exp, seed=r.point["seed"], out=out, quiet=True)
        assert oc.cached and oc.result["config_hash"] == r.hash and oc.result["metrics"]["n"] == 2
    # a record computed by other code (an old checkout on a worker) is refused, not stored
    stale = dict(first[0].metrics)
    with pytest.raises(SweepError, match="other code"):
        ExperimentCache(out).store(pts[0], stale, first[0].arrays)


def test_point_cache_keys_by_the_point_functions_code(tmp_path: Path) -> None:
    mod = tmp_path / "pointfn.py"
    mod.write_text("def square(point):\n    return {'y': point['x'] ** 2}, {}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import pointfn

        code = fn_fingerprint(pointfn.square)
        assert fn_fingerprint(functools.partial(pointfn.square)) == code
        pts = grid(x=range(3))
        assert all(not r.cached for r in run_sweep(pointfn.square, pts, PointCache(tmp_path / "c", code=code),
                                                   quiet=True))
        assert all(r.cached for r in run_sweep(pointfn.square, pts, PointCache(tmp_path / "c", code=code),
                                               quiet=True))
        mod.write_text("def square(point):\n    return {'y': point['x'] ** 2, 'z': 0}, {}\n")
        edited = fn_fingerprint(pointfn.square)
        assert edited["fn"] != code["fn"] and edited["library"] == code["library"]
        assert PointCache(tmp_path / "c", code=edited).key(pts[0]) != PointCache(tmp_path / "c", code=code).key(pts[0])
        assert all(PointCache(tmp_path / "c", code=edited).load(p) is None for p in pts)
        # without code the key is the point's alone (the harness keys the folder instead)
        assert PointCache(tmp_path / "c").key(pts[0]) == store.config_hash(pts[0])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pointfn", None)


_MAIN_SWEEP = """
import json, sys
import numpy as np
from regimes.sweep import PointCache, grid, run_sweep

def fn(point):                      # defined in __main__, which has no file here
    return {"x3": point["x"] ** 3}, {"v": np.arange(3) * point["x"]}

res = run_sweep(fn, grid(x=[1, 2, 3]), PointCache(sys.argv[1]), jobs=2, quiet=True)
print(json.dumps([r.metrics["x3"] for r in res]))
"""


@pytest.mark.parametrize("how", ["-c", "stdin"])
def test_a_point_function_of_a_fileless_main_runs_on_worker_processes(tmp_path: Path, how: str) -> None:
    # a notebook, `python -c` or stdin: a spawned worker cannot import __main__.fn by name, so
    # the function must travel by value (cloudpickle, a base dependency), never as a broken pool
    cache = str(tmp_path / "c")
    if how == "-c":
        out = subprocess.run([sys.executable, "-c", _MAIN_SWEEP, cache], capture_output=True, text=True,
                             timeout=120)
    else:
        out = subprocess.run([sys.executable, "-", cache], input=_MAIN_SWEEP, capture_output=True, text=True,
                             timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [1, 8, 27]


def test_an_unpicklable_point_function_is_refused_before_any_work(tmp_path: Path) -> None:
    import threading

    from regimes.sweep import SweepError

    lock = threading.Lock()
    calls = []

    def fn(point):  # holds a lock: no pickler can ship it
        with lock:
            calls.append(point)
        return {}, {}

    with pytest.raises(SweepError, match="cannot be sent to worker processes"):
        run_sweep(fn, grid(x=[1, 2]), PointCache(tmp_path / "c"), jobs=2, quiet=True)
    assert calls == []
    assert not list(tmp_path.rglob("*.json"))
