"""One schema convention for every run config: checked before any work, by value.

A run config is a nested dict (an experiment's tier, with ``--set`` overrides applied; see
:func:`regimes.harness.full_config`). Its *leaves* are addressed by dotted paths: ``p``,
``base.fraction``, ``run.lr``, ``runs.1.lam_inf`` (an integer part indexes a list of
sub-configs). :data:`LEAVES` gives, for every leaf *name* that means one thing across the
suite (``p``, ``seed``, ``lr``, ``fraction``, ``dtype``, ``device``, ``optimizer`` …), the type,
the range, finiteness and the allowed choices; :func:`validate_config` walks a config and checks
every leaf whose name it declares, wherever it sits, and :func:`validate_value` checks one.

Rules of the convention:

* **By value, never by truthiness.** ``fraction=0`` is out of range (a training set of no
  points), not "not given"; ``None`` is accepted only where :data:`LEAVES` says the leaf is
  optional (``fraction``: then the run's ``n_rule`` decides n).
* **Integers are integers.** ``1.5`` is refused for a seed or a count, never truncated; a
  bool is not an integer.
* **Reals are finite.** ``lr=Infinity`` and ``NaN`` are refused with their key.
* **Choices are closed.** ``dtype="float46"`` is refused, not trained in float32.
* **One line per failure** — ``ValueError("<path>=<value> is not allowed: <what is allowed>")``
  naming the full dotted path, the value and what is allowed.

The command line's syntax for values (:func:`parse_set`): ``--set KEY=VALUE``. A value is read
as JSON when it parses (``1e-3``, ``true``, ``"text"``, ``[1, 2]``, ``{"lr": 0.1}``), else as
text. ``KEY=A,B`` is a *sweep* over A and B when KEY holds one value (``p=11,17``) and *the list*
``[A, B]`` when KEY holds a list (``methods=kernel,net``, ``ps=11`` → ``[11]``); a JSON list or
object (``'k=[1,2]'``, ``'settings.paper={"lam_inf":1e-3,"lr":0.1}'``) is one value and is never
split on its commas. ``KEY=A;B`` sweeps over A and B for any KEY (``'ps=[11];[17,23]'``).

A short KEY (a bare name, no dot) resolves to the one path of that name (:func:`resolve_key`):
``lam_inf`` means ``settings.paper.lam_inf`` when no other path is called ``lam_inf``; when
several are (a top-level ``steps`` and ``long.steps``, say), it is refused and the error lists
every full path. A dotted KEY is a full path from the top; a leading dot (``.steps``) names the
top-level key alone.

Beyond each leaf by name, :func:`validate_config` checks what a leaf means *for the run it
feeds*: every list leaf is non-empty (its items are the runs); a modulus (``p``, ``ps``, …)
fits its task's population limit (p² pairs for classification, p³ triples for regression,
:func:`max_p`) and the memory the run would need (:func:`run_bytes`, against
:func:`memory_budget`); and every reading (``reading``, ``readings``) names open settings of
the paper (:func:`regimes.settings.mohamadi.resolve_reading`) that apply to its task.

>>> validate_config({"p": 11, "base": {"fraction": 0.5, "lr": 1e-3}, "seeds": [0, 1]})["p"]
11
>>> validate_config({"base": {"fraction": 0}})
Traceback (most recent call last):
...
ValueError: base.fraction=0 is not allowed: a real number in (0, 1] (or null)
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from regimes._validate import MAX_POINTS, MAX_SEED
from regimes.settings.mohamadi import OPEN_SETTINGS, resolve_reading

#: The largest modulus any run may ask for: its pairs (p²) must fit the population limit
#: :data:`regimes._validate.MAX_POINTS`. A regression run's p³ triples must fit it too, so its
#: modulus is held to :data:`MAX_P_REGRESSION` (:func:`max_p`).
MAX_P = math.isqrt(MAX_POINTS)


def _icbrt(n: int) -> int:
    r = round(n ** (1 / 3))
    while r**3 > n:
        r -= 1
    while (r + 1) ** 3 <= n:
        r += 1
    return r


#: The largest modulus of a regression run: its p³ triples fit :data:`regimes._validate.MAX_POINTS`.
MAX_P_REGRESSION = _icbrt(MAX_POINTS)

DTYPES = ("float32", "float64")
#: the optimizers of :data:`regimes.train.OPTIMIZERS` (``gd``, ``normalized_gd``, ``sgd``, ``adam``, ``adamw``)
OPTIMIZERS = ("gd", "normalized_gd", "sgd", "adam", "adamw")
LOSSES = ("mse", "cross_entropy")
SETTINGS = ("classification", "regression")
DISTS = ("uniform", "normal", "standard_normal", "rademacher")


@dataclass(frozen=True)
class Leaf:
    """What one config leaf may hold.

    ``kind``: ``"int"``, ``"real"``, ``"bool"``, ``"choice"``, ``"device"``, ``"seed"`` or
    ``"list"`` (of ``item``); ``low``/``high`` bound ints and reals (``open_low``/``open_high``
    exclude the bound); ``choices`` for ``"choice"``; ``optional``: ``None`` is allowed;
    ``count_ok`` (lists only): a positive integer k is also allowed, meaning ``0 … k−1``.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()
    item: Leaf | None = None
    optional: bool = False
    count_ok: bool = False

    def allowed(self) -> str:
        """What is allowed, in words (the tail of every error)."""
        if self.kind == "list":
            assert self.item is not None
            item = self.item.allowed().removeprefix("a ").removeprefix("an ")
            item = item.replace("integer ", "integers ", 1).replace("real number ", "real numbers ", 1)
            s = f"a non-empty list of {item}"
            return s + (" (or a count k: 0 … k−1)" if self.count_ok else "")
        if self.kind in ("int", "real"):
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            br = ("(" if self.open_low or self.low is None else "[") + f"{lo}, {hi}" + (
                ")" if self.open_high or self.high is None else "]")
            s = f"an integer in {br}" if self.kind == "int" else f"a real number in {br}"
        elif self.kind == "seed":
            s = f"an integer seed in [0, {MAX_SEED}]"
        elif self.kind == "bool":
            s = "true or false"
        elif self.kind == "device":
            s = "'cpu', 'cuda' or 'cuda:N'"
        else:
            s = "one of " + ", ".join(map(repr, self.choices))
        return s + (" (or null)" if self.optional else "")


