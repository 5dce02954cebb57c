"""Rich-regime upper bounds (Prop 3.7, 3.8, Thm 3.6, 4.5, 4.6; Lemmas E.1, E.2, E.5, E.6, G.9-G.13).

Each function evaluates one right-hand side with every constant the proof gives.
Two kinds of constant are *not* given by the paper and are exposed as arguments:

* ``K`` — the universal constant of Srebro, Sridharan & Tewari's optimistic rate
  (Thm E.6), which the regression bounds (Prop 3.7, Thm 3.6) inherit. ``K = 1``
  is an optimistic evaluation, not a certified bound.
* the ``O(·)`` factor of Thm 3.6 (``norm_factor``: how much larger than the
  minimum-norm interpolator's ``‖θ‖_∞`` the trained net's is).

The classification bound (Thm 4.6) is fully explicit: Lemma G.9 (PAC-Bayes)
plus the perturbation lemmas G.11, G.13, with the union bound over all inputs
that the "max over x" of G.9 needs (check C13) and a union over a fixed
grid of prior scales so the Gaussian prior does not depend on the data.

Errata applied (listed in ``proofs/ERRATA.md``; details in the proof notes under
``proofs/``): Lemma E.1's ``Q₃ = (−W/2; −V)`` (the paper prints ``(−W/2; V)`` in (E.4),
kept behind ``printed_sign=True`` to show that it fails), and
``‖U‖_∞ = (2/9)^{1/3} max(‖W‖_∞, ‖V‖_∞)`` rather than ``max(·)``; Lemma G.13's
stray ``σ`` in the max; Lemma G.10's missing ``√2`` (the printed constant is
kept behind ``printed=True``: it fails for a worst-case W and δ < 0.0629, check C13).
"""

from __future__ import annotations

import math

import torch

from regimes._validate import check_fraction, check_int, check_positive

__all__ = [
    "cubic_sum",
    "lemma_e1_decomposition",
    "lemma_e2_rademacher",
    "lemma_e5_rademacher",
    "lemma_g10_bound",
    "lemma_g11_bound",
    "lemma_g12_bound",
    "lemma_g13_bound",
    "perturbation_bound",
    "prop_3_7_loss_bound",
    "prop_3_8_min_norm",
    "regression_loss_range",
    "thm_3_6_bound",
    "thm_4_5_bound",
    "thm_4_5_rate",
    "thm_4_6_bound",
    "thm_4_6_paper_form",
    "thm_4_6_sigma",
    "thm_e6_optimistic_rate",
]


def _delta(delta: float) -> float:
    d = check_fraction("delta", delta)
    if d >= 1:
        raise ValueError(f"delta={delta!r} is out of range: allowed (0, 1)")
    return d


# =========================================================================== Lemma E.1
def lemma_e1_decomposition(w: torch.Tensor, v: torch.Tensor, *, printed_sign: bool = False) -> torch.Tensor:
    """Lemma E.1: one neuron ``x ↦ v_c (w_a + w_{p+b})²`` as ``Σ_{i=1}^4 ⟨U_i, x⟩³``.

    From ``u²v = (2/9)[(u+v)³ − (u−v)³ − (u/2+v)³ + (u/2−v)³]`` with ``u = ⟨w, x'⟩``,
    ``v = ⟨v, x''⟩`` on the 3-hot input ``x = (e_a, e_b, e_c)``, absorbing the signs into
    the cubes: ``U = (2/9)^{1/3} (Q₁; Q₂; Q₃; Q₄)`` with ``Q₁ = (w; v)``, ``Q₂ = (−w; v)``,
    ``Q₃ = (−w/2; −v)``, ``Q₄ = (w/2; −v)``. The paper prints ``Q₃ = (−w/2; v)``
    in (E.4), which is wrong (see proofs/lemma_e_1_cubic_decomposition.md);
    ``printed_sign=True`` builds that version.
    ``w``: (2p,), ``v``: (p,). Returns ``U`` of shape (4, 3p); ``‖U‖_∞ =
    (2/9)^{1/3} max(‖w‖_∞, ‖v‖_∞)``.
    """
    if w.ndim != 1 or v.ndim != 1 or w.shape[0] != 2 * v.shape[0]:
        raise ValueError(f"need w of shape (2p,) and v of shape (p,), got {tuple(w.shape)}, {tuple(v.shape)}")
    s3 = v if printed_sign else -v
    Q = torch.stack([torch.cat([w, v]), torch.cat([-w, v]), torch.cat([-w / 2, s3]), torch.cat([w / 2, -v])])
    return (2.0 / 9.0) ** (1.0 / 3.0) * Q


