"""Models: the paper's quadratic net (and, later, MLP/transformer baselines)."""

from regimes.models.quadratic import InitMoments, QuadraticNet, init_moments, permute_params

__all__ = ["InitMoments", "QuadraticNet", "init_moments", "permute_params"]
