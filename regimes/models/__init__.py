"""Models: the paper's quadratic net, a one-layer transformer (Fig 5) and the blog's embedding MLP."""

from regimes.models.mlp import EmbeddingMLP
from regimes.models.quadratic import InitMoments, QuadraticNet, init_moments, permute_params
from regimes.models.transformer import Transformer

__all__ = ["EmbeddingMLP", "InitMoments", "QuadraticNet", "Transformer", "init_moments", "permute_params"]
