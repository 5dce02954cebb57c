"""Experiment 16 — Gromov's Fig 4a: grokking time vs training fraction, per optimizer (check G2).

Gromov's model (eq. 4, :func:`regimes.gromov.gromov_net`) on n + m mod p with the square loss,
trained full batch by plain GD, GD with heavy-ball momentum and AdamW
(:data:`regimes.settings.gromov.G2_OPTIMIZERS`), at several training fractions (his α) and seeds. Each
run stops once held-out accuracy reaches 0.95 (its grokking time t_grok) or at the step
budget (censored). For each optimizer and seed the fractions are searched from the largest
down, stopping after the first that fails: α_c, the critical fraction, is the smallest
fraction of the unbroken run that grokked within the budget
(:func:`regimes.gromov.fraction_sweep`, :func:`regimes.gromov.critical_fraction`).

Left: t_grok vs training fraction, seed means with 95% t intervals over the seeds that grokked
(the number that did beside each point). Right: α_c per optimizer (seed mean, interval, and
the seeds' values). The G2 verdict, computed by the same function the check uses
(:func:`regimes.gromov.g2_verdict`), asks whether momentum and AdamW lower both the grokking
time and α_c relative to plain GD, with paired intervals over seeds.

Quick: p = 31, N = 200, fractions 0.4–0.8, a budget of 2,500 steps (the slowest grokking run
takes 2,420), 3 seeds. Full: p = 97, N = 500
(his), fractions 0.15–0.8, 20,000 steps, 5 seeds (not run here; the learning rates would need
re-tuning for N = 500).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.gromov import GromovRunConfig, g2_verdict
from regimes.harness import Experiment, RunContext, main
from regimes.runs import file_params, stored_fraction_sweep
from regimes.settings.grids import G2
from regimes.stats import mean_ci

# one grid for the figure and check G2 (regimes.settings.grids); every (optimizer, seed) sweep is
# stored once (regimes.runcache), so `regimes check --only G2` after this experiment retrains nothing
QUICK, FULL = G2["quick"], G2["full"]


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    keys = [{"optimizer": o, "settings": st, "seed": s, "fractions": c["fractions"], "run": c["run"],
             "device": ctx.device} for o, st in c["optimizers"].items() for s in c["seeds"]]
    done = ctx.map(keys, stored_fraction_sweep, desc="optimizer × seed")
    rows = [r for m, _ in done for r in m["rows"]]
    arrays: dict[str, np.ndarray] = {"fractions": np.asarray(sorted(c["fractions"]))}
    for k, (_, a) in zip(keys, done, strict=True):
        for f in sorted({name.split("/")[1] for name in a}):
            pre = f"params/{f}/"
            file_params(arrays, f"{k['optimizer']}_f{f}_s{k['seed']}",
                        {"optimizer": k["optimizer"], "fraction": float(f), "seed": k["seed"]},
                        {"params/" + n.removeprefix(pre): v for n, v in a.items() if n.startswith(pre)})
    per_opt: dict[str, Any] = {}
    for o in c["optimizers"]:
        curve = []
        for f in sorted(c["fractions"]):
            ts = [r["t_grok"] for r in rows if r["optimizer"] == o and r["fraction"] == f and r["t_grok"] is not None]
            curve.append({"fraction": f, "n_grokked": len(ts), "t_grok": mean_ci(ts).as_dict() if ts else None})
        per_opt[o] = {"curve": curve}
    v = g2_verdict(rows, baseline="gd", others=tuple(o for o in c["optimizers"] if o != "gd"))
    for o in c["optimizers"]:
        vals = [a for a in v["alpha_c"][o].values() if a is not None]
        per_opt[o]["alpha_c"] = mean_ci(vals).as_dict() if vals else None
        per_opt[o]["alpha_c_censored"] = sum(a is None for a in v["alpha_c"][o].values())
    return {"rows": rows, "per_optimizer": per_opt, **v}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(ncols=2, width=4.4, height=3.3)
    ax, bx = axes[0]
    names = list(c["optimizers"])
    for i, o in enumerate(names):
        col = plots.COLORS[i % len(plots.COLORS)]
        curve = m["per_optimizer"][o]["curve"]
        plots.errorbar_ci(ax, [e["fraction"] for e in curve], [e["t_grok"] for e in curve], marker="o", color=col,
                          label=o)
        for e in curve:
            if e["t_grok"] is not None:
                ax.annotate(str(e["n_grokked"]), (e["fraction"], e["t_grok"]["estimate"]), fontsize=6, color=col,
                            xytext=(3, 3), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("training fraction")
    ax.set_ylabel("t_grok: steps to held-out acc ≥ 0.95 (seed mean, 95% CI)")
    ax.set_title("grokking time (number of seeds that grokked)", fontsize=9)
    ax.legend(fontsize=7)
    for i, o in enumerate(names):
        col = plots.COLORS[i % len(plots.COLORS)]
        ac = m["alpha_c"][o]
        vals = [v for v in ac.values() if v is not None]
        bx.scatter([i] * len(vals), vals, color=col, alpha=0.5, s=18)
        ci = m["per_optimizer"][o]["alpha_c"]
        if ci is not None:
            plots.errorbar_ci(bx, [i + 0.15], [ci], marker="s", color=col)
        n_cens = m["per_optimizer"][o]["alpha_c_censored"]
        if n_cens:
            bx.annotate(f"{n_cens} censored (> {max(c['fractions'])})", (i, max(c["fractions"])), fontsize=6)
        n_floor = sum(v == min(c["fractions"]) for v in vals)
        if n_floor:
            bx.annotate(f"{n_floor} at the lowest fraction searched\n(α_c ≤ {min(c['fractions'])})",
                        (i, min(c["fractions"])), fontsize=6, xytext=(-40, 8), textcoords="offset points")
    bx.set_xticks(range(len(names)), names)
    bx.set_xlabel("optimizer")
    bx.set_ylabel("critical fraction α_c")
    bx.set_title(f"G2 (momentum and AdamW lower t_grok and α_c): {m['verdict']}", fontsize=9)
    run = c["run"]
    opt_text = "; ".join(f"{o}: " + ", ".join(f"{k} {v:g}" for k, v in st.items() if k != "optimizer")
                         for o, st in c["optimizers"].items())
    comp = "; ".join(
        f"{o} vs gd: α_c diff {plots.ci_text(e['alpha_c_diff'])}, log t ratio {plots.ci_text(e['log_time_ratio'])}"
        for o, e in m["comparisons"].items())
    plots.save(fig, path, caption=(
        f"Gromov's eq. 4, N = {run['h']}, n + m mod {run['p']}, square loss, full batch, budget "
        f"{run['steps']} steps, seeds {c['seeds']}; {opt_text}. Fractions searched top down, stopping at the first "
        f"that fails. Paired over seeds (95% t): {comp}."))


EXPERIMENT = Experiment(
    number="16",
    slug="gromov_fraction",
    title="Grokking time and critical training fraction per optimizer (Gromov)",
    figure="Gromov Fig 4a",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=64.0,
    seconds_full=6 * 3600.0,
    checks=("G2",),
    schemas={"run": GromovRunConfig, "optimizers.*": GromovRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
