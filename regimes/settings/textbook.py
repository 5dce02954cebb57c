"""Settings of the textbook chapter on grokking, each declared once with where it comes from (the
chapter's section — "Measures of Grokking", "Weight Decay as the Driver", "Grokking as a Phase
Transition", its Worked Examples and Practice Problems — or "our reading" where it leaves the
value open). The chapter's own setting is a 1–2 layer transformer at p = 97; the suite measures
its claims on the central paper's quadratic net (our reading).

Checks T1–T3 run :data:`TEXTBOOK_RUN` on the grids :data:`regimes.settings.grids.T1` and
:data:`~regimes.settings.grids.T2`; experiment 14 draws those grids (its bottom row) beside its
own sweeps of the chapter's measures (:data:`MEASURES_RUN`, :data:`MEASURES_SWEEPS`).

>>> TEXTBOOK_RUN["grok_threshold"], TEXTBOOK_RUN["mem_threshold"], T2_BAND
(0.9, 1.0, (0.4, 0.6))
"""

from __future__ import annotations

from typing import Any

#: The chapter's measures ("Measures of Grokking"): t_mem is the first step at 100 % training
#: accuracy, t_grok the first step at ≥ 90 % held-out accuracy, the gap Δt = t_grok − t_mem.
GROK_THRESHOLD, MEM_THRESHOLD = 0.9, 1.0

#: The run of T1–T3 (the chapter's measures above; the rest our reading): the central paper's
#: quadratic net at h = 4p and p = 23 (the chapter's transformer at p = 97 does not fit the quick
#: budget), full-batch AdamW — the chapter's weight decay γ ("Weight Decay as the Driver") as
#: AdamW's decoupled coefficient — at lr 3e-3, cross-entropy.
TEXTBOOK_RUN: dict[str, Any] = {"p": 23, "width_mult": 4, "optimizer": "adamw", "lr": 3e-3,
                                "loss": "cross_entropy", "grok_threshold": GROK_THRESHOLD,
                                "mem_threshold": MEM_THRESHOLD}

#: T2's band ("Measures of Grokking"; Worked Example 3): "a certain fraction of data (around
#: 40–60 %) maximizes the grokking gap".
T2_BAND: tuple[float, float] = (0.4, 0.6)

#: Experiment 14's quadratic-net run (quick), without weight decay and seed (our reading):
#: AdamW lr 1e-3, cross-entropy, p = 23, training fraction 0.7, 2,500 steps, 50 log-spaced
#: evaluations, no kernel tracking.
MEASURES_RUN: dict[str, Any] = {"p": 23, "optimizer": "adamw", "lr": 1e-3, "loss": "cross_entropy", "steps": 2500,
                                "track": False, "n_track": 50, "fraction": 0.7}
#: Experiment 14's full tier: p = 47, fraction 0.5, 20,000 steps, 80 evaluations (our reading).
MEASURES_RUN_FULL: dict[str, Any] = {**MEASURES_RUN, "p": 47, "steps": 20_000, "n_track": 80, "fraction": 0.5}
#: Experiment 14's sweeps of the quadratic net: weight decays ("Weight Decay as the Driver"; 0 =
#: none), training fractions at ``wd_fixed`` (the "Goldilocks" dependence, "Measures of
#: Grokking"), and weight decay switched on only at step ``wd_on`` (Practice Problem 2: decay
#: after memorisation; 300 is just after t_mem quick). The values are our reading.
MEASURES_SWEEPS: dict[str, dict[str, Any]] = {
    "quick": {"wds": [0.0, 0.3, 1.0, 3.0], "wd_fixed": 1.0, "fractions": [0.5, 0.7, 0.9], "wd_on": 300},
    "full": {"wds": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 5.0], "wd_fixed": 1.0, "fractions": [0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
             "wd_on": 2000},
}
