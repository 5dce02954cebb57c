"""The one full-batch training loop for the quadratic net (paper §2, eq. 2.2; App. A).

The objective is eq. 2.2 with an optional ℓ2 term,

    L(θ) = (1/n) Σ_i ℓ(Ψ(θ; x_i), y_i) + λ‖θ‖_∞ + (wd/2)‖θ‖_2²,

where ``ℓ`` is the square loss (one-hot targets, optionally scaled, for
classification; the p-scaled target ``p·1(a+b≡c)`` for regression) or the
cross-entropy (classification only), and ``‖θ‖_∞`` is the largest absolute
entry over W and V jointly.

The cross-entropy and its gradient are computed from logit differences,
``ℓ_i = softplus(logsumexp_{j≠y}(f_j − f_y))``, ``G_ij = exp(f_j − f_y − ℓ_i)`` for
``j ≠ y`` and ``G_iy = −Σ_{j≠y} G_ij``: the textbook ``logsumexp(f) − f_y`` and
``softmax − e_y`` round the true-class entry ``p_y − 1`` to exactly 0 once the margin
passes ~36.7 (float64) / ~16.6 (float32) and the loss once it passes about that minus
``ln|f_y|``, while both are representable down to the underflow of ``exp`` (margins
~745 / ~104).

Gradients are written out by hand on the raw tensors (no autograd, no
``torch.optim``): the first layer is a gather of two columns of W, so its
gradient is a scatter-add of the hidden-layer gradient into those columns.
The optimizers are the textbook ones and match ``torch.optim`` update for
update (``tests/test_train.py`` cross-checks Adam, AdamW and SGD with momentum):

* ``"gd"``: θ ← θ − η ∇L.
* ``"normalized_gd"``: the step of App. A.2, eq. A.1, θ ← θ − η ∇ℓ/‖∇ℓ‖₂, under one of the two
  readings of what ℓ is (``normalize``; the paper leaves it open, see
  :data:`regimes.settings.mohamadi.OPEN_SETTINGS`):

  - ``"whole"``: ℓ is the whole objective, θ ← θ − η ∇L/‖∇L‖₂ with the penalties inside.
    The norm is computed with scaling (∇L / max|∇L| first), so the step has length η
    whenever any entry of ∇L is nonzero, and a zero gradient leaves θ unchanged. Once the
    data gradient falls below λ (cross-entropy margins ≳ 45 with λ = 1e-20) the direction
    is the ℓ∞ subgradient's: the step moves the largest entry by ±η, flipping it back and
    forth (records ``grad_data_l2`` < ``grad_penalty_l2``; a bitwise period-2 cycle is the stall
    kind ``"cycle2"``), while the rest of θ moves by ≈ η‖∇L_data‖/λ per step. That is the
    reading, not round-off: in exact arithmetic the run is as slow.
  - ``"loss"``: ℓ is the data loss alone and the penalties are added outside,
    θ ← θ − η(∇L_data/‖∇L_data‖₂ + λ∂‖θ‖∞ + wd θ). Only the *direction* of ∇L_data enters, so
    the cross-entropy gradient is computed up to a positive factor that keeps it
    representable: every entry exp(f_j − f_y − ℓ_i) is multiplied by exp(c), c = −max over
    all entries of (f_j − f_y − ℓ_i), i.e. each example is weighted by exp(−(q_i − q_min))
    relative to the smallest margin. The direction is then exact to rounding after exp(−q)
    itself has underflowed (margins ≳ 104 in float32, ≳ 745 in float64), and a run keeps
    growing its margin for its whole budget. (The shift is the quadratic net's hand-written
    gradient; a functional model steps along its autograd gradient, unshifted.)

* ``"sgd"``: heavy-ball momentum as in ``torch.optim.SGD`` (dampening 0):
  b ← μ b + ∇L (b = ∇L at the first step), θ ← θ − η b. Full batch, so not stochastic.
* ``"adam"``: ``torch.optim.Adam`` with the ℓ2 term coupled into the gradient.
* ``"adamw"``: ``torch.optim.AdamW``: decoupled decay θ ← θ(1 − η·wd) before the
  Adam step; ``wd`` is then not part of the reported objective.

The ℓ∞ penalty uses the minimum-norm subgradient of ``‖θ‖_∞``: when ``k``
entries tie for the largest absolute value, each receives ``sign(θ_i)/k`` (the
average of the tied signed unit vectors; ties are exact floating-point
equality), and at θ = 0 the subgradient is 0. Unlike "pick the first
maximiser", this rule commutes with every permutation of the coordinates, so
λ‖θ‖_∞-regularized training stays permutation-equivariant (Thm 3.3, Cor C.7).

Regression has a second engine (``TrainConfig.engine``): ``"dense"`` computes g for all p³
triples as matrix products over the p² pairs and masks the loss to the training triples by
their counts (:func:`_dense_regression_loss_and_grad`), the same function of θ with another
summation order; ``"auto"`` (the default) picks it where it is faster (:func:`_resolve_engine`:
on the CPU when n ≥ 2p², e.g. App. A.1's n = 2p^{2.25}).

Any other model trains through the same loop: any :class:`regimes.models.Model`, i.e. an
object with ``params() -> dict[str, Tensor]``, ``apply(params, x) -> (n, p)`` logits on
(n, 2) index pairs and ``with_params(params)`` rebuilding a model of the same type (e.g.
:class:`regimes.models.transformer.Transformer`). Its data-loss gradient comes from
``torch.func.grad``; the optimizers, penalties (‖θ‖_∞ and ‖θ‖₂ over all of its
tensors jointly), metrics (per-tensor norms ``{name}_inf``/``{name}_l2`` instead
of W/V), callbacks, NaN checks and checkpoints are shared with the quadratic net.
Functional models are classification-only (regression targets are a quadratic-net notion).

Test metrics are held out (a test metric never scores a training point; see
:func:`evaluate` and :func:`regimes.tasks.heldout` / :func:`regimes.tasks.clean_pairs`),
and the loop reports stalls (θ bitwise frozen or in a bitwise period-2 cycle, or an
exactly zero training loss, for ``stall_patience`` consecutive steps; ``stalled_at``).

Nothing in a run is random: the same net, data and config give the same
trajectory bit for bit on a given device (the CUDA path replaces scatter-adds
by one-hot matrix products, which are deterministic there).
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from regimes._validate import check_choice, check_device, check_int, check_positive
from regimes.metrics.margins import margins
from regimes.models.protocol import Model, Params
from regimes.models.quadratic import QuadraticNet
from regimes.store import atomic_write_bytes, load_torch_state
from regimes.tasks import Dataset, clean_pairs, heldout

__all__ = [
    "ENGINES",
    "LINF_TIES",
    "LOSSES",
    "NORMALIZE",
    "OPTIMIZERS",
    "NonFiniteError",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "linf_subgradient",
    "linf_subgradient_all",
    "objective_and_grad",
    "train",
]

OPTIMIZERS = ("gd", "normalized_gd", "sgd", "adam", "adamw")
LOSSES = ("mse", "cross_entropy")
NORMALIZE = ("whole", "loss")
LINF_TIES = ("split", "first")
ENGINES = ("auto", "gather", "dense")

ApplyFn = Callable[[Params, torch.Tensor], torch.Tensor]
Callback = Callable[[int, Params, dict], None]


class NonFiniteError(FloatingPointError):
    """Raised when the loss or the parameters become NaN/∞; carries the step and
    the last finite metrics record (``.step``, ``.last_record``).

    ``.step`` is the step at which the value was *found* non-finite; ``.step_range``
    ``(a, b)`` the steps between which it *became* non-finite (``a == b == step`` when
    every step is checked; with ``check_finite_every = k > 1`` the loss is tested only
    every k-th step, so it may have blown up at any step since the last finite test).
    """

    def __init__(self, step: int, what: str, last_record: dict[str, Any] | None, *,
                 since: int | None = None, check_every: int = 1) -> None:
        self.step = step
        self.step_range = (step if since is None else min(since, step), step)
        self.last_record = last_record
        last = "none recorded" if last_record is None else ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in last_record.items())
        a = self.step_range[0]
        where = "" if a == step else (
            f" (found there; it became non-finite between steps {a} and {step}: "
            f"check_finite_every={check_every} tests it only every {check_every} steps)")
        super().__init__(f"non-finite {what} at step {step}{where}; last finite metrics: {last}")


@dataclass
class TrainConfig:
    """Hyperparameters of one full-batch run (see the module docstring for the updates).

    Parameters
    ----------
    steps : number of parameter updates.
    lr : learning rate η (> 0).
    optimizer : ``"gd" | "normalized_gd" | "sgd" | "adam" | "adamw"``.
    loss : ``"mse"`` or ``"cross_entropy"`` (classification only).
    lam_inf : λ of eq. 2.2, the ℓ∞ penalty strength (>= 0).
    weight_decay : ℓ2 strength ``wd`` (coupled penalty (wd/2)‖θ‖², or AdamW's decoupled decay).
    momentum : heavy-ball μ for ``"sgd"`` (must be 0 for the other optimizers).
    betas, eps : Adam/AdamW moment decay rates and denominator ε.
    eval_every : metrics cadence k: metrics at step 0, every k steps and at the last step.
    eval_steps : an explicit list of steps to evaluate at instead (0 and the last step are
        always added).
    target_scale : classification MSE target ``target_scale · e_y`` (1 = one-hot;
        ``p`` matches the scale of the kernel lower bounds).
    checkpoint_every : with ``checkpoint=...``, write a checkpoint every this many steps
        (and at the end).
    check_finite_every : test the loss for NaN/∞ every this many steps (1 = every step).
    stall_patience : a stall is this many consecutive stalled steps (>= 1); ``None`` switches
        the detection off. A step is stalled when its update left θ bitwise unchanged
        (θ_t == θ_{t−1} in every tensor), or returned it bitwise to θ_{t−2} (a period-2
        cycle), or its training loss is exactly 0. See :func:`train` (``stalled_at``).
    normalize : for ``"normalized_gd"``, what eq. A.1 normalizes: ``"whole"`` (the gradient of the
        whole objective, penalties included) or ``"loss"`` (the data loss's alone, penalties
        added outside; underflow-free). See the module docstring.
    linf_ties : the ℓ∞ subgradient where several entries tie for the largest |θ_i|: ``"split"``
        (each gets sign(θ_i)/k, the minimum-norm subgradient) or ``"first"`` (the first in
        memory order, W before V, gets sign(θ_i)).
    engine : how the quadratic net's data loss and gradient are computed: ``"gather"`` (over the
        n training points, gathers and scatter-adds), ``"dense"`` (regression only: g for all p³
        triples as matrix products, the loss masked to the training triples by their counts;
        see :func:`_dense_regression_loss_and_grad`) or ``"auto"`` (dense where it is measured to
        be faster, see :func:`_resolve_engine`; else gather). Both are the same function of θ; they
        differ in summation order only (rounding).
    stop_on_stall : stop training at the first step at which a stall is confirmed (the
        last step of its first ``stall_patience`` stalled steps; with CUDA, the first
        evaluation step or multiple of ``stall_patience`` after that) instead of running
        on (default: run on, only report).

    Examples
    --------
    >>> TrainConfig(steps=10, lr=0.1, eval_every=4).schedule()    # 0, every 4th step, the last
    [0, 4, 8, 10]
    >>> TrainConfig(steps=10, lr=-1.0).validate()
    Traceback (most recent call last):
        ...
    ValueError: lr=-1.0 is out of range: allowed (0, inf)
    """

    steps: int
    lr: float
    optimizer: str = "gd"
    loss: str = "mse"
    lam_inf: float = 0.0
    weight_decay: float = 0.0
    momentum: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    eval_every: int = 1
    eval_steps: Sequence[int] | None = None
    target_scale: float = 1.0
    checkpoint_every: int = 1000
    check_finite_every: int = 1
    stall_patience: int | None = 100
    stop_on_stall: bool = False
    normalize: str = "whole"
    linf_ties: str = "split"
    engine: str = "auto"

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` on any out-of-range field; return ``self``."""
        check_int("steps", self.steps, low=0)
        check_positive("lr", self.lr)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("normalize", self.normalize, NORMALIZE)
        if self.normalize != "whole" and self.optimizer != "normalized_gd":
            raise ValueError(f"normalize={self.normalize!r} needs optimizer='normalized_gd' (got "
                             f"{self.optimizer!r}): allowed 'whole' (the default) for other optimizers")
        check_choice("linf_ties", self.linf_ties, LINF_TIES)
        check_choice("engine", self.engine, ENGINES)
        check_positive("lam_inf", self.lam_inf, allow_zero=True)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("momentum", self.momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum={self.momentum!r} is out of range: allowed [0, 1)")
        if self.momentum and self.optimizer != "sgd":
            raise ValueError(f"momentum={self.momentum!r} needs optimizer='sgd' (got {self.optimizer!r})")
        if len(tuple(self.betas)) != 2:
            raise ValueError(f"betas={self.betas!r} must be a pair (beta1, beta2)")
        for i, b in enumerate(self.betas):
            b = float(b)
            if not (0 <= b < 1):
                raise ValueError(f"betas[{i}]={b!r} is out of range: allowed [0, 1)")
        check_positive("eps", self.eps)
        check_int("eval_every", self.eval_every, low=1)
        if self.eval_steps is not None:
            for s in self.eval_steps:
                check_int("eval_steps entry", s, low=0, high=self.steps)
        check_positive("target_scale", self.target_scale)
        check_int("checkpoint_every", self.checkpoint_every, low=1)
        check_int("check_finite_every", self.check_finite_every, low=1)
        decay = float(self.lr) * float(self.weight_decay)
        if self.optimizer in ("adamw", "gd", "sgd") and decay >= 1:
            # AdamW's decoupled decay θ ← θ(1 − η·wd), and the coupled term's own contraction
            # under (S)GD, multiply θ by 1 − η·wd ≤ 0: every step zeroes or flips θ's sign.
            raise ValueError(f"lr={self.lr!r} with weight_decay={self.weight_decay!r} gives lr·weight_decay = "
                             f"{decay:.6g}: out of range for optimizer={self.optimizer!r}, which scales θ by "
                             f"1 − lr·weight_decay each step (allowed: 0 ≤ lr·weight_decay < 1)")
        if self.stall_patience is not None:
            check_int("stall_patience", self.stall_patience, low=1)
        if not isinstance(self.stop_on_stall, bool):
            raise ValueError(f"stop_on_stall={self.stop_on_stall!r} must be a bool (True or False)")
        if self.stop_on_stall and self.stall_patience is None:
            raise ValueError("stop_on_stall=True needs stall detection: stall_patience=None switches it off "
                             "(allowed: an integer >= 1)")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        d = dataclasses.asdict(self)
        d["betas"] = [float(b) for b in self.betas]
        d["eval_steps"] = None if self.eval_steps is None else [int(s) for s in self.eval_steps]
        return d

    def schedule(self) -> list[int]:
        """The sorted evaluation steps (always including 0 and ``steps``)."""
        if self.eval_steps is not None:
            s = {int(t) for t in self.eval_steps}
        else:
            s = set(range(0, self.steps + 1, self.eval_every))
        return sorted(s | {0, self.steps})


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    ``net``: the trained net; ``history``: metric name → list aligned with
    ``history["step"]`` (NaN where a metric was not recorded at a step);
    ``final``: the last metrics record; ``config``: the config used;
    ``wall_time_s``: seconds spent in this call; ``resumed_from``: the step a
    checkpoint resumed from (``None`` for a fresh run); ``stalled_at``: the first step of
    the first stretch of ``config.stall_patience`` consecutive stalled steps (see
    :class:`TrainConfig`), ``None`` if there was none (or detection was off);
    ``stall_kind``: ``"frozen"`` (θ_t == θ_{t−1}), ``"cycle2"`` (θ_t == θ_{t−2} ≠ θ_{t−1})
    or ``"zero_loss"``, the kind of the step that confirmed the stall; ``stopped_at``: the
    last step run when ``stop_on_stall`` ended the run early, else ``None``; ``engine``: the
    quadratic net's data-gradient engine the run used (``"gather"`` or ``"dense"``, ``config.engine``
    resolved; ``None`` for a functional model).
    """

    net: Model
    history: dict[str, list]
    final: dict[str, Any]
    config: TrainConfig
    wall_time_s: float
    steps_per_s: float
    resumed_from: int | None = None
    optimizer_state: dict[str, Any] = field(default_factory=dict, repr=False)
    stalled_at: int | None = None
    stall_kind: str | None = None
    stopped_at: int | None = None
    engine: str | None = None


# =========================================================================== losses / grads
def linf_subgradient_all(tensors: Sequence[torch.Tensor], ties: str = "split"
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """‖θ‖_∞ over all ``tensors`` jointly and a subgradient of it (eq. 2.2).

    Returns ``(norm, grads)`` with one gradient per tensor. ``ties="split"`` (default): the
    minimum-norm subgradient, every entry tied (exactly) for the largest absolute value gets
    ``sign(θ_i)/k`` with ``k`` the number of tied entries over all tensors, all others 0.
    ``ties="first"``: only the first tied entry (tensors in order, each in memory order) gets
    ``sign(θ_i)``. At θ = 0 the subgradient is 0.

    >>> m, (g,) = linf_subgradient_all([torch.tensor([1.0, -2.0, 2.0])])
    >>> float(m), g.tolist()
    (2.0, [0.0, -0.5, 0.5])
    >>> linf_subgradient_all([torch.tensor([1.0, -2.0, 2.0])], ties="first")[1][0].tolist()
    [0.0, -1.0, 0.0]
    """
    check_choice("ties", ties, LINF_TIES)
    absd = [t.abs() for t in tensors]
    m = absd[0].max()
    for a in absd[1:]:
        m = torch.maximum(m, a.max())
    ties_ = [a == m for a in absd]
    t0 = tensors[0]
    if ties == "first":
        # keep the first tie: a running count of ties before each entry, over the tensors in order
        before = torch.zeros((), dtype=torch.long, device=t0.device)
        firsts = []
        for tie in ties_:
            flat = tie.reshape(-1).long()
            c = torch.cumsum(flat, 0) + before
            firsts.append(((c == 1) & tie.reshape(-1)).reshape(tie.shape))
            before = before + flat.sum()
        ties_ = firsts
        k = torch.ones((), dtype=torch.long, device=t0.device)
    else:
        k = ties_[0].sum()
        for tie in ties_[1:]:
            k = k + tie.sum()
    scale = torch.where(m > 0, 1.0 / k.to(t0.dtype), torch.zeros((), dtype=t0.dtype, device=t0.device))
    return m, [torch.sign(t) * tie * scale for t, tie in zip(tensors, ties_, strict=True)]


def linf_subgradient(W: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """‖θ‖_∞ over (W, V) jointly and its minimum-norm subgradient (eq. 2.2).

    Returns ``(norm, gW, gV)``: every entry tied (exactly) for the largest absolute
    value gets ``sign(θ_i)/k`` with ``k`` the number of tied entries; all others 0;
    at θ = 0 the subgradient is 0 (the two-tensor case of :func:`linf_subgradient_all`).
    """
    m, (gW, gV) = linf_subgradient_all((W, V))
    return m, gW, gV


# =========================================================================== optimizers
def _opt_init(config: TrainConfig, P: Params) -> dict[str, Any]:
    """Fresh optimizer state for the tensors ``P`` (keys ``m_<name>``, ``v_<name>``, ``b_<name>``)."""
    if config.optimizer in ("adam", "adamw"):
        return {f"{s}_{k}": torch.zeros_like(v) for s in ("m", "v") for k, v in P.items()}
    if config.optimizer == "sgd" and config.momentum:
        return {f"b_{k}": None for k in P}
    return {}


def _scaled_l2(tensors: Sequence[torch.Tensor]) -> float:
    """‖(t₁, t₂, …)‖₂ in float64, scaled by the largest |entry| first so that entries far
    below the square root of the smallest normal number do not square to 0."""
    m = max(float(t.abs().max()) for t in tensors)
    if m == 0.0:
        return 0.0
    return m * math.sqrt(sum(float(((t.double() / m) ** 2).sum()) for t in tensors))


def _objective(data_loss: Any, theta_inf: Any, theta_sq: Any, config: TrainConfig) -> Any:
    """The eq. 2.2 objective from its parts: ``data_loss + λ‖θ‖_∞ + (wd/2)‖θ‖₂²``, the ℓ2
    term only where it is part of the gradient (not for AdamW, whose decay is decoupled).

    ``theta_inf`` = ‖θ‖_∞ and ``theta_sq`` = ‖θ‖₂² over all tensors jointly; floats or
    0-d tensors (the value has their type). The one place the objective's value is written;
    its gradient is :func:`_add_penalties`.
    """
    obj = data_loss + config.lam_inf * theta_inf
    if config.weight_decay and config.optimizer != "adamw":
        obj = obj + 0.5 * config.weight_decay * theta_sq
    return obj


def _penalty_grads(P: Params, config: TrainConfig) -> Params | None:
    """The penalties' gradient alone (:func:`_add_penalties` on zeros), per tensor; ``None``
    when both penalties are off."""
    if not config.lam_inf and not (config.weight_decay and config.optimizer != "adamw"):
        return None
    out = {k: torch.zeros_like(v) for k, v in P.items()}
    _add_penalties(P, out, config)
    return out


def _add_penalties(P: Params, G: Params, config: TrainConfig) -> None:
    """Add λ·∂‖θ‖_∞ (over all tensors jointly) and the coupled ℓ2 term wd·θ (not for AdamW)
    to the data-loss gradients ``G`` in place (eq. 2.2): the gradient of :func:`_objective`."""
    lam, wd = float(config.lam_inf), float(config.weight_decay)
    if lam:
        _, subs = linf_subgradient_all(list(P.values()), config.linf_ties)
        for g, sg in zip(G.values(), subs, strict=True):
            g.add_(sg, alpha=lam)
    if wd and config.optimizer != "adamw":
        for k, g in G.items():
            g.add_(P[k], alpha=wd)


def _unit_step(P: Params, G: Params, lr: float) -> None:
    """θ ← θ − lr·G/‖G‖₂ in place, the norm computed with scaling: u = G / max|G| has entries
    ≤ 1 in magnitude, so Σu² ≥ 1 never underflows (Σg² does once every |g| < ~1e-162 in
    float64, ~1e-23 in float32, and the step would be 0). A zero G leaves θ unchanged."""
    gs = list(G.values())
    gmax = gs[0].abs().amax()
    for g in gs[1:]:
        gmax = torch.maximum(gmax, g.abs().amax())
    nonzero = gmax > 0
    safe = torch.where(nonzero, gmax, torch.ones_like(gmax))
    us = [g / safe for g in gs]
    sq = torch.dot(us[0].reshape(-1), us[0].reshape(-1))
    for u in us[1:]:
        sq = sq + torch.dot(u.reshape(-1), u.reshape(-1))
    f = torch.where(nonzero, -lr / torch.sqrt(torch.where(nonzero, sq, torch.ones_like(sq))),
                    torch.zeros_like(sq))
    for k, u in zip(G, us, strict=True):
        P[k].addcmul_(u, f)


def _loss_normalized_step(P: Params, G: Params, config: TrainConfig) -> None:
    """The ``normalize="loss"`` reading of eq. A.1: θ ← θ − η(G/‖G‖₂ + λ∂‖θ‖∞ + wd θ), with
    ``G`` the data-loss gradient up to any positive factor (only its direction enters)."""
    pen = _penalty_grads(P, config)     # at θ_t, before the normalized step moves it
    _unit_step(P, G, float(config.lr))
    if pen is not None:
        for k, g in pen.items():
            P[k].add_(g, alpha=-float(config.lr))


def _opt_update(P: Params, G: Params, state: dict[str, Any], t: int, config: TrainConfig) -> None:
    """One update of step ``t`` (1-based) of the configured optimizer on the tensors ``P`` in
    place, from the full gradients ``G`` (penalties included; see the module docstring)."""
    opt = config.optimizer
    lr, wd = float(config.lr), float(config.weight_decay)
    if opt == "gd":
        for k, g in G.items():
            P[k].add_(g, alpha=-lr)
    elif opt == "normalized_gd":     # the "whole" reading: G holds the penalties already
        _unit_step(P, G, lr)
    elif opt == "sgd":
        if config.momentum:
            for k, g in G.items():
                b = state[f"b_{k}"]
                if b is None:
                    state[f"b_{k}"] = g.clone()
                else:
                    b.mul_(config.momentum).add_(g)
            G = {k: state[f"b_{k}"] for k in G}
        for k, g in G.items():
            P[k].add_(g, alpha=-lr)
    else:  # adam / adamw, as torch.optim (single-tensor path)
        b1, b2 = (float(b) for b in config.betas)
        if opt == "adamw" and wd:
            for v in P.values():
                v.mul_(1 - lr * wd)
        bc1 = 1 - b1**t
        bc2_sqrt = math.sqrt(1 - b2**t)
        step_size = lr / bc1
        for k, g in G.items():
            m, v = state[f"m_{k}"], state[f"v_{k}"]
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bc2_sqrt).add_(config.eps)
            P[k].addcdiv_(m, denom, value=-step_size)


@dataclass
class _Batch:
    """Training data prepared for the hot loop (indices on device, targets in dtype)."""

    regression: bool
    x: torch.Tensor
    y: torch.Tensor            # class labels (long) or regression targets (float)
    cols_a: torch.Tensor
    cols_b: torch.Tensor
    cols_ab: torch.Tensor            # (n, 2): both gathered rows per point
    onehot_ab: torch.Tensor | None   # (n, 2p) incidence matrix (CUDA path only)
    onehot_c: torch.Tensor | None    # (n, p) for regression's dV (CUDA path only)
    arange: torch.Tensor             # 0..n-1 on the device
    y_col: torch.Tensor              # (n, 1) view of y: the true class for gather/scatter
    zeros_n: torch.Tensor            # (n,) zeros in dtype (softplus as logaddexp(m, 0))
    ws: dict[str, torch.Tensor] = field(default_factory=dict)   # reused workspace buffers


def _prepare(data: Dataset, dtype: torch.dtype, device: torch.device, deterministic_mm: bool) -> _Batch:
    p = data.task.p
    regression = data.task.setting == "regression"
    x = data.x.to(device=device, dtype=torch.long)
    y = data.y.to(device=device, dtype=dtype if regression else torch.long)
    cols_a, cols_b = x[:, 0].contiguous(), (p + x[:, 1]).contiguous()
    cols_ab = torch.stack([cols_a, cols_b], dim=1)
    oh_ab = oh_c = None
    if deterministic_mm:
        n = x.shape[0]
        oh_ab = torch.zeros(n, 2 * p, dtype=dtype, device=device)
        ar = torch.arange(n, device=device)
        oh_ab[ar, cols_a] += 1
        oh_ab[ar, cols_b] += 1
        if regression:
            oh_c = torch.zeros(n, p, dtype=dtype, device=device)
            oh_c[ar, x[:, 2]] = 1
    n = x.shape[0]
    return _Batch(regression, x, y, cols_a, cols_b, cols_ab, oh_ab, oh_c, torch.arange(n, device=device),
                  y[:, None],
                  torch.zeros(n, dtype=dtype, device=device))


def _buf(b: _Batch | _DenseBatch, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """A workspace tensor reused across steps (fresh multi-MB allocations page-fault on
    every step and cost more than the arithmetic on a CPU)."""
    t = b.ws.get(name)
    if t is None or tuple(t.shape) != shape or t.dtype != like.dtype or t.device != like.device:
        t = b.ws[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
    return t


def _data_loss_and_grad(Wt: torch.Tensor, V: torch.Tensor, b: _Batch, loss: str, scale: float,
                        target_scale: float, shift: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean data loss and its gradients (dWᵀ, dV), written out by hand.

    ``shift=True`` (cross-entropy only; for the ``normalize="loss"`` reading, where only the
    gradient's direction is used) returns the gradients multiplied by exp(c) > 0 with
    c = −max_{i, j≠y_i}(f_j − f_{y_i} − ℓ_i), so that the largest entry of the (n, p) matrix
    of ∂ℓ_i/∂f_j is scale/n instead of underflowing: each example is weighted by
    exp(−(q_i − q_min)) relative to the smallest margin (the loss ``L`` is not shifted).

    ``Wt`` is the first layer stored transposed, (2p, h) and contiguous, so the
    gather of columns a and p+b is a contiguous row gather and the gradient a
    row scatter-add. The (n, h) temporaries live in a workspace reused across
    steps; the returned gradients are workspace buffers too (valid until the
    next call with the same batch).
    """
    n = b.x.shape[0]
    h = Wt.shape[1]
    # (n, h) pre-activations Wᵀ[a] + Wᵀ[p+b] in one fused gather-and-sum pass
    z = torch.nn.functional.embedding_bag(b.cols_ab, Wt, mode="sum")
    s = torch.mul(z, z, out=_buf(b, "s", (n, h), Wt))   # z⊙z
    dz = _buf(b, "dz", (n, h), Wt)
    if b.regression:
        Vc = torch.index_select(V, 0, b.x[:, 2], out=dz)  # (n, h) rows V[c_i]
        g = (s * Vc).sum(dim=1)
        if scale != 1.0:
            g = g * scale
        r = g - b.y
        L = (r * r).mean()
        rr = (r * (2.0 * scale / n))[:, None]            # dL/dg_i · s
        dz.mul_(rr).mul_(z)                              # rr_i V[c_i] ⊙ z_i (×2 below)
        s.mul_(rr)                                       # rr_i (z_i ⊙ z_i)
        if b.onehot_c is not None:
            gV = b.onehot_c.t() @ s
        else:
            gV = torch.zeros_like(V).index_add_(0, b.x[:, 2], s)
    else:
        p = V.shape[0]
        out = torch.mm(s, V.t(), out=_buf(b, "out", (n, p), Wt))   # (n, p) logits / scale
        if scale != 1.0:
            out.mul_(scale)
        ar = b.arange
        G = _buf(b, "G", (n, p), Wt)
        if loss == "cross_entropy":
            # from logit differences (see _ce_rows): ℓ_i = softplus(m_i), m_i = lse_{j≠y}(f_j − f_y);
            # G_ij = softmax_j = exp(f_j − f_y − ℓ_i) for j ≠ y and G_iy = −Σ_{j≠y} G_ij, never the
            # rounded 1 − p_y (which is exactly 0 once p_y rounds to 1)
            yc = b.y_col
            torch.sub(out, out.gather(1, yc), out=G)
            G.scatter_(1, yc, float("-inf"))
            m = torch.logsumexp(G, dim=1)
            rows = torch.logaddexp(m, b.zeros_n)             # softplus(m), no overflow, no 1 + tiny
            L = rows.mean()
            G.sub_(rows[:, None])
            if shift:   # a positive factor exp(c) that brings the largest entry to exp(0) = 1
                G.sub_(G.amax())
            G.exp_()                                          # exp(−inf) = 0 on the true class
            G.scatter_(1, yc, G.sum(dim=1, keepdim=True).neg_())
            G.mul_(scale / n)
        else:
            G.copy_(out)
            G[ar, b.y] -= target_scale
            L = (G * G).sum() / n
            G.mul_(2.0 * scale / n)
        gV = G.t() @ s
        torch.mm(G, V, out=dz).mul_(z)                   # (G V) ⊙ z (×2 below)
    # dz/dW: the factor 2 of d(z²)/dz is applied here, in the scatter
    if b.onehot_ab is not None:  # deterministic matmul path (CUDA)
        gWt = torch.mm(b.onehot_ab.t(), dz).mul_(2.0)
    else:
        gWt = _buf(b, "gWt", tuple(Wt.shape), Wt).zero_()
        gWt.index_add_(0, b.cols_a, dz, alpha=2.0)
        gWt.index_add_(0, b.cols_b, dz, alpha=2.0)
    return L, gWt, gV


