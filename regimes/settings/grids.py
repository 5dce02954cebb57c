"""One grid per claim: the runs a claim's figure draws and its check judges, declared once.

A claim that has both an experiment (its figure) and a check reads its grid here, by tier
(``"quick"``/``"full"``); the experiment's tier config is built from it and the check iterates
it, and both train each run through :func:`regimes.runcache.cached`, so ``regimes check`` after
``regimes run`` retrains nothing the experiment stored.

Where the figure and the check used to differ, the experiment's published value is kept:

* G1 (experiment 15): the full tier runs Gromov's scale (p = 97, N = 500), as experiment 15's
  published full tier did; the check's full grid had kept p = 61.
* G2 (experiment 16): the full tier runs Gromov's scale (p = 97, N = 500, 20,000 steps, fractions
  0.15–0.8), as experiment 16's did; the check's full grid had kept the quick run (p = 31, N = 200,
  2,500 steps, fractions 0.4–0.8) with 5 seeds.
* G5, G6 (experiment 17): 2,000 steps, each run stopped at held-out accuracy 0.99, as experiment
  17's quick tier; the checks had run 3,000 steps without the stop (at 2,000 every seed of G6 still
  fits ≥ 90 % of its training pairs, so both verdicts stay judged; quick, G5 stays PASS at 1.0 and
  G6 PASS, its upper interval end moving from 0.039 to 0.032). The checks read the runs at
  the largest fraction of experiment 17's sweeps (run from the top, so never skipped): 0.9 quick
  (as before), 0.95 full; their full tiers run Gromov's p = 97, N = 500, 20,000 steps, as
  experiment 17's did (the checks' had kept p = 31, 3,000 steps and fraction 0.9).
* T1, T3 and T2 (experiment 14): no drift (experiment 14 read the checks' grids); the grids now
  carry their run (:data:`regimes.settings.textbook.TEXTBOOK_RUN`), which both pass on.
* C15 (experiment 07) and C16/C16b (experiment 08): the check's grid is the experiment's paper
  setting at the same p, seeds, steps and evaluation count, so each run is stored once; the full
  tiers keep the experiments' published p and budgets (C16's full grid had stopped at p = 47 and
  20k steps, experiment 08's runs p = 61 and 100k).
* C18 (experiment 20): the check's grid is experiment 20's (h = 8p, n = 2p^{2.25}) cells at the
  same p, seeds and search; the check now reads those cells' stored searches, which also run at
  the construction's norm (``also_at``), as the experiment always did.
* C19 (experiment 21): the full tier runs p ≤ 41, as experiment 21's published full tier did;
  the check's full grid had stopped at p = 31.
* C17 (experiment 10's lazy row): the check judges the row experiment 10 draws, 8,000 steps with
  its eNTK tracking (evaluation subset, after-kernel); the quick check had stopped at 5,000 steps
  without them (a different run: its log-spaced evaluation steps differ, so t_fit and t_gen are read
  on another grid). The full grid is experiment 10's full lazy row (80 tracked steps), seeds 0–4.
* C17b (experiment 11): the quick grid is experiment 11's quick tier, α up to 8 (the check had
  stopped at α = 4). The full grid stays the check's AdamW sweep: experiment 11's paper and full
  tiers run other settings (App. A.2's normalized GD; Fig 2 left's GD regression at p = 47).
"""

from __future__ import annotations

from typing import Any

from regimes.settings.dynamics import C17_RUN, C17B_RUN
from regimes.settings.gromov import (
    FUNCTIONS,
    FUNCTIONS_CRIT_LEVEL,
    FUNCTIONS_FRACTIONS,
    FUNCTIONS_FRACTIONS_FULL,
    FUNCTIONS_RUN,
    FUNCTIONS_RUN_FULL,
    G1_RUN,
    G1_RUN_FULL,
    G1_WINDOW,
    G2_FRACTIONS,
    G2_FRACTIONS_FULL,
    G2_OPTIMIZERS,
    G2_RUN,
    G2_RUN_FULL,
)
from regimes.settings.mohamadi import APP_A1, APP_A2
from regimes.settings.textbook import TEXTBOOK_RUN

