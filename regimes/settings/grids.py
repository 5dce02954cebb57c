"""One grid per claim: the runs a claim's figure draws and its check judges, declared once.

A claim that has both an experiment (its figure) and a check reads its grid here, by tier
(``"quick"``/``"full"``); the experiment's tier config is built from it and the check iterates
it, and both train each run through :func:`regimes.runcache.cached`, so ``regimes check`` after
``regimes run`` retrains nothing the experiment stored.

Where the figure and the check used to differ, the experiment's published value is kept:

* G1 (experiment 15): the full tier runs Gromov's scale (p = 97, N = 500), as experiment 15's
  published full tier did; the check's full grid had kept p = 61.
* C15 (experiment 07) and C16/C16b (experiment 08): the check's grid is the experiment's paper
  setting at the same p, seeds, steps and evaluation count, so each run is stored once; the full
  tiers keep the experiments' published p and budgets (C16's full grid had stopped at p = 47 and
  20k steps, experiment 08's runs p = 61 and 100k).
* C18 (experiment 20): the check's grid is experiment 20's (h = 8p, n = 2p^{2.25}) cells at the
  same p, seeds and search; the check now reads those cells' stored searches, which also run at
  the construction's norm (``also_at``), as the experiment always did.
* C19 (experiment 21): the full tier runs p ≤ 41, as experiment 21's published full tier did;
  the check's full grid had stopped at p = 31.
"""

from __future__ import annotations

from typing import Any

from regimes.settings.gromov import G1_RUN, G1_RUN_FULL, G1_WINDOW
from regimes.settings.mohamadi import APP_A1, APP_A2

#: G1 (Gromov Fig 1a) — experiment 15 and check G1.
G1: dict[str, dict[str, Any]] = {
    "quick": {"run": G1_RUN, "seeds": [0, 1, 2], "window": G1_WINDOW},
    "full": {"run": G1_RUN_FULL, "seeds": [0, 1, 2, 3, 4], "window": G1_WINDOW},
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