@dataclass
class _DenseBatch:
    """Regression training triples as (p², p) matrices over all p³ triples (a, b, c), row a·p + b,
    column c: what :func:`_dense_regression_loss_and_grad` masks the dense outputs with.

    ``count``: how many times each triple occurs in the training set (a with-replacement sample
    counts each copy); ``ybar``: the mean target over its copies (the target itself when they
    agree, as for p·1(a+b≡c)), 0 where ``count`` is 0; ``const``: Σ over copies of
    (y − ybar)², the part of n·L no θ can fit (0 when copies agree), in float64; ``n``: the
    number of training points (copies included).
    """

    p: int
    n: int
    count: torch.Tensor     # (p², p) in the training dtype
    ybar: torch.Tensor      # (p², p) in the training dtype
    const: float
    ws: dict[str, torch.Tensor] = field(default_factory=dict)   # reused workspace buffers


def _prepare_dense(data: Dataset, dtype: torch.dtype, device: torch.device) -> _DenseBatch:
    """The :class:`_DenseBatch` of a regression dataset (counts and mean targets per triple)."""
    p = data.task.p
    x = data.x.to(dtype=torch.long)
    y = data.y.to(dtype=torch.float64)
    idx = (x[:, 0] * p + x[:, 1]) * p + x[:, 2]
    cells = p**3
    count = torch.zeros(cells, dtype=torch.float64, device=idx.device).index_add_(0, idx, torch.ones_like(y))
    ysum = torch.zeros(cells, dtype=torch.float64, device=idx.device).index_add_(0, idx, y)
    ymin = torch.full((cells,), math.inf, dtype=torch.float64, device=idx.device).scatter_reduce_(0, idx, y, "amin")
    ymax = torch.full((cells,), -math.inf, dtype=torch.float64, device=idx.device).scatter_reduce_(0, idx, y, "amax")
    seen = count > 0
    # where the copies agree the target is kept exactly (no sum-then-divide rounding)
    ybar = torch.where(ymin == ymax, ymin, ysum / torch.where(seen, count, torch.ones_like(count)))
    ybar = torch.where(seen, ybar, torch.zeros_like(ybar))
    const = float(((y - ybar[idx]) ** 2).sum())
    shape = (p * p, p)
    return _DenseBatch(p, int(x.shape[0]), count.reshape(shape).to(device=device, dtype=dtype),
                       ybar.reshape(shape).to(device=device, dtype=dtype), const)


