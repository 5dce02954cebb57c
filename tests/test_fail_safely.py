"""Runs that fail safely: hostile or broken files, interrupts, full disks and runs that miss
their event lose nothing finished and end in one line that names the file and the fix.

Each test here failed on the code before its fix (the fault it names was observed) and
passes after.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from regimes.batched import train_batched
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train


# ------------------------------------------------------------------ checkpoints
class _Payload:
    """A pickle that, when loaded unsafely, creates the file ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _corruptions(real: bytes, folder: Path) -> dict[str, Path]:
    """One file (or folder) per kind of broken checkpoint, built from a real one's bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}

    def put(name: str, data: bytes) -> None:
        out[name] = folder / f"{name}.pt"
        out[name].write_bytes(data)

    put("empty", b"")
    put("truncated", real[: len(real) // 2])
    put("zeroed", bytes(len(real)))
    put("json", json.dumps({"step": 3, "config": {}}).encode())
    put("foreign_pickle", pickle.dumps({"weights": [1.0, 2.0]}))
    buf = folder / "foreign_torch.pt"
    torch.save([torch.zeros(3)], buf)
    out["foreign_torch"] = buf
    other = folder / "foreign_dict.pt"
    torch.save({"model": torch.zeros(2)}, other)
    out["foreign_dict"] = other
    out["folder"] = folder / "a_folder.pt"
    out["folder"].mkdir()
    return out


def _cls_setup():
    split = sample_split(Task(7), n=30, seed=0)
    net = QuadraticNet.init(7, 10, seed=5)
    cfg = TrainConfig(steps=6, lr=0.05, optimizer="adam", loss="cross_entropy", eval_every=2,
                      checkpoint_every=3)
    return split, net, cfg


def test_broken_checkpoints_give_one_value_error_naming_the_file(tmp_path: Path) -> None:
    """Before: six different raw errors (OSError 22, EOFError, KeyError 'storages',
    UnpicklingError, RuntimeError 'Invalid magic number', TypeError, IsADirectoryError),
    none naming the file."""
    split, net, cfg = _cls_setup()
    real = tmp_path / "real.pt"
    train(net, split.train, cfg, checkpoint=real)
    for kind, path in _corruptions(real.read_bytes(), tmp_path / "bad").items():
        with pytest.raises(ValueError) as e:
            train(net, split.train, TrainConfig(**{**cfg.__dict__, "steps": 9}), checkpoint=path)
        msg = str(e.value)
        assert str(path) in msg, (kind, msg)
        assert "start over" in msg or "move the folder" in msg, (kind, msg)
        assert "\n" not in msg


def test_broken_batched_checkpoints_give_one_value_error_naming_the_file(tmp_path: Path) -> None:
    nets = [QuadraticNet.init(5, 8, seed=s) for s in range(2)]
    trs = [sample_split(Task(5, "regression"), n=20, seed=s).train for s in range(2)]
    cfg = TrainConfig(steps=6, lr=0.01, optimizer="adam", eval_every=3, checkpoint_every=3)
    real = tmp_path / "batch.pt"
    train_batched(nets, trs, cfg, checkpoint=real)
    for kind, path in _corruptions(real.read_bytes(), tmp_path / "bad").items():
        with pytest.raises(ValueError) as e:
            train_batched(nets, trs, TrainConfig(**{**cfg.__dict__, "steps": 9}), checkpoint=path)
        assert str(path) in str(e.value), (kind, str(e.value))


def test_crafted_checkpoint_runs_no_code(tmp_path: Path) -> None:
    """Before: ``torch.load(weights_only=False)`` ran the pickle's ``__reduce__`` and created
    the file. Every loader of stored state in the package is tried."""
    from regimes.store import load_torch_state

    split, net, cfg = _cls_setup()
    nets = [QuadraticNet.init(5, 8, seed=0)]
    trs = [sample_split(Task(5, "regression"), n=20, seed=0).train]
    loaders = {
        "train": lambda p: train(net, split.train, cfg, checkpoint=p),
        "train_batched": lambda p: train_batched(nets, trs, TrainConfig(steps=3, lr=0.01), checkpoint=p),
        "load_torch_state": load_torch_state,
    }
    for name, load in loaders.items():
        target = tmp_path / f"pwned_{name}"
        evil = tmp_path / f"evil_{name}.pt"
        torch.save({"step": 1, "config": {}, "x": _Payload(target)}, evil)
        with pytest.raises(ValueError, match="delete it to start over"):
            load(evil)
        assert not target.exists(), f"{name} ran the checkpoint's code"


def test_no_unsafe_load_left_in_the_package() -> None:
    """Every ``torch.load`` in the package passes ``weights_only=True``; no ``pickle.load`` and
    no ``allow_pickle=True`` (the one safe torch loader is :func:`regimes.store.load_torch_state`)."""
    import re

    import regimes

    root = Path(regimes.__file__).parent
    bad = []
    for f in root.rglob("*.py"):
        text = f.read_text()
        for m in re.finditer(r"torch\.load\(([^)]*)\)", text):
            if "weights_only=True" not in m.group(1):
                bad.append(f"{f}: {m.group(0)}")
        if re.search(r"pickle\.loads?\(|allow_pickle\s*=\s*True|weights_only\s*=\s*False", text):
            if f.name != "sweep.py":   # cloudpickle.loads of the caller's own point function
                bad.append(str(f))
    assert not bad, bad


# ------------------------------------------------------------------ orphans
def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc's parent links)."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int(d.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in out:
                out.add(k)
                todo.append(k)
    return {k for k in out if _alive(k)}


def _wait_for(cond, timeout: float, step: float = 0.05):
    import time

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_leaves_no_worker_behind(tmp_path: Path) -> None:
    """Before: after ``kill -9`` of a ``--jobs 2`` run, the two spawned workers and the
    resource tracker were re-parented to PID 1 and slept on, holding ~270 MB each."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "regimes.sweep", "demo", "--cache", str(tmp_path / "c"),
                             "--points", "8", "--jobs", "2", "--sleep", "30"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kids: set[int] | None = set()
    try:
        # both workers up (and the resource tracker): at least three descendants
        def up() -> set[int] | None:
            d = _descendants(proc.pid)
            return d if len(d) >= 3 else None

        kids = _wait_for(up, 60)
        assert kids and len(kids) >= 3, f"workers never started: {kids}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        left = _wait_for(lambda: not {k for k in kids if _alive(k)}, 10)
        assert left, f"still alive 10 s after the parent's kill -9: {[k for k in kids if _alive(k)]}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for k in kids or ():
            if _alive(k):
                os.kill(k, 9)


