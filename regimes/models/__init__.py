"""Models: the paper's quadratic net, a one-layer transformer (Fig 5), the blog's embedding MLP
and Gromov's attention-only models, all :class:`Model` s (the functional interface ``params`` /
``apply`` / ``with_params`` that :func:`regimes.train.train` and
:func:`regimes.ntk.autodiff.model_entk` take)."""

from regimes.models.attention import AttentionOnly
from regimes.models.mlp import EmbeddingMLP
from regimes.models.protocol import Model, Params
from regimes.models.quadratic import InitMoments, QuadraticNet, init_moments, permute_params
from regimes.models.transformer import Transformer

__all__ = ["AttentionOnly", "EmbeddingMLP", "InitMoments", "Model", "Params", "QuadraticNet", "Transformer",
           "init_moments", "permute_params"]
