"""Rich-regime scaling checks C15 (regression, Thm 3.6 / Fig 3) and C16 (classification,
Thm 4.5 / Fig 4), at the paper's own hyperparameters (App. A; :func:`regimes.runs.paper_config`).

Both train the quadratic net over several p and ≥ 3 independent seeds (data and init) and
judge it on held-out points only. Every criterion is stated in the check's details with
its threshold; means come with 95% t intervals over seeds, exponents (log-log slopes in p)
with a cluster bootstrap over seeds (:func:`regimes.stats.fit_exponent`).

* **C15** (Fig 3: GD, lr 1 on ½(g − y)², λ∞ = 1e-4, h = 4p, n = 2p^{2.25}). The claim: a
  net that fits these n ≈ p^{2.25} triples generalizes — the held-out square loss falls
  well below the zero predictor's, and argmax_c g is right on the clean pairs. The event
  the claim is about is interpolation: a run whose training loss is not below 1e-3·p at
  the end makes the check INCONCLUSIVE. Otherwise PASS when, at every p, the seed-mean
  held-out ℓ2 ratio is ≤ ½ and the seed-mean clean-pair accuracy is ≥ 0.95; FAIL
  otherwise (within the stated step budget). Reported beside it: ‖θ‖∞'s exponent in p
  (Fig 3: flat) and the eNTK-at-init kernel baseline's held-out ℓ2 ratio (Thm 3.4 says it
  stays near 1 at these n).
* **C16** and **C16b** (Fig 4: normalized GD, lr 10, λ∞ = 1e-20, cross-entropy, h = 8p,
  n = 2p^{5/3}), one per reading of eq. A.1 that changes the verdict
  (:mod:`regimes.settings.mohamadi`): C16 normalizes the whole gradient in float32 (the
  suite's reading before readings were named), C16b the loss gradient alone in float64 (the
  penalty's subgradient outside; underflow-free). Each:
  INCONCLUSIVE if some run does not fit its training set (train accuracy < 1: no positive
  margin, Thm 4.5 does not apply). Otherwise PASS when all of
  (a) the seed-mean held-out accuracy is ≥ 0.95 at every p;
  (b) the normalized ℓ∞ margin q_min/‖θ‖∞³ grows in p as Thm 4.5 assumes (Ω(p)): the 95%
  CI of its exponent has lower end > 0 and upper end ≥ 1 (linear growth not excluded);
  (c) the eNTK kernel baseline's seed-mean held-out accuracy is ≤ 0.5 at every p (the
  kernel regime does not learn from these n, Thm 4.3);
  and FAIL if any is violated. ‖θ‖∞'s exponent (Fig 4: flat) is reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regimes.checks import CheckResult, register
from regimes.settings import grids

__all__ = ["C15_GRID", "C16_GRID", "C16_READINGS", "c15", "c16", "c16b", "rich_grid"]

#: (p values, seeds, steps, evaluations) per mode: the grids experiments 07 and 08 draw
#: (regimes.settings.grids), so a check after its experiment retrains nothing
C15_GRID = grids.C15
C16_GRID = grids.C16


#: the reading of eq. A.1 each classification check runs under
C16_READINGS = {"C16": {"normalization": "whole", "dtype": "float32"},
                "C16b": {"normalization": "loss", "dtype": "float64"}}


def rich_grid(setting: str, ps: list[int], seeds: list[int], steps: int, reading: dict[str, str] | None = None,
              **overrides: Any) -> list[dict[str, Any]]:
    """:func:`regimes.runs.rich_run` at the paper's config under ``reading`` for every (p, seed),
    each stored once (:func:`regimes.runs.stored_rich_run`); one summary each."""
    from regimes.runs import paper_config, stored_rich_run

    return [{"p": p, "seed": s, **stored_rich_run(paper_config(setting, p, s, reading=reading, steps=steps,
                                                               **overrides))[0]}
            for p in ps for s in seeds]


def _per_p(rows: list[dict[str, Any]], key: str) -> dict[int, dict[str, Any]]:
    from regimes.stats import mean_ci

    out = {}
    for p in sorted({r["p"] for r in rows}):
        out[p] = mean_ci([float(r[key]) for r in rows if r["p"] == p]).as_dict()
    return out


def _exponent(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    from regimes.stats import fit_exponent

    ps = np.array([r["p"] for r in rows], dtype=float)
    vals = np.array([r[key] for r in rows], dtype=float)
    seeds = np.array([r["seed"] for r in rows])
    bad = ~(np.isfinite(vals) & (vals > 0))
    return fit_exponent(ps, np.where(bad, 1.0, vals), seeds, censored=bad).as_dict()


@register("C15", theorem="Thm 3.6, Prop 3.7 (Fig 3)", test="tests/test_scale_checks.py",
          statement="paper's GD regression (h = 4p, n = 2p^{2.25}, λ∞ 1e-4): interpolating nets have "
                    "held-out ℓ2 ratio ≤ ½ and clean-pair accuracy ≥ 0.95 at every p (seed means)")
def c15(quick: bool = True) -> CheckResult:
    """C15 over :data:`C15_GRID` (see the module docstring for the criteria)."""
    grid = C15_GRID["quick" if quick else "full"]
    rows = rich_grid("regression", grid["ps"], grid["seeds"], grid["steps"], n_evals=grid["n_evals"])
    fits = all(r["train_loss"] <= 1e-3 * r["p"] for r in rows)
    ratio = _per_p(rows, "heldout_l2_ratio")
    acc = _per_p(rows, "heldout_acc")
    kernel = _per_p(rows, "kernel_heldout_l2_ratio")
    worst_ratio = max(v["estimate"] for v in ratio.values())
    ok = all(v["estimate"] <= 0.5 for v in ratio.values()) and all(v["estimate"] >= 0.95 for v in acc.values())
    verdict = "INCONCLUSIVE" if not fits else ("PASS" if ok else "FAIL")
    details = {"grid": grid, "runs": rows, "heldout_l2_ratio": ratio, "heldout_clean_acc": acc,
               "kernel_heldout_l2_ratio": kernel, "theta_inf_exponent": _exponent(rows, "theta_inf"),
               "all_interpolate": fits,
               "criteria": "every p: seed-mean held-out l2 ratio <= 0.5 and clean-pair accuracy >= 0.95; "
                           "INCONCLUSIVE if a run's final train loss > 1e-3 p"}
    return CheckResult("C15", "Thm 3.6 (Fig 3)", worst_ratio, 0.5, "<=", {"PASS": True, "FAIL": False}.get(verdict),
                       details, verdict=verdict)


def _c16(check_id: str, quick: bool) -> CheckResult:
    from regimes.settings.mohamadi import reading_label, resolve_reading

    grid = C16_GRID["quick" if quick else "full"]
    reading = C16_READINGS[check_id]
    rows = rich_grid("classification", grid["ps"], grid["seeds"], grid["steps"], reading=reading,
                     n_evals=grid["n_evals"])
    fits = all(r["train_acc"] == 1.0 for r in rows)
    acc = _per_p(rows, "heldout_acc")
    kernel = _per_p(rows, "kernel_heldout_acc")
    margin = _exponent(rows, "norm_margin")
    crit = {
        "a_heldout_acc": all(v["estimate"] >= 0.95 for v in acc.values()),
        "b_margin_grows": bool(margin["low"] is not None and margin["low"] > 0 and margin["high"] >= 1),
        "c_kernel_low": all(v["estimate"] <= 0.5 for v in kernel.values()),
    }
    verdict = "INCONCLUSIVE" if not fits else ("PASS" if all(crit.values()) else "FAIL")
    worst_acc = min(v["estimate"] for v in acc.values())
    details = {"grid": grid, "reading": resolve_reading(reading), "reading_label": reading_label(reading),
               "runs": rows, "heldout_acc": acc, "kernel_heldout_acc": kernel,
               "norm_margin_exponent": margin, "theta_inf_exponent": _exponent(rows, "theta_inf"),
               "criteria_met": crit, "all_fit": fits,
               "stalled_runs": [(r["p"], r["seed"], r["stalled_at"]) for r in rows if r["stalled_at"] is not None]}
    return CheckResult(check_id, "Thm 4.5 (Fig 4)", worst_acc, 0.95, ">=", {"PASS": True, "FAIL": False}.get(verdict),
                       details, verdict=verdict)


_C16_STATEMENT = ("paper's normalized GD classification (h = 8p, n = 2p^{{5/3}}), {reading}: held-out accuracy "
                  "≥ 0.95 at every p, normalized ℓ∞ margin growing ~p (exponent CI ∋ values ≥ 1, > 0), eNTK "
                  "kernel held-out accuracy ≤ 0.5")


@register("C16", theorem="Thm 4.5, 4.6 (Fig 4)", test="tests/test_scale_checks.py",
          statement=_C16_STATEMENT.format(reading="whole-gradient normalization, float32"))
def c16(quick: bool = True) -> CheckResult:
    """C16 over :data:`C16_GRID` under the whole-gradient reading in float32 (module docstring)."""
    return _c16("C16", quick)


@register("C16b", theorem="Thm 4.5, 4.6 (Fig 4)", test="tests/test_scale_checks.py",
          statement=_C16_STATEMENT.format(reading="loss-only normalization, float64"))
def c16b(quick: bool = True) -> CheckResult:
    """C16 over :data:`C16_GRID` under the loss-only reading in float64 (module docstring)."""
    return _c16("C16b", quick)
