"""Settings of A. Gromov, *Grokking modular arithmetic* (arXiv:2301.02679, 2023), each declared
once with where it comes from ("Gromov Sec. N / Fig N" for his words, "our reading" where he
leaves the value open). :mod:`regimes.gromov` and experiments 15–18 read them; tiers overlay them.
"""

from __future__ import annotations

from typing import Any

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
