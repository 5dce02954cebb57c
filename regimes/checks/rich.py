"""Rich-regime checks C9, C10, C12, C12b (Lemma E.2), C13, C14.

* C9  — Prop 3.8 / Remark F.1: the Fourier interpolator is exact for every p in 2..31.
* C10 — margins: q_min = 4p at ‖θ‖_∞ = 1; q_min(cθ) = c³ q_min(θ).
* C12 — Lemma E.1 with the corrected sign (and the printed sign failing).
* C12b — Lemma E.2: Monte-Carlo empirical Rademacher complexity of G_r below 324 r³ √p/√n.
* C13 — Thm 4.6's perturbation lemmas (G.10-G.13 and the union bound) for random and
  worst-case weights at δ down to 0.01: no bound exceeded beyond a binomial margin
  (G.10 with its √2 restored; the printed G.10 is refuted).
* C14 — Prop 3.7 / Thm 3.6 / 4.5 / 4.6 evaluated for trained interpolators; measured
  error ≤ bound whenever the bound is non-vacuous, vacuity reported otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from regimes.bounds import upper
from regimes.checks import CheckResult, register
from regimes.constructions import fourier_interpolator
from regimes.metrics.margins import margins  # re-exported: the definition lives in regimes.metrics
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task, sample_split

__all__ = [
    "c9",
    "c10",
    "c12",
    "c12b",
    "c13",
    "c14",
    "empirical_rademacher_cubic",
    "exceedance_test",
    "margins",
    "perturbation_quantiles",
    "perturbation_samples",
]


# =========================================================================== C9
@register("C9", theorem="Prop 3.8, Remark F.1", test="tests/test_rich_checks.py",
          statement="Fourier construction: f_q = 4p·1(n+m≡q) to 1e-10 for p in 2..31; duplication "
                    "keeps f with ‖θ‖∞ = c^{-1/3}; 4p−3 variant exact for odd p; regression scaling exact")
def c9(quick: bool = True) -> CheckResult:
    """Max errors of the construction and its variants over all inputs, p = 2..31
    (quick: duplication c = 2 only and the regression scaling for p <= 13)."""
    ps = range(2, 32)
    worst = {"8p": 0.0, "dup": 0.0, "4p-3": 0.0, "regression": 0.0, "norm": 0.0}
    for p in ps:
        pop = Task(p).population()
        target = 4.0 * p * torch.nn.functional.one_hot(pop.y, p).double()
        net = fourier_interpolator(p)
        f = net(pop.x)
        worst["8p"] = max(worst["8p"], float((f - target).abs().max()))
        worst["norm"] = max(worst["norm"], abs(net.theta_inf() - 1.0),
                            abs(float(net.W.abs().max()) - 1), abs(float(net.V.abs().max()) - 1))
        for c in ((2,) if quick else (2, 3)):
            d = fourier_interpolator(p, h=8 * p * c + (p % 3))
            worst["dup"] = max(worst["dup"], float((d(pop.x) - f).abs().max()))
            worst["norm"] = max(worst["norm"], abs(d.theta_inf() - c ** (-1 / 3)))
        if p % 2:
            s = fourier_interpolator(p, variant="4p-3")
            assert s.h == 4 * p - 3
            worst["4p-3"] = max(worst["4p-3"], float((s(pop.x) - target).abs().max()))
        if quick and p > 13:
            continue  # the regression rescaling is checked on p <= 13 in quick mode
        rpop = Task(p, "regression").population()
        r = fourier_interpolator(p, target="regression")
        worst["regression"] = max(worst["regression"], float((r.regression(rpop.x) - rpop.y).abs().max()))
        worst["norm"] = max(worst["norm"], abs(r.theta_inf() - 4 ** (-1 / 3)))
    m = max(worst.values())
    return CheckResult("C9", "Prop 3.8, Remark F.1", m, 1e-10, "<=", m <= 1e-10,
                       {"max_abs_error": worst, "p_range": [2, 31]})


# =========================================================================== C10
@register("C10", theorem="Prop 3.8, Sec. 4.2 (margins)", test="tests/test_rich_checks.py",
          statement="construction has q_min = 4p at ‖θ‖∞ = 1 (normalized ℓ∞ margin 4p); "
                    "q_min(cθ) = c³ q_min(θ)")
def c10(quick: bool = True) -> CheckResult:
    """Relative deviations from q_min = 4p and from 3-homogeneity of the margin."""
    dev_margin, dev_homog = 0.0, 0.0
    per_p = {}
    for p in range(2, 32):
        pop = Task(p).population()
        net = fourier_interpolator(p)
        q = float(margins(net(pop.x), pop.y).min())
        per_p[p] = q
        dev_margin = max(dev_margin, abs(q - 4 * p) / (4 * p))
        # duplicated construction: same margin, smaller norm → normalized margin 4p·c
        d = fourier_interpolator(p, h=16 * p)
        qd = float(margins(d(pop.x), pop.y).min())
        dev_margin = max(dev_margin, abs(qd / d.theta_inf() ** 3 - 8 * p) / (8 * p))
    gen = torch.Generator().manual_seed(0)
    for p in (5, 8, 13):
        pop = Task(p).population()
        net = QuadraticNet.init(p, 3 * p, seed=p)
        q = margins(net(pop.x), pop.y).min()
        for c in (0.3, 2.0, 7.5, float(torch.rand(1, generator=gen)) * 3 + 0.1):
            qc = margins(QuadraticNet(c * net.W, c * net.V)(pop.x), pop.y).min()
            dev_homog = max(dev_homog, float((qc - c**3 * q).abs() / (c**3 * q).abs()))
    m = max(dev_margin, dev_homog)
    return CheckResult("C10", "Prop 3.8, Sec. 4.2", m, 1e-12, "<=", m <= 1e-12,
                       {"rel_dev_margin_4p": dev_margin, "rel_dev_homogeneity": dev_homog,
                        "q_min_by_p": per_p})


# =========================================================================== C12
@register("C12", theorem="Lemma E.1 (corrected Q3 = (−W/2; −V))", test="tests/test_rich_checks.py",
          statement="single neuron = Σ_i ⟨U_i, x⟩³ to 1e-10 with the corrected sign; the printed sign "
                    "fails; ‖U‖∞ = (2/9)^{1/3} max(‖W‖∞, ‖V‖∞)")
def c12(quick: bool = True) -> CheckResult:
    """Max error of the E.1 identity over all 3-hot inputs for random neurons."""
    gen = torch.Generator().manual_seed(12)
    err, err_printed, err_norm = 0.0, math.inf, 0.0
    for p in (3, 5, 7, 11):
        x = Task(p, "regression").population().x
        for _ in range(5):
            w = torch.randn(2 * p, generator=gen, dtype=torch.float64) * 2
            v = torch.randn(p, generator=gen, dtype=torch.float64)
            neuron = v[x[:, 2]] * (w[x[:, 0]] + w[p + x[:, 1]]) ** 2
            U = upper.lemma_e1_decomposition(w, v)
            err = max(err, float((upper.cubic_sum(U, x) - neuron).abs().max() / neuron.abs().max()))
            Up = upper.lemma_e1_decomposition(w, v, printed_sign=True)
            err_printed = min(err_printed, float((upper.cubic_sum(Up, x) - neuron).abs().max()
                                                 / neuron.abs().max()))
            want = (2 / 9) ** (1 / 3) * max(float(w.abs().max()), float(v.abs().max()))
            err_norm = max(err_norm, abs(float(U.abs().max()) - want))
    holds = err <= 1e-10 and err_norm <= 1e-12 and err_printed > 1e-3
    return CheckResult("C12", "Lemma E.1", err, 1e-10, "<=", holds,
                       {"rel_error_corrected": err, "min_rel_error_printed_sign": err_printed,
                        "norm_identity_error": err_norm})


# =========================================================================== C12b (Lemma E.2)
def empirical_rademacher_cubic(x: torch.Tensor, p: int, r: float, *, draws: int = 32, restarts: int = 16,
                               iters: int = 150, seed: int = 0) -> torch.Tensor:
    """Monte-Carlo estimate of the empirical Rademacher complexity of ``G_r`` (Lemma E.2)
    on the 3-hot inputs ``x`` (n, 3): for each of ``draws`` sign vectors ``s``,
    ``sup_{‖U‖_∞ ≤ r} (1/n) Σ_j s_j Σ_{i≤4} ⟨U_i, x_j⟩³ = 4 sup_{‖u‖_∞ ≤ r} (1/n) Σ_j s_j ⟨u, x_j⟩³``
    (the four ``U_i`` decouple), the inner sup found by projected gradient ascent from
    ``restarts`` random starts (vertices and interior points) plus the box's best vertex
    seen. The optimiser can only miss the sup, so each value is a lower estimate of the
    per-draw sup. Returns the ``draws`` values.
    """
    gen = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    cols = torch.stack([x[:, 0], p + x[:, 1], 2 * p + x[:, 2]], dim=1)      # (n, 3)
    A = torch.zeros(n, 3 * p, dtype=torch.float64)
    A.scatter_(1, cols, 1.0)
    s = torch.randint(2, (draws, n), generator=gen).double() * 2 - 1        # (S, n)
    u = (torch.rand(draws, restarts, 3 * p, generator=gen, dtype=torch.float64) * 2 - 1) * r
    u[:, : restarts // 2] = torch.sign(u[:, : restarts // 2]) * r          # half start at vertices
    lr = 0.5 * r / 27.0
    best = torch.zeros(draws, dtype=torch.float64)                          # u = 0 gives 0
    for _ in range(iters):
        z = u @ A.t()                                                       # (S, M, n)
        val = (s[:, None, :] * z**3).mean(dim=2)                             # (S, M)
        best = torch.maximum(best, val.max(dim=1).values)
        grad = (3 * s[:, None, :] * z**2 / n) @ A                            # (S, M, 3p)
        u = (u + lr * n * grad / 3).clamp(-r, r)
    z = u @ A.t()
    best = torch.maximum(best, (s[:, None, :] * z**3).mean(dim=2).max(dim=1).values)
    return 4 * best


@register("C12b", theorem="Lemma E.2 (Rademacher complexity of G_r)", test="tests/test_rich_checks.py",
          statement="Monte-Carlo empirical Rademacher complexity of G_r ≤ 324 r³ √p / √n")
def c12b(quick: bool = True) -> CheckResult:
    """Upper confidence limit (mean + 3 s.e.) of the MC estimate vs Lemma E.2's bound."""
    cases = [(3, 20), (5, 40), (7, 100)] if quick else [(3, 20), (5, 40), (7, 100), (11, 300), (13, 1000)]
    worst_ratio, details = 0.0, []
    for i, (p, n) in enumerate(cases):
        gen = torch.Generator().manual_seed(100 + i)
        x = torch.randint(p, (n, 3), generator=gen)
        est = empirical_rademacher_cubic(x, p, 1.0, draws=24 if quick else 64, seed=i)
        ucl = float(est.mean() + 3 * est.std() / math.sqrt(len(est)))
        bound = upper.lemma_e2_rademacher(p, n, 1.0)
        worst_ratio = max(worst_ratio, ucl / bound)
        details.append({"p": p, "n": n, "mc_mean": float(est.mean()), "mc_ucl": ucl, "bound": bound,
                        "ratio": ucl / bound})
    return CheckResult("C12b", "Lemma E.2", worst_ratio, 1.0, "<=", worst_ratio <= 1.0,
                       {"cases": details, "note": "MC values are lower estimates of each sup; the "
                        "check can only falsify the bound, and the bound is loose by the ratio shown"})


