"""Experiment 17 — Gromov's Figs 7–10: other modular functions (checks G3–G6).

Gromov's model (eq. 4) trained with AdamW (as in his Figs 7–10) on five functions besides
n + m: (n + m)², n² + m², n·m, n² + n·m + m² and n³ + n·m² + m (all mod p;
:data:`regimes.gromov.FUNCTIONS`), at several training fractions and seeds, each run stopped
early once held-out accuracy reaches 99% (learned: nothing left to show) or at the step budget.
Beside them, his analytic solutions where he has one (n + m, n² + m², (n + m)²;
:func:`regimes.gromov.analytic_net`) at the same p and width, scored on all p² pairs, with
the (n + m)² accuracy split by square-root branch (``proofs/gromov_other_functions.md``).

Panels: (a) train (dashed) / held-out (solid) accuracy at the largest fraction, seed 0, per
function; (b) train / held-out loss of n² + nm + m² and n³ + nm² + m at the largest fraction
(his Fig 10: a train–test loss gap); (c) final held-out accuracy vs training fraction (seed
means, 95% t intervals; for each function and seed the fractions are run from the largest down
and stop after the first whose held-out accuracy stays below 0.95, so a hard function shows only
its largest fraction); (d) the analytic solutions' accuracy against the trained nets'
held-out accuracy at the largest fraction. The critical fraction per function (the smallest
fraction of the unbroken top run at which held-out accuracy reached 0.95, per seed) is in the
metrics and the caption.

Quick: p = 31, N = 200, AdamW lr 1e-2, weight decay 1, fractions 0.5 and 0.9, 3 seeds, a budget
of 2,000 steps, each run stopped at 99% held-out accuracy
(:data:`regimes.settings.gromov.FUNCTIONS_RUN`; the grid :data:`regimes.settings.grids.G5`, whose
runs at the largest fraction checks G5 and G6 judge): the four easy functions stop by step
~1,200; the two hard ones, which never get there, use the whole budget; a 0.7 column would add
~20 s of CPU time for the four easy functions (the hard ones stop at 0.9). Full: p = 97, N = 500,
20,000 steps (stopped at 99% held-out), fractions 0.3–0.95, 5 seeds (not run here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.gromov import FUNCTIONS, GromovRunConfig, critical_fraction
from regimes.harness import Experiment, RunContext, main
from regimes.runs import file_params, stored_function_sweep
from regimes.settings.grids import G5
from regimes.stats import mean_ci

ANALYTIC = ("add", "sum_of_squares", "square_of_sum")
# one grid for the figure and checks G5, G6 (regimes.settings.grids); every (function, seed) sweep is
# stored once (regimes.runcache), so `regimes check --only G5 G6` after this experiment retrains nothing
QUICK, FULL = G5["quick"], G5["full"]


def _analytic(function: str, p: int, h: int) -> dict[str, Any]:
    from regimes.constructions import analytic_accuracy
    from regimes.gromov import analytic_net, square_of_sum_accuracy_limit, square_of_sum_branches

    net = analytic_net(function, p, h, seed=0)
    out: dict[str, Any] = {"function": function, "accuracy": analytic_accuracy(net, op=function)}
    if function == "square_of_sum":
        out.update(square_of_sum_branches(net), predicted_share=square_of_sum_accuracy_limit(p))
    return out


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    run = c["run"]
    keys = [{"run": run, "function": f, "fractions": c["fractions"], "crit_level": c["crit_level"], "seed": s,
             "device": ctx.device} for f in c["functions"] for s in c["seeds"]]
    done = ctx.map(keys, stored_function_sweep, desc="function × seed")
    rows, arrays = [], {}
    for k, (m, a) in zip(keys, done, strict=True):
        rows += [{"function": k["function"], "seed": k["seed"], **r} for r in m["rows"]]
        for fr in sorted({n.split("/")[1] for n in a if n.startswith("params/")}):
            pre = f"params/{fr}/"
            file_params(arrays, f"{k['function']}_f{fr}_s{k['seed']}",
                        {"function": k["function"], "fraction": float(fr), "seed": k["seed"]},
                        {"params/" + n.removeprefix(pre): v for n, v in a.items() if n.startswith(pre)})
        a = {n: v for n, v in a.items() if not n.startswith("params/")}
        if k["seed"] == c["seeds"][0]:
            arrays.update({f"{k['function']}_{n}": v for n, v in a.items()})
    per_function = {}
    for f in c["functions"]:
        curve = []
        for fr in c["fractions"]:
            accs = [r["final_test_acc"] for r in rows
                    if r["function"] == f and r["fraction"] == fr and not r["skipped"]]
            curve.append({"fraction": fr, "n_run": len(accs), "heldout_acc": mean_ci(accs).as_dict() if accs else None})
        crit = {}
        for s in c["seeds"]:
            sr = [{"fraction": r["fraction"],
                   "t_grok": None if r["skipped"] or r["final_test_acc"] < c["crit_level"] - 1e-12 else 1}
                  for r in rows if r["function"] == f and r["seed"] == s]
            crit[str(s)] = critical_fraction(sr)
        per_function[f] = {"formula": FUNCTIONS[f], "curve": curve, "critical_fraction": crit}
    analytic = {f: _analytic(f, run["p"], run["h"]) for f in c["functions"] if f in ANALYTIC}
    return {"rows": rows, "per_function": per_function, "analytic": analytic}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(ncols=4, width=3.5, height=3.1)
    ax, lx, fx, bx = axes[0]
    top = max(c["fractions"])
    for i, f in enumerate(c["functions"]):
        col = plots.COLORS[i % len(plots.COLORS)]
        x = np.maximum(arrays[f"{f}_step"], 1)
        ax.plot(x, arrays[f"{f}_train_acc"], color=col, **plots.TRAIN_STYLE)
        ax.plot(x, arrays[f"{f}_test_acc"], color=col, **plots.TEST_STYLE, label=FUNCTIONS[f])
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.set_title(f"(a) train -- / held-out —, fraction {top}, seed {c['seeds'][0]}", fontsize=8)
    ax.legend(fontsize=6)
    for f in ("quadratic", "cubic"):
        if f"{f}_step" not in arrays:
            continue
        col = plots.COLORS[(c["functions"].index(f)) % len(plots.COLORS)]
        x = np.maximum(arrays[f"{f}_step"], 1)
        lx.plot(x, arrays[f"{f}_train_loss"], color=col, **plots.TRAIN_STYLE)
        lx.plot(x, arrays[f"{f}_test_loss"], color=col, **plots.TEST_STYLE, label=FUNCTIONS[f])
    lx.set_xscale("log")
    lx.set_yscale("log")
    lx.set_xlabel("step")
    lx.set_ylabel("square loss")
    lx.set_title(f"(b) loss, train -- / held-out —, fraction {top}", fontsize=8)
    lx.legend(fontsize=7)
    for i, f in enumerate(c["functions"]):
        col = plots.COLORS[i % len(plots.COLORS)]
        curve = m["per_function"][f]["curve"]
        plots.errorbar_ci(fx, [e["fraction"] for e in curve], [e["heldout_acc"] for e in curve], marker="o",
                          color=col, label=FUNCTIONS[f])
    fx.set_xlabel("training fraction")
    fx.set_ylabel("final held-out accuracy (seed mean, 95% CI)")
    fx.set_title("(c) held-out accuracy vs fraction", fontsize=8)
    fx.legend(fontsize=6)
    names = [f for f in c["functions"] if f in m["analytic"]]
    trained = []
    for f in names:
        e = next(e for e in m["per_function"][f]["curve"] if e["fraction"] == top)
        trained.append(e["heldout_acc"]["estimate"] if e["heldout_acc"] else np.nan)
    xs = np.arange(len(names))
    bx.bar(xs - 0.2, [m["analytic"][f]["accuracy"] for f in names], width=0.4, label="analytic (all pairs)")
    bx.bar(xs + 0.2, trained, width=0.4, label=f"trained, held-out (fraction {top})")
    if "square_of_sum" in m["analytic"]:
        bx.axhline(m["analytic"]["square_of_sum"]["predicted_share"], color="0.3", ls=":", lw=0.9,
                   label="(p+1)/(2p): one square-root branch")
    bx.set_xticks(xs, [FUNCTIONS[f] for f in names], fontsize=7)
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("function of (n, m), mod p")
    bx.set_ylabel("accuracy")
    bx.set_title("(d) analytic solution vs trained net", fontsize=8)
    bx.legend(fontsize=6, loc="lower left")
    run = c["run"]
    low = min(c["fractions"])
    crit = "; ".join(f"{FUNCTIONS[f]}: " + ", ".join("—" if v is None else (f"≤ {v:g}" if v == low else f"{v:g}")
                                                     for v in m["per_function"][f]["critical_fraction"].values())
                     for f in c["functions"])
    sq = m["analytic"].get("square_of_sum")
    sq_text = (f" Analytic (n + m)²: accuracy {sq['accuracy']:.3f}, on its branch {sq['acc_chosen_branch']:.3f}, "
               f"on the other {sq['acc_other_branch']:.3f}." if sq else "")
    plots.save(fig, path, caption=(
        f"Gromov's eq. 4, N = {run['h']}, p = {run['p']}, AdamW lr {run['lr']:g}, wd {run['weight_decay']:g}, "
        f"square loss, budget {run['steps']} steps (stopped at {run['stop_at']:.0%} held-out), seeds {c['seeds']}. "
        f"Critical fraction "
        f"per seed (held-out ≥ {c['crit_level']}; — = not reached at {top}; ≤ {low:g}: reached at the lowest fraction "
        f"searched): {crit}.{sq_text}"))


EXPERIMENT = Experiment(
    number="17",
    slug="gromov_functions",
    title="Other modular functions: learning curves, held-out accuracy vs fraction, analytic solutions",
    figure="Gromov Figs 7–10, App. D",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=58.0,
    seconds_full=8 * 3600.0,
    checks=("G3", "G4", "G5", "G6"),
    schemas={"run": GromovRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
