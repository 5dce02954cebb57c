"""A one-layer transformer on a + b mod p (paper Fig 5, App. A.3; the Nanda et al. /
Kumar et al. style model), in functional form.

Input (a, b) is read as the token sequence ``[a, b, =]`` over a vocabulary of p + 1
tokens (``=`` has id p). With token embeddings E ∈ R^{(p+1)×d}, learned positions
P ∈ R^{3×d} and residual stream h_i = E[tok_i] + P_i, one attention layer (H heads,
no LayerNorm, as in Nanda et al. 2023) and one ReLU MLP act on the residual stream;
the logits are read at the last position:

    q = h_2 W_Q,  k_i = h_i W_K,  v_i = h_i W_V      (per head, d_head = d / H)
    r = h_2 + concat_heads(softmax_i(q·k_i / √d_head) v_i) W_O
    u = r + ReLU(r W_in + b_in) W_out + b_out
    logits = u W_U                                   ∈ R^p

Only the last position is computed: in a one-layer model the other positions'
outputs never reach the logits (the keys and values of every position are used),
so this is exactly the causal transformer's prediction for ``=``.

Initialisation mimics PyTorch's defaults with an explicit seed (App. A.3 uses
"default PyTorch init migrated to JAX"): embeddings and positions N(0, 1)
(``nn.Embedding``), every weight matrix and bias U(±1/√fan_in) (``nn.Linear``).
All entries are then multiplied by ``alpha`` (the init scale of Fig 1 middle).
Draws are i.i.d. entrywise, so the init law is invariant under permutations of
the number tokens (Thm 3.3's condition 3 with shared embeddings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from regimes._validate import check_device, check_index_tensor, check_int, check_positive, check_seed
from regimes.models.protocol import Params

__all__ = ["Transformer", "transformer_apply"]

#: Parameter names in a fixed order (init draws happen in this order).
PARAM_NAMES = ("embed", "pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "b_in", "W_out", "b_out", "W_U")


def transformer_apply(params: Params, x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Logits (n, p) of the one-layer transformer on index pairs ``x`` (n, 2) (see module doc).

    ``x`` is trusted (hot path, ``torch.func``-compatible: no data-dependent control flow).
    """
    E, P = params["embed"], params["pos"]
    p = E.shape[0] - 1
    d = E.shape[1]
    dh = d // n_heads
    eq = torch.full_like(x[:, :1], p)
    tok = torch.cat([x, eq], dim=1)                                # (n, 3)
    h = E[tok] + P                                                 # (n, 3, d)
    n = h.shape[0]
    q = (h[:, 2] @ params["W_Q"]).reshape(n, n_heads, dh)          # (n, H, dh)
    k = (h @ params["W_K"]).reshape(n, 3, n_heads, dh)             # (n, 3, H, dh)
    v = (h @ params["W_V"]).reshape(n, 3, n_heads, dh)
    scores = torch.einsum("nhe,nthe->nht", q, k) / math.sqrt(dh)   # (n, H, 3)
    att = torch.softmax(scores, dim=-1)
    z = torch.einsum("nht,nthe->nhe", att, v).reshape(n, d)
    r = h[:, 2] + z @ params["W_O"]
    u = r + torch.relu(r @ params["W_in"] + params["b_in"]) @ params["W_out"] + params["b_out"]
    return u @ params["W_U"]


@dataclass
class Transformer:
    """One-layer transformer for a + b mod p with parameters ``params`` and ``n_heads`` heads.

    ``net(x)`` gives (n, p) logits on (n, 2) int64 index pairs; ``net.apply(params, x)``
    is the functional form for ``torch.func`` (eNTK) and training; ``net.params()``
    the parameter dict.
    """

    params_: Params
    n_heads: int

    def __post_init__(self) -> None:
        missing = [k for k in PARAM_NAMES if k not in self.params_]
        if missing:
            raise ValueError(f"params is missing {missing}: expected the keys {PARAM_NAMES}")
        d = self.params_["embed"].shape[1]
        check_int("n_heads", self.n_heads, low=1)
        if d % self.n_heads:
            raise ValueError(f"d_model={d} is not divisible by n_heads={self.n_heads}")

    @property
    def p(self) -> int:
        return self.params_["W_U"].shape[1]

    @property
    def d_model(self) -> int:
        return self.params_["embed"].shape[1]

    @classmethod
    def init(cls, p: int, *, d_model: int = 128, n_heads: int = 4, d_mlp: int | None = None,
             alpha: float = 1.0, seed: int = 0, dtype: torch.dtype = torch.float64,
             device: str | torch.device = "cpu") -> Transformer:
        """PyTorch-default-like i.i.d. init scaled by ``alpha`` (see module doc).

        ``d_mlp`` defaults to ``4 * d_model``. Draws are made on the CPU in float64 from a
        generator seeded with ``seed`` (in :data:`PARAM_NAMES` order), then cast and moved.
        """
        p = check_int("p", p, low=2)
        d = check_int("d_model", d_model, low=1)
        H = check_int("n_heads", n_heads, low=1)
        if d % H:
            raise ValueError(f"d_model={d} is not divisible by n_heads={H}")
        m = check_int("d_mlp", 4 * d if d_mlp is None else d_mlp, low=1)
        alpha = check_positive("alpha", alpha)
        check_device("device", device)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} is not allowed: choose torch.float32 or torch.float64")
        g = torch.Generator().manual_seed(check_seed("seed", seed))

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g, dtype=torch.float64)

        def unif(fan_in: int, *shape: int) -> torch.Tensor:
            return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)

        shapes = {
            "embed": lambda: normal(p + 1, d), "pos": lambda: normal(3, d),
            "W_Q": lambda: unif(d, d, d), "W_K": lambda: unif(d, d, d), "W_V": lambda: unif(d, d, d),
            "W_O": lambda: unif(d, d, d), "W_in": lambda: unif(d, d, m), "b_in": lambda: unif(d, m),
            "W_out": lambda: unif(m, m, d), "b_out": lambda: unif(m, d), "W_U": lambda: unif(d, d, p),
        }
        params = {k: (alpha * shapes[k]()).to(dtype=dtype, device=device) for k in PARAM_NAMES}
        return cls(params, H)

    def params(self) -> Params:
        """The parameter dict (the functional form's first argument)."""
        return self.params_

    def with_params(self, params: Params) -> Transformer:
        """The same architecture (``n_heads``) with parameters ``params`` (a shallow copy of
        the dict); how :func:`regimes.train.train` rebuilds the trained model."""
        return Transformer(dict(params), self.n_heads)

    def apply(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Functional forward pass ``(params, x) -> (n, p)`` logits (x trusted)."""
        return transformer_apply(params, x, self.n_heads)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = check_index_tensor("x", x, self.p, 2).to(self.params_["embed"].device)
        return transformer_apply(self.params_, x, self.n_heads)

    def num_params(self) -> int:
        return sum(t.numel() for t in self.params_.values())

    def theta_inf(self) -> float:
        """‖θ‖_∞ over every parameter tensor jointly (eq. 2.2)."""
        return max(float(t.abs().max()) for t in self.params_.values())
