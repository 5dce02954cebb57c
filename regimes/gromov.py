"""Gromov's minimal grokking model, his training recipe and his measurements
(A. Gromov, *Grokking modular arithmetic*, arXiv:2301.02679, 2023).

The model is his eq. 4, a two-layer MLP with quadratic activation, no biases and the
mean-field output scale,

    f(x) = (2/N) W⁽²⁾ (W⁽¹⁾ x)²,    W⁽¹⁾ ∈ R^{N×2p},  W⁽²⁾ ∈ R^{p×N},  W⁽¹⁾, W⁽²⁾ ~ N(0, 1),

on the one-hot pair x = (e_n, e_m): :func:`gromov_net` builds it as a
:class:`~regimes.models.quadratic.QuadraticNet` (``W = W⁽¹⁾``, ``V = W⁽²⁾``,
``output_scale = 2/N``). Training is full batch on the square loss against one-hot
targets (his Sec. 2) with plain GD, GD with heavy-ball momentum or AdamW, through
:func:`regimes.train.train`. Our square loss is (1/n) Σ_i ‖f(x_i) − e_{y_i}‖², the sum over
the p outputs (``torch.nn.MSELoss`` averages over them too, a factor p smaller); learning
rates in this module are for our convention.

* :func:`gromov_run` — one run from a typed :class:`GromovRunConfig` (training fraction,
  optimizer, function of :data:`FUNCTIONS`), with held-out curves, weight and gradient
  norms (his Fig 1), optional early stop once held-out accuracy reaches a level (for the
  grokking-time sweeps of his Fig 4a), t_mem, t_grok and the test-loss peak
  (:func:`heldout_loss_peak`).
* :func:`analytic_net` — his analytic weights (eqs 6–7, 18–19) for the functions that have
  them; :func:`square_of_sum_accuracy_limit` — the accuracy his (n + m)² solution can reach
  (two square-root branches; derivation in ``proofs/gromov_other_functions.md``).
* :func:`preactivations`, :func:`fourier_image`, :func:`line_power_share` — his Fig 2: the
  preactivation images h⁽¹⁾_k(n, m) and h⁽²⁾_q(n, m) over the p × p grid of inputs, their
  2-D DFTs, and the share of the DFT power on one line of frequencies
  (``proofs/gromov_other_functions.md``, section "Preactivation images").

In his notation α is the training fraction; here it is ``fraction`` everywhere (the central
paper's α is the init scale).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from regimes._validate import check_choice, check_device, check_int, check_positive, check_seed
from regimes.models.quadratic import QuadraticNet
from regimes.settings.gromov import FUNCTIONS, G1_RUN, G1_WINDOW, G2_FRACTIONS, G2_OPTIMIZERS, G2_RUN

__all__ = [
    "FUNCTIONS",
    "G1_RUN",
    "G1_WINDOW",
    "G2_FRACTIONS",
    "G2_OPTIMIZERS",
    "G2_RUN",
    "GromovRunConfig",
    "analytic_net",
    "check_fraction_open",
    "check_function",
    "critical_fraction",
    "fourier_image",
    "fraction_sweep",
    "g1_verdict",
    "g2_verdict",
    "gromov_net",
    "gromov_run",
    "heldout_loss_peak",
    "line_power_share",
    "preactivations",
    "square_of_sum_accuracy_limit",
    "square_of_sum_branches",
]

#: The functions with an analytic solution (Claim II and its corollary): f₁(n) + f₂(m), and
#: F(f₁(n) + f₂(m)); as ``(f1, f2, F)`` callables on int64 tensors (``None`` = identity).
_ANALYTIC: dict[str, tuple[Any, Any, Any]] = {
    "add": (None, None, None),
    "sum_of_squares": (lambda t: t * t, lambda t: t * t, None),
    "square_of_sum": (None, None, lambda t: t * t),
}


def check_function(name: object) -> str:
    """Return ``name`` if it is one of :data:`FUNCTIONS`; else ``ValueError`` listing them."""
    if name not in FUNCTIONS:
        known = ", ".join(f"{k!r} ({v})" for k, v in FUNCTIONS.items())
        raise ValueError(f"function={name!r} is not allowed: choose one of {known}")
    return str(name)


def check_fraction_open(name: str, value: object) -> float:
    """Return ``value`` as a float if it lies in the open interval (0, 1) (a training fraction:
    at least one training and one held-out pair); else ``ValueError``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name}={value!r} is out of range: allowed (0, 1) (the share of the p² pairs "
                         "used for training)")
    return v


