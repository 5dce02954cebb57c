"""Deprecated alias of :mod:`regimes.kernels.nested` (one release): the nested-Cholesky
training-size sweeps were renamed so that :mod:`regimes.sweep` (the generic executor) is the
only module called ``sweep``. Import from :mod:`regimes.kernels.nested` instead.

:func:`trial_averaged_sweeps` here keeps the old signature ``(ctx, sweep, kernels_for, cfg)``
(an experiment run's context); the new one takes the memo function and the seed.
"""

from __future__ import annotations

import warnings
from typing import Any

from regimes.kernels import nested
from regimes.kernels.nested import (  # noqa: F401  (re-exported)
    CLASSIFICATION_KERNELS,
    REGRESSION_KERNELS,
    SweepResult,
    classification_sweep,
    grid_sizes,
    regression_sweep,
)

warnings.warn("regimes.kernels.sweep is deprecated: import from regimes.kernels.nested",
              DeprecationWarning, stacklevel=2)


def trial_averaged_sweeps(ctx: Any, sweep: Any, kernels_for: Any, cfg: dict) -> tuple[dict, dict]:
    """:func:`regimes.kernels.nested.trial_averaged_sweeps` with ``ctx.point`` as the memo and
    ``ctx.seed`` as the seed (the old signature)."""
    return nested.trial_averaged_sweeps(ctx.point, sweep, kernels_for, cfg, seed=ctx.seed)
