"""T1–T3 — the textbook chapter on grokking: the delay against weight decay, the delay against
the data fraction, and the weight norm at the transition.

The chapter (the textbook chapter on grokking, sections "Weight Decay as the Driver",
"Grokking as a Phase Transition", "Measures of Grokking" and Worked Examples 2 and 3) uses
the measures t_mem (first step at 100 % training accuracy), t_grok (first step at ≥ 90 %
held-out accuracy) and the grokking gap Δt = t_grok − t_mem, and says:

* **T1** (Example 2): "Δt ∝ 1/γ (approximately)" in the moderate weight-decay regime, γ the
  weight-decay coefficient. Operationalized: the log-log slope of Δt against γ, fitted over
  ≥ 4 values of γ spanning ≥ one decade and ≥ 3 seeds per γ, with a 95 % percentile cluster
  bootstrap over seeds (:func:`regimes.stats.fit_exponent`; each run's Δt enters as its
  bracket from the evaluation grid). **PASS iff the interval contains −1; FAIL iff it
  excludes −1; INCONCLUSIVE if some γ has fewer than 3 runs that both memorised and grokked
  within the step budget** (the censored runs are counted in the details: dropping them biases
  the slope toward 0).
* **T2** ("Measures of Grokking"; Example 3; Pitfall 3): "a certain fraction of data (around
  40–60 %) maximizes the grokking gap" Δt. Operationalized: the seed-mean Δt at ≥ 5 training
  fractions, ≥ 3 seeds each; a cluster bootstrap over seeds (one draw of seed ids, used at
  every fraction) gives a distribution of the argmax fraction, and its central 95 % range is
  the interval. Only fractions at which every seed memorised and grokked within the budget
  enter the argmax; the others are *censored* (their Δt exceeds the budget or is undefined).
  **PASS iff the interval lies inside [0.4, 0.6] and no fraction outside [0.4, 0.6] is
  censored; FAIL iff the interval lies outside [0.4, 0.6] and no fraction inside it is
  censored; INCONCLUSIVE otherwise** (interval straddling the band, a censored fraction that
  could hold the largest gap on the other side, or fewer than 3 grokking fractions).
* **T3** ("Key dynamic"; "Grokking as a Phase Transition"): weight decay shrinks ‖θ‖ until it
  crosses a critical norm ‖θ‖_c, where the network falls into the generalizing basin.
  Operationalized on T1's runs (one fraction, ≥ 4 γ, ≥ 3 seeds; ‖θ‖₂ over all entries of W
  and V, recorded at every evaluation): (a) the norm falls over the plateau,
  ‖θ(t_grok)‖ < ‖θ(t_mem)‖; (b) the norm at t_grok is about the same in every run, i.e.
  more concentrated across runs than the norm at t_mem: R = CV(‖θ(t_grok)‖)/CV(‖θ(t_mem)‖)
  < 1 (CV = standard deviation / mean over runs), with a 95 % percentile cluster bootstrap
  over seeds. **PASS iff (a) holds in every grokked run and the interval of R lies below 1;
  FAIL iff (a) fails in more than half of the grokked runs or the interval of R lies above 1;
  INCONCLUSIVE otherwise, or if some γ has fewer than 3 grokked runs.** These rules were
  written down from the chapter's text before the check's grid was run; a 12-run pilot at
  the same setting (used to choose the step budget) is the only earlier measurement.

Setting (:data:`regimes.settings.textbook.TEXTBOOK_RUN`): the quadratic net of the central paper
(h = 4p, PyTorch's default init), full-batch AdamW (lr 3e-3, β = (0.9, 0.999)), cross-entropy,
float64, p = 23, trained with :func:`regimes.batched.train_batched` (all γ and seeds of one
fraction in one stack) by :func:`regimes.runs.textbook_runs`, which stores each grid once
(:func:`regimes.runcache.cached`): the checks read experiment 14's stored runs, and T1 and T3
share theirs. The grids are :data:`regimes.settings.grids.T1` (T1, T3) and
:data:`~regimes.settings.grids.T2`, read by experiment 14's bottom row too; metrics every
``eval_every`` steps on the held-out pairs only. T1/T3 train at
fraction 0.7, T2 at γ = 3: in a pilot at p = 23 no fraction ≤ 0.6 grokked within 2,000 steps
at γ = 1, and γ = 3 (the largest γ of T1's quick grid, the fastest clock) lets the most
fractions grok within the quick budget. The chapter's own
setting is a 1–2 layer transformer at p = 97; the quadratic net is the central paper's model
and the one experiment 14 uses. The slingshot claim (Hessian eigenvalue clusters) is not
checked here: see ``proofs/textbook.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from regimes.checks import CheckResult, register
from regimes.settings.textbook import T2_BAND
from regimes.stats import roundoff_spread

__all__ = ["t1", "t1_runs", "t1_verdict", "t2", "t2_runs", "t2_verdict", "t3", "t3_verdict"]


# --------------------------------------------------------------------------- verdicts
def _cv(x: np.ndarray) -> float:
    """Coefficient of variation std/mean (ddof = 1) of the values ``x`` (NaN for < 2 values).

    Exactly 0 when the deviations from the mean are round-off, ‖x − x̄‖₂ ≤ 4·n·eps·‖x‖₂ (float64
    eps): equal values (a bootstrap resample that drew one seed) leave ulp residues around their
    computed mean, whose std is not a spread, and a ratio of two such CVs is round-off over
    round-off."""
    if x.size < 2:
        return math.nan
    if roundoff_spread(x):
        return 0.0
    return float(np.std(x, ddof=1) / np.mean(x))


def t1_verdict(rows: Sequence[dict[str, Any]], *, target: float = -1.0, min_seeds: int = 3,
               confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The T1 verdict from per-run rows (keys ``weight_decay``, ``seed``, ``gap``, ``gap_low``,
    ``gap_high``, ``censored``; as :func:`regimes.runs.textbook_runs` gives).

    Fits log Δt = a + β log γ over the uncensored runs with :func:`regimes.stats.fit_exponent`
    (clusters = seeds; each Δt enters as its bracket [max(gap_low, 1), gap_high], or the exact
    ``gap`` when no bracket is given). Verdict: INCONCLUSIVE if some γ has fewer than
    ``min_seeds`` uncensored runs or the interval is undefined; PASS iff low ≤ ``target`` ≤ high
    (the chapter's Δt ∝ 1/γ: target −1); FAIL otherwise. Returns the verdict, the fit
    (``fit``), per-γ seed-mean gaps with t intervals (``per_wd``) and the censored count.

    Raises ``ValueError`` if ``rows`` spans fewer than 2 weight decays, or a γ ≤ 0.
    """
    from regimes.stats import fit_exponent, mean_ci

    rows = list(rows)
    wds = sorted({float(r["weight_decay"]) for r in rows})
    if len(wds) < 2:
        raise ValueError(f"rows span weight decays {wds}: need at least 2 distinct γ > 0 for a slope")
    if wds[0] <= 0:
        raise ValueError(f"rows contain weight_decay={wds[0]!r}: a log-log fit needs γ > 0")
    per_wd = {}
    for w in wds:
        gaps = [float(r["gap"]) for r in rows if float(r["weight_decay"]) == w and not r["censored"]]
        per_wd[w] = {"n_runs": sum(float(r["weight_decay"]) == w for r in rows), "n_grokked": len(gaps),
                     **(mean_ci(gaps).as_dict() if gaps else {"estimate": None})}
    cens = np.array([bool(r["censored"]) for r in rows])
    hi = np.array([np.nan if c else float(r["gap_high"] if r.get("gap_high") is not None else r["gap"])
                   for r, c in zip(rows, cens, strict=True)])
    lo = np.array([np.nan if c else max(float(r["gap_low"] if r.get("gap_low") is not None else r["gap"]), 1.0)
                   for r, c in zip(rows, cens, strict=True)])
    lo = np.minimum(lo, hi)
    fit = fit_exponent([float(r["weight_decay"]) for r in rows], hi, [r["seed"] for r in rows], censored=cens,
                       n_min=lo, confidence=confidence, n_boot=n_boot, seed=seed).as_dict()
    short = [w for w, v in per_wd.items() if v["n_grokked"] < min_seeds]
    if short or not (math.isfinite(fit["low"]) and math.isfinite(fit["high"])):
        verdict = "INCONCLUSIVE"
    else:
        verdict = "PASS" if fit["low"] <= target <= fit["high"] else "FAIL"
    return {"verdict": verdict, "fit": fit, "per_wd": per_wd, "target": target, "n_censored": int(cens.sum()),
            "n_runs": len(rows), "wds_short_of_seeds": short,
            "rule": f"PASS iff the {confidence:.0%} cluster-bootstrap interval of the log-log slope of "
                    f"t_grok − t_mem against γ contains {target:g}; FAIL iff it excludes it; INCONCLUSIVE if "
                    f"some γ has fewer than {min_seeds} runs that memorised and grokked"}


