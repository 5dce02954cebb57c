"""The experiment harness: config → run → results JSON/NPZ → figure.

Every numbered script ``experiments/NN_slug.py`` defines one :class:`Experiment`
and ends with ``main(EXPERIMENT)``. The harness then gives it

* ``--quick`` (minutes on a laptop CPU, the default), ``--paper`` (the paper's own
  hyperparameters at the largest p a 2-core CPU finishes in a few hours, ``regimes list``
  gives the measured total; only the
  experiments of the central paper's figures have one) and ``--full`` (paper scale, a GPU
  helps) configs (:data:`MODES`, :func:`mode_config`), ``--seed``, ``--device``, ``--out`` and ``--force``;
* a cache keyed by a hash of the full config *and of the code that computes it*
  (:func:`cache_key`): a rerun with the same config and the same code loads the
  cached result and recomputes nothing, while an edit of the experiment script (its
  ``compute`` side: everything but the ``plot`` function) or of the library's sources
  makes a new key, so the stale entry is never served (see :func:`code_fingerprint`);
* per-point memoisation inside a run (:meth:`RunContext.point`), so an
  interrupted sweep loses only the point in flight;
* atomic writes (temp file + ``os.replace``; the JSON, written last, carries
  ``"complete": true``), so a killed run never leaves a file that reads as done;
* run metadata in every result: config, library versions, git revision, wall time;
* the figure ``figures/NN_slug.png`` (+ ``.pdf``), drawn from the stored results
  alone, so it can be restyled without recomputation;
* runs as points of a sweep (:class:`ExperimentPoint`, :class:`ExperimentCache`,
  :func:`experiment_point`, :func:`write_sweep`) for the generic executor
  :mod:`regimes.sweep`, with the same config (:func:`full_config`), the same loader
  (:func:`load_script`) and the same computation (:func:`compute_result`) as :func:`run`;
* re-analysis of stored training runs (:func:`load_run`: the nets rebuilt from the
  stored parameters).

The bytes on disk go through :mod:`regimes.store` (atomic writes, hashes, metadata).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import dataclasses
import hashlib
import importlib.util
import inspect
import json
import marshal
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regimes._validate import check_seed
from regimes.settings import schema
from regimes.store import (
    DIGEST_KEY,
    PACKAGE_DIR,
    REPO_ROOT,
    arrays_digest,
    atomic_write_json,
    atomic_write_npz,
    clean_stale_temps,
    config_hash,
    git_revision,
    jsonable,
    library_fingerprint,
    load_npz,
    machine,
    read_complete,
    source_file,
    temp_tag,
    versions,
)

EXPERIMENTS_DIR = REPO_ROOT / "experiments"

Arrays = dict[str, np.ndarray]


# --------------------------------------------------------------------------- code fingerprints
def _drop_function(source: bytes, name: str) -> bytes:
    """``source`` without the lines of its (last) top-level ``def name`` and decorators."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name]
    if not defs:
        return source
    node = defs[-1]
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.splitlines(keepends=True)
    return b"".join(lines[:first - 1] + lines[node.end_lineno:])


def script_fingerprint(exp: Experiment) -> str:
    """A 16-hex-digit hash of the experiment's source: the bytes of the file that defines
    ``exp.compute`` (the ``NN_slug.py`` script), less its ``plot`` function when that is a
    top-level function of the same file (a figure is redrawn from stored results, so
    restyling it needs no recomputation; helpers that ``plot`` calls stay in the hash).
    Read at each call, so an edited script gives a new key. A ``compute`` without a source
    file is hashed by its bytecode."""
    path = source_file(exp.compute)
    if path is None:
        code = getattr(inspect.unwrap(exp.compute), "__code__", None)
        blob = marshal.dumps(code) if code is not None else getattr(exp.compute, "__qualname__", "?").encode()
    else:
        blob = path.read_bytes()
        plot = inspect.unwrap(exp.plot)
        name = getattr(plot, "__name__", "<lambda>")
        if name != "<lambda>" and inspect.isfunction(plot) and source_file(plot) == path:
            blob = _drop_function(blob, name)
    return hashlib.sha256(blob).hexdigest()[:16]


def code_fingerprint(exp: Experiment) -> dict[str, str]:
    """What besides the config decides a result: ``{"script": script_fingerprint(exp),
    "library": library_fingerprint()}`` (stored with every result as ``"code"``)."""
    return {"script": script_fingerprint(exp), "library": library_fingerprint()}


def cache_key(full_config: dict[str, Any], code: dict[str, str]) -> str:
    """The name of a result's cache entry, stored as its ``"config_hash"``: a hash of the full
    config and the :func:`code_fingerprint`, so a code change never serves a stale result."""
    return config_hash({"config": full_config, "code": code})


def result_record(exp: Experiment, full_config: dict[str, Any], key: str, code: dict[str, str],
                  metrics: dict[str, Any], wall: float) -> dict[str, Any]:
    """The result record the cache stores (metrics plus run metadata), marked complete."""
    return {
        "experiment": exp.name, "title": exp.title, "figure": exp.figure,
        "config": full_config, "config_hash": key, "code": code, "metrics": metrics,
        "versions": versions(), "git_revision": git_revision(),
        "wall_time_s": wall, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(), "complete": True,
    }


