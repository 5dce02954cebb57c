"""Experiment 20 — minimum-ℓ∞ interpolators against Prop 3.8's norm (Thm 3.6's premise; check C18).

Thm 3.6 bounds the population loss of every regression interpolator whose ‖θ‖_∞ is within a
constant factor of the smallest achievable, and Prop 3.8's Fourier construction (norm r_c:
4^{-1/3} ≈ 0.63 at h = 8p, 2^{-1/3} ≈ 0.79 for the 4p − 3-neuron variant at h = 4p) bounds
that smallest norm. For each (p, n = 2p^e, h) and seed, projected Adam (θ clipped to the ℓ∞
ball of radius r after every step; float64, full batch; seeds and candidate radii run as one
batch by :mod:`regimes.batched`) is run at radii found by a bracketed search: r* is the
smallest radius at which the training loss falls below ``tol`` within ``steps`` steps (an
upper bound on the true minimum at this budget); the bracket starts at the provable lower
bound (p/4h)^{1/3} (below it |g| < p on every triple) and 1.5 r_c. Measured at r* and at r_c:
the clean-pair held-out accuracy (pairs whose labelled triple was never trained on) and the
held-out ℓ2 ratio to the zero predictor.

Left: r*/r_c against n/p² (seed means, 95% t intervals), with the lower bound. Right: clean
held-out accuracy of the interpolators at r* (solid) and at r_c (dashed); chance 1/p dotted.
``memorizers_gone_at``: per (p, h), the smallest n/p² of the grid from which the interpolators
found at r_c have seed-mean clean accuracy ≥ 0.9 (an optimizer shows existence only: a
memorizer it does not find may still exist). C18's verdict is computed from the e = 2.25,
h = 8p cells by the same function the check uses (without its kernel baseline here).

The quick and full tiers run C18's grid (:data:`regimes.settings.grids.C18`: its p, seeds and
search) over more n exponents and widths, C18's cell among them; each cell is stored once
(:func:`regimes.extremal.stored_min_linf_cell`), so ``regimes check --only C18`` after this
experiment retrains none of its searches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.checks.extremal import c18_verdict
from regimes.extremal import seed_net_arrays, stored_min_linf_cell
from regimes.harness import Experiment, RunContext, main
from regimes.runs import file_params
from regimes.settings.grids import C18
from regimes.stats import mean_ci


def _tier(c18: dict[str, Any], n_exponents: list[float], width_mults: list[int]) -> dict[str, Any]:
    """A tier over C18's grid ``c18``: its p, seeds and search at every (n exponent, width) of the
    lists, which must hold C18's own cell (so the check reads this experiment's stored runs)."""
    if c18["n_exponent"] not in n_exponents or c18["width_mult"] not in width_mults:
        raise ValueError(f"n_exponents={n_exponents} and width_mults={width_mults} must hold C18's cell "
                         f"(n_exponent={c18['n_exponent']}, width_mult={c18['width_mult']})")
    return {"ps": list(c18["ps"]), "n_exponents": n_exponents, "width_mults": width_mults,
            "seeds": list(c18["seeds"]), "search": dict(c18["search"])}


QUICK = _tier(C18["quick"], [1.75, 2.0, 2.25, 2.5], [4, 8])
#: the paper tier: Fig 2's and Fig 3's own sizes (p = 31, 47) at Thm 3.6's n = 2p^{2.25}, Fig 3's width 4p
#: (construction norm 2^{-1/3} ≈ 0.79) and the 8p of C18's verdict, 3 seeds, a 2,000-step search
PAPER = {"ps": [31, 47], "n_exponents": [2.25], "width_mults": [4, 8], "seeds": [0, 1, 2],
         "search": {"steps": 2000, "lr": 1e-2, "tol": 1e-3, "rounds": 2, "per_round": 2}}
FULL = _tier(C18["full"], [1.5, 1.75, 2.0, 2.25, 2.5, 2.75], [4, 8])
#: Held-out clean accuracy at which the interpolators found at r_c count as generalizing.
GENERALIZING_ACC = 0.9


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    p, e, hm = key["p"], key["n_exponent"], key["width_mult"]
    m, stored = stored_min_linf_cell(p, e, hm, key["seeds"], key["search"])
    h, n = m["h"], m["n"]
    # per seed, the interpolator at the found radius r* (float32; none for a censored seed):
    # load_run("20", p=p, n_exponent=e, width_mult=hm, seed=s) (h and n are in the point too)
    arrays: dict[str, np.ndarray] = {}
    for seed in key["seeds"]:
        net = seed_net_arrays(stored, seed)
        if net:
            file_params(arrays, f"p{p}_e{e:g}_h{hm}p_s{seed}",
                        {"p": p, "n_exponent": e, "width_mult": hm, "h": h, "n": n, "seed": seed}, net)
    return {"p": p, "n_exponent": e, "width_mult": hm, "n": n, "rows": m["rows"]}, arrays


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    keys = [{"p": p, "n_exponent": float(e), "width_mult": hm, "seeds": c["seeds"], "search": c["search"]}
            for hm in c["width_mults"] for p in c["ps"] for e in c["n_exponents"]]
    done = ctx.map(keys, _point, desc="(p, n, h)")
    cells = []
    for m, _ in done:
        rs = [r for r in m["rows"] if not r["censored"]]
        cell: dict[str, Any] = {k: m[k] for k in ("p", "n_exponent", "width_mult", "n")}
        cell["n_over_p2"] = m["n"] / m["p"] ** 2
        cell["r_c"] = m["rows"][0]["r_c"]
        cell["r_lower_bound"] = m["rows"][0]["r_lower_bound"]
        cell["n_censored"] = len(m["rows"]) - len(rs)
        for key in ("r_star_over_rc", "r_fail_over_rc", "heldout_acc", "heldout_l2_ratio"):
            vals = [r[key] for r in rs]
            cell[key] = mean_ci(vals).as_dict() if vals else None
        at_rc = [r["also"][0] for r in m["rows"]]
        cell["rc_interpolates"] = sum(a["interpolates"] for a in at_rc)
        accs = [a["heldout_acc"] for a in at_rc if a["interpolates"]]
        cell["rc_heldout_acc"] = mean_ci(accs).as_dict() if accs else None
        cells.append(cell)
    gone = []
    for hm in c["width_mults"]:
        for p in c["ps"]:
            cs = sorted((x for x in cells if x["p"] == p and x["width_mult"] == hm), key=lambda x: x["n_exponent"])
            at = None
            for i, x in enumerate(cs):
                if all(y["rc_heldout_acc"] is not None and y["rc_heldout_acc"]["estimate"] >= GENERALIZING_ACC
                       for y in cs[i:]):
                    at = x["n_over_p2"]
                    break
            gone.append({"p": p, "width_mult": hm, "memorizers_gone_at_n_over_p2": at})
    cell = C18["quick"]        # C18's (width, n exponent), the same in every tier
    c18_rows = [r for m, _ in done if m["width_mult"] == cell["width_mult"]
                and abs(m["n_exponent"] - cell["n_exponent"]) < 1e-9 for r in m["rows"]]
    v = c18_verdict(c18_rows) if c18_rows else {"verdict": "n/a (no e = 2.25, h = 8p cell)"}
    rows = [r for m, _ in done for r in m["rows"]]
    arrays = {k: v for _, a in done for k, v in a.items()}
    return {"cells": cells, "memorizers_gone": gone, "c18_verdict_no_kernel": v["verdict"], "rows": rows}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(ncols=2, width=4.4, height=3.4)
    ax, bx = axes[0]
    # one n per (p, h) (the paper tier's single n = 2p^{2.25}): one series per width across p;
    # else one series per (p, h) across n/p²
    by_p = len(c["n_exponents"]) == 1
    series = ([(hm, None) for hm in c["width_mults"]] if by_p else
              [(hm, p) for hm in c["width_mults"] for p in c["ps"]])
    for i, (hm, p) in enumerate(series):
        col = plots.COLORS[i % len(plots.COLORS)]
        cs = sorted((x for x in m["cells"] if x["width_mult"] == hm and (p is None or x["p"] == p)),
                    key=lambda x: (x["p"], x["n"]))
        xs = [x["p"] if by_p else x["n_over_p2"] for x in cs]
        mk = "o" if hm == 8 else "s"
        label = f"$h = {hm}p$" if by_p else f"$p = {p}$, $h = {hm}p$"
        plots.errorbar_ci(ax, xs, [x["r_star_over_rc"] for x in cs], color=col, marker=mk, label=label)
        ax.plot(xs, [x["r_lower_bound"] / x["r_c"] for x in cs], color=col, linestyle=":", linewidth=0.8)
        plots.errorbar_ci(bx, xs, [x["heldout_acc"] for x in cs], color=col, marker=mk, label=label)
        rc = [(xv, x["rc_heldout_acc"]) for xv, x in zip(xs, cs, strict=True) if x["rc_heldout_acc"] is not None]
        if rc:
            bx.plot([a for a, _ in rc], [b["estimate"] for _, b in rc], color=col, linestyle="--", linewidth=1)
        if by_p:
            bx.plot(xs, [1 / x["p"] for x in cs], color="0.4", linestyle=":", linewidth=0.6)
        else:
            bx.axhline(1 / p, color=col, linestyle=":", linewidth=0.6)
    ax.axhline(1.0, color="k", linewidth=0.8)
    xlabel = "$p$ (at $n = 2p^{" + f"{c['n_exponents'][0]:g}" + "}$)" if by_p else "$n / p^2$"
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("$r^* / r_c$ (smallest interpolating radius)")
    ax.legend(fontsize=6)
    bx.set_xscale("log")
    bx.set_xlabel(xlabel)
    if by_p:
        for a in (ax, bx):
            a.set_xticks(c["ps"], [str(p) for p in c["ps"]])
            a.minorticks_off()
    bx.set_ylabel("clean held-out acc (at $r^*$ —, at $r_c$ --)")
    bx.set_title(f"C18 (no kernel baseline): {m['c18_verdict_no_kernel']}", fontsize=8)
    s = c["search"]
    gone = "; ".join(f"p={g['p']}, h={g['width_mult']}p: "
                     + plots.value_text(g["memorizers_gone_at_n_over_p2"], ".3g", missing="at no n of the grid")
                     for g in m["memorizers_gone"])
    plots.save(fig, path, caption=(
        f"Projected Adam (lr {s['lr']}, {s['steps']} steps, float64), success = training loss < {s['tol']}; "
        f"{s['rounds']} search round(s) of {s['per_round']} radii; seeds {', '.join(map(str, c['seeds']))}. "
        "Dotted (left): the provable "
        f"lower bound $(p/4h)^{{1/3}}/r_c$. n/p² from which interpolators found at r_c generalize (acc ≥ "
        f"{GENERALIZING_ACC}): {gone}."))


EXPERIMENT = Experiment(
    number="20",
    slug="min_linf_interpolators",
    title="Minimum-ℓ∞ interpolators vs the construction's norm",
    figure="Thm 3.6 premise (no paper figure)",
    quick=QUICK,
    paper=PAPER,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_paper=45 * 60.0,
    seconds_quick=250.0,
    seconds_full=4 * 3600.0,
    checks=("C18",),
    tasks={"": "regression"},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
