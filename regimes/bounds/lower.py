"""Kernel-regime lower bounds (Appendix D, Thm 3.4/3.5/4.3, Prop E.7), one function per result.

All are closed-form numbers; the matrices behind them live in
:mod:`regimes.spectral`. Conventions (Appendix D; see proofs/appendix_d_spectral_lower_bound.md):

* Cor D.8 / Thm D.1 / Thm D.2 bound the **unnormalised** best-fit loss
  ``Σ_x (f(x) − Ψ(x))²`` summed over the ``p^m`` points, where ``Ψ`` is a 0/1
  indicator; the zero predictor scores ``p^{m−1}``.
* Thm 3.4 / 3.5 bound the regression population loss in the paper's
  normalisation ``(1/p^m) Σ_x (f(x) − p Ψ(x))²``; the zero predictor scores ``p``.
* Thm 4.3 bounds the classification ℓ2 loss as a **ratio** to the zero
  predictor's loss (the bound is invariant to the label scale).
* ``prior_mean=True`` accounts for the eNTK's prior mean f₀ (App. B.1): the
  predictor then lives in an ``(n+1)``-dimensional span (``np+1`` for
  classification). Definition 2.3 leaves f₀ out; see the "Kernel regression with a
  prior mean" entry of ``proofs/ERRATA.md``.

The returned values are the raw formulas: they may be ≤ 0 (vacuous) when n is
large. Printed typos are fixed: Thm 3.4's ``w/2`` is ``1/2``; Cor D.8's proof
has ``n/(p^m − 1)`` where the statement (used here) has ``n/p^m``. Both are in
``proofs/ERRATA.md``.
"""

from __future__ import annotations

import math

from regimes._validate import check_int, check_positive

__all__ = [
    "cor_d5_half_condition",
    "cor_d8_exact_lower_bound",
    "cor_d8_lower_bound",
    "lemma_d7_top_eigensum",
    "lemma_d7_top_eigensum_exact",
    "lemma_d9_bound",
    "lemma_d9_exact",
    "prop_b4_sufficient_width",
    "prop_e7_zero_one_from_l2",
    "thm_3_4_max_n_for_half",
    "thm_3_4_regression_lower_bound",
    "thm_3_5_lower_bound",
    "thm_4_3_classification_lower_bound",
    "thm_d1_lower_bound",
    "thm_d2_classification_lower_bound",
]


def _p_m(p: int, m: int, *, strict: bool = True) -> tuple[int, int]:
    p = check_int("p", p, low=2)
    m = check_int("m", m, low=1)
    if strict and m >= p:
        raise ValueError(f"m={m} is out of range: Cor D.8 needs 1 <= m < p (p={p})")
    return p, m


def lemma_d9_exact(p: int, m: int) -> float:
    """Lemma D.9, attained value: ``max_{v ⊥ V_s, ‖v‖=1} E_σ⟨Ψ_σ, v⟩² = (1/p)(p/(p−1))^{m−1}``,
    the top-degree eigenvalue of Σ (our derivation, checked numerically; see
    proofs/appendix_d_spectral_lower_bound.md)."""
    p, m = _p_m(p, m, strict=False)
    return (1.0 / p) * (p / (p - 1)) ** (m - 1)


def lemma_d9_bound(p: int, m: int) -> float:
    """Lemma D.9 as printed: ``E_σ⟨Ψ_σ, v⟩² ≤ (1/p) exp((m−1)/(p−1))`` for unit v ⊥ V_s
    (uses ``1 + 1/(p−1) ≤ e^{1/(p−1)}``)."""
    p, m = _p_m(p, m, strict=False)
    return (1.0 / p) * math.exp((m - 1) / (p - 1))


def lemma_d7_top_eigensum(p: int, n: int, m: int) -> float:
    """Lemma D.7: ``Σ_{i ≤ n} λ_i(Σ) ≤ p^{m−2} + (n/p) exp((m−1)/(p−1))``.

    Proof: Lemma D.6 with V = V_s; the slice part contributes ``Tr(PΣP) = p^{m−2}``
    and every other direction at most Lemma D.9's value.
    """
    p, m = _p_m(p, m, strict=False)
    n = check_int("n", n, low=0)
    return float(p) ** (m - 2) + (n / p) * math.exp((m - 1) / (p - 1))


