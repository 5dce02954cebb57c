"""Training recipes at the paper's rich-regime settings (App. A; Figs 3 and 4), shared by
experiments 07 and 08 and the checks C15 and C16.

One recipe, :func:`rich_run`, trains the quadratic net at one (setting, p, seed) from a
typed :class:`RichRunConfig` and measures, on **held-out** points only (the pairs, or
triples, not in the training set; see :func:`regimes.train.evaluate`):

* the net's held-out accuracy (regression: argmax_c g over the clean pairs, whose
  labelled triple was never trained on) and held-out square loss, with its ratio to
  the zero predictor's loss on the same held-out points;
* the final ‖θ‖_∞, the minimum training margin q_min and the normalized ℓ∞ margin
  q_min/‖θ‖_∞³ (Sec. 4.2);
* the eNTK-at-init kernel baseline on the same training set: ridgeless kernel regression
  with the prior mean f₀ (App. B.1), its held-out accuracy and ℓ2 ratio.

The paper's settings (App. A.1, A.2) are the defaults of :func:`paper_config`:

* regression: GD, lr 1 on ½(g − y)² (= lr 0.5 on our mean (g − y)²), λ∞ = 1e-4,
  h = 4p (Fig 3), n = 2p^{2.25};
* classification: normalized GD (eq. A.1), lr 10, λ∞ = 1e-20, cross-entropy, h = 8p,
  n = 2p^{5/3}.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from regimes._validate import check_choice, check_int, check_positive

__all__ = ["C17B_RUN", "RichRunConfig", "init_scale_gaps", "init_scale_run", "paper_config", "rich_run"]

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

    Unknown keys are refused (it is a dataclass); :meth:`validate` checks the ranges.
    """

    setting: str
    p: int
    seed: int = 0
    n_exponent: float = 5 / 3
    width_mult: int = 8
    optimizer: str = "normalized_gd"
    lr: float = 10.0
    lam_inf: float = 1e-20
    loss: str = "cross_entropy"
    steps: int = 2000
    n_evals: int = 50
    dtype: str = "float32"
    kernel_baseline: bool = True

    def validate(self) -> RichRunConfig:
        """Raise ``ValueError`` naming the field for any out-of-range value; return ``self``."""
        check_choice("setting", self.setting, SETTINGS)
        check_int("p", self.p, low=3)
        check_int("seed", self.seed, low=0)
        check_positive("n_exponent", self.n_exponent)
        check_int("width_mult", self.width_mult, low=1)
        check_int("steps", self.steps, low=1)
        check_int("n_evals", self.n_evals, low=1)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        if self.setting == "regression" and self.loss != "mse":
            raise ValueError(f"loss={self.loss!r} is not allowed for regression: use 'mse'")
        return self

    @property
    def n(self) -> int:
        """Training-set size round(2 p^{n_exponent}), capped at (population size − 1)."""
        size = self.p**2 if self.setting == "classification" else self.p**3
        return min(round(2 * self.p**self.n_exponent), size - 1)

    def as_dict(self) -> dict[str, Any]:
        """The config as plain JSON values."""
        return dataclasses.asdict(self)


def paper_config(setting: str, p: int, seed: int = 0, **overrides: Any) -> RichRunConfig:
    """The paper's App. A hyperparameters for ``setting`` at ``p`` (see the module docstring),
    with ``overrides`` applied (a misspelt key raises ``TypeError`` from the dataclass)."""
    check_choice("setting", setting, SETTINGS)
    if setting == "regression":
        base = dict(n_exponent=2.25, width_mult=4, optimizer="gd", lr=0.5, lam_inf=1e-4, loss="mse")
    else:
        base = dict(n_exponent=5 / 3, width_mult=8, optimizer="normalized_gd", lr=10.0, lam_inf=1e-20,
                    loss="cross_entropy")
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


