"""C18, C19 — the extremal nets whose existence Thm 3.6 and Thm 4.5 presuppose
(``regimes/extremal.py``; ``proofs/extremal.md``).

* **C18** (Thm 3.6): at the paper's regression size n = 2p^{2.25} and h = 8p (the theorem's
  width), the near-minimum-ℓ∞ interpolators found by projected Adam (the smallest radius r*
  at which the training loss falls below 1e-3 within the step budget) generalize: PASS if, at
  every p, the 95% interval of the seed-mean clean-pair held-out accuracy lies above the
  larger of chance (1/p) and the eNTK kernel regressor's seed-mean accuracy on the same
  samples, and the seed-mean held-out ℓ2 ratio (to the zero predictor) is < 1; FAIL
  otherwise; INCONCLUSIVE if some seed's search found no interpolator in its bracket.
* **C19** (Thm 4.5): the attained ℓ∞ margin of projected soft-min ascent under ‖θ‖_∞ ≤ 1 at
  n = 2p^{5/3}, h = 8p, against Prop 3.8's 4p: PASS if at every p the 95% interval of the
  seed-mean normalized margin q_min/‖θ‖_∞³ lies at or above 4p (the Ω(p) premise holds with the
  construction's constant at every tested p); FAIL if at some p it lies entirely below 4p;
  INCONCLUSIVE if an interval straddles 4p or some run does not separate its training set
  (training accuracy < 1). The growth exponent in p (cluster bootstrap over seeds,
  ``regimes.stats.fit_exponent``) is reported beside it, not scored: on a training subset the
  maximum exceeds the population's ≥ 4p by a margin that shrinks as n/p² = 2p^{-1/3} shrinks, so
  over a finite window of p the fitted exponent of a margin that stays ≥ 4p can be < 1.

Both judge the runs their experiments draw (20 and 21), from one grid each
(:mod:`regimes.settings.grids`), each run stored once (:func:`regimes.extremal.stored_min_linf_cell`,
:func:`regimes.extremal.stored_max_margin`; C18's kernel baselines by
:func:`regimes.extremal.stored_kernel_baseline`), so a check after its experiment retrains nothing.
"""

from __future__ import annotations

import math
from typing import Any

from regimes.checks import CheckResult, register
from regimes.settings import grids
from regimes.stats import fit_exponent, mean_ci

#: C18's and C19's grids per mode: experiment 20's (h = 8p, n = 2p^{2.25}) cells and experiment 21's
#: grid (regimes.settings.grids), so a check after its experiment retrains nothing
C18_GRID = grids.C18
C19_GRID = grids.C19


def c18_verdict(rows: list[dict[str, Any]], kernel_acc: dict[int, list[float]] | None = None) -> dict[str, Any]:
    """The C18 verdict from :func:`regimes.extremal.min_linf_interpolators` rows (one p, many seeds
    per p) and, per p, the kernel baseline's held-out clean accuracies (one per seed; optional).

    Returns ``{"verdict", "per_p": [{p, acc CI, l2 ratio CI, baseline, ok}], "measured",
    "bound"}`` with ``measured`` = the smallest (CI low − baseline) over p.
    """
    per_p, worst = [], math.inf
    censored = [r for r in rows if r["censored"]]
    for p in sorted({r["p"] for r in rows}):
        rs = [r for r in rows if r["p"] == p and not r["censored"]]
        if len(rs) < 2:
            continue
        acc = mean_ci([r["heldout_acc"] for r in rs])
        l2 = mean_ci([r["heldout_l2_ratio"] for r in rs])
        kern = None if not kernel_acc or p not in kernel_acc else float(sum(kernel_acc[p]) / len(kernel_acc[p]))
        base = max(1.0 / p, kern if kern is not None else 0.0)
        ok = acc.low > base and l2.estimate < 1.0
        worst = min(worst, acc.low - base)
        per_p.append({"p": p, "heldout_acc": acc.as_dict(), "heldout_l2_ratio": l2.as_dict(), "chance": 1.0 / p,
                      "kernel_acc": kern, "baseline": base, "ok": ok,
                      "r_star_over_rc": mean_ci([r["r_star_over_rc"] for r in rs]).as_dict()})
    if censored or not per_p:
        verdict = "INCONCLUSIVE"
    else:
        verdict = "PASS" if all(e["ok"] for e in per_p) else "FAIL"
    return {"verdict": verdict, "per_p": per_p, "measured": worst, "bound": 0.0,
            "censored": [[r["p"], r["seed"]] for r in censored]}