def lemma_d7_top_eigensum_exact(p: int, n: int, m: int) -> float:
    """Exact Ky Fan sum of Σ (our derivation, not stated in the paper):
    ``Σ_{i ≤ n} λ_i(Σ) = p^{m−2} + min(n−1, (p−1)^m)·(1/p)(p/(p−1))^{m−1}`` for n ≥ 1 (0 for
    n = 0), from the exact spectrum of Σ (proofs/appendix_d_spectral_lower_bound.md)."""
    p, m = _p_m(p, m, strict=False)
    n = check_int("n", n, low=0)
    if n == 0:
        return 0.0
    return float(p) ** (m - 2) + min(n - 1, (p - 1) ** m) * lemma_d9_exact(p, m)


def cor_d5_half_condition(p: int, n: int, m: int) -> bool:
    """Cor D.5's hypothesis with Lemma D.7: ``p^{m−2} + (n/p)e^{(m−1)/(p−1)} ≤ Tr Σ / 2``,
    under which the expected best-fit loss is at least half the zero predictor's."""
    return lemma_d7_top_eigensum(p, n, m) <= 0.5 * float(p) ** (m - 1)


def cor_d8_lower_bound(p: int, n: int, m: int) -> float:
    """Cor D.8 (formal Thm 3.5): for any kernel K on ``[p]^m`` and any n points,
    ``E_σ inf_α ‖Σ_t α_t K(x_t, ·) − Ψ_σ‖² ≥ p^{m−1}(1 − 1/p − (n/p^m) e^{(m−1)/(p−1)})``.

    Unnormalised sum over the p^m points; needs ``1 ≤ m < p`` and ``n ≥ 1``. The
    statement's ``n/p^m`` is used (the proof's ``n/(p^m − 1)`` is a typo; see ``proofs/ERRATA.md``).
    """
    p, m = _p_m(p, m)
    n = check_int("n", n, low=1)
    return float(p) ** (m - 1) * (1 - 1 / p - n / p**m * math.exp((m - 1) / (p - 1)))


def cor_d8_exact_lower_bound(p: int, n: int, m: int) -> float:
    """The tighter exact form of Cor D.8: ``Tr Σ − Σ_{i ≤ n} λ_i(Σ) =
    p^{m−1} − p^{m−2} − min(n−1, (p−1)^m)(1/p)(p/(p−1))^{m−1}`` (Lemma D.4 + exact
    spectrum). Valid for every ``m ≥ 1``, ``n ≥ 1``; always ≥ :func:`cor_d8_lower_bound`."""
    p, m = _p_m(p, m, strict=False)
    n = check_int("n", n, low=1)
    return float(p) ** (m - 1) - lemma_d7_top_eigensum_exact(p, n, m)


def thm_d1_lower_bound(p: int, n: int) -> float:
    """Thm D.1 (m = 3, regression on triples): ``p²(1 − 1/p − (n/p³)e^{2/(p−1)})``,
    a lower bound on the unnormalised averaged best-fit loss. Needs p ≥ 4 (m < p)."""
    return cor_d8_lower_bound(p, n, 3)


def thm_d2_classification_lower_bound(p: int, n: int) -> float:
    """Thm D.2: for any matrix-valued kernel on pairs and n training pairs,
    ``E_σ inf_λ Σ_x ‖Σ_t K(x_t, x)λ_t − Ψ^{σ3}_{σ1σ2}(x)‖² ≥ p²(1 − 1/p − (n/p²)e^{2/(p−1)})``.

    Each pair spans p columns on triples, so this is Thm D.1 with n·p points.
    """
    p = check_int("p", p, low=2)
    n = check_int("n", n, low=1)
    return cor_d8_lower_bound(p, n * p, 3)


def thm_3_4_regression_lower_bound(p: int, n: int, *, prior_mean: bool = False) -> float:
    """Thm 3.4 (explicit form, our derivation from Thm D.1): for any permutation-equivariant kernel
    method on n i.i.d. samples, ``E L_ℓ2 ≥ p(1 − 1/p − (n'/p³) e^{2/(p−1)})`` where
    ``L_ℓ2 = (1/p³) Σ (f − p·1(a+b≡c))²`` (zero predictor: p) and ``n' = n + 1``
    with a prior mean f₀ in the predictor (``prior_mean=True``), else ``n' = n``.

    The paper states the consequence ``E L ≥ p/2`` for ``n < C p³`` (printed
    ``w/2``, a slip for ``1/2``); see :func:`thm_3_4_max_n_for_half`.
    """
    p = check_int("p", p, low=4)
    n = check_int("n", n, low=1)
    return thm_d1_lower_bound(p, n + bool(prior_mean)) / p


