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


def ci_text(ci: dict | None, fmt: str = ".2f") -> str:
    """``"est [low, high]"`` for a stored interval (a :class:`regimes.stats.CI` or
    :class:`regimes.stats.ExponentFit` as a dict; JSON turns NaN into null, shown as "nan")."""
    if ci is None:
        return "n/a"

    def f(v) -> str:
        return "nan" if v is None else format(float(v), fmt)

    return f"{f(ci.get('estimate'))} [{f(ci.get('low'))}, {f(ci.get('high'))}]"


def errorbar_ci(ax, xs, cis: list, **kw) -> None:
    """Seed means with their stored intervals as error bars; ``cis`` are CI dicts (``None``
    entries, and null bounds, are left out)."""
    import numpy as np

    pts = [(x, c) for x, c in zip(xs, cis, strict=True) if c is not None and c.get("estimate") is not None]
    if not pts:
        return
    x = np.array([float(x) for x, _ in pts])
    est = np.array([float(c["estimate"]) for _, c in pts])
    lo = np.array([np.nan if c.get("low") is None else float(c["low"]) for _, c in pts])
    hi = np.array([np.nan if c.get("high") is None else float(c["high"]) for _, c in pts])
    ax.errorbar(x, est, yerr=[np.nan_to_num(est - lo), np.nan_to_num(hi - est)], capsize=3, **kw)


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
        fig.text(0.01, -0.02, _wrap(fig, caption, 0.01, 7), ha="left", va="top", fontsize=7)
    # rendered in memory and written atomically: a kill or a full disk never leaves a
    # truncated figure under its final name
    _save_atomic(fig, path, "png")
    # the PNG's draw placed every axis: keep those positions for the PDF instead of solving the
    # constrained layout again (the same layout, one solve less)
    fig.set_layout_engine("none")
    _save_atomic(fig, path.with_suffix(".pdf"), "pdf")
    plt.close(fig)


def _save_atomic(fig: plt.Figure, path: Path, fmt: str) -> None:
    import io

    from regimes.store import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _wrap(fig: plt.Figure, text: str, x: float, fontsize: float) -> str:
    """``text`` broken into lines that fit between figure x-coordinate ``x`` and the right edge,
    greedily, word by word, each word measured once: what ``fig.text(..., wrap=True)`` draws,
    without its cost (it re-measures every candidate line at every draw: seconds per figure
    for a long caption)."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()
    prop = FontProperties(size=fontsize)
    limit = fig.bbox.width * (1.0 - x)

    def width(s: str) -> float:
        return renderer.get_text_width_height_descent(s, prop, ismath=False)[0]

    space = width("a a") - width("aa")
    out = []
    for para in text.split("\n"):
        line, used = [], 0.0
        for word in para.split(" "):
            w = width(word) if word else 0.0
            if line and used + space + w > limit:
                out.append(" ".join(line))
                line, used = [word], w
            else:
                used += (space if line else 0.0) + w
                line.append(word)
        out.append(" ".join(line))
    return "\n".join(out)
