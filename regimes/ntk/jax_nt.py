"""The quadratic net's empirical NTK by neural-tangents (JAX): an independent cross-check.

The net is written again here, in JAX, on one-hot inputs, sharing no code with
:class:`regimes.models.QuadraticNet` or :mod:`regimes.ntk.closed_form`:

    u = (e_a, e_b) ∈ R^{2p},   z = W u,   f(θ; u) = s · V (z ⊙ z)        (eq. 2.1)

and the kernel comes from ``neural_tangents.empirical_ntk_fn``. The regression
head takes u = (e_a, e_b, e_c) ∈ R^{3p} and returns ⟨e_c, f(θ; (e_a, e_b))⟩ = f_c.

Versions: neural-tangents 0.6.5 (its last release) imports only with
jax ≤ 0.5.3. Of its four implementations only ``JACOBIAN_CONTRACTION`` and
``NTK_VECTOR_PRODUCTS`` work on jax ≥ 0.4.26; ``STRUCTURED_DERIVATIVES`` (and
``AUTO``, which tries it) trace through jaxpr internals that changed in jax
0.4.26 and fail there. They are accepted here only to report that clearly.

JAX is imported lazily (``pip install -e .[nt]``); float64 is switched on for
the duration of each call and the previous setting restored afterwards.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from regimes._validate import check_choice, check_index_tensor, check_int, check_positive
from regimes.models.quadratic import QuadraticNet

IMPLEMENTATIONS = ("jacobian_contraction", "ntk_vector_products", "structured_derivatives", "auto")
#: Implementations that run on the pinned jax 0.5.3 (see module doc).
WORKING_IMPLEMENTATIONS = ("jacobian_contraction", "ntk_vector_products")
KINDS = ("first_logit", "full", "regression")
DEFAULT_MAX_BYTES = 1 << 29

__all__ = ["IMPLEMENTATIONS", "WORKING_IMPLEMENTATIONS", "nt_available", "quadratic_entk_nt"]


def _import_nt() -> tuple[Any, Any, Any]:
    try:
        import jax
        import jax.numpy as jnp
        import neural_tangents as nt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "method='neural_tangents' needs jax 0.5.3 and neural-tangents 0.6.5: "
            "install them with `pip install -e .[nt]`"
        ) from err
    return jax, jnp, nt


def nt_available() -> bool:
    """True when jax and neural-tangents import (the ``[nt]`` extra is installed)."""
    try:
        _import_nt()
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _x64(jax: Any) -> Iterator[None]:
    """Enable float64 in JAX for the block, restoring the caller's setting after."""
    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _one_hot(x: np.ndarray, p: int) -> np.ndarray:
    """Concatenated one-hots (e_{x_0}, e_{x_1}, ...), shape (n, arity·p), float64."""
    n, arity = x.shape
    out = np.zeros((n, arity * p), dtype=np.float64)
    out[np.arange(n)[:, None], x + p * np.arange(arity)[None, :]] = 1.0
    return out


def _balanced(n: int, cap: int) -> int:
    """The smallest block size ≤ ``cap`` covering ``n`` rows in the fewest blocks
    (so padding the last block wastes little)."""
    blocks = -(-n // max(1, cap))
    return -(-n // blocks)


def _padded(u: np.ndarray, start: int, size: int) -> tuple[np.ndarray, int]:
    """Rows ``start:start+size`` of ``u``, zero-padded to ``size`` rows (one jit shape)."""
    blk = u[start : start + size]
    m = blk.shape[0]
    if m < size:
        blk = np.concatenate([blk, np.zeros((size - m, u.shape[1]), dtype=u.dtype)])
    return blk, m


@functools.lru_cache(maxsize=32)
def _kernel_fn(p: int, kind: str, logit: int, s: float, implementation: str) -> Any:
    """The jitted neural-tangents kernel function for one head; cached so repeated calls
    with the same head reuse JAX's compiled code instead of compiling again."""
    jax, jnp, nt = _import_nt()

    def logits(params: dict[str, Any], ab: Any) -> Any:
        z = ab @ params["W"].T  # (n, h)
        return s * (z * z) @ params["V"].T  # (n, p)

    if kind == "first_logit":
        def apply_fn(params: dict[str, Any], inputs: Any) -> Any:
            return logits(params, inputs)[:, logit : logit + 1]
    elif kind == "full":
        apply_fn = logits
    else:
        def apply_fn(params: dict[str, Any], inputs: Any) -> Any:
            f = logits(params, inputs[:, : 2 * p])
            return jnp.sum(f * inputs[:, 2 * p :], axis=1, keepdims=True)

    impl = getattr(nt.NtkImplementation, implementation.upper())
    return jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0, implementation=impl))