def thm_3_4_max_n_for_half(p: int, *, prior_mean: bool = False) -> int:
    """Largest n with ``thm_3_4_regression_lower_bound(p, n) ≥ p/2``, i.e.
    ``1/p + (n'/p³)e^{2/(p−1)} ≤ 1/2`` (0 if none)."""
    p = check_int("p", p, low=4)
    n_prime = math.floor((0.5 - 1 / p) * p**3 * math.exp(-2 / (p - 1)) + 1e-9)
    return max(0, n_prime - bool(prior_mean))


def thm_3_5_lower_bound(p: int, n: int, m: int, *, prior_mean: bool = False) -> float:
    """Thm 3.5 (m coordinates, target ``p·Ψ``, loss ``(1/p^m) Σ (f − pΨ)²``, zero predictor p):
    ``E L ≥ p(1 − 1/p − (n'/p^m) e^{(m−1)/(p−1)})`` with n' = n (+1 with a prior mean).
    Obtained from Cor D.8 by the scaling ``L = p^{2−m} ‖f/p − Ψ‖²``."""
    p, m = _p_m(p, m)
    n = check_int("n", n, low=1)
    return float(p) ** (2 - m) * cor_d8_lower_bound(p, n + bool(prior_mean), m)


def thm_4_3_classification_lower_bound(p: int, n: int, *, prior_mean: bool = False) -> float:
    """Thm 4.3 (explicit form via Thm D.2), as a **ratio** to the zero predictor:
    ``E L_ℓ2 / L_ℓ2(0) ≥ 1 − 1/p − (n'/p³) e^{2/(p−1)}`` with ``n' = n·p`` (``+1`` with a
    vector-valued prior mean f₀), i.e. ``1 − 1/p − (n/p²)e^{2/(p−1)}`` without one.

    Holds for any input-output permutation-equivariant (matrix-valued) kernel
    method on n i.i.d. uniform pairs; the paper leaves the 0-1 error open.
    """
    p = check_int("p", p, low=4)
    n = check_int("n", n, low=1)
    return cor_d8_lower_bound(p, n * p + bool(prior_mean), 3) / p**2


def prop_b4_sufficient_width(n: int, rho: int, delta: float, s4_over_sigma4: float = 9.0) -> float:
    """Prop B.4 (with Thm 3.1): the width ``(4 s_W⁴/σ_W⁴) ρ_c log(n/δ)`` above which the eNTK
    on ``n`` distinct triples is full rank with probability ``≥ 1 − δ``; ``rho`` is ρ_c (the
    count of the most frequent output index, :func:`regimes.ntk.rank.rho_c`) and
    ``s4_over_sigma4`` the init law's ``s_W⁴/σ_W⁴`` (9 for a uniform W: 36 ρ_c log(n/δ)).

    Raises ``ValueError`` unless ``n >= 1``, ``1 <= rho <= n``, ``0 < delta < 1`` and
    ``s4_over_sigma4 > 0``.

    Examples
    --------
    >>> round(prop_b4_sufficient_width(100, 10, 0.1) / math.log(1000), 6)   # 36 ρ_c
    360.0
    """
    n = check_int("n", n, low=1)
    rho = check_int("rho", rho, low=1, high=n)
    delta = check_positive("delta", delta)
    if delta >= 1:
        raise ValueError(f"delta={delta!r} is out of range: allowed (0, 1)")
    s4 = check_positive("s4_over_sigma4", s4_over_sigma4)
    return 4.0 * s4 * rho * math.log(n / delta)


def prop_e7_zero_one_from_l2(l2_loss: float, p: int) -> float:
    """Prop E.7: the classifier ``argmax_c g(a, b, c)`` has population 0-1 error at most
    ``2 L_ℓ2(g) / p``, with ``L_ℓ2 = (1/p³) Σ (g − p·1(a+b≡c))²``.

    A misclassified pair has ``g(ĉ) ≥ g(c*)`` and so costs at least
    ``min_{t' ≥ t} (t − p)² + t'² = p²/2`` over its p triples. Returns the raw
    value ``2 L / p`` (it can exceed 1).
    """
    p = check_int("p", p, low=2)
    loss = check_positive("l2_loss", l2_loss, allow_zero=True)
    return 2.0 * loss / p
