"""How far a kernel has moved, and how well it matches the target.

Every function takes Gram matrices ``K`` of shape (n, n) (or any equal shapes
for the distances) and works in float64.

* :func:`kernel_change` — ‖K_t − K_0‖_F, the quantity the paper plots (Fig 1 left,
  Fig 2 right, Fig 5).
* :func:`relative_kernel_change` — ‖K_t − K_0‖_F / ‖K_0‖_F (reported by check C17).
* :func:`kernel_distance` — Fort et al. (2020)'s S(t, t') = 1 − ⟨K_t, K_t'⟩_F /
  (‖K_t‖_F ‖K_t'‖_F): the cosine distance between two Gram matrices, blind to
  their overall scale. With ``center=True`` both kernels are centred first
  (H K H, H = I − 11ᵀ/n), which removes the large constant component the
  quadratic net's eNTK carries (all its first-term entries are positive), so
  the distance is 1 − CKA(K_t, K_t').
* :func:`kernel_target_alignment` — Kumar et al. (2024)'s alignment
  yᵀ K y / (‖K‖_F ‖y‖²) (for a matrix of targets Y: ⟨K, YYᵀ⟩_F / (‖K‖_F ‖YYᵀ‖_F)).
* :func:`cka` — centred kernel alignment between two kernels (Cortes et al. 2012).
"""

from __future__ import annotations

import torch

__all__ = [
    "center_gram",
    "center_targets",
    "cka",
    "cosine_distance",
    "frobenius",
    "kernel_change",
    "kernel_distance",
    "kernel_target_alignment",
    "relative_kernel_change",
]

F64 = torch.float64


def _gram(name: str, K: object, *, square: bool = True) -> torch.Tensor:
    if not isinstance(K, torch.Tensor) or K.ndim != 2:
        shape = tuple(K.shape) if isinstance(K, torch.Tensor) else type(K).__name__
        raise ValueError(f"{name} must be a 2-D tensor (a Gram matrix), got {shape}")
    if square and K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} has shape {tuple(K.shape)}: expected a square (n, n) Gram matrix")
    if K.numel() == 0:
        raise ValueError(f"{name} is empty")
    K = K.to(F64)
    if not torch.isfinite(K).all():
        raise ValueError(f"{name} contains NaN or inf entries")
    return K


def _pair(K1: object, K2: object, names: tuple[str, str], square: bool = False
          ) -> tuple[torch.Tensor, torch.Tensor]:
    A, B = _gram(names[0], K1, square=square), _gram(names[1], K2, square=square)
    if A.shape != B.shape:
        raise ValueError(f"{names[0]} has shape {tuple(A.shape)} but {names[1]} has shape "
                         f"{tuple(B.shape)}: kernels must be evaluated on the same points")
    return A, B


def center_gram(K: torch.Tensor) -> torch.Tensor:
    """H K H with H = I − 11ᵀ/n: the Gram matrix of the mean-removed features.

    A kernel that is constant up to round-off (all features equal) centres to exactly 0, not to
    the few-ulp residues the means leave (for a constant c·11ᵀ the computed mean differs from c
    by up to ~n·eps·|c|, so HKH ≠ 0 in about two thirds of random (c, n)): a centred Gram whose
    norm is within that bound, ‖HKH‖_F ≤ 4·n·eps·‖K‖_F (eps of the dtype ``K`` was given in), is
    round-off and has no direction, and
    every alignment or distance of it is then undefined instead of a number read off round-off.

    >>> K = torch.full((7, 7), 0.7, dtype=torch.float64)
    >>> bool((center_gram(K) == 0).all())
    True
    """
    given = K.dtype if isinstance(K, torch.Tensor) and K.dtype.is_floating_point else F64
    K = _gram("K", K)
    C = K - K.mean(dim=0, keepdim=True) - K.mean(dim=1, keepdim=True) + K.mean()
    # the round-off of the precision the Gram was given in (a float32 Gram's entries carry float32's)
    tol = 4 * K.shape[0] * torch.finfo(given).eps * float(torch.linalg.matrix_norm(K))
    return torch.zeros_like(C) if float(torch.linalg.matrix_norm(C)) <= tol else C


