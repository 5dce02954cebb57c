"""Training runs stored once, read by the experiment that draws them and the check that judges them.

A claim's figure (an experiment) and its check train the same grid (:mod:`regimes.settings.grids`).
Each run of it goes through :func:`cached`: the run's result (JSON-able metrics plus arrays) is
stored under ``<dir>/<kind>/<hash>.json`` (+ ``.npz``), the hash naming the run's own config and
the library's sources (:func:`regimes.store.library_fingerprint`), so

* ``regimes check`` after ``regimes run NN`` (or ``reproduce``) retrains nothing the experiment
  stored, and the reverse;
* an entry is *stale*, and recomputed, as soon as the library's code changes;
* ``--force`` (:func:`forcing`) recomputes and overwrites.

The folder is ``<out>/results/runs`` of the ``--out`` folder the command line was given
(:func:`use_dir`; default the repository's ``results/runs``). Both settings travel in the
environment (``REGIMES_RUN_CACHE``, ``REGIMES_RUN_CACHE_FORCE``), so sweep workers started by the
run see them; they are the transport, not a setting: the command line always sets the folder from
``--out`` (a ``REGIMES_RUN_CACHE`` set beforehand is replaced), and library code outside the
command line reads it (default ``<repo>/results/runs``).

>>> import tempfile
>>> use_dir(tempfile.mkdtemp())
>>> calls = []
>>> def train():
...     calls.append(1)
...     return {"acc": 1.0}, {}
>>> cached("demo", {"p": 5}, train)[0], cached("demo", {"p": 5}, train)[0], len(calls)
({'acc': 1.0}, {'acc': 1.0}, 1)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from regimes.store import (
    REPO_ROOT,
    atomic_write_json,
    atomic_write_npz,
    config_hash,
    jsonable,
    library_fingerprint,
    load_npz,
    read_complete,
)

Arrays = dict[str, np.ndarray]

ENV_DIR, ENV_FORCE = "REGIMES_RUN_CACHE", "REGIMES_RUN_CACHE_FORCE"


def cache_dir() -> Path:
    """Where runs are stored: ``$REGIMES_RUN_CACHE``, else ``<repo>/results/runs``."""
    return Path(os.environ.get(ENV_DIR) or REPO_ROOT / "results" / "runs")


def use_dir(path: str | Path) -> None:
    """Store runs under ``path`` from now on (this process and the workers it starts)."""
    os.environ[ENV_DIR] = str(Path(path).resolve())


@contextlib.contextmanager
def forcing(force: bool = True) -> Iterator[None]:
    """Within the block, :func:`cached` recomputes every run and overwrites its entry."""
    old = os.environ.get(ENV_FORCE)
    if force:
        os.environ[ENV_FORCE] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_FORCE, None)
        else:
            os.environ[ENV_FORCE] = old


@contextlib.contextmanager
def using(path: str | Path, force: bool = False) -> Iterator[None]:
    """Within the block, store runs under ``path`` (and recompute them with ``force``); the
    previous folder is restored after it (the harness wraps each experiment run in this)."""
    old = os.environ.get(ENV_DIR)
    use_dir(path)
    try:
        with forcing(force):
            yield
    finally:
        if old is None:
            os.environ.pop(ENV_DIR, None)
        else:
            os.environ[ENV_DIR] = old


def run_key(kind: str, key: dict[str, Any]) -> str:
    """The hash naming run ``key`` of ``kind`` under this library's code."""
    return config_hash({"kind": kind, "key": key, "library": library_fingerprint()})


def cached(kind: str, key: dict[str, Any], fn: Callable[[], tuple[dict[str, Any], Arrays]]
           ) -> tuple[dict[str, Any], Arrays]:
    """``fn()`` — one run, ``(JSON-able metrics, arrays)`` — computed once per ``(kind, key)`` and
    library version, then read back. The value returned is always the stored one (JSON and
    float64/int arrays as read from disk), so a first run and a later read give equal results."""
    jpath = cache_dir() / kind / f"{run_key(kind, key)}.json"
    npath = jpath.with_suffix(".npz")
    hit = None if os.environ.get(ENV_FORCE) else read_complete(jpath, npath)
    if hit is not None and "metrics" in hit[0]:
        return hit[0]["metrics"], hit[1]
    metrics, arrays = fn()
    atomic_write_npz(npath, {k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_json(jpath, {"kind": kind, "key": jsonable(key), "metrics": jsonable(metrics), "complete": True})
    hit = read_complete(jpath, npath)
    assert hit is not None
    return hit[0]["metrics"], load_npz(npath)