def cubic_sum(U: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``Σ_i ⟨U_i, x⟩³`` on 3-hot inputs given as index triples ``x`` (n, 3) (class G_r of E.2)."""
    p = U.shape[1] // 3
    s = U[:, x[:, 0]] + U[:, p + x[:, 1]] + U[:, 2 * p + x[:, 2]]   # (4, n)
    return (s**3).sum(dim=0)


# =========================================================================== Rademacher
def lemma_e2_rademacher(p: int, n: int, r: float) -> float:
    """Lemma E.2: ``R_n(G_r) ≤ 324 r³ √p / √n`` for ``G_r = {Σ_{i≤4} ⟨U_i, x⟩³ : ‖U‖_∞ ≤ r}``
    on 3-hot inputs (contraction with the ``27r²``-Lipschitz cube on ``[−3r, 3r]``)."""
    n = check_int("n", n, low=1)
    p = check_int("p", p, low=2)
    r = check_positive("r", r, allow_zero=True)
    return 324.0 * r**3 * math.sqrt(p) / math.sqrt(n)


def lemma_e5_rademacher(p: int, n: int, h: int, r: float) -> float:
    """Lemma E.5 / Remark E.4: width-``h`` nets with ``‖W‖_∞, ‖V‖_∞ ≤ r`` have
    ``R_n ≤ h · 324 r³ √p / √n`` (a sum of ``h`` single neurons, each in ``G_r`` by E.1)."""
    h = check_int("h", h, low=1)
    return h * lemma_e2_rademacher(p, n, r)


# =========================================================================== regression
def thm_e6_optimistic_rate(emp_loss: float, n: int, rademacher: float, delta: float,
                           smoothness: float, loss_bound: float, K: float = 1.0) -> float:
    """Thm E.6 (Srebro, Sridharan, Tewari 2010, Thm 1), the optimistic rate:

    ``L ≤ L̂ + K(√L̂ (√H log^{1.5} n · R_n + √(b log(1/δ)/n)) + H log³ n · R_n² + b log(1/δ)/n)``

    for an ``H``-smooth non-negative loss bounded by ``b``. ``K`` is their unspecified
    universal constant (``K = 1`` is optimistic, not certified).
    """
    n = check_int("n", n, low=2)
    L = check_positive("emp_loss", emp_loss, allow_zero=True)
    R = check_positive("rademacher", rademacher, allow_zero=True)
    d = _delta(delta)
    H = check_positive("smoothness", smoothness)
    b = check_positive("loss_bound", loss_bound)
    K = check_positive("K", K)
    ln = math.log(n)
    lg = math.log(1 / d)
    return L + K * (math.sqrt(L) * (math.sqrt(H) * ln**1.5 * R + math.sqrt(b * lg / n))
                    + H * ln**3 * R**2 + b * lg / n)


def regression_loss_range(p: int, h: int, R: float) -> float:
    """The bound ``b`` on the square loss ``(g − y)²`` of width-``h`` nets with
    ``‖θ‖_∞ ≤ R``: ``|g| ≤ 4hR³`` on one-hot inputs (``(W_a + W_b)² ≤ 4R²``,
    ``|V_c| ≤ R``) and ``y ∈ {0, p}``, so ``b = (4hR³ + p)²`` (Prop 3.7's proof)."""
    return (4.0 * h * R**3 + p) ** 2


def prop_3_7_loss_bound(p: int, n: int, h: int, R: float, delta: float, *, K: float = 1.0,
                       emp_loss: float = 0.0) -> float:
    """Prop 3.7: population square loss of a width-``h`` net with ``‖θ‖_∞ ≤ R`` and
    empirical loss ``emp_loss`` (0 for an interpolator), w.p. ``≥ 1 − δ``.

    Thm E.6 with ``R_n`` from Lemma E.5, smoothness ``H = 2`` (the loss ``(g − y)²``
    has second derivative 2; the paper's "H = 1" is for ``½(g − y)²``) and ``b`` from
    :func:`regression_loss_range`. For ``L̂ = 0`` this is
    ``K[2 log³n (324 h √p R³)²/n + (4hR³ + p)² log(1/δ)/n]``, the paper's
    ``C R⁶ h² (p log³ n + log(1/δ))/n`` with the constant spelled out.
    """
    p = check_int("p", p, low=2)
    R = check_positive("R", R, allow_zero=True)
    Rn = lemma_e5_rademacher(p, n, h, R)
    return thm_e6_optimistic_rate(emp_loss, n, Rn, delta, 2.0, regression_loss_range(p, h, R), K)


def prop_3_8_min_norm(p: int, h: int, target: str = "classification") -> float:
    """Prop 3.8: the smallest ``‖θ‖_∞`` of an exact interpolator of width ``h ≥ 8p`` is at
    most ``⌊h/8p⌋^{-1/3}`` (classification scale, margin ``4p``); for the regression
    target ``p·1(a+b≡c)`` the construction is scaled by ``4^{-1/3}`` more."""
    p = check_int("p", p, low=2)
    h = check_int("h", h, low=8 * p)
    v = (h // (8 * p)) ** (-1.0 / 3.0)
    if target == "regression":
        return v * 4.0 ** (-1.0 / 3.0)
    if target != "classification":
        raise ValueError(f"target={target!r} is not allowed: choose 'classification' or 'regression'")
    return v


def thm_3_6_bound(p: int, n: int, h: int, delta: float, *, K: float = 1.0,
                  norm_factor: float = 1.0) -> float:
    """Thm 3.6: population square loss of any interpolator whose ``‖θ‖_∞`` is at most
    ``norm_factor`` times the minimum (Prop 3.8's ``4^{-1/3}⌊h/8p⌋^{-1/3}``): Prop 3.7
    with that ``R``. Compare with ``L(Ψ₀) = p``; the paper's form is
    ``O(p²/n (log³ n + log(1/δ)/p)) · p`` for ``h = Θ(p)``."""
    R = check_positive("norm_factor", norm_factor) * prop_3_8_min_norm(p, h, "regression")
    return prop_3_7_loss_bound(p, n, h, R, delta, K=K)


# =========================================================================== perturbations
def lemma_g10_bound(h: int, r: float, sigma: float, delta: float, *, printed: bool = False) -> float:
    """Lemma G.10: ``|Λ_σ(V)ᵀ(Wx)^{⊙2} − Vᵀ(Wx)^{⊙2}| ≤ 4r²σ √(2h log(2/δ))`` w.p. ``≥ 1 − δ``.

    The left side is ``|Ṽᵀ(Wx)^{⊙2}|``, a centred Gaussian of variance
    ``σ² Σ_j (Wx)_j⁴ ≤ 16 r⁴σ²h`` (``|(Wx)_j| ≤ 2r`` on inputs ``(e_a, e_b)``); the Gaussian
    tail ``Pr(|N(0, s²)| ≥ t) ≤ 2e^{−t²/(2s²)}`` (Lemma G.4 with α = 0) gives ``t = s√(2 log(2/δ))``.
    The paper prints ``4r²σ √(h log(2/δ))``, without the √2 (``printed=True``): for a W with
    every ``|(Wx)_j| = 2r`` (e.g. all entries r) the variance bound is attained and the printed
    value is exceeded with probability ``2(1 − Φ(√log(2/δ))) > δ`` for every ``δ < 0.0629``
    (check C13, proofs/lemma_g_10_g_13_perturbations.md).
    """
    factor = 1.0 if printed else 2.0
    return 4.0 * r**2 * sigma * math.sqrt(factor * h * math.log(2 / _delta(delta)))


def lemma_g11_bound(h: int, r: float, sigma: float, delta: float) -> float:
    """Lemma G.11: for zero-sum ``V`` (``(W, V) ∈ M^{h,1}_r``) and ``h ≥ 8 log(2/δ)``,
    ``|Vᵀ(Λ_σ(W)x)^{⊙2} − Vᵀ(Wx)^{⊙2}| ≤ 16 √(h log(2/δ)) max(r²σ, rσ²)`` w.p. ``≥ 1 − δ``.
    Returns ``inf`` when the width condition fails (the lemma does not apply)."""
    lg = math.log(2 / _delta(delta))
    if h < 8 * lg:
        return math.inf
    return 16.0 * math.sqrt(h * lg) * max(r**2 * sigma, r * sigma**2)


def lemma_g12_bound(h: int, sigma: float, delta: float) -> float:
    """Lemma G.12: ``|Λ_σ(0_h)ᵀ(Λ_σ(0)x)^{⊙2}| ≤ (2σ² + 8√2 σ² L) σ √(h L)``,
    ``L = log(2(h+1)/δ)``, w.p. ``≥ 1 − δ``."""
    L = math.log(2 * (h + 1) / _delta(delta))
    return (2 * sigma**2 + 8 * math.sqrt(2) * sigma**2 * L) * sigma * math.sqrt(h * L)


def lemma_g13_bound(h: int, r: float, sigma: float, delta: float) -> float:
    """Lemma G.13: ``|Λ_σ(0_h)ᵀ(Λ_σ(W)x)^{⊙2}| ≤ 32 √h L^{3/2} max(σ³, rσ², r²σ)``,
    ``L = log(2(h+1)/δ)``, w.p. ``≥ 1 − δ`` (the printed max has a stray extra σ,
    see proofs/lemma_g_10_g_13_perturbations.md)."""
    L = math.log(2 * (h + 1) / _delta(delta))
    return 32.0 * math.sqrt(h) * L**1.5 * max(sigma**3, r * sigma**2, r**2 * sigma)


def perturbation_bound(p: int, h: int, r: float, sigma: float, delta: float, *,
                       n_inputs: int | None = None) -> float:
    """Thm 4.6's proof, step 3 (G.3 expansion + G.11 + G.13 + union bound): for a net of
    width ``h`` with zero-sum rows of ``V`` and ``‖θ‖_∞ ≤ r``, every parameter perturbed by
    i.i.d. ``N(0, σ²)`` noise, w.p. ``≥ 1 − δ`` over the noise

    ``max_{x, c} |f_c(θ + u; x) − f_c(θ; x)| ≤ G.11(δ') + G.13(δ')``,  ``δ' = δ/(2 p n_x)``,

    a union over the ``p`` outputs, the ``n_x`` inputs (default all ``p²``) and the two
    lemmas. (The perturbed output is ``f_c + V_c(Q̃² + 2Q⊙Q̃) + Ṽ_c(Q + Q̃)²``: the first
    part is G.11, the second G.13.) The paper writes the looser
    ``64√(2h) (log(2p(h+1)/δ))^{3/2} max(σ³, rσ², r²σ)`` and unions over ``c`` only,
    although Lemma G.9 needs the max over ``x`` too (check C13). ``inf`` if G.11's
    width condition fails.
    """
    p = check_int("p", p, low=2)
    h = check_int("h", h, low=1)
    nx = p * p if n_inputs is None else check_int("n_inputs", n_inputs, low=1)
    d = _delta(delta) / (2 * p * nx)
    return lemma_g11_bound(h, r, sigma, d) + lemma_g13_bound(h, r, sigma, d)


#: Prior scales σ = 2^{-j}, j = -30..89: a fixed, data-independent grid for the PAC-Bayes union.
_SIGMA_GRID_EXPONENTS = range(-30, 90)


def thm_4_6_sigma(p: int, h: int, r: float, gamma: float) -> float:
    """Thm 4.6's noise scale: the largest ``σ`` with ``perturbation_bound(p, h, r, σ, 1/2) ≤ γ/4``
    (Lemma G.9's condition ``Pr_u[max_{x,k} |Δf_k| < γ/4] ≥ 1/2``), restricted to the
    grid ``σ = 2^{-j}``, ``j = −30..89``; 0 if no grid point qualifies."""
    for j in _SIGMA_GRID_EXPONENTS:
        s = 2.0 ** (-j)
        if perturbation_bound(p, h, r, s, 0.5) <= gamma / 4:
            return s
    return 0.0


def thm_4_6_bound(p: int, n: int, h: int, r: float, gamma: float, delta: float, *,
                  margin_loss: float = 0.0, theta_l2_sq: float | None = None,
                  doubled: bool = False) -> float:
    """Thm 4.6 (margin generalization bound, classification), explicit:

    ``L₀ ≤ L_γ(train) + 4 √((KL + log(6n/δ_g)) / (n − 1))``  (Lemma G.9),

    for a net of width ``h`` (the proof's ``h'``) with ``‖θ‖_∞ ≤ r`` and train margin loss
    ``margin_loss = Pr_train[q ≤ γ]``. The proof doubles the net (``W → [W; W]``,
    ``V → [V, −V]``: same function, zero-sum rows, ``h = 2h'``; pass ``doubled=True``
    if ``h`` already counts the doubled net), takes the prior ``N(0, σ²I)`` and the
    posterior ``θ + N(0, σ²I)`` with ``σ`` from :func:`thm_4_6_sigma`, so
    ``KL = ‖θ‖₂²/(2σ²) ≤ 3hp r²/(2σ²)`` (``theta_l2_sq``: the doubled net's ``‖θ‖₂²``
    if known, else the ``3hp r²`` worst case). To keep the prior independent of the
    data, ``σ`` ranges over a fixed grid of ``|grid| = 120`` values and the
    confidence is split over it: ``δ_g = δ/120``. Returns ``inf`` when no admissible
    ``σ`` exists (e.g. G.11's width condition fails) and the value (possibly ``> 1``,
    i.e. vacuous) otherwise.
    """
    p = check_int("p", p, low=2)
    n = check_int("n", n, low=2)
    h1 = check_int("h", h, low=1)
    r = check_positive("r", r)
    gamma = check_positive("gamma", gamma)
    d = _delta(delta)
    h = h1 if doubled else 2 * h1
    sigma = thm_4_6_sigma(p, h, r, gamma)
    if sigma == 0.0:
        return math.inf
    l2 = 3 * h * p * r**2 if theta_l2_sq is None else check_positive("theta_l2_sq", theta_l2_sq)
    kl = l2 / (2 * sigma**2)
    dg = d / len(_SIGMA_GRID_EXPONENTS)
    return margin_loss + 4.0 * math.sqrt((kl + math.log(6 * n / dg)) / (n - 1))


def thm_4_6_paper_form(p: int, n: int, h: int, r: float, gamma: float, delta: float,
                       delta1: float | None = None, margin_loss: float = 0.0) -> float:
    """The closed form the paper reaches at the end of Thm 4.6's proof (its step 5):

    ``L_γ + 4 √([3hp log(2(h+1)/δ₁) / ((γ/r³)/(256√(2h)))^{2/3} + log(6n/δ)] / (n − 1))``

    where the formula's ``h`` is the doubled net's width ``2h`` (``h``: the argument, the
    width of the net itself), valid in the regime ``(γ/r³) ≥ 256√(2h) log^{3/2}(2(h+1)/δ₁)``
    where ``σ = r·ratio^{1/3}``; ``δ₁`` defaults to ``δ``. For comparison with
    :func:`thm_4_6_bound`, which also unions over inputs and handles the other regime.
    """
    h = 2 * check_int("h", h, low=1)
    d = _delta(delta)
    d1 = d if delta1 is None else _delta(delta1)
    x = (gamma / r**3) / (256 * math.sqrt(2 * h))
    return margin_loss + 4 * math.sqrt((3 * h * p * math.log(2 * (h + 1) / d1) / x ** (2 / 3)
                                        + math.log(6 * n / d)) / (n - 1))


def thm_4_5_bound(p: int, n: int, h: int, delta: float, *, norm_margin: float | None = None) -> float:
    """Thm 4.5: Thm 4.6 at ``r = 1`` (by 3-homogeneity) for an interpolator whose normalized
    ℓ∞ margin ``q_min/‖θ‖_∞³`` is ``norm_margin`` (default: the construction's
    ``4p⌊h/8p⌋``, Prop 3.8, the largest known value); ``8p ≤ h = O(p)`` gives
    ``Õ(√(p^{5/3}/n))``."""
    p = check_int("p", p, low=2)
    h = check_int("h", h, low=1)
    if norm_margin is None:
        if h < 8 * p:
            raise ValueError(f"h={h} < 8p={8 * p}: pass norm_margin explicitly")
        norm_margin = 4.0 * p * (h // (8 * p))
    return thm_4_6_bound(p, n, h, 1.0, norm_margin, delta)


def thm_4_5_rate(p: int, n: int) -> float:
    """The rate ``√(p^{5/3}/n)`` of Thm 4.5 (eq. 4.2) without constants or logs."""
    return math.sqrt(check_int("p", p, low=2) ** (5 / 3) / check_int("n", n, low=1))