def t2_verdict(rows: Sequence[dict[str, Any]], *, band: tuple[float, float] = T2_BAND, min_fractions: int = 3,
               confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The T2 verdict from per-run rows (keys ``fraction``, ``seed``, ``gap``, ``censored``).

    A fraction is *censored* if any of its runs is (never memorised, never grokked within the
    budget, or no positive gap); the others enter the argmax of the seed-mean gap. The
    interval is the central ``confidence`` range of the argmax over ``n_boot`` cluster
    resamples (seed ids drawn with replacement, one draw used at every fraction; a seed missing
    at some fraction is not allowed). Verdict (``band`` = [lo, hi]):

    * INCONCLUSIVE if fewer than ``min_fractions`` fractions are uncensored;
    * PASS iff the interval ⊂ band and no censored fraction lies outside the band;
    * FAIL iff the interval ∩ band = ∅ and no censored fraction lies inside the band;
    * INCONCLUSIVE otherwise.

    Returns the verdict, ``argmax`` (the fraction of the largest seed-mean gap), ``interval``,
    ``share_in_band`` (bootstrap share of argmaxes inside the band), ``per_fraction`` seed
    means with t intervals, and the censored fractions. Raises ``ValueError`` for an empty
    ``rows``, a band that is not 0 ≤ lo ≤ hi ≤ 1, or seeds that differ between fractions.
    """
    from regimes.stats import mean_ci

    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: need one row per (fraction, seed)")
    lo_b, hi_b = (float(b) for b in band)
    if not (0.0 <= lo_b <= hi_b <= 1.0):
        raise ValueError(f"band={band!r} is out of range: need 0 <= lo <= hi <= 1")
    fracs = sorted({float(r["fraction"]) for r in rows})
    seeds = sorted({r["seed"] for r in rows}, key=str)
    per_fraction: dict[float, dict[str, Any]] = {}
    table = {}
    for f in fracs:
        rr = {r["seed"]: r for r in rows if float(r["fraction"]) == f}
        if sorted(rr, key=str) != seeds:
            raise ValueError(f"fraction {f} has seeds {sorted(rr, key=str)}, the rows have {seeds}: the cluster "
                             "bootstrap needs every seed at every fraction")
        n_ok = sum(not rr[s]["censored"] for s in seeds)
        cens = n_ok < len(seeds)
        gaps = [float(rr[s]["gap"]) for s in seeds if not rr[s]["censored"]]
        per_fraction[f] = {"n_runs": len(seeds), "n_grokked": n_ok, "censored": cens,
                           **(mean_ci(gaps).as_dict() if gaps else {"estimate": None})}
        if not cens:
            table[f] = [float(rr[s]["gap"]) for s in seeds]
    in_band = [f for f in fracs if lo_b <= f <= hi_b]
    cens_in = [f for f in fracs if per_fraction[f]["censored"] and f in in_band]
    cens_out = [f for f in fracs if per_fraction[f]["censored"] and f not in in_band]
    out: dict[str, Any] = {"band": [lo_b, hi_b], "per_fraction": per_fraction, "censored_in_band": cens_in,
                           "censored_outside_band": cens_out, "argmax": None, "interval": [math.nan, math.nan],
                           "share_in_band": math.nan,
                           "rule": f"argmax of the seed-mean gap over fractions where every seed grokked; "
                                   f"{confidence:.0%} cluster-bootstrap range of the argmax; PASS iff inside "
                                   f"[{lo_b:g}, {hi_b:g}] with no censored fraction outside; FAIL iff outside "
                                   f"with no censored fraction inside; else INCONCLUSIVE"}
    if len(table) < min_fractions:
        return {**out, "verdict": "INCONCLUSIVE"}
    F = np.array(sorted(table))
    G = np.array([table[f] for f in F])            # (fractions, seeds)
    out["argmax"] = float(F[int(np.argmax(G.mean(1)))])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, G.shape[1], size=(n_boot, G.shape[1]))
    means = G[:, draws].mean(axis=2)               # (fractions, n_boot)
    arg = F[np.argmax(means, axis=0)]
    a, b = (float(v) for v in np.quantile(arg, [0.5 - confidence / 2, 0.5 + confidence / 2], method="nearest"))
    out["interval"] = [a, b]
    out["share_in_band"] = float(np.mean((arg >= lo_b) & (arg <= hi_b)))
    inside = lo_b <= a and b <= hi_b
    outside = b < lo_b or a > hi_b
    if inside and not cens_out:
        verdict = "PASS"
    elif outside and not cens_in:
        verdict = "FAIL"
    else:
        verdict = "INCONCLUSIVE"
    return {**out, "verdict": verdict}


def t3_verdict(rows: Sequence[dict[str, Any]], *, min_seeds: int = 3, confidence: float = 0.95,
               n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The T3 verdict from per-run rows (keys ``weight_decay``, ``seed``, ``theta_l2_mem``,
    ``theta_l2_grok``, ``censored``), over the runs that memorised and grokked.

    (a) ``shrinks``: runs with ‖θ(t_grok)‖ < ‖θ(t_mem)‖; (b) R = CV(‖θ(t_grok)‖)/CV(‖θ(t_mem)‖)
    over the runs, with a percentile cluster bootstrap over seeds (a drawn seed brings all its
    runs). PASS iff every run shrinks and the interval of R lies below 1; FAIL iff more than
    half of the runs do not shrink, or the interval of R lies above 1; INCONCLUSIVE if some γ
    has fewer than ``min_seeds`` grokked runs, or otherwise. Returns the verdict, ``ratio``
    (R), its ``interval``, the CVs, the shrink counts, and per-γ seed-mean norms.

    Raises ``ValueError`` for an empty ``rows``.
    """
    from regimes.stats import mean_ci

    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: need one row per run")
    wds = sorted({float(r["weight_decay"]) for r in rows})
    ok = [r for r in rows if not r["censored"]]
    per_wd = {}
    for w in wds:
        rr = [r for r in ok if float(r["weight_decay"]) == w]
        per_wd[w] = {"n_grokked": len(rr),
                     "theta_l2_mem": mean_ci([r["theta_l2_mem"] for r in rr]).as_dict() if rr else None,
                     "theta_l2_grok": mean_ci([r["theta_l2_grok"] for r in rr]).as_dict() if rr else None}
    out: dict[str, Any] = {"per_wd": per_wd, "n_runs": len(rows), "n_grokked": len(ok), "ratio": math.nan,
                           "interval": [math.nan, math.nan], "cv_mem": math.nan, "cv_grok": math.nan,
                           "n_shrink": sum(r["theta_l2_grok"] < r["theta_l2_mem"] for r in ok),
                           "rule": "PASS iff ‖θ(t_grok)‖ < ‖θ(t_mem)‖ in every grokked run and the "
                                   f"{confidence:.0%} cluster-bootstrap interval of CV(‖θ(t_grok)‖)/CV(‖θ(t_mem)‖) "
                                   "lies below 1; FAIL iff more than half of the runs do not shrink or the "
                                   "interval lies above 1; else INCONCLUSIVE"}
    if any(v["n_grokked"] < min_seeds for v in per_wd.values()) or len(ok) < 3:
        return {**out, "verdict": "INCONCLUSIVE"}
    mem = np.array([r["theta_l2_mem"] for r in ok], dtype=float)
    grok = np.array([r["theta_l2_grok"] for r in ok], dtype=float)
    sid = [r["seed"] for r in ok]
    ids = list(dict.fromkeys(sid))
    g = np.array([ids.index(s) for s in sid])
    cv_m, cv_g = _cv(mem), _cv(grok)
    ratio = cv_g / cv_m if cv_m > 0 else math.inf
    rng = np.random.default_rng(seed)
    rs = []
    for _ in range(n_boot):
        pick = np.concatenate([np.flatnonzero(g == j) for j in rng.integers(0, len(ids), size=len(ids))])
        cm, cg = _cv(mem[pick]), _cv(grok[pick])
        if cm > 0 and math.isfinite(cg):
            rs.append(cg / cm)
    lo, hi = ((float(v) for v in np.quantile(rs, [0.5 - confidence / 2, 0.5 + confidence / 2]))
              if rs else (math.nan, math.nan))
    n_shrink = int(np.sum(grok < mem))
    out.update(ratio=ratio, interval=[lo, hi], cv_mem=cv_m, cv_grok=cv_g, n_shrink=n_shrink,
               mean_change=float(np.mean(grok / mem - 1.0)))
    if n_shrink == len(ok) and hi < 1:
        verdict = "PASS"
    elif n_shrink < len(ok) / 2 or lo > 1:
        verdict = "FAIL"
    else:
        verdict = "INCONCLUSIVE"
    return {**out, "verdict": verdict}


# --------------------------------------------------------------------------- checks
def t1_runs(grid: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]]]:
    """The runs of a T1 grid (:data:`regimes.settings.grids.T1`): :func:`regimes.runs.textbook_runs`
    over its γ at its one fraction — the call experiment 14 makes, so both read one stored grid."""
    from regimes.runs import textbook_runs

    return textbook_runs(grid["wds"], [grid["fraction"]], grid["seeds"], grid["steps"],
                         eval_every=grid["eval_every"], run=grid["run"])


