"""Training recipes: every training run an experiment or a check performs.

* :func:`tracked_run` (:class:`TrackedRunConfig`): the quadratic net with its eNTK tracked
  through training, summarised by the grokking measures and the kernel-exit time
  (:func:`summarize`, :func:`c17_summary`); experiments 10, 11, 13, 14 and checks C17, C17b,
  which share their runs through :func:`stored_tracked_run` (stored once, :mod:`regimes.runcache`).
* :func:`mlp_run` (:class:`MLPRunConfig`): the blog's embedding MLP; experiments 13 and 14.
* :func:`init_scale_run`: one point of the init-scale sweep (C17b, experiment 11).
* :func:`rich_run` (:class:`RichRunConfig`): the paper's rich-regime settings (App. A;
  Figs 3 and 4); experiments 07 and 08 and the checks C15 and C16.

Stored once (:func:`regimes.runcache.cached`), so that the experiment that draws a claim and the
check that judges it train each run of their one grid (:mod:`regimes.settings.grids`) once:
:func:`stored_rich_run` (07/C15, 08/C16), :func:`stored_gromov_run` (15/G1),
:func:`stored_fraction_sweep` (16/G2), :func:`stored_function_sweep` (17/G5, G6) and
:func:`textbook_runs` (14/T1–T3).

Every recipe returns ``(summary, arrays)`` and puts the trained parameters into ``arrays``
(:func:`net_arrays`: ``params/final/<name>`` as float32 plus ``params/spec``, the
architecture as JSON), with snapshots at t_mem, t_exit and t_grok where the run has them, so
a stored result can be re-analysed (:func:`rebuild_net`, :func:`regimes.harness.load_run`).
Experiments file them per run with :func:`file_params`.

:func:`rich_run` trains the quadratic net at one (setting, p, seed) from a
typed :class:`RichRunConfig` and measures, on **held-out** points only (the pairs, or
triples, not in the training set; see :func:`regimes.train.evaluate`):

* the net's held-out accuracy (regression: argmax_c g over the clean pairs, whose
  labelled triple was never trained on) and held-out square loss, with its ratio to
  the zero predictor's loss on the same held-out points;
* the final ‖θ‖_∞, the minimum training margin q_min and the normalized ℓ∞ margin
  q_min/‖θ‖_∞³ (Sec. 4.2);
* the eNTK-at-init kernel baseline on the same training set: ridgeless kernel regression
  with the prior mean f₀ (App. B.1), its held-out accuracy and ℓ2 ratio.

The paper's settings (App. A.1, A.2) come from :mod:`regimes.settings.mohamadi` through
:func:`paper_config`, under a *reading* of what the paper leaves open (normalization of eq.
A.1, dtype, the scale of "squared loss", the init law, sampling, ℓ∞ ties, the classification
width); every summary records the reading it ran under.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from regimes._validate import check_choice, check_device, check_fraction, check_int, check_positive, check_seed
from regimes.metrics.fourier import ipr
from regimes.metrics.grokking import first_crossing, grokking_measures, t_exit
from regimes.metrics.tracking import KernelTracker, eval_subset, log_steps
from regimes.settings import schema
from regimes.settings.blog import BLOG_MLP
from regimes.settings.dynamics import C17B_RUN
from regimes.settings.mohamadi import APP_A1, APP_A2, n_train, regression_step, resolve_reading
from regimes.settings.textbook import TEXTBOOK_RUN

__all__ = [
    "DEFAULT_MLP_RUN",
    "DEFAULT_RUN",
    "FUNCTION_CURVES",
    "G1_CURVES",
    "TEXTBOOK_CURVES",
    "MLPRunConfig",
    "ParamSnapshots",
    "RichRunConfig",
    "TrackedRunConfig",
    "apply_reading",
    "c17_summary",
    "file_params",
    "init_scale_gaps",
    "init_scale_run",
    "mlp_run",
    "net_arrays",
    "paper_config",
    "rebuild_net",
    "rich_run",
    "stored_fraction_sweep",
    "stored_function_sweep",
    "stored_gromov_run",
    "stored_runs",
    "stored_tracked_run",
    "summarize",
    "textbook_runs",
    "tracked_run",
]

SETTINGS = ("classification", "regression")


@dataclass(frozen=True)
class RichRunConfig:
    """One rich-regime training run (see the module docstring).

    Parameters
    ----------
    setting : ``"classification"`` (pairs, logits f) or ``"regression"`` (triples, g = f_c).
    p : modulus (≥ 3).
    seed : seeds the training sample and the init (independent per seed).
    n_exponent : the training set has n = round(2 p^{n_exponent}) points (capped at the
        population size minus one, so at least one point is held out).
    width_mult : h = width_mult · p.
    optimizer, lr, lam_inf, loss, steps : as :class:`regimes.train.TrainConfig`.
    n_evals : number of evaluation points along training (log-free, evenly spaced).
    dtype : ``"float32"`` or ``"float64"``.
    kernel_baseline : also fit the eNTK-at-init kernel regressor on the same data.
    normalize, linf_ties : as :class:`regimes.train.TrainConfig`.
    init : ``"pytorch_uniform"`` (U(±1/√fan_in)) or ``"he_normal"`` (N(0, 2/fan_in)).
    sampling : ``"without_replacement"`` (n distinct points) or ``"with_replacement"`` (i.i.d.).
    reading : the full reading of the paper's open settings this config was built under (set by
        :func:`paper_config`, recorded in the summary; ``None`` for a config built by hand).

    The defaults are App. A.2's classification setting under the suite's default reading.
    Unknown keys are refused (it is a dataclass); :meth:`validate` checks the ranges.
    """

    setting: str
    p: int
    seed: int = 0
    n_exponent: float = APP_A2["n_exponent"]
    width_mult: int = 8
    optimizer: str = APP_A2["optimizer"]
    lr: float = APP_A2["lr"]
    lam_inf: float = APP_A2["lam_inf"]
    loss: str = APP_A2["loss"]
    steps: int = 2000
    n_evals: int = 50
    dtype: str = "float32"
    kernel_baseline: bool = True
    normalize: str = "whole"
    init: str = "pytorch_uniform"
    sampling: str = "without_replacement"
    linf_ties: str = "split"
    reading: dict[str, str] | None = None

    def validate(self) -> RichRunConfig:
        """Raise ``ValueError`` naming the field for any out-of-range value; return ``self``."""
        check_choice("setting", self.setting, SETTINGS)
        check_int("p", self.p, low=3)
        check_seed("seed", self.seed)
        check_positive("n_exponent", self.n_exponent)
        check_int("width_mult", self.width_mult, low=1)
        check_int("steps", self.steps, low=1)
        check_int("n_evals", self.n_evals, low=1)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_choice("init", self.init, INITS)
        check_choice("sampling", self.sampling, ("without_replacement", "with_replacement"))
        if self.reading is not None:
            resolve_reading(self.reading)
        if self.setting == "regression" and self.loss != "mse":
            raise ValueError(f"loss={self.loss!r} is not allowed for regression: use 'mse'")
        self.train_config()    # optimizer, lr, λ, normalize, linf_ties: TrainConfig's own checks
        return self

    @property
    def n(self) -> int:
        """Training-set size round(2 p^{n_exponent}), capped at (population size − 1)."""
        size = self.p**2 if self.setting == "classification" else self.p**3
        return n_train(self.p, self.n_exponent, size)

    def train_config(self):
        """The :class:`regimes.train.TrainConfig` of this run."""
        from regimes.train import TrainConfig

        return TrainConfig(steps=self.steps, lr=self.lr, optimizer=self.optimizer, loss=self.loss,
                           lam_inf=self.lam_inf, eval_every=max(1, self.steps // self.n_evals),
                           normalize=self.normalize, linf_ties=self.linf_ties).validate()

    def as_dict(self) -> dict[str, Any]:
        """The config as plain JSON values."""
        return dataclasses.asdict(self)


#: Init laws of :class:`RichRunConfig` → (``QuadraticNet.init`` dist, scale α).
INITS: dict[str, tuple[str, float]] = {"pytorch_uniform": ("uniform", 1.0), "he_normal": ("normal", math.sqrt(2.0))}


def paper_config(setting: str, p: int, seed: int = 0, reading: dict[str, str] | None = None,
                 **overrides: Any) -> RichRunConfig:
    """App. A's setting for ``setting`` at ``p`` under ``reading`` (options of
    :data:`regimes.settings.mohamadi.OPEN_SETTINGS`; unnamed ones take the suite's default),
    with ``overrides`` applied (a misspelt key raises ``TypeError`` from the dataclass; an
    unknown reading ``ValueError``).

    * regression (App. A.1): GD, lr 1 and λ∞ 1e-4 in the paper's loss, i.e. on the suite's mean
      (g − y)² as the ``square_loss`` reading says; h = 4p (Fig 3), n = 2p^{2.25};
    * classification (App. A.2): normalized GD (eq. A.1, as the ``normalization`` reading says),
      lr 10, λ∞ 1e-20, cross-entropy, h from the ``width`` reading, n = 2p^{5/3}.

    >>> c = paper_config("regression", 11, reading={"square_loss": "half"})
    >>> c.lr, c.lam_inf, c.width_mult
    (0.5, 0.0002, 4)
    >>> paper_config("classification", 11, reading={"normalization": "loss"}).normalize
    'loss'
    """
    check_choice("setting", setting, SETTINGS)
    r = resolve_reading(reading)
    if setting == "regression":
        lr, lam = regression_step(r["square_loss"])
        base: dict[str, Any] = dict(n_exponent=APP_A1["n_exponent"], width_mult=APP_A1["width_mult"],
                                    optimizer=APP_A1["optimizer"], lr=lr, lam_inf=lam, loss="mse")
    else:
        base = dict(n_exponent=APP_A2["n_exponent"], width_mult=int(r["width"].rstrip("p")),
                    optimizer=APP_A2["optimizer"], lr=APP_A2["lr"], lam_inf=APP_A2["lam_inf"], loss=APP_A2["loss"],
                    normalize=r["normalization"])
    base.update(dtype=r["dtype"], init=r["init"], sampling=r["sampling"], linf_ties=r["linf_ties"], reading=r)
    return RichRunConfig(setting=setting, p=p, seed=seed, **{**base, **overrides}).validate()


def _kernel_baseline(net0, split, setting: str) -> dict[str, float]:
    """eNTK-at-init ridgeless regression with prior mean f₀ (App. B.1) on the training set;
    held-out accuracy (regression: argmax_c over the clean pairs) and ℓ2 ratio to the zero
    predictor on the held-out points."""
    from regimes.kernels import kernel_regression
    from regimes.ntk import entk
    from regimes.tasks import Task, clean_pairs

    net0 = net0.to(dtype=torch.float64)
    xtr, held = split.train.x, split.test
    p = net0.p
    with torch.no_grad():
        if setting == "classification":
            K = entk(net0, xtr, kind="first_logit")
            Kt = entk(net0, held.x, xtr, kind="first_logit")
            Y = torch.nn.functional.one_hot(split.train.y, p).double()
            T = torch.nn.functional.one_hot(held.y, p).double()
            pred = kernel_regression(K, Y, Kt, prior_train=net0(xtr).double(), prior_test=net0(held.x).double())
            acc = float((pred.argmax(1) == held.y).double().mean())
            ratio = float(((pred - T) ** 2).sum() / (T**2).sum())
        else:
            # held-out triples for the ℓ2 ratio; for the accuracy, all p triples (a, b, c) of every
            # clean pair, so that argmax_c ĝ(a, b, c) can be scored (Prop E.7)
            pairs = clean_pairs(split.train, held)
            c = torch.arange(p)
            trip = torch.cat([pairs.repeat_interleave(p, dim=0), c.repeat(len(pairs))[:, None]], dim=1)
            xs = torch.cat([held.x, trip])
            K = entk(net0, xtr, kind="regression")
            Kt = entk(net0, xs, xtr, kind="regression")
            pred = kernel_regression(K, split.train.y.double(), Kt, prior_train=net0.regression(xtr).double(),
                                     prior_test=net0.regression(xs).double())
            ph, pc = pred[: len(held)], pred[len(held):].reshape(len(pairs), p)
            ratio = float(((ph - held.y) ** 2).sum() / (held.y.double() ** 2).sum())
            acc = float((pc.argmax(1) == Task(p).label(pairs)).double().mean()) if len(pairs) else math.nan
    return {"kernel_heldout_acc": acc, "kernel_heldout_l2_ratio": ratio}


def _penalty_dominated_at(history: dict[str, list]) -> int | None:
    """The first evaluation step at which the ℓ∞ penalty's gradient λ‖∂‖θ‖∞‖₂ exceeds the
    data loss's (see :func:`regimes.train.train`), or ``None``."""
    for t, d, q in zip(history["step"], history.get("grad_data_l2", []), history.get("grad_penalty_l2", []),
                       strict=False):
        if d < q:
            return int(t)
    return None