#: G1 (Gromov Fig 1a) — experiment 15 and check G1.
G1: dict[str, dict[str, Any]] = {
    "quick": {"run": G1_RUN, "seeds": [0, 1, 2], "window": G1_WINDOW},
    "full": {"run": G1_RUN_FULL, "seeds": [0, 1, 2, 3, 4], "window": G1_WINDOW},
}
#: G2 (Gromov Fig 4a) — experiment 16 and check G2: one fraction sweep per (optimizer, seed).
G2: dict[str, dict[str, Any]] = {
    "quick": {"run": G2_RUN, "optimizers": G2_OPTIMIZERS, "fractions": G2_FRACTIONS, "seeds": [0, 1, 2]},
    "full": {"run": G2_RUN_FULL, "optimizers": G2_OPTIMIZERS, "fractions": G2_FRACTIONS_FULL,
             "seeds": [0, 1, 2, 3, 4]},
}
#: G5, G6 (Gromov Figs 7–10) — experiment 17 and checks G5, G6: one fraction sweep per
#: (function, seed); G5 reads (n + m)², G6 n³ + nm² + m, each at the largest fraction.
G5: dict[str, dict[str, Any]] = {
    "quick": {"run": FUNCTIONS_RUN, "functions": list(FUNCTIONS), "fractions": FUNCTIONS_FRACTIONS,
              "seeds": [0, 1, 2], "crit_level": FUNCTIONS_CRIT_LEVEL},
    "full": {"run": FUNCTIONS_RUN_FULL, "functions": list(FUNCTIONS), "fractions": FUNCTIONS_FRACTIONS_FULL,
             "seeds": [0, 1, 2, 3, 4], "crit_level": FUNCTIONS_CRIT_LEVEL},
}

#: T1, T3 (textbook chapter, Worked Example 2; "Grokking as a Phase Transition") — experiment 14's
#: bottom row and checks T1, T3: weight decays γ at one training fraction, seeds, step budget,
#: evaluation cadence (our reading: ≥ 4 γ over ≥ a decade, the fraction at which a pilot at
#: p = 23 grokked for every γ; the full tier a wider span and 5 seeds).
T1: dict[str, dict[str, Any]] = {
    "quick": {"run": TEXTBOOK_RUN, "wds": [0.3, 0.6, 1.2, 3.0], "fraction": 0.7, "seeds": [0, 1, 2], "steps": 2000,
              "eval_every": 20},
    "full": {"run": TEXTBOOK_RUN, "wds": [0.1, 0.2, 0.4, 0.8, 1.6, 3.2], "fraction": 0.7, "seeds": [0, 1, 2, 3, 4],
             "steps": 8000, "eval_every": 20},
}
#: T2 (textbook chapter, "Measures of Grokking", Worked Example 3) — experiment 14's bottom row and
#: check T2: training fractions at one weight decay (our reading: γ = 3, the largest of T1's quick
#: grid and the fastest clock, lets the most fractions grok within the quick budget).
T2: dict[str, dict[str, Any]] = {
    "quick": {"run": TEXTBOOK_RUN, "fractions": [0.4, 0.5, 0.6, 0.7, 0.8], "wd": 3.0, "seeds": [0, 1, 2],
              "steps": 1500, "eval_every": 20},
    "full": {"run": TEXTBOOK_RUN, "fractions": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "wd": 3.0,
             "seeds": [0, 1, 2, 3, 4], "steps": 8000, "eval_every": 20},
}


