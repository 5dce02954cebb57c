"""G1–G6 — claims of A. Gromov, *Grokking modular arithmetic* (arXiv:2301.02679, 2023), on his
quadratic MLP (eq. 4; :mod:`regimes.gromov`).

* G1 (Fig 1a, empirical): under plain GD the held-out loss peaks right before the onset of
  grokking. Runs of experiment 15.
* G2 (Fig 4a, Sec. 2, empirical): momentum and AdamW lower both the grokking time and the
  critical training fraction relative to plain GD. Runs of experiment 16.
* G3 (App. D, eq. 30, exact up to the width): his analytic n² + m² solution classifies every
  pair. Deterministic.
* G4 (App. D, eq. 31, Fig 7): his analytic (n + m)² solution, built on one branch of the
  modular square root, classifies exactly the pairs on that branch, (p + 1)/(2p) of all pairs
  (≈ 51% at p = 97), and the others only by chance. Deterministic; derivation in
  ``proofs/gromov_other_functions.md``.
* G5 (Fig 7, empirical): a trained net does better on (n + m)² than the analytic solution.
  Runs of experiment 17 (its largest fraction).
* G6 (App. D, Fig 10, after Power et al.): on n³ + nm² + m held-out accuracy stays near chance
  even at training fraction 0.9. Runs of experiment 17 (its largest fraction).

The training-run checks use ≥ 3 seeds and report 95% t intervals over seeds; INCONCLUSIVE
where the event a claim is about never happened.
"""

from __future__ import annotations

import math
from typing import Any

from regimes.checks import CheckResult, register

#: Width and modulus of the analytic checks G3, G4: Gromov's p = 97 and N = 500.
ANALYTIC_P, ANALYTIC_WIDTH = 97, 500
#: G4's bound on the other branch's accuracy: far below 1 (the constructive wave is absent) and
#: a few times chance 1/p; the measured values sit near 1/p (see the proof note).
G4_OTHER_BRANCH_MAX = 0.1

#: G6's bound: held-out accuracy "near chance" = the upper end of its 95% interval over seeds at
#: most this many times chance 1/p.
G6_CHANCE_MULTIPLE = 3.0
#: G6 is about a net that has learned its training set and still does not generalise: every seed
#: must reach this training accuracy, else INCONCLUSIVE (an untrained net fails trivially). At
#: fraction 0.9 the seeds reach 0.908–0.951 in experiment 17's 2,000 steps (0.935–0.977 in 3,000;
#: an exact fit would need a longer budget).
G6_MIN_TRAIN_ACC = 0.9


@register("G1", theorem="Gromov Fig 1a (empirical)",
          statement="plain GD, square loss, training fraction 0.49: the held-out loss peaks within 0.2·t_grok "
                    "before the onset of generalisation (held-out acc ≥ 0.1), every seed; INCONCLUSIVE if a "
                    "seed never groks",
          test="tests/test_gromov_checks.py")
def g1(quick: bool = True) -> CheckResult:
    """G1 on the grid :data:`regimes.settings.grids.G1` (quick: seeds 0–2 of
    :data:`regimes.settings.gromov.G1_RUN`; full: seeds 0–4 at Gromov's p = 97, N = 500), each
    run read from experiment 15's stored runs (:func:`regimes.runs.stored_gromov_run`) or trained
    when missing or stale; ``measured`` is the largest (t_onset − t_peak)/t_grok over seeds, to
    lie in [0, window]."""
    from regimes.gromov import g1_verdict
    from regimes.runs import stored_gromov_run
    from regimes.settings.grids import G1, grid

    g = grid(G1, quick)
    rows = [stored_gromov_run({"run": g["run"], "seed": s, "device": "cpu"})[0] for s in g["seeds"]]
    v = g1_verdict(rows, float(g["window"]))
    return CheckResult("G1", "Gromov Fig 1a", v["measured"], g["window"], "<=",
                       {"PASS": True, "FAIL": False}.get(v["verdict"]),
                       {"run": g["run"], "seeds": g["seeds"], "smallest_ratio": v["smallest"],
                        "per_seed": v["per_seed"], "lower_bound": 0.0}, verdict=v["verdict"])


@register("G2", theorem="Gromov Fig 4a, Sec. 2 (empirical)",
          statement="momentum and AdamW each lower the critical training fraction and the grokking time vs plain "
                    "GD: every paired 95% interval over seeds excludes 0 on the improving side",
          test="tests/test_gromov_checks.py")
