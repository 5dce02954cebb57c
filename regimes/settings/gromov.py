"""Settings of A. Gromov, *Grokking modular arithmetic* (arXiv:2301.02679, 2023), each declared
once with where it comes from ("Gromov Sec. N / Fig N" for his words, "our reading" where he
leaves the value open). :mod:`regimes.gromov`, checks G1–G6 and experiments 15–18 read them;
tiers overlay them, and :mod:`regimes.settings.grids` makes each claim's grid (G1, G2, G5) of them.
"""

from __future__ import annotations

from typing import Any

# --------------------------------------------------------------------------- G1, experiment 15
#: The run of experiment 15 and check G1 (quick), without the seed. Gromov Fig 1 / Sec. 2: plain
#: full-batch GD, square loss, no regularization, training fraction 0.49. Our reading: p = 61,
#: N = 300 (he uses p = 97, N = 500 — the full tier); lr 50 is about the largest stable rate at
#: this width on our loss convention; a budget of 1,800 steps, stopped once held-out accuracy
#: reaches 0.99 (the seeds get there at steps 1,360–1,540, after t_grok at 1,280–1,460).
G1_RUN: dict[str, Any] = {"p": 61, "h": 300, "fraction": 0.49, "function": "add", "optimizer": "gd",
                          "lr": 50.0, "steps": 1800, "eval_every": 20, "dtype": "float32", "grad_norms": True,
                          "grok_threshold": 0.95, "onset_level": 0.1, "stop_at": 0.99}

#: Gromov's own scale (Sec. 2: p = 97, N = 500), with lr 80 and 5,000 steps (our reading: the
#: stable rate and a budget past t_grok at that width).
G1_RUN_FULL: dict[str, Any] = {**G1_RUN, "p": 97, "h": 500, "lr": 80.0, "steps": 5000, "eval_every": 20}

#: G1's window (our reading of "right before", Fig 1a): the held-out loss peaks at most this
#: fraction of t_grok before the onset of generalisation.
G1_WINDOW = 0.2


#: Gromov's modular functions (Sec. 3.2, App. D), by the key of :data:`regimes.tasks.OPS` that
#: computes them, with the formula (all mod p). Experiment 17 trains all of them.
FUNCTIONS: dict[str, str] = {
    "add": "n + m",
    "square_of_sum": "(n + m)²",
    "sum_of_squares": "n² + m²",
    "mul": "n·m",
    "quadratic": "n² + n·m + m²",
    "cubic": "n³ + n·m² + m",
}

# --------------------------------------------------------------------------- G2, experiment 16
#: The optimizers of experiment 16 and check G2. Gromov Fig 4a, Sec. 2: plain GD, GD with
#: momentum and AdamW. Our reading of the values he leaves open, each at its own setting: GD
#: at about its largest stable lr at this width (lr 20); momentum 0.9 at lr 5 (effective step
#: lr/(1 − μ) = 50, which plain GD cannot take: lr 50 diverges at N = 200); AdamW lr 1e-2 with
#: decoupled weight decay 1 (decay 5, the default of his repository, drives every weight to 0
#: on our loss convention before anything is learned).
G2_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "gd": {"optimizer": "gd", "lr": 20.0},
    "momentum": {"optimizer": "sgd", "lr": 5.0, "momentum": 0.9},
    "adamw": {"optimizer": "adamw", "lr": 1e-2, "weight_decay": 1.0},
}
#: The common run of experiment 16 and check G2 (quick), without optimizer, fraction and seed.
#: Gromov Sec. 2: full batch, square loss, n + m; his t_grok is the step held-out accuracy
#: reaches 0.95 (Fig 4a), and a run stops there. Our reading: p = 31, N = 200, a budget of
#: 2,500 steps (the slowest run that groks, GD at fraction 0.7 seed 2, does so at step 2,420;
#: the runs that do not grok, GD and momentum at 0.6, are still near chance at 3,000).
G2_RUN: dict[str, Any] = {"p": 31, "h": 200, "function": "add", "steps": 2500, "eval_every": 20,
                          "dtype": "float32", "stop_at": 0.95, "grok_threshold": 0.95}
#: Training fractions (his α) searched top down (quick; our reading). 0.3 is left out for time:
#: AdamW groks there too, in ~2,500 steps per seed, which alone would be a sixth of the budget.
G2_FRACTIONS: list[float] = [0.4, 0.5, 0.6, 0.7, 0.8]
#: G2's full tier: Gromov's scale (Sec. 2: p = 97, N = 500), 20,000 steps (our reading; the
#: learning rates, tuned at N = 200, would need re-tuning), his fractions from 0.15 (Fig 4a).
G2_RUN_FULL: dict[str, Any] = {**G2_RUN, "p": 97, "h": 500, "steps": 20_000, "eval_every": 50}
G2_FRACTIONS_FULL: list[float] = [0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]

# --------------------------------------------------------------------------- G5, G6, experiment 17
#: The run of experiment 17 and checks G5, G6 (quick), without function, fraction and seed.
#: Gromov Figs 7–10: AdamW, square loss, full batch. Our reading: p = 31, N = 200, lr 1e-2 and
#: decoupled weight decay 1 (G2's AdamW), a budget of 2,000 steps, each run stopped at held-out
#: accuracy 0.99 (learned: nothing left to show); the four easy functions stop by step ~1,200,
#: the two hard ones use the whole budget.
FUNCTIONS_RUN: dict[str, Any] = {"p": 31, "h": 200, "optimizer": "adamw", "lr": 1e-2, "weight_decay": 1.0,
                                 "steps": 2000, "eval_every": 50, "dtype": "float32", "stop_at": 0.99}
#: Experiment 17's full tier: Gromov's p = 97 and N = 500 (Sec. 2), 20,000 steps (our reading).
FUNCTIONS_RUN_FULL: dict[str, Any] = {**FUNCTIONS_RUN, "p": 97, "h": 500, "steps": 20_000, "eval_every": 100}
#: Training fractions of experiment 17, run from the largest down (our reading). G5 and G6 read
#: the largest, which every sweep runs: G6 is Gromov's n³ + nm² + m, which "does not generalize
#: even for α > 0.9" (App. D, after Power et al.), and G5 needs enough data that a net could use
#: both square-root branches of (n + m)² (Fig 7).
FUNCTIONS_FRACTIONS: list[float] = [0.5, 0.9]
FUNCTIONS_FRACTIONS_FULL: list[float] = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
#: Held-out accuracy at which a fraction counts as learned (experiment 17's critical fraction;
#: our reading, G2's t_grok level).
FUNCTIONS_CRIT_LEVEL = 0.95