# ------------------------------------------------------------------ verdicts kept as they finish
def _counted_checks(calls: list[str], interrupt_at: str | None = None):
    import regimes.checks as rc
    from regimes.checks import Check, CheckResult

    def make(cid: str, measured: float):
        def fn(quick: bool = True) -> CheckResult:
            calls.append(cid)
            if cid == interrupt_at:
                raise KeyboardInterrupt
            return CheckResult(cid, f"Thm {cid}", measured, 1.0, "<=", measured <= 1.0)
        return Check(cid, f"Thm {cid}", f"claim {cid}", "tests/test_t.py", fn)

    return rc, [make(f"K{i}", 0.1 * i) for i in range(1, 6)]


def _invoke(argv: list[str], capsys) -> tuple[int, str, str]:
    from regimes.cli import main

    try:
        code = main(argv)
    except SystemExit as e:
        code = int(e.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_interrupted_check_keeps_finished_verdicts_and_resumes(tmp_path: Path, capsys, monkeypatch) -> None:
    """Before: Ctrl-C after 7 finished checks exited 130 with no results/checks.json at all."""
    calls: list[str] = []
    rc, checks = _counted_checks(calls, interrupt_at="K4")
    monkeypatch.setattr(rc, "all_checks", lambda: checks)
    out = tmp_path / "out"
    code, _, err = _invoke(["check", "--out", str(out)], capsys)
    assert code == 130 and calls == ["K1", "K2", "K3", "K4"]
    stored = json.loads((out / "results" / "checks.json").read_text())
    assert [e["id"] for e in stored["checks"]] == ["K1", "K2", "K3"]
    # the rerun resumes: K1-K3 are not run again, K4 and K5 are
    calls.clear()
    rc2, checks2 = _counted_checks(calls)
    monkeypatch.setattr(rc2, "all_checks", lambda: checks2)
    code, text, err = _invoke(["check", "--out", str(out)], capsys)
    assert code == 0 and calls == ["K4", "K5"], (calls, err)
    assert "resumed" in err
    rows = [ln.split()[0] for ln in text.splitlines()[2:7]]
    assert rows == ["K1", "K2", "K3", "K4", "K5"]
    stored = json.loads((out / "results" / "checks.json").read_text())
    assert sorted(e["id"] for e in stored["checks"]) == ["K1", "K2", "K3", "K4", "K5"]
    assert "in_progress" not in stored
    # a finished run is not resumed: the next `check` runs everything again
    calls.clear()
    assert _invoke(["check", "--out", str(out)], capsys)[0] == 0 and len(calls) == 5


def test_corrupt_checks_json_is_reported_not_replaced(tmp_path: Path, capsys, monkeypatch) -> None:
    """Before: a corrupt checks.json was silently replaced, dropping the other verdicts."""
    calls: list[str] = []
    rc, checks = _counted_checks(calls)
    monkeypatch.setattr(rc, "all_checks", lambda: checks)
    out = tmp_path / "out"
    path = out / "results" / "checks.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"checks": [{"id": "C1", "verdict": "pass"}, ')   # cut off mid-write by an old tool
    before = path.read_bytes()
    for argv in (["check", "--only", "K1", "--out", str(out)], ["report", "--out", str(out)]):
        code, _, err = _invoke(argv, capsys)
        assert code == 2, (argv, err)
        assert err.count("\n") == 1 and str(path) in err and "corrupt" in err, err
        assert "Traceback" not in err
    assert path.read_bytes() == before and calls == []
