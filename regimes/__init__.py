"""regimes: a theory-verification suite for the kernel (lazy) vs rich
(feature-learning) regime behind grokking on modular arithmetic.

The public API, re-exported here (imported lazily, so ``import regimes`` is
cheap for the CLI and sweep workers)::

    from regimes import Task, sample_split, QuadraticNet, entk
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Dataset": "regimes.tasks",
    "Split": "regimes.tasks",
    "Task": "regimes.tasks",
    "one_hot": "regimes.tasks",
    "random_sigma": "regimes.tasks",
    "sample_split": "regimes.tasks",
    "transform": "regimes.tasks",
    "QuadraticNet": "regimes.models",
    "init_moments": "regimes.models",
    "entk": "regimes.ntk",
    "expected_ntk": "regimes.ntk",
    "TrainConfig": "regimes.train",
    "train": "regimes.train",
    "kernel_regression": "regimes.kernels",
    "fourier_interpolator": "regimes.constructions",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'regimes' has no attribute {name!r}")
