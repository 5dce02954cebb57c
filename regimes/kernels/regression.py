"""Kernel predictors in float64: ridgeless (minimum-norm) and ridge regression,
with an optional prior mean f₀ (App. B.1), scalar- and matrix-valued (Def 4.1),
and a nested-prefix solver that reuses one factorisation across training sizes.

Every solve goes through a symmetric eigendecomposition (or a Cholesky factor
where the Gram is numerically positive definite); a singular Gram is never
inverted explicitly. The ridgeless solution is ``K⁺(y − f₀)`` with eigenvalues
below ``rcond · λ_max`` treated as zero (``rcond`` defaults to ``n · eps``, the
numpy/scipy ``pinvh`` convention).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from regimes._validate import check_int, check_positive

F64 = torch.float64
#: Factor c of the round-off tolerance ``c · n · eps(dtype)`` (relative to the Gram's scale) for
#: asymmetry and negative eigenvalues of an (n, n) Gram given in ``dtype`` (see :func:`gram_tol`).
PSD_C = 16.0

__all__ = [
    "KernelRegressor",
    "NestedKernelRegression",
    "check_gram",
    "gram_tol",
    "kernel_regression",
    "matrix_kernel_regression",
]


def _eps(dtype: torch.dtype) -> float:
    """Unit round-off of the precision a Gram was given in (integer Grams are exact: float64's)."""
    return float(torch.finfo(dtype).eps) if dtype.is_floating_point else float(torch.finfo(F64).eps)


def gram_tol(n: int, dtype: torch.dtype) -> float:
    """Relative round-off tolerance ``PSD_C · n · eps(dtype)`` of an (n, n) Gram stored in ``dtype``.

    A PSD Gram computed in ``dtype`` has eigenvalues perturbed by about ``n · eps · ‖K‖``
    (each of the n² entries carries a relative error ~eps), so its smallest eigenvalue can
    read as ``−n · eps · λ_max``: ≈ −1e-5 · λ_max for a float32 Gram on a few hundred points,
    where a fixed float64-sized tolerance would refuse a valid kernel.
    """
    return PSD_C * max(int(n), 1) * _eps(dtype)


def _psd_error(name: str, lo: float, hi: float, n: int, dtype: torch.dtype, tol: float) -> ValueError:
    return ValueError(f"{name} is not positive semi-definite: smallest eigenvalue {lo:.3g} is below "
                      f"−{tol:.3g} · λ_max = {-tol * max(abs(hi), 0.0):.3g} (λ_max {hi:.3g}), the round-off "
                      f"allowance c·n·eps = {PSD_C:g}·{n}·{_eps(dtype):.3g} of an (n, n) Gram given in {dtype}; "
                      f"a kernel's Gram must be PSD")


def check_gram(name: str, K: object, *, psd: bool = True, tol: float | None = None) -> torch.Tensor:
    """Validate a Gram matrix and return it as float64.

    Raises ``ValueError`` unless ``K`` is a finite square matrix that is symmetric
    to ``tol`` (relative to its largest entry) and, with ``psd=True``, has no
    eigenvalue below ``−tol · λ_max`` (a non-PSD "kernel" is not a kernel).
    ``tol=None`` (default) is the round-off allowance of ``K``'s own precision and
    size, :func:`gram_tol` ``(n, K.dtype)``: a float32 Gram gets a float32 tolerance.
    """
    if not isinstance(K, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(K).__name__}")
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} has shape {tuple(K.shape)}: expected a square (n, n) Gram matrix")
    in_dtype = K.dtype
    if tol is None:
        tol = gram_tol(K.shape[0], in_dtype)
    K = K.to(F64)
    if not torch.isfinite(K).all():
        raise ValueError(f"{name} contains NaN or inf entries")
    scale = float(K.abs().max()) if K.numel() else 0.0
    asym = float((K - K.t()).abs().max()) if K.numel() else 0.0
    if asym > tol * max(scale, 1e-300):
        raise ValueError(f"{name} is not symmetric: max |K − Kᵀ| = {asym:.3g} (scale {scale:.3g})")
    if psd and K.numel():
        lo, hi = torch.linalg.eigvalsh(0.5 * (K + K.t()))[[0, -1]].tolist()
        if lo < -tol * max(abs(hi), 1e-300):
            raise _psd_error(name, lo, hi, K.shape[0], in_dtype, tol)
    return K