def center_targets(Y: torch.Tensor, given: torch.dtype = F64) -> torch.Tensor:
    """Y − Ȳ (column means removed) of float64 targets ``Y`` (n, k), exactly 0 when it is
    round-off: ‖Y − Ȳ‖_F ≤ 4·n·eps·‖Y‖_F, eps of ``given`` (the dtype the targets came in; a
    non-floating dtype counts as float64). Constant targets c leave residues of up to ~n·eps·|c|
    per entry when c·n is not exact (0.1 repeated 7 times), which a cosine would read as a
    direction. No validation: the callers validate, and :class:`~regimes.metrics.KernelTracker`
    calls it once per run.

    >>> Y = torch.full((7, 1), 0.1, dtype=torch.float64)
    >>> bool((center_targets(Y) == 0).all())
    True
    """
    C = Y - Y.mean(dim=0, keepdim=True)
    eps = torch.finfo(given if given.is_floating_point else F64).eps
    tol = 4 * Y.shape[0] * eps * float(torch.linalg.vector_norm(Y))
    return torch.zeros_like(C) if float(torch.linalg.vector_norm(C)) <= tol else C


def kernel_change(K_t: torch.Tensor, K_0: torch.Tensor) -> float:
    """‖K_t − K_0‖_F, the raw eNTK movement plotted in Figs 1 (left), 2 (right) and 5."""
    A, B = _pair(K_t, K_0, ("K_t", "K_0"))
    return float(torch.linalg.matrix_norm(A - B))


def relative_kernel_change(K_t: torch.Tensor, K_0: torch.Tensor) -> float:
    """‖K_t − K_0‖_F / ‖K_0‖_F (reported by check C17). ``ValueError`` if K_0 = 0."""
    A, B = _pair(K_t, K_0, ("K_t", "K_0"))
    n0 = float(torch.linalg.matrix_norm(B))
    if n0 == 0:
        raise ValueError("K_0 is the zero matrix: the relative change is undefined")
    return float(torch.linalg.matrix_norm(A - B)) / n0


def kernel_distance(K_t: torch.Tensor, K_s: torch.Tensor, *, center: bool = False) -> float:
    """Fort et al.'s kernel distance S(t, s) = 1 − ⟨K_t, K_s⟩_F / (‖K_t‖_F ‖K_s‖_F).

    S(t, t) = 0, S is unchanged when either kernel is multiplied by a positive
    number, and for two p.s.d. kernels 0 ≤ S ≤ 1 (⟨A, B⟩_F ≥ 0 for p.s.d. A, B).
    ``center=True`` centres both kernels first (so S = 1 − CKA); it needs square
    Gram matrices. A zero kernel has no direction: ``ValueError``.
    """
    A, B = _pair(K_t, K_s, ("K_t", "K_s"), square=center)
    if center:
        A, B = center_gram(A), center_gram(B)
    return cosine_distance(A, B, what="kernel_distance of a zero (or, centred, constant) kernel")


def frobenius(A: torch.Tensor) -> float:
    """‖A‖_F as a Python float (no validation: the tracker's hot path)."""
    return float(torch.linalg.vector_norm(A.reshape(-1)))


