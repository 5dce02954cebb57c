"""Closed-form empirical NTK of the quadratic net (derivation: proofs/closed_form_entk.md).

With z = W[:, a] + W[:, p+b] ∈ R^h and output scale s, f_k = s Σ_j V_kj z_j², so

    ∂f_k/∂V_lj = s δ_kl z_j²,        ∂f_k/∂W_{j,i} = 2 s V_kj z_j (1(i = a) + 1(i = p+b)).

Contracting over all parameters, for x = (a, b), x' = (a', b') with
m(x, x') = 1(a = a') + 1(b = b') (the number of shared first-layer columns):

    K(x, x')_{kl} = s² [ δ_kl Σ_j z_j² z'_j²  +  4 m(x, x') Σ_j V_kj V_lj z_j z'_j ].

The second term vanishes unless x and x' share a coordinate, so it is computed
group by group (points with the same a, then the same b): for all p² points
that costs p³h instead of p⁴h. The regression kernel of g = f_c on triples is
the (c, c') entry, whose first term also vanishes unless c = c'.

All kernels are returned in float64. The (n, n2) output must fit in memory;
temporaries are bounded by ``max_bytes`` (default 1 GiB) by working in blocks.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from regimes._validate import check_index_tensor, check_int, check_positive
from regimes.models.quadratic import InitMoments

DEFAULT_MAX_BYTES = 1 << 30


def _z(W: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    p = W.shape[1] // 2
    Wt = W.t().to(torch.float64)
    return Wt[x[:, 0]] + Wt[p + x[:, 1]]


def _groups(k1: torch.Tensor, k2: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """For each key value present in both, the row indices in k1 and in k2 holding it."""
    o1, o2 = torch.argsort(k1, stable=True), torch.argsort(k2, stable=True)
    v1, c1 = torch.unique_consecutive(k1[o1], return_counts=True)
    v2, c2 = torch.unique_consecutive(k2[o2], return_counts=True)
    s1 = dict(zip(v1.tolist(), torch.split(o1, c1.tolist()), strict=True))
    s2 = dict(zip(v2.tolist(), torch.split(o2, c2.tolist()), strict=True))
    for v, rows in s1.items():
        cols = s2.get(v)
        if cols is not None:
            yield rows, cols


def _row_chunks(n_rows: int, bytes_per_row: int, max_bytes: int) -> Iterator[slice]:
    step = max(1, max_bytes // max(1, bytes_per_row))
    for i in range(0, n_rows, step):
        yield slice(i, min(i + step, n_rows))


def _padded_groups(keys: torch.Tensor, p: int) -> torch.Tensor:
    """(p, g) matrix whose row v lists the positions holding key v, padded with -1."""
    counts = torch.bincount(keys, minlength=p)
    order = torch.argsort(keys, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    sorted_keys = keys[order]
    pos = torch.arange(keys.numel(), device=keys.device) - starts[sorted_keys]
    idx = torch.full((p, max(1, int(counts.max()))), -1, dtype=torch.long, device=keys.device)
    idx[sorted_keys, pos] = order
    return idx


def _add_grouped_products(out: torch.Tensor, A: torch.Tensor, A2: torch.Tensor, k1: torch.Tensor,
                          k2: torch.Tensor, p: int, coef: float, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """out[t, t'] += coef · A[t]·A2[t'] for every pair with k1[t] == k2[t'].

    All groups go through one padded batched matmul and one ``index_add_`` (no
    Python loop over pairs). When the groups are so uneven that padding would
    more than double the work, it falls back to one matmul per group.
    """
    I1, I2 = _padded_groups(k1, p), _padded_groups(k2, p)
    g1, g2, h = I1.shape[1], I2.shape[1], A.shape[1]
    pairs = int((torch.bincount(k1, minlength=p) * torch.bincount(k2, minlength=p)).sum())
    if p * g1 * g2 > 2 * pairs + p:
        for rows, cols in _groups(k1, k2):
            out[rows[:, None], cols[None, :]] += coef * (A[rows] @ A2[cols].t())
        return
    padded = bool((I1 < 0).any() or (I2 < 0).any())
    if padded:  # index -1 becomes the extra zero row
        zero = A.new_zeros(1, h)
        A, A2 = torch.cat([A, zero]), torch.cat([A2, zero])
        I1, I2 = I1.where(I1 >= 0, A.shape[0] - 1), I2.where(I2 >= 0, A2.shape[0] - 1)
    n2 = out.shape[1]
    flat_out = out.view(-1)
    per_group = (g1 * g2 * 3 + (g1 + g2) * h) * 8
    step = max(1, int(max_bytes) // max(1, per_group))
    for v0 in range(0, p, step):
        J1, J2 = I1[v0:v0 + step], I2[v0:v0 + step]
        B1 = A.index_select(0, J1.reshape(-1)).view(*J1.shape, h)
        B2 = A2.index_select(0, J2.reshape(-1)).view(*J2.shape, h)
        blocks = torch.bmm(B1, B2.transpose(1, 2)).mul_(coef)
        flat = J1[:, :, None] * n2 + J2[:, None, :]
        if padded:
            valid = (J1[:, :, None] < A.shape[0] - 1) & (J2[:, None, :] < A2.shape[0] - 1)
            flat, blocks = flat[valid], blocks[valid]
        flat_out.index_add_(0, flat.reshape(-1), blocks.reshape(-1))


def _add_shared_column_term(out: torch.Tensor, A: torch.Tensor, A2: torch.Tensor,
                            x: torch.Tensor, x2: torch.Tensor, p: int, coef: float) -> None:
    """out += coef · m(x, x') ⊙ (A A2ᵀ), visiting only pairs that share a or b."""
    for col in (0, 1):
        _add_grouped_products(out, A, A2, x[:, col], x2[:, col], p, coef)


def _gram(Q: torch.Tensor, Q2: torch.Tensor | None) -> torch.Tensor:
    """Q Q2ᵀ in float64; for Q2 = None on the CPU, BLAS ``dsyrk`` (half the flops of a
    general product) fills the upper triangle and the lower one is mirrored."""
    if Q2 is not None or Q.device.type != "cpu" or Q.shape[0] < 64:
        return Q @ (Q if Q2 is None else Q2).t()
    from scipy.linalg.blas import dsyrk

    C = torch.from_numpy(dsyrk(1.0, Q.contiguous().numpy()))  # upper triangle, Fortran order
    C += torch.triu(C, 1).t()
    return C.contiguous()


def _prepare(W: torch.Tensor, V: torch.Tensor, x: torch.Tensor, x2: torch.Tensor | None,
             arity: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    p = V.shape[0]
    x = check_index_tensor("x", x, p, arity).to(W.device)
    x2 = x if x2 is None else check_index_tensor("x2", x2, p, arity).to(W.device)
    return x, x2, V.to(torch.float64)


def first_logit_ntk(W: torch.Tensor, V: torch.Tensor, x: torch.Tensor, x2: torch.Tensor | None = None,
                    *, logit: int = 0, output_scale: float = 1.0) -> torch.Tensor:
    """Θ̂(x, x') = ∇_θ f_k(x) · ∇_θ f_k(x') for one logit k (the paper's plotted eNTK, k = 0,
    i.e. f₁ in 1-based notation; Fig 1 footnote), shape (n, n2), float64.

    Θ̂ = s² [ (z⊙z)(z'⊙z')ᵀ + 4 m ⊙ (z diag(V_k²) z'ᵀ) ].
    """
    same = x2 is None
    x, x2, V = _prepare(W, V, x, x2, 2)
    logit = check_int("logit", logit, low=0, high=V.shape[0] - 1)
    Z = _z(W, x)
    Z2 = Z if same else _z(W, x2)
    out = _gram(Z * Z, None if same else Z2 * Z2)
    _add_shared_column_term(out, Z * V[logit] ** 2, Z2, x, x2, V.shape[0], 4.0)
    return out * output_scale**2 if output_scale != 1.0 else out


def regression_ntk(W: torch.Tensor, V: torch.Tensor, x: torch.Tensor, x2: torch.Tensor | None = None,
                   *, output_scale: float = 1.0) -> torch.Tensor:
    """eNTK of the regression head g(θ; (a, b, c)) = f_c on triples (Sec. 3, App. B), (n, n2).

    K(x, x') = s² [ 1(c = c') Σ_j z_j² z'_j² + 4 m(x, x') Σ_j V_cj V_c'j z_j z'_j ].
    """
    x, x2, V = _prepare(W, V, x, x2, 3)
    Z, Z2 = _z(W, x), _z(W, x2)
    out = torch.zeros(x.shape[0], x2.shape[0], dtype=torch.float64, device=W.device)
    p = V.shape[0]
    _add_grouped_products(out, Z * Z, Z2 * Z2, x[:, 2], x2[:, 2], p, 1.0)
    _add_shared_column_term(out, Z * V[x[:, 2]], Z2 * V[x2[:, 2]], x, x2, p, 4.0)
    return out * output_scale**2 if output_scale != 1.0 else out


def full_ntk(W: torch.Tensor, V: torch.Tensor, x: torch.Tensor, x2: torch.Tensor | None = None,
             *, output_scale: float = 1.0, max_bytes: int = DEFAULT_MAX_BYTES) -> torch.Tensor:
    """The matrix-valued eNTK K(x, x') ∈ R^{p×p} (Def 4.1), shape (n, n2, p, p), float64.

    K(x, x')_{kl} = s² [ δ_kl (z⊙z)·(z'⊙z') + 4 m(x, x') Σ_j V_kj V_lj z_j z'_j ].
    The output itself takes n·n2·p²·8 bytes; temporaries stay under ``max_bytes``.
    """
    x, x2, V = _prepare(W, V, x, x2, 2)
    check_positive("max_bytes", max_bytes)
    p, h = V.shape
    Z, Z2 = _z(W, x), _z(W, x2)
    out = torch.zeros(x.shape[0], x2.shape[0], p, p, dtype=torch.float64, device=W.device)
    G = _gram(Z * Z, Z2 * Z2)
    out.diagonal(dim1=2, dim2=3).copy_(G[:, :, None].expand(-1, -1, p))
    VV = (V[:, None, :] * V[None, :, :]).reshape(p * p, h).t()  # (h, p²): V_kj V_lj
    for col in (0, 1):
        for rows, cols in _groups(x[:, col], x2[:, col]):
            per_row = cols.numel() * (h + p * p) * 8
            for sl in _row_chunks(rows.numel(), per_row, int(max_bytes)):
                r = rows[sl]
                T = Z[r][:, None, :] * Z2[cols][None, :, :]  # (|r|, |cols|, h)
                block = (T.reshape(-1, h) @ VV).reshape(r.numel(), cols.numel(), p, p)
                out[r[:, None], cols[None, :]] += 4.0 * block
    return out * output_scale**2 if output_scale != 1.0 else out


def _moment_bracket(x: torch.Tensor, x2: torch.Tensor, m: InitMoments) -> tuple[torch.Tensor, torch.Tensor]:
    """(E[z_j² z'_j²] as an (n, n2) matrix, m(x, x') as an (n, n2) matrix) for i.i.d. W."""
    ea = (x[:, None, 0] == x2[None, :, 0]).to(torch.float64)
    eb = (x[:, None, 1] == x2[None, :, 1]).to(torch.float64)
    s4 = m.sigma2**2
    quartic = s4 * (4 + (m.kappa - 1) * (ea + eb) + 4 * ea * eb)
    return quartic, ea + eb


def expected_ntk(x: torch.Tensor, x2: torch.Tensor | None = None, *, p: int, h: int,
                 w_moments: InitMoments, kind: str = "regression",
                 V: torch.Tensor | None = None, v_sigma2: float | None = None,
                 output_scale: float = 1.0) -> torch.Tensor:
    """Expected eNTK over an i.i.d. first layer (Prop B.3), float64.

    With W's entries i.i.d., mean 0, variance σ², zero skewness and E w⁴ = κσ⁴:

        E_W Σ_j z_j² z'_j² = h σ⁴ [4 + (κ−1)(1(a=a') + 1(b=b')) + 4·1(a=a')1(b=b')],
        E_W Σ_j V_kj V_lj z_j z'_j = σ² m(x, x') (V Vᵀ)_{kl}.

    Pass the second layer ``V`` to condition on it, or ``v_sigma2`` to average
    over an i.i.d. V too ((V Vᵀ)_{kl} → h σ_V² δ_kl, which makes the kernel
    invariant under the full group S_p³, Thm 2.4). ``kind`` is ``"regression"``
    (triples), ``"first_logit"`` (pairs, logit 0) or ``"full"`` ((n, n2, p, p)).
    ``h`` is the hidden width.

    Examples
    --------
    Averaged over V as well, the kernel on the p² pairs is invariant under S_p³: every
    pair has the same k(x, x); and it is positive definite (Prop B.3):

    >>> x = torch.cartesian_prod(torch.arange(5), torch.arange(5))
    >>> K = expected_ntk(x, p=5, h=16, w_moments=InitMoments(1 / 30, 1.8), kind="first_logit",
    ...                  v_sigma2=1 / 48)
    >>> K.shape, bool(torch.allclose(K.diag(), K[0, 0].expand(25))), bool(torch.linalg.eigvalsh(K).min() > 0)
    (torch.Size([25, 25]), True, True)
    """
    if (V is None) == (v_sigma2 is None):
        raise ValueError("give exactly one of V (condition on it) and v_sigma2 (average over it)")
    h = check_int("h", h, low=1)
    p = check_int("p", p, low=2)
    arity = 3 if kind == "regression" else 2
    if kind not in ("regression", "first_logit", "full"):
        raise ValueError(f"kind={kind!r} is not allowed: choose 'regression', 'first_logit' or 'full'")
    x = check_index_tensor("x", x, p, arity)
    x2 = x if x2 is None else check_index_tensor("x2", x2, p, arity)
    quartic, mm = _moment_bracket(x, x2, w_moments)
    VVt = (V.to(torch.float64) @ V.to(torch.float64).t() if V is not None
           else h * check_positive("v_sigma2", v_sigma2) * torch.eye(p, dtype=torch.float64))
    shared = 4 * w_moments.sigma2 * mm * mm  # 4 σ² m²
    if kind == "regression":
        same_c = (x[:, None, 2] == x2[None, :, 2]).to(torch.float64)
        out = h * quartic * same_c + shared * VVt[x[:, 2]][:, x2[:, 2]]
    elif kind == "first_logit":
        out = h * quartic + shared * VVt[0, 0]
    else:
        out = (h * quartic)[:, :, None, None] * torch.eye(p, dtype=torch.float64) \
            + shared[:, :, None, None] * VVt
    return out * output_scale**2
