"""One grid per claim: the runs a claim's figure draws and its check judges, declared once.

A claim that has both an experiment (its figure) and a check reads its grid here, by tier
(``"quick"``/``"full"``); the experiment's tier config is built from it and the check iterates
it, and both train each run through :func:`regimes.runcache.cached`, so ``regimes check`` after
``regimes run`` retrains nothing the experiment stored.

Where the figure and the check used to differ, the experiment's published value is kept:

* G1 (experiment 15): the full tier runs Gromov's scale (p = 97, N = 500), as experiment 15's
  published full tier did; the check's full grid had kept p = 61.
"""

from __future__ import annotations

from typing import Any

from regimes.settings.gromov import G1_RUN, G1_RUN_FULL, G1_WINDOW

#: G1 (Gromov Fig 1a) — experiment 15 and check G1.
G1: dict[str, dict[str, Any]] = {
    "quick": {"run": G1_RUN, "seeds": [0, 1, 2], "window": G1_WINDOW},
    "full": {"run": G1_RUN_FULL, "seeds": [0, 1, 2, 3, 4], "window": G1_WINDOW},
}


def grid(claim: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    """The ``quick`` or ``full`` grid of ``claim`` (one of this module's dicts)."""
    return claim["quick" if quick else "full"]
