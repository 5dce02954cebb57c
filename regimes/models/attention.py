"""Attention-only models on a + b mod p (Gromov, *Grokking modular arithmetic*, App. E.2), in
functional form.

Gromov removes the MLP from the transformer and asks whether attention alone, itself
non-linear, can grok modular addition; he reports a transition driven by the number of heads at
a fixed number of parameters, for one-layer linear and softmax attention and two-layer softmax
attention (his Figs 12, 13; p = 97, n_embd = 128).

Input (a, b) is the token sequence ``[a, b, =]`` over p + 1 tokens (``=`` has id p). With token
embeddings E ∈ R^{(p+1)×d}, learned positions P ∈ R^{3×d} and residual stream h_i = E[tok_i] + P_i,
each of L layers adds multi-head causal attention (H heads of size d/H, no LayerNorm, no MLP):

    q_i = h_i W_Q,  k_j = h_j W_K,  v_j = h_j W_V                 (per head)
    s_ij = q_i·k_j / √(d/H)   for j ≤ i  (causal)
    softmax attention: a_ij = softmax_{j ≤ i}(s_ij);   linear attention: a_ij = s_ij
    h_i ← h_i + concat_heads(Σ_{j ≤ i} a_ij v_j) W_O

and the logits are read at the last position, logits = h_2 W_U ∈ R^p. The attention weights
W_Q, W_K, W_V, W_O are d × d whatever H is, so the parameter count does not depend on the number
of heads: (p + 1)d + 3d + 4Ld² + dp.

Initialisation mimics PyTorch's defaults with an explicit seed: embeddings and positions N(0, 1),
weight matrices U(±1/√fan_in). Bad input (a head count that does not divide n_embd, an unknown
attention kind, fewer than one layer) raises ``ValueError`` before anything is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from regimes._validate import check_choice, check_device, check_index_tensor, check_int, check_seed

Params = dict[str, torch.Tensor]

__all__ = ["ATTENTION_KINDS", "AttentionOnly", "attention_apply", "check_heads"]

ATTENTION_KINDS = ("linear", "softmax")


def check_heads(n_heads: object, n_embd: object) -> tuple[int, int]:
    """Return ``(n_heads, n_embd)`` if both are positive integers and ``n_heads`` divides ``n_embd``."""
    d = check_int("n_embd", n_embd, low=1)
    h = check_int("n_heads", n_heads, low=1)
    if d % h:
        divisors = [k for k in range(1, d + 1) if d % k == 0]
        raise ValueError(f"n_heads={h} does not divide n_embd={d}: the head size would be {d / h:g}; "
                         f"allowed n_heads: {divisors}")
    return h, d


def _param_names(n_layers: int) -> tuple[str, ...]:
    layer = tuple(f"{w}{i}" for i in range(n_layers) for w in ("W_Q", "W_K", "W_V", "W_O"))
    return ("embed", "pos", *layer, "W_U")


def attention_apply(params: Params, x: torch.Tensor, n_heads: int, kind: str) -> torch.Tensor:
    """Logits (n, p) of the attention-only model on index pairs ``x`` (n, 2) (see module doc).

    ``x``, ``n_heads`` and ``kind`` are trusted (hot path, ``torch.func``-compatible).
    """
    E, P = params["embed"], params["pos"]
    p, d = E.shape[0] - 1, E.shape[1]
    dh = d // n_heads
    n_layers = sum(1 for k in params if k.startswith("W_Q"))
    tok = torch.cat([x, torch.full_like(x[:, :1], p)], dim=1)           # (n, 3)
    h = E[tok] + P                                                      # (n, 3, d)
    n = h.shape[0]
    mask = torch.tril(torch.ones(3, 3, dtype=torch.bool, device=h.device))   # j ≤ i
    for layer in range(n_layers):
        q = (h @ params[f"W_Q{layer}"]).reshape(n, 3, n_heads, dh)
        k = (h @ params[f"W_K{layer}"]).reshape(n, 3, n_heads, dh)
        v = (h @ params[f"W_V{layer}"]).reshape(n, 3, n_heads, dh)
        s = torch.einsum("nihe,njhe->nhij", q, k) / math.sqrt(dh)       # (n, H, 3, 3)
        if kind == "softmax":
            a = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)
        else:
            a = s * mask
        z = torch.einsum("nhij,njhe->nihe", a, v).reshape(n, 3, d)
        h = h + z @ params[f"W_O{layer}"]
    return h[:, 2] @ params["W_U"]


@dataclass
class AttentionOnly:
    """Attention-only model (see module doc) with parameters ``params_``, ``n_heads`` heads and
    attention ``kind`` (``"linear"`` or ``"softmax"``); the number of layers is read from the
    parameters. ``net(x)`` gives (n, p) logits on (n, 2) int64 index pairs; ``apply``,
    ``params`` and ``with_params`` make it a functional model for :func:`regimes.train.train`."""

    params_: Params
    n_heads: int
    kind: str = "softmax"

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ATTENTION_KINDS)
        E = self.params_.get("embed")
        if not isinstance(E, torch.Tensor) or E.ndim != 2 or E.shape[0] < 3:
            raise ValueError("params['embed'] must be a (p + 1, n_embd) tensor with p >= 2")
        check_heads(self.n_heads, E.shape[1])
        n_layers = sum(1 for k in self.params_ if k.startswith("W_Q"))
        missing = [k for k in _param_names(max(n_layers, 1)) if k not in self.params_]
        if n_layers < 1 or missing:
            raise ValueError(f"params is missing {missing or ['W_Q0']}: expected {_param_names(max(n_layers, 1))}")

    @property
    def p(self) -> int:
        return self.params_["embed"].shape[0] - 1

    @property
    def n_embd(self) -> int:
        return self.params_["embed"].shape[1]

    @property
    def n_layers(self) -> int:
        return sum(1 for k in self.params_ if k.startswith("W_Q"))

    @classmethod
    def init(cls, p: int, *, n_embd: int = 128, n_heads: int = 4, n_layers: int = 1, kind: str = "softmax",
             seed: int = 0, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> AttentionOnly:
        """PyTorch-default-like init (see module doc), drawn on the CPU in float64 from a generator
        seeded with ``seed`` in parameter order, then cast and moved. ``ValueError`` for p < 2, a
        head count that does not divide ``n_embd``, ``n_layers < 1``, an unknown ``kind`` or ``device``."""
        p = check_int("p", p, low=2)
        n_heads, d = check_heads(n_heads, n_embd)
        n_layers = check_int("n_layers", n_layers, low=1)
        check_choice("kind", kind, ATTENTION_KINDS)
        check_device("device", device)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype} is not allowed: choose torch.float32 or torch.float64")
        g = torch.Generator().manual_seed(check_seed("seed", seed))

        def unif(fan_in: int, *shape: int) -> torch.Tensor:
            return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)

        params: Params = {"embed": torch.randn(p + 1, d, generator=g, dtype=torch.float64),
                          "pos": torch.randn(3, d, generator=g, dtype=torch.float64)}
        for i in range(n_layers):
            for w in ("W_Q", "W_K", "W_V", "W_O"):
                params[f"{w}{i}"] = unif(d, d, d)
        params["W_U"] = unif(d, d, p)
        return cls({k: v.to(dtype=dtype, device=device) for k, v in params.items()}, n_heads, kind)

    def params(self) -> Params:
        """The parameter dict (the functional form's first argument)."""
        return self.params_

    def with_params(self, params: Params) -> AttentionOnly:
        """The same architecture with parameters ``params`` (how :func:`regimes.train.train` rebuilds it)."""
        return AttentionOnly(dict(params), self.n_heads, self.kind)

    def apply(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Functional forward pass ``(params, x) -> (n, p)`` logits (x trusted)."""
        return attention_apply(params, x, self.n_heads, self.kind)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n, p) on validated (n, 2) index pairs with entries in [0, p)."""
        x = check_index_tensor("x", x, self.p, 2).to(self.params_["embed"].device)
        return attention_apply(self.params_, x, self.n_heads, self.kind)

    def num_params(self) -> int:
        """Total number of parameter entries: (p + 1)d + 3d + 4Ld² + dp, whatever the head count."""
        return sum(t.numel() for t in self.params_.values())
