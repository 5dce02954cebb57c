"""The shared paper-style figure look: one place to restyle every experiment."""

from __future__ import annotations

import re
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


def ci_text(ci: dict | None, fmt: str = ".2f", missing: str = "never reached") -> str:
    """``"est [low, high]"`` for a stored interval (a :class:`regimes.stats.CI` or
    :class:`regimes.stats.ExponentFit` as a dict), for captions and titles.

    JSON stores NaN as null: an interval without an estimate (the event was never reached, or
    nothing was measured) reads ``missing``; one whose bounds are null or non-finite (a single
    run, or every run equal) reads as the estimate alone. Never a Python repr.

    >>> ci_text({"estimate": 0.5, "low": 0.25, "high": 0.75}), ci_text({"estimate": 3.0, "low": None, "high": None})
    ('0.50 [0.25, 0.75]', '3.00')
    >>> ci_text({"estimate": None, "low": None, "high": None}), ci_text(None, missing="—")
    ('never reached', '—')
    """
    import math

    def ok(v) -> bool:
        return v is not None and math.isfinite(float(v))

    if ci is None or not ok(ci.get("estimate")):
        return missing
    est = format(float(ci["estimate"]), fmt)
    lo, hi = ci.get("low"), ci.get("high")
    if not (ok(lo) and ok(hi)):
        return est
    return f"{est} [{format(float(lo), fmt)}, {format(float(hi), fmt)}]"


def value_text(v, fmt: str = ".2f", missing: str = "never reached") -> str:
    """A stored number for a caption: ``missing`` for null or NaN (never ``None``/``nan``).

    >>> value_text(0.123), value_text(None), value_text(float("nan"), missing="—")
    ('0.12', 'never reached', '—')
    """
    import math

    return missing if v is None or not math.isfinite(float(v)) else format(float(v), fmt)


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
    """Save ``fig`` as ``path`` (PNG) and a vector PDF beside it, then close it.

    ``caption`` (optional) is printed under the panels of the PNG, for statements the figure
    must carry when it is viewed alone (config, seeds, reading). The PDF, the copy meant for a
    paper, leaves it out, since a paper typesets its own caption; it keeps it as the PDF's
    ``Subject`` metadata. Math in a caption is mathtext (``$2p^{5/3}$``), kept on one line.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = None
    if caption:
        text = fig.text(0.01, -0.02, _wrap(fig, caption, 0.01, 7), ha="left", va="top", fontsize=7)
    # rendered in memory and written atomically: a kill or a full disk never leaves a
    # truncated figure under its final name
    _save_atomic(fig, path, "png")
    # the PNG's draw placed every axis: keep those positions for the PDF instead of solving the
    # constrained layout again (the same layout, one solve less); the PDF carries the caption as
    # its metadata, not on the page
    fig.set_layout_engine("none")
    if text is not None:
        text.remove()
    _save_atomic(fig, path.with_suffix(".pdf"), "pdf",
                 metadata={"Subject": caption.replace("$", "")} if caption else None)
    plt.close(fig)


def _save_atomic(fig: plt.Figure, path: Path, fmt: str, metadata: dict[str, str] | None = None) -> None:
    import io

    from regimes.store import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=metadata)
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
        # a $…$ span is one unbreakable token (mathtext must not be split across lines)
        # (a word is a run of non-space characters and whole $…$ spans: greedy \S* around one span
        # would pair the closing $ of one span with the opening $ of the next)
        for word in re.findall(r"(?:[^\s$]|\$[^$]*\$)+|\S+", para) or [""]:
            w = width(word) if word else 0.0
            if line and used + space + w > limit:
                out.append(" ".join(line))
                line, used = [word], w
            else:
                used += (space if line else 0.0) + w
                line.append(word)
        out.append(" ".join(line))
    return "\n".join(out)
