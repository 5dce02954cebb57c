"""Metrics over training: kernel movement, grokking measures, Fourier views.

* :mod:`regimes.metrics.kernel` — ‖Θ̂_t − Θ̂₀‖_F, relative change, Fort et al.'s
  kernel distance S(t, t'), kernel–target alignment (Kumar et al.), CKA.
* :mod:`regimes.metrics.margins` — the classification margin q = f_y − max_{y'≠y} f_{y'}
  (Sec. 4.2), used by the training loop's ``q_min`` and the margin checks.
* :mod:`regimes.metrics.tracking` — :class:`KernelTracker`, the eNTK-tracking
  callback for :func:`regimes.train.train` (closed form for the quadratic net,
  ``torch.func`` otherwise), log-spaced cadences, seeded evaluation subsets,
  the after-kernel accuracy.
* :mod:`regimes.metrics.grokking` — t_mem, t_grok, gap, sharpness, the smoothed-
  derivative detector and the logistic fit, t_exit (after a textbook chapter on grokking).
* :mod:`regimes.metrics.fourier` — Fourier spectra of W and of embeddings,
  Gromov's IPR (his eqs 28–29), PCA of embeddings and the circle score (the blog post
  "Some thoughts on Grokking", code okitouni/simple-grokking).
"""

from regimes.metrics.fourier import (
    circle_score,
    embedding_pca,
    embedding_spectrum,
    frequency_power,
    ipr,
    ipr_per_neuron,
    layer_spectrum,
    weight_spectrum,
)
from regimes.metrics.grokking import (
    GrokkingMeasures,
    SigmoidFit,
    Transition,
    detect_transition,
    first_crossing,
    fit_sigmoid,
    grokking_gap,
    grokking_measures,
    rise_time,
    sigmoid,
    smoothed_derivative,
    t_exit,
    t_grok,
    t_mem,
)
from regimes.metrics.kernel import (
    center_gram,
    center_targets,
    cka,
    cosine_distance,
    kernel_change,
    kernel_distance,
    kernel_target_alignment,
    relative_kernel_change,
)
from regimes.metrics.margins import margins
from regimes.metrics.tracking import (
    KernelTracker,
    autodiff_kernel_fn,
    eval_subset,
    log_steps,
    quadratic_kernel_fn,
)

__all__ = [
    "GrokkingMeasures",
    "KernelTracker",
    "SigmoidFit",
    "Transition",
    "autodiff_kernel_fn",
    "center_gram",
    "center_targets",
    "circle_score",
    "cka",
    "cosine_distance",
    "detect_transition",
    "embedding_pca",
    "embedding_spectrum",
    "eval_subset",
    "first_crossing",
    "fit_sigmoid",
    "frequency_power",
    "grokking_gap",
    "grokking_measures",
    "ipr",
    "ipr_per_neuron",
    "kernel_change",
    "kernel_distance",
    "kernel_target_alignment",
    "layer_spectrum",
    "log_steps",
    "margins",
    "quadratic_kernel_fn",
    "relative_kernel_change",
    "rise_time",
    "sigmoid",
    "smoothed_derivative",
    "t_exit",
    "t_grok",
    "t_mem",
    "weight_spectrum",
]
