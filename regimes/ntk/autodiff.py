"""Generic empirical NTK by automatic differentiation (``torch.func``).

For any functional model ``fn(params, x) -> outputs`` (outputs of shape (n, k),
or (n,) for a scalar head) the empirical NTK is

    Θ̂(x, x')_{kl} = Σ_θ ∂f_k(x)/∂θ · ∂f_l(x')/∂θ = (J(x) J(x')ᵀ)_{kl},

summed over every tensor in ``params``. Two ways of computing it, both from
Novak et al., "Fast Finite Width Neural Tangent Kernel" (ICML 2022):

* ``implementation="jacobian_contraction"``: per-example Jacobians by
  ``vmap(jacrev)`` for a chunk of each input set, contracted over parameters.
  Memory per chunk ~ chunk · k · |θ| · 8 bytes. Usually the faster one.
* ``implementation="ntk_vector_products"``: for a chunk of ``x2``, per-example
  vector-Jacobian products J(x')ᵀ e (``vjp``) are pushed forward through the
  model at ``x`` (``jvp``), giving Θ̂ e column by column without ever forming
  J(x). Useful when the forward pass is cheap relative to |θ|.

Which to use: for the quadratic net the closed form (:mod:`regimes.ntk.closed_form`)
is orders of magnitude faster; use this module for other architectures (the
transformer) and as an independent cross-check. Work is done in blocks of
``chunk_size`` inputs, chosen from ``max_bytes`` when not given, so memory
stays bounded; the (n, n2[, k, k]) result itself must fit in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch.func import jacrev, jvp, vjp, vmap

from regimes._validate import check_choice, check_index_tensor, check_int, check_positive
from regimes.models.protocol import Model, Params
from regimes.models.quadratic import QuadraticNet

ModelFn = Callable[[Params, torch.Tensor], torch.Tensor]

IMPLEMENTATIONS = ("jacobian_contraction", "ntk_vector_products")
QUADRATIC_KINDS = ("first_logit", "full", "regression")
DEFAULT_MAX_BYTES = 1 << 29  # 512 MiB of Jacobians / tangents per block
#: Default block cap for NTK-vector products: its jvp intermediates grow as
#: chunk² × (activations per input), which ``max_bytes`` cannot see.
NVP_MAX_CHUNK = 64

__all__ = ["IMPLEMENTATIONS", "entk_autodiff", "model_entk", "quadratic_entk_autodiff"]


def _num_outputs(fn: ModelFn, params: Params, x: torch.Tensor) -> tuple[int, bool]:
    """(k, scalar_head) from one forward pass on the first input."""
    with torch.no_grad():
        out = fn(params, x[:1])
    if not isinstance(out, torch.Tensor) or out.ndim not in (1, 2) or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"fn(params, x) must return an (n, k) or (n,) tensor, got {shape} for n=1")
    return (1, True) if out.ndim == 1 else (out.shape[1], False)


def _single(fn: ModelFn, output: int | None, scalar: bool) -> Callable[[Params, torch.Tensor], torch.Tensor]:
    """The model on one input (no batch axis): returns (k_eff,) outputs."""

    def f(params: Params, xi: torch.Tensor) -> torch.Tensor:
        out = fn(params, xi.unsqueeze(0))[0]
        if scalar:
            return out.reshape(1)
        return out[output].reshape(1) if output is not None else out

    return f


def _batched(fn: ModelFn, output: int | None, scalar: bool) -> Callable[[Params, torch.Tensor], torch.Tensor]:
    """The model on a batch: returns (c, k_eff) outputs."""

    def f(params: Params, xb: torch.Tensor) -> torch.Tensor:
        out = fn(params, xb)
        if scalar:
            return out.reshape(-1, 1)
        return out[:, output : output + 1] if output is not None else out

    return f


def _jacobian(f1: Callable, params: Params, xc: torch.Tensor) -> torch.Tensor:
    """Per-example Jacobian of a chunk, flattened over parameters: (c, k_eff, |θ|)."""
    jac = vmap(jacrev(f1), in_dims=(None, 0))(params, xc)
    c = xc.shape[0]
    return torch.cat([jac[name].reshape(c, jac[name].shape[1], -1) for name in params], dim=2)


def _block_nvp(f1: Callable, fb: Callable, params: Params, xa: torch.Tensor,
               xb: torch.Tensor, k: int) -> torch.Tensor:
    """Θ̂ block by NTK-vector products: vjp at each x' in ``xb``, then jvp at ``xa``."""
    names = list(params)
    eye = torch.eye(k, dtype=next(iter(params.values())).dtype)

    def pullbacks(xi: torch.Tensor) -> dict[str, torch.Tensor]:
        # J(x')ᵀ e_l for every output l: (k, *θ-shape) per tensor
        _, pull = vjp(lambda prm: f1(prm, xi), params)
        return vmap(lambda e: pull(e)[0])(eye)

    tangents = vmap(pullbacks)(xb)  # name -> (cb, k, *shape)
    cb = xb.shape[0]
    flat = {n: t.reshape(cb * k, *t.shape[2:]) for n, t in tangents.items()}

    def push(*ts: torch.Tensor) -> torch.Tensor:
        tan = dict(zip(names, ts, strict=True))
        return jvp(lambda prm: fb(prm, xa), (params,), (tan,))[1]  # (ca, k)

    cols = vmap(push)(*(flat[n] for n in names))  # (cb*k, ca, k)
    return cols.reshape(cb, k, xa.shape[0], k).permute(2, 0, 3, 1)  # (ca, cb, k_a, k_b)