def quadratic_entk_nt(net: QuadraticNet, x: torch.Tensor, x2: torch.Tensor | None = None, *,
                      kind: str = "first_logit", logit: int = 0,
                      implementation: str = "jacobian_contraction",
                      chunk_size: int | None = None,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> torch.Tensor:
    """eNTK of a :class:`QuadraticNet` computed by neural-tangents on a JAX re-implementation.

    Same contract as :func:`regimes.ntk.entk`: ``kind="first_logit"`` → (n, n2) kernel of
    f_logit; ``"full"`` → (n, n2, p, p) (Def 4.1); ``"regression"`` → (n, n2) kernel of
    g = f_c on triples. float64 torch tensor on the CPU. Blocks of ``chunk_size``
    inputs (default: sized from ``max_bytes``) bound the Jacobians held at once.
    ``implementation`` is neural-tangents' ``NtkImplementation`` by name; only
    ``WORKING_IMPLEMENTATIONS`` run on the pinned jax (others raise ``RuntimeError``).
    """
    check_choice("kind", kind, KINDS)
    check_choice("implementation", implementation, IMPLEMENTATIONS)
    check_positive("max_bytes", max_bytes)
    if not isinstance(net, QuadraticNet):
        raise ValueError(f"net must be a QuadraticNet, got {type(net).__name__}")
    p, h = net.p, net.h
    arity = 3 if kind == "regression" else 2
    x = check_index_tensor("x", x, p, arity)
    x2 = None if x2 is None else check_index_tensor("x2", x2, p, arity)
    logit = check_int("logit", logit, low=0, high=p - 1)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, low=1)
    jax, jnp, _ = _import_nt()

    s = float(net.output_scale)
    W = net.W.detach().to("cpu", torch.float64).numpy()
    V = net.V.detach().to("cpu", torch.float64).numpy()
    u = _one_hot(x.cpu().numpy(), p)
    u2 = u if x2 is None else _one_hot(x2.cpu().numpy(), p)
    k = p if kind == "full" else 1

    if chunk_size is None:
        chunk_size = max(1, int(max_bytes) // (8 * k * 3 * p * h * 2))
    n, n2 = u.shape[0], u2.shape[0]
    c1, c2 = _balanced(n, chunk_size), _balanced(n2, chunk_size)
    out = np.empty((n, n2, k, k), dtype=np.float64)
    with _x64(jax):
        kernel_fn = _kernel_fn(p, kind, logit, s, implementation)
        params = {"W": jnp.asarray(W, dtype=jnp.float64), "V": jnp.asarray(V, dtype=jnp.float64)}
        try:
            for i in range(0, n, c1):
                a, na = _padded(u, i, c1)
                for j in range(0, n2, c2):
                    b, nb = _padded(u2, j, c2)
                    blk = np.asarray(kernel_fn(jnp.asarray(a), jnp.asarray(b), params))
                    out[i : i + na, j : j + nb] = blk.reshape(c1, c2, k, k)[:na, :nb]
        except Exception as err:
            if implementation in WORKING_IMPLEMENTATIONS:
                raise
            raise RuntimeError(
                f"neural-tangents implementation {implementation!r} failed on jax "
                f"{jax.__version__} ({type(err).__name__}: {err}); it is known broken on "
                f"jax >= 0.4.26: use one of {WORKING_IMPLEMENTATIONS}"
            ) from err
    result = torch.from_numpy(out)
    return result if kind == "full" else result[:, :, 0, 0].contiguous()
