"""C17 — kernel-to-rich timing (Figs 1, 2, 5).

Tracked runs of the quadratic net in the large-init, small-weight-decay regime of
Lyu et al. (2023): plain full-batch GD on cross-entropy, init scale α = 16, weight
decay 2e-3, lr 0.5, p = 31, h = 4p, 80 % of the p² pairs for training, 8,000 steps
(:data:`regimes.settings.grids.C17`: experiment 10's lazy row, whose stored runs the check reads).
The large init puts the net in the kernel regime; the weight decay slowly shrinks
it out of there. With t_fit the first step at 100 % training accuracy and t_gen
the first at ≥ 95 % test accuracy, the check asks, for every seed, for

    S(t_fit, 0) ≤ 0.1    and    S(t_gen, 0) / S(t_fit, 0) ≥ 10,

where S is Fort et al.'s kernel distance of the first-logit eNTK on the training
set: the kernel has barely turned when the training set is fit, and it turns at
least an order of magnitude more before the network generalises. The relative
Frobenius change ‖Θ̂_t − Θ̂₀‖/‖Θ̂₀‖ at both times is reported beside it; under
weight decay it is dominated by the kernel's shrinking scale (Θ̂ ∝ ‖θ‖⁴ for this
3-homogeneous net), which is why the scale-free S is the quantity checked (see
``proofs/grokking_dynamics.md``). This is an empirical claim of the paper (no
theorem), so the verdict is a measurement, not a proof.

Settings were chosen by a search recorded in the proof note: AdamW runs (the
other quick experiments) and the paper's normalized GD at p = 31 do not show a
lazy phase — their kernels move before or while the training set is fit.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from regimes.checks import CheckResult, register
from regimes.settings import grids


@register("C17", theorem="Figs 1, 2, 5 (empirical; Kumar et al., Lyu et al.)",
          statement="eNTK barely moves before t_fit (S ≤ 0.1) and moves ≥ 10× more by t_gen, every seed; "
                    "INCONCLUSIVE if a seed never fits or never generalises",
          test="tests/test_dynamics.py")
def c17(quick: bool = True) -> CheckResult:
    """The run of :data:`regimes.settings.grids.C17` (experiment 10's lazy row, 8,000 steps) for
    seeds 0–2 (quick) or 0–4 (full, with experiment 10's finer full-tier tracking), each stored once
    (:func:`regimes.runs.stored_tracked_run`: after experiment 10 the check trains nothing), and the
    C17 inequalities on each (see module doc); ``measured`` is the smallest growth ratio.

    Each seed's details carry both kernel-movement measures at t_fit and t_gen: Fort's
    S(t, 0) (the quantity checked) and the relative Frobenius change
    ‖Θ̂_t − Θ̂₀‖/‖Θ̂₀‖ (reported; it mostly tracks the kernel's shrinking scale).
    A seed that never fits its training set or never reaches 95% held-out accuracy leaves
    the claim untested: the verdict is then INCONCLUSIVE, never PASS.
    """
    from regimes.runs import stored_tracked_run

    g = grids.grid(grids.C17, quick)
    run, seeds = g["run"], [int(s) for s in g["seeds"]]
    per_seed = []
    for seed in seeds:
        summary, _ = stored_tracked_run({**run, "seed": seed})
        c = summary["c17"]
        per_seed.append({**c, "seed": seed, "t_mem": summary["t_mem"], "t_grok": summary["t_grok"],
                         "t_exit": summary["t_exit"], "exit_after_mem": summary["exit_after_mem"]})
    ratios = [s["growth_ratio"] for s in per_seed]
    holds_per_seed = [s["holds"] for s in per_seed]
    measured = float("nan") if any(r is None for r in ratios) else float(min(ratios))
    if any(v is None for v in holds_per_seed):
        verdict = "INCONCLUSIVE"
    else:
        verdict = "PASS" if all(holds_per_seed) else "FAIL"
    return CheckResult(
        id="C17", theorem="Figs 1, 2, 5", measured=measured, bound=10.0, relation=">=",
        holds={"PASS": True, "FAIL": False}.get(verdict), verdict=verdict,
        details={"per_seed": per_seed, "config": run, "seeds": seeds,
                 "S_fit": [s["S_fit"] for s in per_seed], "S_gen": [s["S_gen"] for s in per_seed],
                 "rel_change_fit": [s["rel_fit"] for s in per_seed],
                 "rel_change_gen": [s["rel_gen"] for s in per_seed], "steps": run["steps"]},
    )


def gap_verdict(rows: list[dict[str, Any]], min_seeds: int = 3, level: float = 0.05,
                n_resamples: int = 9999, seed: int = 0) -> dict[str, Any]:
    """The C17b verdict from :func:`init_scale_gaps` rows, as a trend test over all runs.

    The claim (Figs 1 middle, 2 left) is a trend: the gap t_grok − t_mem grows with the init
    scale α. The statistic is Spearman's ρ between α and the gap over every run that both
    memorised and grokked; its one-sided p-value (ρ > 0) comes from a permutation test that
    re-pairs the gaps with the α labels (``n_resamples`` permutations, seeded by ``seed``;
    :func:`scipy.stats.permutation_test`). PASS when p < ``level``, FAIL otherwise;
    INCONCLUSIVE when some α has fewer than ``min_seeds`` runs with a gap (the gap is then
    censored there, and the trend cannot be judged) or there is a single α. Per α, the seed-mean gap with a 95% t
    interval is reported, and whether those means happen to be strictly monotone
    (``monotone``: a description, not the test; one overlapping pair breaks it).

    >>> rows = [{"alpha": a, "gap": g} for a, gs in {0.5: [10, 30, 20], 1.0: [25, 15, 40],
    ...         2.0: [60, 35, 50]}.items() for g in gs]
    >>> v = gap_verdict(rows, n_resamples=999)
    >>> v["verdict"], round(v["spearman"], 3), v["monotone"]
    ('PASS', 0.738, True)
    """
    from scipy.stats import permutation_test, rankdata, spearmanr

    from regimes.stats import mean_ci

    alphas = sorted({r["alpha"] for r in rows})
    per_alpha = {}
    for a in alphas:
        gaps = [r["gap"] for r in rows if r["alpha"] == a and r["gap"] is not None]
        per_alpha[a] = {"n_grokked": len(gaps), "n_runs": sum(r["alpha"] == a for r in rows),
                        **(mean_ci(gaps).as_dict() if gaps else {"estimate": None})}
    base = {"per_alpha": per_alpha, "test": f"Spearman rho(alpha, gap) over runs, one-sided permutation p < {level}"}
    if len(alphas) < 2 or any(v["n_grokked"] < min_seeds for v in per_alpha.values()):
        return {"verdict": "INCONCLUSIVE", **base, "monotone": None, "spearman": None, "p_value": None}
    x = np.array([r["alpha"] for r in rows if r["gap"] is not None], dtype=float)
    y = np.array([r["gap"] for r in rows if r["gap"] is not None], dtype=float)
    means = [per_alpha[a]["estimate"] for a in alphas]
    mono = all(m1 < m2 for m1, m2 in itertools.pairwise(means))
    if np.ptp(y) == 0:   # every gap equal: no trend at all (ρ is undefined, not a signal)
        return {"verdict": "FAIL", **base, "monotone": mono, "spearman": 0.0, "p_value": 1.0,
                "n_runs_with_gap": len(y)}
    rho = float(spearmanr(x, y).statistic)
    rx = rankdata(x)
    rx = (rx - rx.mean()) / np.linalg.norm(rx - rx.mean())

    def stat(yy: np.ndarray, axis: int = -1) -> np.ndarray:   # Spearman's ρ of each row of yy with x
        ry = rankdata(yy, axis=axis)
        ry = ry - ry.mean(axis=axis, keepdims=True)
        return (ry @ rx) / np.linalg.norm(ry, axis=axis)

    res = permutation_test((y,), stat, permutation_type="pairings", vectorized=True, alternative="greater",
                           n_resamples=n_resamples, random_state=seed)
    return {"verdict": "PASS" if res.pvalue < level else "FAIL", **base, "monotone": mono, "spearman": rho,
            "p_value": float(res.pvalue), "n_runs_with_gap": len(y)}


@register("C17b", theorem="Fig 1 (middle), Fig 2 (left) (empirical)",
          statement="init-scale sweep over ≥ 3 seeds: the gap t_grok − t_mem grows with α (Spearman ρ over all "
                    "runs, one-sided permutation p < 0.05; AdamW, p = 31); INCONCLUSIVE if some α does not grok "
                    "in ≥ 3 seeds",
          test="tests/test_dynamics.py")
def c17b(quick: bool = True) -> CheckResult:
    """C17b over :data:`regimes.settings.grids.C17B` (quick: experiment 11's quick tier, whose stored
    runs it reads, :func:`regimes.runs.init_scale_run`); ``measured`` is the trend test's permutation
    p-value (to be < 0.05; NaN when INCONCLUSIVE)."""
    from regimes.runs import init_scale_gaps

    g = grids.grid(grids.C17B, quick)
    grid = {"alphas": [float(a) for a in g["alphas"]], "seeds": [int(s) for s in g["seeds"]]}
    rows = init_scale_gaps(grid["alphas"], grid["seeds"], g["run"])
    v = gap_verdict(rows)
    measured = float("nan") if v["p_value"] is None else v["p_value"]
    return CheckResult("C17b", "Figs 1, 2 (init scale)", measured, 0.05, "<", {"PASS": True, "FAIL": False}.get(
        v["verdict"]), {"grid": grid, "run": g["run"], "rows": rows, **v}, verdict=v["verdict"])