def entk_autodiff(fn: ModelFn, params: Params, x: torch.Tensor, x2: torch.Tensor | None = None, *,
                  output: int | None = None, implementation: str = "jacobian_contraction",
                  chunk_size: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                  dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
    """Empirical NTK of a functional model by ``torch.func`` (Def 4.1 for any architecture).

    For a :class:`regimes.models.Model` ``m``, ``entk_autodiff(m.apply, m.params(), x)``
    (or :func:`model_entk`).

    Parameters
    ----------
    fn : ``fn(params, x) -> (n, k)`` outputs (or ``(n,)`` for a scalar head); must be
        written with ``torch.func``-compatible ops (it is called under ``vmap``
        on batches of one input).
    params : dict of tensors; the kernel sums over all floating-point ones (other
        tensors, e.g. integer buffers, are passed through as constants).
    x, x2 : inputs batched along dim 0 (any dtype: index tensors, one-hots, ...);
        ``x2=None`` means ``x`` (the symmetric case: only the upper block triangle
        is computed).
    output : an output index ``k`` → the scalar kernel of f_k, shape (n, n2);
        ``None`` → the full matrix-valued kernel, shape (n, n2, k, k) (for a
        scalar head: (n, n2)).
    implementation : ``"jacobian_contraction"`` or ``"ntk_vector_products"`` (see module doc).
    chunk_size : inputs per block; by default the largest block whose Jacobians
        (or tangents) fit in ``max_bytes``, and at most ``NVP_MAX_CHUNK`` for
        NTK-vector products, whose jvp intermediates hold chunk² × (activations
        per input) numbers: lower it for models with large activations.
    dtype : floating params (and floating inputs) are cast to it first; ``None``
        keeps them. The result has the precision the kernel was computed in: float64
        by default, the params' (promoted) dtype with ``None`` — so a float32 kernel
        stays float32 and :func:`regimes.kernels.check_gram` applies float32's
        round-off tolerance to it, not float64's.

    An empty ``x`` or ``x2`` (zero inputs) gives an empty kernel, (0, n2) or (n, 0)
    (as the closed forms of :mod:`regimes.ntk.closed_form` do).
    """
    check_choice("implementation", implementation, IMPLEMENTATIONS)
    check_positive("max_bytes", max_bytes)
    if not isinstance(params, dict) or not params or not all(
            isinstance(v, torch.Tensor) for v in params.values()):
        raise ValueError("params must be a non-empty dict of tensors")
    for name, xx in (("x", x), ("x2", x2)):
        if xx is not None and (not isinstance(xx, torch.Tensor) or xx.ndim < 1):
            raise ValueError(f"{name} must be a tensor of inputs along dim 0")
    if dtype is not None:
        params = {n: (t.to(dtype) if t.is_floating_point() else t) for n, t in params.items()}
        x = x.to(dtype) if x.is_floating_point() else x
        x2 = x2.to(dtype) if x2 is not None and x2.is_floating_point() else x2
    # Differentiate only floating tensors; others (integer buffers, masks) are constants.
    const = {n: t.detach() for n, t in params.items() if not t.is_floating_point()}
    params = {n: t.detach() for n, t in params.items() if t.is_floating_point()}
    if not params:
        raise ValueError("params holds no floating-point tensor to differentiate")
    if const:
        model = fn

        def fn(prm: Params, xx: torch.Tensor) -> torch.Tensor:
            return model({**const, **prm}, xx)

    out_dtype = functools.reduce(torch.promote_types, [t.dtype for t in params.values()])
    symmetric = x2 is None
    xs2 = x if symmetric else x2
    n, n2 = x.shape[0], xs2.shape[0]
    if n and n2:
        k_all, scalar = _num_outputs(fn, params, x)
    else:  # an empty kernel: its output count from a forward pass on whichever input is not empty
        probe = x if n else xs2
        if probe.shape[0]:
            k_all, scalar = _num_outputs(fn, params, probe)
        else:
            with torch.no_grad():
                o = fn(params, probe)
            k_all, scalar = (1, True) if o.ndim == 1 else (int(o.shape[1]), False)
    if output is not None:
        output = check_int("output", output, low=0, high=k_all - 1)
    k = 1 if (scalar or output is not None) else k_all
    if n == 0 or n2 == 0:
        empty = torch.zeros(n, n2, k, k, dtype=out_dtype, device=x.device)
        return empty[:, :, 0, 0] if k == 1 and (scalar or output is not None) else empty
    n_params = sum(t.numel() for t in params.values())
    if chunk_size is None:
        per_input = 8 * k * n_params * (2 if implementation == "jacobian_contraction" else 1)
        cap = int(max_bytes) // per_input
        if implementation == "ntk_vector_products":
            cap = min(cap, NVP_MAX_CHUNK)
        blocks = -(-max(n, n2) // max(1, cap))
        chunk_size = max(1, -(-max(n, n2) // blocks))
    chunk_size = check_int("chunk_size", chunk_size, low=1)

    f1 = _single(fn, output, scalar)
    fb = _batched(fn, output, scalar)
    out = torch.empty(n, n2, k, k, dtype=out_dtype, device=x.device)
    blocks = [slice(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
    blocks2 = blocks if symmetric else [slice(j, min(j + chunk_size, n2))
                                         for j in range(0, n2, chunk_size)]
    contraction = implementation == "jacobian_contraction"
    # Keep the Jacobians of x2 between row blocks when they fit in the budget.
    cache2: dict[int, torch.Tensor] | None = (
        {} if contraction and n2 * 8 * k * n_params <= max_bytes else None)

    def jac2(jb: int) -> torch.Tensor:
        if cache2 is None:
            return _jacobian(f1, params, xs2[blocks2[jb]])
        if jb not in cache2:
            cache2[jb] = _jacobian(f1, params, xs2[blocks2[jb]])
        return cache2[jb]

    for ia, sa in enumerate(blocks):
        Ja = None
        for jb, sb in enumerate(blocks2):
            if symmetric and jb < ia:
                continue
            if contraction:
                if Ja is None:
                    Ja = jac2(ia) if symmetric else _jacobian(f1, params, x[sa])
                Jb = Ja if symmetric and jb == ia else jac2(jb)
                blk = torch.einsum("akt,blt->abkl", Ja, Jb)
            else:
                blk = _block_nvp(f1, fb, params, x[sa], xs2[sb], k)
            out[sa, sb] = blk.to(out_dtype)
            if symmetric and jb > ia:
                out[sb, sa] = blk.permute(1, 0, 3, 2).to(out_dtype)
    return out[:, :, 0, 0] if k == 1 and (scalar or output is not None) else out


def model_entk(model: Model, x: torch.Tensor, x2: torch.Tensor | None = None, *,
               output: int | None = None, implementation: str = "jacobian_contraction",
               chunk_size: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
               dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
    """Empirical NTK of a :class:`regimes.models.Model` at its own parameters (Def 4.1):
    :func:`entk_autodiff` of ``model.apply`` at ``model.params()``; same arguments, shapes
    (``(n, n2)`` with ``output``, else ``(n, n2, p, p)``) and errors, plus ``ValueError`` if
    ``model`` is not a Model. Differentiates the model's ``apply`` as it is: for a
    :class:`QuadraticNet` that includes its ``output_scale``.

    Examples
    --------
    >>> from regimes.models import QuadraticNet
    >>> net = QuadraticNet.init(3, 4, seed=0)
    >>> K = model_entk(net, torch.tensor([[0, 1], [2, 2]]), output=0)
    >>> K.shape, bool(torch.allclose(K, K.T)), bool(torch.linalg.eigvalsh(K).min() >= -1e-12)
    (torch.Size([2, 2]), True, True)
    """
    if not isinstance(model, Model):
        raise ValueError(f"model must be a regimes.models.Model (params(), apply(params, x), with_params(params)), "
                         f"got {type(model).__name__}")
    return entk_autodiff(model.apply, model.params(), x, x2, output=output, implementation=implementation,
                         chunk_size=chunk_size, max_bytes=max_bytes, dtype=dtype)


def quadratic_entk_autodiff(net: QuadraticNet, x: torch.Tensor, x2: torch.Tensor | None = None, *,
                            kind: str = "first_logit", logit: int = 0,
                            implementation: str = "jacobian_contraction",
                            chunk_size: int | None = None,
                            max_bytes: int = DEFAULT_MAX_BYTES) -> torch.Tensor:
    """eNTK of a :class:`QuadraticNet` by generic autodiff on its functional form (eq. 2.1).

    ``kind="first_logit"``: kernel of f_logit, (n, n2); ``"full"``: (n, n2, p, p)
    (Def 4.1); ``"regression"``: kernel of g(θ; (a, b, c)) = f_c on triples, (n, n2).
    A cross-check of :mod:`regimes.ntk.closed_form`, independent of its formulas.
    """
    check_choice("kind", kind, QUADRATIC_KINDS)
    if not isinstance(net, QuadraticNet):
        raise ValueError(f"net must be a QuadraticNet, got {type(net).__name__}")
    arity = 3 if kind == "regression" else 2
    x = check_index_tensor("x", x, net.p, arity).to(net.device)
    x2 = None if x2 is None else check_index_tensor("x2", x2, net.p, arity).to(net.device)
    logit = check_int("logit", logit, low=0, high=net.p - 1)
    s = net.output_scale

    if kind == "regression":
        def fn(prm: Params, xx: torch.Tensor) -> torch.Tensor:
            return QuadraticNet.apply_regression(prm, xx, s)
        output = None
    else:
        def fn(prm: Params, xx: torch.Tensor) -> torch.Tensor:
            return QuadraticNet.apply(prm, xx, s)
        output = logit if kind == "first_logit" else None
    return entk_autodiff(fn, net.params(), x, x2, output=output, implementation=implementation,
                         chunk_size=chunk_size, max_bytes=max_bytes)