def gromov_net(p: int, h: int, *, seed: int = 0, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> QuadraticNet:
    """Gromov's eq. 4 at init: ``f(x) = (2/N) W⁽²⁾ (W⁽¹⁾ x)²`` with every weight drawn from
    N(0, 1) (his Sec. 2), ``N = h`` (the hidden width); a :class:`QuadraticNet` with
    ``output_scale = 2/N``.

    Returns a net whose logits on index pairs (n, m) are (n_pairs, p). ``ValueError`` for
    ``p < 2``, ``h < 1`` or a dtype other than float32/float64.
    """
    return QuadraticNet.init(p, h, dist="standard_normal", mean_field=True, seed=seed, dtype=dtype,
                             device=device)


@dataclass(frozen=True)
class GromovRunConfig:
    """One full-batch run of Gromov's model (see the module docstring).

    Parameters
    ----------
    p : modulus (≥ 3).
    h : hidden width N (the central paper's h).
    fraction : training fraction (his α), in (0, 1): round(fraction · p²) distinct pairs.
    function : key of :data:`FUNCTIONS` (the label is ``function(n, m) mod p``).
    optimizer : ``"gd"``, ``"sgd"`` (GD with heavy-ball momentum, full batch) or ``"adamw"``.
    lr, momentum, weight_decay : as :class:`regimes.train.TrainConfig` (momentum only with
        ``"sgd"``; weight decay is AdamW's decoupled one, or the coupled ℓ2 term for GD).
    steps : number of updates (the budget).
    eval_every : evaluation cadence in steps.
    seed : seeds the training sample and the init.
    dtype : ``"float32"`` or ``"float64"``.
    grad_norms : also record ‖∂L/∂W⁽¹⁾‖ and ‖∂L/∂W⁽²⁾‖ at every evaluation (his Fig 1d).
    stop_at : stop at the first evaluation with held-out accuracy ≥ this (``None``: run all
        ``steps``); the grokking-time sweeps use it.
    grok_threshold : held-out accuracy that defines t_grok.
    onset_level : held-out accuracy that defines t_onset, the onset of generalisation (0.1 is
        six times chance at p = 61).
    """

    p: int = 61
    h: int = 300
    fraction: float = 0.49
    function: str = "add"
    optimizer: str = "gd"
    lr: float = 50.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    steps: int = 2000
    eval_every: int = 10
    seed: int = 0
    dtype: str = "float32"
    grad_norms: bool = False
    stop_at: float | None = None
    grok_threshold: float = 0.95
    onset_level: float = 0.1

    def validate(self) -> GromovRunConfig:
        """Raise ``ValueError`` naming the field for any out-of-range value; return ``self``."""
        check_int("p", self.p, low=3)
        check_int("h", self.h, low=1)
        check_fraction_open("fraction", self.fraction)
        check_function(self.function)
        check_choice("optimizer", self.optimizer, ("gd", "sgd", "adamw"))
        check_positive("lr", self.lr)
        check_positive("momentum", self.momentum, allow_zero=True)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_int("steps", self.steps, low=1)
        check_int("eval_every", self.eval_every, low=1)
        check_seed("seed", self.seed)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        if self.stop_at is not None:
            if not 0 < float(self.stop_at) <= 1:
                raise ValueError(f"stop_at={self.stop_at!r} is out of range: allowed (0, 1] or None")
        for name in ("grok_threshold", "onset_level"):
            v = getattr(self, name)
            if not 0 < float(v) <= 1:
                raise ValueError(f"{name}={v!r} is out of range: allowed (0, 1]")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The config as plain JSON values."""
        return dataclasses.asdict(self)



class _Stop(Exception):
    """Raised by the recorder to end a run early (held-out accuracy reached ``stop_at``)."""


def heldout_loss_peak(steps: np.ndarray, test_loss: np.ndarray, t_end: float | None = None) -> float | None:
    """The step of the held-out loss's maximum before ``t_end`` (Gromov Fig 1a: "test loss
    reaches its maximum right before the onset of grokking").

    The held-out loss first falls from its value at init (the random net's outputs are far
    from the targets), then rises while the net memorises, and falls again when it
    generalises. The initial fall is left out: with the curve restricted to steps ≤ ``t_end``
    (all steps when ``None``), the peak is the largest value from the end of the initial fall
    (the first sample followed by a larger one) on. ``None`` when the curve never rises
    within the range. Non-finite samples are ignored.

    ``steps``, ``test_loss``: (T,) arrays of equal length, steps increasing.

    >>> heldout_loss_peak([0, 1, 2, 3, 4, 5], [9.0, 1.0, 1.2, 1.5, 0.7, 0.2])
    3.0
    """
    s = np.asarray(steps, dtype=float)
    v = np.asarray(test_loss, dtype=float)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"steps and test_loss must be 1-D of equal length, got {s.shape} and {v.shape}")
    keep = np.isfinite(v) & (True if t_end is None else s <= float(t_end))
    s, v = s[keep], v[keep]
    rises = np.nonzero(np.diff(v) > 0)[0]
    if rises.size == 0:
        return None
    i0 = int(rises[0])
    i_peak = i0 + int(np.argmax(v[i0:]))
    return float(s[i_peak])


def gromov_run(config: GromovRunConfig, *, device: str = "cpu", keep_net: bool = False
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | tuple[dict[str, Any], dict[str, np.ndarray],
                                                                        QuadraticNet]:
    """Train Gromov's model as ``config`` says and measure it on held-out pairs.

    Returns ``(summary, arrays)`` (and the initial and trained nets as a third item
    ``(net0, net1)`` with ``keep_net``). ``arrays``: ``step``, ``train_loss``, ``test_loss``,
    ``train_acc``, ``test_acc`` (held out: the pairs not in the training set), ``W_l2``,
    ``V_l2`` (Frobenius norms of W⁽¹⁾ and W⁽²⁾) and, with ``grad_norms``, ``grad_W_l2``,
    ``grad_V_l2`` (norms of the data-loss gradient, plus the coupled ℓ2 term if any).
    ``summary``: the config, ``n_train``, ``t_mem`` (first evaluated step at 100 % training
    accuracy), ``t_grok`` (first at held-out accuracy ≥ ``grok_threshold``), ``t_onset`` (first
    at held-out accuracy ≥ ``onset_level``, the onset of generalisation), ``t_peak``
    (:func:`heldout_loss_peak` up to ``t_grok``, or over the whole run if it never grokked), the
    held-out loss at the peak, final accuracies, ``stopped_at`` (early stop), ``wall_s`` and
    ``diverged_at``: ``None``, or the step at which the loss became non-finite (too large an lr
    for plain GD). A diverged run is a finding, not an error: it is recorded (its curves and
    times up to the last finite evaluation, ``diverged_between`` the steps the blow-up is known
    to lie in) and ``net1`` is ``None`` (no finite trained net to keep).

    Raises ``ValueError`` for an invalid config.
    """
    import time

    from regimes.metrics.grokking import first_crossing
    from regimes.tasks import Task, sample_split
    from regimes.train import NonFiniteError, TrainConfig, objective_and_grad, train

    config.validate()
    check_device("device", device)
    p = config.p
    task = Task(p, "classification", config.function)
    split = sample_split(task, fraction=config.fraction, seed=config.seed)
    dtype = getattr(torch, config.dtype)
    net0 = gromov_net(p, config.h, seed=config.seed, dtype=dtype)
    tc = TrainConfig(steps=config.steps, lr=config.lr, optimizer=config.optimizer, loss="mse",
                     weight_decay=config.weight_decay, momentum=config.momentum, eval_every=config.eval_every,
                     stall_patience=None)
    rows: list[dict[str, Any]] = []
    scale = net0.output_scale

    def grads(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        _, g = objective_and_grad(params, split.train, tc, output_scale=scale)
        record["grad_W_l2"] = float(torch.linalg.vector_norm(g["W"]))
        record["grad_V_l2"] = float(torch.linalg.vector_norm(g["V"]))

    def recorder(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        rows.append(dict(record))
        if config.stop_at is not None and step > 0 and record["test_acc"] >= config.stop_at - 1e-12:
            stopped_params.update({k: v.detach().clone() for k, v in params.items()})
            raise _Stop

    stopped_params: dict[str, torch.Tensor] = {}
    cbs = ([grads] if config.grad_norms else []) + [recorder]
    t0 = time.perf_counter()
    net1 = None
    stopped_at = None
    diverged: NonFiniteError | None = None
    try:
        res = train(net0, split.train, tc, test=split.test, callbacks=cbs, device=device)
        net1 = res.net
    except NonFiniteError as e:   # the run blew up: keep what it measured before, and go on
        diverged = e
        rows = [r for r in rows if all(math.isfinite(v) for v in r.values() if isinstance(v, float))]
    except _Stop:
        stopped_at = int(rows[-1]["step"])
        # the net at the stopping evaluation (stored by the experiments; no effect on the run)
        net1 = QuadraticNet(stopped_params["W"], stopped_params["V"], output_scale=scale)
    wall = time.perf_counter() - t0
    keys = ["step", "train_loss", "test_loss", "train_acc", "test_acc", "W_l2", "V_l2"]
    if config.grad_norms:
        keys += ["grad_W_l2", "grad_V_l2"]
    arrays = {k: np.asarray([r[k] for r in rows], dtype=np.float64) for k in keys}
    s = arrays["step"]
    t_mem = first_crossing(s, arrays["train_acc"], 1.0)
    t_grok = first_crossing(s, arrays["test_acc"], config.grok_threshold)
    t_onset = first_crossing(s, arrays["test_acc"], config.onset_level)
    t_peak = heldout_loss_peak(s, arrays["test_loss"], t_grok)
    i_peak = None if t_peak is None else int(np.searchsorted(s, t_peak))
    summary: dict[str, Any] = {
        "config": config.as_dict(), "n_train": len(split.train), "t_mem": t_mem, "t_grok": t_grok,
        "t_onset": t_onset, "t_peak": t_peak,
        "heldout_loss_at_peak": None if i_peak is None else float(arrays["test_loss"][i_peak]),
        "final_train_acc": float(arrays["train_acc"][-1]), "final_test_acc": float(arrays["test_acc"][-1]),
        "final_test_loss": float(arrays["test_loss"][-1]), "stopped_at": stopped_at, "wall_s": wall,
        "diverged_at": None if diverged is None else int(diverged.step),
        "diverged_between": None if diverged is None else [int(s) for s in diverged.step_range],
    }
    if keep_net:
        return summary, arrays, (net0, net1)
    return summary, arrays


# =========================================================================== check G1 (Fig 1)
# G1_RUN and G1_WINDOW: declared once in regimes.settings.gromov (Gromov Fig 1, Sec. 2).


def g1_verdict(rows: list[dict[str, Any]], window: float = G1_WINDOW) -> dict[str, Any]:
    """Check G1 on :func:`gromov_run` summaries (one per seed): Gromov's Fig 1a claim that the
    held-out loss "reaches its maximum right before the onset of grokking", read as

        0 ≤ (t_onset − t_peak) / t_grok ≤ ``window``   for every seed,

    with t_onset the first step at held-out accuracy ≥ ``onset_level`` and t_grok the first at
    ≥ ``grok_threshold``. INCONCLUSIVE when some seed never reached the onset or t_grok (the
    event the claim is about did not happen, e.g. the run diverged first); a seed whose
    held-out loss never rises fails.
    Returns ``verdict``, ``measured`` (the largest ratio over seeds; NaN if undefined),
    ``smallest`` (the smallest ratio) and ``per_seed`` rows.
    """
    window = check_positive("window", window)
    per_seed = []
    for r in rows:
        to, tg, tp = r["t_onset"], r["t_grok"], r["t_peak"]
        d = None if to is None or tg is None or tp is None else (to - tp) / tg
        per_seed.append({"seed": r["config"]["seed"], "t_mem": r["t_mem"], "t_peak": tp, "t_onset": to,
                         "t_grok": tg, "ratio": d, "diverged_at": r.get("diverged_at"),
                         "holds": None if to is None or tg is None else (d is not None and 0 <= d <= window)})
    if not per_seed or any(s["holds"] is None for s in per_seed):
        verdict = "INCONCLUSIVE"
    else:
        verdict = "PASS" if all(s["holds"] for s in per_seed) else "FAIL"
    ratios = [s["ratio"] for s in per_seed if s["ratio"] is not None]
    return {"verdict": verdict, "measured": max(ratios) if ratios else math.nan,
            "smallest": min(ratios) if ratios else math.nan, "window": window, "per_seed": per_seed}


# =========================================================================== check G2 (Fig 4a)
def fraction_sweep(optimizer: str, seed: int, *, fractions: list[float] | None = None,
                   run: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
                   device: str = "cpu", nets: dict[float, Any] | None = None) -> list[dict[str, Any]]:
    """Grokking time vs training fraction for one optimizer and seed (Gromov Fig 4a).

    Runs :func:`gromov_run` at ``fractions`` from the largest down (``run``: default
    :data:`G2_RUN`; ``settings``: default ``G2_OPTIMIZERS[optimizer]``) and stops after the first
    fraction that does not reach held-out accuracy ``grok_threshold`` within the budget: below
    it the criterion is assumed to fail as well (grokking gets harder with less data; Gromov
    Sec. 4.2), and those fractions are marked ``skipped``. Returns one row per fraction,
    largest first: ``optimizer``, ``seed``, ``fraction``, ``t_grok`` (None if not reached or
    skipped), ``skipped``, ``t_mem``, ``final_test_acc``. With ``nets`` (a dict), the trained
    net of every fraction run is put there under its fraction (the net at the early stop).
    """
    if optimizer not in G2_OPTIMIZERS and settings is None:
        raise ValueError(f"optimizer={optimizer!r} is not allowed: choose one of {tuple(G2_OPTIMIZERS)} "
                         "or pass settings")
    fr = sorted((check_fraction_open("fractions entry", f) for f in (fractions or G2_FRACTIONS)), reverse=True)
    base = {**(G2_RUN if run is None else run), **(G2_OPTIMIZERS[optimizer] if settings is None else settings)}
    rows: list[dict[str, Any]] = []
    failed = False
    for f in fr:
        if failed:
            rows.append({"optimizer": optimizer, "seed": seed, "fraction": f, "t_grok": None, "skipped": True,
                         "t_mem": None, "final_test_acc": None})
            continue
        s, _, (_, net) = gromov_run(GromovRunConfig(**{**base, "fraction": f, "seed": seed}), device=device,
                                    keep_net=True)
        if nets is not None:
            nets[f] = net
        rows.append({"optimizer": optimizer, "seed": seed, "fraction": f, "t_grok": s["t_grok"], "skipped": False,
                     "t_mem": s["t_mem"], "final_test_acc": s["final_test_acc"], "diverged_at": s["diverged_at"]})
        failed = s["t_grok"] is None
    return rows


def critical_fraction(rows: list[dict[str, Any]]) -> float | None:
    """α_c of one (optimizer, seed) from :func:`fraction_sweep` rows: the smallest fraction of
    the unbroken run of grokked fractions from the top; ``None`` (censored: α_c is above the
    largest fraction searched) when the largest fraction did not grok."""
    ok = None
    for r in sorted(rows, key=lambda r: -r["fraction"]):
        if r["t_grok"] is None:
            break
        ok = r["fraction"]
    return ok


def g2_verdict(rows: list[dict[str, Any]], baseline: str = "gd",
               others: tuple[str, ...] = ("momentum", "adamw")) -> dict[str, Any]:
    """Check G2 on :func:`fraction_sweep` rows of several optimizers and the same seeds
    (Gromov Fig 4a, Sec. 2: "regularization and the use of adaptive optimizers produce two
    effects: (i) grokking happens after a smaller number of epochs and (ii) grokking happens at
    smaller α"; "momentum appears to play a major role both in reducing grokking time and α").

    For each optimizer in ``others``, two paired comparisons with ``baseline`` over seeds (the
    same seed draws the same training set and init for every optimizer):

    * **critical fraction**: per seed d = α_c(baseline) − α_c(other); a censored α_c (no
      fraction grokked) is counted as the next grid step above the largest fraction, which
      understates the baseline's α_c (so never helps a PASS); both censored: no comparison.
      Improvement when the 95% t interval of the mean d lies above 0.
    * **grokking time**: per seed the mean of log(t_grok(other) / t_grok(baseline)) over the
      fractions where both grokked; improvement when the 95% interval lies below 0.

    ``measured`` is the largest of the four "deficits" (−low of each α_c interval, high of
    each log-time interval): PASS iff it is < 0 (every interval excludes 0 on the improving
    side), INCONCLUSIVE when some comparison has fewer than 2 seeds (no interval), else FAIL.
    """
    from regimes.stats import mean_ci

    opts = sorted({r["optimizer"] for r in rows})
    if baseline not in opts or any(o not in opts for o in others):
        raise ValueError(f"rows hold optimizers {opts}: need {baseline!r} and {list(others)}")
    seeds = sorted({r["seed"] for r in rows})
    fracs = sorted({r["fraction"] for r in rows})
    step = min((b - a for a, b in itertools.pairwise(fracs)), default=0.1)
    above = fracs[-1] + step

    def by(opt: str, seed: int) -> list[dict[str, Any]]:
        return [r for r in rows if r["optimizer"] == opt and r["seed"] == seed]

    alpha_c = {o: {s: critical_fraction(by(o, s)) for s in seeds} for o in opts}
    comparisons: dict[str, Any] = {}
    deficits: list[float] = []
    inconclusive = False
    for o in others:
        diffs, logs = [], []
        for s in seeds:
            a_b, a_o = alpha_c[baseline][s], alpha_c[o][s]
            if not (a_b is None and a_o is None):
                diffs.append((above if a_b is None else a_b) - (above if a_o is None else a_o))
            tb = {r["fraction"]: r["t_grok"] for r in by(baseline, s) if r["t_grok"] is not None}
            to = {r["fraction"]: r["t_grok"] for r in by(o, s) if r["t_grok"] is not None}
            common = sorted(set(tb) & set(to))
            if common:
                logs.append(float(np.mean([math.log(to[f] / tb[f]) for f in common])))
        entry: dict[str, Any] = {"alpha_c_diff": mean_ci(diffs).as_dict() if diffs else None,
                                 "log_time_ratio": mean_ci(logs).as_dict() if logs else None,
                                 "n_alpha_c": len(diffs), "n_time": len(logs)}
        for key, sign in (("alpha_c_diff", -1.0), ("log_time_ratio", 1.0)):
            ci = entry[key]
            if ci is None or ci["n"] < 2 or not math.isfinite(ci["low"]):
                inconclusive = True
                entry[f"{key}_improves"] = None
                continue
            deficit = -ci["low"] if sign < 0 else ci["high"]
            deficits.append(deficit)
            entry[f"{key}_improves"] = bool(deficit < 0)
        comparisons[o] = entry
    measured = max(deficits) if deficits else math.nan
    if deficits and measured >= 0:
        verdict = "FAIL"
    elif inconclusive or not deficits:
        verdict = "INCONCLUSIVE"
    else:
        verdict = "PASS"
    return {"verdict": verdict, "measured": measured, "alpha_c": {o: {str(s): v for s, v in d.items()}
                                                                  for o, d in alpha_c.items()},
            "comparisons": comparisons, "fractions": fracs, "censored_as": above}


# =========================================================================== analytic solutions
def analytic_net(function: str, p: int, h: int, *, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> QuadraticNet | None:
    """Gromov's analytic weights for ``function`` (a key of :data:`FUNCTIONS`) as a mean-field
    :class:`QuadraticNet`, or ``None`` where he has none (nm, n² + nm + m², n³ + nm² + m).

    ``add``: eqs 6–7 with φ⁽³⁾ = φ⁽¹⁾ + φ⁽²⁾ (eq. 12); ``sum_of_squares``: eq. 30 (eq. 18 with
    f₁ = f₂ = t²); ``square_of_sum``: eq. 31 (eq. 19 with F = t², F⁻¹ the smallest square
    root; outputs q that are not squares get zero readout weights). Built by
    :func:`regimes.constructions.gromov_solution`. ``h`` is the hidden width N.
    """
    from regimes.constructions import gromov_solution

    check_function(function)
    if function not in _ANALYTIC:
        return None
    f1, f2, F = _ANALYTIC[function]
    return gromov_solution(p, h, f1=f1, f2=f2, F=F, seed=seed, dtype=dtype).net


def square_of_sum_accuracy_limit(p: int) -> float:
    """The share of the p² pairs that Gromov's (n + m)² solution (eq. 31, one branch of the
    modular square root: the smallest root) classifies by its constructive wave, for an odd
    prime p: ``(p + 1) / (2p)``.

    With s = n + m mod p, the net's output q peaks where s = F⁻¹(q); at the true label
    q = s² that is s = F⁻¹(s²), which holds for s = 0 and for the (p − 1)/2 residues
    s ∈ {1, …, (p − 1)/2} (the smaller root of s²), and fails for the other (p − 1)/2; each
    s is the sum of p pairs. The remaining pairs are answered by the destructive-interference
    noise alone (about 1/p of them right). Derivation: ``proofs/gromov_other_functions.md``.
    ``ValueError`` unless p is an odd prime.
    """
    p = check_int("p", p, low=3)
    if p % 2 == 0 or any(p % d == 0 for d in range(3, math.isqrt(p) + 1, 2)):
        raise ValueError(f"p={p} is not allowed: need an odd prime (two square roots per non-zero square)")
    return (p + 1) / (2 * p)


@torch.no_grad()
def square_of_sum_branches(net: QuadraticNet) -> dict[str, float]:
    """Accuracy of a net on (n + m)² mod p over all p² pairs, split by the branch of the
    square root that Gromov's eq. 31 solution encodes (the smallest root).

    With s = n + m mod p the label is s²; the pair is on the *chosen* branch when s is the
    smaller root of s² (s = 0 or 1 ≤ s ≤ (p − 1)/2), else on the *other* branch. Returns
    ``acc`` (all pairs), ``acc_chosen_branch``, ``acc_other_branch`` and ``chosen_share``
    (the share of pairs on the chosen branch, (p + 1)/(2p) for odd p). For the analytic
    solution the theory says: chosen branch right, other branch right only by chance
    (``proofs/gromov_other_functions.md``). ``net`` must have p ≥ 3.
    """
    p = net.p
    check_int("p", p, low=3)
    x = torch.cartesian_prod(torch.arange(p), torch.arange(p)).to(net.device)
    s = (x[:, 0] + x[:, 1]) % p
    y = (s * s) % p
    right = (net(x).argmax(dim=1) == y).double()
    chosen = s <= (p - 1) // 2
    return {"acc": float(right.mean()), "acc_chosen_branch": float(right[chosen].mean()),
            "acc_other_branch": float(right[~chosen].mean()) if bool((~chosen).any()) else math.nan,
            "chosen_share": float(chosen.double().mean())}


# =========================================================================== preactivations (Fig 2)
@torch.no_grad()
def preactivations(net: QuadraticNet) -> tuple[torch.Tensor, torch.Tensor]:
    """Gromov's preactivations over every input pair (his eqs 1–2, Fig 2).

    Returns ``(h1, h2)``: ``h1[k, n, m] = W⁽¹⁾[k, n] + W⁽¹⁾[k, p + m]`` (N, p, p), the first
    layer's preactivation of neuron k at input (n, m), and ``h2[q, n, m] = s Σ_k W⁽²⁾[q, k]
    h1[k, n, m]²`` (p, p, p), the output q (s = the net's output scale, 2/N for his model).
    float64.
    """
    W, V = net.W.detach().to(torch.float64).cpu(), net.V.detach().to(torch.float64).cpu()
    p = net.p
    h1 = W[:, :p, None] + W[:, None, p:]
    h2 = torch.einsum("qk,knm->qnm", V, h1 * h1) * net.output_scale
    return h1, h2


def fourier_image(img: torch.Tensor) -> torch.Tensor:
    """Power |DFT|² of a p × p image (or a stack (…, p, p)) over both axes, with the
    convention F(k₁, k₂) = Σ_{n,m} img(n, m) e^{−2πi(k₁n + k₂m)/p}; float64, same shape."""
    if not isinstance(img, torch.Tensor) or img.ndim < 2 or img.shape[-1] != img.shape[-2]:
        raise ValueError(f"img must be a (..., p, p) tensor, got "
                         f"{tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__}")
    F = torch.fft.fft2(img.to(torch.float64))
    return F.real**2 + F.imag**2


def line_power_share(img: torch.Tensor, line: str = "diagonal") -> float:
    """Share of the 2-D DFT power of a p × p image on one line of frequencies, the zero
    frequency (the image's mean) left out of both sums.

    ``line``: ``"diagonal"`` k₁ = k₂ (waves in n + m: Gromov's "single series of peaks at
    n + m ≡ q"), ``"antidiagonal"`` k₁ + k₂ ≡ 0 (waves in n − m), ``"axes"`` k₁ = 0 or
    k₂ = 0 (waves in n alone or m alone, e.g. from 2n and 2m). Returns a float in [0, 1];
    ``ValueError`` for a constant image or an unknown line. An image is constant when its
    non-zero-frequency power is round-off of the whole, at most max(1e-24, (4·p·eps)²) of the
    total power with eps of the dtype ``img`` was given in (a float32 image whose entries differ
    by float32 ulps is constant, not a share of 0.03 read off its rounding).
    """
    check_choice("line", line, ("diagonal", "antidiagonal", "axes"))
    given = img.dtype if isinstance(img, torch.Tensor) and img.dtype.is_floating_point else torch.float64
    P = fourier_image(img)
    if P.ndim != 2:
        raise ValueError(f"img must be one p × p image, got shape {tuple(img.shape)}")
    p = P.shape[0]
    k = torch.arange(p)
    k1, k2 = k[:, None], k[None, :]
    mask = {"diagonal": k1 == k2, "antidiagonal": (k1 + k2) % p == 0, "axes": (k1 == 0) | (k2 == 0)}[line]
    P = P.clone()
    everything = float(P.sum())
    P[0, 0] = 0.0
    tot = float(P.sum())
    rel = max(1e-24, (4 * p * torch.finfo(given).eps) ** 2)
    if tot <= rel * everything or tot == 0.0:   # round-off of a constant image's transform
        raise ValueError("img is constant: its non-zero-frequency power is 0, no share is defined")
    return float(P[mask].sum()) / tot
