"""Population metrics of predictors, in the paper's normalisations (Sec. 3, Thm 3.4, 4.3, Prop E.7).

Predictions are given on the whole population in the order of
:meth:`regimes.tasks.Task.population` (lexicographic): regression ``(p³,)``
over triples ``(a, b, c)``, classification ``(p², p)`` over pairs ``(a, b)``.

Every metric here averages over all points, training points included (population
quantities, as in Thm 3.4 / 4.3), unless a subset is passed explicitly. They are not
test metrics: for held-out scoring select the rows with :func:`regimes.tasks.heldout`
or :func:`regimes.tasks.clean_pair_mask` (regression: pairs whose labelled triple was
never trained on) and pass that mask (``regression_zero_one_error(..., pairs=mask)``,
``zero_one_error(pred[mask], labels[mask])``).
"""

from __future__ import annotations

import torch

from regimes._validate import check_int, check_positive
from regimes.tasks import all_points

F64 = torch.float64

__all__ = [
    "classification_l2_loss",
    "classification_l2_ratio",
    "classification_labels",
    "regression_l2_loss",
    "regression_l2_ratio",
    "regression_targets",
    "regression_zero_one_error",
    "zero_one_error",
]


def classification_labels(p: int) -> torch.Tensor:
    """``(a + b) mod p`` for all pairs in population order, int64 (p²,)."""
    return all_points(p, 2).sum(dim=1) % p


def regression_targets(p: int) -> torch.Tensor:
    """``p·1(a + b ≡ c)`` for all triples in population order, float64 (p³,)."""
    p = check_int("p", p, low=2)
    onehot = torch.nn.functional.one_hot(classification_labels(p), p).to(F64)
    return (p * onehot).reshape(-1)


def _pred(pred: torch.Tensor, shape: tuple[int, ...], name: str = "pred") -> torch.Tensor:
    if not isinstance(pred, torch.Tensor) or tuple(pred.shape) != shape:
        got = tuple(pred.shape) if isinstance(pred, torch.Tensor) else type(pred).__name__
        raise ValueError(f"{name} has shape {got}: expected {shape} (the whole population)")
    pred = pred.to(F64)
    if not torch.isfinite(pred).all():
        raise ValueError(f"{name} contains NaN or inf")
    return pred


def regression_l2_loss(pred: torch.Tensor, p: int) -> float:
    """Population square loss ``(1/p³) Σ_{a,b,c} (g(a,b,c) − p·1(a+b≡c))²`` (paper Sec. 3,
    footnote: the zero predictor scores exactly p)."""
    p = check_int("p", p, low=2)
    pred = _pred(pred, (p**3,))
    return float(((pred - regression_targets(p)) ** 2).mean())


def regression_l2_ratio(pred: torch.Tensor, p: int) -> float:
    """:func:`regression_l2_loss` divided by the zero predictor's loss p."""
    return regression_l2_loss(pred, p) / p


def regression_zero_one_error(pred: torch.Tensor, p: int, pairs: torch.Tensor | None = None) -> float:
    """0-1 error of the classifier ``(a, b) ↦ argmax_c g(a, b, c)`` (Prop E.7) over all
    pairs, or over the pairs selected by the boolean mask / flat indices ``pairs``."""
    p = check_int("p", p, low=2)
    pred = _pred(pred, (p**3,)).reshape(p * p, p)
    wrong = (pred.argmax(dim=1) != classification_labels(p)).to(F64)
    return float(wrong.mean() if pairs is None else wrong[pairs].mean())


def zero_one_error(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows of ``pred`` (n, p) whose argmax differs from ``labels`` (n,)."""
    if pred.ndim != 2 or labels.shape != (pred.shape[0],):
        raise ValueError(f"pred (n, p) and labels (n,) expected, got {tuple(pred.shape)}, {tuple(labels.shape)}")
    if pred.shape[0] == 0:
        raise ValueError("zero_one_error needs at least one point")
    return float((pred.argmax(dim=1) != labels).to(F64).mean())


def classification_l2_loss(pred: torch.Tensor, p: int, *, target_scale: float = 1.0) -> float:
    """Population ℓ2 loss ``(1/p²) Σ_{(a,b)} ‖f(a,b) − s·e_{a+b}‖²`` with ``s = target_scale``
    (Thm 4.3's proof uses s = p; the ratio to the zero predictor, s², does not depend on s)."""
    p = check_int("p", p, low=2)
    s = check_positive("target_scale", target_scale)
    pred = _pred(pred, (p * p, p))
    target = s * torch.nn.functional.one_hot(classification_labels(p), p).to(F64)
    return float(((pred - target) ** 2).sum(dim=1).mean())


def classification_l2_ratio(pred: torch.Tensor, p: int, *, target_scale: float = 1.0) -> float:
    """:func:`classification_l2_loss` divided by the zero predictor's loss ``s²``."""
    return classification_l2_loss(pred, p, target_scale=target_scale) / target_scale**2
