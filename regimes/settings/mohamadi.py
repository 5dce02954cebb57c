"""The central paper's settings, each declared once: what App. A states, and a named
*reading* for every value it leaves open.

Mohamadi, Li, Wu, Sutherland, *Why Do You Grok? A Theoretical Analysis on Grokking Modular
Addition* (ICML 2024), Appendix A:

* **A.1 regression** (Figs 2 left, 3): "vanilla gradient descent with squared loss and tiny
  ℓ∞ regularization for 50,000, 100,000 or 200,000 steps", learning rate 1, regularization
  1e-4, n = 2p^{2.25} training triples, h = 4p (Fig 3), init "according to [19]".
* **A.2 classification** (Figs 1, 2 right, 4): "vanilla gradient descent with cross-entropy
  loss and tiny ℓ∞ regularization, for up to 100,000 steps", learning rate 10 (constant),
  ℓ∞ strength 1e-20, the "normalized" GD of eq. A.1, θ_{t+1} = θ_t − η ∇ℓ(θ_t)/‖∇ℓ(θ_t)‖₂,
  n = 2p^{5/3} training pairs, init per [19].
* **A.3 transformer** (Fig 5): a one-layer transformer, full-batch GD, η = 0.25, ℓ∞ strength
  1e-20, default PyTorch init migrated to JAX, 2p^{5/3} training pairs.
* **A.4**: JAX on NVIDIA V100/A100.

What the paper states is fixed here (:data:`APP_A1`, :data:`APP_A2`, :data:`APP_A3`). What it
leaves open is an :class:`OpenSetting` in :data:`OPEN_SETTINGS`: the paper's words, each
option with why it is plausible, and the ``default`` a run takes when its reading does not name
the setting (the option the suite ran before readings were named, except for ``square_loss``,
whose earlier value matched neither reading and is kept only as the option ``suite_v1`` that
older results record). A **reading** is a choice of one option per open setting
(:func:`resolve_reading`); every result file of the paper's settings
records the reading it ran under, figure captions name it (:func:`reading_label`), and where a
reading can change a verdict the experiment runs each reading and reports them side by side
(``proofs/measurement.md``, "Readings").

Examples
--------
>>> r = resolve_reading({"normalization": "loss", "dtype": "float64"})
>>> r["normalization"], r["dtype"], r["linf_ties"]
('loss', 'float64', 'split')
>>> reading_label({"normalization": "loss", "dtype": "float64"})
'loss-only normalization, float64'
>>> resolve_reading({"normalization": "both"})
Traceback (most recent call last):
    ...
ValueError: reading normalization='both' is not allowed: choose one of ('whole', 'loss')
>>> n_train(11, 5 / 3, population=121)       # round(2·11^{5/3}) = 109 of the 121 pairs
109
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APP_A1",
    "APP_A2",
    "APP_A3",
    "OPEN_SETTINGS",
    "OpenSetting",
    "n_train",
    "reading_label",
    "reading_name",
    "regression_step",
    "resolve_reading",
]

#: App. A.1, regression, as stated (λ and η in the paper's own loss; see the ``square_loss``
#: reading for what they become on the suite's mean (g − y)², and :func:`regression_step`).
APP_A1: dict[str, Any] = {
    "optimizer": "gd", "lr": 1.0, "lam_inf": 1e-4, "n_exponent": 2.25, "width_mult": 4,
    "steps": (50_000, 100_000, 200_000),
}
#: App. A.2, classification, as stated.
APP_A2: dict[str, Any] = {
    "optimizer": "normalized_gd", "lr": 10.0, "lam_inf": 1e-20, "loss": "cross_entropy",
    "n_exponent": 5 / 3, "max_steps": 100_000,
}
#: App. A.3, the transformer, as stated.
APP_A3: dict[str, Any] = {"optimizer": "gd", "lr": 0.25, "lam_inf": 1e-20, "loss": "cross_entropy",
                          "n_exponent": 5 / 3}


@dataclass(frozen=True)
class OpenSetting:
    """A value the paper leaves open: its words, the options with why each is plausible, the
    option a reading that does not name it takes (``default``), the runs it concerns in words
    (``applies_to``) and the tasks whose runs read it (``tasks``: a reading that names it for
    another task's run is refused by :func:`regimes.settings.schema.validate_config`)."""

    name: str
    paper_says: str
    options: Mapping[str, str]
    default: str
    applies_to: str
    tasks: tuple[str, ...] = ("classification", "regression")

    def check(self, option: object) -> str:
        """``option`` if it is one of :attr:`options`, else ``ValueError`` naming both."""
        if not isinstance(option, str) or option not in self.options:
            raise ValueError(f"reading {self.name}={option!r} is not allowed: choose one of {tuple(self.options)}")
        return option


OPEN_SETTINGS: dict[str, OpenSetting] = {s.name: s for s in (
    OpenSetting(
        "normalization",
        'App. A.2, eq. A.1: "θ_{t+1} = θ_t − η ∇ℓ(θ_t)/‖∇ℓ(θ_t)‖₂", beside "tiny ℓ∞ regularization"; '
        "whether ℓ includes the λ‖θ‖∞ term is not said.",
        {"whole": "ℓ is the whole objective of eq. 2.2, penalty included: the step direction is that of "
                  "∇(loss + λ‖θ‖∞), so once the loss gradient falls below λ the step is spent on the penalty",
         "loss": "ℓ is the loss alone (the symbol the paper uses for the loss); the penalty's subgradient "
                 "is added outside the normalization, θ ← θ − η(∇L/‖∇L‖₂ + λ∂‖θ‖∞)"},
        "whole", "classification (Figs 1, 2 right, 4)", ("classification",)),
    OpenSetting(
        "dtype",
        'App. A.4: "JAX"; no precision is stated.',
        {"float32": "JAX's default precision (64-bit floats need jax_enable_x64)",
         "float64": "the precision at which round-off (exp underflow at margins ~104 in float32) cannot "
                    "cut a run short before ~745"},
        "float32", "every training run of App. A"),
    OpenSetting(
        "square_loss",
        'App. A.1: "squared loss", "learning rate 1", "regularization 1e-4".',
        {"half": "½(g − y)² per point (the usual convention with lr 1): on the suite's mean (g − y)² this is "
                 "lr 0.5 and λ 2e-4",
         "plain": "(g − y)² per point: lr 1 and λ 1e-4 on the suite's mean (g − y)²",
         "suite_v1": "what the suite ran before this reading was named: lr 0.5 and λ 1e-4 on the mean "
                     "(g − y)², i.e. ½(g − y)² with half the stated penalty (matches neither reading; kept so "
                     "that older results say what they ran)"},
        "half", "regression (Figs 2 left, 3)", ("regression",)),
    OpenSetting(
        "init",
        'App. A.1, A.2: initialized "according to [19]" (He et al. 2015); Fig 1\'s caption and A.3: '
        '"default PyTorch initialization".',
        {"pytorch_uniform": "PyTorch's default Linear init U(±1/√fan_in), as Fig 1 and A.3 say",
         "he_normal": "He et al.'s N(0, 2/fan_in), as the citation [19] says (outputs ~15× larger at init)"},
        "pytorch_uniform", "every training run of App. A"),
    OpenSetting(
        "sampling",
        "Sec. 2 and Thms 3.4, 4.3 draw the training set i.i.d. (D_train ~ D^n); App. A says only "
        '"2 × p^{2.25}" / "2 × p^{5/3}" training data.',
        {"without_replacement": "n distinct points, the common practice in grokking experiments",
         "with_replacement": "n i.i.d. draws, as in the theory (repeats allowed)"},
        "without_replacement", "every training run of App. A"),
    OpenSetting(
        "linf_ties",
        "Eq. 2.2 penalizes ‖θ‖∞; the subgradient at ties is not said (JAX's gradient of a max splits it "
        "evenly among tied entries).",
        {"split": "each of the k tied largest entries gets sign(θ_i)/k: the minimum-norm subgradient, which "
                  "keeps training permutation-equivariant (Thm 3.3)",
         "first": "the first largest entry in memory order gets sign(θ_i) (an argmax)"},
        "split", "every run with λ > 0"),
    OpenSetting(
        "width",
        "Sec. 3: h = 4p in Fig 3; the classification width is not stated (Prop 3.8's construction "
        "needs h ≥ 8p).",
        {"8p": "the width at which the Fourier construction exists (Prop 3.8, Thm 4.6: 8p ≤ h = O(p))",
         "4p": "Fig 3's width, the only one the paper states"},
        "8p", "classification (Figs 1, 2 right, 4)", ("classification",)),
    OpenSetting(
        "transformer",
        'App. A.3: "one-layer transformer"; d_model, heads, embeddings and MLP are not stated.',
        {"suite_v1": "tokens [a, b, =], d_model 128, 4 heads, a ReLU MLP of width 512, learned token and "
                     "position embeddings, no LayerNorm, logits read at '=' (Nanda et al.'s one-layer "
                     "model, which the paper's related work builds on); the only reading run"},
        "suite_v1", "Fig 5"),
)}


def resolve_reading(reading: Mapping[str, Any] | None = None) -> dict[str, str]:
    """A full reading: ``reading``'s options over every open setting's ``default``.

    Raises ``ValueError`` for an unknown setting or option (naming the setting and the
    allowed names), before any work.
    """
    reading = dict(reading or {})
    unknown = sorted(set(reading) - set(OPEN_SETTINGS))
    if unknown:
        raise ValueError(f"reading setting {unknown[0]!r} is not an open setting of the paper: choose from "
                         f"{tuple(OPEN_SETTINGS)}")
    return {name: s.check(reading.get(name, s.default)) for name, s in OPEN_SETTINGS.items()}


_LABELS = {
    ("normalization", "whole"): "whole-gradient normalization",
    ("normalization", "loss"): "loss-only normalization",
    ("square_loss", "half"): "½(g − y)² (lr 0.5, λ 2e-4 on the mean)",
    ("square_loss", "plain"): "(g − y)² (lr 1, λ 1e-4)",
    ("square_loss", "suite_v1"): "suite v1 loss scale (lr 0.5, λ 1e-4 on the mean)",
    ("init", "he_normal"): "He normal init",
    ("init", "pytorch_uniform"): "PyTorch uniform init",
    ("sampling", "with_replacement"): "i.i.d. sampling",
    ("sampling", "without_replacement"): "distinct points",
    ("linf_ties", "first"): "first-maximiser ℓ∞ subgradient",
    ("linf_ties", "split"): "tie-splitting ℓ∞ subgradient",
}


def reading_label(reading: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> str:
    """A short caption for ``reading``: the options of ``keys`` (default: the settings that
    ``reading`` names), e.g. ``'loss-only normalization, float64'``."""
    full = resolve_reading(reading)
    keys = tuple(reading) if keys is None else keys
    return ", ".join(_LABELS.get((k, full[k]), f"{k} {full[k]}" if k not in ("dtype", "width") else
                                 (full[k] if k == "dtype" else f"h = {full[k]}")) for k in keys)


def reading_name(reading: Mapping[str, str]) -> str:
    """The short name of a partial reading, its options in the order given (array and run keys).

    >>> reading_name({"normalization": "loss", "dtype": "float64"})
    'loss-float64'
    """
    return "-".join(reading.values())


def regression_step(square_loss: str) -> tuple[float, float]:
    """(lr, λ∞) on the suite's mean square loss (1/n)Σ(g − y)² that give App. A.1's
    "learning rate 1, regularization 1e-4" under the ``square_loss`` reading.

    Under ``half`` the paper's objective is (1/2n)Σ(g − y)² + λ‖θ‖∞ with η = 1, whose GD step
    equals η' = 1/2 on (1/n)Σ(g − y)² + 2λ‖θ‖∞:

    >>> regression_step("half"), regression_step("plain"), regression_step("suite_v1")
    ((0.5, 0.0002), (1.0, 0.0001), (0.5, 0.0001))
    """
    OPEN_SETTINGS["square_loss"].check(square_loss)
    lr, lam = APP_A1["lr"], APP_A1["lam_inf"]
    if square_loss == "half":
        return lr / 2, 2 * lam
    if square_loss == "plain":
        return lr, lam
    return lr / 2, lam


def n_train(p: int, exponent: float, population: int) -> int:
    """The training-set size n = round(2 p^exponent) of App. A, capped at ``population − 1``
    so that at least one point is held out (the cap binds only at small p, e.g. p ≤ 5 for
    2p^{5/3} of p² pairs).

    Raises ``ValueError`` for p < 2, a non-finite or non-positive exponent, or a population
    below 2.
    """
    from regimes._validate import check_int, check_positive

    check_int("p", p, low=2)
    check_positive("exponent", exponent)
    check_int("population", population, low=2)
    return min(round(2 * p**exponent), population - 1) if math.isfinite(2 * p**exponent) else population - 1