def _int(low: int | None = None, high: int | None = None, **kw: Any) -> Leaf:
    return Leaf("int", low, high, **kw)


def _real(low: float | None = None, high: float | None = None, **kw: Any) -> Leaf:
    return Leaf("real", low, high, **kw)


def _list(item: Leaf, **kw: Any) -> Leaf:
    return Leaf("list", item=item, **kw)


_P = _int(2, MAX_P)
_SEED = Leaf("seed")
_FRACTION = _real(0, 1, open_low=True)
_SHARE = _real(0, 1, open_low=True)          # thresholds: a share of points, in (0, 1]
_POS = _real(0, None, open_low=True)         # finite and > 0
_NONNEG = _real(0, None)                     # finite and >= 0
_COUNT = _int(1)

#: Every leaf name that means one thing across the suite, with what it may hold. A leaf not
#: named here is checked by the code that reads it (its recipe's dataclass ``validate``).
LEAVES: dict[str, Leaf] = {
    # the task
    "p": _P, "ps": _list(_P), "setting": Leaf("choice", choices=SETTINGS),
    "fraction": Leaf("real", 0, 1, open_low=True, optional=True), "fractions": _list(_FRACTION),
    "frac_cls": _FRACTION, "frac_reg": _FRACTION, "train_fraction": _FRACTION,
    # randomness and placement
    "seed": _SEED, "seeds": _list(_SEED, count_ok=True), "device": Leaf("device"),
    "dtype": Leaf("choice", choices=DTYPES),
    # the model
    "h": _COUNT, "width_mult": _COUNT, "alpha": _POS, "alphas": _list(_POS),
    "dist": Leaf("choice", choices=DISTS), "d_model": _COUNT, "n_heads": _COUNT, "hidden": _COUNT,
    "d_embed": _COUNT, "d_mlp": Leaf("int", 1, optional=True),
    # the optimiser and the objective
    "optimizer": Leaf("choice", choices=OPTIMIZERS), "loss": Leaf("choice", choices=LOSSES),
    "lr": _POS, "lrs": _list(_POS), "weight_decay": _NONNEG, "wds": _list(_NONNEG), "wd_fixed": _NONNEG,
    "lam_inf": _NONNEG, "momentum": _real(0, 1, open_high=True), "steps": _COUNT, "wd_start": _int(0),
    "wd_on": _int(0),
    # measurement (eval_size / after_pairs 0: no held-out eNTK subset / no after-kernel scoring)
    "n_track": _COUNT, "eval_every": _COUNT, "eval_size": _int(0), "after_pairs": _int(0), "after_every": _COUNT,
    "grok_threshold": _SHARE, "gen_threshold": _SHARE, "exit_threshold": _SHARE,
    "stop_at": Leaf("real", 0, 1, open_low=True, optional=True), "onset_level": _SHARE,
    "track": Leaf("bool"), "exit_relative": Leaf("bool"), "grad_norms": Leaf("bool"),
    # kernel solvers: the relative eigenvalue cutoff of the pseudo-inverse
    "rcond": Leaf("real", 0, 1, open_high=True, optional=True),
    "trials": _COUNT,
    # the central paper's readings (regimes.settings.mohamadi.OPEN_SETTINGS) and normalized GD's field
    **{name: Leaf("choice", choices=tuple(OPEN_SETTINGS[name].options))
       for name in ("normalization", "square_loss", "sampling", "linf_ties")},
    "normalize": Leaf("choice", choices=tuple(OPEN_SETTINGS["normalization"].options)),
}


