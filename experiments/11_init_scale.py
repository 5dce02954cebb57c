"""Experiment 11 — init scale α and the grokking delay (Fig 1 middle, Fig 2 left; check C17b).

Every entry of the initial (W, V) is multiplied by α (the **init scale**). The claim
(Kumar et al.; Lyu et al.; the paper's Figs 1–2): a larger α keeps the network in the
kernel regime longer, so generalisation lags memorisation; shrinking α shrinks the gap
t_grok − t_mem, possibly to nothing (at the price of slower learning).

Setting (not the paper's; the paper's Fig 2 uses GD regression at p = 47, see ``FULL``):
AdamW (lr 1e-3, weight decay 1, cross-entropy) on p = 31, n = 2p^{5/3}, h = 4p, 3,500 steps
(:data:`regimes.settings.dynamics.C17B_RUN`), α ∈ {0.5, 1, 2, 4, 8} and seeds 0–2 — the grid check
C17b judges (:data:`regimes.settings.grids.C17B`; every run is stored once, so ``regimes check
--only C17b`` after this experiment retrains nothing). t_mem: first step at
100% training accuracy; t_grok: first step at ≥ 90% held-out accuracy. Left: train (dashed)
/ held-out (solid) accuracy, seed 0 per α. Right: t_mem, t_grok and the gap vs α, seed
means with 95% t intervals; the C17b verdict (the gap grows with α, a trend test) is computed
from these runs by the same function the check uses.

Paper tier (``--paper``): Fig 1 middle's own setting (App. A.2: normalized GD, lr 10,
λ∞ 1e-20, cross-entropy, n = 2p^{5/3}, h = 8p), p = 31, α ∈ {0.25, …, 4}, 5 seeds, 3,000
steps, under each reading of eq. A.1 that can change the verdict
(:mod:`regimes.settings.mohamadi`): the whole gradient normalized in float32 (the suite's
reading before readings were named) and the loss gradient alone in float64, one row each.
(Fig 2 left's regression at p = 47 is in ``FULL`` only: 100k GD steps there cost hours per run
on a CPU.)

The verdict (C17b's rule, :func:`regimes.checks.dynamics.gap_verdict`) is a trend test over all
runs: Spearman's ρ between α and the gap, with a one-sided permutation p-value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.checks.dynamics import gap_verdict
from regimes.harness import Experiment, RunContext, main
from regimes.runs import TrackedRunConfig, apply_reading, file_params, init_scale_run
from regimes.settings.grids import C17B
from regimes.settings.mohamadi import APP_A2, reading_label, reading_name, resolve_reading
from regimes.stats import mean_ci

#: quick: the grid check C17b judges (regimes.settings.grids.C17B), each run stored once
QUICK = {**C17B["quick"]}
#: the paper tier: Fig 1 middle's setting (App. A.2: normalized GD, lr 10, λ∞ 1e-20, cross-entropy,
#: n = 2p^{5/3}, h = 8p as in experiment 08), p = 31, 5 seeds
PAPER = {"alphas": [0.25, 0.5, 1.0, 2.0, 4.0], "seeds": [0, 1, 2, 3, 4],
         "run": {"p": 31, "width_mult": 8, "optimizer": APP_A2["optimizer"], "lr": APP_A2["lr"],
                 "lam_inf": APP_A2["lam_inf"], "weight_decay": 0.0, "loss": APP_A2["loss"], "steps": 3000,
                 "track": False, "n_track": 60},
         "readings": [{"normalization": "whole", "dtype": "float32"}, {"normalization": "loss", "dtype": "float64"}]}
FULL = {"alphas": [0.25, 0.5, 1.0, 2.0], "seeds": [0, 1, 2, 3, 4],
        "run": {"p": 47, "setting": "regression", "n_rule": "2p^2.25", "optimizer": "gd",
                "weight_decay": 0.0, "loss": "mse", "steps": 100_000, "track": False, "n_track": 80},
        "readings": [{"square_loss": "half", "dtype": "float32"}]}


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    row, arrays = init_scale_run(key["alpha"], key["seed"], key["run"], key["device"])
    train = "train_fit_acc" if "train_fit_acc" in arrays else "train_acc"
    return row, {"step": arrays["step"], "train": arrays[train], "test": arrays["test_acc"],
                 **{k: v for k, v in arrays.items() if k.startswith("params/")}}


def _block(rows: list[dict[str, Any]], alphas: list[float]) -> dict[str, Any]:
    per_alpha = []
    for a in alphas:
        rs = [r for r in rows if r["alpha"] == a]
        entry: dict[str, Any] = {"alpha": float(a), "n_runs": len(rs)}
        for key in ("t_mem", "t_grok", "gap"):
            vals = [r[key] for r in rs if r[key] is not None]
            entry[key] = mean_ci(vals).as_dict() if vals else None
            entry[f"n_{key}"] = len(vals)
        per_alpha.append(entry)
    v = gap_verdict(rows)
    return {"rows": rows, "per_alpha": per_alpha, "c17b_verdict": v["verdict"], "spearman": v["spearman"],
            "p_value": v["p_value"], "gap_shrinks_with_alpha": v["monotone"]}


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One block per reading (``readings``: the paper tier's normalized-GD runs), or one block for a
    run config that no reading of the paper governs (quick: AdamW)."""
    c = ctx.config
    readings = [dict(r) for r in c["readings"]] if c.get("readings") is not None else [None]
    runs = {}
    for r in readings:
        run = dict(c["run"]) if r is None else apply_reading(c["run"], r)   # before any work
        runs[None if r is None else reading_name(r)] = run
    keys = [{"alpha": float(a), "seed": s, "run": run, "device": ctx.device, "reading": name}
            for name, run in runs.items() for a in c["alphas"] for s in c["seeds"]]
    done = ctx.map(keys, _point, desc="reading × α × seed")
    arrays: dict[str, np.ndarray] = {}
    blocks = []
    for r, name in zip(readings, runs, strict=True):
        rows = []
        for k, (m, a) in zip(keys, done, strict=True):
            if k["reading"] != name:
                continue
            rows.append(m)
            tag = f"a{k['alpha']:g}_s{k['seed']}" if name is None else f"{name}_a{k['alpha']:g}_s{k['seed']}"
            point = {"alpha": k["alpha"], "seed": k["seed"], **({} if name is None else {"reading": name})}
            rest = file_params(arrays, tag.replace("_", "-"), point, a)
            arrays.update({f"{tag}_{field}": v for field, v in rest.items()})
        blocks.append({"name": name, "reading": None if r is None else resolve_reading(r),
                       "label": f"{c['run']['optimizer']} (no reading of App. A)" if r is None else reading_label(r),
                       **_block(rows, c["alphas"])})
    return {"readings": blocks}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    blocks = m["readings"]
    fig, axes = plots.subplots(ncols=2, nrows=len(blocks), width=4.2, height=3.2)
    s0 = c["seeds"][0]
    for row, b in enumerate(blocks):
        ax, bx = axes[row]
        pre = "" if b["name"] is None else f"{b['name']}_"
        for i, a in enumerate(c["alphas"]):
            col = plots.COLORS[i % len(plots.COLORS)]
            x = np.maximum(arrays[f"{pre}a{a:g}_s{s0}_step"], 1)
            ax.plot(x, arrays[f"{pre}a{a:g}_s{s0}_train"], color=col, **plots.TRAIN_STYLE)
            ax.plot(x, arrays[f"{pre}a{a:g}_s{s0}_test"], color=col, **plots.TEST_STYLE, label=f"$\\alpha = {a:g}$")
        ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(f"accuracy, seed {s0}")
        ax.set_title(f"{b['label']}\ntrain --, held-out —", fontsize=8)
        ax.legend(fontsize=7)
        for j, (key, mk) in enumerate((("t_mem", "o"), ("t_grok", "s"), ("gap", "^"))):
            plots.errorbar_ci(bx, [e["alpha"] for e in b["per_alpha"]], [e[key] for e in b["per_alpha"]],
                              marker=mk, color=plots.COLORS[j], label=key.replace("_", " "))
        bx.set_xscale("log", base=2)
        bx.set_xlabel(r"init scale $\alpha$")
        bx.set_ylabel("steps (seed mean, 95% CI)")
        trend = ("" if b["spearman"] is None else
                 f": Spearman $\\rho$ = {b['spearman']:.2f}, permutation p = {b['p_value']:.3f}")
        bx.set_title(f"C17b {b['c17b_verdict']}{trend}", fontsize=8)
        bx.legend(fontsize=7)
    missing = "; ".join(
        f"{b['label']}: " + ", ".join(f"α = {e['alpha']:g}: {e['n_runs'] - e['n_gap']}" for e in b["per_alpha"]
                                      if e["n_gap"] < e["n_runs"])
        for b in blocks if any(e["n_gap"] < e["n_runs"] for e in b["per_alpha"]))
    r = c["run"]
    plots.save(fig, path, caption=(
        f"{r['optimizer']}, lr {r['lr']}, p = {r['p']}, {r['steps']} steps, seeds {', '.join(map(str, c['seeds']))}. "
        "C17b: the gap grows with α (Spearman ρ over all runs, one-sided permutation p < 0.05). "
        + (f"Runs that never memorised or grokked (no gap): {missing}." if missing else
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
    tasks={"": "@run.setting"},   # the readings feed the run's task
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
