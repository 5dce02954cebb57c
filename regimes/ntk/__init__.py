"""The empirical NTK of a network, three independent ways.

* ``method="closed_form"`` (:mod:`regimes.ntk.closed_form`): exact formulas for
  the quadratic net. Use it whenever the model is a :class:`QuadraticNet`: all
  p² points at p = 97 take seconds.
* ``method="autodiff"`` (:mod:`regimes.ntk.autodiff`): ``torch.func`` Jacobian
  contraction or NTK-vector products for any functional model. Use it for other
  architectures (the transformer) and as a cross-check; memory grows as n·|θ|.
* ``method="neural_tangents"`` (:mod:`regimes.ntk.jax_nt`): the same net written
  in JAX on one-hot inputs, kernel by neural-tangents' ``empirical_ntk_fn``.
  An independent cross-check only; needs the ``[nt]`` extra.
"""

from __future__ import annotations

import torch

from regimes._validate import check_choice
from regimes.models.quadratic import QuadraticNet
from regimes.ntk.closed_form import expected_ntk, first_logit_ntk, full_ntk, regression_ntk

KINDS = ("first_logit", "full", "regression")
METHODS = ("closed_form", "autodiff", "neural_tangents")

__all__ = ["KINDS", "METHODS", "entk", "expected_ntk", "first_logit_ntk", "full_ntk", "regression_ntk"]


def entk(net: QuadraticNet, x: torch.Tensor, x2: torch.Tensor | None = None, *,
         kind: str = "first_logit", method: str = "closed_form", logit: int = 0) -> torch.Tensor:
    """Empirical NTK of ``net`` between index inputs ``x`` and ``x2`` (default ``x``).

    ``kind="first_logit"``: Θ̂ = ∇f_logit ∇f_logitᵀ, (n, n2), the kernel plotted in
    Figs 1, 2, 5. ``kind="full"``: the matrix-valued kernel of Def 4.1, (n, n2, p, p).
    ``kind="regression"``: the kernel of g(θ; (a, b, c)) = f_c on triples (Sec. 3), (n, n2).
    Always float64.

    Examples
    --------
    On all p² pairs the eNTK is a symmetric positive semi-definite Gram matrix (J Jᵀ), and
    ``torch.func`` autodiff gives the closed form's values:

    >>> from regimes.tasks import Task
    >>> net = QuadraticNet.init(5, 16, seed=0)
    >>> x = Task(5).population().x
    >>> K = entk(net, x)
    >>> K.shape, bool(torch.allclose(K, K.T, rtol=1e-13)), bool(torch.linalg.eigvalsh(K).min() > -1e-10 * K.max())
    (torch.Size([25, 25]), True, True)
    >>> bool(torch.allclose(entk(net, x, method="autodiff"), K, rtol=1e-10, atol=1e-12))
    True
    """
    check_choice("kind", kind, KINDS)
    check_choice("method", method, METHODS)
    if not isinstance(net, QuadraticNet):
        raise ValueError(f"net must be a QuadraticNet, got {type(net).__name__}")
    s = net.output_scale
    if method == "closed_form":
        if kind == "first_logit":
            return first_logit_ntk(net.W, net.V, x, x2, logit=logit, output_scale=s)
        if kind == "full":
            return full_ntk(net.W, net.V, x, x2, output_scale=s)
        return regression_ntk(net.W, net.V, x, x2, output_scale=s)
    if method == "autodiff":
        from regimes.ntk.autodiff import quadratic_entk_autodiff

        return quadratic_entk_autodiff(net, x, x2, kind=kind, logit=logit)
    from regimes.ntk.jax_nt import quadratic_entk_nt

    return quadratic_entk_nt(net, x, x2, kind=kind, logit=logit)
