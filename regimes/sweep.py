"""Sweeps: a generic executor. A grid of configs, each point cached by a hash of its
config, run in parallel on local processes or on a Dask cluster, resumable after any kill.

This module knows nothing about experiments and imports nothing above
:mod:`regimes.store`; running numbered experiments as sweep points
(:class:`regimes.harness.ExperimentPoint`, :class:`regimes.harness.ExperimentCache`)
is the harness's business.

The model
---------
A *sweep* is a list of *points* (JSON-able dicts, usually a :func:`grid`) and a
*point function* ``fn(point) -> (metrics, arrays)``. Every point has a cache
entry; a :class:`Cache` names it (:meth:`Cache.key`), reads it back only when it is
finished (:meth:`Cache.load`) and writes it (:meth:`Cache.store`). :class:`PointCache`
names an entry by :func:`regimes.store.config_hash` of the point and of the code
that computes it (``code``, e.g. :func:`regimes.store.fn_fingerprint`), so an edit of
that code never serves a stale point; :func:`run_sweep`

1. loads every point whose entry is complete (it never recomputes one),
2. sends the rest to an executor — in-process (``jobs=1``), a pool of local
   processes (``jobs>1``), or Dask (``executor="dask"``: a ``LocalCluster``
   with ``jobs`` workers, or an existing cluster at ``scheduler``),
3. writes each result into the cache *in the calling process*, as soon as it
   comes back. Workers never write to the cache, so the cache is the same
   whichever executor computed a point, and a remote Dask worker needs no
   shared file system.

Survival
--------
Every file is written atomically (temp file + ``os.replace``, see
:func:`regimes.store.atomic_write_bytes`); the arrays go first and the JSON,
which carries ``"complete": true`` and the point's hash, goes last. An entry
counts as finished only if its JSON parses, is marked complete, names the
right hash, and its ``.npz`` loads. So a sweep killed by Ctrl-C or ``kill -9``
loses at most the points in flight, a rerun recomputes nothing finished, and a
partial file is never read as a result.

``python -m regimes.sweep demo --cache DIR ...`` runs a registered synthetic
sweep (used by the kill-and-resume tests).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from regimes._validate import check_choice, check_int
from regimes.store import (
    DIGEST_KEY,
    arrays_digest,
    atomic_write_json,
    atomic_write_npz,
    clean_stale_temps,
    config_hash,
    fn_fingerprint,
    read_complete,
)

Arrays = dict[str, np.ndarray]
PointFn = Callable[[dict[str, Any]], tuple[dict[str, Any], Arrays]]

#: Seconds to wait for an existing Dask scheduler before giving up
#: (``REGIMES_SCHEDULER_TIMEOUT`` overrides it).
SCHEDULER_TIMEOUT_S = 10.0


class SweepError(RuntimeError):
    """A sweep cannot start or go on; the message says how to fix it."""


# --------------------------------------------------------------------------- grid
def grid(**axes: Iterable[Any]) -> list[dict[str, Any]]:
    """The Cartesian product of ``axes`` as a list of dicts, first axis slowest.

    ``grid(p=[11, 17], seed=[0, 1])`` →
    ``[{"p": 11, "seed": 0}, {"p": 11, "seed": 1}, {"p": 17, "seed": 0}, {"p": 17, "seed": 1}]``.
    """
    names = list(axes)
    values = [list(v) for v in axes.values()]
    for name, vals in zip(names, values, strict=True):
        if not vals:
            raise ValueError(f"grid axis {name}={vals!r} is empty: give at least one value")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


# --------------------------------------------------------------------------- caches
class Cache(Protocol):
    """Where a sweep's finished points live."""

    def key(self, point: dict[str, Any]) -> str: ...

    def load(self, point: dict[str, Any]) -> tuple[dict[str, Any], Arrays] | None: ...

    def store(self, point: dict[str, Any], metrics: dict[str, Any], arrays: Arrays) -> Path: ...


