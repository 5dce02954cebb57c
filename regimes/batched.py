"""S independent full-batch runs of the quadratic net as one stacked computation (eq. 2.2; App. A).

:func:`train_batched` trains S runs of :class:`~regimes.models.quadratic.QuadraticNet` that
share their shapes (p, h, n, setting) — different seeds, samples, init scales, and per run
its own learning rate, λ of the ℓ∞ penalty and ℓ2 strength — with the update rules of
:func:`regimes.train.train`, step for step:

* the parameters are stacked, ``Wᵀ`` as (S, 2p, h) and ``V`` as (S, p, h); the first layer
  is one gather over the flattened (S·2p, h) table with per-run row offsets (index inputs,
  no one-hot), its gradient one scatter-add into that table; the second layer is a
  ``torch.bmm`` (classification) or a gather of the rows ``V[c]`` (regression);
* the same gradient formulas (square loss on p-scaled regression targets, square loss
  on scaled one-hot targets, cross-entropy from logit differences), the same
  minimum-norm subgradient of ``‖θ‖_∞`` (tied entries share ``sign(θ_i)/k``), the same
  optimizers (GD, normalized GD, heavy-ball SGD, Adam, AdamW) written with the same
  floating-point operations, so that each run's trajectory equals the unbatched loop's.
  Where a scalar hyperparameter differs between runs, the operation it scales is done
  run by run on views (a tensor-valued per-run factor would round differently from
  ``add_(…, alpha=…)``), so the bits still agree.
* per run: NaN/∞ detection that names the run and the step
  (:class:`BatchedNonFiniteError`), stall detection (θ bitwise frozen, a bitwise period-2
  cycle, or an exactly zero training loss for ``stall_patience`` consecutive steps, the
  rule of :func:`regimes.train.train`); with ``stop_on_stall`` a stalled run is removed
  from the stack (the others go on, on a smaller batch) and its ``stopped_at`` recorded;
* optional projection onto the ℓ∞ ball of radius ``r`` (per run) after every update
  (projected GD/Adam for :mod:`regimes.extremal`; not part of :func:`regimes.train.train`);
* checkpoint/resume of the whole batch: one file, written atomically, from which a
  resumed call reproduces the uninterrupted one exactly.

Equality with :func:`regimes.train.train` (``tests/test_batched.py``): bitwise in float64 on
the CPU (final θ, every recorded loss) for GD, normalized GD, Adam and AdamW, regression and
classification (MSE and cross-entropy), λ > 0 with tied maxima; this relies on ``bmm``
computing each batch entry with the same kernel as ``mm`` and on row-wise reductions over
the same contiguous last dimension, which holds for PyTorch's CPU backend as tested.

Metrics at evaluation steps are those of :func:`regimes.train.evaluate` (held-out only),
computed run by run. Not recorded (unlike :func:`regimes.train.train`): ``grad_data_l2``
and ``grad_penalty_l2``; no callbacks, no functional models, no CUDA-specific paths
(the engine runs on any device, but equality is only tested on the CPU).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Dataset
from regimes.train import NonFiniteError, StallCounter, TrainConfig, evaluate

__all__ = ["BatchedNonFiniteError", "BatchedResult", "train_batched"]

#: Config fields that may differ between the runs of one batch.
PER_RUN_FIELDS = ("lr", "lam_inf", "weight_decay")


class BatchedNonFiniteError(NonFiniteError):
    """The training loss or θ of run ``.run`` became NaN/∞ (``.step``: where it was found,
    ``.step_range``: where it became so, as :class:`regimes.train.NonFiniteError`)."""

    def __init__(self, run: int, step: int, what: str, last_record: dict[str, Any] | None, *,
                 since: int | None = None, check_every: int = 1) -> None:
        self.run = run
        super().__init__(step, f"{what} of run {run}", last_record, since=since, check_every=check_every)


@dataclass
class BatchedResult:
    """Outcome of :func:`train_batched`, one entry per run in input order.

    ``nets``: trained nets; ``histories``/``finals``: as :class:`regimes.train.TrainResult`'s;
    ``stalled_at``/``stall_kind``/``stopped_at``: as there, per run; ``wall_time_s``: seconds of
    the step loop in this call; ``run_steps_per_s``: Σ_runs steps run / wall time;
    ``resumed_from``: the checkpoint's step, or ``None``.
    """

    nets: list[QuadraticNet]
    histories: list[dict[str, list]]
    finals: list[dict[str, Any]]
    configs: list[TrainConfig]
    stalled_at: list[int | None]
    stall_kind: list[str | None]
    stopped_at: list[int | None]
    wall_time_s: float
    run_steps_per_s: float
    resumed_from: int | None = None
    radius: list[float | None] = field(default_factory=list)


# =========================================================================== validation
def _as_list(name: str, value: Any, S: int | None) -> list:
    if isinstance(value, (list, tuple)):
        out = list(value)
    else:
        if S is None:
            raise ValueError(f"{name} must be a sequence, got {type(value).__name__}")
        out = [value] * S
    if S is not None and len(out) != S:
        raise ValueError(f"{name} has {len(out)} entries, but there are S={S} runs: give one per run (or one "
                         "shared value)")
    return out


def _check_batch(nets: Sequence[QuadraticNet], trains: Sequence[Dataset], configs: Sequence[TrainConfig],
                 tests: Sequence[Dataset | None], radius: Sequence[float | None]) -> None:
    S = len(nets)
    ref_net, ref_tr, ref_cfg = nets[0], trains[0], configs[0]
    shared = {k: v for k, v in ref_cfg.as_dict().items() if k not in PER_RUN_FIELDS}
    for i in range(S):
        net, tr, cfg, te = nets[i], trains[i], configs[i], tests[i]
        if not isinstance(net, QuadraticNet):
            raise ValueError(f"nets[{i}] must be a QuadraticNet, got {type(net).__name__}")
        if not isinstance(cfg, TrainConfig):
            raise ValueError(f"configs[{i}] must be a TrainConfig, got {type(cfg).__name__}")
        cfg.validate()
        if cfg.normalize != "whole" or cfg.linf_ties != "split":
            raise ValueError(f"configs[{i}] has normalize={cfg.normalize!r}, linf_ties={cfg.linf_ties!r}: the batched "
                             "engine runs normalize='whole' and linf_ties='split' only — use regimes.train.train")
        if not isinstance(tr, Dataset):
            raise ValueError(f"trains[{i}] must be a Dataset, got {type(tr).__name__}")
        if te is not None and (not isinstance(te, Dataset) or te.task != tr.task):
            raise ValueError(f"tests[{i}] must be None or a Dataset of train's task {tr.task}")
        if net.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"nets[{i}] has dtype {net.dtype}: use torch.float32 or torch.float64")
        mine_shape = (net.p, net.h, net.dtype, net.output_scale)
        ref_shape = (ref_net.p, ref_net.h, ref_net.dtype, ref_net.output_scale)
        if mine_shape != ref_shape:
            raise ValueError(f"nets[{i}] has (p, h, dtype, output_scale) = {mine_shape}, nets[0] has "
                             f"{ref_shape}: one batch needs runs of one shape")
        if tr.task != ref_tr.task or tuple(tr.x.shape) != tuple(ref_tr.x.shape):
            raise ValueError(f"trains[{i}] has task {tr.task} and x of shape {tuple(tr.x.shape)}; trains[0] has "
                             f"{ref_tr.task} and {tuple(ref_tr.x.shape)}: one batch needs training sets of one "
                             "task and size")
        if tr.task.p != net.p or tr.task.summands != 2:
            raise ValueError(f"trains[{i}].task={tr.task} does not fit nets[{i}] (p={net.p}, two summands)")
        if len(tr) == 0:
            raise ValueError(f"trains[{i}] is empty: need at least one training point")
        if tr.task.setting == "regression" and cfg.loss != "mse":
            raise ValueError(f"configs[{i}].loss={cfg.loss!r} is not allowed for regression: use 'mse'")
        mine = {k: v for k, v in cfg.as_dict().items() if k not in PER_RUN_FIELDS}
        diff = sorted(k for k in shared if mine[k] != shared[k])
        if diff:
            raise ValueError(f"configs[{i}] differs from configs[0] in {diff} "
                             f"({', '.join(f'{k}: {mine[k]!r} vs {shared[k]!r}' for k in diff)}): only "
                             f"{list(PER_RUN_FIELDS)} may differ within a batch")
        r = radius[i]
        if r is not None:
            try:
                rf = float(r)
            except (TypeError, ValueError):
                raise ValueError(f"radius[{i}]={r!r} must be a real number > 0 or None") from None
            if not math.isfinite(rf) or rf <= 0:
                raise ValueError(f"radius[{i}]={r!r} is out of range: allowed (0, inf) or None")


# =========================================================================== the batched step
@dataclass
class _Data:
    """The active runs' training data, flattened with per-run offsets."""

    regression: bool
    n: int
    cols_ab: torch.Tensor     # (S·n, 2) rows of the (S·2p, h) table
    cols_a: torch.Tensor      # (S·n,)
    cols_b: torch.Tensor      # (S·n,)
    c_flat: torch.Tensor | None   # (S·n,) rows of the (S·p, h) table (regression)
    y: torch.Tensor           # (S, n) targets (regression, dtype) or labels (long)
    y_col: torch.Tensor | None    # (S, n, 1) labels (classification)
    y_flat: torch.Tensor | None   # (S·n,) labels (classification)
    ws: dict[str, torch.Tensor] = field(default_factory=dict)   # workspace reused across steps