def _fail(path: str, value: Any, leaf: Leaf) -> ValueError:
    shown = json.dumps(value) if isinstance(value, int | float | str | bool | list | type(None)) else repr(value)
    return ValueError(f"{path}={shown} is not allowed: {leaf.allowed()}")


def validate_value(path: str, value: Any, leaf: Leaf) -> Any:
    """``value`` if ``leaf`` allows it, else ``ValueError`` naming ``path``, the value and what is
    allowed (one line). Returns the value unchanged (an int stays an int)."""
    if value is None:
        if leaf.optional:
            return value
        raise _fail(path, value, leaf)
    k = leaf.kind
    if k == "list":
        assert leaf.item is not None
        if leaf.count_ok and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if not isinstance(value, list | tuple) or not value:
            raise _fail(path, value, leaf)
        for i, v in enumerate(value):
            try:
                validate_value(f"{path}[{i}]", v, leaf.item)
            except ValueError:
                raise _fail(path, value, leaf) from None
        return value
    if k in ("int", "seed"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, value, leaf)
        lo, hi = (0, MAX_SEED) if k == "seed" else (leaf.low, leaf.high)
    elif k == "real":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(path, value, leaf)
        lo, hi = leaf.low, leaf.high
    elif k == "bool":
        if not isinstance(value, bool):
            raise _fail(path, value, leaf)
        return value
    elif k == "device":
        ok = isinstance(value, str) and (value in ("cpu", "cuda")
                                         or (value.startswith("cuda:") and value[5:].isdigit()))
        if not ok:
            raise _fail(path, value, leaf)
        return value
    else:
        if value not in leaf.choices:
            raise _fail(path, value, leaf)
        return value
    if lo is not None and (value < lo or (leaf.open_low and value == lo)):
        raise _fail(path, value, leaf)
    if hi is not None and (value > hi or (leaf.open_high and value == hi)):
        raise _fail(path, value, leaf)
    return value