def _dense_regression_loss_and_grad(Wt: torch.Tensor, V: torch.Tensor, db: _DenseBatch, scale: float
                                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean regression square loss and its gradients (dWᵀ, dV) from all p³ outputs at once.

    The same function of θ as the regression branch of :func:`_data_loss_and_grad`, computed as
    matrix products over all (a, b) pairs instead of gathers over the n training triples (App.
    A.1's n = 2p^{2.25} triples cover all p² pairs about 2p^{0.25} times over, so the p² hidden
    vectors are fewer than the n gathered ones). With ``Wa = Wᵀ[:p]``, ``Wb = Wᵀ[p:]`` (p, h):

    * Z = Wa[a] + Wb[b] for all (a, b) as an outer sum, (p², h); S = Z ⊙ Z;
    * OUT = scale · S Vᵀ, (p², p): g(a, b, c) for every triple;
    * with C the (p², p) count matrix and Ȳ the mean targets (:class:`_DenseBatch`),
      R = OUT − Ȳ, D = C ⊙ R: L = (Σ D ⊙ R + const) / n, which is (1/n) Σ_i (g_i − y_i)²;
    * with D ← (2·scale/n) D: dV = Dᵀ S (p, h), dZ = 2 Z ⊙ (D V) (p², h), dWa = Σ_b dZ,
      dWb = Σ_a dZ.

    Cost: three (p², h)·(h, p)-sized products, about 6p³h flops, against the gather engine's
    O(nh) gathers and scatters. The returned gradients are workspace buffers of ``db`` (valid
    until its next call). An untrained triple whose output overflows makes the loss NaN
    (inf·0) where the gather engine would not see it; the shared W makes the trained outputs
    overflow at the same time in practice.
    """
    p, h = V.shape
    n = db.n
    Z = _buf(db, "Z", (p * p, h), Wt)
    torch.add(Wt[:p, None, :], Wt[None, p:, :], out=Z.view(p, p, h))   # row a·p + b: Wa[a] + Wb[b]
    S = torch.mul(Z, Z, out=_buf(db, "S", (p * p, h), Wt))
    R = torch.mm(S, V.t(), out=_buf(db, "R", (p * p, p), Wt))
    if scale != 1.0:
        R.mul_(scale)
    R.sub_(db.ybar)
    D = torch.mul(R, db.count, out=_buf(db, "D", (p * p, p), Wt))
    L = torch.dot(D.view(-1), R.view(-1))
    if db.const:
        L = L + db.const
    L = L / n
    D.mul_(2.0 * scale / n)                                  # dL/dOUT_raw
    gV = torch.mm(D.t(), S, out=_buf(db, "gV", (p, h), Wt))
    dZ = torch.mm(D, V, out=S).mul_(Z)                       # (D V) ⊙ Z (×2 below); S is spent
    gWt = _buf(db, "gWt", (2 * p, h), Wt)
    dZ3 = dZ.view(p, p, h)
    torch.sum(dZ3, dim=1, out=gWt[:p])
    torch.sum(dZ3, dim=0, out=gWt[p:])
    gWt.mul_(2.0)
    return L, gWt, gV


def objective_and_grad(params: Params, data: Dataset, config: TrainConfig, *,
                       output_scale: float = 1.0) -> tuple[torch.Tensor, Params]:
    """The eq. 2.2 objective (data loss + λ‖θ‖_∞ + (wd/2)‖θ‖², the latter except for AdamW)
    and the gradient the optimizer uses, as ``(objective, {"W": dW, "V": dV})``.

    Public for cross-checks against ``torch.autograd``; the loop calls the same code.
    """
    W, V = params["W"], params["V"]
    b = _prepare(data, W.dtype, W.device, False)
    L, gWt, gV = _data_loss_and_grad(W.t().contiguous(), V, b, config.loss, output_scale, config.target_scale)
    G = {"W": gWt.t().clone(), "V": gV.clone()}
    _add_penalties({"W": W, "V": V}, G, config)
    theta_inf = torch.maximum(W.abs().max(), V.abs().max())
    return _objective(L, theta_inf, (W * W).sum() + (V * V).sum(), config), G


# =========================================================================== metrics
def _ce_rows(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy ``−log softmax(f)_y`` from logit differences:
    ``softplus(logsumexp_{j≠y}(f_j − f_y))``.

    Equal to ``logsumexp(f) − f_y`` in exact arithmetic, but not rounded to 0 while it is
    representable: the textbook form subtracts two numbers that agree to every digit once
    ``e^{−margin}`` is below the rounding unit of ``f_y``; this one is ``≈ Σ_{j≠y} e^{f_j − f_y}``
    there, down to the underflow of ``exp`` (margins ~745 float64 / ~104 float32).
    Differentiable (used under ``torch.func`` by the functional backend).
    """
    fy = logits.gather(1, y[:, None])
    d = (logits - fy).scatter(1, y[:, None], float("-inf"))
    m = torch.logsumexp(d, dim=1)
    return torch.logaddexp(m, torch.zeros_like(m))


@dataclass
class _EvalSet:
    """Pre-computed index sets for the metrics of one dataset.

    ``data``: the points the loss averages over; ``pairs``: the heads the accuracy scores
    (the inputs themselves for classification, (a, b) pairs for regression) with their
    labels ``pair_labels``."""

    data: Dataset
    pairs: torch.Tensor
    pair_labels: torch.Tensor


def _eval_set(data: Dataset, device: torch.device, train: Dataset | None = None) -> _EvalSet:
    """The metric index sets of ``data``.

    Without ``train`` (training set, population): every point, and for regression every
    distinct (a, b) pair that occurs. With ``train`` (a test set): the held-out ones only,
    as :mod:`regimes.tasks` defines them once: the points of :func:`~regimes.tasks.heldout`
    for the loss, and for the regression accuracy the :func:`~regimes.tasks.clean_pairs`
    of those points (pairs whose labelled triple was never trained on)."""
    if train is not None:
        data = heldout(train, data)
    data = data.to(device)
    if data.task.setting == "regression":
        if train is not None:
            pairs = clean_pairs(train.to(device), data)
        else:
            pairs = torch.unique(data.x[:, :2], dim=0) if len(data) else data.x[:, :2]
        labels = data.task.pair_task().label(pairs)
        return _EvalSet(data, pairs, labels)
    return _EvalSet(data, data.x, data.y)


@torch.no_grad()
def _metrics_on(params: Params, es: _EvalSet, config: TrainConfig, scale: float, prefix: str,
                with_margin: bool, apply_fn: ApplyFn | None = None, counts: bool = False) -> dict[str, float]:
    """Loss, accuracy (and margin, and with ``counts`` the numbers of scored points
    ``{prefix}_n`` / ``{prefix}_acc_n``) of the net on one eval set (``apply_fn``: a
    functional model's logits; default the quadratic net's)."""
    out: dict[str, float] = {}
    data = es.data
    if counts:
        out[f"{prefix}_n"] = len(data)
        out[f"{prefix}_acc_n"] = int(es.pairs.shape[0])
    if len(data) == 0:
        out.update({f"{prefix}_loss": float("nan"), f"{prefix}_acc": float("nan")})
        return out
    if data.task.setting == "regression":
        g = QuadraticNet.apply_regression(params, data.x, scale)
        out[f"{prefix}_loss"] = float(((g - data.y.to(g.dtype)) ** 2).mean())
        if es.pairs.shape[0] == 0:
            out[f"{prefix}_acc"] = float("nan")
            return out
    logits = QuadraticNet.apply(params, es.pairs, scale) if apply_fn is None else apply_fn(params, es.pairs)
    if data.task.setting == "classification":
        if config.loss == "cross_entropy":
            out[f"{prefix}_loss"] = float(_ce_rows(logits, es.pair_labels).mean())
        else:
            t = torch.zeros_like(logits)
            t[torch.arange(len(t), device=t.device), es.pair_labels] = config.target_scale
            out[f"{prefix}_loss"] = float(((logits - t) ** 2).sum(dim=1).mean())
    out[f"{prefix}_acc"] = float((logits.argmax(dim=1) == es.pair_labels).to(torch.float64).mean())
    if with_margin:
        out["q_min"] = float(margins(logits, es.pair_labels).min())
    return out


@torch.no_grad()
def evaluate(net: Model | Params, train: Dataset, config: TrainConfig, *,
             test: Dataset | None = None, output_scale: float | None = None,
             population: bool = False) -> dict[str, float]:
    """One metrics record (what :func:`train` records at each evaluation step).

    Keys: ``train_loss`` (mean data loss, no penalty), ``objective`` (eq. 2.2 value),
    ``train_acc``, ``theta_inf`` (‖θ‖_∞), ``theta_l2`` (‖θ‖₂ over all entries), ``W_inf``,
    ``V_inf``, ``W_l2``, ``V_l2`` (Frobenius), ``q_min`` (min train margin
    f_y − max_{y'≠y} f_{y'}, Sec. 4.2) and ``norm_margin`` = q_min / ‖θ‖_∞³ (the normalized
    ℓ∞ margin, 3-homogeneity).

    With ``test``, held-out metrics only — a test metric never scores a training point
    (:func:`regimes.tasks.heldout`, :func:`regimes.tasks.clean_pairs`):

    * ``test_loss``: mean data loss over the test points not in ``train`` (classification:
      pairs; regression: triples, square loss of g against p·1(a+b≡c));
    * ``test_acc``: classification, accuracy over those pairs; regression, the clean-pair
      accuracy of argmax_c g(a, b, c) (Prop E.7) over the distinct (a, b) of those triples
      whose labelled triple (a, b, (a+b) mod p) is not in ``train`` (a pair whose labelled
      triple was trained on is answered right by a memoriser);
    * ``test_n``: the number of points ``test_loss`` averages over; ``test_acc_n``: the number
      of points (pairs) ``test_acc`` scores (equal for classification). NaN metrics when 0.

    With ``population=True``, population metrics over all ``task.size`` points, training
    points included: ``population_loss`` and ``population_acc`` (regression: over all p²
    pairs). These are the paper's population quantities (Thm 3.4, 4.3), not test metrics.

    Regression: ``train_loss`` is the mean square loss of g on the training triples;
    ``train_acc`` and ``q_min`` are those of the argmax_c classifier over the distinct (a, b)
    pairs that appear among the training triples.

    ``net`` may also be a functional model (see the module docstring): then the norms
    are per tensor, ``{name}_inf`` and ``{name}_l2``, and there is no ``norm_margin``
    (it relies on the quadratic net's 3-homogeneity).

    Raises ``ValueError`` if ``test`` is not a :class:`Dataset` of ``train``'s task or
    ``population`` is not a bool.
    """
    if not isinstance(population, bool):
        raise ValueError(f"population={population!r} must be a bool (True or False)")
    _check_test(train, test)
    if isinstance(net, QuadraticNet):
        params, scale = net.params(), net.output_scale
        apply_fn = None
    elif _is_functional(net):
        params, scale = net.params(), 1.0
        apply_fn = net.apply
    else:
        params, scale = net, 1.0 if output_scale is None else output_scale
        apply_fn = None
    device = next(iter(params.values())).device
    tr = _eval_set(train, device)
    te = None if test is None else _eval_set(test, device, train)
    rec = _record(params, tr, te, config, scale, apply_fn)
    if population:
        pop = _eval_set(train.task.population(), device)
        rec.update(_metrics_on(params, pop, config, scale, "population", False, apply_fn))
    return rec


def _record(params: Params, tr: _EvalSet, te: _EvalSet | None, config: TrainConfig,
            scale: float = 1.0, apply_fn: ApplyFn | None = None) -> dict[str, float]:
    """The metrics record (see :func:`evaluate`) of the quadratic net (``apply_fn=None``;
    ``params`` = ``{"W", "V"}``, logits scaled by ``scale``) or of a functional model
    (``apply_fn``): losses, accuracies, the train margin ``q_min``, the eq. 2.2 objective,
    ‖θ‖_∞ and ‖θ‖₂ over all tensors, per-tensor ``{name}_inf`` / ``{name}_l2`` and, for the
    3-homogeneous quadratic net only, the normalized margin ``norm_margin``."""
    rec: dict[str, float] = {}
    rec.update(_metrics_on(params, tr, config, scale, "train", True, apply_fn))
    infs = {k: float(v.abs().max()) for k, v in params.items()}
    l2s = {k: float(torch.linalg.vector_norm(v)) for k, v in params.items()}
    t_inf = max(infs.values())
    rec["objective"] = _objective(rec["train_loss"], t_inf, sum(v**2 for v in l2s.values()), config)
    if te is not None:
        rec.update(_metrics_on(params, te, config, scale, "test", False, apply_fn, counts=True))
    rec.update(theta_inf=t_inf, theta_l2=math.hypot(*l2s.values()))
    rec.update({f"{k}_inf": v for k, v in infs.items()})
    rec.update({f"{k}_l2": v for k, v in l2s.items()})
    if apply_fn is not None:
        return rec
    try:
        cube = t_inf**3   # 0.0 when the weights have decayed to ~1e-110 (underflow), not only at θ = 0
        rec["norm_margin"] = rec["q_min"] / cube if cube > 0 else float("nan")
    except OverflowError:
        rec["norm_margin"] = float("nan")
    return rec


# =========================================================================== validation
def _is_functional(net: Any) -> bool:
    """Whether ``net`` is a :class:`regimes.models.Model` other than the quadratic net (its three
    methods present and callable)."""
    return (not isinstance(net, QuadraticNet)
            and all(callable(getattr(net, a, None)) for a in ("params", "apply", "with_params")))


def _check_common(train: Dataset, test: Dataset | None, config: TrainConfig) -> None:
    if not isinstance(train, Dataset):
        raise ValueError(f"train must be a Dataset, got {type(train).__name__}")
    if len(train) == 0:
        raise ValueError("train is empty: need at least one training point")
    if train.x.device != train.y.device:
        raise ValueError(f"train.x and train.y are on different devices: {train.x.device} vs {train.y.device}")
    if train.task.setting == "regression" and config.loss != "mse":
        raise ValueError(f"loss={config.loss!r} is not allowed for regression: use 'mse'")
    _check_test(train, test)


def _check_test(train: Dataset, test: Dataset | None) -> None:
    """``train`` a :class:`Dataset`; ``test`` ``None`` or a :class:`Dataset` of the same task."""
    if not isinstance(train, Dataset):
        raise ValueError(f"train must be a Dataset, got {type(train).__name__}")
    if test is not None:
        if not isinstance(test, Dataset):
            raise ValueError(f"test must be a Dataset or None, got {type(test).__name__}")
        if test.task != train.task:
            raise ValueError(f"test.task={test.task} differs from train.task={train.task}")


def _check_inputs(net: Model, train: Dataset, test: Dataset | None, config: TrainConfig) -> None:
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    config.validate()
    if _is_functional(net):
        if config.engine == "dense":
            raise ValueError(f"engine='dense' is not allowed for {type(net).__name__}: the dense engine is the "
                             "QuadraticNet's regression path (allowed: 'auto' or 'gather')")
        _check_functional(net, train, test, config)
        return
    if not isinstance(net, QuadraticNet):
        raise ValueError(f"net must be a QuadraticNet or a functional model with params(), apply(params, x) "
                         f"and with_params(params), got {type(net).__name__}")
    if net.W.dtype != net.V.dtype:
        raise ValueError(f"net.W and net.V differ in dtype: {net.W.dtype} vs {net.V.dtype}")
    if net.W.device != net.V.device:
        raise ValueError(f"net.W and net.V are on different devices: {net.W.device} vs {net.V.device}")
    if net.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"net dtype {net.dtype} is not allowed: use torch.float32 or torch.float64")
    if not isinstance(train, Dataset):
        raise ValueError(f"train must be a Dataset, got {type(train).__name__}")
    task = train.task
    if task.summands != 2:
        raise ValueError(f"train.task.summands={task.summands}: the quadratic net needs summands=2")
    if task.p != net.p:
        raise ValueError(f"net has p={net.p} but train.task has p={task.p}")
    _check_common(train, test, config)
    if config.engine == "dense" and task.setting != "regression":
        raise ValueError(f"engine='dense' is not allowed for train.task.setting={task.setting!r}: the dense "
                         "engine computes regression outputs g(a, b, c) (allowed: 'auto' or 'gather')")