def c19_verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The C19 verdict from :func:`regimes.extremal.max_margin` rows (several p, ≥ 2 seeds each).

    Returns ``{"verdict", "per_p", "exponent" (an ExponentFit dict, reported, not scored),
    "measured" (the smallest seed-mean margin / construction margin over p), "bound" (1.0)}``.
    A run that does not fit its training set (or ends at margin ≤ 0) is censored in the
    exponent's fit and makes the verdict INCONCLUSIVE: its margin is no maximum margin.
    """
    per_p = []
    for p in sorted({r["p"] for r in rows}):
        rs = [r for r in rows if r["p"] == p]
        m = mean_ci([r["norm_margin"] for r in rs])
        per_p.append({"p": p, "norm_margin": m.as_dict(), "construction": rs[0]["construction_norm_margin"],
                      "ratio": m.estimate / rs[0]["construction_norm_margin"],
                      "heldout_acc": mean_ci([r["heldout_acc"] for r in rs]).as_dict(),
                      "train_acc_min": min(r["train_acc"] for r in rs)})
    # a run that does not fit its training set, or ends at margin ≤ 0, measured no maximum margin:
    # it is censored (not fitted; listed in the fit), and the verdict below is INCONCLUSIVE
    censored = [not (r["train_acc"] >= 1.0 and math.isfinite(r["norm_margin"]) and r["norm_margin"] > 0)
                for r in rows]
    fit = fit_exponent([r["p"] for r in rows], [r["norm_margin"] for r in rows], [r["seed"] for r in rows],
                       censored=censored)
    measured = min(e["ratio"] for e in per_p)
    lows = [e["norm_margin"]["low"] / e["construction"] for e in per_p]
    highs = [e["norm_margin"]["high"] / e["construction"] for e in per_p]
    if any(e["train_acc_min"] < 1.0 for e in per_p) or any(math.isnan(x) for x in lows + highs):
        verdict = "INCONCLUSIVE"
    elif all(x >= 1.0 for x in lows):
        verdict = "PASS"
    elif any(x < 1.0 for x in highs):
        verdict = "FAIL"
    else:
        verdict = "INCONCLUSIVE"
    return {"verdict": verdict, "per_p": per_p, "exponent": fit.as_dict(), "measured": measured, "bound": 1.0}


def c18_rows(grid: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[int, list[float]]]:
    """C18's searches and kernel baselines over ``grid`` (a :data:`C18_GRID` entry): experiment
    20's stored cells (:func:`regimes.extremal.stored_min_linf_cell`) and the kernel baselines on
    the same samples (:func:`regimes.extremal.stored_kernel_baseline`), each computed once."""
    from regimes.extremal import stored_kernel_baseline, stored_min_linf_cell

    rows, kern = [], {}
    for p in grid["ps"]:
        cell = (p, grid["n_exponent"], grid["width_mult"], grid["seeds"])
        rows += stored_min_linf_cell(*cell, grid["search"])[0]["rows"]
        kern[p] = stored_kernel_baseline(*cell)[0]["kernel_heldout_acc"]
    return rows, kern


def c19_rows(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """C19's ascents over ``grid`` (a :data:`C19_GRID` entry): experiment 21's stored runs
    (:func:`regimes.extremal.stored_max_margin`), each computed once."""
    from regimes.extremal import stored_max_margin

    return [r for p in grid["ps"]
            for r in stored_max_margin(p, grid["n_exponent"], grid["width_mult"], grid["seeds"],
                                       temperatures=grid["temperatures"],
                                       steps_per_stage=grid["steps_per_stage"])[0]["rows"]]


@register("C18", theorem="Thm 3.6 (premise: near-minimum-ℓ∞ interpolators)",
          statement="near-min-ℓ∞ interpolators (projected Adam, bracketed search on r) at n = 2p^2.25, h = 8p: "
                    "clean held-out acc CI above max(chance, eNTK kernel) and ℓ2 ratio < 1 at every p",
          test="tests/test_extremal.py")
def c18(quick: bool = True) -> CheckResult:
    """C18 over :data:`C18_GRID` (see the module docstring); ``measured`` is the smallest
    (CI low of the clean accuracy − baseline) over p, ``bound`` 0."""
    grid = grids.grid(C18_GRID, quick)
    rows, kern = c18_rows(grid)
    v = c18_verdict(rows, kern)
    return CheckResult("C18", "Thm 3.6", v["measured"], 0.0, ">", {"PASS": True, "FAIL": False}.get(v["verdict"]),
                       {"grid": grid, "rows": rows, "kernel_acc": kern, **v}, verdict=v["verdict"])


@register("C19", theorem="Thm 4.5 (premise: normalized ℓ∞ margin Ω(p))",
          statement="attained max ℓ∞ margin (projected soft-min ascent, ‖θ‖∞ ≤ 1) at n = 2p^(5/3), h = 8p: "
                    "95% CI of the seed-mean q_min/‖θ‖∞³ at or above 4p at every p (exponent reported)",
          test="tests/test_extremal.py")
def c19(quick: bool = True) -> CheckResult:
    """C19 over :data:`C19_GRID` (see the module docstring); ``measured`` is the smallest ratio
    of the seed-mean attained normalized margin to the construction's 4p, ``bound`` 1."""
    grid = grids.grid(C19_GRID, quick)
    rows = c19_rows(grid)
    v = c19_verdict(rows)
    return CheckResult("C19", "Thm 4.5", v["measured"], 1.0, ">=", {"PASS": True, "FAIL": False}.get(v["verdict"]),
                       {"grid": grid, "rows": rows, **v}, verdict=v["verdict"])