def g2(quick: bool = True) -> CheckResult:
    """G2 on the grid :data:`regimes.settings.grids.G2` (quick: seeds 0–2 of
    :data:`regimes.settings.gromov.G2_RUN` with :data:`~regimes.settings.gromov.G2_OPTIMIZERS`;
    full: seeds 0–4 at Gromov's p = 97, N = 500), each (optimizer, seed) sweep read from experiment
    16's stored runs (:func:`regimes.runs.stored_fraction_sweep`) or trained when missing or stale;
    ``measured`` is the largest deficit of :func:`regimes.gromov.g2_verdict`, to be < 0."""
    from regimes.gromov import g2_verdict
    from regimes.runs import stored_fraction_sweep
    from regimes.settings.grids import G2, grid

    g = grid(G2, quick)
    rows = [r for o, st in g["optimizers"].items() for s in g["seeds"]
            for r in stored_fraction_sweep({"optimizer": o, "settings": st, "seed": s, "fractions": g["fractions"],
                                            "run": g["run"], "device": "cpu"})[0]["rows"]]
    v = g2_verdict(rows, baseline="gd", others=tuple(o for o in g["optimizers"] if o != "gd"))
    return CheckResult("G2", "Gromov Fig 4a", v["measured"], 0.0, "<", {"PASS": True, "FAIL": False}.get(v["verdict"]),
                       {"run": g["run"], "optimizers": g["optimizers"], "fractions": g["fractions"],
                        "seeds": g["seeds"], "rows": rows,
                        **{k: v[k] for k in ("alpha_c", "comparisons", "censored_as")}},
                       verdict=v["verdict"])


@register("G3", theorem="Gromov App. D, eq. 30",
          statement="the analytic n² + m² solution (p = 97, N = 500) classifies all p² pairs",
          test="tests/test_gromov_checks.py")
def g3(quick: bool = True) -> CheckResult:
    """Accuracy of :func:`regimes.gromov.analytic_net` for ``sum_of_squares`` over all pairs;
    deterministic (phases seeded), so one evaluation decides."""
    from regimes.constructions import analytic_accuracy
    from regimes.gromov import analytic_net

    accs = {s: analytic_accuracy(analytic_net("sum_of_squares", ANALYTIC_P, ANALYTIC_WIDTH, seed=s),
                                 op="sum_of_squares") for s in range(3)}
    worst = min(accs.values())
    return CheckResult("G3", "Gromov eq. 30", worst, 1.0, ">=", worst >= 1.0,
                       {"p": ANALYTIC_P, "h": ANALYTIC_WIDTH, "accuracy_per_phase_seed": accs})


@register("G4", theorem="Gromov App. D, eq. 31, Fig 7",
          statement="the analytic (n + m)² solution (one square-root branch; p = 97, N = 500) is right on every pair "
                    "of its branch ((p+1)/(2p) of all pairs) and right on ≤ 10% of the others",
          test="tests/test_gromov_checks.py")
def g4(quick: bool = True) -> CheckResult:
    """:func:`regimes.gromov.square_of_sum_branches` of the analytic ``square_of_sum`` net for three
    phase seeds; ``measured`` is the largest other-branch accuracy (bound 0.1), and every
    chosen-branch accuracy must be 1."""
    from regimes.gromov import analytic_net, square_of_sum_accuracy_limit, square_of_sum_branches

    per = {s: square_of_sum_branches(analytic_net("square_of_sum", ANALYTIC_P, ANALYTIC_WIDTH, seed=s))
           for s in range(3)}
    chosen_ok = all(r["acc_chosen_branch"] >= 1.0 for r in per.values())
    other = max(r["acc_other_branch"] for r in per.values())
    holds = bool(chosen_ok and other <= G4_OTHER_BRANCH_MAX)
    return CheckResult("G4", "Gromov eq. 31", other, G4_OTHER_BRANCH_MAX, "<=", holds,
                       {"p": ANALYTIC_P, "h": ANALYTIC_WIDTH, "per_phase_seed": per,
                        "chosen_branch_all_right": chosen_ok,
                        "predicted_share": square_of_sum_accuracy_limit(ANALYTIC_P),
                        "chance": 1 / ANALYTIC_P})


