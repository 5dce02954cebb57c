"""The suite's own runs for the paper's empirical dynamics claims (Mohamadi et al., Figs 1, 2, 5),
each declared once. No source states these values: they are *our reading*, chosen by the search
recorded in ``proofs/grokking_dynamics.md`` (the paper's own settings, App. A.1/A.2, are in
:mod:`regimes.settings.mohamadi`; experiments 10 and 11 run them in their paper and full tiers).
Keys are :class:`regimes.runs.TrackedRunConfig` fields, without the seed; the grids of
:mod:`regimes.settings.grids` overlay the eNTK tracking and the seeds.
"""

from __future__ import annotations

from typing import Any

#: The run of check C17 and experiment 10's lazy row, without the seed and the eNTK tracking: plain
#: full-batch GD on cross-entropy from a large init (init scale α = 16) with a small weight decay,
#: classification, p = 31, h = 4p, 80 % of the p² pairs, 8,000 steps — the large-init/small-decay
#: regime in which Lyu et al. (2023) prove a kernel phase followed by a transition (our values).
C17_RUN: dict[str, Any] = {
    "p": 31, "optimizer": "gd", "lr": 0.5, "alpha": 16.0, "weight_decay": 2e-3, "lam_inf": 0.0,
    "loss": "cross_entropy", "fraction": 0.8, "steps": 8000,
}

#: The init-scale sweep of check C17b and experiment 11's quick tier, without α and the seed: AdamW
#: (lr 1e-3, weight decay 1) on cross-entropy, p = 31, n = 2p^{5/3}, h = 4p, 3,500 steps, no eNTK
#: tracking (the suite's grokking recipe; our values). α is the **init scale**: every entry of the
#: initial (W, V) is multiplied by α.
C17B_RUN: dict[str, Any] = {"p": 31, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0,
                            "loss": "cross_entropy", "steps": 3500, "track": False, "n_track": 50}
