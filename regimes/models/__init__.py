"""Models: the paper's quadratic net and a one-layer transformer (Fig 5)."""

from regimes.models.quadratic import InitMoments, QuadraticNet, init_moments, permute_params
from regimes.models.transformer import Transformer

__all__ = ["InitMoments", "QuadraticNet", "Transformer", "init_moments", "permute_params"]