def function_runs(function: str, quick: bool) -> tuple[dict[str, Any], float, list[dict[str, Any]]]:
    """The grid :data:`regimes.settings.grids.G5`, its largest fraction, and per seed the row of
    ``function`` at that fraction of experiment 17's (function, seed) sweep
    (:func:`regimes.runs.stored_function_sweep`: read from its stored runs, or trained when missing
    or stale). The largest fraction is the one every sweep runs (the sweep stops below the first
    fraction that fails): 0.9 quick, 0.95 full."""
    from regimes.runs import stored_function_sweep
    from regimes.settings.grids import G5, grid

    g = grid(G5, quick)
    top = max(g["fractions"])
    rows = []
    for s in g["seeds"]:
        m, _ = stored_function_sweep({"run": g["run"], "function": function, "fractions": g["fractions"],
                                      "crit_level": g["crit_level"], "seed": s, "device": "cpu"})
        rows.append(next(r for r in m["rows"] if r["fraction"] == top))
    return g, top, rows


@register("G5", theorem="Gromov Fig 7 (empirical)",
          statement="AdamW-trained nets on (n + m)² (experiment 17's largest fraction: 0.9 quick, 0.95 full) beat "
                    "the analytic one-branch solution on held-out pairs: the lower end of the 95% interval over seeds "
                    "exceeds the analytic accuracy",
          test="tests/test_gromov_checks.py")
def g5(quick: bool = True) -> CheckResult:
    """Trained held-out accuracy (seed mean, 95% t interval) vs the analytic solution's accuracy
    on the same held-out pairs of each seed's split (mean over seeds); the trained runs are
    experiment 17's (:func:`function_runs`)."""
    from regimes.gromov import analytic_net
    from regimes.stats import mean_ci
    from regimes.tasks import Task, sample_split

    g, fraction, rows = function_runs("square_of_sum", quick)
    seeds = g["seeds"]
    p, h = g["run"]["p"], g["run"]["h"]
    net = analytic_net("square_of_sum", p, h, seed=0)
    analytic = []
    for s in seeds:
        test = sample_split(Task(p, op="square_of_sum"), fraction=fraction, seed=s).test
        analytic.append(float((net(test.x).argmax(dim=1) == test.y).double().mean()))
    ci = mean_ci([r["final_test_acc"] for r in rows])
    a = float(sum(analytic) / len(analytic))
    holds = None if math.isnan(ci.low) else bool(ci.low > a)
    return CheckResult("G5", "Gromov Fig 7", ci.low, a, ">", holds,
                       {"trained_heldout_acc": ci.as_dict(), "analytic_heldout_acc_per_seed": analytic,
                        "run": g["run"], "fraction": fraction, "seeds": seeds,
                        "per_seed": [{"seed": s, "final_test_acc": r["final_test_acc"],
                                      "final_train_acc": r["final_train_acc"]} for s, r in zip(seeds, rows,
                                                                                                strict=True)]},
                       verdict=None if holds is not None else "INCONCLUSIVE")


@register("G6", theorem="Gromov App. D, Fig 10 (empirical)",
          statement="n³ + nm² + m at experiment 17's largest training fraction (0.9 quick, 0.95 full): the upper "
                    "end of the 95% interval of held-out accuracy over seeds is ≤ 3/p (near chance 1/p); "
                    "INCONCLUSIVE if some seed fits < 90% of its training pairs",
          test="tests/test_gromov_checks.py")
def g6(quick: bool = True) -> CheckResult:
    """Held-out accuracy on ``cubic`` at the grid's largest fraction (Gromov: "does not generalize
    even for α > 0.9"; 0.9 quick, 0.95 full); the claim is about a net that fits its
    training set and still does not generalise, so a seed whose training accuracy stays below
    :data:`G6_MIN_TRAIN_ACC` makes it INCONCLUSIVE. The runs are experiment 17's
    (:func:`function_runs`)."""
    from regimes.stats import mean_ci

    g, fraction, rows = function_runs("cubic", quick)
    seeds = g["seeds"]
    p = g["run"]["p"]
    ci = mean_ci([r["final_test_acc"] for r in rows])
    bound = G6_CHANCE_MULTIPLE / p
    fitted = all(r["final_train_acc"] >= G6_MIN_TRAIN_ACC for r in rows)
    holds = bool(ci.high <= bound) if fitted and not math.isnan(ci.high) else None
    return CheckResult("G6", "Gromov Fig 10", ci.high, bound, "<=", holds,
                       {"heldout_acc": ci.as_dict(), "chance": 1 / p, "run": g["run"],
                        "fraction": fraction, "seeds": seeds, "train_fit_every_seed": fitted,
                        "min_train_acc": G6_MIN_TRAIN_ACC,
                        "per_seed": [{"seed": s, "final_test_acc": r["final_test_acc"],
                                      "final_train_acc": r["final_train_acc"], "t_mem": r["t_mem"]}
                                     for s, r in zip(seeds, rows, strict=True)]},
                       verdict=None if holds is not None else "INCONCLUSIVE")