#: :func:`_resolve_engine`'s rule: ``"auto"`` runs the dense engine when n ≥ DENSE_MIN_COVER · p²
#: (and h ≥ p, on the CPU). Measured (``benchmarks/bench_dense.py --sweep``, one thread, h = 4p):
#: the two engines' data-gradient calls cross near n = p² at p = 11, 23, 47, 97 in float32 and
#: float64 (gather/dense 0.5-1.6 at n/p² ≈ 1), and the dense one is 1.5-4.6× faster at n ≈ 2p²
#: (n/p² = 1.9-2.4) and more above (6-27× at n = 0.2p³).
DENSE_MIN_COVER = 2.0


def _resolve_engine(config: TrainConfig, net: Any, train: Dataset, device: torch.device) -> str:
    """The engine a run uses: ``config.engine`` unless it is ``"auto"``, which picks ``"dense"``
    for regression on the quadratic net on the CPU when n ≥ 2p² (training triples cover the p²
    pairs at least twice on average; App. A.1's n = 2p^{2.25} always does, n/p² = 2p^{1/4}) and
    h ≥ p (the dense engine's (p², p) matrices are then no larger than its (p², h) ones, and its
    memory no more than the gather engine's (n, h) buffers), else ``"gather"``. The crossover was
    measured on the CPU only; on CUDA ``"auto"`` keeps the gather engine's deterministic one-hot
    path (``engine="dense"`` runs there too).
    """
    if config.engine != "auto":
        return config.engine
    if not isinstance(net, QuadraticNet) or train.task.setting != "regression" or device.type != "cpu":
        return "gather"
    p, h, n = train.task.p, net.W.shape[0], len(train)
    return "dense" if n >= DENSE_MIN_COVER * p * p and h >= p else "gather"


