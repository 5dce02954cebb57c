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
from typing import Any

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


# ------------------------------------------------------------------ file-system failures
TINY = '''
"""Tiny synthetic experiment {num} (fail-safely tests)."""
import numpy as np
from regimes import plots
from regimes.harness import Experiment


def compute(ctx):
    rng = np.random.default_rng(ctx.seed)
    vals = []
    for k in range(ctx.config["k"]):
        m, _ = ctx.point({{"k": k}}, lambda: ({{"v": float(rng.standard_normal())}}, {{}}))
        vals.append(m["v"])
    return {{"total": float(sum(vals))}}, {{"vals": np.array(vals)}}


def plot(result, arrays, path):
    fig, axes = plots.subplots()
    axes[0, 0].plot(arrays["vals"], "o-")
    plots.save(fig, path)


EXPERIMENT = Experiment("{num}", "{slug}", "Tiny {slug}", "Fig. T{num}", quick={{"k": 3}}, full={{"k": 5}},
                        compute=compute, plot=plot, seconds_quick=1.0, seconds_full=1.0)
'''


def _tiny(folder: Path, num: str = "93", slug: str = "safe") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{num}_{slug}.py"
    path.write_text(TINY.format(num=num, slug=slug))
    return path


def _under(path: Any, root: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(root.resolve())
    except (TypeError, ValueError, OSError):
        return False


def _fault(monkeypatch: pytest.MonkeyPatch, root: Path, err: int) -> None:
    """Make every write under ``root`` fail with ``err`` as the kernel would: EROFS (a read-only
    file system: creating, writing, renaming, removing) or ENOSPC (a full disk: writing data
    and creating files)."""
    import builtins
    import errno
    import io

    real_open, real_os_open, real_write = builtins.open, os.open, os.write
    real_mkdir, real_replace, real_unlink, real_rmdir = os.mkdir, os.replace, os.unlink, os.rmdir

    def boom(path: Any = None) -> OSError:
        return OSError(err, os.strerror(err), None if path is None else os.fsdecode(path))

    def fake_open(file, mode="r", *a, **kw):
        if isinstance(file, str | bytes | os.PathLike) and any(c in mode for c in "wax+") and _under(file, root):
            raise boom(file)
        return real_open(file, mode, *a, **kw)

    def fake_os_open(path, flags, *a, **kw):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _under(path, root):
            raise boom(path)
        return real_os_open(path, flags, *a, **kw)

    def fake_write(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target and _under(target, root):
            raise boom()
        return real_write(fd, data)

    def guard(real):
        def fn(*args, **kw):
            if err == errno.EROFS and any(_under(a, root) for a in args[:2]):
                if real is real_mkdir and Path(args[0]).exists():
                    raise FileExistsError(errno.EEXIST, "File exists", os.fsdecode(args[0]))
                raise boom(args[0])
            if err == errno.ENOSPC and real is real_mkdir and _under(args[0], root) and not Path(args[0]).exists():
                raise boom(args[0])
            return real(*args, **kw)
        return fn

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "write", fake_write)
    for name, real in (("mkdir", real_mkdir), ("replace", real_replace), ("unlink", real_unlink),
                       ("rmdir", real_rmdir)):
        monkeypatch.setattr(os, name, guard(real))


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in root.rglob("*") if p.is_file()}


def _no_temp_left(root: Path) -> None:
    left = [str(p) for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".report")]
    assert not left, left


def _finished_files_whole(root: Path) -> None:
    """No file under a final name is truncated: every JSON parses, every NPZ loads, every
    PNG/PDF has its format's end marker."""
    import numpy as np

    for p in root.rglob("*"):
        if not p.is_file():
            continue
        if p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                [z[k] for k in z.files]
        elif p.suffix == ".png":
            assert p.read_bytes().endswith(b"IEND\xaeB`\x82"), p
        elif p.suffix == ".pdf":
            assert b"%%EOF" in p.read_bytes()[-64:], p


def _one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


