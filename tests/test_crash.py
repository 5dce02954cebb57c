"""A crash test in the spirit of SQLite's: kill a small ``regimes run`` (an experiment of
sleeping points on two worker processes) and a small ``regimes check`` (sleeping checks) with
SIGKILL at several moments, rerun each, and assert after every kill and rerun that

* the rerun's result equals the uninterrupted run's (same metrics, same arrays, same verdicts);
* no process of the killed run is left over (workers, the resource tracker);
* no temp file is left after the rerun;
* no file under a final name is truncated, right after the kill.

The kill moments: the first few are fixed (early, during the points, near the end), the rest
drawn from ``random.Random(SEED)`` (stated below), uniformly over the uninterrupted run's
wall time. The short version runs by default (< 30 s); ``-m slow`` runs the long one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_fail_safely import _alive, _descendants, _finished_files_whole, _no_temp_left

#: The seed of the random kill moments.
SEED = 20240607

EXP = '''
"""Crash-test experiment: points that sleep, so a kill lands inside the work."""
import time
import numpy as np
from regimes import plots
from regimes.harness import Experiment


def point(key):
    time.sleep(key["sleep"])
    rng = np.random.default_rng(key["k"])
    return {"v": float(rng.standard_normal())}, {"draws": rng.standard_normal(8)}


def compute(ctx):
    keys = [{"k": k, "sleep": ctx.config["sleep"]} for k in range(ctx.config["points"])]
    done = ctx.map(keys, point, desc="points")
    vals = [m["v"] for m, _ in done]
    return {"total": float(sum(vals))}, {"vals": np.array(vals), "draws": np.stack([a["draws"] for _, a in done])}


def plot(result, arrays, path):
    fig, axes = plots.subplots()
    axes[0, 0].plot(arrays["vals"], "o-")
    plots.save(fig, path)


EXPERIMENT = Experiment("95", "crash", "Crash test", "none", quick={"points": 6, "sleep": 0.15},
                        full={"points": 6, "sleep": 0.15}, compute=compute, plot=plot)
'''

CHECKS = '''
import sys, time
import regimes.checks as rc
from regimes.checks import Check, CheckResult
from regimes.cli import main


def make(i):
    def fn(quick=True):
        time.sleep(0.2)
        return CheckResult(f"Z{i}", f"Thm Z.{i}", 0.1 * i, 0.5, "<=", 0.1 * i <= 0.5)
    return Check(f"Z{i}", f"Thm Z.{i}", f"claim {i}", "tests/test_crash.py", fn)


rc.all_checks = lambda: [make(i) for i in range(1, 7)]
sys.exit(main(["check", "--out", sys.argv[1], "--quiet"]))
'''

VOLATILE = {"wall_time_s", "finished_at", "host", "git_revision", "versions", "wall_s", "run", "resumed",
            "updated_at", "in_progress", "traceback"}


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _run_cmd(exps: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "regimes.cli", "run", "95", "--experiments", str(exps), "--out", str(out),
            "--jobs", "2", "--quiet"]


def _check_cmd(script: Path, out: Path) -> list[str]:
    return [sys.executable, str(script), str(out)]


def _outcome_run(out: Path) -> tuple[dict, dict]:
    res = json.loads((out / "results" / "95_crash.json").read_text())
    with np.load(out / "results" / "95_crash.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return _strip(res), arrays


def _outcome_check(out: Path) -> tuple[dict, dict]:
    stored = json.loads((out / "results" / "checks.json").read_text())
    return {e["id"]: _strip(e) for e in stored["checks"]}, {}


def _kill_at(cmd: list[str], delay: float) -> set[int]:
    """Start ``cmd``, SIGKILL it after ``delay`` seconds; return its descendants at the kill."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    kids: set[int] = set()
    while time.monotonic() - t0 < delay and proc.poll() is None:
        kids |= _descendants(proc.pid)
        time.sleep(0.02)
    kids |= _descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return kids


def _assert_gone(kids: set[int]) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10 and any(_alive(k) for k in kids):
        time.sleep(0.05)
    left = [k for k in kids if _alive(k)]
    for k in left:
        os.kill(k, signal.SIGKILL)
    assert not left, f"processes left over after the kill: {left}"


def _crash_cycle(tmp: Path, name: str, cmd_for, outcome, n_fixed: list[float], n_random: int) -> list[str]:
    """The uninterrupted run, then one kill + rerun per moment; returns the moments tried."""
    ref_out = tmp / f"{name}-ref"
    t0 = time.monotonic()
    assert subprocess.run(cmd_for(ref_out), env=_env(), capture_output=True).returncode in (0, 1)
    wall = time.monotonic() - t0
    ref = outcome(ref_out)
    rng = random.Random(SEED)
    moments = [f * wall for f in n_fixed] + [rng.uniform(0.05, 1.0) * wall for _ in range(n_random)]
    tried = []
    for i, delay in enumerate(moments):
        out = tmp / f"{name}-{i}"
        kids = _kill_at(cmd_for(out), delay)
        _assert_gone(kids)
        if out.exists():
            _finished_files_whole(out)
        done = subprocess.run(cmd_for(out), env=_env(), capture_output=True, text=True)
        assert done.returncode in (0, 1), (delay, done.stderr)
        got = outcome(out)
        assert got[0] == ref[0], f"kill at {delay:.2f} s: the rerun's result differs"
        assert got[1].keys() == ref[1].keys() and all(np.array_equal(got[1][k], ref[1][k]) for k in ref[1])
        _no_temp_left(out)
        _finished_files_whole(out)
        tried.append(f"{delay:.2f}")
    return tried


@pytest.fixture
def crash_files(tmp_path: Path) -> tuple[Path, Path]:
    exps = tmp_path / "exps"
    exps.mkdir()
    (exps / "95_crash.py").write_text(EXP)
    script = tmp_path / "checks.py"
    script.write_text(CHECKS)
    return exps, script


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_crash_short(tmp_path: Path, crash_files) -> None:
    """One kill of `regimes run` at 60 % of its uninterrupted wall time (inside the points, on
    two workers) and one of `regimes check` at a moment drawn from random.Random(SEED)."""
    exps, script = crash_files
    _crash_cycle(tmp_path, "run", lambda out: _run_cmd(exps, out), _outcome_run, [0.6], 0)
    _crash_cycle(tmp_path, "check", lambda out: _check_cmd(script, out), _outcome_check, [], 1)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_crash_long(tmp_path: Path, crash_files) -> None:
    """Twelve kills of each: at 10 %, 30 %, 50 %, 70 %, 90 % and 99 % of the uninterrupted wall
    time, then six drawn from random.Random(SEED)."""
    exps, script = crash_files
    fixed = [0.1, 0.3, 0.5, 0.7, 0.9, 0.99]
    _crash_cycle(tmp_path, "run", lambda out: _run_cmd(exps, out), _outcome_run, fixed, 6)
    _crash_cycle(tmp_path, "check", lambda out: _check_cmd(script, out), _outcome_check, fixed, 6)