def rich_run(config: RichRunConfig, *, device: str = "cpu") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one run as ``config`` says and measure it on held-out points.

    Returns ``(summary, arrays)``. ``summary`` holds the config, ``n``, ``width``, the final
    ``train_loss``, ``train_acc``, ``heldout_acc``, ``heldout_loss``, ``heldout_l2_ratio``
    (held-out square loss over the zero predictor's on the same points; NaN for
    classification, which trains on cross-entropy and has no square-loss target),
    ``theta_inf``, ``q_min``, ``norm_margin``, ``stalled_at`` and ``stall_kind`` (the first
    step of a stretch where θ stopped changing or cycled, and how; None if it never did),
    ``penalty_dominated_at`` (the first evaluation step at which the ℓ∞ penalty's gradient
    exceeds the data loss's, so that a normalized step is spent on the penalty; None if
    never), ``steps_per_s`` and, with
    ``kernel_baseline``, the kernel's ``kernel_heldout_acc`` and ``kernel_heldout_l2_ratio``.
    ``arrays`` holds the curves (step, train/test loss and accuracy, θ∞, normalized margin).

    Raises ``ValueError`` for an invalid config (see :meth:`RichRunConfig.validate`).

    >>> s, _ = rich_run(paper_config("classification", 5, steps=20, kernel_baseline=False))
    >>> s["n"], s["width"]
    (29, 40)
    """
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    config.validate()
    p, setting = config.p, config.setting
    split = sample_split(Task(p, setting), n=config.n, seed=config.seed)
    net0 = QuadraticNet.init(p, config.width_mult * p, seed=config.seed, dtype=getattr(torch, config.dtype))
    tc = TrainConfig(steps=config.steps, lr=config.lr, optimizer=config.optimizer, loss=config.loss,
                     lam_inf=config.lam_inf, eval_every=max(1, config.steps // config.n_evals))
    res = train(net0, split.train, tc, test=split.test, device=device)
    h, f = res.history, res.final
    summary: dict[str, Any] = {
        "config": config.as_dict(), "n": config.n, "width": config.width_mult * p,
        "train_loss": f["train_loss"], "train_acc": f["train_acc"], "heldout_acc": f["test_acc"],
        "heldout_loss": f["test_loss"], "theta_inf": f["theta_inf"], "q_min": f.get("q_min", math.nan),
        "norm_margin": f.get("norm_margin", math.nan), "stalled_at": res.stalled_at,
        "stall_kind": res.stall_kind, "penalty_dominated_at": _penalty_dominated_at(h),
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
    keys = ("step", "train_loss", "test_loss", "train_acc", "test_acc", "theta_inf", "norm_margin")
    arrays = {k: np.asarray(h[k], dtype=np.float64) for k in keys if k in h}
    return summary, arrays


#: The init-scale sweep of check C17b and experiment 11 (keys of
#: :data:`regimes.metrics.runs.DEFAULT_RUN`, without α and the seed): AdamW on cross-entropy,
#: p = 31, n = 2p^{5/3}, h = 4p, no eNTK tracking. α is the **init scale** (every entry of the
#: initial (W, V) multiplied by α).
C17B_RUN: dict[str, Any] = {"p": 31, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0,
                            "loss": "cross_entropy", "steps": 3500, "track": False, "n_track": 50}


def init_scale_run(alpha: float, seed: int, run: dict[str, Any] | None = None, device: str = "cpu"
                   ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One run of the init-scale sweep (default :data:`C17B_RUN`) at init scale ``alpha``:
    ``(row, arrays)`` with ``row`` holding α, the seed, t_mem, t_grok, the gap t_grok − t_mem
    (None when the run never memorised or never grokked) and the final held-out accuracy, and
    ``arrays`` the training curves of :func:`regimes.metrics.runs.tracked_run`."""
    from regimes.metrics.runs import tracked_run

    s, arrays = tracked_run({**(C17B_RUN if run is None else run), "alpha": float(alpha), "seed": int(seed)},
                            device=device)
    row = {"alpha": float(alpha), "seed": int(seed), "t_mem": s["t_mem"], "t_grok": s["t_grok"],
           "gap": s["measures"]["gap"], "final_test_acc": s["final_test_acc"],
           "final_train_acc": s["final_train_acc"]}
    return row, arrays


def init_scale_gaps(alphas: list[float], seeds: list[int], run: dict[str, Any] | None = None,
                    device: str = "cpu") -> list[dict[str, Any]]:
    """:func:`init_scale_run` rows for every (α, seed), α-major."""
    return [init_scale_run(a, s, run, device)[0] for a in alphas for s in seeds]
