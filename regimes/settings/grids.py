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
from regimes.settings.gromov import G1_RUN, G1_RUN_FULL, G1_WINDOW

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


def grid(claim: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    """The ``quick`` or ``full`` grid of ``claim`` (one of this module's dicts)."""
    return claim["quick" if quick else "full"]