def _check_functional(net: Any, train: Dataset, test: Dataset | None, config: TrainConfig) -> None:
    """Validate a functional model against the data (one forward pass on one training point)."""
    params = net.params()
    name = type(net).__name__
    if (not isinstance(params, dict) or not params
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in params.items())):
        raise ValueError(f"{name}.params() must return a non-empty dict[str, Tensor]")
    dtypes = {v.dtype for v in params.values()}
    devices = {v.device for v in params.values()}
    if len(dtypes) != 1 or not dtypes <= {torch.float32, torch.float64}:
        raise ValueError(f"{name} parameters have dtypes {sorted(map(str, dtypes))}: all must be one of "
                         "torch.float32 or torch.float64")
    if len(devices) != 1:
        raise ValueError(f"{name} parameters are on several devices: {sorted(map(str, devices))}")
    if not isinstance(train, Dataset):
        raise ValueError(f"train must be a Dataset, got {type(train).__name__}")
    task = train.task
    if task.setting != "classification":
        raise ValueError(f"train.task.setting={task.setting!r} is not allowed for {name}: functional models "
                         "train on classification only (regression is for the QuadraticNet)")
    if task.summands != 2:
        raise ValueError(f"train.task.summands={task.summands}: functional models take (n, 2) inputs")
    _check_common(train, test, config)
    with torch.no_grad():
        out = net.apply(params, train.x[:1].to(next(iter(devices))))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, task.p):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{name}.apply(params, x) must give (n, p) = (1, {task.p}) logits on one point, "
                         f"got {shape}")