def leaves(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted path, value)`` leaf of ``config``, depth first: a dict's entries by key,
    a list whose items are all dicts (rows of sub-configs) by index; any other value is a leaf
    (the walk of :func:`nodes`, without the dicts and the lists of dicts)."""
    for path, v in nodes(config, prefix):
        if not (isinstance(v, Mapping) or (isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v))):
            yield path, v


def validate_config(config: Mapping[str, Any], extra: Mapping[str, Leaf] | None = None, *,
                    tasks: Mapping[str, str] | None = None, budget: int | None = None) -> Mapping[str, Any]:
    """Check ``config`` before any work; return it unchanged. ``ValueError`` for the first
    failure, one line naming its full path, its value and what is allowed:

    * every leaf whose name (the last part of its path) :data:`LEAVES` or ``extra`` declares;
    * every list leaf is non-empty (its items are what the run loops over: an empty one runs
      nothing and leaves nothing to plot);
    * every modulus (:data:`MODULI`) fits the population limit of the task it feeds
      (:func:`task_of` with ``tasks``; :func:`max_p`) and the memory its run would need
      (:func:`run_bytes`) fits ``budget`` bytes (default :func:`memory_budget`);
    * every ``reading`` dict and every item of a ``readings`` list names open settings of the
      paper with allowed options (:func:`regimes.settings.mohamadi.resolve_reading`), each one
      that applies to the task the reading feeds (``square_loss`` only to regression,
      ``normalization`` and ``width`` only to classification).

    >>> validate_config({"regression": {"ps": [11, 1009]}}, tasks={"regression": "regression"})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: regression.ps=[11, 1009] is not allowed: a non-empty list of integers in [2, 368] (a regression run...
    """
    table = {**LEAVES, **(extra or {})}
    budget = memory_budget() if budget is None else budget
    for path, value in leaves(config):
        name = path.rsplit(".", 1)[-1]
        if name in MODULI and name not in (extra or {}):
            _check_modulus(config, path, value, task_of(config, path, tasks), budget)
        elif name in table:
            validate_value(path, value, table[name])
        elif isinstance(value, list | tuple) and len(value) == 0:
            raise ValueError(f"{path}=[] is not allowed: a non-empty list (its items are what the run loops over)")
        else:
            _check_finite(path, value)
    for path, value in nodes(config):
        name = path.rsplit(".", 1)[-1]
        if isinstance(value, Mapping) and len(value) == 0 and name != "reading":   # a reading {}: the defaults
            raise ValueError(f"{path}={{}} is not allowed: a non-empty object (its keys are what the run is "
                             "configured by; to change one key, --set its path)")
        if name == "readings":
            if not isinstance(value, list) or len(value) == 0:
                shown = json.dumps(value) if isinstance(value, list | dict | str | int | float) else repr(value)
                raise ValueError(f"{path}={shown} is not allowed: a non-empty list of readings, e.g. "
                                 '[{"normalization": "loss", "dtype": "float64"}]')
            for i, r in enumerate(value):
                _check_reading(f"{path}.{i}", r, task_of(config, f"{path}.{i}", tasks))
        elif name == "reading" and value is not None:
            _check_reading(path, value, task_of(config, path, tasks))
    return config


# --------------------------------------------------------------------------- what a leaf feeds
#: Leaf names that hold a modulus (``ps``: a list of them). Each is held to its task's
#: population limit and to the memory its run would need (:func:`validate_config`).
MODULI = ("p", "ps", "sweep_p", "p_class", "dist_p", "train_p", "gromov_p")

#: Numbers held per network parameter while training: the parameter, its gradient and an
#: optimizer's two moments (Adam's m and v; GD and normalized GD hold fewer).
STATE_FACTOR = 4
#: The width h = WIDTH_MULT·p assumed for a run whose config states neither ``h`` nor
#: ``width_mult`` (the suite's widest default, the ``8p`` width reading).
WIDTH_MULT = 8
#: The memory budget when the machine's cannot be read (:func:`memory_budget`), in bytes.
DEFAULT_BUDGET = 8 * 2**30


def memory_budget() -> int:
    """The memory a run may use, in bytes: this machine's total physical memory
    (``os.sysconf``), or :data:`DEFAULT_BUDGET` where it cannot be read."""
    import os

    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_BUDGET
    return int(total) if total > 0 else DEFAULT_BUDGET


def max_p(task: str) -> int:
    """The largest modulus whose population fits :data:`regimes._validate.MAX_POINTS`: p² pairs
    for ``"classification"``, p³ triples for ``"regression"``.

    >>> max_p("classification"), max_p("regression")
    (7071, 368)
    """
    if task not in SETTINGS:
        raise ValueError(f"task={task!r} is not allowed: one of {', '.join(map(repr, SETTINGS))}")
    return MAX_P if task == "classification" else MAX_P_REGRESSION


def run_bytes(p: int, task: str, h: int, dtype_bytes: int, kernel: bool = False) -> int:
    """The memory, in bytes, one training run at modulus ``p`` needs at least: the quadratic
    net's h·3p parameters (embedding-free first layer h × 2p, readout p × h; a regression net's
    readout is narrower, counted the same) times :data:`STATE_FACTOR`, plus the population's
    outputs (p² pairs × p logits for classification, p³ triples × 1 for regression), each
    number ``dtype_bytes`` wide; with ``kernel``, also the population's Gram matrix (its points
    squared, float64: the kernel experiments solve on it).

    >>> run_bytes(11, "classification", 88, 4) == 4 * (4 * 88 * 33 + 11**3)
    True
    >>> run_bytes(11, "regression", 44, 4, kernel=True) - run_bytes(11, "regression", 44, 4) == 8 * 11**6
    True
    """
    pop, out = (p**2, p) if task == "classification" else (p**3, 1)
    return dtype_bytes * (STATE_FACTOR * h * 3 * p + pop * out) + (8 * pop**2 if kernel else 0)


def task_of(config: Any, path: str, tasks: Mapping[str, str] | None = None) -> str:
    """The task (``"classification"`` or ``"regression"``) the leaf at ``path`` feeds: the
    ``setting`` of the nearest dict at or above it that has one; else the value of the longest
    prefix of ``path`` (whole parts; ``""`` is the root) in ``tasks``, where ``"@a.b"`` means
    the ``setting`` leaf at ``a.b`` (classification when absent); else classification.

    >>> task_of({"regression": {"ps": [11]}}, "regression.ps", {"regression": "regression"})
    'regression'
    >>> task_of({"run": {"p": 47, "setting": "regression"}}, "run.p")
    'regression'
    """
    parts = path.split(".")
    for k in range(len(parts) - 1, -1, -1):
        try:
            node = get_path(config, ".".join(parts[:k])) if k else config
        except KeyError:
            continue
        if isinstance(node, Mapping) and node.get("setting") in SETTINGS:
            return str(node["setting"])
    best: tuple[int, str] | None = None
    for prefix, task in (tasks or {}).items():
        pp = prefix.split(".") if prefix else []
        if parts[:len(pp)] == pp and (best is None or len(pp) > best[0]):
            best = (len(pp), task)
    if best is None:
        return "classification"
    task = best[1]
    if task.startswith("@"):
        try:
            task = get_path(config, task[1:])
        except KeyError:
            return "classification"
    return task if task in SETTINGS else "classification"


def _width(node: Any, p: int) -> int:
    """The hidden width h a run at modulus ``p`` configured by dict ``node`` has (``h`` or ``width``;
    the largest of ``widths``; ``width_mult``·p; else :data:`WIDTH_MULT`·p)."""
    if isinstance(node, Mapping):
        h, wm, wms = node.get("h"), node.get("width_mult"), node.get("width_mults")
        h = node.get("width") if h is None else h
        hs = node.get("widths")
        if isinstance(hs, list) and hs and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in hs):
            return max(hs)
        if isinstance(h, int) and not isinstance(h, bool) and h >= 1:
            return h
        if isinstance(wm, int) and not isinstance(wm, bool) and wm >= 1:
            return wm * p
        if isinstance(wms, list) and wms and all(isinstance(w, int) and not isinstance(w, bool) for w in wms):
            return max(wms) * p
    return WIDTH_MULT * p


def _check_modulus(config: Any, path: str, value: Any, task: str, budget: int) -> None:
    """A modulus leaf (:data:`MODULI`) against its task's population limit, then memory."""
    name = path.rsplit(".", 1)[-1]
    cap = max_p(task)
    pop = "p² pairs" if task == "classification" else "p³ triples"
    item = _int(2, cap)
    leaf = _list(item) if name == "ps" else item
    try:
        validate_value(path, value, leaf)
    except ValueError as e:
        items = value if name == "ps" and isinstance(value, list) and value else [value]
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 2 for v in items):   # too large, not malformed
            raise ValueError(f"{e} (a {task} run: its {pop} must fit {MAX_POINTS:,} points)") from None
        raise
    head = path.rpartition(".")[0]
    node = get_path(config, head) if head else config
    dtype_bytes = 8 if any(v == "float64" for k, v in leaves(config) if k.rsplit(".", 1)[-1] == "dtype") else 4
    kernel = isinstance(config, Mapping) and "kernels" in config   # a kernel experiment: its Gram matrices
    for p in (value if name == "ps" else [value]):
        need = run_bytes(p, task, _width(node, p), dtype_bytes, kernel)
        if need > budget:
            top = 2
            lo, hi = 2, p   # the largest p that fits: run_bytes grows with p
            while lo <= hi:
                mid = (lo + hi) // 2
                if run_bytes(mid, task, _width(node, mid), dtype_bytes, kernel) <= budget:
                    top, lo = mid, mid + 1
                else:
                    hi = mid - 1
            shown = json.dumps(value)
            raise ValueError(
                f"{path}={shown} is not allowed: a {task} run at p = {p} needs about {need / 2**30:,.1f} GiB "
                f"({STATE_FACTOR} × h·3p = {STATE_FACTOR * _width(node, p) * 3 * p:,} parameter numbers and "
                f"{p**2 if task == 'classification' else p**3:,} population points × "
                f"{p if task == 'classification' else 1} outputs, {dtype_bytes} bytes each"
                f"{', and their kernel matrix in float64' if kernel else ''}), over this machine's "
                f"{budget / 2**30:,.1f} GiB of memory — the largest p allowed here is {top}{_width_hint(node, head)}")