def apply_reading(run: Mapping[str, Any], reading: Mapping[str, str]) -> dict[str, Any]:
    """A :class:`TrackedRunConfig` dict under ``reading`` of the paper's open settings
    (:mod:`regimes.settings.mohamadi`): the reading sets the dtype, normalized GD's
    normalization, and a regression run's lr and λ∞ (App. A.1's "learning rate 1,
    regularization 1e-4" on the ``square_loss`` reading, :func:`regression_step`).

    Raises ``ValueError`` for an unknown reading, or for a ``run`` that sets one of those keys
    itself (the reading would silently override it), before any work.

    >>> apply_reading({"setting": "regression", "optimizer": "gd"}, {"square_loss": "plain"})["lam_inf"]
    0.0001
    """
    full = resolve_reading(reading)
    owned = ("dtype", *(("normalize",) if run.get("optimizer") == "normalized_gd" else ()),
             *(("lr", "lam_inf") if run.get("setting") == "regression" else ()))
    both = [k for k in owned if k in run]
    if both:
        raise ValueError(f"the run sets {both} and has a reading, which sets them: change the reading instead "
                         "(e.g. its square_loss or dtype)")
    out = {**run, "dtype": full["dtype"]}
    if run.get("optimizer") == "normalized_gd":
        out["normalize"] = full["normalization"]
    if run.get("setting") == "regression":
        out["lr"], out["lam_inf"] = regression_step(full["square_loss"])
    return out


def _device_key(device: str) -> str:
    """The device as a run-cache key: ``"cpu"``, or ``"cuda"`` for any accelerator index (a run
    is the same run on every GPU)."""
    return "cpu" if str(device) == "cpu" else "cuda"


def stored_rich_run(config: RichRunConfig, *, device: str = "cpu") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """:func:`rich_run`, stored once under its full config (:func:`regimes.runcache.cached`): an
    experiment and the check that judges its claim (07 and C15, 08 and C16/C16b) train each run of
    their shared grid once."""
    check_device("device", device)
    from regimes import runcache

    return runcache.cached("rich", {"config": config.as_dict(), "device": _device_key(device)},
                           lambda: rich_run(config, device=device))


#: θ's direction has settled once the angle it turns between evaluations stays below this
#: (radians) for the rest of the run; :func:`rich_run`'s ``direction_settled_at``.
DIRECTION_TOL = 1e-4