#: The config tiers, cheapest first: ``quick`` (minutes, CPU), ``paper`` (the paper's App. A
#: hyperparameters at the p a 2-core CPU finishes in hours; experiments of the central
#: paper's figures only) and ``full`` (the paper's scale; a GPU helps).
MODES = ("quick", "paper", "full")


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`, else ``ValueError`` naming the allowed ones."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not allowed: choose one of {', '.join(map(repr, MODES))}")
    return mode


def mode_config(exp: Experiment, mode: str) -> dict[str, Any]:
    """``exp``'s config for tier ``mode`` (:data:`MODES`). Raises ``ValueError`` for an
    unknown mode, or for ``"paper"`` when ``exp`` has no paper tier (``exp.paper is None``),
    naming the experiments that have one."""
    check_mode(mode)
    if mode == "paper":
        if exp.paper is None:
            raise ValueError(f"mode='paper' is not allowed for {exp.name}: it has no paper tier "
                             "(`regimes list` shows which experiments do); use --quick or --full")
        return exp.paper
    return exp.quick if mode == "quick" else exp.full


def seeds_paths(exp: Experiment, mode: str) -> list[str]:
    """The dotted paths of every leaf named ``seeds`` that holds a *list* in ``exp``'s ``mode``
    tier (``seeds``, ``long.seeds``, ``classification.seeds``, ``textbook.t1.seeds`` …): the
    seed lists its runs loop over. A ``seeds`` *count* (``"seeds": 3``) is not one: those runs
    draw their seeds from the run's ``seed``, which ``--seed`` sets."""
    return [path for path, value in schema.leaves(mode_config(exp, mode))
            if path.rsplit(".", 1)[-1] == "seeds" and isinstance(value, list)]


def loops_over_seeds(exp: Experiment, mode: str) -> bool:
    """Whether ``exp``'s ``mode`` tier loops over seed lists of its own (:func:`seeds_paths`):
    its runs are seeded by those lists, not by the run's ``seed``. ``regimes run NN --seed S …``
    then sets *every* one of them to ``[S, …]``, and a run whose ``seed`` is not 0 is refused
    (:func:`full_config`) unless the experiment also reads the run seed (``exp.reads_seed``)
    and every seed list is ``[seed]``, so no result is stored under a seed label it never used."""
    return bool(seeds_paths(exp, mode))


def _schema_names(cls: type | tuple[str, ...]) -> tuple[str, ...]:
    return cls if isinstance(cls, tuple) else tuple(f.name for f in dataclasses.fields(cls))


def _open_paths(exp: Experiment, tiers: list[dict[str, Any]] | None = None) -> list[str]:
    """The paths ``exp.schemas`` declares, a ``*`` part expanded to every child ``tiers`` (default:
    every tier of ``exp``) have there (``settings.*`` → ``settings.paper``, ``settings.substitute``;
    ``runs.*`` → ``runs.0``, ``runs.1``, … for a list of rows)."""
    if tiers is None:
        tiers = [c for c in (exp.quick, exp.paper, exp.full) if c is not None]
    out: list[str] = []
    for prefix, cls in exp.schemas.items():
        heads = [""]
        for part in prefix.split("."):
            nxt = []
            for h in heads:
                if part != "*":
                    nxt.append(f"{h}.{part}" if h else part)
                    continue
                for c in tiers:
                    try:
                        node = schema.get_path(c, h)
                    except KeyError:
                        continue
                    if isinstance(node, dict):
                        nxt += [f"{h}.{k}" for k in node]
                    elif isinstance(node, list):   # rows of sub-configs: every row index
                        nxt += [f"{h}.{i}" for i in range(len(node))]
            heads = list(dict.fromkeys(nxt))
        for h in heads:
            out.append(h)
            out += [f"{h}.{name}" for name in _schema_names(cls)]
    return out


def _shape(path: str) -> tuple[str, ...]:
    """``path`` with every row index as ``*`` (``runs.3.lr`` → ``("runs", "*", "lr")``)."""
    return tuple("*" if part.isdigit() else part for part in path.split("."))


def _matches(shape: tuple[str, ...], known: tuple[str, ...]) -> bool:
    return len(shape) == len(known) and all(k in ("*", s) for s, k in zip(shape, known, strict=True))


def _kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return None


def check_known_keys(exp: Experiment, config: dict[str, Any], mode: str | None = None) -> dict[str, Any]:
    """``config`` if every path in it (below the run keys) is one ``exp`` knows: a path of its
    ``mode`` tier (every tier when ``None``; any row of a list of sub-configs), or a field of the
    dataclass ``exp.schemas`` gives for its parent (``settings.*``: any entry of ``settings``),
    and holds what the tier holds there: an object where the tier has one, a number where the
    tier has a number. A ``reading``'s keys are the paper's open settings, checked by
    :func:`regimes.settings.schema.validate_config`. Else ``ValueError``, one line naming the path
    and the keys allowed beside it: a misspelt key inside a replaced subtree
    (``--set 'settings.paper={"lrr":0.1}'``), a key only another tier reads, or ``--set run=5``
    fails here, before any work, not as a ``TypeError`` in the middle of the run."""
    tiers = ([c for c in (exp.quick, exp.paper, exp.full) if c is not None] if mode is None
             else [mode_config(exp, mode)])
    known = {_shape(p) for c in tiers for p in schema.all_paths(c)}
    kinds = {_shape(p): _kind(v) for c in tiers for p, v in schema.nodes(c)}
    body = {k: v for k, v in config.items() if k not in RUN_KEYS}
    for path, value in schema.nodes(body):
        want = kinds.get(_shape(path))
        if any(part in ("reading", "readings") for part in path.split(".")[:-1]):
            continue
        if value is None and path in exp.optional:   # the part is switched off
            continue
        if (want == "an object" and not isinstance(value, Mapping)) or (
                want == "a number" and isinstance(value, str | bool)):   # a list may replace a count
            raise ValueError(f"{path}={json.dumps(value, default=repr)} is not allowed: {want} here, as in the "
                             f"{mode or 'tier'} config")
        if isinstance(value, list) and kinds.get((*_shape(path), "*")) == "an object":   # rows of sub-configs
            for i, row in enumerate(value):
                if not isinstance(row, Mapping):
                    raise ValueError(f"{path}.{i}={json.dumps(row, default=repr)} is not allowed: an object here, "
                                     f"as in the {mode or 'tier'} config")
    for prefix, cls in exp.schemas.items():   # a `*` part: any entry there
        known |= {_shape(prefix)} | {_shape(f"{prefix}.{name}") for name in _schema_names(cls)}
    for path in schema.all_paths(body):
        parts = path.split(".")
        if any(part in ("reading", "readings") for part in parts[:-1]):
            continue
        shape = _shape(path)
        if any(_matches(shape, k) for k in known):
            continue
        head = shape[:-1]
        beside = sorted({k[-1] for k in known if len(k) == len(shape) and _matches(head, k[:-1])})
        where = f"under {'.'.join(parts[:-1])!r}" if head else "at the top"
        raise ValueError(f"{path} is not a key of {exp.name}'s config: the keys {where} are "
                         f"{', '.join(beside) or 'none'} — fix the spelling")
    return config


def full_config(exp: Experiment, *, mode: str = "quick", seed: int = 0, device: str = "cpu",
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config a run of ``exp`` hashes and stores (the one definition; :func:`run`, the
    sweep's :class:`ExperimentCache` and :func:`experiment_point` all call it): the
    experiment's name, ``mode``, ``seed`` and ``device``, then the mode's config with
    ``overrides`` applied over its top-level keys (see :func:`nest_overrides` for dotted ones).

    Validated before any work (:func:`regimes.settings.schema.validate_config`): every leaf by
    value — type, range, finiteness, choices — with one-line ``ValueError`` s naming the key.
    Every path must be one ``exp`` knows (:func:`check_known_keys`), and the moduli and
    readings are checked for the task each feeds (``exp.tasks``). ``seed`` must be an integer in
    [0, 2**63 − 1] (``1.5`` is refused, not truncated), and 0 for a tier that loops over seed
    lists of its own (:func:`loops_over_seeds`), unless ``exp.reads_seed`` and every seed list
    is ``[seed]``."""
    seed = check_seed("seed", seed)
    schema.validate_value("device", device, schema.LEAVES["device"])
    config = {**mode_config(exp, mode), **(overrides or {})}
    own = seeds_paths(exp, mode)
    if seed != 0 and own and not (exp.reads_seed and all(_get(config, p) == [seed] for p in own)):
        keys = ", ".join(f"{p}={json.dumps(_get(config, p))}" for p in own)
        raise ValueError(f"seed={seed} does not reach {exp.name}: it loops over its own 'seeds' keys ({keys}); "
                         f"set them all with `regimes run {exp.number} --seed S1 S2 …` or --set")
    cfg = {"experiment": exp.name, "mode": mode, "seed": seed, "device": device, **config}
    check_known_keys(exp, cfg, mode)
    schema.validate_config(cfg, tasks=exp.tasks)
    return cfg


def _get(config: Any, path: str) -> Any:
    try:
        return schema.get_path(config, path)
    except KeyError:
        return None


def _key_paths(exp: Experiment, mode: str | None) -> list[str]:
    """Every dotted path ``--set`` may name for ``exp``: the paths of the ``mode`` tier (or of
    every tier when ``mode`` is ``None``) and the fields of the dataclasses ``exp.schemas``
    gives for a sub-config."""
    tiers = [c for c in (exp.quick, exp.paper, exp.full) if c is not None] if mode is None else [mode_config(exp, mode)]
    paths: set[str] = set()
    for c in tiers:
        paths.update(schema.all_paths(c))
    paths.update(_open_paths(exp, tiers))
    return sorted(paths)


def check_config_key(exp: Experiment, key: str, mode: str | None = None) -> str:
    """The full dotted path ``key`` names in ``exp``'s config, or ``ValueError``.

    ``key`` is a path (``run.lr``, ``runs.1.lam_inf``: an integer part indexes a list of
    sub-configs) of the ``mode`` tier (every tier when ``mode`` is ``None``) or a field of the
    dataclass ``exp.schemas`` gives for its parent path; or a *short key*, the last part of
    exactly one such path (``lam_inf`` for ``settings.paper.lam_inf``). The error names the
    unknown part and the known keys there, or every path an ambiguous short key names."""
    where = f"{exp.name}'s config" + ("" if mode is None else f" ({mode} tier)")
    paths = _key_paths(exp, mode)
    bare = key.removeprefix(".")
    named_here = any(p == bare or p.endswith("." + bare) for p in paths)   # ambiguous, not unknown
    try:
        return schema.resolve_key(key, paths, where)
    except ValueError as e:
        if mode is None or named_here:
            raise
        err = e
    others = [m for m in MODES if m != mode and getattr(exp, m) is not None]
    for other in others:   # a key of another tier only: a run of this tier would not read it
        try:
            schema.resolve_key(key, _key_paths(exp, other), where)
        except ValueError:
            continue
        raise ValueError(f"{key} is a key of {exp.name}'s {other} tier, not of its {mode} tier (a {mode} run never "
                         f"reads it) — add --{other}, or set a key of the {mode} tier") from None
    raise err


def key_holds_list(exp: Experiment, mode: str, path: str) -> bool:
    """Whether the leaf at ``path`` holds a list in the ``mode`` tier (or in any tier, or is
    declared a list by :data:`regimes.settings.schema.LEAVES`): ``--set path=A,B`` is then the
    list ``[A, B]``, not a sweep."""
    for c in [mode_config(exp, mode)] + [c for c in (exp.quick, exp.paper, exp.full) if c is not None]:
        try:
            return isinstance(schema.get_path(c, path), list)
        except KeyError:
            continue
    leaf = schema.LEAVES.get(path.rsplit(".", 1)[-1])
    return leaf is not None and leaf.kind == "list"


def nest_overrides(exp: Experiment, mode: str, flat: dict[str, Any]) -> dict[str, Any]:
    """Top-level overrides from ``flat`` ones whose keys may be dotted or short: ``{"run.lr": 0.1}``
    becomes ``{"run": {**<mode's run config>, "lr": 0.1}}`` (each key resolved by
    :func:`check_config_key`; a key given twice, e.g. as ``lr`` and ``run.lr``, is refused)."""
    base = copy.deepcopy(mode_config(exp, mode))
    done: dict[str, str] = {}
    touched: list[str] = []
    for key, value in flat.items():
        path = check_config_key(exp, key, mode)
        if path in done:
            raise ValueError(f"{path!r} is given twice (as {done[path]!r} and {key!r}) — give it once")
        done[path] = key
        base = schema.set_path(base, path, value)
        touched.append(path.split(".", 1)[0])
    return {top: base[top] for top in dict.fromkeys(touched)}


#: The keys :func:`full_config` adds to a tier's config (not overrides).
RUN_KEYS = ("experiment", "mode", "seed", "device")


def config_overrides(exp: Experiment, config: dict[str, Any]) -> dict[str, Any]:
    """The leaves of a stored full ``config`` that differ from ``exp``'s tier (``config["mode"]``):
    ``{dotted path: value}``, empty for a run without ``--set`` (and without a ``--seed`` that set a
    ``seeds`` list). A leaf the tier lacks, or lacks in the config, counts too."""
    tier = mode_config(exp, config.get("mode", "quick"))
    mine = dict(schema.leaves({k: v for k, v in config.items() if k not in RUN_KEYS}))
    theirs = dict(schema.leaves(jsonable(tier)))
    return {k: mine.get(k) for k in sorted(set(mine) | set(theirs))
            if k not in mine or k not in theirs or jsonable(mine[k]) != theirs[k]}


def points_dir(out: str | Path, exp: Experiment, key: str) -> Path:
    """The per-point memo folder of the run whose cache key is ``key``."""
    return Path(out) / "results" / "cache" / exp.name / f"{key}-points"


def compute_result(exp: Experiment, cfg: dict[str, Any], code: dict[str, str], *, out: str | Path,
                   quiet: bool = True, executor: dict[str, Any] | None = None, force: bool = False
                   ) -> tuple[dict[str, Any], Arrays]:
    """Run ``exp.compute`` on the full config ``cfg`` (see :func:`full_config`) and return
    its :func:`result_record` and arrays, writing nothing but the run's per-point memo under
    ``out``. The one place an experiment is computed: :func:`run` stores what it returns, a
    sweep worker (:func:`experiment_point`) ships it back to the caller, which stores it."""
    key = cache_key(cfg, code)
    ctx = RunContext(cfg, int(cfg["seed"]), cfg["device"], quiet, points_dir(out, exp, key), executor, force)
    t0 = time.perf_counter()
    from regimes import runcache

    with runcache.using(Path(out) / "results" / "runs", force=force):   # runs shared with the checks
        metrics, arrays = exp.compute(ctx)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    record = result_record(exp, cfg, key, code, metrics, time.perf_counter() - t0)
    record[DIGEST_KEY] = arrays_digest(arrays)   # ties the JSON to its .npz (checked on every read)
    return record, arrays


# --------------------------------------------------------------------------- run context
@dataclass
class RunContext:
    """What an experiment's ``compute`` receives: its config, seed, device,
    a progress-bar factory and per-point memoisation."""

    config: dict[str, Any]
    seed: int
    device: str
    quiet: bool
    points_dir: Path
    #: how :meth:`map` runs points: ``None`` in this process, else keyword arguments of
    #: :func:`regimes.sweep.run_sweep` (``jobs``, ``executor``, ``client``), set by ``regimes run``.
    executor: dict[str, Any] | None = None
    #: recompute every point (``--force``): memoised points are neither read nor kept, only overwritten
    force: bool = False

    def progress(self, iterable: Iterable, desc: str, total: int | None = None) -> Iterable:
        """A tqdm bar over ``iterable``, silent under ``--quiet`` or when not a TTY."""
        from tqdm.auto import tqdm

        disable = self.quiet or not sys.stderr.isatty()
        return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False)

    def point(self, key: dict[str, Any], fn: Callable[[], tuple[dict[str, Any], Arrays]]
              ) -> tuple[dict[str, Any], Arrays]:
        """Memoise one sweep point: ``fn() -> (json-able metrics, arrays)``.

        The point is stored under a hash of ``key`` (plus the experiment config) in
        ``points_dir``, which :func:`run` names after the run's cache key (config and
        code), with its JSON written last, so a killed run resumes at the first
        unfinished point, a half-written point is never read, and a code change
        starts a fresh folder.
        """
        h = config_hash({"config": self.config, "key": key})
        jpath, npath = self.points_dir / f"{h}.json", self.points_dir / f"{h}.npz"
        hit = None if self.force else read_complete(jpath, npath)
        if hit is not None and "metrics" in hit[0]:
            return hit[0]["metrics"], hit[1]
        metrics, arrays = fn()
        atomic_write_npz(npath, arrays)
        atomic_write_json(jpath, {"key": key, "metrics": metrics, DIGEST_KEY: arrays_digest(arrays),
                                  "complete": True})
        return metrics, arrays

    def map(self, keys: list[dict[str, Any]], fn: Callable[[dict[str, Any]], tuple[dict[str, Any], Arrays]],
            desc: str = "points") -> list[tuple[dict[str, Any], Arrays]]:
        """Memoise a batch of sweep points, ``fn(key) -> (metrics, arrays)``, in ``keys`` order.

        The same cache as :meth:`point` (a key done by either is done for both); the
        points run in parallel when the run has an executor (``regimes run NN --jobs J``
        or ``--executor dask``), so ``fn`` should be a module-level function of the
        experiment script (it is shipped to the workers by value). A key given twice is
        computed once, as with :meth:`point`.
        """
        if self.executor is None:
            return [self.point(k, lambda k=k: fn(k)) for k in self.progress(keys, desc, total=len(keys))]
        from regimes.sweep import PointCache, run_sweep

        unique = list({config_hash(k): k for k in keys}.values())
        cache = (_fresh_point_cache() if self.force else PointCache)(self.points_dir, salt=self.config)
        res = run_sweep(fn, unique, cache, quiet=self.quiet, desc=desc, **self.executor)
        by_hash = {config_hash(k): (r.metrics, r.arrays) for k, r in zip(unique, res, strict=True)}
        return [by_hash[config_hash(k)] for k in keys]


def _fresh_point_cache() -> type:
    from regimes.sweep import PointCache

    class FreshPointCache(PointCache):
        """A :class:`regimes.sweep.PointCache` that never serves a stored point (``--force``)."""

        def load(self, point: dict[str, Any]) -> None:
            return None

    return FreshPointCache


# --------------------------------------------------------------------------- experiment
Compute = Callable[[RunContext], tuple[dict[str, Any], Arrays]]
Plot = Callable[[dict[str, Any], Arrays, Path], None]


@dataclass
class Experiment:
    """One numbered experiment.

    ``compute(ctx) -> (metrics, arrays)`` does the work; ``plot(result, arrays, path)``
    draws ``path`` (a ``.png``; a ``.pdf`` beside it) from the stored result only.
    ``quick``/``full`` are the two configs every experiment has, ``paper`` the optional
    third (:data:`MODES`); ``seconds_quick``/``seconds_paper``/``seconds_full`` are measured
    runtime estimates shown by ``regimes list`` (``seconds_paper``: the wall time this
    experiment's paper tier took here, one process, two experiments sharing 2 cores); ``checks`` the ids of the checks
    it illustrates; ``schemas`` the dataclasses of its nested recipe configs.
    """

    number: str
    slug: str
    title: str
    figure: str
    quick: dict[str, Any]
    full: dict[str, Any]
    compute: Compute
    plot: Plot
    seconds_quick: float = float("nan")
    seconds_full: float = float("nan")
    checks: tuple[str, ...] = field(default_factory=tuple)
    #: the paper tier (App. A hyperparameters at CPU scale), or ``None`` when there is none
    paper: dict[str, Any] | None = None
    seconds_paper: float = float("nan")
    #: typed sub-configs by dotted path (e.g. ``{"run": TrackedRunConfig}``; a ``*`` part stands for
    #: every entry there): ``--set run.KEY=…`` may name any field of that dataclass, or any name of
    #: a tuple given instead (the fields a sub-config may set, e.g. ``{"settings.*": ("lr", …)}``),
    #: and no other key.
    schemas: dict[str, type | tuple[str, ...]] = field(default_factory=dict)
    #: the top-level sub-configs a run may switch off with ``null`` (``--set mlp=null``: that part is
    #: not run); anywhere else a sub-config must stay an object (:func:`check_known_keys`).
    optional: tuple[str, ...] = ()
    #: the task each part of the config feeds, by dotted path prefix (``""``: the whole config;
    #: ``"@run.setting"``: the task that leaf names): a modulus is held to its task's population
    #: (p² or p³) and a reading to the settings of its task (:func:`regimes.settings.schema.task_of`;
    #: a dict with its own ``setting`` decides for itself; classification where nothing says)
    tasks: dict[str, str] = field(default_factory=dict)
    #: whether ``compute`` also reads the run seed (``ctx.seed``) besides its own ``seeds`` lists:
    #: ``--seed S`` then sets both (one S only; see :func:`loops_over_seeds`)
    reads_seed: bool = False

    @property
    def name(self) -> str:
        """``NN_slug``: the stem of the script, result and figure files."""
        return f"{self.number}_{self.slug}"


@dataclass
class RunOutcome:
    """Where a run's result and figure went, and whether the cache served it."""

    result_path: Path
    figure_path: Path
    cached: bool
    result: dict[str, Any]


def run(
    exp: Experiment,
    *,
    mode: str = "quick",
    seed: int = 0,
    device: str = "cpu",
    out: str | Path = REPO_ROOT,
    force: bool = False,
    quiet: bool = False,
    overrides: dict[str, Any] | None = None,
    executor: dict[str, Any] | None = None,
) -> RunOutcome:
    """Run ``exp`` (or load it from the cache) and (re)draw its figure.

    The cache entry is named by :func:`cache_key` of the full config and the
    :func:`code_fingerprint` (the script's ``compute`` side and the library's sources):
    it is served only when both match, so after an edit the result is recomputed, and
    ``force`` recomputes regardless: the whole result *and* every memoised point of the run
    (:meth:`RunContext.point`, :meth:`RunContext.map`), which it then overwrites. The record
    carries the key as ``"config_hash"`` and the fingerprints as ``"code"``.

    ``executor`` (optional; keyword arguments of :func:`regimes.sweep.run_sweep`) lets
    :meth:`RunContext.map` compute the experiment's points in parallel; it is not
    part of the config, so it never changes the cache key or the result.
    """
    mode_config(exp, mode)   # an unknown mode, or a tier this experiment lacks: before any work
    cfg = full_config(exp, mode=mode, seed=seed, device=device, overrides=overrides)   # validated
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} requested but CUDA is not available here: use --device cpu")
    out = Path(out)
    code = code_fingerprint(exp)
    h = cache_key(cfg, code)
    results_dir, figures_dir = out / "results", out / "figures"
    cache_json = results_dir / "cache" / exp.name / f"{h}.json"
    cache_npz = cache_json.with_suffix(".npz")
    result_path, npz_path = results_dir / f"{exp.name}.json", results_dir / f"{exp.name}.npz"
    figure_path = figures_dir / f"{exp.name}.png"

    clean_out(out)   # temp files of killed runs
    cached = False
    result: dict[str, Any] | None = None
    hit = None if force else read_complete(cache_json, cache_npz)
    if hit is not None and hit[0].get("config_hash") == h and hit[0].get("code") == code:
        (result, arrays), cached = hit, True
    if result is None:
        result, arrays = compute_result(exp, cfg, code, out=out, quiet=quiet, executor=executor, force=force)
        atomic_write_npz(cache_npz, arrays)
        atomic_write_json(cache_json, result)
        # Plot from what was stored, exactly as a cache hit would: a figure never
        # sees in-memory-only types (int dict keys, numpy scalars, NaN for null).
        result, arrays = json.loads(cache_json.read_text()), load_npz(cache_npz)
    # a cache hit whose files are already in place writes nothing (a read-only --out works)
    if not _holds(result_path, npz_path, result):
        atomic_write_npz(npz_path, arrays)
        atomic_write_json(result_path, result)
    if _stale_figure(exp, figure_path, result_path):
        draw_figure(exp, result, arrays, figure_path)
    return RunOutcome(result_path, figure_path, cached, result)


def clean_out(out: str | Path) -> int:
    """Remove the temp files and folders that killed runs left in ``out`` (its ``results/``
    and ``figures/`` trees and the report's build folders at the top); return how many. A
    running process's temp files are kept (:func:`regimes.store.clean_stale_temps`)."""
    out = Path(out)
    return (clean_stale_temps(out, recursive=False) + clean_stale_temps(out / "results")
            + clean_stale_temps(out / "figures"))


def _holds(jpath: Path, npath: Path, record: dict[str, Any]) -> bool:
    """Whether ``jpath``/``npath`` already hold ``record`` and its arrays (tied by their digest)."""
    try:
        have = read_complete(jpath, npath) if DIGEST_KEY in record else None
    except ValueError:
        return False
    return have is not None and jsonable(have[0]) == jsonable(record)


def _stale_figure(exp: Experiment, figure: Path, result: Path) -> bool:
    """Whether ``figure`` must be (re)drawn: it is missing, or older than the result it shows,
    the experiment's script (its ``plot``) or the suite's figure style (:mod:`regimes.plots`)."""
    try:
        drawn = figure.stat().st_mtime
    except OSError:
        return True
    sources = [result, PACKAGE_DIR / "plots.py", source_file(exp.plot)]
    for src in sources:
        try:
            if src is not None and src.stat().st_mtime >= drawn:
                return True
        except OSError:
            return True
    return False


def os_error_in(e: BaseException) -> OSError | None:
    """The ``OSError`` behind ``e`` (``e`` itself, or its cause or context), or ``None``: a full
    disk inside matplotlib surfaces as an ``AttributeError`` raised while it cleans up."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, OSError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def draw_figure(exp: Experiment, result: dict[str, Any], arrays: Arrays, path: Path) -> None:
    """Draw ``exp``'s figure at ``path`` atomically: the plot writes into a temp folder beside
    ``path`` and each file it wrote (the PNG, the PDF beside it, ...) is moved under its final
    name with ``os.replace``, so a kill or a full disk never leaves a truncated figure. An
    ``OSError`` behind the plot's error is raised as itself, naming the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.stem}.{temp_tag()}.", suffix=".tmp"))
    try:
        try:
            exp.plot(result, arrays, tmp / path.name)
        except Exception as e:
            ose = os_error_in(e)
            if ose is None or ose is e:
                raise
            raise type(ose)(ose.errno, ose.strerror, str(path)) from None
        for f in sorted(tmp.iterdir(), key=lambda f: f.suffix != path.suffix):   # the PNG first
            os.replace(f, path.parent / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def configure_threads(threads: int | None, mode: str) -> None:
    """Set torch's intra-op thread count for a run.

    ``None`` means 1 thread for quick and paper configs (tiny tensors: thread start-up
    dominates, and on a shared 2-core machine 2 threads were measured 10-100×
    slower than 1; the paper tier uses the cores through ``--jobs``, one run per
    process) and torch's default for full configs.
    """
    check_mode(mode)
    import torch

    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads={threads} is out of range: need threads >= 1")
        torch.set_num_threads(threads)
    elif mode in ("quick", "paper"):
        torch.set_num_threads(1)


def parser_for(exp: Experiment) -> argparse.ArgumentParser:
    """The command-line interface every experiment script shares."""
    ap = argparse.ArgumentParser(prog=f"experiments/{exp.name}.py", description=f"{exp.title} ({exp.figure})")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="minutes on a laptop CPU (default)")
    g.add_argument("--paper", dest="mode", action="store_const", const="paper",
                   help="the paper's hyperparameters at CPU scale (experiments 07-12, 20 and 23)")
    g.add_argument("--full", dest="mode", action="store_const", const="full", help="paper scale")
    ap.set_defaults(mode="quick")
    ap.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--out", default=str(REPO_ROOT), help="folder holding results/ and figures/ (default: repo root)")
    ap.add_argument("--force", action="store_true", help="recompute even if a cached result exists")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: 1 for --quick/--paper, torch's default for --full)")
    return ap


def main(exp: Experiment, argv: list[str] | None = None) -> int:
    """Entry point of an experiment script."""
    args = parser_for(exp).parse_args(argv)
    try:
        configure_threads(args.threads, args.mode)
        outcome = run(exp, mode=args.mode, seed=args.seed, device=args.device, out=args.out,
                      force=args.force, quiet=args.quiet)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    tag = "cached" if outcome.cached else f"{outcome.result['wall_time_s']:.1f} s"
    print(f"{exp.name}: {outcome.figure_path} ({tag}); results in {outcome.result_path}")
    return 0


# --------------------------------------------------------------------------- experiments as sweep points
@dataclass(frozen=True)
class ExperimentPoint:
    """One run of a numbered experiment as a sweep point: which script, which config."""

    script: str
    mode: str = "quick"
    seed: int = 0
    device: str = "cpu"
    overrides: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"script": self.script, "mode": self.mode, "seed": self.seed, "device": self.device,
                "overrides": dict(self.overrides)}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ExperimentPoint:
        return ExperimentPoint(d["script"], d["mode"], int(d["seed"]), d["device"],
                               tuple(sorted(d.get("overrides", {}).items())))

    def full_config(self, exp: Experiment) -> dict[str, Any]:
        """:func:`full_config` of this run."""
        return full_config(exp, mode=self.mode, seed=self.seed, device=self.device,
                           overrides=dict(self.overrides))


class ExperimentCache:
    """The harness's own cache as a :class:`regimes.sweep.Cache`:
    ``out/results/cache/NN_slug/{hash}.json`` (+ ``.npz``).

    A point's "metrics" here are the harness's whole result record (config,
    metrics, versions, git revision, wall time, code fingerprints), so an entry
    written by a sweep is a cache hit for :func:`run` and vice versa.
    The key is :func:`cache_key` (config and code), with the code
    fingerprinted once per script when the cache first names one of its points; a
    result computed by other code (a worker with another checkout, or an edit during
    the sweep) is refused by :meth:`store`.
    """

    def __init__(self, out: str | Path, force: bool = False) -> None:
        self.out = Path(out)
        self.force = force
        self._exps: dict[str, Experiment] = {}
        self._code: dict[str, dict[str, str]] = {}

    def _exp(self, script: str) -> Experiment:
        if script not in self._exps:
            self._exps[script] = load_script(script)
            self._code[script] = code_fingerprint(self._exps[script])
        return self._exps[script]

    def key(self, point: dict[str, Any]) -> str:
        pt = ExperimentPoint.from_dict(point)
        return cache_key(pt.full_config(self._exp(pt.script)), self._code[pt.script])

    def paths(self, point: dict[str, Any]) -> tuple[Path, Path]:
        exp = self._exp(point["script"])
        jpath = self.out / "results" / "cache" / exp.name / f"{self.key(point)}.json"
        return jpath, jpath.with_suffix(".npz")

    def load(self, point: dict[str, Any]) -> tuple[dict[str, Any], Arrays] | None:
        if self.force:
            return None
        hit = read_complete(*self.paths(point))
        ok = (hit is not None and hit[0].get("config_hash") == self.key(point)
              and hit[0].get("code") == self._code[point["script"]])
        return hit if ok else None

    def store(self, point: dict[str, Any], metrics: dict[str, Any], arrays: Arrays) -> Path:
        from regimes.sweep import SweepError

        key, code = self.key(point), self._code[point["script"]]
        if metrics.get("config_hash") != key or metrics.get("code") != code:
            raise SweepError(
                f"{point['script']} was computed by other code than this checkout's (code "
                f"{metrics.get('code')} on {metrics.get('host', '?')}, here {code}): give the "
                "workers the same checkout, and do not edit the script or the library during a sweep")
        jpath, npath = self.paths(point)
        atomic_write_npz(npath, arrays)
        atomic_write_json(jpath, metrics)
        return jpath


def experiment_point(point: dict[str, Any], *, out: str, quiet: bool = True
                     ) -> tuple[dict[str, Any], Arrays]:
    """Compute one experiment run on a sweep worker; returns the harness's result record.

    Runs :func:`compute_result` exactly as :func:`run` does (same config, same per-point
    memo folder under ``out``), but writes nothing but that memo: the caller stores the
    result, so results flow back into one cache.
    """
    pt = ExperimentPoint.from_dict(point)
    exp = load_script(pt.script)
    if pt.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            from regimes.sweep import SweepError

            raise SweepError(f"device={pt.device!r} but CUDA is not available on worker "
                             f"{platform.node()}: use --device cpu or GPU workers")
    result, arrays = compute_result(exp, pt.full_config(exp), code_fingerprint(exp), out=out, quiet=quiet)
    return jsonable(result), {k: np.asarray(v) for k, v in arrays.items()}


def point_tag(point: dict[str, Any]) -> str:
    """The file stem of one sweep point's result: ``key=value_…_seed=S`` (overrides sorted)."""
    parts = [f"{k}={config_hash(v)[:8] if isinstance(v, dict) else v}" for k, v in sorted(point["overrides"].items())]
    parts += [f"seed={point['seed']}"]
    return "_".join(parts).replace("/", "-").replace(" ", "")


def write_sweep(exp: Experiment, results: list[Any], *, out: str | Path, mode: str, executor: str, jobs: int,
                on_point: Callable[[str, Path, bool], None] | None = None) -> Path:
    """Store a finished sweep of ``exp`` (:class:`regimes.sweep.PointResult` s of
    :class:`ExperimentPoint` s): per point ``out/results/NN_slug/<tag>.json`` (+ ``.npz``)
    and its figure ``out/figures/NN_slug/<tag>.png``, then the index
    ``out/results/NN_slug.sweep.json``; returns the index's path. ``on_point(tag, figure,
    cached)`` (optional) is called after each point is written."""
    out = Path(out)
    ipath = out / "results" / f"{exp.name}.sweep.json"
    index = []
    for r in results:
        tag = point_tag(r.point)
        rpath = out / "results" / exp.name / f"{tag}.json"
        fpath = out / "figures" / exp.name / f"{tag}.png"
        if not _holds(rpath, rpath.with_suffix(".npz"), r.metrics):
            atomic_write_npz(rpath.with_suffix(".npz"), r.arrays)
            atomic_write_json(rpath, r.metrics)
        if _stale_figure(exp, fpath, rpath):
            draw_figure(exp, r.metrics, r.arrays, fpath)
        # paths relative to the index's folder: the sweep loads from any working directory
        index.append({"point": {"seed": r.point["seed"], **r.point["overrides"]},
                      "config_hash": r.hash, "cached": r.cached,
                      "result": os.path.relpath(rpath, ipath.parent), "figure": os.path.relpath(fpath, ipath.parent)})
        if on_point:
            on_point(tag, fpath, r.cached)
    record = {"experiment": exp.name, "mode": mode, "executor": executor, "jobs": jobs,
              "points": index, "complete": True}
    try:
        same = json.loads(ipath.read_text()) == jsonable(record)
    except (OSError, ValueError):
        same = False
    if not same:
        atomic_write_json(ipath, record)
    return ipath


# --------------------------------------------------------------------------- publishing
#: Where committed results live (``docs/results/<mode>/``) and the figures drawn from them.
PUBLISHED_DIR = REPO_ROOT / "docs" / "results"
GALLERY_DIR = REPO_ROOT / "docs" / "gallery"


def publish(exps: list[Experiment], *, out: str | Path = REPO_ROOT, mode: str = "quick",
            to: str | Path | None = None, gallery: str | Path | None = None,
            checks_file: str | Path | None = None, allow_overrides: bool = False) -> dict[str, Any]:
    """Copy the finished results of ``exps`` (``out/results/NN_slug.json`` + ``.npz``) and the
    stored check verdicts into the committed folder ``to`` (default ``docs/results/<mode>``),
    redraw every figure (PNG and PDF) from the *copied* files into ``gallery`` (default ``docs/gallery`` for
    quick mode, ``docs/gallery/<mode>`` for the others),
    and write ``MANIFEST.json`` there: per experiment its config hash, seed, git revision and
    wall time, plus the versions and the machine.

    Only results computed in ``mode`` are taken (a full-mode result never lands in the
    quick folder); for ``mode="paper"`` only the experiments that have a paper tier are
    published. Raises ``FileNotFoundError`` naming the command that would produce a
    missing result, before anything is copied, and ``ValueError`` for a result computed with
    ``--set`` overrides (:func:`config_overrides`: not the tier the README quotes) unless
    ``allow_overrides``; the manifest records each experiment's overrides either way.
    """
    check_mode(mode)
    if mode == "paper":
        exps = [e for e in exps if e.paper is not None]
    out = Path(out)
    to = PUBLISHED_DIR / mode if to is None else Path(to)
    if gallery is None:   # the README's gallery is quick mode's; other tiers draw into a subfolder
        gallery = GALLERY_DIR if mode == "quick" else GALLERY_DIR / mode
    gallery = Path(gallery)
    found = []
    for exp in exps:
        hit = read_complete(out / "results" / f"{exp.name}.json", out / "results" / f"{exp.name}.npz", strict=True)
        if hit is None or hit[0].get("config", {}).get("mode") != mode:
            raise FileNotFoundError(f"no finished {mode}-mode result for {exp.name} under {out / 'results'}: "
                                    f"run `regimes run {exp.number} --{mode} --out {out}` first")
        over = config_overrides(exp, hit[0].get("config", {}))
        if over and not allow_overrides:
            shown = ", ".join(f"{k}={json.dumps(jsonable(v))}" for k, v in over.items())
            raise ValueError(f"{exp.name}'s stored {mode}-mode result was computed with overrides ({shown}), not "
                             f"the {mode} tier: rerun `regimes run {exp.number} --{mode}` without --set, or "
                             "publish it anyway with --allow-overrides (the manifest records them)")
        found.append((exp, *hit, over))
    checks_src = Path(checks_file) if checks_file is not None else out / "results" / "checks.json"
    manifest: dict[str, Any] = {"mode": mode, "published_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                "versions": versions(), "machine": machine(), "experiments": {}}
    gallery.mkdir(parents=True, exist_ok=True)
    for exp, result, arrays, over in found:
        atomic_write_json(to / f"{exp.name}.json", result)
        atomic_write_npz(to / f"{exp.name}.npz", arrays)
        stored, stored_arrays = json.loads((to / f"{exp.name}.json").read_text()), load_npz(to / f"{exp.name}.npz")
        draw_figure(exp, stored, stored_arrays, gallery / f"{exp.name}.png")   # and its vector copy, NN_slug.pdf
        manifest["experiments"][exp.name] = {k: result.get(k) for k in
                                             ("config_hash", "git_revision", "wall_time_s", "finished_at", "host")}
        manifest["experiments"][exp.name]["seed"] = result["config"].get("seed")
        manifest["experiments"][exp.name]["overrides"] = jsonable(over)
    if checks_src.exists():
        try:
            checks = json.loads(checks_src.read_text())
        except ValueError as e:
            raise ValueError(f"the stored verdicts {checks_src} are corrupt ({e}): rerun `regimes check` after "
                             "deleting or moving the file") from None
        atomic_write_json(to / "checks.json", checks)
        manifest["checks"] = {e["id"]: {"verdict": e.get("verdict"), "mode": e.get("mode"), "wall_s": e.get("wall_s"),
                                        "git_revision": e.get("git_revision")}
                              for e in checks.get("checks", [])}
    manifest["total_experiment_wall_s"] = sum(float(e["wall_time_s"] or 0) for e in manifest["experiments"].values())
    manifest["total_check_wall_s"] = sum(float(c["wall_s"] or 0) for c in manifest.get("checks", {}).values())
    atomic_write_json(to / "MANIFEST.json", manifest)
    return manifest


# --------------------------------------------------------------------------- re-analysis
@dataclass
class LoadedRun:
    """One stored training run of an experiment, rebuilt for re-analysis (:func:`load_run`).

    ``config`` is the experiment's full config, ``metrics`` its stored JSON result record
    (config, metrics, run metadata), ``arrays`` every array of the result's ``.npz``,
    ``point`` what selects this run (e.g. ``{"run": 0, "seed": 1}``), ``run_key`` its name
    in the arrays (``params/<run_key>/…``) and ``nets`` the models rebuilt from the stored
    parameters, by snapshot: ``"final"`` always, ``"t_mem"``, ``"t_exit"``, ``"t_grok"``
    where the run reached them (:func:`regimes.runs.rebuild_net`; parameters are stored as
    float32). ``steps`` gives the training step of each snapshot (``None`` for ``"final"``).
    """

    experiment: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    arrays: Arrays
    point: dict[str, Any]
    run_key: str
    nets: dict[str, Any]
    steps: dict[str, int | None]
    result_path: Path

    @property
    def net(self) -> Any:
        """The trained model (the ``"final"`` snapshot)."""
        return self.nets["final"]


def _runs_in(result_path: Path, base_point: dict[str, Any]) -> list[tuple[dict[str, Any], str, Path]]:
    """(point, run_key, result path) of every run stored in one result file."""
    from regimes.runs import stored_runs

    if not result_path.exists():
        return []
    hit = read_complete(result_path, result_path.with_suffix(".npz"), strict=True)
    if hit is None:
        raise ValueError(f"the stored result {result_path} (or its {result_path.with_suffix('.npz').name}) is "
                         f"missing, half-written or corrupt: delete both files and run `{_rerun_command(result_path)}` "
                         "to write them again")
    seed = hit[0].get("config", {}).get("seed")
    return [({**({"seed": seed} if seed is not None else {}), **base_point, **run["point"]}, key, result_path)
            for key, run in stored_runs(hit[1]).items()]


def _rerun_command(result_path: Path) -> str:
    """The ``regimes run`` command that writes ``result_path`` again: its number, mode and seed,
    and a ``--set`` for every top-level config value that differs from the mode's config (read
    from the JSON if it still parses; the bare command otherwise)."""
    sweep_point = result_path.parent.name != "results"   # results/NN_slug/<tag>.json
    num = (result_path.parent.name if sweep_point else result_path.stem)[:2]
    try:
        cfg = json.loads(result_path.read_text())["config"]
        mode, seed = cfg["mode"], cfg["seed"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"regimes run {num}"
    sets = ""
    script = next(iter(sorted(EXPERIMENTS_DIR.glob(f"{num}_*.py"))), None)
    if script is not None:
        with contextlib.suppress(Exception):
            base = mode_config(load_script(script), mode)
            skip = {"experiment", "mode", "seed", "device"}
            # '.k': the top-level key alone (a bare k is refused when a nested key shares its name)
            sets = "".join(f" --set '.{k}={json.dumps(jsonable(v), separators=(',', ':'))}'"
                           for k, v in cfg.items() if k not in skip and base.get(k) != v)
    out = result_path.parent.parent.parent if sweep_point else result_path.parent.parent
    where = "" if out.resolve() == REPO_ROOT else f" --out {out}"
    # --seed 0 is the default, and on an experiment with seeds lists it would set them all to [0]
    return f"regimes run {num} --{mode}{f' --seed {seed}' if seed != 0 else ''}{sets}{where}"


def load_run(experiment: str, *, out: str | Path = REPO_ROOT, published: bool | str = False,
             **point: Any) -> LoadedRun:
    """The stored training run of experiment ``experiment`` (its number, e.g. ``"10"``) that
    ``point`` selects, with its nets rebuilt from the stored parameters.

    Looks in ``out/results/`` (the ``--out`` folder of ``regimes run``; default the repo
    root), or with ``published=True`` (or ``"quick"``/``"paper"``/``"full"``) in the committed
    ``docs/results/<mode>/``: the experiment's result ``NN_slug.json`` (+ ``.npz``) and the
    points of a ``regimes run NN --seed … --set …`` sweep (``NN_slug.sweep.json``). Every
    training run stored there (:func:`regimes.runs.file_params`) has a point: the run's own
    keys (e.g. ``run``/``seed`` for experiment 10, ``alpha``/``seed`` for 11, ``model`` for
    13) plus the sweep point's overrides and seed. ``point`` must match exactly one run.

    Raises ``FileNotFoundError`` naming the command that would produce the result if the
    experiment (or a run matching ``point``) was never run there, and ``ValueError`` listing
    the stored points if ``point`` matches several runs (e.g. none given).

    >>> import tempfile
    >>> from regimes.harness import discover, run, load_run
    >>> exp = next(e for e in discover() if e.number == "12")
    >>> out = tempfile.mkdtemp()
    >>> tiny = {"p": 11, "d_model": 8, "n_heads": 2, "d_mlp": 16, "steps": 20, "n_track": 4,
    ...         "after_pairs": 5, "seeds": [0]}
    >>> _ = run(exp, out=out, quiet=True, overrides=tiny)
    >>> r = load_run("12", out=out, seed=0)
    >>> type(r.net).__name__, r.net.p, r.point
    ('Transformer', 11, {'seed': 0})
    """
    num = str(experiment).strip()
    if not num.isdigit():
        raise ValueError(f"experiment={experiment!r} is not allowed: give the experiment's number, e.g. '10'")
    num = f"{int(num):02d}"
    if published:
        mode = published if isinstance(published, str) else "quick"
        if mode not in MODES:
            raise ValueError(f"published={published!r} is not allowed: True, 'quick', 'paper' or 'full'")
        results_dir, how = PUBLISHED_DIR / mode, f"regimes run {num} --{mode} && regimes publish --{mode}"
    else:
        out = Path(out)
        results_dir = out / "results"
        how = f"regimes run {num} --quick" + ("" if out.resolve() == REPO_ROOT else f" --out {out}")
    found = sorted(p for p in results_dir.glob(f"{num}_*.json") if not p.name.endswith(".sweep.json"))
    sweeps = sorted(results_dir.glob(f"{num}_*.sweep.json"))
    entries: list[dict[str, Any]] = []
    candidates: list[tuple[dict[str, Any], str, Path]] = []
    for path in found:
        candidates += _runs_in(path, {})
    for spath in sweeps:
        entries = []
        with contextlib.suppress(OSError, ValueError, KeyError):
            entries = json.loads(spath.read_text())["points"]
        for entry in entries:   # paths are relative to the index's folder
            candidates += _runs_in(spath.parent / entry["result"], dict(entry["point"]))
    if not candidates:
        raise FileNotFoundError(f"no stored training run of experiment {num} under {results_dir}: "
                                f"`{how}` produces it")
    matches = [c for c in candidates if all(k in c[0] and c[0][k] == v for k, v in point.items())]
    # the same run reached through the result and a sweep point: keep one
    uniq = {(json.dumps(jsonable(c[0]), sort_keys=True), c[1], str(c[2])): c for c in matches}
    matches = list(uniq.values())
    listing = "; ".join(json.dumps(jsonable(c[0]), sort_keys=True) for c in candidates)
    if not matches:
        sets = " ".join(f"--set {k}={json.dumps(jsonable(v))}" for k, v in point.items() if k != "seed")
        seed = f" --seed {point['seed']}" if "seed" in point else ""
        raise FileNotFoundError(f"experiment {num} has no stored run at {point} under {results_dir} "
                                f"(stored: {listing}): `{how}{seed}{(' ' + sets) if sets else ''}` "
                                "produces it if the point is in the experiment's config")
    if len(matches) > 1:
        raise ValueError(f"point={point} matches {len(matches)} stored runs of experiment {num}: "
                         f"give one of {listing}")
    pt, key, path = matches[0]
    from regimes.runs import rebuild_net, stored_runs

    result, arrays = read_complete(path, path.with_suffix(".npz"), strict=True)  # read by _runs_in just now
    snaps = stored_runs(arrays)[key]["snapshots"]
    pre = f"params/{key}/" if key else "params/"
    nets = {s: rebuild_net(arrays, key, s) for s in snaps}
    steps = {s: (int(arrays[f"{pre}{s}/step"]) if f"{pre}{s}/step" in arrays else None) for s in snaps}
    return LoadedRun(result.get("experiment", path.stem), result.get("config", {}), result, arrays, pt, key,
                     nets, steps, path)


# --------------------------------------------------------------------------- discovery
def load_script(script: str | Path) -> Experiment:
    """The ``EXPERIMENT`` defined by an ``experiments/NN_slug.py`` script (the one loader:
    discovery, the CLI and sweep workers use it). A path that does not exist here is looked
    up by name in :data:`EXPERIMENTS_DIR` (a worker on another machine, same checkout)."""
    path = Path(script)
    if not path.exists():
        path = EXPERIMENTS_DIR / path.name
    spec = importlib.util.spec_from_file_location(f"regimes_experiment_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"script={str(script)!r} is not an experiment script: give an experiments/NN_slug.py file")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.EXPERIMENT


def discover(directory: Path = EXPERIMENTS_DIR) -> list[Experiment]:
    """Every ``experiments/NN_slug.py`` module's ``EXPERIMENT``, in number order."""
    return [load_script(path) for path in sorted(Path(directory).glob("[0-9][0-9]_*.py"))]