def _width_hint(node: Any, head: str) -> str:
    """Where an explicit width sets the size: `` at h = N (or lower PATH)``, else ``""``."""
    if isinstance(node, Mapping):
        for key in ("h", "width", "widths", "width_mult", "width_mults"):
            if key in node:
                where = f"{head}.{key}" if head else key
                return f" at {where} = {json.dumps(node[key])} (or lower {where})"
    return ""


def _check_reading(path: str, reading: Any, task: str) -> None:
    """One reading dict: open settings of the paper (:func:`resolve_reading`) that apply to ``task``."""
    shown = json.dumps(reading) if isinstance(reading, dict | list | str | int | float | type(None)) else repr(reading)
    if not isinstance(reading, Mapping):
        raise ValueError(f"{path}={shown} is not allowed: a reading is an object of open settings, "
                         f"e.g. {{\"normalization\": \"loss\"}} (settings: {', '.join(OPEN_SETTINGS)})")
    try:
        resolve_reading(reading)
    except ValueError as e:
        raise ValueError(f"{path}={shown} is not allowed: {e}") from None
    for name in reading:
        s = OPEN_SETTINGS[name]
        if task not in s.tasks:
            raise ValueError(f"{path}.{name}={json.dumps(reading[name])} is not allowed: {name} is an open setting of "
                             f"{' and '.join(s.tasks)} runs only ({s.applies_to}), and this config feeds a {task} "
                             f"run — drop it from the reading")