def t2_runs(grid: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]]]:
    """The runs of a T2 grid (:data:`regimes.settings.grids.T2`): its fractions at its one γ, as
    experiment 14 trains them."""
    from regimes.runs import textbook_runs

    return textbook_runs([grid["wd"]], grid["fractions"], grid["seeds"], grid["steps"],
                         eval_every=grid["eval_every"], run=grid["run"])


def _t1_rows(quick: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from regimes.settings.grids import T1, grid

    g = grid(T1, quick)
    wds = g["wds"]
    if len(wds) < 4 or max(wds) / min(wds) < 10 or len(g["seeds"]) < 3:
        raise ValueError(f"T1 grid {g!r} needs ≥ 4 γ spanning ≥ a decade and ≥ 3 seeds")
    return g, t1_runs(g)[0]


def _result(cid: str, theorem: str, measured: float, bound: float, relation: str, verdict: str,
            details: dict[str, Any]) -> CheckResult:
    return CheckResult(cid, theorem, measured, bound, relation, {"PASS": True, "FAIL": False}.get(verdict),
                       details, verdict=verdict)


@register("T1", theorem="textbook chapter on grokking, Example 2 (Δt ∝ 1/γ)",
          statement="AdamW, p = 23, ≥ 4 weight decays γ over ≥ a decade, ≥ 3 seeds: the 95% cluster-bootstrap "
                    "interval of the log-log slope of t_grok − t_mem against γ contains −1 (PASS) or excludes "
                    "it (FAIL); INCONCLUSIVE if some γ has < 3 runs that grokked within the budget",
          test="tests/test_textbook_checks.py")
def t1(quick: bool = True) -> CheckResult:
    """T1 over :data:`regimes.settings.grids.T1` (rule: :func:`t1_verdict`); ``measured`` is the
    fitted slope."""
    grid, rows = _t1_rows(quick)
    v = t1_verdict(rows)
    fit = v["fit"]
    return _result("T1", "textbook Example 2: Δt ∝ 1/γ", float(fit["estimate"]), -1.0, "CI ∋", v["verdict"],
                   {"grid": grid, "run": grid["run"], "rows": rows, **v,
                    "slope_interval": [fit["low"], fit["high"]]})


@register("T2", theorem="textbook chapter on grokking, Measures of Grokking; Example 3 (gap largest at 40–60 %)",
          statement="AdamW, p = 23, γ = 3, ≥ 5 training fractions, ≥ 3 seeds: the bootstrap range of the fraction "
                    "with the largest seed-mean t_grok − t_mem lies in [0.4, 0.6] (PASS) or outside it (FAIL); "
                    "INCONCLUSIVE if it straddles, or a fraction that never grokked could overturn it",
          test="tests/test_textbook_checks.py")
def t2(quick: bool = True) -> CheckResult:
    """T2 over :data:`regimes.settings.grids.T2` (rule: :func:`t2_verdict`); ``measured`` is the
    argmax fraction."""
    from regimes.settings.grids import T2
    from regimes.settings.grids import grid as pick

    grid = pick(T2, quick)
    if len(grid["fractions"]) < 5 or len(grid["seeds"]) < 3:
        raise ValueError(f"T2 grid {grid!r} needs ≥ 5 fractions and ≥ 3 seeds")
    rows, _ = t2_runs(grid)
    v = t2_verdict(rows)
    measured = math.nan if v["argmax"] is None else v["argmax"]
    return _result("T2", "textbook: gap largest at 40–60 % data", measured, 0.5, "in [0.4, 0.6]", v["verdict"],
                   {"grid": grid, "run": grid["run"], "rows": rows, **v})


@register("T3", theorem="textbook chapter on grokking, Key dynamic; Phase Transition (critical norm ‖θ‖_c)",
          statement="on T1's runs: ‖θ‖₂ falls from t_mem to t_grok in every run and CV(‖θ(t_grok)‖)/CV(‖θ(t_mem)‖) "
                    "has its 95% cluster-bootstrap interval below 1 (PASS); FAIL if most runs' norm does not "
                    "fall or the interval lies above 1",
          test="tests/test_textbook_checks.py")
def t3(quick: bool = True) -> CheckResult:
    """T3 on the runs of T1 (rule: :func:`t3_verdict`); ``measured`` is the CV ratio R."""
    grid, rows = _t1_rows(quick)
    v = t3_verdict(rows)
    return _result("T3", "textbook: transition at a critical norm", float(v["ratio"]), 1.0, "<", v["verdict"],
                   {"grid": grid, "run": grid["run"],
                    "norms": [{k: r[k] for k in ("weight_decay", "seed", "t_mem", "t_grok", "theta_l2_init",
                                                 "theta_l2_mem", "theta_l2_grok", "theta_l2_final", "censored")}
                              for r in rows], **v})