class PointCache:
    """``directory/{hash}.json`` (+ ``.npz``) per point.

    ``salt`` (optional) is mixed into the hash as ``{"config": salt, "key": point}``
    (how :meth:`regimes.harness.RunContext.point` names an experiment's points, so a
    sweep can fill the point cache of an experiment run).

    ``code`` (optional) fingerprints the point function, e.g. :func:`fn_fingerprint` of it,
    and is mixed into the hash too, so editing the function (or the library) recomputes
    the points. Without it the key covers the point alone, and the caller must name
    ``directory`` after the code instead, as :func:`regimes.harness.run` does for the
    points of an experiment run (its ``…/{cache key}-points`` folder).
    """

    def __init__(self, directory: str | Path, salt: dict[str, Any] | None = None,
                 code: dict[str, str] | None = None) -> None:
        self.directory = Path(directory)
        self.salt = salt
        self.code = code

    def key(self, point: dict[str, Any]) -> str:
        """The point's cache name: a hash of its config and (if given) salt and code."""
        named: dict[str, Any] = point if self.salt is None else {"config": self.salt, "key": point}
        if self.code is not None:
            named = {"point": named, "code": self.code}
        return config_hash(named)

    def paths(self, point: dict[str, Any]) -> tuple[Path, Path]:
        h = self.key(point)
        return self.directory / f"{h}.json", self.directory / f"{h}.npz"

    def load(self, point: dict[str, Any]) -> tuple[dict[str, Any], Arrays] | None:
        """The finished point, or ``None`` if absent, partial, corrupt, or its JSON and arrays
        do not belong together (their digests differ)."""
        hit = read_complete(*self.paths(point))
        if hit is None or "metrics" not in hit[0] or hit[0].get("hash", self.key(point)) != self.key(point):
            return None
        return hit[0]["metrics"], hit[1]

    def store(self, point: dict[str, Any], metrics: dict[str, Any], arrays: Arrays) -> Path:
        """Write arrays, then the JSON marked complete (both atomic)."""
        jpath, npath = self.paths(point)
        atomic_write_npz(npath, arrays)
        atomic_write_json(jpath, {"key": point, "hash": self.key(point), "code": self.code,
                                          "metrics": metrics, DIGEST_KEY: arrays_digest(arrays),
                                          "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                          "complete": True})
        return jpath


# --------------------------------------------------------------------------- executors
def connect_dask(scheduler: str | None, jobs: int) -> tuple[Any, Any]:
    """A Dask ``Client`` (and the ``LocalCluster`` it owns, or ``None``).

    ``scheduler=None`` starts a ``LocalCluster`` of ``jobs`` single-threaded
    worker processes; otherwise connects to the scheduler at that address and
    raises :class:`SweepError` (with the fix) if it cannot be reached.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover - dask is a dependency
        raise SweepError("--executor dask needs Dask — install the extra: pip install -e '.[sweep]'") from e
    if scheduler is None:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    timeout = float(os.environ.get("REGIMES_SCHEDULER_TIMEOUT", SCHEDULER_TIMEOUT_S))
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise SweepError(
            f"cannot reach the Dask scheduler at {scheduler!r} ({type(e).__name__}) — start one with "
            f"`dask scheduler` plus `dask worker {scheduler}`, fix the address, or drop --scheduler "
            "to use a local cluster") from None
    return client, None


@dataclass
class PointResult:
    """One finished point: its config, hash, outputs, and whether the cache served it."""

    point: dict[str, Any]
    hash: str
    metrics: dict[str, Any]
    arrays: Arrays
    cached: bool


def _progress(total: int, desc: str, quiet: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet or not sys.stderr.isatty(), leave=False)


def _call(blob: bytes, point: dict[str, Any]) -> tuple[dict[str, Any], Arrays]:
    """Worker side: rebuild the point function shipped by :func:`_shippable` and run it."""
    import cloudpickle

    return cloudpickle.loads(blob)(point)


def _shippable(fn: PointFn) -> bytes:
    """``fn`` as bytes a spawned worker can rebuild, or :class:`SweepError` before any work.

    cloudpickle (a dependency) ships a function of an importable module by reference and
    anything else by value: functions of an experiment script loaded from a file, and
    functions defined in ``__main__`` without a file (a notebook, ``python -c``, stdin), which
    a spawned worker could not import by name. A function that cannot be pickled at all (it
    holds a lock, an open file, a generator, ...) is refused here, not by a broken pool later.
    """
    import cloudpickle

    try:
        blob = cloudpickle.dumps(fn)
        cloudpickle.loads(blob)
    except Exception as e:
        raise SweepError(f"{fn!r} cannot be sent to worker processes ({type(e).__name__}: {e}): "
                         "make everything it refers to picklable, or run with jobs=1") from None
    return blob


@contextlib.contextmanager
def _spawnable_main() -> Any:
    """While workers start: hide a ``__main__.__file__`` that names no file.

    ``python -`` (stdin) sets it to ``'<stdin>'``, and a spawned worker would try to re-run
    that path as the main script and die before taking a point (a ``BrokenProcessPool``).
    The point function travels by value (:func:`_shippable`), so the worker needs no main.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or os.path.isfile(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _parent_torch_threads() -> int | None:
    """This process's torch intra-op thread count, or ``None`` if torch was never imported
    here (then the workers keep their own default)."""
    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())


def _die_with(parent: int) -> None:
    """Make this process exit when process ``parent`` dies, however it died (``kill -9``
    included), instead of living on re-parented to PID 1.

    Two guards: on Linux the kernel's parent-death signal (``prctl(PR_SET_PDEATHSIG,
    SIGKILL)``, immediate; the spawning thread is the one running :func:`run_sweep`, which
    outlives the pool), and everywhere a daemon thread that polls ``os.getppid()`` every
    0.2 s and ends the process once the parent is gone (it also covers a parent that died
    before the signal was armed)."""
    import signal
    import threading

    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # 1 = PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="regimes-parent-watchdog", daemon=True).start()


def _worker_init(threads: int | None, parent: int | None = None) -> None:
    """Initializer of a spawned pool worker: die with the parent (``parent``: its PID, see
    :func:`_die_with`) and take its torch thread count.

    A spawned process starts a fresh interpreter, so ``torch.set_num_threads`` in the
    parent does not reach it and torch would use every core in every worker: ``jobs``
    workers × ``cores`` threads on ``cores`` cores. (Measured on 2 cores, quick mode of
    experiment 16 with ``--jobs 2``: 2 threads per worker, load 4, and 368 s of wall time.)
    """
    if parent is not None:
        _die_with(parent)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _kill_pool(pool: Any) -> None:
    """Stop a ``ProcessPoolExecutor`` now: cancel queued points, end the workers."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()


def run_sweep(
    fn: PointFn,
    points: Sequence[dict[str, Any]],
    cache: Cache,
    *,
    jobs: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    client: Any = None,
    quiet: bool = False,
    desc: str = "sweep",
    on_point: Callable[[PointResult], None] | None = None,
) -> list[PointResult]:
    """Run ``fn`` on every point not already finished in ``cache``; return all, in order.

    ``executor="local"`` runs in this process for ``jobs=1`` and in a pool of
    ``jobs`` spawned processes otherwise (``fn`` is shipped with cloudpickle, so a function
    defined in a notebook or ``python -c`` works too; one that cannot be pickled is refused
    with :class:`SweepError` before any work); each worker gets
    this process's ``torch.get_num_threads()`` if torch is imported here. ``executor="dask"``
    uses ``client`` if given, else connects to ``scheduler``, else starts a
    ``LocalCluster`` of ``jobs`` workers. Each result is stored in ``cache``
    by this process the moment it arrives; ``on_point`` (optional) is called
    with every finished point, cached ones first.
    """
    jobs = check_int("jobs", jobs, low=1)
    check_choice("executor", executor, ("local", "dask"))
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler={scheduler!r} needs executor='dask', got {executor!r}")
    points = [dict(p) for p in points]
    hashes = [cache.key(p) for p in points]
    if len(set(hashes)) != len(hashes):
        raise ValueError("points contains duplicates (equal configs hash alike): give each once")

    if isinstance(getattr(cache, "directory", None), Path):
        clean_stale_temps(cache.directory, recursive=False)   # temp files of a killed sweep
    results: dict[int, PointResult] = {}
    todo: list[int] = []
    for i, p in enumerate(points):
        hit = cache.load(p)
        if hit is None:
            todo.append(i)
        else:
            results[i] = PointResult(p, hashes[i], hit[0], hit[1], cached=True)
            if on_point:
                on_point(results[i])

    def finish(i: int, out: tuple[dict[str, Any], Arrays]) -> None:
        metrics, arrays = out
        cache.store(points[i], metrics, arrays)
        results[i] = PointResult(points[i], hashes[i], metrics, arrays, cached=False)
        if on_point:
            on_point(results[i])

    bar = _progress(len(points), desc, quiet)
    bar.update(len(results))
    try:
        if not todo:
            pass
        elif executor == "local" and jobs == 1:
            for i in todo:
                finish(i, fn(points[i]))
                bar.update(1)
        elif executor == "local":
            import multiprocessing as mp
            from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
            from concurrent.futures.process import BrokenProcessPool

            blob = _shippable(fn)    # refused here, before a worker starts
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)),
                                       mp_context=mp.get_context("spawn"),
                                       initializer=_worker_init,
                                       initargs=(_parent_torch_threads(), os.getpid()))
            try:
                with _spawnable_main():   # workers start on submit
                    pending = {pool.submit(_call, blob, points[i]): i for i in todo}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        finish(pending.pop(fut), fut.result())
                        bar.update(1)
            except BrokenProcessPool as e:
                _kill_pool(pool)
                raise SweepError(f"a worker process died while computing a point ({e}); finished points "
                                 "are kept: rerun to resume, or run with jobs=1 to see the error in this "
                                 "process") from None
            except BaseException:
                _kill_pool(pool)
                raise
            pool.shutdown(wait=True)
        else:
            own = client is None
            cluster = None
            if own:
                client, cluster = connect_dask(scheduler, jobs)
            try:
                from dask.distributed import as_completed

                futures = {client.submit(fn, points[i], pure=False, key=f"point-{hashes[i]}"): i
                           for i in todo}
                for fut in as_completed(list(futures)):
                    finish(futures[fut], fut.result())
                    bar.update(1)
            finally:
                if own:
                    with contextlib.suppress(Exception):
                        client.close()
                    if cluster is not None:
                        with contextlib.suppress(Exception):
                            cluster.close()
    finally:
        bar.close()
    return [results[i] for i in range(len(points))]


# --------------------------------------------------------------------------- a registered synthetic sweep
def demo_point(point: dict[str, Any], sleep: float = 0.0) -> tuple[dict[str, Any], Arrays]:
    """A synthetic point function for tests: deterministic in ``point`` alone.

    Draws from a generator seeded by the point's hash (so any executor gets the
    same numbers), optionally sleeping ``sleep`` seconds to stand in for work.
    """
    if sleep:
        time.sleep(sleep)
    rng = np.random.default_rng(int(config_hash(point), 16) % 2**63)
    draws = rng.standard_normal(16)
    x = float(point.get("x", 0))
    return ({"x2": x * x, "mean": float(draws.mean()), "pid": os.getpid()},
            {"draws": draws, "cumsum": np.cumsum(draws)})


#: Named point functions runnable by ``python -m regimes.sweep NAME``.
SWEEPS: dict[str, Callable[..., tuple[dict[str, Any], Arrays]]] = {"demo": demo_point}


def main(argv: list[str] | None = None) -> int:
    """``python -m regimes.sweep demo --cache DIR --points 20 [--sleep S] [--jobs J]``."""
    ap = argparse.ArgumentParser(prog="python -m regimes.sweep",
                                 description="Run a registered synthetic sweep (for tests and demos).")
    ap.add_argument("name", choices=sorted(SWEEPS))
    ap.add_argument("--cache", required=True, help="cache folder")
    ap.add_argument("--points", type=int, default=10, help="grid x = 0..N-1")
    ap.add_argument("--sleep", type=float, default=0.0, help="seconds per point (not in the key)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--executor", choices=("local", "dask"), default="local")
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--summary", default=None, help="write {computed, cached} JSON here")
    args = ap.parse_args(argv)
    fn = functools.partial(SWEEPS[args.name], sleep=args.sleep)
    try:
        res = run_sweep(fn, grid(x=range(args.points)), PointCache(args.cache, code=fn_fingerprint(fn)),
                        jobs=args.jobs,
                        executor=args.executor, scheduler=args.scheduler, quiet=True)
    except KeyboardInterrupt:
        print("interrupted: finished points are kept; rerun to resume", file=sys.stderr)
        return 130
    computed = sum(not r.cached for r in res)
    summary = {"computed": computed, "cached": len(res) - computed}
    if args.summary:
        atomic_write_json(Path(args.summary), summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