def _check_finite(path: str, value: Any) -> None:
    """A leaf no table declares: a real number (or each item of a list of them) must be finite.

    >>> _check_finite("adamw_lr", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: adamw_lr=inf is not allowed: a finite number
    """
    items = value if isinstance(value, list | tuple) else [value]
    for v in items:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{path}={json.dumps(value) if isinstance(value, list) else v!r} is not allowed: "
                             "a finite number")


def nodes(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted path, value)`` of ``config``, nodes and leaves, depth first (the walk of
    :func:`leaves`, yielding each dict and each list of dicts too)."""
    if prefix:
        yield prefix, config
    if isinstance(config, Mapping):
        for k, v in config.items():
            yield from nodes(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(config, list) and config and all(isinstance(v, Mapping) for v in config):
        for i, v in enumerate(config):
            yield from nodes(v, f"{prefix}.{i}" if prefix else str(i))


# --------------------------------------------------------------------------- paths and --set
def get_path(config: Any, path: str) -> Any:
    """The value at dotted ``path`` (``KeyError`` if there is none)."""
    node = config
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def set_path(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``config`` with ``value`` at dotted ``path`` (missing dicts are made)."""
    out = copy.deepcopy(config)
    node: Any = out
    parts = path.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            if not isinstance(node.get(part), dict | list):
                node[part] = {}
            node = node[part]
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return out


