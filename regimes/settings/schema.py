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

A short KEY resolves to the one leaf of that name (:func:`resolve_key`): ``lam_inf`` means
``settings.paper.lam_inf`` when no other leaf is called ``lam_inf``; when several are, the
error lists their full paths.

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
from regimes.settings.mohamadi import OPEN_SETTINGS

#: The largest modulus any run may ask for: its pairs (p²) must fit the population limit
#: :data:`regimes._validate.MAX_POINTS` (a regression task's p³ triples are held to it by
#: :class:`regimes.tasks.Task`, from the size alone, before anything is allocated).
MAX_P = math.isqrt(MAX_POINTS)

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
            s = f"a non-empty list of {self.item.allowed().removeprefix('a ').removeprefix('an ')}"
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
    a list whose items are all dicts (rows of sub-configs) by index; any other value is a leaf."""
    if isinstance(config, Mapping):
        for k, v in config.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(config, list) and config and all(isinstance(v, Mapping) for v in config):
        for i, v in enumerate(config):
            yield from leaves(v, f"{prefix}.{i}" if prefix else str(i))
    elif prefix:
        yield prefix, config


def validate_config(config: Mapping[str, Any], extra: Mapping[str, Leaf] | None = None) -> Mapping[str, Any]:
    """Check every leaf of ``config`` whose name (the last part of its path) :data:`LEAVES` or
    ``extra`` declares; return ``config`` unchanged. ``ValueError`` for the first leaf that
    fails, naming its full path, its value and what is allowed."""
    table = {**LEAVES, **(extra or {})}
    for path, value in leaves(config):
        name = path.rsplit(".", 1)[-1]
        if name in table:
            validate_value(path, value, table[name])
    return config


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
    paths): ``key`` itself when it is one of them, else the one path ending in ``.key``.
    ``ValueError`` when none does (naming the nearest known keys) or when several do (naming
    them all, so the user can pick)."""
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
