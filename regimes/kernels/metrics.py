"""Deprecated alias of :mod:`regimes.kernels.population` (one release): the population
metrics of predictors were renamed so that :mod:`regimes.metrics` (what is measured along
training) is the only module called ``metrics``. Import from
:mod:`regimes.kernels.population` (or :mod:`regimes.kernels`) instead.
"""

from __future__ import annotations

import warnings

from regimes.kernels.population import *  # noqa: F403  (re-exported)
from regimes.kernels.population import __all__  # noqa: F401

warnings.warn("regimes.kernels.metrics is deprecated: import from regimes.kernels.population",
              DeprecationWarning, stacklevel=2)