class _DirectionCallback:
    """Records ``theta_angle``: the angle (radians, float64) between θ at this evaluation and at
    the previous one (NaN at the first), as 2·asin(‖u − v‖/2) of the unit vectors, which keeps
    its digits for small angles where arccos(u·v) loses them."""

    def __init__(self) -> None:
        self.prev: torch.Tensor | None = None

    def __call__(self, step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        u = torch.cat([v.detach().reshape(-1).double() for v in params.values()])
        nu = u.norm()
        u = u / nu if nu > 0 else u
        if self.prev is None:
            record["theta_angle"] = math.nan
        else:
            record["theta_angle"] = float(2 * torch.asin(torch.clamp((u - self.prev).norm() / 2, max=1.0)))
        self.prev = u


def _settled_at(steps: list, angles: list) -> int | None:
    """The first evaluation step after which every angle θ turns is below :data:`DIRECTION_TOL`
    (θ converged in direction while it may still grow), or ``None``."""
    out = None
    for t, a in zip(steps, angles, strict=True):
        if a == a and a < DIRECTION_TOL:
            out = int(t) if out is None else out
        else:
            out = None
    return out


def rich_run(config: RichRunConfig, *, device: str = "cpu") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one run as ``config`` says and measure it on held-out points.

    Returns ``(summary, arrays)``. ``summary`` holds the config, ``n``, ``width``, the final
    ``train_loss``, ``train_acc``, ``heldout_acc``, ``heldout_loss``, ``heldout_l2_ratio``
    (held-out square loss over the zero predictor's on the same points; NaN for
    classification, which trains on cross-entropy and has no square-loss target),
    ``theta_inf``, ``q_min``, ``norm_margin``, ``stalled_at`` and ``stall_kind`` (the first
    step of a stretch where θ stopped changing or cycled, and how; None if it never did),
    ``direction_settled_at`` (the first evaluation step after which θ turns less than
    :data:`DIRECTION_TOL` radians between evaluations: converged in direction; None if not),
    ``reading`` (the reading of the paper's open settings, or None),
    ``penalty_dominated_at`` (the first evaluation step at which the ℓ∞ penalty's gradient
    exceeds the data loss's, so that a normalized step is spent on the penalty; None if
    never), ``steps_per_s`` and, with
    ``kernel_baseline``, the kernel's ``kernel_heldout_acc`` and ``kernel_heldout_l2_ratio``.
    ``arrays`` holds the curves (step, train/test loss and accuracy, θ∞, normalized margin).

    Raises ``ValueError`` for an invalid config (see :meth:`RichRunConfig.validate`).

    The paper's classification setting at p = 11 trains on n = round(2·11^{5/3}) = 109 of
    the 121 pairs with h = 8p = 88 (at p = 5, 2p^{5/3} ≈ 29 exceeds p² − 1 = 24, so n is
    capped there to keep a held-out pair):

    >>> s, _ = rich_run(paper_config("classification", 11, steps=20, kernel_baseline=False))
    >>> s["n"], s["width"]
    (109, 88)
    """
    check_device("device", device)
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split
    from regimes.train import train

    config.validate()
    p, setting = config.p, config.setting
    split = sample_split(Task(p, setting), n=config.n, seed=config.seed,
                         replace=config.sampling == "with_replacement")
    dist, alpha = INITS[config.init]
    net0 = QuadraticNet.init(p, config.width_mult * p, seed=config.seed, dtype=getattr(torch, config.dtype),
                             dist=dist, alpha=alpha)
    tc = config.train_config()
    res = train(net0, split.train, tc, test=split.test, device=device, callbacks=[_DirectionCallback()])
    h, f = res.history, res.final
    summary: dict[str, Any] = {
        "config": config.as_dict(), "reading": config.reading, "n": config.n, "width": config.width_mult * p,
        "train_loss": f["train_loss"], "train_acc": f["train_acc"], "heldout_acc": f["test_acc"],
        "heldout_loss": f["test_loss"], "theta_inf": f["theta_inf"], "q_min": f.get("q_min", math.nan),
        "norm_margin": f.get("norm_margin", math.nan), "stalled_at": res.stalled_at,
        "stall_kind": res.stall_kind, "penalty_dominated_at": _penalty_dominated_at(h),
        "direction_settled_at": _settled_at(h["step"], h["theta_angle"]),
        "steps_per_s": res.steps_per_s, "wall_s": res.wall_time_s,
    }
    if setting == "regression":
        zero = float((split.test.y.double() ** 2).mean())    # the zero predictor on the same held-out triples
        summary["heldout_zero_loss"] = zero
        summary["heldout_l2_ratio"] = f["test_loss"] / zero
    else:
        summary["heldout_l2_ratio"] = math.nan
    if config.kernel_baseline:
        summary.update(_kernel_baseline(net0, split, setting))
    keys = ("step", "train_loss", "test_loss", "train_acc", "test_acc", "theta_inf", "norm_margin", "q_min",
            "theta_angle")
    arrays = {k: np.asarray(h[k], dtype=np.float64) for k in keys if k in h}
    arrays.update(net_arrays(res.net))
    return summary, arrays


def init_scale_run(alpha: float, seed: int, run: dict[str, Any] | None = None, device: str = "cpu"
                   ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One run of the init-scale sweep (default :data:`regimes.settings.dynamics.C17B_RUN`) at init
    scale ``alpha``: ``(row, arrays)`` with ``row`` holding α, the seed, t_mem, t_grok, the gap
    t_grok − t_mem (None when the run never memorised or never grokked) and the final held-out
    accuracy, and ``arrays`` the training curves and parameters of :func:`tracked_run`. The run is
    stored once (:func:`stored_tracked_run`): experiment 11 and check C17b share it."""
    check_device("device", device)
    s, arrays = stored_tracked_run({**(C17B_RUN if run is None else run), "alpha": float(alpha),
                                    "seed": int(seed)}, device=device)
    row = {"alpha": float(alpha), "seed": int(seed), "t_mem": s["t_mem"], "t_grok": s["t_grok"],
           "gap": s["measures"]["gap"], "final_test_acc": s["final_test_acc"],
           "final_train_acc": s["final_train_acc"]}
    return row, arrays


def init_scale_gaps(alphas: list[float], seeds: list[int], run: dict[str, Any] | None = None,
                    device: str = "cpu") -> list[dict[str, Any]]:
    """:func:`init_scale_run` rows for every (α, seed), α-major (each run stored once)."""
    return [init_scale_run(a, s, run, device)[0] for a in alphas for s in seeds]


# =========================================================================== tracked runs
@dataclass(frozen=True)
class TrackedRunConfig:
    """One tracked run of the quadratic net (:func:`tracked_run`); the defaults are a quick,
    reliably grokking AdamW run at p = 31.

    Fields: ``p`` (modulus), ``setting`` (``"classification"``/``"regression"``),
    ``width_mult`` (h = width_mult·p), ``n_rule`` (``"2p^(5/3)"`` or ``"2p^2.25"``; unless
    ``fraction`` of the population is given), ``alpha`` (init scale), ``dist`` (init law),
    ``optimizer``, ``lr``, ``weight_decay``, ``lam_inf``, ``loss``, ``steps`` (as
    :class:`regimes.train.TrainConfig`), ``n_track`` (log-spaced evaluations),
    ``eval_size``/``after_pairs``/``after_every`` (eNTK tracking, see
    :class:`regimes.metrics.tracking.KernelTracker`), ``grok_threshold``/``gen_threshold``/
    ``exit_threshold``/``exit_relative`` (the measures of :func:`summarize`), ``seed``,
    ``dtype``, ``track`` (track the eNTK at all), ``wd_start`` (weight decay only from
    that step on) and ``normalize`` (normalized GD's reading of eq. A.1, as
    :class:`regimes.train.TrainConfig`).

    :meth:`from_dict` refuses a key that is not a field (``ValueError`` naming it and the
    known keys), so a misspelt key never falls back to its default silently, and checks every
    value by the suite's schema (:func:`regimes.settings.schema.validate_config`: type, range,
    finiteness, choices), so ``dtype="float46"`` or ``fraction=0`` fail before any work.
    """

    p: int = 31
    setting: str = "classification"
    width_mult: int = 4
    n_rule: str = "2p^(5/3)"
    fraction: float | None = None
    alpha: float = 1.0
    dist: str = "uniform"
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.1
    lam_inf: float = 0.0
    loss: str = "cross_entropy"
    steps: int = 4000
    n_track: int = 40
    eval_size: int = 500
    after_pairs: int = 300
    grok_threshold: float = 0.9
    gen_threshold: float = 0.95
    exit_threshold: float = 0.5
    exit_relative: bool = True
    after_every: int = 2
    seed: int = 0
    dtype: str = "float64"
    track: bool = True
    wd_start: int = 0
    normalize: str = "whole"

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | TrackedRunConfig) -> TrackedRunConfig:
        """The config with ``config``'s keys over the defaults; ``ValueError`` for an unknown key."""
        return _from_dict(cls, config)

    def as_dict(self) -> dict[str, Any]:
        """Every field as a plain dict (values as given)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class MLPRunConfig:
    """One run of the blog's embedding MLP (:func:`mlp_run`), with the settings of the blog post
    "Some thoughts on Grokking" (:data:`regimes.settings.blog.BLOG_MLP`) as defaults: ``p``,
    ``d_embed``, ``hidden`` (architecture), ``optimizer``, ``lr``, ``weight_decay``,
    ``steps`` (training), ``fraction`` (of the p² pairs trained on), ``n_track``
    (log-spaced evaluations), ``dtype``, ``grok_threshold`` and ``seed``.
    :meth:`from_dict` refuses unknown keys, as :meth:`TrackedRunConfig.from_dict`."""

    p: int = BLOG_MLP["p"]
    d_embed: int = BLOG_MLP["d_embed"]
    hidden: int = BLOG_MLP["hidden"]
    optimizer: str = BLOG_MLP["optimizer"]
    lr: float = BLOG_MLP["lr"]
    weight_decay: float = BLOG_MLP["weight_decay"]
    fraction: float = BLOG_MLP["fraction"]
    steps: int = BLOG_MLP["steps"]
    n_track: int = BLOG_MLP["n_track"]
    dtype: str = BLOG_MLP["dtype"]
    grok_threshold: float = BLOG_MLP["grok_threshold"]
    seed: int = 0

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | MLPRunConfig) -> MLPRunConfig:
        """The config with ``config``'s keys over the defaults; ``ValueError`` for an unknown key."""
        return _from_dict(cls, config)

    def as_dict(self) -> dict[str, Any]:
        """Every field as a plain dict (values as given)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _from_dict(cls: type, config: Any) -> Any:
    if isinstance(config, cls):
        return config
    if not isinstance(config, Mapping):
        raise ValueError(f"config={config!r} is not allowed: give a {cls.__name__} or a dict of its fields")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in config if k not in known]
    if unknown:
        raise ValueError(f"config key {unknown[0]!r} is not a {cls.__name__} field: known keys are "
                         f"{', '.join(known)}")
    out = cls(**config)
    schema.validate_config(out.as_dict())
    return out


def config_fields(cls: type) -> tuple[str, ...]:
    """The field names of a run-config dataclass (what ``--set run.KEY=…`` may name)."""
    return tuple(f.name for f in dataclasses.fields(cls))


#: Defaults of :func:`tracked_run` as a dict (:class:`TrackedRunConfig`'s defaults).
DEFAULT_RUN: dict[str, Any] = TrackedRunConfig().as_dict()

#: Defaults of :func:`mlp_run` as a dict (:class:`MLPRunConfig`'s defaults).
DEFAULT_MLP_RUN: dict[str, Any] = MLPRunConfig().as_dict()


def _n_train(cfg: dict[str, Any]) -> int:
    p = cfg["p"]
    N = p**2 if cfg["setting"] == "classification" else p**3
    if cfg.get("fraction") is not None:   # by value: fraction=0 is refused by the schema, never "not given"
        return max(1, round(cfg["fraction"] * N))
    rule = cfg["n_rule"]
    if rule == "2p^(5/3)":
        return n_train(p, 5 / 3, N)
    if rule == "2p^2.25":
        return n_train(p, 2.25, N)
    raise ValueError(f"n_rule={rule!r} is not allowed: choose '2p^(5/3)' or '2p^2.25' (or give fraction)")


def _fit_callback(p: int, x: torch.Tensor, y: torch.Tensor, scale: float):
    """Regression only: share of training triples fitted to within p/2 (train "accuracy")."""
    from regimes.models.quadratic import QuadraticNet

    def cb(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        g = QuadraticNet.apply_regression(params, x.to(params["W"].device), scale)
        record["train_fit_acc"] = float(((g - y.to(g)).abs() < p / 2).double().mean())

    return cb


def _ipr_callback(record_key: str = "ipr2"):
    def cb(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        record[record_key] = ipr(params["W"], 2.0)

    return cb


def tracked_run(config: TrackedRunConfig | Mapping[str, Any], *, device: str = "cpu",
                extra_callbacks: tuple = (), snapshots: bool = True
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train the quadratic net as ``config`` says (a :class:`TrackedRunConfig`, or a dict of
    its fields over the defaults; ``ValueError`` for an unknown key), tracking the eNTK at
    ``n_track`` log-spaced steps, and summarise it.

    ``wd_start > 0`` switches weight decay on only from that step (the textbook's
    practice problem 2): the run is split into two :func:`~regimes.train.train` calls.
    Returns ``(summary, arrays)``; arrays are the history columns as float64, plus the
    trained parameters (:func:`net_arrays`: ``params/final/W``, ``params/final/V`` as
    float32, ``params/spec``) and, with ``snapshots``, the parameters at the first
    evaluation step at or after each of t_mem, t_exit and t_grok that the run reached
    (``params/t_mem/W`` …, with ``params/t_mem/step``).

    Every test quantity is held out: ``test_acc`` / ``test_loss`` are :func:`regimes.train.train`'s
    (regression: the clean pairs, whose labelled triple was never trained on), and the
    after-kernel accuracy is scored on up to ``after_pairs`` of the same clean pairs
    (:func:`regimes.tasks.clean_pairs`). ``summary["stalled_at"]`` is the train loop's stall
    report (:attr:`regimes.train.TrainResult.stalled_at`; the first phase's, else the
    second's, in global steps), and the arrays' ``stalled_at`` column its running value (NaN
    until a stall is confirmed).
    """
    check_device("device", device)
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, clean_pairs, sample_split
    from regimes.train import TrainConfig, train

    cfg = TrackedRunConfig.from_dict(config).as_dict()
    p, setting = int(cfg["p"]), cfg["setting"]
    task = Task(p, setting)
    n = _n_train(cfg)
    split = sample_split(task, n=n, seed=cfg["seed"])
    dtype = torch.float64 if cfg["dtype"] == "float64" else torch.float32
    net = QuadraticNet.init(p, int(cfg["width_mult"]) * p, alpha=cfg["alpha"], dist=cfg["dist"],
                            seed=cfg["seed"], dtype=dtype)
    steps = log_steps(int(cfg["steps"]), int(cfg["n_track"]))
    callbacks: list = []
    tracker = None
    if cfg["track"]:
        x_eval = eval_subset(task, min(int(cfg["eval_size"]), task.size), seed=cfg["seed"] + 1) \
            if cfg["eval_size"] else None
        gen = torch.Generator().manual_seed(cfg["seed"] + 2)
        test_pairs = clean_pairs(split.train, split.test)   # held out: labelled point never trained on
        k = min(int(cfg["after_pairs"]), test_pairs.shape[0]) if cfg["after_pairs"] else 0
        after = test_pairs[torch.randperm(test_pairs.shape[0], generator=gen)[:k]] if k else None
        tracker = KernelTracker(task, split.train.x, split.train.y, steps=steps, x_eval=x_eval,
                                after_pairs=after, output_scale=net.output_scale,
                                after_every=int(cfg["after_every"]))
        callbacks.append(tracker)
    if setting == "regression":
        callbacks.append(_fit_callback(p, split.train.x, split.train.y, net.output_scale))
    callbacks.append(_ipr_callback())
    snaps = ParamSnapshots() if snapshots else None
    if snaps is not None:
        callbacks.append(snaps)
    callbacks.extend(extra_callbacks)
    common = dict(lr=cfg["lr"], optimizer=cfg["optimizer"], loss=cfg["loss"], lam_inf=cfg["lam_inf"],
                  normalize=cfg["normalize"])
    wd_start = int(cfg["wd_start"])
    total = int(cfg["steps"])
    if 0 < wd_start < total:
        # phase 1 without decay; phase 2 from the phase-1 net with decay (fresh optimizer state)
        s1 = [s for s in steps if s <= wd_start]
        r1 = train(net, split.train, TrainConfig(steps=wd_start, weight_decay=0.0, eval_steps=s1, **common),
                   test=split.test, callbacks=callbacks, device=device)
        s2 = [s - wd_start for s in steps if s >= wd_start]
        shifted = [_shift(cb, wd_start) for cb in callbacks]
        r2 = train(r1.net, split.train, TrainConfig(steps=total - wd_start, weight_decay=cfg["weight_decay"],
                                                     eval_steps=s2, **common),
                   test=split.test, callbacks=shifted, device=device)
        h2 = {k: v[1:] for k, v in r2.history.items()}
        h2["step"] = [s + wd_start for s in h2["step"]]
        if "stalled_at" in h2:   # phase 2 reports its own stalls, in global step numbers
            h2["stalled_at"] = [None if v is None else v + wd_start for v in h2["stalled_at"]]
        history = _concat(r1.history, h2)
        wall = r1.wall_time_s + r2.wall_time_s
        stalled_at = r1.stalled_at if r1.stalled_at is not None else (
            None if r2.stalled_at is None else r2.stalled_at + wd_start)
    else:
        res = train(net, split.train, TrainConfig(steps=total, weight_decay=cfg["weight_decay"], eval_steps=steps,
                                                  **common), test=split.test, callbacks=callbacks, device=device)
        history, wall, stalled_at = res.history, res.wall_time_s, res.stalled_at
        final_net = res.net
    if 0 < wd_start < total:
        final_net = r2.net
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    summary = summarize(arrays, cfg)
    summary.update(n_train=n, width=int(cfg["width_mult"]) * p, train_wall_s=wall,
                   tracking_s=None if tracker is None else tracker.time_s, stalled_at=stalled_at)
    arrays.update(net_arrays(final_net))
    if snaps is not None:
        arrays.update(snaps.arrays(final_net, {k: summary.get(k) for k in ("t_mem", "t_exit", "t_grok")}))
    return summary, arrays


def stored_tracked_run(config: TrackedRunConfig | Mapping[str, Any], *, device: str = "cpu"
                       ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """:func:`tracked_run` (with its snapshots, no extra callbacks), stored once under its full
    config — every :class:`TrackedRunConfig` field, defaults filled in, a float field given as an
    int read as that float — and ``device`` (:func:`regimes.runcache.cached`): an experiment and the
    check that judges its claim (10 and C17, 11 and C17b) train each run of their shared grid once.

    Returns ``(summary, arrays)`` as stored and read back: the summary through JSON (NaN as
    ``None``), the arrays (curves, tracked kernels, parameters) from the ``.npz``, so a first run
    and a later read give equal results. ``ValueError`` for an invalid config, before any work.
    """
    check_device("device", device)
    from regimes import runcache

    cfg = _canonical(TrackedRunConfig.from_dict(config))
    return runcache.cached("tracked", {"config": cfg, "device": _device_key(device)},
                           lambda: tracked_run(cfg, device=device))


def _canonical(config: TrackedRunConfig) -> dict[str, Any]:
    """``config`` as a dict whose float fields hold floats (``alpha=16`` and ``alpha=16.0`` name
    the same run, and so the same stored entry)."""
    out = config.as_dict()
    for f in dataclasses.fields(config):
        v = out[f.name]
        if str(f.type).startswith("float") and isinstance(v, int) and not isinstance(v, bool):
            out[f.name] = float(v)
    return out


def mlp_run(config: MLPRunConfig | Mapping[str, Any], *, device: str = "cpu", snapshots: bool = True
            ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train the blog's embedding MLP (:class:`~regimes.models.mlp.EmbeddingMLP`) as ``config``
    says (an :class:`MLPRunConfig`, or a dict of its fields; ``ValueError`` for an unknown
    key) with :func:`regimes.train.train` — full-batch, cross-entropy, ``fraction`` of the p²
    pairs — evaluating at ``n_track`` log-spaced steps.

    Returns ``(summary, arrays)``: the summary holds ``t_mem``, ``t_grok``, the grokking
    measures (as :func:`summarize`), ``n_train``, ``num_params``, ``train_wall_s`` and
    ``circle_score_end`` (the circle score of the final embedding rows' top-2 PCA plane);
    the arrays hold the history columns and the embedding table at init and at the end
    (``embed_init``, ``embed_end``, float64, (p, d_embed)), and the trained parameters with
    snapshots at t_mem and t_grok as in :func:`tracked_run` (``params/…``, float32).
    """
    check_device("device", device)
    from regimes.metrics.fourier import circle_score, embedding_pca
    from regimes.models.mlp import EmbeddingMLP
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    c = MLPRunConfig.from_dict(config).as_dict()
    p, seed = int(c["p"]), int(c["seed"])
    split = sample_split(Task(p), fraction=float(c["fraction"]), seed=seed)
    dtype = torch.float64 if c["dtype"] == "float64" else torch.float32
    net = EmbeddingMLP.init(p, d_embed=int(c["d_embed"]), hidden=int(c["hidden"]), seed=seed, dtype=dtype)
    cfg = TrainConfig(steps=int(c["steps"]), lr=float(c["lr"]), optimizer=str(c["optimizer"]),
                      weight_decay=float(c["weight_decay"]), loss="cross_entropy",
                      eval_steps=log_steps(int(c["steps"]), int(c["n_track"])))
    snaps = ParamSnapshots() if snapshots else None
    res = train(net, split.train, cfg, test=split.test, device=device, callbacks=[snaps] if snaps else [])
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in res.history.items()}
    E0 = net.params()["embed"].detach().cpu().to(torch.float64)
    E1 = res.net.params()["embed"].detach().cpu().to(torch.float64)
    arrays["embed_init"], arrays["embed_end"] = E0.numpy(), E1.numpy()
    summary = summarize(arrays, {"setting": "classification", "grok_threshold": c["grok_threshold"]})
    summary.update(n_train=len(split.train), num_params=net.num_params(), train_wall_s=res.wall_time_s,
                   circle_score_end=circle_score(embedding_pca(E1, 2)[0])[0], stalled_at=res.stalled_at)
    arrays.update(net_arrays(res.net))
    if snaps is not None:
        arrays.update(snaps.arrays(res.net, {k: summary.get(k) for k in ("t_mem", "t_grok")}))
    return summary, arrays


def _shift(cb, offset: int):
    """A callback seeing global step numbers during the second phase (skipping its step 0)."""
    def wrapped(step: int, params, record) -> None:
        if step == 0:
            return
        cb(step + offset, params, record)

    return wrapped


def _concat(h1: dict[str, list], h2: dict[str, list]) -> dict[str, list]:
    keys = set(h1) | set(h2)
    n1, n2 = len(h1["step"]), len(h2["step"])
    return {k: list(h1.get(k, [math.nan] * n1)) + list(h2.get(k, [math.nan] * n2)) for k in keys}


def _at(steps: np.ndarray, values: np.ndarray, t: float | None) -> float | None:
    if t is None:
        return None
    i = int(np.searchsorted(steps, t))
    v = float(values[i]) if i < len(values) else math.nan
    return v if math.isfinite(v) else None


#: Kernel distances S(t, 0) below this are read as "no measurable movement": the float64
#: round-off of S is ~1e-16, so a growth ratio S(t_gen, 0)/S(t_fit, 0) is taken against
#: max(S(t_fit, 0), S_FLOOR) and a ratio of two round-off values can never pass.
S_FLOOR = 1e-9


def c17_summary(arrays: dict[str, np.ndarray], *, gen_threshold: float = 0.95, small: float = 0.1,
                growth: float = 10.0, train_key: str = "train_acc", kernel_key: str = "ntk_dist_train"
                ) -> dict[str, Any]:
    """The quantities of check C17 for one run.

    t_fit: first step with training accuracy 100 %; t_gen: first step with test accuracy
    ≥ ``gen_threshold``. ``small_at_fit``: S(t_fit, 0) ≤ ``small`` (Fort distance of the
    training-set eNTK). ``growth_ratio``: S(t_gen, 0) / S(t_fit, 0), to be ≥ ``growth``
    ("orders of magnitude": at least one), with S(t_fit, 0) floored at :data:`S_FLOOR` so that
    round-off is never read as growth. Also the relative change ‖Θ̂_t − Θ̂₀‖/‖Θ̂₀‖ at
    both times and its ratio. ``holds`` is ``None`` when the run did not fit or generalise.
    """
    steps = arrays["step"]
    tf = first_crossing(steps, arrays[train_key], 1.0)
    tg = first_crossing(steps, arrays["test_acc"], gen_threshold)
    out: dict[str, Any] = {"t_fit": tf, "t_gen": tg}
    rel = arrays.get("ntk_rel_change_train")
    S = arrays.get(kernel_key)
    if S is None or tf is None or tg is None:
        out.update(S_fit=None, S_gen=None, growth_ratio=None, rel_fit=None, rel_gen=None, holds=None)
        return out
    s_fit, s_gen = _at(steps, S, tf), _at(steps, S, tg)
    r_fit = _at(steps, rel, tf) if rel is not None else None
    r_gen = _at(steps, rel, tg) if rel is not None else None
    ratio = None if s_fit is None or s_gen is None else s_gen / max(s_fit, S_FLOOR)
    holds = None if s_fit is None or ratio is None else bool(s_fit <= small and ratio >= growth)
    out.update(S_fit=s_fit, S_gen=s_gen, growth_ratio=ratio, rel_fit=r_fit, rel_gen=r_gen,
               rel_ratio=None if not r_fit or r_gen is None else r_gen / r_fit, holds=holds)
    return out


def summarize(arrays: dict[str, np.ndarray], cfg: dict[str, Any]) -> dict[str, Any]:
    """t_mem, t_grok, t_exit (under those names), exit_after_mem, the grokking measures and C17.

    ``cfg`` needs the keys ``setting``, ``grok_threshold``, ``gen_threshold``, ``exit_threshold``
    (and optionally ``exit_relative``); missing ones are taken from :data:`DEFAULT_RUN`.
    """
    cfg = {**DEFAULT_RUN, **cfg}
    steps = arrays["step"]
    train_key = "train_fit_acc" if cfg["setting"] == "regression" else "train_acc"
    m = grokking_measures(steps, arrays[train_key], arrays["test_acc"], grok_threshold=cfg["grok_threshold"],
                          log_time=True, fit=True)
    out: dict[str, Any] = {"t_mem": m.t_mem, "t_grok": m.t_grok}
    out["t_exit"] = None
    if "ntk_dist_train" in arrays:
        S = arrays["ntk_dist_train"]
        ok = np.isfinite(S)
        thr = float(cfg["exit_threshold"])
        if cfg.get("exit_relative", False) and ok.any() and np.max(S[ok]) > S_FLOOR:
            # scale-free definition: the first step at which the kernel has done `thr` of its
            # total turning, S(t, 0) ≥ thr · max_t S(t, 0)
            out["t_exit"] = first_crossing(steps[ok], S[ok], thr * float(np.max(S[ok])))
            out["t_exit_definition"] = f"first step with S(t,0) >= {thr:g} * max_t S(t,0)"
        elif ok.any() and not cfg.get("exit_relative", False):
            out["t_exit"] = t_exit(steps[ok], S[ok], thr)
            out["t_exit_definition"] = f"first step with S(t,0) >= {thr:g}"
    out["exit_after_mem"] = (None if out["t_exit"] is None or m.t_mem is None
                             else bool(out["t_exit"] >= m.t_mem))
    out["measures"] = m.as_dict()
    out["c17"] = c17_summary(arrays, gen_threshold=cfg["gen_threshold"], train_key=train_key)
    out["final_train_acc"] = float(arrays[train_key][-1])
    out["final_test_acc"] = float(arrays["test_acc"][-1])
    if "after_kernel_acc" in arrays:
        a = arrays["after_kernel_acc"]
        out["after_kernel_acc_init"] = float(a[0])
        out["after_kernel_acc_final"] = float(a[np.isfinite(a)][-1])
    return out


# =========================================================================== stored parameters
#: Architectures :func:`rebuild_net` knows, by class name.
MODELS = ("QuadraticNet", "EmbeddingMLP", "Transformer")


def net_spec(net: Any) -> dict[str, Any]:
    """The architecture of ``net`` as JSON: ``{"model": class name, "dtype": "float32"|"float64",
    …}`` plus ``output_scale`` (QuadraticNet) or ``n_heads`` (Transformer); the shapes come
    from the stored parameters. ``ValueError`` for a model :func:`rebuild_net` cannot rebuild."""
    name = type(net).__name__
    if name not in MODELS:
        raise ValueError(f"net of type {name} cannot be stored: known models are {', '.join(MODELS)}")
    params = net.params()
    spec: dict[str, Any] = {"model": name, "dtype": str(next(iter(params.values())).dtype).removeprefix("torch.")}
    if name == "QuadraticNet":
        spec["output_scale"] = float(net.output_scale)
    if name == "Transformer":
        spec["n_heads"] = int(net.n_heads)
    return spec


def _params_np(params: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().to(torch.float32).numpy().copy() for k, v in params.items()}


def net_arrays(net: Any, snapshot: str = "final") -> dict[str, np.ndarray]:
    """``net``'s parameters as arrays to store: ``params/<snapshot>/<name>`` (float32, the
    parameter's shape) and ``params/spec`` (:func:`net_spec` as a JSON string array)."""
    out = {f"params/{snapshot}/{k}": v for k, v in _params_np(net.params()).items()}
    out["params/spec"] = np.array(json.dumps(net_spec(net)))
    return out


class ParamSnapshots:
    """A training callback keeping the parameters (float32, on the CPU) at every evaluation
    step, from which :meth:`arrays` keeps those at the first step at or after given times."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.params: list[dict[str, np.ndarray]] = []

    def __call__(self, step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        self.steps.append(int(step))
        self.params.append(_params_np(params))

    def arrays(self, net: Any, times: Mapping[str, float | None]) -> dict[str, np.ndarray]:
        """``params/<name>/<param>`` and ``params/<name>/step`` for every ``name: t`` of
        ``times`` with ``t`` not None: the snapshot at the first logged step ≥ t."""
        out: dict[str, np.ndarray] = {}
        order = np.argsort(self.steps, kind="stable")
        steps = np.asarray(self.steps)[order]
        for name, t in times.items():
            if t is None or not len(steps):
                continue
            i = min(int(np.searchsorted(steps, float(t) - 1e-9)), len(steps) - 1)
            j = int(order[i])
            out.update({f"params/{name}/{k}": v for k, v in self.params[j].items()})
            out[f"params/{name}/step"] = np.asarray(self.steps[j], dtype=np.int64)
        return out


def file_params(arrays: dict[str, np.ndarray], run_key: str, point: Mapping[str, Any],
                recipe_arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """File a recipe's stored parameters under one run: every ``params/…`` entry of
    ``recipe_arrays`` goes into ``arrays`` as ``params/<run_key>/…``, with
    ``params/<run_key>/point`` (``point`` as a JSON string array: what selects this run in
    :func:`regimes.harness.load_run`). Returns ``recipe_arrays`` without those entries."""
    if "/" in run_key or not run_key:
        raise ValueError(f"run_key={run_key!r} is not allowed: give a non-empty name without '/'")
    rest = {}
    for k, v in recipe_arrays.items():
        if k.startswith("params/"):
            arrays[f"params/{run_key}/{k.removeprefix('params/')}"] = v
        else:
            rest[k] = v
    arrays[f"params/{run_key}/point"] = np.array(json.dumps(dict(point), sort_keys=True))
    return rest


def stored_runs(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """The runs filed by :func:`file_params` in ``arrays``: ``{run_key: {"point": dict,
    "snapshots": [names], "spec": dict}}``. A recipe's own unfiled arrays (``params/final/…``)
    appear as the run ``""`` with an empty point."""
    runs: dict[str, dict[str, Any]] = {}
    for k in arrays:
        if not k.startswith("params/"):
            continue
        parts = k.split("/")
        if len(parts) == 2 and parts[1] == "spec":
            runs.setdefault("", {"point": {}, "snapshots": set()})
        elif len(parts) == 3 and parts[2] == "point":
            runs.setdefault(parts[1], {"point": {}, "snapshots": set()})
            runs[parts[1]]["point"] = json.loads(str(arrays[k]))
    for key, run in runs.items():
        pre = f"params/{key}/" if key else "params/"
        run["spec"] = json.loads(str(arrays[pre + "spec"]))
        run["snapshots"] = sorted({k[len(pre):].split("/")[0] for k in arrays
                                   if k.startswith(pre) and k[len(pre):].count("/") == 1})
    return runs


def rebuild_net(arrays: Mapping[str, np.ndarray], run_key: str = "", snapshot: str = "final") -> Any:
    """The model stored by :func:`net_arrays` (filed under ``run_key`` by
    :func:`file_params`, or unfiled for ``run_key=""``) at ``snapshot`` (``"final"``,
    ``"t_mem"``, ``"t_exit"``, ``"t_grok"`` where stored): a
    :class:`~regimes.models.quadratic.QuadraticNet`, :class:`~regimes.models.mlp.EmbeddingMLP` or
    :class:`~regimes.models.transformer.Transformer` in the run's dtype (parameters were
    stored as float32, so a float64 run is rebuilt to float32 precision).
    ``ValueError`` naming the stored runs/snapshots if there is no such entry."""
    runs = stored_runs(arrays)
    if run_key not in runs:
        raise ValueError(f"run_key={run_key!r} has no stored parameters: stored runs are {sorted(runs)}")
    run = runs[run_key]
    if snapshot not in run["snapshots"]:
        raise ValueError(f"snapshot={snapshot!r} is not stored for run {run_key!r}: stored are {run['snapshots']}")
    pre = (f"params/{run_key}/" if run_key else "params/") + snapshot + "/"
    spec = run["spec"]
    dtype = getattr(torch, spec.get("dtype", "float32"))
    params = {k[len(pre):]: torch.from_numpy(np.asarray(v)).to(dtype) for k, v in arrays.items()
              if k.startswith(pre) and k != pre + "step"}
    model = spec["model"]
    if model == "QuadraticNet":
        from regimes.models.quadratic import QuadraticNet

        return QuadraticNet(params["W"], params["V"], output_scale=float(spec.get("output_scale", 1.0)))
    if model == "EmbeddingMLP":
        from regimes.models.mlp import EmbeddingMLP

        return EmbeddingMLP(params)
    if model == "Transformer":
        from regimes.models.transformer import Transformer

        return Transformer(params, int(spec["n_heads"]))
    raise ValueError(f"stored model {model!r} is not one of {', '.join(MODELS)}")


# =========================================================================== stored once, read by figure and check
#: The curves :func:`stored_gromov_run` keeps per run (experiment 15 draws them).
G1_CURVES = ("step", "train_loss", "test_loss", "train_acc", "test_acc", "W_l2", "V_l2", "grad_W_l2", "grad_V_l2")


def stored_gromov_run(key: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One run of Gromov's model, stored once (:func:`regimes.runcache.cached`) for experiment 15
    and check G1 alike: ``key = {"run": <GromovRunConfig fields but the seed>, "seed": s,
    "device": d}``.

    Returns :func:`regimes.gromov.gromov_run`'s summary and its curves (:data:`G1_CURVES`; the run
    must record ``grad_norms``) plus the trained net's parameters (:func:`net_arrays`); a diverged
    run (``summary["diverged_at"]``) has no finite net, and keeps its curves up to the blow-up.
    """
    from regimes import runcache

    def train() -> tuple[dict[str, Any], dict[str, Any]]:
        from regimes.gromov import GromovRunConfig, gromov_run

        summary, arrays, (_, net) = gromov_run(GromovRunConfig(**{**key["run"], "seed": key["seed"]}),
                                               device=key["device"], keep_net=True)
        return summary, {**{k: arrays[k] for k in G1_CURVES}, **(net_arrays(net) if net is not None else {})}

    return runcache.cached("gromov_run", {**key, "device": _device_key(key["device"])}, train)


def stored_fraction_sweep(key: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One (optimizer, seed) of Gromov's Fig 4a, stored once for experiment 16 and check G2:
    ``key = {"optimizer": name, "settings": its optimizer settings, "seed": s, "fractions": [...],
    "run": <the common GromovRunConfig fields>, "device": d}``.

    Returns ``({"rows": rows}, arrays)``: the rows of :func:`regimes.gromov.fraction_sweep`
    (fractions from the largest down, stopping after the first that does not grok) and the nets
    on the two sides of this sweep's critical fraction (the run at α_c and the first fraction
    that failed, if any; not every fraction's, ~3.3 MB quick and ~70 MB full), as
    ``params/<fraction>/<name>``.
    """
    from regimes import runcache

    def train() -> tuple[dict[str, Any], dict[str, Any]]:
        from regimes.gromov import fraction_sweep

        nets: dict[float, Any] = {}
        rows = fraction_sweep(key["optimizer"], key["seed"], fractions=list(key["fractions"]), run=dict(key["run"]),
                              settings=dict(key["settings"]), device=key["device"], nets=nets)
        ran = [r for r in rows if not r["skipped"]]
        return {"rows": rows}, _edge_nets(ran, [r["t_grok"] is None for r in ran], nets)

    return runcache.cached("gromov_fraction_sweep", {**key, "device": _device_key(key["device"])}, train)


def _edge_nets(ran: list[dict[str, Any]], failed: list[bool], nets: Mapping[float, Any]) -> dict[str, np.ndarray]:
    """The nets on the two sides of a fraction sweep's critical fraction, as ``params/<fraction>/<name>``:
    of the runs ``ran`` (largest fraction first; ``failed[i]`` whether run i missed the criterion),
    each that failed, the last, and each followed by one that failed; a diverged run (net ``None``)
    has none to keep."""
    keep = [r for i, r in enumerate(ran) if failed[i] or i + 1 == len(ran) or failed[i + 1]]
    return {f"params/{r['fraction']}/{k.removeprefix('params/')}": v for r in keep if nets[r["fraction"]] is not None
            for k, v in net_arrays(nets[r["fraction"]]).items()}


#: The curves :func:`stored_function_sweep` keeps, of its largest fraction's run (experiment 17).
FUNCTION_CURVES = ("step", "train_loss", "test_loss", "train_acc", "test_acc")


def stored_function_sweep(key: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One (function, seed) of Gromov's Figs 7–10, stored once for experiment 17 and checks G5,
    G6: ``key = {"run": <GromovRunConfig fields but function, fraction, seed>, "function": f,
    "fractions": [...], "crit_level": c, "seed": s, "device": d}``.

    The fractions run from the largest down, stopping after the first whose final held-out
    accuracy is below ``crit_level`` (the smaller ones are marked ``skipped``). Returns
    ``({"rows": rows}, arrays)``: per fraction ``fraction``, ``skipped`` and, when run, ``t_mem``,
    ``t_grok``, ``final_train_acc``, ``final_test_acc``, ``final_test_loss``, ``stopped_at``,
    ``n_train``, ``wall_s``, ``diverged_at``; the largest fraction's curves
    (:data:`FUNCTION_CURVES`); and the nets on the two sides of the critical fraction (the smallest
    fraction of the unbroken run that reached ``crit_level`` and the first that failed, if any;
    quick, with two fractions, every run) as ``params/<fraction>/<name>``.
    """
    from regimes import runcache

    def train() -> tuple[dict[str, Any], dict[str, Any]]:
        from regimes.gromov import GromovRunConfig, gromov_run

        rows: list[dict[str, Any]] = []
        arrays: dict[str, Any] = {}
        failed, nets = False, {}
        level = float(key["crit_level"])
        for fr in sorted(key["fractions"], reverse=True):
            if failed:
                rows.append({"fraction": fr, "skipped": True, "final_test_acc": None})
                continue
            cfg = GromovRunConfig(**{**key["run"], "function": key["function"], "fraction": fr, "seed": key["seed"]})
            s, a, (_, nets[fr]) = gromov_run(cfg, device=key["device"], keep_net=True)
            rows.append({"fraction": fr, "skipped": False, **{k: s[k] for k in (
                "t_mem", "t_grok", "final_train_acc", "final_test_acc", "final_test_loss", "stopped_at", "n_train",
                "wall_s", "diverged_at")}})
            if not arrays:
                arrays = {k: a[k] for k in FUNCTION_CURVES}
            failed = s["final_test_acc"] < level - 1e-12
        ran = [r for r in rows if not r["skipped"]]
        arrays.update(_edge_nets(ran, [r["final_test_acc"] < level - 1e-12 for r in ran], nets))
        return {"rows": rows}, arrays

    return runcache.cached("gromov_function_sweep", {**key, "device": _device_key(key["device"])}, train)


# =========================================================================== the textbook chapter's grids (T1–T3)
#: The arrays of one run's curves in :func:`textbook_runs`' stored grid (``c<i>_<name>``).
TEXTBOOK_CURVES = ("step", "train_acc", "test_acc", "theta_l2")


def _first(steps: np.ndarray, values: np.ndarray, thr: float) -> tuple[int | None, int | None]:
    """(first logged step with value ≥ thr, by :func:`regimes.metrics.grokking.first_crossing`,
    the suite's one definition of t_mem/t_grok; the logged step before it); (None, None) if never."""
    t = first_crossing(steps, values, thr)
    if t is None:
        return None, None
    i = int(np.flatnonzero(steps == t)[0])
    return int(t), int(steps[max(i - 1, 0)])


def textbook_runs(wds: Sequence[float], fractions: Sequence[float], seeds: Sequence[int], steps: int, *,
                  eval_every: int = 20, run: dict[str, Any] | None = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]]]:
    """Train the quadratic net for every (fraction, γ, seed) and measure the chapter's quantities.

    Parameters
    ----------
    wds : weight decays γ (AdamW's decoupled coefficient), each ≥ 0 with lr·γ < 1.
    fractions : training fractions of the p² pairs, each in (0, 1).
    seeds : distinct seeds; seed s draws the training set (``sample_split(..., seed=s)``) and
        the init (``QuadraticNet.init(..., seed=s)``), so one seed shares its data and init
        across γ (the cluster of the bootstraps).
    steps : AdamW steps (≥ 1); eval_every : evaluation cadence in steps (≥ 1).
    run : the model/optimizer settings over :data:`regimes.settings.textbook.TEXTBOOK_RUN`.

    Returns
    -------
    ``(rows, curves)``: one row per run (fraction-major, then γ, then seed) with ``fraction``,
    ``weight_decay``, ``seed``, ``n_train``, ``t_mem``/``t_grok`` (first logged step at 100 %
    training / ≥ 90 % held-out accuracy, ``None`` if never), ``gap`` = t_grok − t_mem and its
    bracket ``gap_low``/``gap_high`` from the evaluation grid (the events lie between the logged
    step before and the logged step), ``theta_l2_init``/``_mem``/``_grok``/``_final``
    (‖θ‖₂ over all entries of W and V at step 0, t_mem, t_grok, the end), ``final_test_acc``,
    ``max_test_acc`` and ``censored`` (a reason string, or ``None`` when the run has a
    positive gap). ``curves`` holds, per row, the arrays ``step``, ``train_acc``, ``test_acc``
    and ``theta_l2`` (held-out accuracy on the pairs not trained on).

    Raises ``ValueError`` (naming the argument) for an empty or out-of-range grid, before any
    training. The whole grid is stored once (:func:`regimes.runcache.cached`, keyed by the grid and
    the full run): checks T1 and T3 share their runs, and read experiment 14's bottom row, which is
    the same grid (:data:`regimes.settings.grids.T1`, ``T2``); recomputed only when the library
    changes.
    """
    cfg = {**TEXTBOOK_RUN, **(run or {})}
    steps = check_int("steps", steps, low=1)
    eval_every = check_int("eval_every", eval_every, low=1)
    if not list(wds) or not list(fractions) or not list(seeds):
        raise ValueError(f"wds={list(wds)!r}, fractions={list(fractions)!r} and seeds={list(seeds)!r} must "
                         "each be non-empty")
    wds = [check_positive("wds entry", w, allow_zero=True) for w in wds]
    for w in wds:
        if w * float(cfg["lr"]) >= 1:
            raise ValueError(f"wds entry {w!r} with lr={cfg['lr']!r} gives lr·γ ≥ 1: allowed [0, 1/lr)")
    fractions = [check_fraction("fractions entry", f) for f in fractions]
    seeds = [check_int("seeds entry", s, low=0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} has repeats: each seed is one independent run")
    check_int("run['p']", cfg["p"], low=2)
    from regimes import runcache

    # the batched trainer runs on the CPU: the device is part of the key as for every stored run
    key = {"wds": wds, "fractions": fractions, "seeds": seeds, "steps": steps, "eval_every": eval_every, "run": cfg,
           "device": "cpu"}
    m, a = runcache.cached("textbook", key, lambda: _grid_runs(wds, fractions, seeds, steps, eval_every, cfg))
    return m["rows"], [{k: np.asarray(a[f"c{i}_{k}"], dtype=float) for k in TEXTBOOK_CURVES}
                       for i in range(len(m["rows"]))]


def _grid_runs(wds: list[float], fractions: list[float], seeds: list[int], steps: int, eval_every: int,
               cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train :func:`textbook_runs`' grid (validated there): ``({"rows": rows}, curves as c<i>_<name>)``."""
    from regimes.batched import train_batched
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig

    p = int(cfg["p"])
    h = int(cfg["width_mult"]) * p
    task = Task(p)
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, np.ndarray]] = []
    for f in fractions:
        splits = {s: sample_split(task, fraction=f, seed=s) for s in seeds}
        jobs = [(w, s) for w in wds for s in seeds]
        nets = [QuadraticNet.init(p, h, seed=s, dtype=torch.float64) for _, s in jobs]
        configs = [TrainConfig(steps=steps, lr=float(cfg["lr"]), optimizer=cfg["optimizer"], loss=cfg["loss"],
                               weight_decay=w, eval_every=eval_every, stall_patience=None) for w, _ in jobs]
        res = train_batched(nets, [splits[s].train for _, s in jobs], configs,
                            tests=[splits[s].test for _, s in jobs])
        for (w, s), hist in zip(jobs, res.histories, strict=True):
            st = np.asarray(hist["step"], dtype=float)
            tr = np.asarray(hist["train_acc"], dtype=float)
            te = np.asarray(hist["test_acc"], dtype=float)
            th = np.asarray(hist["theta_l2"], dtype=float)
            tm, tm_prev = _first(st, tr, float(cfg["mem_threshold"]))
            tg, tg_prev = _first(st, te, float(cfg["grok_threshold"]))

            def norm_at(t: int | None, st=st, th=th) -> float | None:
                return None if t is None else float(th[int(np.flatnonzero(st == t)[0])])

            gap = None if tm is None or tg is None else tg - tm
            censored = ("never memorised" if tm is None else "never grokked" if tg is None
                        else "grokked before or at memorisation" if gap <= 0 else None)
            rows.append({"fraction": f, "weight_decay": w, "seed": s, "n_train": len(splits[s].train),
                         "t_mem": tm, "t_grok": tg, "gap": gap,
                         "gap_low": None if censored else max(tg_prev - tm, 0),
                         "gap_high": None if censored else tg - tm_prev,
                         "theta_l2_init": float(th[0]), "theta_l2_mem": norm_at(tm), "theta_l2_grok": norm_at(tg),
                         "theta_l2_final": float(th[-1]), "final_test_acc": float(te[-1]),
                         "max_test_acc": float(np.nanmax(te)), "censored": censored})
            curves.append({"step": st, "train_acc": tr, "test_acc": te, "theta_l2": th})
    return {"rows": rows}, {f"c{i}_{k}": c[k] for i, c in enumerate(curves) for k in TEXTBOOK_CURVES}
