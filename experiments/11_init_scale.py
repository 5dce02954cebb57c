"""Experiment 11 — init scale α and the grokking delay (Fig 1 middle, Fig 2 left; C17's sweep).

Every entry of the initial (W, V) is multiplied by α. The claim (Kumar et al.;
Lyu et al.; the paper's Figs 1–2): a larger α keeps the network in the kernel
regime longer, so generalisation lags memorisation; shrinking α shrinks the gap
t_grok − t_mem, possibly to nothing (at the price of slower learning).

Quick: AdamW (lr 1e-3, weight decay 1, cross-entropy) on p = 31, n = 2p^{5/3},
h = 4p, α ∈ {0.5, 1, 2, 4, 8}, 3,500 steps. Full: p = 47 regression as in Fig 2
(GD, lr 1, λ∞ 1e-4, n = 2p^{2.25}) with α ∈ {0.25, 0.5, 1, 2}, 100k steps.
Train curves dashed, test solid; right panel: t_mem, t_grok and the gap vs α.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from regimes.harness import Experiment, main
from regimes.metrics.runs import tracked_run

QUICK = {"alphas": [0.5, 1.0, 2.0, 4.0, 8.0],
         "run": {"p": 31, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0, "loss": "cross_entropy",
                 "steps": 3500, "track": False, "n_track": 50}}
FULL = {"alphas": [0.25, 0.5, 1.0, 2.0],
        "run": {"p": 47, "setting": "regression", "n_rule": "2p^2.25", "optimizer": "gd", "lr": 1.0,
                "lam_inf": 1e-4, "weight_decay": 0.0, "loss": "mse", "steps": 100_000, "track": False,
                "n_track": 80}}


def compute(ctx) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    rows, arrays = [], {}
    for i, a in enumerate(ctx.progress(ctx.config["alphas"], "alpha")):
        cfg = {**ctx.config["run"], "alpha": float(a), "seed": ctx.seed}
        s, arr = ctx.point(cfg, lambda cfg=cfg: tracked_run(cfg, device=ctx.device))
        rows.append({"alpha": float(a), "t_mem": s["t_mem"], "t_grok": s["t_grok"],
                     "gap": s["measures"]["gap"], "final_test_acc": s["final_test_acc"],
                     "final_train_acc": s["final_train_acc"]})
        tr = "train_fit_acc" if "train_fit_acc" in arr else "train_acc"
        arrays[f"a{i}_step"], arrays[f"a{i}_train"], arrays[f"a{i}_test"] = arr["step"], arr[tr], arr["test_acc"]
    gaps = [(r["alpha"], r["gap"]) for r in rows if r["gap"] is not None]
    mono = (all(g1 <= g2 for (_, g1), (_, g2) in itertools.pairwise(gaps))
            if len(gaps) >= 2 else None)
    return {"rows": rows, "gap_nondecreasing_in_alpha": mono}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path) -> None:
    from regimes import plots

    rows = result["metrics"]["rows"]
    fig, axes = plots.subplots(ncols=2, width=4.2, height=3.2)
    ax, bx = axes[0]
    for i, r in enumerate(rows):
        c = plots.COLORS[i % len(plots.COLORS)]
        x = np.maximum(arrays[f"a{i}_step"], 1)
        ax.plot(x, arrays[f"a{i}_train"], color=c, **plots.TRAIN_STYLE)
        ax.plot(x, arrays[f"a{i}_test"], color=c, **plots.TEST_STYLE, label=f"α={r['alpha']:g}")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy (train dashed, test solid)")
    ax.legend(fontsize=7)
    al = np.array([r["alpha"] for r in rows])
    for key, c, m in (("t_mem", 0, "o"), ("t_grok", 1, "s"), ("gap", 2, "^")):
        v = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
        bx.plot(al, v, marker=m, color=plots.COLORS[c], label=key)
    bx.set_xscale("log", base=2)
    bx.set_xlabel("init scale α")
    bx.set_ylabel("steps")
    bx.legend(fontsize=7)
    plots.save(fig, path, caption="Missing points: the run did not memorise / grok within the budget.")


EXPERIMENT = Experiment(
    number="11",
    slug="init_scale",
    title="Init scale α vs the memorisation–generalisation gap",
    figure="Fig 1 (middle), Fig 2 (left)",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=50.0,
    seconds_full=6 * 3600.0,
    checks=("C17",),
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
