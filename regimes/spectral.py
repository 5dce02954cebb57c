"""The spectral lower-bound machinery of Appendix D (proofs/appendix_d_spectral_lower_bound.md).

Notation. The domain is ``[p]^m`` (``m`` coordinates, each in ``0..p-1``),
ordered lexicographically as in :meth:`regimes.tasks.Task.population`, so
``N = p**m`` points. For ``σ = (σ_1, …, σ_m) ∈ S_p^m`` the target class is

    Ψ_σ(x) = 1( σ_1(x_1) + … + σ_m(x_m) ≡ 0 mod p ),

and ``Σ(x, x') = E_σ Ψ_σ(x) Ψ_σ(x')`` under uniform σ. For the paper's
regression task ``Ψ(a, b, c) = 1(a + b ≡ c)`` is ``Ψ_σ`` with ``σ_3 = −id``;
since ``−σ_3`` is uniform whenever ``σ_3`` is, Σ is the same.

What is here
------------
* :func:`c_d` — Lemma D.10: Σ(x, x') depends only on the number ``d`` of
  differing coordinates, ``C_d = (1 − (1 − p)^{1−d}) / p²``.
* :func:`sigma_matrix` (Σ from C_d), :func:`sigma_monte_carlo` (average over
  random σ), :func:`sigma_enumerated` (average over *all* of S_p^m, tiny p).
* :func:`psi_orbit_representatives` (every target Ψ_σ, one σ per symmetry orbit,
  so that a uniform average over them *is* the average over all of S_p^m, for
  p up to 8 at m = 2 and 5 at m = 3) and :func:`psi_draws` (Ψ_σ for uniform
  random σ). Check C5 measures the best-fit loss on these, independently of Σ.
* :func:`sigma_eigenvalues_by_degree` — Σ is a function of Hamming distance,
  so it is diagonal in the degree decomposition of functions on ``[p]^m``; the
  eigenvalue on degree ``k`` is a Krawtchouk sum of the ``C_d``. The closed form
  (Lemma D.9 attained with equality; our derivation, proved in
  proofs/appendix_d_spectral_lower_bound.md) is ``p^{m−2}`` on the constants, ``(1/p)(p/(p−1))^{m−1}``
  on the top degree ``m`` (multiplicity ``(p−1)^m``) and 0 in between.
* :func:`slice_projector` (onto V_s, functions of one coordinate),
  :func:`top_degree_projector` (onto functions with vanishing line sums),
  :func:`apply_top_degree` (the same projector applied without forming it).
* :func:`top_eigensum`, :func:`lemma_d4_lower_bound`, :func:`lemma_d6_rhs`,
  :func:`lemma_d9_quadratic_form`, :func:`lemma_d11_pair_sum`.
* :func:`span_basis` and the exact averaged best-fit losses
  :func:`best_fit_loss` (scalar kernel, Lemma D.4 / Cor D.8, check C5),
  :func:`best_fit_loss_matrix_valued` (matrix kernel, Thm D.2) and
  :func:`best_fit_loss_shared` (the first-logit-shared kernel Θ̂ ⊗ I_p).

``best_fit_loss`` returns ``E_σ min_α ‖Σ_t α_t K(x_t, ·) − Ψ_σ‖²``
(unnormalised sum over the ``p^m`` points) **exactly**, as ``Tr((I − P)Σ)``
with ``P`` the orthogonal projector onto the span of the kernel sections; it
never forms Σ (it uses the two-eigenspace structure above, which check C4
verifies against the dense Σ built from ``C_d``).
"""

from __future__ import annotations

import itertools
import math

import torch

from regimes._validate import check_int, check_seed
from regimes.tasks import MAX_POINTS, all_points

__all__ = [
    "apply_top_degree",
    "best_fit_loss",
    "best_fit_loss_matrix_valued",
    "best_fit_loss_shared",
    "c_d",
    "hamming_distance",
    "krawtchouk",
    "lemma_d4_lower_bound",
    "lemma_d6_rhs",
    "lemma_d9_quadratic_form",
    "lemma_d11_pair_sum",
    "psi_draws",
    "psi_orbit_representatives",
    "psi_sigma",
    "sigma_eigenvalues_by_degree",
    "sigma_enumerated",
    "sigma_matrix",
    "sigma_monte_carlo",
    "sigma_spectrum",
    "slice_projector",
    "span_basis",
    "top_degree_projector",
    "top_eigensum",
]

