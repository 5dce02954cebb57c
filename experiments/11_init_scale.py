"""Experiment 11 — init scale α and the grokking delay (Fig 1 middle, Fig 2 left; check C17b).

Every entry of the initial (W, V) is multiplied by α (the **init scale**). The claim
(Kumar et al.; Lyu et al.; the paper's Figs 1–2): a larger α keeps the network in the
kernel regime longer, so generalisation lags memorisation; shrinking α shrinks the gap
t_grok − t_mem, possibly to nothing (at the price of slower learning).

Setting (not the paper's; the paper's Fig 2 uses GD regression at p = 47, see ``FULL``):
AdamW (lr 1e-3, weight decay 1, cross-entropy) on p = 31, n = 2p^{5/3}, h = 4p, 3,500 steps
(:data:`regimes.runs.C17B_RUN`), several α and independent seeds. t_mem: first step at
100% training accuracy; t_grok: first step at ≥ 90% held-out accuracy. Left: train (dashed)
/ held-out (solid) accuracy, seed 0 per α. Right: t_mem, t_grok and the gap vs α, seed
means with 95% t intervals; the C17b verdict (the seed-mean gap strictly shrinks as α
decreases) is computed from these runs by the same function the check uses.

Paper tier (``--paper``): Fig 1 middle's own setting (App. A.2: normalized GD, lr 10,
λ∞ 1e-20, cross-entropy, n = 2p^{5/3}, h = 8p, float32), p = 31, α ∈ {0.25, …, 4}, 5 seeds,
3,000 steps. (Fig 2 left's regression at p = 47 is in ``FULL`` only: 100k GD steps there
cost hours per run on a CPU.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.checks.dynamics import gap_verdict
from regimes.harness import Experiment, RunContext, main
from regimes.runs import C17B_RUN, TrackedRunConfig, file_params, init_scale_run
from regimes.stats import mean_ci

QUICK = {"alphas": [0.5, 1.0, 2.0, 4.0, 8.0], "seeds": [0, 1, 2], "run": C17B_RUN}
#: the paper tier: Fig 1 middle's setting (App. A.2: normalized GD, lr 10, λ∞ 1e-20, cross-entropy,
#: n = 2p^{5/3}, h = 8p as in experiment 08), p = 31, 5 seeds
PAPER = {"alphas": [0.25, 0.5, 1.0, 2.0, 4.0], "seeds": [0, 1, 2, 3, 4],
         "run": {"p": 31, "width_mult": 8, "optimizer": "normalized_gd", "lr": 10.0, "lam_inf": 1e-20,
                 "weight_decay": 0.0, "loss": "cross_entropy", "steps": 3000, "track": False, "n_track": 60,
                 "dtype": "float32"}}
FULL = {"alphas": [0.25, 0.5, 1.0, 2.0], "seeds": [0, 1, 2, 3, 4],
        "run": {"p": 47, "setting": "regression", "n_rule": "2p^2.25", "optimizer": "gd", "lr": 0.5,
                "lam_inf": 1e-4, "weight_decay": 0.0, "loss": "mse", "steps": 100_000, "track": False,
                "n_track": 80}}


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    row, arrays = init_scale_run(key["alpha"], key["seed"], key["run"], key["device"])
    train = "train_fit_acc" if "train_fit_acc" in arrays else "train_acc"
    return row, {"step": arrays["step"], "train": arrays[train], "test": arrays["test_acc"],
                 **{k: v for k, v in arrays.items() if k.startswith("params/")}}


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    keys = [{"alpha": float(a), "seed": s, "run": c["run"], "device": ctx.device}
            for a in c["alphas"] for s in c["seeds"]]
    done = ctx.map(keys, _point, desc="α × seed")
    rows = [m for m, _ in done]
    arrays: dict[str, np.ndarray] = {}
    for k, (_, a) in zip(keys, done, strict=True):
        rest = file_params(arrays, f"a{k['alpha']:g}-s{k['seed']}", {"alpha": k["alpha"], "seed": k["seed"]}, a)
        arrays.update({f"a{k['alpha']:g}_s{k['seed']}_{name}": v for name, v in rest.items()})
    per_alpha = []
    for a in c["alphas"]:
        rs = [r for r in rows if r["alpha"] == a]
        entry: dict[str, Any] = {"alpha": float(a), "n_runs": len(rs)}
        for key in ("t_mem", "t_grok", "gap"):
            vals = [r[key] for r in rs if r[key] is not None]
            entry[key] = mean_ci(vals).as_dict() if vals else None
            entry[f"n_{key}"] = len(vals)
        per_alpha.append(entry)
    verdict = gap_verdict(rows)
    return {"rows": rows, "per_alpha": per_alpha, "c17b_verdict": verdict["verdict"],
            "gap_shrinks_with_alpha": verdict["monotone"]}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(ncols=2, width=4.2, height=3.2)
    ax, bx = axes[0]
    s0 = c["seeds"][0]
    for i, a in enumerate(c["alphas"]):
        col = plots.COLORS[i % len(plots.COLORS)]
        x = np.maximum(arrays[f"a{a:g}_s{s0}_step"], 1)
        ax.plot(x, arrays[f"a{a:g}_s{s0}_train"], color=col, **plots.TRAIN_STYLE)
        ax.plot(x, arrays[f"a{a:g}_s{s0}_test"], color=col, **plots.TEST_STYLE, label=f"α={a:g}")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"accuracy (train --, held-out —), seed {s0}")
    ax.legend(fontsize=7)
    for j, (key, mk) in enumerate((("t_mem", "o"), ("t_grok", "s"), ("gap", "^"))):
        plots.errorbar_ci(bx, [e["alpha"] for e in m["per_alpha"]], [e[key] for e in m["per_alpha"]], marker=mk,
                          color=plots.COLORS[j], label=key)
    bx.set_xscale("log", base=2)
    bx.set_xlabel("init scale α")
    bx.set_ylabel("steps (seed mean, 95% CI)")
    bx.set_title(f"C17b: {m['c17b_verdict']}")
    bx.legend(fontsize=7)
    missing = [f"α={e['alpha']:g}: {e['n_runs'] - e['n_gap']}" for e in m["per_alpha"] if e["n_gap"] < e["n_runs"]]
    plots.save(fig, path, caption=(
        f"AdamW lr {c['run']['lr']}, wd {c['run']['weight_decay']}, p = {c['run']['p']}, {c['run']['steps']} steps, "
        f"seeds {c['seeds']} (not the paper's GD setting). "
        + (f"Runs that never memorised or grokked (no gap): {', '.join(missing)}." if missing else
           "Every run memorised and grokked.")))


EXPERIMENT = Experiment(
    number="11",
    slug="init_scale",
    title="Init scale α vs the memorisation–generalisation gap",
    figure="Fig 1 (middle), Fig 2 (left)",
    quick=QUICK,
    full=FULL,
    paper=PAPER,
    compute=compute,
    plot=plot,
    seconds_quick=150.0,
    seconds_paper=7 * 60.0,
    seconds_full=10 * 3600.0,
    checks=("C17b",),
    schemas={"run": TrackedRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
