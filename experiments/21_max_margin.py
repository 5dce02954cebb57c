"""Experiment 21 — maximum-ℓ∞-margin classifiers (Thm 4.5's premise; check C19).

Thm 4.5 bounds the 0-1 error of every net that fits its n training pairs with normalized ℓ∞
margin q_min/‖θ‖_∞³ = Ω(p), and Prop 3.8's construction shows the maximum is ≥ 4p·⌊h/8p⌋
(4p at h = 8p; read off the built net by :func:`regimes.extremal.construction_margin`).
Here the maximum is approached directly: projected Adam under ‖θ‖_∞ ≤ 1 (θ clipped after
every step) on the cross-entropy of T·f, in stages of increasing temperature T (a soft-min of
the margins tending to the min; float64; seeds run as one batch), at n = 2p^{5/3}, h = 8p.
The attained margin is a lower bound on the maximum at this budget.

Left: attained q_min/‖θ‖_∞³ against p (seed means, 95% t intervals) beside the construction's
4p, log-log, with the fitted exponent (cluster bootstrap over seeds,
:func:`regimes.stats.fit_exponent`). Right: held-out accuracy (pairs not trained on) of the
max-margin nets. The C19 verdict is computed from these runs by the check's own function.

Both tiers are C19's grid (:data:`regimes.settings.grids.C19`), each p stored once
(:func:`regimes.extremal.stored_max_margin`), so ``regimes check --only C19`` after this
experiment retrains nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter

from regimes import plots
from regimes.checks.extremal import c19_verdict
from regimes.extremal import seed_net_arrays, stored_max_margin
from regimes.harness import Experiment, RunContext, main
from regimes.runs import file_params
from regimes.settings.grids import C19

#: quick and full: the grid check C19 judges (regimes.settings.grids), each p stored once
QUICK = dict(C19["quick"])
FULL = dict(C19["full"])


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    p = key["p"]
    m, stored = stored_max_margin(p, key["n_exponent"], key["width_mult"], key["seeds"],
                                  temperatures=key["temperatures"], steps_per_stage=key["steps_per_stage"])
    # every (p, seed)'s max-margin net (float32): load_run("21", p=p, seed=s)
    arrays: dict[str, np.ndarray] = {}
    for r in m["rows"]:
        file_params(arrays, f"p{p}_s{r['seed']}", {"p": p, "seed": r["seed"]}, seed_net_arrays(stored, r["seed"]))
    return {"p": p, "n": m["n"], "rows": m["rows"]}, arrays


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    keys = [{"p": p, **{k: c[k] for k in ("seeds", "width_mult", "n_exponent", "temperatures", "steps_per_stage")}}
            for p in c["ps"]]
    done = ctx.map(keys, _point, desc="p")
    rows = [r for m, _ in done for r in m["rows"]]
    arrays = {k: v for _, a in done for k, v in a.items()}
    v = c19_verdict(rows)
    return {"rows": rows, "per_p": v["per_p"], "exponent": v["exponent"], "c19_verdict": v["verdict"],
            "min_ratio_to_construction": v["measured"]}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(ncols=2, width=4.2, height=3.3)
    ax, bx = axes[0]
    ps = [e["p"] for e in m["per_p"]]
    plots.errorbar_ci(ax, ps, [e["norm_margin"] for e in m["per_p"]], marker="o", color=plots.COLORS[0],
                      label="attained q_min/‖θ‖∞³")
    ax.plot(ps, [e["construction"] for e in m["per_p"]], "k--", label="construction (4p)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("p")
    ax.set_ylabel("normalized ℓ∞ margin")
    ax.set_title(f"exponent {plots.ci_text(m['exponent'])}; C19: {m['c19_verdict']}", fontsize=8)
    ax.legend(fontsize=7)
    plots.errorbar_ci(bx, ps, [e["heldout_acc"] for e in m["per_p"]], marker="s", color=plots.COLORS[1])
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("p")
    bx.set_ylabel("held-out accuracy ($n = 2p^{5/3}$)")
    plots.save(fig, path, caption=(
        f"Projected Adam under ‖θ‖∞ ≤ 1 on the cross-entropy of T·f, T in {c['temperatures']}, "
        f"{c['steps_per_stage']} steps per stage, h = {c['width_mult']}p, seeds {c['seeds']}, float64. The attained "
        "margin is a lower bound on the maximum at this budget."))


EXPERIMENT = Experiment(
    number="21",
    slug="max_margin",
    title="Maximum-ℓ∞-margin classifiers vs the construction's margin",
    figure="Thm 4.5 premise (no paper figure)",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=60.0,
    seconds_full=3 * 3600.0,
    checks=("C19",),
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