def cosine_distance(A: torch.Tensor, B: torch.Tensor, norm_a: float | None = None,
                    norm_b: float | None = None, *, on_zero: str = "raise",
                    what: str = "cosine_distance with a zero matrix") -> float:
    """``1 − ⟨A, B⟩_F / (‖A‖_F ‖B‖_F)``, the cosine clamped to [−1, 1]: the one computation
    behind :func:`kernel_distance` (Fort et al.'s S) and :class:`regimes.metrics.KernelTracker`'s
    distances and alignments.

    ``A``, ``B``: tensors of one shape (not validated beyond that: the tracker calls this
    every tracked step on kernels it built itself; :func:`kernel_distance` validates its
    inputs). ``norm_a``, ``norm_b``: their Frobenius norms if already known (else computed).
    When either norm is 0 the cosine is undefined: ``on_zero="raise"`` raises
    ``ValueError`` (the message starts with ``what``), ``on_zero="nan"`` returns NaN.
    """
    if on_zero not in ("raise", "nan"):
        raise ValueError(f"on_zero={on_zero!r} is not allowed: use 'raise' or 'nan'")
    if A.shape != B.shape:
        raise ValueError(f"A has shape {tuple(A.shape)} but B has shape {tuple(B.shape)}: need equal shapes")
    na = frobenius(A) if norm_a is None else float(norm_a)
    nb = frobenius(B) if norm_b is None else float(norm_b)
    if na == 0 or nb == 0:
        if on_zero == "nan":
            return float("nan")
        raise ValueError(f"{what} is undefined (‖A‖_F = {na!r}, ‖B‖_F = {nb!r})")
    cos = float(torch.dot(A.reshape(-1), B.reshape(-1))) / (na * nb)
    return 1.0 - max(-1.0, min(1.0, cos))


def cka(K1: torch.Tensor, K2: torch.Tensor) -> float:
    """Centred kernel alignment ⟨HK1H, HK2H⟩_F / (‖HK1H‖_F ‖HK2H‖_F) ∈ [0, 1] for p.s.d.
    kernels (Cortes, Mohri, Rostamizadeh 2012); 1 − cka is the centred kernel distance."""
    return 1.0 - kernel_distance(K1, K2, center=True)


def kernel_target_alignment(K: torch.Tensor, y: torch.Tensor, *, center: bool = False) -> float:
    """Kernel–target alignment (Kumar et al. 2024, their "CKA"): yᵀKy / (‖K‖_F ‖y‖²).

    ``y`` is (n,) (regression targets) or (n, k) (e.g. one-hot class targets, then
    the target kernel is YYᵀ and the formula is ⟨K, YYᵀ⟩_F / (‖K‖_F ‖YYᵀ‖_F), which
    reduces to the first for k = 1). For a p.s.d. K the value lies in [0, 1] (Cauchy–
    Schwarz; ⟨K, YYᵀ⟩ = Σ_j y_jᵀ K y_j ≥ 0). ``center=True`` centres K and y first.

    A zero kernel or zero targets have no direction: ``ValueError``. Centred targets whose
    norm is round-off of the targets, ‖Y − Ȳ‖_F ≤ 4·n·eps·‖Y‖_F (eps of the dtype ``y`` was
    given in; e.g. constant targets 0.1, whose computed mean differs from 0.1 by an ulp), are
    exactly 0 like :func:`center_gram`'s constant kernel, so the centred alignment is refused
    instead of read off the residue.
    """
    K = _gram("K", K)
    if not isinstance(y, torch.Tensor) or y.ndim not in (1, 2) or y.shape[0] != K.shape[0]:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y has shape {shape}: expected ({K.shape[0]},) or ({K.shape[0]}, k)")
    Y = y.to(F64).reshape(K.shape[0], -1)
    if center:
        K = center_gram(K)
        Y = center_targets(Y, y.dtype)
    T = Y @ Y.t()
    nk, nt = float(torch.linalg.matrix_norm(K)), float(torch.linalg.matrix_norm(T))
    if nk == 0 or nt == 0:
        raise ValueError("alignment with a zero (or, centred, constant) kernel or zero (or, centred, constant) "
                         f"targets is undefined (‖K‖_F = {nk!r}, ‖YYᵀ‖_F = {nt!r})")
    return float((K * T).sum()) / (nk * nt)