# =========================================================================== C13
#: Weight laws C13 perturbs: "uniform" (entries i.i.d. U[−r, r]) and "adversarial" (every
#: first-layer entry r, so every pre-activation is (Wx)_j = 2r, the largest |(Wx)_j| allowed
#: by ‖W‖_∞ ≤ r, and second-layer entries ±r): this maximises the variance σ²Σ_j (Wx)_j⁴
#: of Lemma G.10's Gaussian and of G.11's linear part, so those bounds are tested where
#: they are tightest.
C13_WEIGHTS = ("uniform", "adversarial")
#: Binomial margin of C13: a bound fails only if it is exceeded in more than
#: Nδ + C13_Z·√(Nδ(1−δ)) of N draws (one-sided, ≈ 3e-5 for a valid bound).
C13_Z = 4.0


def _c13_weights(p: int, width: int, r: float, weights: str, gen: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """A width-``width`` net with ‖θ‖_∞ ≤ r, doubled to zero-sum rows (W → [W; W], V → [V, −V])."""
    if weights == "uniform":
        W1 = (torch.rand(width, 2 * p, generator=gen, dtype=torch.float64) * 2 - 1) * r
        V1 = (torch.rand(p, width, generator=gen, dtype=torch.float64) * 2 - 1) * r
    elif weights == "adversarial":
        W1 = torch.full((width, 2 * p), float(r), dtype=torch.float64)
        V1 = (torch.randint(2, (p, width), generator=gen).to(torch.float64) * 2 - 1) * r
    else:
        raise ValueError(f"weights={weights!r} is not allowed: choose one of {C13_WEIGHTS}")
    return torch.cat([W1, W1]), torch.cat([V1, -V1], dim=1)


@torch.no_grad()
def perturbation_samples(p: int, width: int, r: float, sigma: float, *, trials: int = 200,
                         seed: int = 0, weights: str = "uniform", total_trials: int | None = None,
                         batch: int = 2000) -> dict[str, torch.Tensor]:
    """Monte-Carlo draws of the perturbation terms of Thm 4.6's proof.

    A net of width ``width`` with ‖θ‖_∞ ≤ r (``weights``: see :data:`C13_WEIGHTS`) is
    doubled to ``h = 2·width`` with zero-sum ``V`` rows; then i.i.d. ``N(0, σ²)`` noise
    W̃, Ṽ on the parameters gives, at the input x = (0, 0) and c = 0 (``trials`` draws
    of the entries they involve: W̃'s columns a = 0 and p + b = p, and Ṽ's row 0),

    * ``g10``: ``|Ṽ_c (Wx)²|`` (Lemma G.10, V-noise only),
    * ``g11``: ``|V_c((W+W̃)x)² − V_c(Wx)²|`` (Lemma G.11),
    * ``g12``: ``|Ṽ_c (W̃x)²|`` (Lemma G.12, θ = 0),
    * ``g13``: ``|Ṽ_c ((W+W̃)x)²|`` (Lemma G.13),

    and, from ``total_trials`` (default ``trials``; 0 to skip) draws of noise on every
    parameter, ``total``: ``max_{x, c} |f_c(θ + u; x) − f_c(θ; x)|`` over all ``p²`` inputs
    and ``p`` outputs. Returns float64 tensors of shape (trials,) / (total_trials,), and ``h``.
    """
    gen = torch.Generator().manual_seed(int(seed))
    W, V = _c13_weights(p, width, r, weights, gen)
    h = 2 * width
    x = Task(p).population().x
    z0 = QuadraticNet.hidden(W, x[:1])[0]                 # (h,) at x = (0, 0)
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("g10", "g11", "g12", "g13", "total")}
    done = 0
    while done < trials:
        B = min(batch, trials - done)
        Wa, Wb = (torch.randn(B, h, generator=gen, dtype=torch.float64) * sigma for _ in range(2))
        v0 = torch.randn(B, h, generator=gen, dtype=torch.float64) * sigma
        zn = Wa + Wb                                      # (B, h): W̃x at x = (0, 0)
        out["g10"].append((v0 * z0**2).sum(1).abs())
        out["g11"].append((V[0] * ((z0 + zn) ** 2 - z0**2)).sum(1).abs())
        out["g12"].append((v0 * zn**2).sum(1).abs())
        out["g13"].append((v0 * (z0 + zn) ** 2).sum(1).abs())
        done += B
    total_trials = trials if total_trials is None else total_trials
    f0 = QuadraticNet.apply({"W": W, "V": V}, x)          # (p², p)
    tbatch = max(1, min(batch, 8_000_000 // (h * p * p)))  # keep (B, h, p²) near 64 MB
    done = 0
    while done < total_trials:
        B = min(tbatch, total_trials - done)
        Wp = W + torch.randn(B, h, 2 * p, generator=gen, dtype=torch.float64) * sigma
        Vp = V + torch.randn(B, p, h, generator=gen, dtype=torch.float64) * sigma
        Z = Wp[:, :, x[:, 0]] + Wp[:, :, p + x[:, 1]]      # (B, h, p²)
        f = torch.einsum("bch,bhx->bxc", Vp, Z * Z)
        out["total"].append((f - f0).abs().amax(dim=(1, 2)))
        done += B
    res = {k: torch.cat(v) for k, v in out.items() if v}
    res["h"] = torch.tensor(h)
    return res


def exceedance_test(samples: torch.Tensor, bound: float, delta: float, z: float = C13_Z) -> dict[str, float]:
    """Does ``bound`` hold with probability ≥ 1 − δ, judged from i.i.d. ``samples``?

    ``fails`` is True iff the number k of samples above ``bound`` exceeds
    ``Nδ + z·√(Nδ(1−δ))`` (one-sided binomial margin). Equivalently (up to one draw), ``q_lo`` (the order
    statistic at rank ``N(1−δ) − z·√(Nδ(1−δ))``, a lower confidence value for the
    (1−δ)-quantile) is above the bound. Also returns the empirical (1−δ)-quantile ``q``.
    """
    N = samples.numel()
    sd = math.sqrt(N * delta * (1 - delta))
    k = int((samples > bound).sum())
    srt = torch.sort(samples).values
    lo_rank = min(N - 1, max(0, math.floor(N * (1 - delta) - z * sd)))
    q_lo = float(srt[lo_rank])
    return {"q": float(torch.quantile(samples, 1 - delta)), "q_lo": q_lo, "bound": bound,
            "ratio": float(torch.quantile(samples, 1 - delta)) / bound, "ratio_lo": q_lo / bound,
            "exceed_frac": k / N, "exceed_z": (k - N * delta) / sd, "fails": k > N * delta + z * sd}


def perturbation_quantiles(p: int, width: int, r: float, sigma: float, delta: float, *, trials: int = 200,
                           seed: int = 0, weights: str = "uniform") -> dict[str, float]:
    """Empirical (1−δ)-quantiles of :func:`perturbation_samples` (and ``h``)."""
    s = perturbation_samples(p, width, r, sigma, trials=trials, seed=seed, weights=weights)
    q = {k: float(torch.quantile(v, 1 - delta)) for k, v in s.items() if k != "h"}
    q["h"] = int(s["h"])
    return q


def c13_bounds(p: int, h: int, r: float, sigma: float, delta: float) -> dict[str, float]:
    """The bounds C13 compares with: G.10 (corrected √2), G.11, G.12, G.13 and the union bound."""
    return {"g10": upper.lemma_g10_bound(h, r, sigma, delta),
            "g11": upper.lemma_g11_bound(h, r, sigma, delta),
            "g12": upper.lemma_g12_bound(h, sigma, delta),
            "g13": upper.lemma_g13_bound(h, r, sigma, delta),
            "total": upper.perturbation_bound(p, h, r, sigma, delta)}


@register("C13", theorem="Thm 4.6 proof (Lemmas G.10-G.13, union bound)", test="tests/test_rich_checks.py",
          statement="for uniform and worst-case (adversarial) weights, at δ down to 0.01: no perturbation "
                    "term exceeds its lemma bound (G.10 with the corrected √2) or max_{x,c}|Δf| the union "
                    "bound in more than Nδ + 4√(Nδ(1−δ)) of N draws; the printed G.10 is refuted")
def c13(quick: bool = True) -> CheckResult:
    """``measured`` = max over lemmas, weights, σ regimes, δ and p of q_lo / bound, where q_lo is
    a lower 4-SD confidence value of the empirical (1−δ)-quantile (:func:`exceedance_test`);
    FAIL iff > 1. Power control: with the adversarial W, Lemma G.10's *printed* constant
    (no √2) must be refuted at the smallest δ (else the check could not have seen it, and FAILS).
    """
    if quick:   # 20000 draws of the single-output terms g10..g13, 2000 of the full max_{x,c} |Δf|
        return _c13_result([(5, 48)], (0.1, 0.01), trials=20_000, total_trials=2_000)
    return _c13_result([(5, 48), (7, 64), (11, 96)], (0.1, 0.05, 0.01, 0.001), trials=100_000,
                       total_trials=20_000)


def _c13_result(cases: list[tuple[int, int]], deltas: tuple[float, ...], *, trials: int,
                total_trials: int, sigmas: tuple[float, ...] = (0.03, 0.3, 1.5),
                weights_laws: tuple[str, ...] = C13_WEIGHTS) -> CheckResult:
    """C13 on the given (p, width) cases, confidence levels and draw counts (see :func:`c13`)."""
    r = 1.0
    worst, details = 0.0, []
    printed_refuted = True
    printed_rows = []
    for p, width in cases:
        for weights in weights_laws:
            for sigma in sigmas:                 # r²σ-, rσ²- and σ³-dominated regimes
                smp = perturbation_samples(p, width, r, sigma, trials=trials, seed=p, weights=weights,
                                           total_trials=total_trials)
                h = int(smp["h"])
                for delta in deltas:
                    tests = {k: exceedance_test(smp[k], b, delta)
                             for k, b in c13_bounds(p, h, r, sigma, delta).items() if k in smp}
                    worst = max(worst, *(t["ratio_lo"] for t in tests.values()))
                    details.append({"p": p, "h": h, "weights": weights, "sigma": sigma, "delta": delta,
                                    "quantiles": {k: t["q"] for k, t in tests.items()},
                                    "bounds": {k: t["bound"] for k, t in tests.items()},
                                    "ratios": {k: t["ratio"] for k, t in tests.items()},
                                    "ratios_lo": {k: t["ratio_lo"] for k, t in tests.items()},
                                    "fails": sorted(k for k, t in tests.items() if t["fails"])})
                    if weights == "adversarial":
                        pr = exceedance_test(smp["g10"], upper.lemma_g10_bound(h, r, sigma, delta, printed=True),
                                             delta)
                        printed_rows.append({"p": p, "sigma": sigma, "delta": delta, **pr})
                        if delta == min(deltas):
                            printed_refuted &= bool(pr["fails"])
    printed_refuted &= bool(printed_rows)
    holds = worst <= 1.0 and printed_refuted
    return CheckResult("C13", "Thm 4.6 (G.10-G.13)", worst, 1.0, "<=", holds,
                       {"deltas": list(deltas), "trials": trials, "total_trials": total_trials,
                        "weights": list(weights_laws),
                        "margin": f"binomial: a bound fails if exceeded in > Nδ + {C13_Z:g}·√(Nδ(1−δ)) "
                                  "of N draws (measured: lower 4-SD order statistic / bound)",
                        "cases": details,
                        "erratum_g10_printed": {"refuted_at_smallest_delta": printed_refuted,
                                                "rows": printed_rows,
                                                "note": "printed 4r²σ√(h log(2/δ)) lacks √2; exact "
                                                        "failure for δ < 0.0629 (worst-case W)"}})


# =========================================================================== C14
def _n_nonvacuous(bound_at: Callable[[int], float], level: float) -> float:
    """Smallest n (to 1%) at which ``bound_at(n)`` drops below ``level`` (``inf`` if never
    below 1e30): the sample size at which a vacuous bound would start to say something."""
    if math.isinf(bound_at(2)):
        return math.inf
    lo, hi = 2, 4
    while bound_at(hi) >= level:
        lo, hi = hi, hi * 2
        if hi > 10**30:
            return math.inf
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        if bound_at(mid) >= level:
            lo = mid
        else:
            hi = mid
    return float(hi)


def _train_classifier(p: int, n: int, width: int, steps: int, seed: int):
    from regimes.train import TrainConfig, train

    split = sample_split(Task(p), n=n, seed=seed)
    net = QuadraticNet.init(p, width, seed=seed)
    res = train(net, split.train, TrainConfig(steps=steps, lr=0.05, optimizer="adam", loss="cross_entropy",
                                              lam_inf=1e-4, eval_every=steps))
    return split, res


def _train_regressor(p: int, n: int, width: int, steps: int, seed: int):
    from regimes.train import TrainConfig, train

    split = sample_split(Task(p, "regression"), n=n, seed=seed)
    net = QuadraticNet.init(p, width, seed=seed)
    res = train(net, split.train, TrainConfig(steps=steps, lr=0.02, optimizer="adam", lam_inf=1e-4,
                                              eval_every=steps))
    return split, res


@register("C14", theorem="Prop 3.7, Thm 3.6, 4.5, 4.6", test="tests/test_rich_checks.py",
          statement="bounds evaluated for trained interpolators: held-out error ≤ bound where the bound "
                    "is < 1 (or < L(Ψ0) = p for regression); VACUOUS, with the n at which it would bite, "
                    "otherwise")
def c14(quick: bool = True) -> CheckResult:
    """Trains one classifier (p = 11) and one regressor (p = 5) and evaluates every
    rich-regime bound on them.

    ``measured`` is the classifier's **held-out** 0-1 error: over the pairs not in its
    training set (for an interpolator this is at least the population error that
    Thm 4.6 bounds, so comparing it with the bound is conservative). The regressor's
    held-out square loss is over the triples not in its training set. A bound that is
    ≥ 1 (classification) or ≥ L(Ψ₀) = p (regression) says nothing: if every bound is
    vacuous the verdict is VACUOUS and ``details["n_for_nonvacuous"]`` gives the sample
    size at which each would start to bite; otherwise PASS/FAIL on the non-vacuous ones.
    A classifier that does not interpolate (Thm 4.6 needs a positive margin) makes the
    classification half INCONCLUSIVE.
    """
    delta = 0.05
    pc, wc = 11, 88
    nc = int(2 * pc ** (5 / 3))
    split, res = _train_classifier(pc, nc, wc, 400 if quick else 2000, seed=0)
    net = res.net
    qtr = margins(net(split.train.x), split.train.y)
    r = net.theta_inf()
    gamma = float(qtr.min()) * (1 - 1e-9)
    interp = bool(gamma > 0)
    held = split.test          # the complement of the distinct training pairs
    heldout_err = float((net(held.x).argmax(1) != held.y).double().mean())
    pop_err = float((net(split.population.x).argmax(1) != split.population.y).double().mean())
    cls = {"p": pc, "n": nc, "width": wc, "train_acc": res.final["train_acc"], "interpolates": interp,
           "heldout_err": heldout_err, "heldout_n": len(held), "population_err": pop_err, "r": r}
    n_for: dict[str, float] = {}
    verdicts: dict[str, str] = {}
    if interp:
        l2sq = 2 * float((net.W**2).sum() + (net.V**2).sum())     # doubled net
        b46 = upper.thm_4_6_bound(pc, nc, wc, r, gamma, delta, theta_l2_sq=l2sq)
        b46_paper = upper.thm_4_6_paper_form(pc, nc, wc, r, gamma, delta)
        b45 = upper.thm_4_5_bound(pc, nc, wc, delta, norm_margin=gamma / r**3)
        n_for["thm_4_6"] = _n_nonvacuous(lambda n: upper.thm_4_6_bound(pc, n, wc, r, gamma, delta), 1.0)
        cls.update(gamma=gamma, norm_margin=gamma / r**3, thm_4_6=b46, thm_4_6_paper_form=b46_paper,
                   thm_4_5=b45, construction_thm_4_5=upper.thm_4_5_bound(pc, nc, wc, delta))
        verdicts["thm_4_6"] = "VACUOUS" if b46 >= 1 else ("PASS" if heldout_err <= b46 else "FAIL")
    else:
        verdicts["thm_4_6"] = "INCONCLUSIVE"
    # regression (Prop 3.7 / Thm 3.6): held-out square loss vs bound, relative to L(Ψ0) = p
    pr, wr = 5, 40
    nr = int(2 * pr**2.25)
    rsplit, rres = _train_regressor(pr, nr, wr, 600 if quick else 3000, seed=1)
    g_held = rres.net.regression(rsplit.test.x)
    heldout_loss = float(((g_held - rsplit.test.y) ** 2).mean())
    g = rres.net.regression(rsplit.population.x)
    pop_loss = float(((g - rsplit.population.y) ** 2).mean())
    R = rres.net.theta_inf()
    emp = rres.final["train_loss"]
    b37 = upper.prop_3_7_loss_bound(pr, nr, wr, R, delta, emp_loss=emp)
    b36 = upper.thm_3_6_bound(pr, nr, wr, delta)
    n_for["prop_3_7"] = _n_nonvacuous(lambda n: upper.prop_3_7_loss_bound(pr, n, wr, R, delta, emp_loss=emp), pr)
    reg = {"p": pr, "n": nr, "width": wr, "train_loss": emp, "heldout_loss": heldout_loss,
           "heldout_n": len(rsplit.test), "population_loss": pop_loss, "loss_zero_predictor": pr, "R": R,
           "prop_3_7_K1": b37, "thm_3_6_K1": b36,
           "note": "K (Srebro et al.'s constant) is unknown; K = 1 is optimistic"}
    verdicts["prop_3_7"] = "VACUOUS" if b37 >= pr else ("PASS" if heldout_loss <= b37 else "FAIL")
    decided = [v for v in verdicts.values() if v in ("PASS", "FAIL")]
    if "FAIL" in decided:
        verdict = "FAIL"
    elif decided:
        verdict = "PASS"
    elif "INCONCLUSIVE" in verdicts.values():
        verdict = "INCONCLUSIVE"
    else:
        verdict = "VACUOUS"
    holds = {"PASS": True, "FAIL": False}.get(verdict)
    return CheckResult("C14", "Prop 3.7, Thm 3.6, 4.5, 4.6", heldout_err, cls.get("thm_4_6", math.inf), "<=",
                       holds, {"classification": cls, "regression": reg, "verdicts": verdicts,
                               "n_for_nonvacuous": n_for}, verdict=verdict)
