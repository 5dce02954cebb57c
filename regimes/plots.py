"""The shared paper-style figure look: one place to restyle every experiment."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

#: Colours for series (colour-blind safe, Okabe–Ito).
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
TRAIN_STYLE = {"linestyle": "--"}  # the paper draws train curves dashed,
TEST_STYLE = {"linestyle": "-"}  # test curves solid


def setup() -> None:
    """Apply the suite's rcParams (small serif-free fonts, light grid, tight layout)."""
    plt.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10,
        "axes.labelsize": 9, "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "figure.constrained_layout.use": True,
        "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    })


def subplots(ncols: int = 1, nrows: int = 1, width: float = 4.0, height: float = 3.2, **kw):
    """``plt.subplots`` with the suite style and panel size ``width``×``height`` inches."""
    setup()
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)


def save(fig: plt.Figure, path: str | Path, caption: str | None = None) -> None:
    """Save ``fig`` as ``path`` (PNG) and a PDF beside it, then close it.

    ``caption`` (optional) is printed under the panels, for statements the
    figure must carry (e.g. why an accuracy axis cannot move).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption:
        fig.text(0.01, -0.02, caption, ha="left", va="top", fontsize=7, wrap=True)
    fig.savefig(path, bbox_inches="tight")
    fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight")
    plt.close(fig)