def resolve_key(key: str, paths: list[str], where: str = "the config") -> str:
    """The full dotted path that ``key`` names among ``paths`` (the config's leaf and node
    paths).

    * A bare name (``steps``) is a short key: the one path whose last part it is, the
      top-level one included; when several are (``steps`` and ``long.steps``), ``ValueError``
      naming them all.
    * A leading dot (``.steps``, ``.long.steps``) is a full path from the top, and only that.
    * A dotted key (``run.lr``) is that path, else the one path ending in ``.run.lr``.

    ``ValueError`` when none matches (naming the nearest known keys) or several do (naming
    them all, so the user can pick).

    >>> resolve_key(".steps", ["steps", "long", "long.steps"])
    'steps'
    >>> resolve_key("steps", ["steps", "long", "long.steps"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'steps' is ambiguous in the config: it names steps, long.steps — give the full path ('.steps' ...
    """
    if "" in (key[1:] if key.startswith(".") else key).split("."):
        raise ValueError(f"{key!r} has an empty part: write a dotted path (run.lr), a bare name (lr) or a "
                         "leading dot for the top level (.lr)")
    if key.startswith("."):
        key = key[1:]
        if key in paths:
            return key
    elif "." not in key:
        hits = sorted((p for p in paths if p == key or p.endswith("." + key)), key=lambda p: (p.count("."), p))
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            top = f" ('.{key}' for the top-level one)" if key in hits else ""
            raise ValueError(f"{key!r} is ambiguous in {where}: it names {', '.join(hits)} — give the full path{top}")
    else:
        if key in paths:
            return key
        hits = sorted(p for p in paths if p.endswith("." + key))
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ValueError(f"{key!r} is ambiguous in {where}: it names {', '.join(hits)} — give the full path")
    head, _, _ = key.rpartition(".")
    if head in paths and not any(p.startswith(head + ".") for p in paths):
        raise ValueError(f"{head!r} in {where} is not a nested config — set it whole (--set {head}=VALUE)")
    last = key.rpartition(".")[2]
    known = sorted({p.rpartition(".")[2] for p in paths if p.count(".") == (head.count(".") + 1 if head else 0)
                    and (not head or p.startswith(head + "."))})
    under = f" under {head!r}" if head else ""
    raise ValueError(f"{where} has no config key {last!r}{under} — known keys{' there' if head else ''}: "
                     f"{', '.join(known) or 'none'}")


def all_paths(config: Any, prefix: str = "") -> list[str]:
    """Every dotted path of ``config``: its leaves and the nodes above them."""
    out: list[str] = []
    if isinstance(config, Mapping):
        items = [(str(k), v) for k, v in config.items()]
    elif isinstance(config, list) and config and all(isinstance(v, Mapping) for v in config):
        items = [(str(i), v) for i, v in enumerate(config)]
    else:
        return out
    for k, v in items:
        path = f"{prefix}.{k}" if prefix else k
        out.append(path)
        out += all_paths(v, path)
    return out


def parse_value(text: str) -> Any:
    """One ``--set`` value: JSON when it parses (numbers, ``true``, ``null``, lists, objects,
    quoted text), else the text itself. ``Infinity``/``NaN`` parse (and are then refused by
    the schema where a finite number is required)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_set(text: str, is_list: Callable[[], bool]) -> list[Any]:
    """The values of one ``--set KEY=TEXT``: a list of one value, or several for a sweep.

    ``A;B`` → a sweep over A and B (each parsed by :func:`parse_value`); a JSON list or object
    → that one value; ``A,B`` → the list ``[A, B]`` as one value when ``is_list()`` (the key
    holds a list), else a sweep over A and B; a single scalar for a list key → ``[A]``."""
    if ";" in text:
        return [parse_value(v.strip()) for v in text.split(";")]
    whole = parse_value(text)
    if isinstance(whole, list | dict):
        return [whole]
    parts = [parse_value(v.strip()) for v in text.split(",")]
    if is_list():
        return [parts]
    return parts
