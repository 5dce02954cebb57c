"""regimes: a theory-verification suite for the kernel (lazy) vs rich
(feature-learning) regime behind grokking on modular arithmetic.

The public API, re-exported here::

    from regimes import Task, sample_split, QuadraticNet, entk
"""

from regimes.models import QuadraticNet, init_moments
from regimes.ntk import entk, expected_ntk
from regimes.tasks import Dataset, Split, Task, one_hot, random_sigma, sample_split, transform

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "QuadraticNet",
    "Split",
    "Task",
    "__version__",
    "entk",
    "expected_ntk",
    "init_moments",
    "one_hot",
    "random_sigma",
    "sample_split",
    "transform",
]
