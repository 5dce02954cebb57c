"""regimes: a theory-verification suite for the kernel (lazy) vs rich
(feature-learning) regime behind grokking on modular arithmetic.

The public API, re-exported here (imported lazily, so ``import regimes`` is
cheap for the CLI and sweep workers)::

    from regimes import Task, sample_split, QuadraticNet, entk, train

Every name in ``__all__`` is the object its source module defines, whatever was
imported before. One of them, ``train`` (the training loop), shares its name with
the submodule :mod:`regimes.train` that defines it. Python's import system binds a
package's submodule as an attribute of the package when it first loads it, which
would replace the function by the module (``from regimes import train`` would give
the module, and ``train(...)`` fail with "'module' object is not callable"). The
package refuses that one binding (:class:`_Package`), so ``regimes.train`` is always
the function. The module stays importable as usual: ``from regimes.train import
TrainConfig``, ``import regimes.train`` (which loads it), ``sys.modules["regimes.train"]``
or ``importlib.import_module("regimes.train")``. Note that ``import regimes.train as m``
binds ``m`` to the package attribute, i.e. the function: use ``importlib`` for the module.
"""

from __future__ import annotations

import importlib
import sys
import types
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
    "load_run": "regimes.harness",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'regimes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """The ``regimes`` module's class: it keeps a public name that equals a submodule's
    name (``train``) resolving to the exported object. The import system's binding of the
    submodule on the package (``setattr(regimes, "train", <module regimes.train>)``, done
    after every first import of ``regimes.train``) is dropped, so the name stays unset and
    the module-level ``__getattr__`` returns the exported function, freshly looked up (an
    ``importlib.reload`` of the submodule is seen)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (name in _EXPORTS and isinstance(value, types.ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
