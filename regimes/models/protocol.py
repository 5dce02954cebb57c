"""The model interface the training loop and the autodiff eNTK take (paper eq. 2.1, Def 4.1).

A *model* is a parametrised map from index pairs to logits, written functionally so that
``torch.func`` can differentiate it with respect to its parameters:

* ``params() -> dict[str, Tensor]``: the parameters θ, by name;
* ``apply(params, x) -> Tensor``: the logits f(θ; x), shape (n, p), on an (n, 2) int64
  tensor of index pairs, for *any* parameter dict of the same names and shapes (the
  functional form; no state is read besides fixed hyperparameters);
* ``with_params(params) -> Model``: the same architecture (and fixed hyperparameters)
  holding ``params``.

So ``model.apply(model.params(), x)`` equals ``model(x)`` and
``model.with_params(model.params())`` computes the same function. The quadratic net
(:class:`regimes.models.QuadraticNet`), the transformer
(:class:`regimes.models.Transformer`) and the embedding MLP
(:class:`regimes.models.EmbeddingMLP`) satisfy it (``tests/test_protocol.py``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

__all__ = ["Model", "Params"]

Params = dict[str, torch.Tensor]


@runtime_checkable
class Model(Protocol):
    """A functional model: ``params()``, ``apply(params, x)`` and ``with_params(params)``
    (see the module docstring). ``isinstance(obj, Model)`` checks that the three methods
    exist (``runtime_checkable``), not their signatures."""

    def params(self) -> Params:
        """The parameters θ as a dict of tensors."""
        ...

    def apply(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Logits f(θ; x), (n, p), for the parameters ``params`` on (n, 2) index pairs ``x``."""
        ...

    def with_params(self, params: Params) -> Model:
        """A model of the same architecture holding ``params``."""
        ...
