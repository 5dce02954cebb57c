"""The embedding MLP of the blog post "Some thoughts on Grokking" on a + b mod p, in
functional form.

The blog's minimal grokking model (code: okitouni/simple-grokking) is "a simple 2-layer
MLP that takes in two learnable embeddings of dimension hidden_dim=128 concatenated
together", trained on a + b mod 53; raising AdamW's weight decay from 0.03 to 5 removes
the delay between memorisation and generalisation. With one embedding table
E ∈ R^{p×d} shared by both operands:

    z = concat(E[a], E[b])                     ∈ R^{2d}
    u = ReLU(z W1 + b1)                        ∈ R^{hidden}
    logits = u W2 + b2                         ∈ R^p

Unlike the paper's quadratic net (a sum of two columns of W squared), the two operands
enter through separate rows of W1 and the nonlinearity is a ReLU with biases, so the
model is not homogeneous; its rows E[a] are the token embeddings whose PCA the blog
draws as a circle.

Initialisation mimics PyTorch's defaults with an explicit seed: E ~ N(0, 1) entrywise
(``nn.Embedding``), W1, b1 ~ U(±1/√(2d)) and W2, b2 ~ U(±1/√hidden) (``nn.Linear``:
bound 1/√fan_in for weights and biases alike). All entries are then multiplied by
``alpha``. Draws are i.i.d. entrywise, so the init law is invariant under permutations
of the tokens (Thm 3.3's condition with a shared embedding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from regimes._validate import check_device, check_index_tensor, check_int, check_positive, check_seed
from regimes.models.protocol import Params

__all__ = ["EmbeddingMLP", "mlp_apply"]

#: Parameter names in a fixed order (init draws happen in this order).
PARAM_NAMES = ("embed", "W1", "b1", "W2", "b2")


def mlp_apply(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Logits (n, p) of the embedding MLP on index pairs ``x`` (n, 2) (see module doc).

    ``x`` is trusted (hot path, ``torch.func``-compatible: no data-dependent control flow).
    """
    E = params["embed"]
    z = E[x].reshape(x.shape[0], 2 * E.shape[1])                  # concat(E[a], E[b]), (n, 2d)
    u = torch.relu(z @ params["W1"] + params["b1"])                # (n, hidden)
    return u @ params["W2"] + params["b2"]                         # (n, p)


def _check_params(params: object) -> Params:
    """Validate the parameter dict's keys and mutually consistent shapes."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of tensors, got {type(params).__name__}")
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}: expected the keys {PARAM_NAMES}")
    for k in PARAM_NAMES:
        if not isinstance(params[k], torch.Tensor):
            raise ValueError(f"params[{k!r}] must be a torch.Tensor, got {type(params[k]).__name__}")
    E, W1 = params["embed"], params["W1"]
    if E.ndim != 2 or E.shape[0] < 2 or E.shape[1] < 1:
        raise ValueError(f"params['embed'] has shape {tuple(E.shape)}: expected (p, d) with p >= 2, d >= 1")
    p, d = E.shape
    if W1.ndim != 2 or W1.shape[0] != 2 * d or W1.shape[1] < 1:
        raise ValueError(f"params['W1'] has shape {tuple(W1.shape)}: expected (2d, hidden) = ({2 * d}, hidden)")
    m = W1.shape[1]
    want = {"b1": (m,), "W2": (m, p), "b2": (p,)}
    for k, shape in want.items():
        if tuple(params[k].shape) != shape:
            raise ValueError(f"params[{k!r}] has shape {tuple(params[k].shape)}: expected {shape}")
    return params


@dataclass
class EmbeddingMLP:
    """The blog's embedding MLP for a + b mod p with parameters ``params_``.

    ``net(x)`` gives (n, p) logits on (n, 2) int64 index pairs; ``net.apply(params, x)``
    is the functional form for ``torch.func`` (eNTK) and :func:`regimes.train.train`;
    ``net.params()`` the parameter dict (keys :data:`PARAM_NAMES`).
    """

    params_: Params

    def __post_init__(self) -> None:
        _check_params(self.params_)

    @property
    def p(self) -> int:
        return self.params_["embed"].shape[0]

    @property
    def d_embed(self) -> int:
        return self.params_["embed"].shape[1]

    @property
    def hidden(self) -> int:
        return self.params_["W1"].shape[1]

    @classmethod
    def init(cls, p: int, *, d_embed: int = 128, hidden: int = 128, alpha: float = 1.0, seed: int = 0,
             dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> EmbeddingMLP:
        """PyTorch-default-like i.i.d. init scaled by ``alpha`` (see module doc).

        The blog uses d_embed = hidden = 128. Draws are made on the CPU in float64 from a
        generator seeded with ``seed`` (in :data:`PARAM_NAMES` order), then cast and moved.
        """
        p = check_int("p", p, low=2)
        d = check_int("d_embed", d_embed, low=1)
        m = check_int("hidden", hidden, low=1)
        alpha = check_positive("alpha", alpha)
        seed = check_seed("seed", seed)
        check_device("device", device)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} is not allowed: choose torch.float32 or torch.float64")
        g = torch.Generator().manual_seed(check_seed("seed", seed))

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g, dtype=torch.float64)

        def unif(fan_in: int, *shape: int) -> torch.Tensor:
            return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)

        shapes = {
            "embed": lambda: normal(p, d),
            "W1": lambda: unif(2 * d, 2 * d, m), "b1": lambda: unif(2 * d, m),
            "W2": lambda: unif(m, m, p), "b2": lambda: unif(m, p),
        }
        params = {k: (alpha * shapes[k]()).to(dtype=dtype, device=device) for k in PARAM_NAMES}
        return cls(params)

    def params(self) -> Params:
        """The parameter dict (the functional form's first argument)."""
        return self.params_

    def with_params(self, params: Params) -> EmbeddingMLP:
        """The same architecture with parameters ``params`` (a shallow copy of the dict); how
        :func:`regimes.train.train` rebuilds the trained model."""
        return EmbeddingMLP(dict(params))

    def apply(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Functional forward pass ``(params, x) -> (n, p)`` logits (x trusted)."""
        return mlp_apply(params, x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n, p) on validated (n, 2) index pairs with entries in [0, p)."""
        x = check_index_tensor("x", x, self.p, 2).to(self.params_["embed"].device)
        return mlp_apply(self.params_, x)

    def num_params(self) -> int:
        """Total number of parameter entries."""
        return sum(t.numel() for t in self.params_.values())

    def theta_inf(self) -> float:
        """‖θ‖_∞ over every parameter tensor jointly (eq. 2.2)."""
        return max(float(t.abs().max()) for t in self.params_.values())
