"""The results store: the bottom floor every writer of results stands on.

Imports nothing from :mod:`regimes` (nor torch at import time), so training
checkpoints (:mod:`regimes.train`), the generic sweep executor
(:mod:`regimes.sweep`), the experiment harness (:mod:`regimes.harness`), the
checks store (:mod:`regimes.checks.store`) and the CLI all write through it:

* atomic writes (:func:`atomic_write_bytes`, :func:`atomic_write_json`,
  :func:`atomic_write_npz`): a temp file in the target folder, ``fsync`` and
  ``os.replace``, so a killed process never leaves a half-written file under
  the final name;
* JSON coercion (:func:`jsonable`: numpy scalars/arrays to Python, NaN to
  ``null``, ±inf to ``"inf"``/``"-inf"``) and the stable config hash
  (:func:`config_hash`);
* reading back only what is finished (:func:`read_complete`, :func:`load_npz`);
* run metadata (:func:`versions`, :func:`machine`, :func:`git_revision`) and code
  fingerprints (:func:`library_fingerprint`, :func:`source_file`,
  :func:`fn_fingerprint`), which name cache entries so edited code never serves a
  stale result.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import inspect
import io
import json
import marshal
import math
import os
import platform
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent

Arrays = dict[str, np.ndarray]

__all__ = [
    "DIGEST_KEY",
    "PACKAGE_DIR",
    "PRESENTATION_MODULES",
    "REPO_ROOT",
    "Arrays",
    "MismatchError",
    "arrays_digest",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_npz",
    "clean_stale_temps",
    "config_hash",
    "fn_fingerprint",
    "git_revision",
    "hashable",
    "jsonable",
    "library_fingerprint",
    "load_npz",
    "load_torch_state",
    "machine",
    "read_complete",
    "source_file",
    "temp_tag",
    "versions",
]


# --------------------------------------------------------------------------- atomic writes
def temp_tag() -> str:
    """This process's mark in the names of its temp files: ``h<host hash>p<pid>``, so that
    :func:`clean_stale_temps` removes only the leftovers of processes that are gone."""
    return f"h{hashlib.sha256(platform.node().encode()).hexdigest()[:6]}p{os.getpid()}"


def _fs_error(e: OSError, path: Path) -> OSError:
    """``e`` naming ``path`` if it names no file (``os.write`` on a full disk names none)."""
    if e.filename is None and e.errno is not None:
        return type(e)(e.errno, e.strerror or os.strerror(e.errno), str(path))
    return e


@functools.cache
def _umask() -> int:
    """This process's umask, read without changing it (``/proc`` on Linux; 0o022 elsewhere)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``
    (creating the folder): readers see the old file or the whole new one, never a part.

    The temp file is ``.{name}.{temp_tag()}.<random>.tmp``; it is removed on any error, and one
    left by a killed process is removed by :func:`clean_stale_temps`. An ``OSError`` (a full
    disk, a read-only folder) always names ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{temp_tag()}.", suffix=".tmp")
    except OSError as e:
        raise _fs_error(e, path) from None
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())   # as open() would create it (mkstemp makes it 0600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _fs_error(e, path) from None
        raise


def clean_stale_temps(folder: Path, *, recursive: bool = True, max_age_s: float = 86400.0) -> int:
    """Remove the temp files and folders (``.*.tmp``) that killed writers left under ``folder``;
    return how many.

    One written by a process of this host is removed once that process is gone; one from
    another host (a shared folder) or without a readable mark, once it is ``max_age_s`` old.
    A live writer's temp file is never touched. Errors (a read-only folder) are ignored:
    cleaning is a courtesy, never a reason to fail."""
    import shutil
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    host = temp_tag().split("p", 1)[0]
    removed = 0
    walk = os.walk(folder) if recursive else [(str(folder), [d.name for d in folder.iterdir() if d.is_dir()],
                                               [f.name for f in folder.iterdir() if not f.is_dir()])]
    for root, dirs, files in walk:
        for name in [*files, *dirs]:
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            p = Path(root) / name
            parts = name[1:-4].rsplit(".", 2)
            tag = parts[1] if len(parts) == 3 else ""
            stale = False
            if tag.startswith(host + "p") and tag[len(host) + 1:].isdigit():
                pid = int(tag[len(host) + 1:])
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    stale = True
                except OSError:
                    pass
            if not stale:
                with contextlib.suppress(OSError):
                    stale = time.time() - p.lstat().st_mtime > max_age_s
            if stale:
                with contextlib.suppress(OSError):
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
                    removed += 1
        if recursive:
            dirs[:] = [d for d in dirs if not (d.startswith(".") and d.endswith(".tmp"))]
    return removed