# =========================================================================== checkpoints
def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _restore_callbacks(cbs: Sequence[Any], states: list | None, path: Path) -> None:
    """Resume each stateful callback (one with ``state_dict``/``load_state_dict``, e.g.
    :class:`regimes.metrics.KernelTracker`) from the state the checkpoint saved for it (by
    position), so a resumed run equals the uninterrupted one; ``ValueError`` if the
    checkpoint holds none for it (a fresh callback would silently restart its references)."""
    for i, cb in enumerate(cbs):
        if not callable(getattr(cb, "load_state_dict", None)):
            continue
        if states is None or i >= len(states) or states[i] is None:
            raise ValueError(f"checkpoint {path} holds no state for callback {i} ({type(cb).__name__}): "
                             "resuming would restart it from scratch (e.g. a KernelTracker's Θ̂₀ would become "
                             "the kernel at the resume step); resume with the callbacks of the saved run")
        cb.load_state_dict(states[i])


def _load_checkpoint(path: Path, config: TrainConfig, net: Any) -> dict[str, Any] | None:
    if not path.exists():
        return None
    state = load_torch_state(path, keys=("step", "config", "dtype", "history"))
    old = dict(state["config"])
    new = config.as_dict()
    ignore = {"steps", "eval_every", "eval_steps", "checkpoint_every", "check_finite_every", "stall_patience",
              "stop_on_stall", "engine"}   # engine: compared as resolved, below
    diff = sorted(k for k in new if k not in ignore and old.get(k) != new[k])
    if diff:
        raise ValueError(f"checkpoint {path} was written with a different config: fields {diff} differ "
                         f"({', '.join(f'{k}: {old.get(k)!r} vs {new[k]!r}' for k in diff)})")
    if isinstance(net, QuadraticNet):
        if "W" not in state or tuple(state["W"].shape) != tuple(net.W.shape) \
                or state["output_scale"] != net.output_scale:
            shape = tuple(state["W"].shape) if "W" in state else "(a functional model)"
            raise ValueError(f"checkpoint {path} holds a net of shape W{shape}, not W{tuple(net.W.shape)}")
        used = state.get("engine", "gather")    # checkpoints from before the dense engine: gather
        if config.engine not in ("auto", used):
            raise ValueError(f"checkpoint {path} was computed with engine={used!r}, config has "
                             f"engine={config.engine!r}: the resumed run would not reproduce the uninterrupted "
                             f"one bit for bit (allowed: 'auto', which follows the checkpoint, or {used!r})")
        dtype = net.dtype
    else:
        mine = {k: tuple(v.shape) for k, v in net.params().items()}
        theirs = {k: tuple(v.shape) for k, v in state.get("params", {}).items()}
        if state.get("model") != type(net).__name__ or mine != theirs:
            raise ValueError(f"checkpoint {path} holds a {state.get('model', 'QuadraticNet')} with parameter "
                             f"shapes {theirs}, not a {type(net).__name__} with {mine}")
        dtype = next(iter(net.params().values())).dtype
    if state["dtype"] != str(dtype):
        raise ValueError(f"checkpoint {path} was trained in {state['dtype']}, the net is {dtype}")
    return state


# =========================================================================== stalls
#: The stall kinds (codes 1–3 of :class:`_StallMonitor`). ``"frozen"`` is round-off: the update
#: rounds away, or the gradient underflowed to exactly 0. A run whose normalized step is spent on
#: the ℓ∞ penalty (the ``"whole"`` reading past margins ~45) is not a stall: θ still moves, by
#: ~η‖∇L_data‖/λ per step; ``grad_data_l2`` < ``grad_penalty_l2`` in its records says so.
STALL_KINDS = {1: "frozen", 2: "cycle2", 3: "zero_loss"}


class StallCounter:
    """The stall-counting rule, shared by :func:`train` and :mod:`regimes.batched`: a run
    of ``patience`` consecutive stalled steps (codes 1–3 of :class:`_StallMonitor`; 0 means
    "moved") confirms a stall, dated to the run's first step, of the kind of the confirming
    step's code. Only the first confirmed stall is kept (``first``, ``kind``).

    >>> c = StallCounter(patience=2)
    >>> for t, code in enumerate([0, 1, 0, 2, 2, 2]):
    ...     c.push(t, code)
    >>> c.first, c.kind
    (3, 'cycle2')
    """

    def __init__(self, patience: int, saved: dict[str, Any] | None = None) -> None:
        saved = saved or {}
        self.patience = patience
        self.run: int = int(saved.get("run", 0))
        self.start: int | None = saved.get("start")
        self.first: int | None = saved.get("first")
        self.kind: str | None = saved.get("kind")

    def push(self, t: int, code: int) -> None:
        """Count step ``t`` with stall code ``code`` (0: moved)."""
        if not code:
            self.run = 0
            return
        self.run += 1
        if self.run == 1:
            self.start = t
        if self.first is None and self.run >= self.patience:
            self.first, self.kind = self.start, STALL_KINDS[code]

    def state(self) -> dict[str, Any]:
        """The counter's state, for a checkpoint (``StallCounter(patience, saved=state)`` resumes it)."""
        return {"run": self.run, "start": self.start, "first": self.first, "kind": self.kind}


