"""Deprecated alias of :mod:`regimes.runs` (one release): the training recipes
(:func:`~regimes.runs.tracked_run`, :func:`~regimes.runs.mlp_run`, :func:`~regimes.runs.summarize`,
:func:`~regimes.runs.c17_summary`, :data:`~regimes.runs.DEFAULT_RUN`, …) train models, so they
live with the other recipes in :mod:`regimes.runs`; this module re-exports them and warns.
Import from :mod:`regimes.runs` instead.
"""

from __future__ import annotations

import warnings

from regimes.runs import (  # noqa: F401  (re-exported)
    DEFAULT_MLP_RUN,
    DEFAULT_RUN,
    S_FLOOR,
    MLPRunConfig,
    TrackedRunConfig,
    c17_summary,
    mlp_run,
    summarize,
    tracked_run,
)

__all__ = ["DEFAULT_MLP_RUN", "DEFAULT_RUN", "c17_summary", "mlp_run", "summarize", "tracked_run"]

warnings.warn("regimes.metrics.runs is deprecated: import the training recipes from regimes.runs",
              DeprecationWarning, stacklevel=2)