def test_read_only_out(tmp_path: Path, capsys, monkeypatch) -> None:
    """Before: a read-only --out raised OSError [Errno 30] with a traceback, even on a cache
    hit (which rewrote the result and the figure) and for `report`."""
    import errno

    exps, out = tmp_path / "exps", tmp_path / "out"
    _tiny(exps)
    _tiny(exps, "94", "other")
    base = ["--experiments", str(exps), "--out", str(out)]
    assert _invoke(["run", "93", *base], capsys)[0] == 0
    before = _snapshot(out)
    _fault(monkeypatch, out, errno.EROFS)
    code, text, err = _invoke(["run", "93", *base], capsys)     # a cache hit needs no write
    assert code == 0 and "cached" in text, err
    for argv in (["run", "94", *base], ["report", "--no-run-checks", *base],
                 ["check", "--only", "K1", "--out", str(out)]):
        if argv[0] == "check":
            rc, checks = _counted_checks([])
            monkeypatch.setattr(rc, "all_checks", lambda checks=checks: checks)
        code, _, err = _invoke(argv, capsys)
        _one_line_error(code, err, str(out), "read-only")
    monkeypatch.undo()
    assert _snapshot(out) == before


def test_full_disk(tmp_path: Path, capsys, monkeypatch) -> None:
    """Before: a full disk raised OSError [Errno 28] with a traceback (or, in matplotlib,
    AttributeError: 'Stream' object has no attribute 'pos')."""
    import errno

    exps, out = tmp_path / "exps", tmp_path / "out"
    _tiny(exps)
    base = ["run", "93", "--experiments", str(exps), "--out", str(out)]
    out.mkdir()
    with monkeypatch.context() as m:
        _fault(m, out, errno.ENOSPC)
        code, _, err = _invoke(base, capsys)
    _one_line_error(code, err, str(out), "disk is full")
    _no_temp_left(out)
    _finished_files_whole(out)
    # the result is stored, the disk fills while the figure is drawn: no figure under its name
    assert _invoke(base, capsys)[0] == 0
    fig = out / "figures" / "93_safe.png"
    fig.unlink()
    fig.with_suffix(".pdf").unlink()
    with monkeypatch.context() as m:
        _fault(m, out / "figures", errno.ENOSPC)
        code, _, err = _invoke(base, capsys)
    _one_line_error(code, err, str(out / "figures"), "disk is full")
    assert not fig.exists() and not fig.with_suffix(".pdf").exists()
    _no_temp_left(out)
    assert _invoke(base, capsys)[0] == 0 and fig.exists()
    _finished_files_whole(out)


def test_out_that_is_a_file(tmp_path: Path, capsys, monkeypatch) -> None:
    """Before: NotADirectoryError with a traceback."""
    exps = tmp_path / "exps"
    _tiny(exps)
    f = tmp_path / "a_file"
    f.write_text("not a folder")
    rc, checks = _counted_checks([])
    monkeypatch.setattr(rc, "all_checks", lambda: checks)
    for out in (f, f / "sub"):
        for argv in (["run", "93", "--experiments", str(exps)], ["report", "--no-run-checks", "--experiments",
                     str(exps)], ["check", "--only", "K1"], ["reproduce", "--skip-checks", "--experiments", str(exps)],
                     ["publish", "--experiments", str(exps)]):
            code, _, err = _invoke([*argv, "--out", str(out)], capsys)
            _one_line_error(code, err, str(out), "not a folder")
    assert f.read_text() == "not a folder"