def jsonable(obj: Any) -> Any:
    """``obj`` with everything JSON cannot hold converted: dict keys to ``str``, tuples to
    lists, numpy arrays/scalars (and 0-d tensors) to Python values, NaN to ``None`` and
    ±inf to the strings ``"inf"``/``"-inf"``.

    >>> jsonable({1: (np.float32(0.5), float("nan"), float("-inf"))})
    {'1': [0.5, None, '-inf']}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return jsonable(obj.item())
    return obj


def atomic_write_json(path: Path, obj: dict[str, Any]) -> None:
    """Atomically write ``obj`` as indented JSON (through :func:`jsonable`)."""
    atomic_write_bytes(Path(path), (json.dumps(jsonable(obj), indent=2, sort_keys=False) + "\n").encode())


def atomic_write_npz(path: Path, arrays: Arrays) -> None:
    """Atomically write a compressed ``.npz`` of ``arrays`` (name → array)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(Path(path), buf.getvalue())


# --------------------------------------------------------------------------- reading back
def load_npz(path: Path) -> Arrays:
    """Every array of an ``.npz`` loaded into memory (no pickles)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_torch_state(path: Path, *, what: str = "checkpoint", keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """A state dict saved with ``torch.save`` (a training checkpoint), loaded safely.

    Loads with ``weights_only=True``: tensors and plain containers only, so a crafted
    file whose pickle would run code (a ``__reduce__`` payload) is refused, never executed.
    Anything that is not such a dict holding every name in ``keys`` (an empty, truncated or
    zeroed file, JSON, a foreign pickle, a folder) raises one ``ValueError`` that names the
    file and the fix, instead of the half-dozen raw errors ``torch.load`` gives.

    >>> import tempfile, torch
    >>> f = Path(tempfile.mkdtemp()) / "ck.pt"; _ = f.write_bytes(b"")
    >>> load_torch_state(f)
    Traceback (most recent call last):
    ...
    ValueError: checkpoint ... is not a readable checkpoint (...): delete it to start over
    """
    import pickle

    import torch

    path = Path(path)
    fix = "delete it to start over"
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a checkpoint file: give a file path, or "
                         f"move the folder away to start over")
    try:
        with warnings.catch_warnings():   # "pickle protocol 4" on a foreign pickle: refused below anyway
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, TypeError, ValueError,
            AttributeError, IndexError, UnicodeDecodeError, zipfile.BadZipFile) as e:
        msg = " ".join(str(e).split())[:160]
        raise ValueError(f"{what} {path} is not a readable {what} ({type(e).__name__}: {msg}): {fix}") from None
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if not isinstance(state, dict) or missing:
        found = type(state).__name__ if not isinstance(state, dict) else f"a dict without {missing}"
        raise ValueError(f"{what} {path} is not a {what} of this suite (it holds {found}): {fix}")
    return state


#: The key under which a result's JSON records :func:`arrays_digest` of its ``.npz``.
DIGEST_KEY = "arrays_sha256"


def arrays_digest(arrays: Arrays) -> str:
    """A 16-hex-digit hash of the *content* of ``arrays`` (names, dtypes, shapes, bytes; not
    the zip's timestamps), which a result's JSON records under :data:`DIGEST_KEY` to tie it
    to its ``.npz``.

    >>> arrays_digest({"a": np.arange(3)}) == arrays_digest({"a": np.arange(3)})
    True
    >>> arrays_digest({"a": np.arange(3)}) == arrays_digest({"a": np.arange(3.0)})
    False
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(np.asarray(arrays[name]))
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


class MismatchError(ValueError):
    """A result's JSON and ``.npz`` do not belong together (different digests)."""


def read_complete(jpath: Path, npath: Path, *, strict: bool = False) -> tuple[dict[str, Any], Arrays] | None:
    """The JSON at ``jpath`` (if marked ``"complete": true``) and the arrays at ``npath``;
    ``None`` if either is missing, half-written or corrupt, so such an entry is recomputed.

    A JSON that records :data:`DIGEST_KEY` must match the arrays (a pair torn apart by a
    kill between its two writes, or files copied from two runs): otherwise ``None``, or with
    ``strict=True`` a :class:`MismatchError` (a ``ValueError``) naming both files."""
    try:
        stored = json.loads(Path(jpath).read_text())
        if not isinstance(stored, dict) or stored.get("complete") is not True:
            return None
        arrays = load_npz(npath)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None
    want = stored.get(DIGEST_KEY)
    if want is not None and want != arrays_digest(arrays):
        if strict:
            raise MismatchError(f"{jpath} and {npath} do not belong together (the arrays' digest is not the one "
                                "the JSON records): they come from different runs; rerun to write a matching pair")
        return None
    return stored, arrays


# --------------------------------------------------------------------------- hashing
def hashable(obj: Any) -> Any:
    """Like :func:`jsonable`, but non-finite floats stay floats, so that ``json.dumps``
    writes them as the tokens ``NaN``/``Infinity``/``-Infinity``: distinct from ``null``
    (None) and from the strings ``"inf"``/``"-inf"``, which :func:`jsonable` maps them to."""
    if isinstance(obj, dict):
        return {str(k): hashable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [hashable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return hashable(obj.tolist())
    if isinstance(obj, np.generic):
        return hashable(obj.item())
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return hashable(obj.item())
    return obj


def config_hash(config: dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-able config.

    Equal after a JSON round trip means equal here (key order, tuple vs list and numpy vs
    Python scalars do not matter), but NaN, ±inf, ``None`` and the strings ``"inf"``/``"-inf"``
    all hash differently.

    >>> config_hash({"p": 23, "seed": (0, 1)}) == config_hash({"seed": [0, 1], "p": np.int64(23)})
    True
    """
    blob = json.dumps(hashable(config), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- code fingerprints
#: Library modules left out of :func:`library_fingerprint`: they only present stored results
#: (figures, the report page and its proof-note pages, the claims ledger, the command line),
#: never run inside ``compute``, so editing them (restyling every figure, say) recomputes
#: nothing. No computing module imports them (``tests/test_harness.py`` keeps that true).
PRESENTATION_MODULES = frozenset({"plots.py", "report.py", "cli.py", "notes.py", "claims.py"})


@functools.cache
def library_fingerprint(package_dir: Path = PACKAGE_DIR) -> str:
    """A 16-hex-digit hash of the library's sources: every ``*.py`` file under
    ``package_dir`` (path and bytes, in sorted order) except :data:`PRESENTATION_MODULES`.

    Computed once per process (the code a process runs is the code it imported). It hashes
    the files themselves rather than the git revision, so an edited, uncommitted library
    (a dirty working tree, or a copy without git) gets its own key, and two different dirty
    states never share one.
    """
    h = hashlib.sha256()
    for path in sorted(Path(package_dir).rglob("*.py")):
        rel = path.relative_to(package_dir).as_posix()
        if "__pycache__" in path.parts or rel in PRESENTATION_MODULES:
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def source_file(fn: Any) -> Path | None:
    """The file defining ``fn`` (through ``functools.partial`` and decorators), if readable."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = inspect.unwrap(fn)
    for obj in (fn, type(fn)):
        try:
            f = inspect.getsourcefile(obj)
        except TypeError:
            continue
        if f and Path(f).is_file():
            return Path(f).resolve()
    return None


def fn_fingerprint(fn: Callable[..., Any]) -> dict[str, str]:
    """The code behind a function, e.g. a sweep's point function: ``{"fn": hash of the file
    that defines fn (through functools.partial; its bytecode if it has no file), "library":
    library_fingerprint()}``."""
    path = source_file(fn)
    if path is not None:
        blob = path.read_bytes()
    else:
        while isinstance(fn, functools.partial):
            fn = fn.func
        code = getattr(fn, "__code__", None)
        blob = marshal.dumps(code) if code is not None else getattr(fn, "__qualname__", "?").encode()
    return {"fn": hashlib.sha256(blob).hexdigest()[:16], "library": library_fingerprint()}


# --------------------------------------------------------------------------- run metadata
def git_revision() -> str:
    """``HEAD``'s hash (with ``-dirty`` if the tree has changes), or ``"unknown"``."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of Python and the libraries a result depends on (the optional JAX stack
    only if this process already imported it)."""
    out = {"python": platform.python_version()}
    for mod in ("regimes", "torch", "numpy", "scipy", "matplotlib", "jax", "neural_tangents"):
        if mod in ("jax", "neural_tangents") and mod not in sys.modules:
            continue  # never import the heavy optional stack just to record it
        try:
            m = importlib.import_module(mod)
            out[mod] = str(getattr(m, "__version__", "?"))
        except ImportError:
            pass
    return out


def machine() -> dict[str, Any]:
    """What ran a result: OS, processor, CPU count, torch threads, CUDA device (if any)."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