def _buf(d: _Data, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """A workspace tensor reused across steps (fresh multi-MB (S, n, h) allocations page-fault
    on every step and cost more than the arithmetic on a CPU)."""
    t = d.ws.get(name)
    if t is None or tuple(t.shape) != shape or t.dtype != like.dtype or t.device != like.device:
        t = d.ws[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
    return t


def _prepare(xs: torch.Tensor, ys: torch.Tensor, p: int, regression: bool, dtype: torch.dtype) -> _Data:
    S, n = xs.shape[0], xs.shape[1]
    dev = xs.device
    off2 = (torch.arange(S, device=dev) * 2 * p)[:, None]
    cols_a = (xs[:, :, 0] + off2).reshape(-1).contiguous()
    cols_b = (p + xs[:, :, 1] + off2).reshape(-1).contiguous()
    cols_ab = torch.stack([cols_a, cols_b], dim=1)
    if regression:
        off1 = (torch.arange(S, device=dev) * p)[:, None]
        c_flat = (xs[:, :, 2] + off1).reshape(-1).contiguous()
        return _Data(True, n, cols_ab, cols_a, cols_b, c_flat, ys.to(dtype), None, None)
    y = ys.to(torch.long)
    return _Data(False, n, cols_ab, cols_a, cols_b, None, y, y[:, :, None].contiguous(), y.reshape(-1))


def _bmm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Batched matrix product (S, i, k) @ (S, k, j) → (S, i, j), one ``torch.mm`` per run.

    ``torch.bmm`` on the CPU hands the whole batch to MKL's batched GEMM, whose result for
    a batch entry is not always bitwise the single ``mm`` of that entry (seen in float64 at
    p = 7); one ``mm`` per run is, and the S calls cost little next to the products.
    """
    S = a.shape[0]
    if out is None:
        out = torch.empty(S, a.shape[1], b.shape[2], dtype=a.dtype, device=a.device)
    for i in range(S):
        torch.mm(a[i], b[i], out=out[i])
    return out


def batched_loss_and_grad(Wt: torch.Tensor, V: torch.Tensor, d: _Data, loss: str, scale: float,
                          target_scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-run mean data loss (S,) and its gradients dWᵀ (S, 2p, h), dV (S, p, h).

    The formulas and the order of every floating-point operation are those of the
    unbatched hand-written gradient of :func:`regimes.train.train` (eq. 2.2's data term),
    applied to each run of the stack.
    """
    S, twop, h = Wt.shape
    p = twop // 2
    n = d.n
    z = torch.nn.functional.embedding_bag(d.cols_ab, Wt.reshape(S * twop, h), mode="sum").view(S, n, h)
    s = torch.mul(z, z, out=_buf(d, "s", (S, n, h), Wt))
    if d.regression:
        dz = torch.index_select(V.reshape(S * p, h), 0, d.c_flat, out=_buf(d, "dz", (S * n, h), Wt)).view(S, n, h)
        g = torch.mul(s, dz, out=_buf(d, "tmp", (S, n, h), Wt)).sum(dim=2)
        if scale != 1.0:
            g = g * scale
        r = g - d.y
        L = (r * r).mean(dim=1)
        rr = (r * (2.0 * scale / n))[:, :, None]
        dz.mul_(rr).mul_(z)
        s.mul_(rr)
        gV = torch.zeros(S * p, h, dtype=Wt.dtype, device=Wt.device).index_add_(
            0, d.c_flat, s.view(S * n, h)).view(S, p, h)
    else:
        out = _bmm(s, V.transpose(1, 2), _buf(d, "out", (S, n, p), Wt))        # (S, n, p)
        if scale != 1.0:
            out.mul_(scale)
        if loss == "cross_entropy":
            yc = d.y_col
            G = torch.sub(out, out.gather(2, yc), out=_buf(d, "G", (S, n, p), Wt))
            G.scatter_(2, yc, float("-inf"))
            # exp/log run by run: their vectorised and scalar (tail) kernels differ in the last
            # bit, and which elements fall in a tail depends on the tensor's size
            rows = torch.empty(S, n, dtype=G.dtype, device=G.device)
            zeros_n = torch.zeros(n, dtype=G.dtype, device=G.device)
            for i in range(S):
                m = torch.logsumexp(G[i], dim=1)
                torch.logaddexp(m, zeros_n, out=rows[i])
                G[i].sub_(rows[i][:, None]).exp_()
            L = rows.mean(dim=1)
            G.scatter_(2, yc, G.sum(dim=2, keepdim=True).neg_())
            G.mul_(scale / n)
        else:
            G = out
            G.view(S * n, p)[torch.arange(S * n, device=G.device), d.y_flat] -= target_scale
            L = (G * G).view(S, n * p).sum(dim=1) / n
            G.mul_(2.0 * scale / n)
        gV = _bmm(G.transpose(1, 2), s)
        dz = _bmm(G, V, _buf(d, "dz", (S, n, h), Wt)).mul_(z)
    gWt = torch.zeros(S * twop, h, dtype=Wt.dtype, device=Wt.device)
    dzf = dz.reshape(S * n, h)
    gWt.index_add_(0, d.cols_a, dzf, alpha=2.0)
    gWt.index_add_(0, d.cols_b, dzf, alpha=2.0)
    return L, gWt.view(S, twop, h), gV


def batched_linf_subgradient(Wt: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per run, ‖θ‖_∞ over (W, V) jointly (S,) and its minimum-norm subgradient (eq. 2.2):
    entries tied exactly for the largest |θ_i| get sign(θ_i)/k (k = the number of ties),
    others 0; 0 at θ = 0 (the rule of :func:`regimes.train.linf_subgradient`)."""
    aW, aV = Wt.abs(), V.abs()
    m = torch.maximum(aW.amax(dim=(1, 2)), aV.amax(dim=(1, 2)))
    mm = m[:, None, None]
    tW, tV = aW == mm, aV == mm
    k = tW.sum(dim=(1, 2)) + tV.sum(dim=(1, 2))
    scale = torch.where(m > 0, 1.0 / k.to(Wt.dtype), torch.zeros_like(m))[:, None, None]
    return m, torch.sign(Wt) * tW * scale, torch.sign(V) * tV * scale


class _Hyper:
    """Per-run scalars of the active runs: applied to the whole stack when they agree (one
    op, as the unbatched loop's ``alpha=`` form), else run by run on views."""

    def __init__(self, values: list[float]) -> None:
        self.values = [float(v) for v in values]
        self.uniform = len(set(self.values)) <= 1

    def apply(self, tensors: Sequence[torch.Tensor], fn) -> None:
        """``fn(t, value)`` on each stacked tensor (uniform) or on each run's view."""
        if self.uniform:
            for t in tensors:
                fn(t, self.values[0] if self.values else 0.0)
        else:
            for i, v in enumerate(self.values):
                for t in tensors:
                    fn(t[i], v)


def _add_scaled(G: dict[str, torch.Tensor], src: dict[str, torch.Tensor], h: _Hyper) -> None:
    """G[k] += h·src[k] for every tensor, with one coefficient per run (a run whose coefficient
    is 0 is left untouched, as :func:`regimes.train.train` skips a zero term)."""
    if h.uniform:
        for k in G:
            G[k].add_(src[k], alpha=h.values[0])
        return
    for i, v in enumerate(h.values):
        if v:
            for k in G:
                G[k][i].add_(src[k][i], alpha=v)


def _add_penalties(P: dict[str, torch.Tensor], G: dict[str, torch.Tensor], lam: _Hyper, wd: _Hyper,
                   optimizer: str) -> None:
    if any(lam.values):
        _, sW, sV = batched_linf_subgradient(P["W"], P["V"])
        _add_scaled(G, {"W": sW, "V": sV}, lam)
    if any(wd.values) and optimizer != "adamw":
        _add_scaled(G, P, wd)


def _opt_update(P: dict[str, torch.Tensor], G: dict[str, torch.Tensor], state: dict[str, Any], t: int,
                cfg: TrainConfig, lr: _Hyper, wd: _Hyper) -> None:
    """Step ``t`` (1-based) of the configured optimizer on the stacked tensors, as
    :func:`regimes.train.train` does it per run (see its module docstring)."""
    opt = cfg.optimizer
    keys = list(P)
    if opt == "gd":
        if lr.uniform:
            for k in keys:
                P[k].add_(G[k], alpha=-lr.values[0])
        else:
            for i, v in enumerate(lr.values):
                for k in keys:
                    P[k][i].add_(G[k][i], alpha=-v)
    elif opt == "normalized_gd":
        gs = [G[k] for k in keys]
        gmax = gs[0].abs().amax(dim=(1, 2))
        for g in gs[1:]:
            gmax = torch.maximum(gmax, g.abs().amax(dim=(1, 2)))
        nonzero = gmax > 0
        safe = torch.where(nonzero, gmax, torch.ones_like(gmax))
        us = [g / safe[:, None, None] for g in gs]
        S = gmax.shape[0]
        sq = torch.empty(S, dtype=gmax.dtype, device=gmax.device)
        for i in range(S):
            acc = torch.dot(us[0][i].reshape(-1), us[0][i].reshape(-1))
            for u in us[1:]:
                acc = acc + torch.dot(u[i].reshape(-1), u[i].reshape(-1))
            sq[i] = acc
        # the unbatched loop's ``-lr / sqrt(sq)`` (a Python float over a tensor) is
        # ``reciprocal(sqrt(sq)) * (-lr)`` in PyTorch; the same two roundings here, per run
        lrs = torch.tensor([-a for a in lr.values], dtype=gmax.dtype, device=gmax.device)
        f = torch.where(nonzero, torch.sqrt(torch.where(nonzero, sq, torch.ones_like(sq))).reciprocal() * lrs,
                        torch.zeros_like(sq))
        for k, u in zip(keys, us, strict=True):
            P[k].addcmul_(u, f[:, None, None])
    elif opt == "sgd":
        if cfg.momentum:
            for k in keys:
                b = state.get(f"b_{k}")
                if b is None:
                    state[f"b_{k}"] = G[k].clone()
                else:
                    b.mul_(cfg.momentum).add_(G[k])
            G = {k: state[f"b_{k}"] for k in keys}
        if lr.uniform:
            for k in keys:
                P[k].add_(G[k], alpha=-lr.values[0])
        else:
            for i, v in enumerate(lr.values):
                for k in keys:
                    P[k][i].add_(G[k][i], alpha=-v)
    else:  # adam / adamw, as torch.optim (single-tensor path)
        b1, b2 = (float(b) for b in cfg.betas)
        if opt == "adamw" and any(wd.values):
            decay = _Hyper([1 - a * w for a, w in zip(lr.values, wd.values, strict=True)])
            decay.apply([P[k] for k in keys], lambda t_, v: t_.mul_(v))
        bc1 = 1 - b1**t
        bc2_sqrt = math.sqrt(1 - b2**t)
        for k in keys:
            g = G[k]
            m, v = state[f"m_{k}"], state[f"v_{k}"]
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bc2_sqrt).add_(cfg.eps)
            if lr.uniform:
                P[k].addcdiv_(m, denom, value=-(lr.values[0] / bc1))
            else:
                for i, a in enumerate(lr.values):
                    P[k][i].addcdiv_(m[i], denom[i], value=-(a / bc1))


# =========================================================================== stalls
#: One run's stall bookkeeping: the counting rule of :func:`regimes.train.train`, shared.
_Stall = StallCounter


# =========================================================================== checkpoints
_IGNORE = {"steps", "eval_every", "eval_steps", "checkpoint_every", "check_finite_every", "stall_patience",
           "stop_on_stall"}


def _save(path: Path, state: dict[str, Any]) -> None:
    from regimes.store import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path, configs: list[TrainConfig], nets: list[QuadraticNet],
          radius: list[float | None]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    from regimes.store import load_torch_state

    st = load_torch_state(path, keys=("step", "P", "configs", "W_shape", "dtype", "output_scale", "radius"))
    if len(st["configs"]) != len(configs):
        raise ValueError(f"checkpoint {path} holds {len(st['configs'])} runs, this batch has S={len(configs)}")
    for i, (old, cfg) in enumerate(zip(st["configs"], configs, strict=True)):
        new = cfg.as_dict()
        diff = sorted(k for k in new if k not in _IGNORE and old.get(k) != new[k])
        if diff:
            raise ValueError(f"checkpoint {path} was written with a different config for run {i}: fields {diff} "
                             "differ")
    net = nets[0]
    if tuple(st["W_shape"]) != tuple(net.W.shape) or st["dtype"] != str(net.dtype) \
            or st["output_scale"] != net.output_scale:
        raise ValueError(f"checkpoint {path} holds nets W{tuple(st['W_shape'])} {st['dtype']}, not "
                         f"W{tuple(net.W.shape)} {net.dtype}")
    if list(st["radius"]) != [None if r is None else float(r) for r in radius]:
        raise ValueError(f"checkpoint {path} was written with radius {st['radius']}, not {radius}")
    return st


# =========================================================================== the loop
def train_batched(
    nets: Sequence[QuadraticNet],
    trains: Sequence[Dataset],
    configs: TrainConfig | Sequence[TrainConfig],
    *,
    tests: Dataset | Sequence[Dataset | None] | None = None,
    radius: float | Sequence[float | None] | None = None,
    checkpoint: str | Path | None = None,
) -> BatchedResult:
    """Train S = ``len(nets)`` independent runs of the quadratic net as one stacked computation.

    Parameters
    ----------
    nets : S initial nets (not modified), one shape: same p, width h, dtype, output scale.
    trains : S training sets of one task and one size n (each run its own sample).
    configs : one :class:`regimes.train.TrainConfig` shared by all runs, or S of them that
        differ at most in ``lr``, ``lam_inf`` and ``weight_decay`` (:data:`PER_RUN_FIELDS`).
        The step count, evaluation schedule, optimizer, loss, stall rule and checkpoint
        cadence are shared. With ``stop_on_stall`` a run whose stall is confirmed is evaluated
        at that step and removed from the stack; the others go on.
    tests : one held-out set per run (or one shared, or ``None``); test metrics as
        :func:`regimes.train.evaluate`'s (held-out points only).
    radius : ℓ∞ ball radius r per run (or one shared, or ``None``): after every update θ is
        clipped entrywise to [−r, r] (Euclidean projection onto {‖θ‖_∞ ≤ r}), i.e.
        projected GD/Adam; ``None`` = unconstrained, as :func:`regimes.train.train`.
    checkpoint : a file: if present and written by a batch of the same configs (up to the
        step count and cadences), shapes and radii, training resumes from it, giving the
        uninterrupted result exactly; rewritten atomically every ``checkpoint_every`` steps
        and at the end.

    Returns
    -------
    :class:`BatchedResult` with one net, history and final record per run, in input order.

    Raises
    ------
    ValueError : S < 1; runs of different shapes/tasks/sizes; configs differing in a shared
        field; an invalid config; a radius ≤ 0; a checkpoint of another batch. All before
        any training step.
    BatchedNonFiniteError : a run's loss or θ became NaN/∞ (names the run and step).
    """
    nets = list(nets) if isinstance(nets, (list, tuple)) else nets
    if not isinstance(nets, list) or len(nets) < 1:
        raise ValueError(f"nets must be a non-empty sequence of QuadraticNet (S >= 1), got "
                         f"{len(nets) if isinstance(nets, list) else type(nets).__name__} runs")
    S = len(nets)
    trains = _as_list("trains", trains, None)
    if len(trains) != S:
        raise ValueError(f"trains has {len(trains)} entries, but there are S={S} nets: give one per run")
    configs = _as_list("configs", configs, S)
    tests_l = _as_list("tests", tests, S)
    radius_l = _as_list("radius", radius, S)
    _check_batch(nets, trains, configs, tests_l, radius_l)

    cfg0 = configs[0]
    net0 = nets[0]
    p, dtype, scale = net0.p, net0.dtype, net0.output_scale
    dev = net0.device
    regression = trains[0].task.setting == "regression"
    xs_all = torch.stack([tr.x.to(device=dev, dtype=torch.long) for tr in trains])
    ys_all = torch.stack([tr.y.to(dev) for tr in trains])

    # ---- full per-run state (index = run id); the stack holds the active runs only
    P_all = {"W": torch.stack([nt.W.detach().to(dev).t().contiguous() for nt in nets]),
             "V": torch.stack([nt.V.detach().to(dev).clone() for nt in nets])}
    opt = cfg0.optimizer
    if opt in ("adam", "adamw"):
        state_all: dict[str, Any] = {f"{s}_{k}": torch.zeros_like(v) for s in ("m", "v") for k, v in P_all.items()}
    else:
        state_all = {}
    histories: list[dict[str, list]] = [{"step": []} for _ in range(S)]
    stalls = [None if cfg0.stall_patience is None else _Stall(int(cfg0.stall_patience)) for _ in range(S)]
    prev2_all = {k: torch.full_like(v, float("nan")) for k, v in P_all.items()}
    stopped_at: list[int | None] = [None] * S
    active = list(range(S))
    start = 0
    resumed_from = None
    ckpt_path = None if checkpoint is None else Path(checkpoint)
    if ckpt_path is not None:
        saved = _load(ckpt_path, configs, nets, radius_l)
        if saved is not None:
            start = resumed_from = int(saved["step"])
            if start > cfg0.steps:
                raise ValueError(f"checkpoint {ckpt_path} is at step {start}, beyond steps={cfg0.steps}")
            P_all = {k: v.to(dev) for k, v in saved["P"].items()}
            state_all = {k: (None if v is None else v.to(dev)) for k, v in saved["opt_state"].items()}
            prev2_all = {k: v.to(dev) for k, v in saved["prev2"].items()}
            stalls = [None if s is None else _Stall(int(cfg0.stall_patience), s) for s in saved["stalls"]]
            stopped_at = list(saved["stopped_at"])
            active = list(saved["active"])
            keep = set(cfg0.schedule())
            histories = []
            for hst in saved["histories"]:
                rows = [i for i, s_ in enumerate(hst["step"]) if s_ in keep or s_ in stopped_at]
                histories.append({k: [v[i] for i in rows] for k, v in hst.items()})

    schedule = cfg0.schedule()
    sched_set = set(schedule)
    cf_every = cfg0.check_finite_every

    def sub(i: int) -> QuadraticNet:
        return QuadraticNet(P_all["W"][i].t().contiguous(), P_all["V"][i].clone(), output_scale=scale)

    last_records: list[dict[str, Any] | None] = [
        ({k: v[-1] for k, v in hst.items()} if hst["step"] else None) for hst in histories]

    def do_eval(i: int, step: int) -> None:
        for k in ("W", "V"):
            if not bool(torch.isfinite(P_all[k][i]).all()):
                raise BatchedNonFiniteError(i, step, "parameters", last_records[i])
        rec: dict[str, Any] = {"step": step}
        rec.update(evaluate(sub(i), trains[i], configs[i], test=tests_l[i]))
        if stalls[i] is not None:
            rec["stalled_at"] = stalls[i].first
        for k in ("train_loss", "theta_inf"):
            if not math.isfinite(rec[k]):
                raise BatchedNonFiniteError(i, step, k, last_records[i])
        hst = histories[i]
        n_prev = len(hst["step"])
        for k, v in rec.items():
            if k not in hst:
                hst[k] = [float("nan")] * n_prev
            hst[k].append(v)
        for col in hst.values():
            if len(col) == n_prev:
                col.append(float("nan"))
        last_records[i] = dict(rec)

    # ---- the active stack (rebuilt when a run stops)
    def build(ids: list[int]) -> tuple:
        idx = torch.tensor(ids, dtype=torch.long, device=dev)
        P = {k: v.index_select(0, idx).contiguous() for k, v in P_all.items()}
        st = {k: (None if v is None else v.index_select(0, idx).contiguous()) for k, v in state_all.items()}
        prev1 = {k: v.clone() for k, v in P.items()}
        prev2 = {k: v.index_select(0, idx).contiguous() for k, v in prev2_all.items()}
        data = _prepare(xs_all.index_select(0, idx), ys_all.index_select(0, idx), p, regression, dtype)
        hy = (_Hyper([configs[i].lr for i in ids]), _Hyper([configs[i].lam_inf for i in ids]),
              _Hyper([configs[i].weight_decay for i in ids]))
        rads = [radius_l[i] for i in ids]
        rad = None
        if any(r is not None for r in rads):
            rad = torch.tensor([math.inf if r is None else float(r) for r in rads], dtype=dtype,
                               device=dev)[:, None, None]
        return P, st, prev1, prev2, data, hy, rad

    def write_back(ids: list[int], P, st, prev2) -> None:
        idx = torch.tensor(ids, dtype=torch.long, device=dev)
        for k in P:
            P_all[k].index_copy_(0, idx, P[k])
            prev2_all[k].index_copy_(0, idx, prev2[k])
        for k, v in st.items():
            if v is None:
                continue
            if state_all.get(k) is None:
                state_all[k] = torch.zeros_like(P_all[k[2:]])
            state_all[k].index_copy_(0, idx, v)

    def save(step: int, P, st, prev2) -> None:
        if ckpt_path is None:
            return
        if active:
            write_back(active, P, st, prev2)
        _save(ckpt_path, {
            "step": step, "P": {k: v.cpu() for k, v in P_all.items()},
            "opt_state": {k: (None if v is None else v.cpu()) for k, v in state_all.items()},
            "prev2": {k: v.cpu() for k, v in prev2_all.items()},
            "stalls": [None if s is None else s.state() for s in stalls], "stopped_at": stopped_at,
            "active": active, "histories": histories, "configs": [c.as_dict() for c in configs],
            "W_shape": tuple(net0.W.shape), "dtype": str(dtype), "output_scale": scale,
            "radius": [None if r is None else float(r) for r in radius_l],
        })

    P, st, prev1, prev2, data, (lr_h, lam_h, wd_h), rad = build(active)
    if resumed_from is None:
        if rad is not None:   # the constrained problem starts inside its ball
            for k in P:
                P[k] = torch.minimum(torch.maximum(P[k], -rad), rad)
            prev1 = {k: v.clone() for k, v in P.items()}
            write_back(active, P, st, prev2)
        for i in active:
            do_eval(i, 0)

    t0 = time.perf_counter()
    run_steps = 0
    for t in range(start + 1, cfg0.steps + 1):
        if not active:
            break
        L, gW, gV = batched_loss_and_grad(P["W"], P["V"], data, cfg0.loss, scale, cfg0.target_scale)
        G = {"W": gW, "V": gV}
        if t % cf_every == 0:
            fin = torch.isfinite(L)
            if not bool(fin.all()):
                j = active[int((~fin).nonzero()[0, 0])]
                raise BatchedNonFiniteError(j, t - 1, "training loss", last_records[j],
                                            since=t - cf_every if cf_every > 1 else None, check_every=cf_every)
        _add_penalties(P, G, lam_h, wd_h, opt)
        _opt_update(P, G, st, t, cfg0, lr_h, wd_h)
        if rad is not None:
            for k in P:
                torch.minimum(torch.maximum(P[k], -rad), rad, out=P[k])
        run_steps += len(active)
        stop_ids: list[int] = []
        if stalls[active[0]] is not None:
            losses = L.tolist()
            for j, i in enumerate(active):
                if all(torch.equal(P[k][j], prev1[k][j]) for k in P):
                    code = 1
                elif all(torch.equal(P[k][j], prev2[k][j]) for k in P):
                    code = 2
                else:
                    code = 3 if losses[j] == 0.0 else 0
                stalls[i].push(t, code)
                if cfg0.stop_on_stall and stalls[i].first is not None:
                    stop_ids.append(i)
            prev1, prev2 = prev2, prev1
            for k in P:
                prev1[k].copy_(P[k])
        if t in sched_set or stop_ids:
            write_back(active, P, st, prev2)
            for i in (active if t in sched_set else stop_ids):
                do_eval(i, t)
        if stop_ids:
            for i in stop_ids:
                stopped_at[i] = t
            active = [i for i in active if i not in stop_ids]
            if active:
                P, st, prev1, prev2, data, (lr_h, lam_h, wd_h), rad = build(active)
        if ckpt_path is not None and (t % cfg0.checkpoint_every == 0 or t == cfg0.steps or stop_ids):
            save(t, P, st, prev2)
    wall = time.perf_counter() - t0
    if active:
        write_back(active, P, st, prev2)
    if ckpt_path is not None and start == cfg0.steps:
        save(start, P, st, prev2)

    finals, out_nets = [], []
    for i in range(S):
        hst = histories[i]
        final = {k: v[-1] for k, v in hst.items()} if hst["step"] else {}
        if stalls[i] is not None:
            final["stalled_at"] = stalls[i].first
        finals.append(final)
        out_nets.append(sub(i))
    return BatchedResult(out_nets, histories, finals, list(configs),
                         [None if s is None else s.first for s in stalls],
                         [None if s is None else s.kind for s in stalls], stopped_at, wall,
                         run_steps / wall if wall > 0 else float("nan"), resumed_from,
                         [None if r is None else float(r) for r in radius_l])