def _as_targets(name: str, y: object, n: int) -> tuple[torch.Tensor, bool]:
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"{name} has shape {tuple(y.shape)}: expected ({n},) or ({n}, k)")
    y = y.to(F64)
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or inf")
    return (y[:, None], True) if y.ndim == 1 else (y, False)


def _prior(name: str, f0: object, shape: tuple[int, int]) -> torch.Tensor:
    if f0 is None:
        return torch.zeros(shape, dtype=F64)
    if not isinstance(f0, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or None, got {type(f0).__name__}")
    f0 = f0.to(F64)
    if f0.ndim == 1:
        f0 = f0[:, None]
    if tuple(f0.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(f0.shape)}: expected {shape} (or ({shape[0]},))")
    if not torch.isfinite(f0).all():
        raise ValueError(f"{name} contains NaN or inf")
    return f0


def _check_rcond(rcond: float | None) -> float | None:
    """``rcond`` (the pseudo-inverse's relative eigenvalue cutoff: eigenvalues ``<= rcond · λ_max``
    count as zero) if it is ``None`` or a finite number in [0, 1), else ``ValueError``: a cutoff
    of λ_max or more would zero every eigenvalue, a negative one keeps round-off noise."""
    if rcond is None:
        return None
    if isinstance(rcond, bool) or not isinstance(rcond, int | float) or not 0 <= float(rcond) < 1:
        raise ValueError(f"rcond={rcond!r} is out of range: allowed None or a real number in [0, 1)")
    return float(rcond)


def _eig_solve(K: torch.Tensor, Y: torch.Tensor, ridge: float, rcond: float | None,
               in_dtype: torch.dtype = F64) -> tuple[torch.Tensor, int, torch.Tensor]:
    """α = (K + ridge·I)⁻¹Y (ridge > 0) or K⁺Y (ridge = 0) via eigh; returns (α, rank, eigvals).
    ``in_dtype`` is the precision the Gram was given in (it sets the PSD round-off allowance)."""
    n = K.shape[0]
    if n == 0:
        return Y.new_zeros(0, Y.shape[1]), 0, K.new_zeros(0)
    s, U = torch.linalg.eigh(0.5 * (K + K.t()))
    tol = gram_tol(n, in_dtype)
    if float(s[0]) < -tol * max(abs(float(s[-1])), 1e-300):
        raise _psd_error("the Gram matrix", float(s[0]), float(s[-1]), n, in_dtype, tol)
    if ridge > 0:
        inv = 1.0 / (s.clamp_min(0.0) + ridge)
        rank = n
    else:
        cut = (n * torch.finfo(F64).eps if rcond is None else rcond) * max(float(s[-1]), 0.0)
        keep = s > cut
        inv = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
        rank = int(keep.sum())
    return U @ (inv[:, None] * (U.t() @ Y)), rank, s


def kernel_regression(K_train: torch.Tensor, y_train: torch.Tensor, K_test_train: torch.Tensor, *,
                      ridge: float = 0.0, prior_train: torch.Tensor | None = None,
                      prior_test: torch.Tensor | None = None, rcond: float | None = None
                      ) -> torch.Tensor:
    """Kernel (ridge) regression predictions, float64 (App. B.1, Def 2.3).

    ``f̂(x) = f₀(x) + K(x, X) α`` with ``α = (K + ridge·I)⁻¹(y − f₀(X))``; ``ridge = 0``
    is ridgeless regression, ``α = K⁺(y − f₀(X))``, the minimum-RKHS-norm
    interpolant when K is PD (Lemma B.1). ``y_train`` is (n,) or (n, k) (k
    independent outputs, e.g. one-hot classes with the shared kernel Θ̂ ⊗ I);
    the output has the same trailing shape. ``prior_*`` is f₀ on the training
    and test points (same trailing shape as y), default 0.

    Examples
    --------
    Ridgeless regression interpolates on a positive definite Gram (Lemma B.1), and with
    K = I a test point orthogonal to every training point gets the prior f₀ = 0:

    >>> K = torch.eye(3, dtype=torch.float64)
    >>> y = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    >>> kernel_regression(K, y, K).tolist()
    [1.0, 2.0, 3.0]
    >>> kernel_regression(K, y, torch.zeros(1, 3, dtype=torch.float64)).tolist()
    [0.0]
    """
    rcond = _check_rcond(rcond)
    K = check_gram("K_train", K_train, psd=False)  # PSD is checked on the eigendecomposition below
    n = K.shape[0]
    ridge = check_positive("ridge", ridge, allow_zero=True)
    Y, squeeze = _as_targets("y_train", y_train, n)
    if not isinstance(K_test_train, torch.Tensor) or K_test_train.ndim != 2 or K_test_train.shape[1] != n:
        shape = tuple(K_test_train.shape) if isinstance(K_test_train, torch.Tensor) else type(K_test_train).__name__
        raise ValueError(f"K_test_train has shape {shape}: expected (m, {n})")
    Kt = K_test_train.to(F64)
    if not torch.isfinite(Kt).all():
        raise ValueError("K_test_train contains NaN or inf entries")
    f0_tr = _prior("prior_train", prior_train, tuple(Y.shape))
    f0_te = _prior("prior_test", prior_test, (Kt.shape[0], Y.shape[1]))
    alpha, _, _ = _eig_solve(K, Y - f0_tr, ridge, rcond, K_train.dtype)
    out = f0_te + Kt @ alpha
    return out[:, 0] if squeeze else out


class KernelRegressor:
    """Kernel ridge / ridgeless regression on a precomputed Gram, in the spirit of
    scikit-learn's ``KernelRidge(kernel="precomputed")``.

    Hyperparameters: ``ridge`` (sklearn's ``alpha``; 0 = ridgeless minimum norm)
    and ``rcond`` (relative eigenvalue cutoff of the pseudo-inverse).
    Fitted attributes (set by :meth:`fit`): ``dual_coef_`` (n, k) or (n,),
    ``rank_`` (numerical rank used), ``eigvals_`` (Gram spectrum, ascending),
    ``n_features_in_`` (n training points).

    Examples
    --------
    A ridgeless fit on a positive definite Gram interpolates its training targets
    (Lemma B.1); here K = 2I + 11ᵀ:

    >>> K = 2 * torch.eye(3, dtype=torch.float64) + 1.0
    >>> y = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    >>> model = KernelRegressor(ridge=0.0).fit(K, y)
    >>> bool(torch.allclose(model.predict(K), y, atol=1e-12)), model.rank_
    (True, 3)
    """

    def __init__(self, ridge: float = 0.0, rcond: float | None = None) -> None:
        self.ridge = check_positive("ridge", ridge, allow_zero=True)
        self.rcond = _check_rcond(rcond)

    def fit(self, K_train: torch.Tensor, y_train: torch.Tensor,
            prior: torch.Tensor | None = None) -> KernelRegressor:
        """Fit the dual coefficients on the (n, n) Gram ``K_train``."""
        K = check_gram("K_train", K_train, psd=False)  # PSD is checked on the eigendecomposition
        Y, squeeze = _as_targets("y_train", y_train, K.shape[0])
        f0 = _prior("prior", prior, tuple(Y.shape))
        alpha, self.rank_, self.eigvals_ = _eig_solve(K, Y - f0, self.ridge, self.rcond, K_train.dtype)
        self._squeeze = squeeze
        self.dual_coef_ = alpha[:, 0] if squeeze else alpha
        self.n_features_in_ = K.shape[0]
        return self

    def predict(self, K_test_train: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        """Predictions from the (m, n) cross-kernel ``K(X_test, X_train)`` (+ prior f₀)."""
        if not hasattr(self, "dual_coef_"):
            raise ValueError("this KernelRegressor is not fitted yet: call fit first")
        n = self.n_features_in_
        if not isinstance(K_test_train, torch.Tensor) or K_test_train.ndim != 2 or K_test_train.shape[1] != n:
            raise ValueError(f"K_test_train must have shape (m, {n})")
        Kt = K_test_train.to(F64)
        if not torch.isfinite(Kt).all():
            raise ValueError("K_test_train contains NaN or inf entries")
        alpha = self.dual_coef_[:, None] if self._squeeze else self.dual_coef_
        out = _prior("prior", prior, (Kt.shape[0], alpha.shape[1])) + Kt @ alpha
        return out[:, 0] if self._squeeze else out


def _flatten_matrix_gram(K: torch.Tensor, name: str) -> torch.Tensor:
    if K.ndim != 4 or K.shape[2] != K.shape[3]:
        raise ValueError(f"{name} has shape {tuple(K.shape)}: expected (n, n2, p, p)")
    n, n2, p, _ = K.shape
    return K.permute(0, 2, 1, 3).reshape(n * p, n2 * p)  # keeps K's dtype: it sets the PSD tolerance


def matrix_kernel_regression(K_train: torch.Tensor, Y_train: torch.Tensor, K_test_train: torch.Tensor, *,
                             ridge: float = 0.0, prior_train: torch.Tensor | None = None,
                             prior_test: torch.Tensor | None = None, rcond: float | None = None
                             ) -> torch.Tensor:
    """Vector-output kernel regression with a matrix-valued kernel (Def 4.1).

    ``K_train`` is (n, n, p, p) with ``K[t, s, k, l] = K(x_t, x_s)_{kl}``, ``Y_train``
    (n, p) (e.g. one-hot labels), ``K_test_train`` (m, n, p, p). The predictor is
    ``f̂(x) = f₀(x) + Σ_t K(x, x_t)λ_t`` with the stacked ``λ`` solving the
    (np × np) system, ridgeless by default. Returns (m, p).
    """
    if not isinstance(K_train, torch.Tensor) or not isinstance(K_test_train, torch.Tensor):
        raise ValueError("K_train and K_test_train must be torch.Tensors")
    G = _flatten_matrix_gram(K_train, "K_train")
    Gt = _flatten_matrix_gram(K_test_train, "K_test_train")
    n, p = K_train.shape[0], K_train.shape[2]
    if not isinstance(Y_train, torch.Tensor) or tuple(Y_train.shape) != (n, p):
        raise ValueError(f"Y_train must have shape ({n}, {p})")
    m = K_test_train.shape[0]
    f0_tr = None if prior_train is None else prior_train.reshape(n * p)
    f0_te = None if prior_test is None else prior_test.reshape(m * p)
    out = kernel_regression(G, Y_train.reshape(n * p), Gt, ridge=ridge, prior_train=f0_tr,
                            prior_test=f0_te, rcond=rcond)
    return out.reshape(m, p)


Evaluator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NestedKernelRegression:
    """Kernel regression on every prefix of one training sequence, reusing one
    kernel build and one factorisation (timed by ``benchmarks/bench_kernels.py``).

    Given the Gram ``K_union`` of an ordered sequence of ``n_max`` training
    points (e.g. one i.i.d. draw whose prefixes are the training sets of the
    sweep), targets ``y_union`` and either the cross-kernel ``K_eval`` (N, n_max)
    to the evaluation points or an ``evaluate(idx, coef)`` callable returning
    ``Σ_t K(·, x_idx[t]) coef_t`` there, :meth:`predict` gives the predictions
    trained on the first ``n`` points, for any ``n``.

    What is reused, honestly: the eigendecomposition of the largest Gram does
    not give those of its leading blocks, but a **Cholesky factor does**:
    ``chol(K)[:n, :n] = chol(K[:n, :n])``. So one factorisation of the largest
    Gram serves every prefix with two triangular solves each.

    * ``ridge > 0``: ``K + ridge·I`` is PD; one Cholesky serves every n exactly.
    * ``ridge = 0``: duplicate points (i.i.d. sampling) make K singular. The
      ridgeless least-squares predictor ``K⁺y`` on a multiset equals the
      minimum-norm interpolant on its distinct points of the **mean label** of
      each repeated point (least squares averages conflicting labels), so
      ``keys`` (one id per point, e.g. ``Task.flat_index``) removes repeats and
      gives each distinct point the mean of its labels among the first n — the
      same predictions as :func:`kernel_regression` on the full prefix. Points
      sharing a key must have equal Gram rows (``ValueError`` otherwise). The
      distinct prefix of a prefix is a prefix of the distinct sequence. The
      factor is trusted up to the first pivot with ``L_jj² < pivot_tol · max K_ii``
      (numerically singular beyond; default ``pivot_tol = max(1e-10, c·n·eps)`` of
      ``K_union``'s precision, :func:`gram_tol`); larger prefixes fall back to a
      per-n eigendecomposition (pseudo-inverse).

    ``block = p`` for a matrix-valued kernel flattened point-major ((n·p)²
    Gram): prefixes are then taken in whole points. ``prior_union`` /
    ``prior_eval`` are f₀ on the training and evaluation points.
    ``stats`` counts Cholesky-served and eigh-served calls.
    """

    def __init__(self, K_union: torch.Tensor, y_union: torch.Tensor, *,
                 K_eval: torch.Tensor | None = None, evaluate: Evaluator | None = None,
                 ridge: float = 0.0, keys: torch.Tensor | None = None,
                 prior_union: torch.Tensor | None = None, prior_eval: torch.Tensor | None = None,
                 block: int = 1, pivot_tol: float | None = None, rcond: float | None = None) -> None:
        self.ridge = check_positive("ridge", ridge, allow_zero=True)
        self.rcond = _check_rcond(rcond)
        self.block = check_int("block", block, low=1)
        K = check_gram("K_union", K_union, psd=False)
        self._in_dtype = K_union.dtype
        if pivot_tol is None:
            pivot_tol = max(1e-10, gram_tol(K.shape[0], self._in_dtype))
        if K.shape[0] % self.block:
            raise ValueError(f"K_union has {K.shape[0]} rows: not a multiple of block={self.block}")
        self.n_max = K.shape[0] // self.block
        Y, self._squeeze = _as_targets("y_union", y_union, K.shape[0])
        if (K_eval is None) == (evaluate is None):
            raise ValueError("give exactly one of K_eval and evaluate")
        if K_eval is not None:
            if K_eval.ndim != 2 or K_eval.shape[1] != K.shape[0]:
                raise ValueError(f"K_eval has shape {tuple(K_eval.shape)}: expected (N, {K.shape[0]})")
            if not torch.isfinite(K_eval).all():
                raise ValueError("K_eval contains NaN or inf entries")
            K_eval = K_eval.to(F64)
        n_rows_eval = K_eval.shape[0] if K_eval is not None else None
        self.f0 = _prior("prior_union", prior_union, tuple(Y.shape))
        self.prior_eval = None if prior_eval is None else prior_eval.to(F64)
        if self.prior_eval is not None and self.prior_eval.ndim == 1:
            self.prior_eval = self.prior_eval[:, None]
        if n_rows_eval is not None and self.prior_eval is not None and self.prior_eval.shape[0] != n_rows_eval:
            raise ValueError("prior_eval must have one row per evaluation point")
        self.K, self.Y, self.K_eval, self.evaluate = K, Y - self.f0, K_eval, evaluate
        # Point order used for the factorisation (distinct points only when ridgeless).
        if keys is not None and self.ridge == 0.0:
            keys = keys.reshape(-1).tolist()
            if len(keys) != self.n_max:
                raise ValueError(f"keys has {len(keys)} entries: expected {self.n_max}")
            pos: dict = {}
            first: list[int] = []
            inv = []
            for i, k in enumerate(keys):
                if k not in pos:
                    pos[k] = len(first)
                    first.append(i)
                inv.append(pos[k])
            self.order = torch.tensor(first, dtype=torch.int64)
            self._inv = torch.tensor(inv, dtype=torch.int64)  # point i -> its distinct position
            is_first = torch.zeros(self.n_max, dtype=torch.int64)
            is_first[self.order] = 1
            self._n_distinct = torch.cumsum(is_first, 0)
            rep = self._rows(self.order[self._inv])  # each point's first occurrence, row-wise
            allr = self._rows(torch.arange(self.n_max))
            if (rep != allr).any():
                gap = float((K[allr] - K[rep]).abs().max())
                if gap > gram_tol(K.shape[0], self._in_dtype) * max(float(K.abs().max()), 1e-300):
                    raise ValueError(f"keys name as one point rows of K_union that differ (max |ΔK| = {gap:.3g}): "
                                     "points sharing a key must be the same input")
        else:
            self.order = torch.arange(self.n_max)
            self._inv = None
            self._n_distinct = torch.arange(1, self.n_max + 1)
        rows = self._rows(self.order)
        Ko = K[rows][:, rows] + self.ridge * torch.eye(rows.numel(), dtype=F64)
        L, info = torch.linalg.cholesky_ex(0.5 * (Ko + Ko.t()))
        n_ok_rows = int(info) - 1 if int(info) > 0 else rows.numel()
        if n_ok_rows > 0:
            piv = torch.diagonal(L)[:n_ok_rows] ** 2
            bad = (piv < pivot_tol * float(torch.diagonal(Ko).max())).nonzero()
            if bad.numel():
                n_ok_rows = int(bad[0])
        self.L = L
        self.valid_points = n_ok_rows // self.block  # prefixes of the distinct order served by L
        self.stats = {"cholesky": 0, "eigh": 0}

    def _rows(self, pts: torch.Tensor) -> torch.Tensor:
        b = self.block
        return (pts[:, None] * b + torch.arange(b)[None, :]).reshape(-1)

    def coefficients(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(point indices used into the union sequence, dual coefficients (len·block, k))."""
        n = check_int("n", n, low=1, high=self.n_max)
        nd = int(self._n_distinct[n - 1])
        pts = self.order[:nd]
        rows = self._rows(pts)
        r = rows.numel()
        if self._inv is None:
            Yr = self.Y[rows]
        else:
            # Mean label of each distinct point over its occurrences among the first n
            # (what least squares on the multiset fits; conflicting labels are averaged).
            inv = self._inv[:n]
            k = self.Y.shape[1]
            Yb = self.Y.reshape(self.n_max, self.block * k)[:n]
            sums = torch.zeros(nd, self.block * k, dtype=F64).index_add_(0, inv, Yb)
            counts = torch.bincount(inv, minlength=nd).to(F64)
            Yr = (sums / counts[:, None]).reshape(nd * self.block, k)
        if nd <= self.valid_points:
            Lr = self.L[:r, :r]
            alpha = torch.cholesky_solve(Yr, Lr)
            self.stats["cholesky"] += 1
        else:
            alpha, _, _ = _eig_solve(self.K[rows][:, rows], Yr, self.ridge, self.rcond, self._in_dtype)
            self.stats["eigh"] += 1
        return pts, alpha

    def predict(self, n: int) -> torch.Tensor:
        """Predictions on the evaluation points from the first ``n`` training points."""
        pts, alpha = self.coefficients(n)
        if self.evaluate is not None:
            # The callable gets the coefficients point-major, (len(pts), block·k).
            out = self.evaluate(pts, alpha.reshape(pts.numel(), -1)).to(F64)
            if self.prior_eval is not None:
                out = out + self.prior_eval.reshape(out.shape)
            return out
        out = self.K_eval[:, self._rows(pts)] @ alpha
        if self.prior_eval is not None:
            out = out + self.prior_eval.reshape(out.shape)
        return out[:, 0] if self._squeeze else out