def test_figure_writes_are_atomic(tmp_path: Path, monkeypatch) -> None:
    """Before: a kill or a failure while saving left a 0-byte PNG or a 4 KiB PDF under the
    final figure name. Now a failing save leaves the previous complete figure (or none)."""
    import matplotlib

    from regimes import plots

    path = tmp_path / "fig.png"
    fig, ax = plots.subplots()
    ax[0, 0].plot([0, 1], [1, 0])
    plots.save(fig, path)
    good_png, good_pdf = path.read_bytes(), path.with_suffix(".pdf").read_bytes()
    real = matplotlib.figure.Figure.savefig

    def dies_mid_pdf(self, fname, *a, **kw):
        if kw.get("format") == "pdf" or str(fname).endswith(".pdf"):
            if hasattr(fname, "write"):
                fname.write(b"%PDF-1.4 partial")
            else:
                Path(fname).write_bytes(b"%PDF-1.4 partial")
            raise KeyboardInterrupt   # stands in for a kill in the middle of the PDF
        return real(self, fname, *a, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", dies_mid_pdf)
    fig, ax = plots.subplots()
    ax[0, 0].plot([0, 1], [0, 1])
    with pytest.raises(KeyboardInterrupt):
        plots.save(fig, path)
    assert path.with_suffix(".pdf").read_bytes() == good_pdf      # untouched, whole
    assert path.read_bytes() != good_png and path.read_bytes().endswith(b"IEND\xaeB`\x82")
    _no_temp_left(tmp_path)


def test_harness_figure_is_atomic_whatever_the_plot_writes(tmp_path: Path) -> None:
    """A plot function that writes its file itself and dies half-way leaves nothing under the
    final name (before: the partial file stayed there)."""
    import dataclasses

    from regimes.harness import load_script, run

    exp = load_script(_tiny(tmp_path / "exps"))

    def half(result, arrays, path):
        Path(path).write_bytes(b"\x89PNG\r\n")
        raise RuntimeError("plot died")

    with pytest.raises(RuntimeError, match="plot died"):
        run(dataclasses.replace(exp, plot=half), out=tmp_path / "out", quiet=True)
    assert not (tmp_path / "out" / "figures" / "93_safe.png").exists()
    _no_temp_left(tmp_path / "out")


def test_leftover_temp_files_are_cleaned_at_the_next_run(tmp_path: Path, capsys) -> None:
    """Before: a kill left ``….tmp`` files that no run removed. Now the next run removes those
    of dead processes and keeps those of live ones (a concurrent run's)."""
    import subprocess
    import sys

    from regimes.store import temp_tag

    exps, out = tmp_path / "exps", tmp_path / "out"
    _tiny(exps)
    argv = ["run", "93", "--experiments", str(exps), "--out", str(out)]
    assert _invoke(argv, capsys)[0] == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = temp_tag().split("p")[0]
    stale = [out / "results" / f".93_safe.json.{host}p{dead}.x1.tmp",
             out / "results" / "cache" / "93_safe" / f".abc.npz.{host}p{dead}.x2.tmp",
             out / "figures" / f".93_safe.{host}p{dead}.x3.tmp" / "93_safe.png",
             out / f".report.{host}p{dead}.x4.tmp" / "index.html"]
    live = out / "results" / f".93_safe.npz.{temp_tag()}.x5.tmp"
    for p in [*stale, live]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    assert _invoke(argv, capsys)[0] == 0
    for p in stale:
        assert not p.exists() and not (p.parent.name.endswith(".tmp") and p.parent.exists()), p
    assert live.exists()


def test_cache_hit_writes_nothing(tmp_path: Path, capsys) -> None:
    """Before: every cache hit rewrote the result JSON and NPZ and redrew the figure."""
    exps, out = tmp_path / "exps", tmp_path / "out"
    _tiny(exps)
    argv = ["run", "93", "--experiments", str(exps), "--out", str(out)]
    assert _invoke(argv, capsys)[0] == 0
    before = _snapshot(out)
    code, text, _ = _invoke(argv, capsys)
    assert code == 0 and "cached" in text
    assert _snapshot(out) == before
    # a deleted figure is redrawn, and nothing else is written
    (out / "figures" / "93_safe.png").unlink()
    assert _invoke(argv, capsys)[0] == 0
    after = _snapshot(out)
    assert {k for k in after if after[k] != before.get(k)} == {"figures/93_safe.png", "figures/93_safe.pdf"}


# ------------------------------------------------------------------ stored paths that travel
TINY12 = ["--set", "p=11", "--set", "d_model=8", "--set", "n_heads=2", "--set", "d_mlp=16", "--set", "steps=20",
          "--set", "n_track=4", "--set", "after_pairs=5", "--set", "seeds=[0]"]


def test_sweep_index_travels(tmp_path: Path, capsys, monkeypatch) -> None:
    """Before: after a sweep with a relative ``--out runs``, ``load_run('12', out=<absolute>)``
    from another directory failed (the index stored paths relative to the old working directory)."""
    from regimes.harness import load_run

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    argv = [x if x != "steps=20" else "steps=20,22" for x in TINY12]
    code, _, err = _invoke(["run", "12", *argv, "--out", "runs", "--quiet"], capsys)
    assert code == 0, err
    monkeypatch.chdir(tmp_path / "b")
    r = load_run("12", out=tmp_path / "a" / "runs", steps=22)
    assert r.point["steps"] == 22 and r.net.p == 11
    assert r.result_path.is_file() and r.result_path.is_relative_to(tmp_path / "a" / "runs")
    # the same from a moved copy of the folder
    import shutil

    shutil.move(tmp_path / "a" / "runs", tmp_path / "moved")
    assert load_run("12", out=tmp_path / "moved", steps=20).net.p == 11


# ------------------------------------------------------------------ results tied together
def test_mismatched_json_and_npz_are_refused_by_name(tmp_path: Path, capsys) -> None:
    """Before: the JSON of a p=11 run beside the NPZ of a p=13 run loaded as ``config p=11,
    net p=13`` (reported with p=7 and p=11)."""
    import shutil

    from regimes.harness import load_run

    a, b = tmp_path / "a", tmp_path / "b"
    for out, p in ((a, 11), (b, 13)):
        argv = ["run", "12", *[x if not x.startswith("p=") else f"p={p}" for x in TINY12], "--out", str(out),
                "--quiet"]
        assert _invoke(argv, capsys)[0] == 0
    shutil.copy(b / "results" / "12_transformer.npz", a / "results" / "12_transformer.npz")
    with pytest.raises(ValueError) as e:
        load_run("12", out=a, seed=0)
    assert "12_transformer.json" in str(e.value) and "12_transformer.npz" in str(e.value)
    assert "do not belong together" in str(e.value)
    from regimes.harness import discover, publish

    exp12 = [e for e in discover() if e.number == "12"]
    with pytest.raises(ValueError, match="do not belong together"):
        publish(exp12, out=a, to=tmp_path / "pub", gallery=tmp_path / "gal")
    assert not (tmp_path / "pub").exists()


def test_a_corrupt_result_names_the_file_and_the_full_command(tmp_path: Path, capsys) -> None:
    """Before: ``load_run`` on a corrupt NPZ said "no stored run", and its command dropped the
    run's ``--set`` overrides."""
    from regimes.harness import load_run

    assert _invoke(["run", "12", *TINY12, "--out", str(tmp_path), "--quiet"], capsys)[0] == 0
    npz = tmp_path / "results" / "12_transformer.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    with pytest.raises(ValueError) as e:
        load_run("12", out=tmp_path, seed=0)
    msg = str(e.value)
    assert str(tmp_path / "results" / "12_transformer.json") in msg and "corrupt" in msg
    # every override, each a full path from the top (a leading dot: never an ambiguous short key)
    assert "--set '.p=11'" in msg and "--set '.d_model=8'" in msg and f"--out {tmp_path}" in msg


def test_point_cache_recomputes_a_torn_pair(tmp_path: Path) -> None:
    """A sweep point whose NPZ is another point's is not served (before: served as finished)."""
    import shutil

    from regimes.store import load_npz
    from regimes.sweep import PointCache, demo_point, grid, run_sweep

    cache = PointCache(tmp_path)
    pts = grid(x=[0, 1])
    first = run_sweep(demo_point, pts, cache, quiet=True)
    n0 = cache.paths(pts[0])[1]
    shutil.copy(cache.paths(pts[1])[1], n0)
    again = run_sweep(demo_point, pts, cache, quiet=True)
    assert [r.cached for r in again] == [False, True]
    assert (again[0].arrays["draws"] == first[0].arrays["draws"]).all()
    assert (load_npz(n0)["draws"] == first[0].arrays["draws"]).all()


# ------------------------------------------------------------------ runs that miss their event
TINY_GROMOV = {"p": 11, "h": 24, "fraction": 0.6, "function": "add", "optimizer": "gd", "lr": 1.0,
               "steps": 40, "eval_every": 10, "dtype": "float32", "grad_norms": True,
               "grok_threshold": 0.95, "onset_level": 0.1}


def _exp(num: str):
    from regimes.harness import discover

    return next(e for e in discover() if e.number == num)


def test_exp21_run_that_never_fits_is_censored_and_stored(tmp_path: Path) -> None:
    """Before: a run ending at margin ≤ 0 (here: 2 Adam steps, nothing fitted) crashed the
    exponent's fit (``n_star[0]=-6.5 is not allowed for an uncensored point``); nothing was stored."""
    from regimes.harness import run

    oc = run(_exp("21"), out=tmp_path, quiet=True,
             overrides={"ps": [11, 13], "seeds": [0, 1], "temperatures": [0.05], "steps_per_stage": 2})
    m = oc.result["metrics"]
    assert any(r["norm_margin"] <= 0 for r in m["rows"]) and any(r["train_acc"] < 1 for r in m["rows"])
    assert m["c19_verdict"] == "INCONCLUSIVE"
    assert m["exponent"]["n_censored"] == len(m["rows"])
    assert oc.result_path.exists() and oc.figure_path.exists()


def test_c19_is_inconclusive_before_fitting_when_the_training_set_is_not_fit() -> None:
    from regimes.checks.extremal import c19_verdict

    rows = [{"p": p, "seed": s, "norm_margin": m, "construction_norm_margin": 4.0 * p, "heldout_acc": 0.5,
             "train_acc": a} for p, s, m, a in ((11, 0, 50.0, 1.0), (11, 1, -2.0, 0.8), (13, 0, 60.0, 1.0),
                                                (13, 1, 61.0, 1.0))]
    v = c19_verdict(rows)
    assert v["verdict"] == "INCONCLUSIVE" and v["exponent"]["n_censored"] == 1


def test_exp15_diverging_lr_is_recorded_and_the_experiment_goes_on(tmp_path: Path) -> None:
    """Before: a learning rate at which plain GD diverges aborted experiment 15 with
    NonFiniteError; now the seed is recorded as diverged (as experiment 12 does) and the
    verdict is INCONCLUSIVE."""
    from regimes.harness import load_run, run

    oc = run(_exp("15"), out=tmp_path, quiet=True,
             overrides={"run": {**TINY_GROMOV, "lr": 1e4}, "seeds": [0, 1]})
    m = oc.result["metrics"]
    assert m["n_diverged"] == 2 and all(r["diverged_at"] is not None for r in m["runs"])
    assert m["verdict"] == "INCONCLUSIVE"
    assert oc.result_path.exists() and oc.figure_path.exists()
    with pytest.raises(FileNotFoundError):   # no finite net to rebuild for a diverged seed
        load_run("15", out=tmp_path, seed=0)
    # a budget too short to grok: stored, INCONCLUSIVE
    oc = run(_exp("15"), out=tmp_path / "short", quiet=True, overrides={"run": {**TINY_GROMOV, "steps": 10},
                                                                       "seeds": [0, 1]})
    assert oc.result["metrics"]["verdict"] == "INCONCLUSIVE" and oc.result["metrics"]["n_diverged"] == 0


@pytest.mark.parametrize("num", ["16", "17"])
def test_gromov_fraction_experiments_record_diverged_runs(tmp_path: Path, num: str) -> None:
    """Experiments 16 and 17 run gromov_run too: a diverging lr is recorded, not raised."""
    import dataclasses

    from regimes.harness import run

    exp = _exp(num)
    if num == "16":
        over = {"run": {k: v for k, v in TINY_GROMOV.items() if k not in ("optimizer", "lr", "fraction")},
                "optimizers": {"gd": {"optimizer": "gd", "lr": 1e4}}, "seeds": [0], "fractions": [0.6, 0.5]}
    else:
        over = {"run": {**TINY_GROMOV, "lr": 1e4}, "seeds": [0], "fractions": [0.6, 0.5],
                "functions": ["add"]}
    over = {k: v for k, v in over.items() if k in exp.quick}
    oc = run(dataclasses.replace(exp, plot=lambda *_: None), out=tmp_path, quiet=True, overrides=over)
    text = json.dumps(oc.result["metrics"])
    assert '"diverged_at": ' in text and oc.result_path.exists()


def test_a_check_whose_training_diverges_is_inconclusive_not_an_error(tmp_path: Path) -> None:
    """Before: a check whose training run blew up was stored with verdict "error", as if the code
    were broken. A diverged run never reached the event its claim is about, so the claim is
    untested: INCONCLUSIVE, with the step where the loss became non-finite; the other checks of
    the run still get their own verdicts."""
    from regimes.checks import Check, CheckResult
    from regimes.checks.runner import load_checks, run_checks
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    def diverging(quick: bool = True) -> CheckResult:   # GD at lr 1e3 on the square loss diverges
        split = sample_split(Task(5, "regression"), n=30, seed=0)
        train(QuadraticNet.init(5, 20, seed=0), split.train, TrainConfig(steps=200, lr=1e3))
        raise AssertionError("unreachable: the run above diverges")

    def fine(quick: bool = True) -> CheckResult:
        return CheckResult("K2", "Thm K2", 0.5, 1.0, "<=", True)

    checks = [Check("K1", "Thm K1", "claim K1", "tests/t.py", diverging), Check("K2", "Thm K2", "claim K2",
                                                                                "tests/t.py", fine)]
    entries = run_checks(checks, out=tmp_path)
    assert [e["verdict"] for e in entries] == ["inconclusive", "pass"]
    d = entries[0]["result"]["details"]
    assert d["diverged"] is True and 0 < d["step"] < 200 and d["step_range"][0] <= d["step"]
    assert entries[0]["error"] is None and entries[0]["result"]["holds"] is None
    assert load_checks(tmp_path)["K1"]["verdict"] == "inconclusive"
    # any other exception is still a broken check, recorded as "error"
    boom = Check("K3", "Thm K3", "claim K3", "tests/t.py", lambda quick=True: 1 / 0)
    assert run_checks([boom])[0]["verdict"] == "error"
