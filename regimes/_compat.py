"""Deprecated keyword names, kept for one release.

:func:`renamed_kwargs` lets a function whose keyword argument was renamed (``width`` →
``h``, the paper's name for the hidden width) still accept the old name: the old keyword
is passed on under the new one with a ``DeprecationWarning``; giving both is an error.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["renamed_kwargs"]


def renamed_kwargs(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword ``old`` (``old_to_new = {old: new}``) as ``new``,
    warning ``DeprecationWarning``; ``ValueError`` if a call gives both ``old`` and ``new``."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ValueError(f"{fn.__qualname__}: give {new}= only ({old}= is its deprecated name), "
                                         f"got both {old}={kwargs[old]!r} and {new}={kwargs[new]!r}")
                    warnings.warn(f"{fn.__qualname__}({old}=...) is deprecated: use {new}=", DeprecationWarning,
                                  stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