#: C15 (Thm 3.6, Fig 3) — experiment 07's paper setting and check C15 (App. A.1's regression).
C15: dict[str, dict[str, Any]] = {
    "quick": {"ps": [7, 11, 13], "seeds": [0, 1, 2], "steps": 5000, "n_evals": 50},
    "full": {"ps": [11, 17, 23, 31], "seeds": [0, 1, 2, 3, 4], "steps": 400_000, "n_evals": 400},
}
#: C16, C16b (Thm 4.5, Fig 4) — experiment 08 and checks C16, C16b (App. A.2's classification).
C16: dict[str, dict[str, Any]] = {
    "quick": {"ps": [17, 23, 31], "seeds": [0, 1, 2], "steps": 2000, "n_evals": 40},
    "full": {"ps": [23, 31, 47, 61], "seeds": [0, 1, 2, 3, 4], "steps": 100_000, "n_evals": 200},
}

#: C17 (Figs 1, 2, 5) — experiment 10's lazy row (its first) and check C17:
#: :data:`regimes.settings.dynamics.C17_RUN` with experiment 10's eNTK tracking (quick: as its quick
#: and paper tiers; full: as its full tier).
C17: dict[str, dict[str, Any]] = {
    "quick": {"run": {**C17_RUN, "n_track": 40, "eval_size": 300, "after_pairs": 200, "after_every": 3},
              "seeds": [0, 1, 2]},
    "full": {"run": {**C17_RUN, "n_track": 80, "eval_size": 961, "after_pairs": 500, "after_every": 2},
             "seeds": [0, 1, 2, 3, 4]},
}
#: C17b (Fig 1 middle, Fig 2 left) — experiment 11's quick tier and check C17b: init scales α and seeds
#: of the AdamW sweep :data:`regimes.settings.dynamics.C17B_RUN`.
C17B: dict[str, dict[str, Any]] = {
    "quick": {"alphas": [0.5, 1.0, 2.0, 4.0, 8.0], "seeds": [0, 1, 2], "run": C17B_RUN},
    "full": {"alphas": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0], "seeds": [0, 1, 2, 3, 4], "run": C17B_RUN},
}


#: C18 (Thm 3.6's premise) — check C18 and experiment 20's (h = 8p, n = 2p^{2.25}) cells: the
#: bracketed search of :func:`regimes.extremal.min_linf_interpolators` at Thm 3.6's sample size
#: (App. A.1's n = 2p^{2.25}) and Prop 3.8's width h = 8p. Experiment 20 runs the same p, seeds and
#: search over more n exponents and widths around this cell.
C18: dict[str, dict[str, Any]] = {
    "quick": {"ps": [7, 11], "seeds": [0, 1, 2], "width_mult": 8, "n_exponent": APP_A1["n_exponent"],
              "search": {"steps": 600, "lr": 1e-2, "tol": 1e-3, "rounds": 2, "per_round": 2}},
    "full": {"ps": [7, 11, 13, 17], "seeds": [0, 1, 2, 3, 4], "width_mult": 8, "n_exponent": APP_A1["n_exponent"],
             "search": {"steps": 3000, "lr": 1e-2, "tol": 1e-3, "rounds": 3, "per_round": 3}},
}
#: C19 (Thm 4.5's premise) — experiment 21 and check C19: the staged soft-min ascent of
#: :func:`regimes.extremal.max_margin` under ‖θ‖∞ ≤ 1 at App. A.2's n = 2p^{5/3} and h = 8p.
C19: dict[str, dict[str, Any]] = {
    "quick": {"ps": [11, 13, 17], "seeds": [0, 1, 2], "width_mult": 8, "n_exponent": APP_A2["n_exponent"],
              "temperatures": [0.05, 0.1, 0.2, 0.5, 1.0], "steps_per_stage": 300},
    "full": {"ps": [11, 13, 17, 23, 31, 41], "seeds": [0, 1, 2, 3, 4], "width_mult": 8,
             "n_exponent": APP_A2["n_exponent"], "temperatures": [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0],
             "steps_per_stage": 1500},
}


def grid(claim: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    """The ``quick`` or ``full`` grid of ``claim`` (one of this module's dicts)."""
    return claim["quick" if quick else "full"]