F64 = torch.float64


def _pm(p: int, m: int) -> tuple[int, int]:
    p = check_int("p", p, low=2)
    m = check_int("m", m, low=1)
    if p**m > MAX_POINTS:
        raise ValueError(f"p**m = {p**m} points (p={p}, m={m}) is too many: need p**m <= {MAX_POINTS}")
    return p, m


def hamming_distance(x: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
    """Number of coordinates in which rows of ``x`` and ``x2`` differ, (n, n2) int64."""
    x2 = x if x2 is None else x2
    if x.ndim != 2 or x2.ndim != 2 or x.shape[1] != x2.shape[1]:
        raise ValueError(f"x and x2 must be (n, m) and (n2, m), got {tuple(x.shape)} and {tuple(x2.shape)}")
    d = torch.zeros(x.shape[0], x2.shape[0], dtype=torch.int64)
    for i in range(x.shape[1]):
        d += (x[:, None, i] != x2[None, :, i]).long()
    return d


# --------------------------------------------------------------------------- Σ
def c_d(p: int, m: int) -> torch.Tensor:
    """Lemma D.10: ``C_d = E_σ Ψ_σ(x)Ψ_σ(x')`` for x, x' differing in ``d`` coordinates,
    ``C_d = (1 − (1 − p)^{1−d}) / p²`` for d = 0..m (float64, shape (m+1,)).

    ``C_0 = 1/p`` (Ψ is an indicator with mean 1/p) and ``C_1 = 0`` (changing
    one coordinate always breaks the congruence). The proof's recursion is
    ``p C_d = (1 − p C_{d−1}) / (p − 1)``.
    """
    p, m = _pm(p, m)
    d = torch.arange(m + 1, dtype=F64)
    return (1.0 - (1.0 - p) ** (1.0 - d)) / p**2


def sigma_matrix(p: int, m: int, x: torch.Tensor | None = None,
                 x2: torch.Tensor | None = None) -> torch.Tensor:
    """Σ(x, x') = C_{d(x, x')} (Lemma D.10), float64. Defaults to the full
    population on both sides, a dense ``(p**m, p**m)`` matrix."""
    p, m = _pm(p, m)
    x = all_points(p, m) if x is None else x
    return c_d(p, m)[hamming_distance(x, x2)]


def psi_sigma(p: int, sigma: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Ψ_σ on the whole population of ``[p]^m`` (m = len(sigma)), float64 (p**m,)."""
    m = len(sigma)
    pts = all_points(p, m)
    s = torch.zeros(pts.shape[0], dtype=torch.int64)
    for i, perm in enumerate(sigma):
        s += perm[pts[:, i]]
    return (s % p == 0).to(F64)


def sigma_monte_carlo(p: int, m: int, draws: int, seed: int = 0) -> torch.Tensor:
    """Monte-Carlo estimate of Σ: the average of Ψ_σΨ_σᵀ over ``draws`` uniform σ ∈ S_p^m."""
    p, m = _pm(p, m)
    draws = check_int("draws", draws, low=1)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    pts = all_points(p, m)
    acc = torch.zeros(p**m, p**m, dtype=F64)
    batch = max(1, min(draws, 2_000_000 // max(1, p**m)))
    done = 0
    while done < draws:
        b = min(batch, draws - done)
        s = torch.zeros(b, pts.shape[0], dtype=torch.int64)
        for i in range(m):
            perms = torch.argsort(torch.rand(b, p, generator=gen), dim=1)  # b uniform permutations
            s += perms[:, pts[:, i]]
        psi = (s % p == 0).to(F64)
        acc += psi.t() @ psi
        done += b
    return acc / draws


def sigma_enumerated(p: int, m: int) -> torch.Tensor:
    """Σ averaged over **all** (p!)^m elements of S_p^m (exact; only for tiny p, m)."""
    p, m = _pm(p, m)
    if math.factorial(p) ** m > 500_000:
        raise ValueError(f"(p!)^m = {math.factorial(p) ** m} permutations is too many to enumerate")
    perms = [torch.tensor(q) for q in itertools.permutations(range(p))]
    acc = torch.zeros(p**m, p**m, dtype=F64)
    count = 0
    for sig in itertools.product(perms, repeat=m):
        v = psi_sigma(p, sig)
        acc += torch.outer(v, v)
        count += 1
    return acc / count


def _psi_rows(p: int, perms: list[torch.Tensor]) -> torch.Tensor:
    """Ψ_σ on the population for a batch: ``perms[i]`` is (b, p), the i-th permutation of
    each of the b tuples σ; returns (b, p**m) float64."""
    pts = all_points(p, len(perms))
    s = torch.zeros(perms[0].shape[0], pts.shape[0], dtype=torch.int64)
    for i, perm in enumerate(perms):
        s += perm[:, pts[:, i]]
    return (s % p == 0).to(F64)


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % d for d in range(2, math.isqrt(p) + 1))


def psi_orbit_representatives(p: int, m: int) -> torch.Tensor:
    """Ψ_σ for one σ per orbit of symmetries of the target, as rows (M, p**m) float64;
    the plain average over the rows equals the average over all (p!)^m tuples σ ∈ S_p^m.

    Why. ``Ψ_σ(x) = 1(Σ_i σ_i(x_i) ≡ 0)`` does not change under ``σ_i ↦ uσ_i + t_i``
    (u a unit mod p, Σ_i t_i ≡ 0). That group acts freely on S_p^m, so every orbit has the
    same size, and averaging over one tuple per orbit is averaging over S_p^m. For prime p
    each orbit holds exactly one tuple with σ_1(0) = 0, σ_1(1) = 1 and σ_i(0) = 0 for
    1 < i < m (σ_m free): ``u = (σ_1(1) − σ_1(0))^{-1}``, ``t_i = −uσ_i(0)``; these are the
    ``(p−2)!((p−1)!)^{m−2} p!`` rows for m ≥ 3. For composite p only the shifts are used
    (σ_i(0) = 0 for i < m; ``((p−1)!)^{m−1} p!`` rows), since σ_1(1) − σ_1(0) need not be a
    unit. For m = 2 the target is the graph of the permutation ``σ_2^{-1}(−σ_1(·))``,
    uniform over S_p for every fixed σ_1; so σ_1 = id and the p! rows are the permutation
    matrices. Needs m ≥ 2 and at most 10⁵ rows (p ≤ 8 for m = 2, p ≤ 5 for m = 3). The test
    suite compares the rows with the full list of (p!)^m targets.
    """
    p, m = _pm(p, m)
    if m < 2:
        raise ValueError(f"m={m} is out of range: need m >= 2")
    prime = _is_prime(p)
    if m == 2:
        count = math.factorial(p)
    elif prime:
        count = math.factorial(p - 2) * math.factorial(p - 1) ** (m - 2) * math.factorial(p)
    else:
        count = math.factorial(p - 1) ** (m - 1) * math.factorial(p)
    if count > 100_000:
        raise ValueError(f"{count} orbit representatives is too many to enumerate (p={p}, m={m})")
    every = torch.tensor(list(itertools.permutations(range(p))), dtype=torch.int64)   # (p!, p)
    fixed0 = every[every[:, 0] == 0]
    if m == 2:
        first = [torch.arange(p)[None]]
    elif prime:
        first = [fixed0[fixed0[:, 1] == 1]] + [fixed0] * (m - 2)
    else:
        first = [fixed0] * (m - 1)
    choices = [*first, every]
    # all combinations (one row of each factor), as index grids
    grids = torch.cartesian_prod(*[torch.arange(c.shape[0]) for c in choices]).reshape(-1, m)
    return _psi_rows(p, [c[grids[:, i]] for i, c in enumerate(choices)])


def psi_draws(p: int, m: int, draws: int, seed: int = 0) -> torch.Tensor:
    """Ψ_σ for ``draws`` independent uniform σ ∈ S_p^m, as rows (draws, p**m) float64."""
    p, m = _pm(p, m)
    draws = check_int("draws", draws, low=1)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    perms = [torch.argsort(torch.rand(draws, p, generator=gen), dim=1) for _ in range(m)]
    return _psi_rows(p, perms)


# --------------------------------------------------------------------------- spectrum
def krawtchouk(p: int, m: int, k: int, d: int) -> int:
    """Krawtchouk number K_d(k) = Σ_j (−1)^j (p−1)^{d−j} C(k, j) C(m−k, d−j).

    On ``[p]^m`` the matrix ``1(d(x, x') = d)`` acts on the degree-``k``
    component as multiplication by ``K_d(k)``.
    """
    return sum((-1) ** j * (p - 1) ** (d - j) * math.comb(k, j) * math.comb(m - k, d - j)
               for j in range(0, min(k, d) + 1))


def sigma_eigenvalues_by_degree(p: int, m: int) -> torch.Tensor:
    """Eigenvalue of Σ on each degree component k = 0..m, computed as
    ``Σ_d C_d K_d(k)`` (Krawtchouk), float64 (m+1,). Degree ``k`` has multiplicity
    ``C(m, k)(p−1)^k``. Independent of the closed form in :func:`sigma_spectrum`."""
    p, m = _pm(p, m)
    c = c_d(p, m).tolist()
    return torch.tensor([sum(c[d] * krawtchouk(p, m, k, d) for d in range(m + 1))
                         for k in range(m + 1)], dtype=F64)


def sigma_spectrum(p: int, m: int) -> list[tuple[float, int]]:
    """The exact spectrum of Σ as ``(eigenvalue, multiplicity)`` pairs (our derivation, see
    proofs/appendix_d_spectral_lower_bound.md):
    ``p^{m−2}`` once (constants), ``(1/p)(p/(p−1))^{m−1}`` with multiplicity
    ``(p−1)^m`` (top degree), and 0 with multiplicity ``p^m − 1 − (p−1)^m``.

    Trace check: ``p^{m−2} + (p−1)^m (1/p)(p/(p−1))^{m−1} = p^{m−1} = Tr Σ``.
    """
    p, m = _pm(p, m)
    top = (1.0 / p) * (p / (p - 1)) ** (m - 1)
    out = [(float(p) ** (m - 2), 1), (top, (p - 1) ** m)]
    zeros = p**m - 1 - (p - 1) ** m
    if zeros:
        out.append((0.0, zeros))
    return out


def top_eigensum(S: torch.Tensor, n: int) -> float:
    """Σ_{i ≤ n} λ_i(S) for a symmetric matrix (Ky Fan sum of the n largest)."""
    n = check_int("n", n, low=0)
    ev = torch.linalg.eigvalsh(S.to(F64)).flip(0)
    return float(ev[:n].sum())


def lemma_d4_lower_bound(S: torch.Tensor, n: int) -> float:
    """Lemma D.4's right-hand side, unnormalised: ``Σ_{i > n} λ_i(Σ) = Tr Σ − Σ_{i ≤ n} λ_i``.

    Dividing by |X| gives the lemma's normalisation. For any n functions
    ``k_1..k_n`` the expected squared distance of Ψ to their span is at least this.
    """
    return float(torch.trace(S.to(F64))) - top_eigensum(S, n)


def lemma_d6_rhs(S: torch.Tensor, n: int, P: torch.Tensor) -> float:
    """Lemma D.6: ``n λ_1((I − P)Σ(I − P)) + Tr(PΣP)``, an upper bound on
    ``Σ_{i ≤ n} λ_i(Σ)`` for any orthogonal projector ``P``."""
    n = check_int("n", n, low=0)
    S = S.to(F64)
    R = torch.eye(S.shape[0], dtype=F64) - P
    lam1 = float(torch.linalg.eigvalsh(R @ S @ R)[-1])
    return n * lam1 + float(torch.trace(P @ S @ P))


def lemma_d9_quadratic_form(p: int, m: int, v: torch.Tensor) -> float:
    """``E_σ ⟨Ψ_σ, v⟩² = vᵀΣv`` for a vector ``v`` on ``[p]^m`` (Lemma D.9 bounds it by
    ``(1/p)(p/(p−1))^{m−1}‖v‖²`` when v ⊥ V_s). Uses the dense Σ from C_d."""
    v = v.to(F64).reshape(-1)
    return float(v @ sigma_matrix(p, m) @ v)


def lemma_d11_pair_sum(p: int, m: int, v: torch.Tensor, d: int) -> float:
    """Σ over ordered pairs (x, x') differing in exactly ``d`` coordinates of v(x)v(x').

    Lemma D.11 states ``(−1)^d C(m, d)`` for unit v ⊥ V_s; the proof needs all
    line sums of v to vanish (v in the top-degree component). For v ⊥ V_s of
    intermediate degree the identity fails (an erratum, see ``proofs/ERRATA.md`` and
    proofs/appendix_d_spectral_lower_bound.md): see the tests.
    """
    d = check_int("d", d, low=0, high=m)
    v = v.to(F64).reshape(-1)
    D = hamming_distance(all_points(p, m))
    return float(v @ ((D == d).to(F64) @ v))


# --------------------------------------------------------------------------- subspaces
def slice_projector(p: int, m: int) -> torch.Tensor:
    """Orthogonal projector onto V_s = span{s_{i,a}(x) = 1(x_i = a)} (functions of a
    single coordinate; dimension ``1 + m(p − 1)``), dense (p**m, p**m)."""
    p, m = _pm(p, m)
    pts = all_points(p, m)
    cols = torch.cat([torch.nn.functional.one_hot(pts[:, i], p).to(F64) for i in range(m)], dim=1)
    Q = span_basis(cols)
    return Q @ Q.t()


def apply_top_degree(A: torch.Tensor, p: int, m: int) -> torch.Tensor:
    """``(I − J/p)^{⊗m} A`` for ``A`` of shape (p**m, r): centre every one of the m
    axes. This is the projector onto the top-degree component (vanishing line
    sums), applied in O(m p^m r) without forming it."""
    p, m = _pm(p, m)
    r = A.shape[1]
    T = A.to(F64).reshape(*([p] * m), r)
    for axis in range(m):
        T = T - T.mean(dim=axis, keepdim=True)
    return T.reshape(p**m, r)


def top_degree_projector(p: int, m: int) -> torch.Tensor:
    """Dense projector ``(I − J/p)^{⊗m}`` onto the top-degree component (dim (p−1)^m)."""
    p, m = _pm(p, m)
    return apply_top_degree(torch.eye(p**m, dtype=F64), p, m)


def span_basis(A: torch.Tensor, rtol: float | None = None) -> torch.Tensor:
    """An orthonormal basis (columns) of the column space of ``A`` via a thin SVD.

    Singular values below ``rtol · s_max`` (default ``max(shape) · eps``) count as
    zero. Any threshold gives a subspace of dimension ≤ the number of columns,
    so lower bounds that depend only on that dimension hold either way.
    """
    A = A.to(F64)
    if A.ndim != 2:
        raise ValueError(f"A must be a matrix, got shape {tuple(A.shape)}")
    if not torch.isfinite(A).all():
        raise ValueError("A contains NaN or inf")
    if A.shape[1] == 0:
        return A.new_zeros(A.shape[0], 0)
    U, S, _ = torch.linalg.svd(A, full_matrices=False)
    if rtol is None:
        rtol = max(A.shape) * torch.finfo(F64).eps
    smax = float(S[0]) if S.numel() else 0.0
    if smax == 0.0:
        return A.new_zeros(A.shape[0], 0)
    return U[:, S > rtol * smax]


def _trace_sigma_on_basis(Q: torch.Tensor, p: int, m: int) -> float:
    """Tr(QᵀΣQ) via Σ = p^{m−2}·(11ᵀ/p^m) + λ_top·(I − J/p)^{⊗m}."""
    lam0, lam_top = float(p) ** (m - 2), (1.0 / p) * (p / (p - 1)) ** (m - 1)
    ones_part = float((Q.sum(dim=0) ** 2).sum()) / p**m
    top_part = float((apply_top_degree(Q, p, m) ** 2).sum())
    return lam0 * ones_part + lam_top * top_part


def best_fit_loss(K_cols: torch.Tensor, p: int, m: int, *, extra: torch.Tensor | None = None,
                  rtol: float | None = None) -> float:
    """Exact ``E_σ min_α ‖Σ_t α_t k_t − Ψ_σ‖² = Tr((I − P)Σ)`` (Lemma D.4 with equality,
    check C5), unnormalised (sum over the p^m points; the zero predictor scores
    ``Tr Σ = p^{m−1}``).

    ``K_cols`` is (p**m, n): column t is the kernel section ``K(x_t, ·)`` on the
    population (i.e. ``K_pop[:, train_idx]``) — any kernel, any points.
    ``extra`` (p**m, e) adds further functions to the span (e.g. the eNTK prior
    mean f₀ of App. B.1, which Definition 2.3 leaves out). ``P`` is the projector onto the
    column span.
    """
    p, m = _pm(p, m)
    A = K_cols if extra is None else torch.cat([K_cols.to(F64), extra.to(F64).reshape(p**m, -1)], 1)
    if A.shape[0] != p**m:
        raise ValueError(f"K_cols has {A.shape[0]} rows: expected p**m = {p**m}")
    Q = span_basis(A, rtol)
    return float(p) ** (m - 1) - _trace_sigma_on_basis(Q, p, m)


def best_fit_loss_matrix_valued(K: torch.Tensor, p: int, *, extra: torch.Tensor | None = None,
                                rtol: float | None = None) -> float:
    """Thm D.2, exact: ``E_σ min_{λ_t ∈ R^p} Σ_x ‖Σ_t K(x_t, x)λ_t − Ψ^{σ3}_{σ1σ2}(x)‖²``.

    ``K`` is the matrix-valued kernel between the population pairs and the
    training pairs, shape (p², n, p, p) with ``K[x, t, k, l] = K(x, x_t)_{kl}``.
    Flattening ``(x, k)`` to a triple makes each training pair contribute p
    columns of a scalar kernel on ``[p]^3``, so this is :func:`best_fit_loss`
    with m = 3 and n·p columns (the proof of Thm D.2). ``extra`` (p², p) or
    (p², p, e) adds vector-valued functions (e.g. the prior mean f₀).
    """
    p = check_int("p", p, low=2)
    if K.ndim != 4 or K.shape[0] != p * p or K.shape[2:] != (p, p):
        raise ValueError(f"K has shape {tuple(K.shape)}: expected (p², n, p, p) with p = {p}")
    n = K.shape[1]
    A = K.to(F64).permute(0, 2, 1, 3).reshape(p**3, n * p)
    ex = None if extra is None else extra.to(F64).reshape(p**3, -1)
    return best_fit_loss(A, p, 3, extra=ex, rtol=rtol)


def best_fit_loss_shared(Theta: torch.Tensor, p: int, *, extra: torch.Tensor | None = None,
                         rtol: float | None = None) -> float:
    """Thm D.2's quantity for the shared kernel ``K(x, x') = Θ̂(x, x') I_p``
    (``Theta`` is (p², n): Θ̂ between the population pairs and the training pairs).

    The span is ``span(Θ̂ sections) ⊗ R^p``, so with P the projector onto the
    Θ̂ sections, ``Tr((P ⊗ I)Σ₃) = p · Tr(P M)`` where ``M(x, x') = C_{d(x,x')}``
    (m = 3 constants on pairs: the class coordinate agrees). ``extra`` (p², p)
    adds one vector-valued function (e.g. f₀) to the span; then the general
    :func:`best_fit_loss` on triples is used.
    """
    p = check_int("p", p, low=2)
    if Theta.ndim != 2 or Theta.shape[0] != p * p:
        raise ValueError(f"Theta has shape {tuple(Theta.shape)}: expected (p², n) with p = {p}")
    if extra is not None:
        n = Theta.shape[1]
        eye = torch.eye(p, dtype=F64)
        A = (Theta.to(F64)[:, None, :, None] * eye[None, :, None, :]).reshape(p**3, n * p)
        return best_fit_loss(A, p, 3, extra=extra.to(F64).reshape(p**3, -1), rtol=rtol)
    Q = span_basis(Theta, rtol)
    # M = C3_{d(x,x')} on pairs equals the m=3 Σ restricted to equal class coordinates.
    lam0, lam_top = float(p), (1.0 / p) * (p / (p - 1)) ** 2
    # Σ₃ = lam0·J/p³ + lam_top·(I−J/p)^{⊗3}; restricted to k = k' and summed over k:
    # Σ_k Σ₃((x,k),(x',k)) = lam0/p² + lam_top·(p−1)·[(I − J/p)^{⊗2}](x, x').
    ones_part = float((Q.sum(dim=0) ** 2).sum()) / p**2
    top_part = float((apply_top_degree(Q, p, 2) ** 2).sum())
    tr_PS = lam0 * ones_part + lam_top * (p - 1) * top_part
    return float(p) ** 2 - tr_PS