class _StallMonitor(StallCounter):
    """Detection of stalled steps (see :class:`TrainConfig`): step t is stalled when θ_t
    equals θ_{t−1} bitwise in every tensor (code 1, ``"frozen"``), else θ_{t−2} (code 2,
    ``"cycle2"``: e.g. normalized GD flipping the largest entry by ±η when the ℓ∞ term
    dominates the gradient), else when its training loss is exactly 0 (code 3).

    Cost: one copy of θ per step. On the CPU the tests are ``torch.equal`` calls, which
    stop at the first differing entry, so a moving θ costs a few microseconds; on other
    devices the codes are computed on the device into a per-step buffer that is read back
    only by :meth:`sync` (at evaluation steps), so the hot loop never waits for the device.
    """

    def __init__(self, P: Params, patience: int, device: torch.device, t_first: int, t_last: int,
                 saved: dict[str, Any] | None = None, host: bool | None = None) -> None:
        super().__init__(patience, saved)
        self.host = device.type == "cpu" if host is None else host   # host=False: the device path (tests)
        self.prev1 = {k: v.clone() for k, v in P.items()}
        if saved is not None and saved.get("prev2") is not None:
            self.prev2 = {k: saved["prev2"][k].to(v) for k, v in P.items()}
        else:
            self.prev2 = {k: torch.full_like(v, float("nan")) for k, v in P.items()}
        self.base, self.read_to = t_first, t_first - 1
        if not self.host:
            self.codes = torch.zeros(max(0, t_last - t_first + 1), dtype=torch.int8, device=device)

    def step(self, t: int, P: Params, loss: torch.Tensor | None) -> None:
        """Classify step ``t`` (θ_t in ``P``, ``loss`` = its training loss, or ``None`` where an
        exact 0 says nothing: the loss-only reading of normalized GD steps along the shifted,
        never-underflowing gradient, whatever the loss's value) and roll the copies."""
        if self.host:
            if all(torch.equal(v, self.prev1[k]) for k, v in P.items()):
                code = 1
            elif all(torch.equal(v, self.prev2[k]) for k, v in P.items()):
                code = 2
            else:
                code = 3 if loss is not None and float(loss) == 0.0 else 0
            self.push(t, code)
            self.read_to = t
        else:
            s1 = s2 = None
            for k, v in P.items():
                e1, e2 = (v == self.prev1[k]).all(), (v == self.prev2[k]).all()
                s1 = e1 if s1 is None else s1 & e1
                s2 = e2 if s2 is None else s2 & e2
            zero = torch.zeros((), dtype=torch.bool, device=s1.device) if loss is None else loss == 0
            code = torch.where(s1, 1, torch.where(s2, 2, torch.where(zero, 3, 0)))
            self.codes[t - self.base] = code
        self.prev1, self.prev2 = self.prev2, self.prev1
        for k, v in P.items():
            self.prev1[k].copy_(v)

    def sync(self, t: int) -> None:
        """Fold the device-side codes of steps up to ``t`` into the host state."""
        if self.host or t <= self.read_to:
            return
        codes = self.codes[self.read_to + 1 - self.base:t + 1 - self.base].tolist()
        for i, c in enumerate(codes):
            self.push(self.read_to + 1 + i, int(c))
        self.read_to = t

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to continue the bookkeeping exactly (θ_{t−1} = the saved θ)."""
        return {**super().state(), "prev2": {k: v.detach().cpu() for k, v in self.prev2.items()}}


# =========================================================================== the loop
def _layout(key: str, v: torch.Tensor) -> torch.Tensor:
    """Swap a W-shaped optimizer state between the (h, 2p) and internal (2p, h) layouts."""
    return v.t() if key.endswith("_W") else v


@dataclass
class _Backend:
    """What differs between the quadratic fast path and a functional model; the loop,
    optimizers, penalties, callbacks and checkpoints in :func:`train` are shared.

    ``P``: the trained tensors in their internal layout (updated in place);
    ``loss_and_grad(shifted)``: mean data loss and its gradient dict (same keys as ``P``), with
    ``shifted`` (default: the config's) times a positive factor that keeps it representable
    (the quadratic net's cross-entropy under the loss-only reading; see _data_loss_and_grad);
    ``external(P)``: detached copies in the model's own layout; ``state_layout(key, v)``:
    an optimizer-state tensor between layouts (an involution); ``record(params)``: the
    metrics record; ``make_net(params)``: the trained model; ``ckpt(params)``: the
    model-specific checkpoint fields; ``from_ckpt(saved)``: internal tensors from a checkpoint.
    """

    P: Params
    loss_and_grad: Callable[..., tuple[torch.Tensor, Params]]
    external: Callable[[Params], Params]
    state_layout: Callable[[str, torch.Tensor], torch.Tensor]
    record: Callable[[Params], dict[str, float]]
    make_net: Callable[[Params], Any]
    ckpt: Callable[[Params], dict[str, Any]]
    from_ckpt: Callable[[dict[str, Any]], Params]
    dtype: torch.dtype


def _quadratic_backend(net: QuadraticNet, train: Dataset, ev_tr: _EvalSet, ev_te: _EvalSet | None,
                       config: TrainConfig, dev: torch.device) -> _Backend:
    """The hand-written-gradient fast path. W is held transposed, (2p, h) contiguous: the
    first layer is a row gather (see _data_loss_and_grad); every optimizer update is
    elementwise, so layout-agnostic."""
    scale = net.output_scale
    P = {"W": net.W.detach().to(dev).t().contiguous(), "V": net.V.detach().to(dev).clone()}
    engine = _resolve_engine(config, net, train, dev)
    # the loss-only reading of normalized GD needs only the direction: keep it representable
    shift = config.optimizer == "normalized_gd" and config.normalize == "loss" and config.loss == "cross_entropy"
    if engine == "dense":   # regression only (_check_inputs): mse, never shifted
        dense = _prepare_dense(train, net.dtype, dev)

        def loss_and_grad(shifted: bool = shift) -> tuple[torch.Tensor, Params]:
            L, gWt, gV = _dense_regression_loss_and_grad(P["W"], P["V"], dense, scale)
            return L, {"W": gWt, "V": gV}
    else:
        batch = _prepare(train, net.dtype, dev, deterministic_mm=dev.type == "cuda")

        def loss_and_grad(shifted: bool = shift) -> tuple[torch.Tensor, Params]:
            L, gWt, gV = _data_loss_and_grad(P["W"], P["V"], batch, config.loss, scale, config.target_scale,
                                             shifted)
            return L, {"W": gWt, "V": gV}

    return _Backend(
        P=P, loss_and_grad=loss_and_grad,
        external=lambda Q: {"W": Q["W"].detach().t().contiguous(), "V": Q["V"].detach().clone()},
        state_layout=_layout,
        record=lambda prm: _record(prm, ev_tr, ev_te, config, scale),
        make_net=lambda prm: QuadraticNet(prm["W"], prm["V"], output_scale=scale),
        ckpt=lambda prm: {"W": prm["W"].cpu(), "V": prm["V"].cpu(), "output_scale": scale, "engine": engine},
        from_ckpt=lambda saved: {"W": saved["W"].to(dev).t().contiguous(), "V": saved["V"].to(dev).clone()},
        dtype=net.dtype)


def _functional_backend(net: Model, train: Dataset, ev_tr: _EvalSet, ev_te: _EvalSet | None,
                        config: TrainConfig, dev: torch.device) -> _Backend:
    """Any functional model: the data-loss gradient by ``torch.func.grad_and_value``."""
    from torch.func import grad_and_value

    P = {k: v.detach().to(dev).clone() for k, v in net.params().items()}
    x = train.x.to(device=dev, dtype=torch.long)
    y = train.y.to(device=dev, dtype=torch.long)
    n, p = x.shape[0], train.task.p
    apply_fn = net.apply
    if config.loss == "mse":
        target = torch.nn.functional.one_hot(y, p).to(next(iter(P.values())).dtype) * config.target_scale

    def data_loss(prm: Params) -> torch.Tensor:
        out = apply_fn(prm, x)
        if config.loss == "cross_entropy":
            return _ce_rows(out, y).mean()
        r = out - target
        return (r * r).sum() / n

    gv = grad_and_value(data_loss)

    def loss_and_grad(shifted: bool = False) -> tuple[torch.Tensor, Params]:
        G, L = gv(P)
        return L.detach(), {k: G[k].detach() for k in P}

    return _Backend(
        P=P, loss_and_grad=loss_and_grad,
        external=lambda Q: {k: v.detach().clone() for k, v in Q.items()},
        state_layout=lambda key, v: v,
        record=lambda prm: _record(prm, ev_tr, ev_te, config, 1.0, apply_fn),
        make_net=lambda prm: net.with_params(prm),
        ckpt=lambda prm: {"params": {k: v.cpu() for k, v in prm.items()}, "model": type(net).__name__},
        from_ckpt=lambda saved: {k: saved["params"][k].to(dev).clone() for k in P},
        dtype=next(iter(P.values())).dtype)


def train(
    net: Model,
    train: Dataset,
    config: TrainConfig,
    *,
    test: Dataset | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> TrainResult:
    """Full-batch training of the quadratic net, or of any functional model, on ``train``
    (eq. 2.2; App. A).

    Parameters
    ----------
    net : the initial net, a :class:`regimes.models.Model` (not modified; a copy is trained).
        Its dtype (float32 or float64) is the training dtype. A :class:`QuadraticNet` trains
        on the hand-written gradients; any other model (``params()``, ``apply(params, x) ->
        (n, p)``, ``with_params(params)``; e.g. the transformer) trains on ``torch.func`` gradients
        (classification only); ``TrainResult.net`` is then ``net.with_params(θ_final)``.
    train : the training set; ``train.task.setting`` picks classification (logits
        ``f``, :meth:`QuadraticNet.apply`) or regression (``g``,
        :meth:`QuadraticNet.apply_regression`, square loss on the p-scaled target).
    config : a :class:`TrainConfig`.
    test : optional held-out set for test metrics (same task).
    callbacks : each called as ``cb(step, params, record)`` at step 0 (before any
        update) and at every evaluation step, with ``params`` the model's parameter dict
        (``{"W", "V"}`` for the quadratic net; detached copies of θ_step) and ``record``
        the metrics dict of that step (see :func:`evaluate`); a callback may add keys to
        ``record`` and they enter the history. With ``lam_inf > 0`` the record also holds
        ``grad_data_l2`` = ‖∇(data loss)‖₂ and ``grad_penalty_l2`` = λ‖∂‖θ‖∞‖₂ (the
        minimum-norm subgradient): which of the two terms of eq. 2.2 sets the direction.
    checkpoint : path of a checkpoint file: if it exists and was written by a run
        with the same config (up to ``steps`` and the evaluation cadence) and net
        shape, training resumes from it, reproducing the uninterrupted run exactly;
        it is (re)written atomically every ``config.checkpoint_every`` steps and at the end.
        Callbacks with ``state_dict()`` / ``load_state_dict(state)`` (e.g.
        :class:`regimes.metrics.KernelTracker`) are saved with it and restored on resume
        (pass the same callbacks, in the same order); the resumed history keeps only
        the rows of this run's own evaluation schedule.
    device : train on this device (the net and data are moved there); default: the
        net's device. The returned net lives there.
    progress : show a tqdm progress bar.

    Raises
    ------
    ValueError : bad config or inputs (negative λ or lr, unknown optimizer/loss,
        mismatched p/task/dtype/device, cross-entropy with regression, regression with a
        functional model, ...).
    NonFiniteError : the loss or θ became NaN/∞; the message names the step and the
        last finite metrics.

    Stalls: with ``config.stall_patience`` (default 100) every step is classified as
    stalled or not (θ bitwise unchanged, a bitwise period-2 cycle, or an exactly zero
    training loss; see :class:`TrainConfig`); ``TrainResult.stalled_at`` is the first step
    of the first run of ``stall_patience`` consecutive stalled steps (``None`` if none), and
    every metrics record carries ``stalled_at`` (that step once found, ``None`` before, which
    ``numpy.asarray(..., dtype=float)`` reads as NaN). A stalled run keeps going unless
    ``config.stop_on_stall``: its θ can no longer change (or only cycles), so the rest of
    the run measures nothing new. Test metrics are held-out only (see :func:`evaluate`).

    Examples
    --------
    Gradient descent with a small step decreases a smooth loss at every step (the descent
    lemma), and the test metrics average over the held-out pairs only:

    >>> from regimes.tasks import Task, sample_split
    >>> split = sample_split(Task(5), fraction=0.6, seed=0)       # 15 of the 25 pairs
    >>> res = train(QuadraticNet.init(5, 40, seed=0), split.train, TrainConfig(steps=5, lr=0.01),
    ...             test=split.test)
    >>> losses = res.history["train_loss"]
    >>> all(b < a for a, b in zip(losses, losses[1:])), res.final["test_n"]
    (True, 10)
    """
    _check_inputs(net, train, test, config)
    cbs = tuple(callbacks)
    for cb in cbs:
        if not callable(cb):
            raise ValueError(f"callbacks must be callables, got {type(cb).__name__}")
    quadratic = isinstance(net, QuadraticNet)
    own_dev = net.device if quadratic else next(iter(net.params().values())).device
    dev = own_dev if device is None else torch.device(check_device("device", device))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available")
    ev_tr = _eval_set(train, dev)
    ev_te = None if test is None else _eval_set(test, dev, train)
    ckpt_path = None if checkpoint is None else Path(checkpoint)
    saved = None if ckpt_path is None else _load_checkpoint(ckpt_path, config, net)
    be_config = config
    if quadratic and saved is not None and config.engine == "auto" and train.task.setting == "regression":
        # a resumed run keeps the engine its checkpoint was computed with (a bit-for-bit resume)
        be_config = dataclasses.replace(config, engine=saved.get("engine", "gather"))
    make = _quadratic_backend if quadratic else _functional_backend
    be = make(net, train, ev_tr, ev_te, be_config, dev)
    P = be.P
    dtype = be.dtype
    opt = config.optimizer
    state: dict[str, Any] = _opt_init(config, P)

    history: dict[str, list] = {"step": []}
    start = 0
    resumed_from = None
    if ckpt_path is not None:
        if saved is not None:
            start = resumed_from = int(saved["step"])
            for k, v in be.from_ckpt(saved).items():
                P[k] = v
            state = {k: (None if v is None else be.state_layout(k, v.to(dev)))
                     for k, v in saved["opt_state"].items()}
            history = {k: list(v) for k, v in saved["history"].items()}
            if start > config.steps:
                raise ValueError(f"checkpoint {ckpt_path} is at step {start}, beyond steps={config.steps}")
            # A shorter run evaluates its last step; the longer run resumed from it may not:
            # keep only the rows this run's own schedule has, as an uninterrupted run would.
            keep_steps = set(config.schedule())
            rows = [i for i, s in enumerate(history["step"]) if s in keep_steps]
            if len(rows) != len(history["step"]):
                history = {k: [v[i] for i in rows] for k, v in history.items()}
            _restore_callbacks(cbs, saved.get("callbacks"), ckpt_path)
    patience = config.stall_patience
    mon = None if patience is None else _StallMonitor(
        P, int(patience), dev, start + 1, config.steps, None if resumed_from is None else saved.get("stall"))

    def append(rec: dict[str, Any]) -> None:
        n_prev = len(history["step"])
        for k, v in rec.items():
            if k not in history:
                history[k] = [float("nan")] * n_prev
            history[k].append(v)
        for col in history.values():
            if len(col) == n_prev:
                col.append(float("nan"))

    last_record: dict[str, Any] | None = None

    # the last step whose training loss is known finite (the loss at step s is that of θ after s updates)
    verified = start - 1

    def do_eval(step: int) -> None:
        nonlocal last_record, verified
        params = be.external(P)
        if not all(bool(torch.isfinite(v).all()) for v in P.values()):
            raise NonFiniteError(step, "parameters", last_record)
        rec: dict[str, Any] = {"step": step}
        rec.update(be.record(params))
        if config.lam_inf:
            # Which term sets the update direction: ‖∇(data loss)‖₂ against λ‖∂‖θ‖∞‖₂ (the
            # minimum-norm subgradient). Once the data gradient falls below the penalty's, a
            # normalized step of fixed length η is spent mostly on the ℓ∞ term (e.g. flipping
            # the largest entry back and forth) and the margin all but stops growing.
            _, Gd = be.loss_and_grad(False)    # the true gradient, never the loss-only reading's shifted one
            _, subs = linf_subgradient_all(list(P.values()), config.linf_ties)
            rec["grad_data_l2"] = _scaled_l2(list(Gd.values()))
            rec["grad_penalty_l2"] = float(config.lam_inf) * _scaled_l2(subs)
        if mon is not None:
            mon.sync(step)
            rec["stalled_at"] = mon.first
        for k in ("train_loss", "theta_inf"):
            if not math.isfinite(rec[k]):
                raise NonFiniteError(step, k, last_record)
        verified = max(verified, step)
        for cb in cbs:
            cb(step, params, rec)
        append(rec)
        last_record = {k: v for k, v in rec.items()}

    def save(step: int) -> None:
        if ckpt_path is None:
            return
        if mon is not None:
            mon.sync(step)
        _save_checkpoint(ckpt_path, {
            "step": step, **be.ckpt(be.external(P)), "stall": None if mon is None else mon.state(),
            "opt_state": {k: (None if v is None else be.state_layout(k, v.detach()).cpu().contiguous())
                          for k, v in state.items()},
            "history": history, "config": config.as_dict(), "dtype": str(dtype),
            "callbacks": [cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None for cb in cbs],
        })

    schedule = config.schedule()
    sched_set = set(schedule)
    if resumed_from is None:
        do_eval(0)
    elif history["step"]:
        last_record = {k: v[-1] for k, v in history.items()}

    t0 = time.perf_counter()
    it = range(start + 1, config.steps + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"train {opt}", total=config.steps - start, leave=False)
    cf_every = config.check_finite_every
    stop_on_stall = config.stop_on_stall
    loss_normalized = opt == "normalized_gd" and config.normalize == "loss"
    stopped_at = None
    last = start
    for t in it:
        L, G = be.loss_and_grad()
        if t % cf_every == 0:
            if not bool(torch.isfinite(L)):
                raise NonFiniteError(t - 1, "training loss", last_record, since=verified + 1,
                                     check_every=cf_every)
            verified = t - 1
        if loss_normalized:
            _loss_normalized_step(P, G, config)
        else:
            _add_penalties(P, G, config)
            _opt_update(P, G, state, t, config)
        last = t
        stop = False
        if mon is not None:
            mon.step(t, P, None if loss_normalized else L)   # a shifted run's loss may read 0: not a stall
            if stop_on_stall:
                if not mon.host and (t % mon.patience == 0 or t in sched_set):
                    mon.sync(t)
                stop = mon.first is not None
        if t in sched_set or stop:
            do_eval(t)
        if ckpt_path is not None and (t % config.checkpoint_every == 0 or t == config.steps or stop):
            save(t)
        if stop:
            stopped_at = t
            break
    wall = time.perf_counter() - t0
    if ckpt_path is not None and start == config.steps:
        save(start)
    n_steps = last - start
    out_net = be.make_net(be.external(P))
    state = {k: (None if v is None else be.state_layout(k, v).contiguous()) for k, v in state.items()}
    final = {k: v[-1] for k, v in history.items()} if history["step"] else {}
    stalled_at = stall_kind = None
    if mon is not None:
        mon.sync(last)
        stalled_at, stall_kind = mon.first, mon.kind
        final["stalled_at"] = stalled_at
    engine = _resolve_engine(be_config, net, train, dev) if quadratic else None
    return TrainResult(out_net, history, final, config, wall, n_steps / wall if wall > 0 else float("nan"),
                       resumed_from, state, stalled_at, stall_kind, stopped_at, engine)
