"""Kernel predictors, kernels on index inputs, and population metrics.

* :mod:`regimes.kernels.regression` — ridgeless/ridge kernel regression with a
  prior mean (:func:`kernel_regression`, :class:`KernelRegressor`), the
  matrix-valued version (:func:`matrix_kernel_regression`), and the
  nested-prefix solver (:class:`NestedKernelRegression`).
* :mod:`regimes.kernels.builders` — the kernels compared in experiments 03–05,
  each documented with whether it is G-invariant (:data:`G_INVARIANT`).
* :mod:`regimes.kernels.population` — population ℓ2 losses (paper normalisation
  and ratio to the zero predictor) and 0-1 errors, both settings.
* :mod:`regimes.kernels.nested` — training-size sweeps for experiments 03–04 and
  ``benchmarks/bench_kernels.py`` (one kernel build + one factorisation per
  (p, kernel, trial), reused across every n; import it explicitly).
"""

from regimes.kernels.builders import (
    G_INVARIANT,
    KERNEL_NAMES,
    full_ntk_apply,
    infinite_width_kernel,
    infinite_width_kernel_nt,
    kernel_gram,
    matches,
    random_psd_gram,
    rbf_one_hot_kernel,
)
from regimes.kernels.population import (
    classification_l2_loss,
    classification_l2_ratio,
    classification_labels,
    regression_l2_loss,
    regression_l2_ratio,
    regression_targets,
    regression_zero_one_error,
    zero_one_error,
)
from regimes.kernels.regression import (
    KernelRegressor,
    NestedKernelRegression,
    check_gram,
    kernel_regression,
    matrix_kernel_regression,
)

__all__ = [
    "G_INVARIANT",
    "KERNEL_NAMES",
    "KernelRegressor",
    "NestedKernelRegression",
    "check_gram",
    "classification_l2_loss",
    "classification_l2_ratio",
    "classification_labels",
    "full_ntk_apply",
    "infinite_width_kernel",
    "infinite_width_kernel_nt",
    "kernel_gram",
    "kernel_regression",
    "matches",
    "matrix_kernel_regression",
    "random_psd_gram",
    "rbf_one_hot_kernel",
    "regression_l2_loss",
    "regression_l2_ratio",
    "regression_targets",
    "regression_zero_one_error",
    "zero_one_error",
]
