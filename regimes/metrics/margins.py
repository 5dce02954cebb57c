"""Classification margins of a predictor (paper Sec. 4.2).

The margin of a point ``(x, y)`` is ``q(θ; x, y) = f_y(θ; x) − max_{y'≠y} f_{y'}(θ; x)``:
positive exactly when the point is classified correctly (ties count as errors), and for
the 3-homogeneous quadratic net ``q(cθ) = c³ q(θ)``, so ``q_min / ‖θ‖_∞³`` is the
normalized ℓ∞ margin of Thm 4.5 / 4.6. The one definition the training loop
(:func:`regimes.train.evaluate`'s ``q_min``) and the margin checks (C10, C14) use.
"""

from __future__ import annotations

import torch

__all__ = ["margins"]


def margins(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-point margins ``q_i = f_{y_i} − max_{y'≠y_i} f_{y'}`` (Sec. 4.2), shape (n,).

    ``logits``: (n, k) real tensor with ``k >= 2`` classes; ``y``: (n,) integer labels in
    ``[0, k)``. The result has ``logits``' dtype and device; it is differentiable.

    Raises ``ValueError`` if ``logits`` is not 2-D with at least 2 columns, or ``y`` is not
    an integer vector of length n with entries in ``[0, k)``.

    Examples
    --------
    >>> margins(torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0]]), torch.tensor([0, 1])).tolist()
    [1.0, 0.0]
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be an (n, k) tensor with k >= 2 classes, got {shape}")
    if (not isinstance(y, torch.Tensor) or y.ndim != 1 or y.shape[0] != logits.shape[0]
            or y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool):
        shape = (tuple(y.shape), y.dtype) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be an integer tensor of shape ({logits.shape[0]},), got {shape}")
    k = logits.shape[1]
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= k):
        raise ValueError(f"y has entries in [{int(y.min())}, {int(y.max())}]: allowed [0, {k - 1}]")
    col = y.to(torch.long)[:, None]
    fy = logits.gather(1, col).squeeze(1)
    return fy - logits.scatter(1, col, float("-inf")).max(dim=1).values
