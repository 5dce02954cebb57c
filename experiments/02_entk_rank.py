"""Experiment 02 — eNTK rank and λ_min vs width (Thm 3.1, Prop B.3, B.4, B.6; check C8).

On n distinct regression triples, for widths h from 1 to beyond Prop B.4's
sufficient width 36ρ_c log(n/δ), over several init draws (uniform PyTorch
init): the numerical rank of K_θ (left) with the ceiling min(n, 3ph) and the
necessary width n/(3p); the smallest eigenvalue of K_θ and of E_W K (right)
against Prop B.3's lower bound 4hσ_W⁴. Rank cutoff: λ > n·eps·λ_max.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regimes import plots
from regimes.bounds import prop_b4_sufficient_width
from regimes.harness import Experiment, RunContext, main
from regimes.ntk.rank import distinct_triples, rank_sweep, rho_c

QUICK = {"p": 7, "n": 150, "delta": 0.1, "trials": 5,
         "widths": [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 64, 128, 256, 512, 1024, 2048]}
FULL = {"p": 11, "n": 600, "delta": 0.1, "trials": 20,
        "widths": [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 24, 32, 48, 64, 128, 256, 512, 1024,
                   2048, 4096, 8192]}


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Rank / λ_min sweep over widths, memoised per width."""
    c = ctx.config
    p, n, delta, trials = c["p"], c["n"], c["delta"], c["trials"]
    x = distinct_triples(p, n, ctx.seed)
    rho = rho_c(x)
    h_suff = math.floor(prop_b4_sufficient_width(n, rho, delta)) + 1
    widths = sorted(set(c["widths"]) | {h_suff})
    keys = ("rank", "lam_min", "lam_max", "cutoff", "lam_min_expected", "bound_expected")
    rows: dict[str, list] = {k: [] for k in keys}
    for h in ctx.progress(widths, "widths"):
        def fn(h: int = h) -> tuple[dict, dict]:
            sw = rank_sweep(p, n, [h], trials, seed=ctx.seed)
            assert np.array_equal(sw["x"], x.numpy())
            return {"h": h}, {k: sw[k][0] for k in keys}
        _, a = ctx.point({"h": h}, fn)
        for k in keys:
            rows[k].append(np.asarray(a[k]))
    arrays = {k: np.stack(v) for k, v in rows.items()}
    arrays["widths"] = np.array(widths)
    full = (arrays["rank"] == n).all(axis=1)
    h_emp = next((int(h) for h, f in zip(widths, full, strict=True) if f), None)
    cap = np.minimum(n, 3 * p * np.array(widths))[:, None]
    below = np.array(widths) < n / (3 * p)
    at_suff = arrays["rank"][widths.index(h_suff)]
    metrics = {
        "rho_c": rho, "h_necessary": n / (3 * p), "h_sufficient": h_suff,
        "h_empirical_full_rank": h_emp,
        "looseness_sufficient_over_empirical": h_suff / h_emp if h_emp else None,
        "max_rank_over_cap": float((arrays["rank"] / cap).max()),
        "singular_below_necessary": bool((arrays["rank"][below] < n).all()),
        "min_lam_min_EK_over_bound": float((arrays["lam_min_expected"]
                                            / arrays["bound_expected"][:, None]).min()),
        "max_lam_min_EK_over_bound": float((arrays["lam_min_expected"]
                                            / arrays["bound_expected"][:, None]).max()),
        "fraction_full_rank_at_h_sufficient": float((at_suff == n).mean()),
        "torch": torch.__version__,
    }
    return metrics, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    p, n = c["p"], c["n"]
    h = arrays["widths"].astype(float)
    fig, axes = plots.subplots(2, width=4.8, height=3.6)
    ax = axes[0, 0]
    r = arrays["rank"]
    ax.fill_between(h, r.min(1), r.max(1), color=plots.COLORS[0], alpha=0.25, lw=0)
    ax.plot(h, np.median(r, 1), "o-", ms=3, color=plots.COLORS[0], label="rank K_θ (median, min–max)")
    hh = np.geomspace(h.min(), h.max(), 200)
    ax.plot(hh, 3 * p * hh, ls="--", color=plots.COLORS[1], label="3ph (Prop B.6)")
    ax.plot(hh, (3 * p - 2) * hh, ls=":", color=plots.COLORS[1], label="(3p−2)h (sharper, see note)")
    ax.axhline(n, color="black", lw=0.8, label=f"n = {n}")
    for ax_ in axes[0]:
        ax_.axvline(m["h_necessary"], color=plots.COLORS[2], ls=":", lw=1.2,
                    label=f"n/(3p) = {m['h_necessary']:.1f}")
        ax_.axvline(m["h_sufficient"], color=plots.COLORS[3], ls="-.", lw=1.2,
                    label=f"36ρ_c log(n/δ) = {m['h_sufficient']}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(10, 3 * n)
    ax.set_xlabel("width h")
    ax.set_ylabel("numerical rank (λ > n·ε·λ_max)")
    ax.set_title(f"eNTK rank, p={p}, n={n} distinct triples, ρ_c={m['rho_c']}")
    ax.legend(fontsize=6.5, loc="lower right")

    ax = axes[0, 1]
    cut = np.median(arrays["cutoff"], 1)
    lm = np.maximum(arrays["lam_min"], arrays["cutoff"])  # below the cutoff = numerically 0
    ax.fill_between(h, lm.min(1), lm.max(1), color=plots.COLORS[0], alpha=0.25, lw=0)
    ax.plot(h, np.median(lm, 1), "o-", ms=3, color=plots.COLORS[0], label="λ_min(K_θ) (clipped at cutoff)")
    ax.plot(h, cut, color="grey", lw=0.8, ls=":", label="rank cutoff n·ε·λ_max")
    ax.plot(h, np.median(arrays["lam_min_expected"], 1), "s-", ms=3, color=plots.COLORS[4],
            label="λ_min(E_W K) given V")
    ax.plot(h, arrays["bound_expected"], ls="--", color=plots.COLORS[1], label="4hσ_W⁴ (Prop B.3)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width h")
    ax.set_ylabel("smallest eigenvalue")
    ax.set_title("λ_min of the eNTK and of its expectation")
    ax.legend(fontsize=6.5, loc="upper left")
    plots.save(fig, path, caption=(
        f"Every draw is singular below n/(3p); all {r.shape[1]} draws are full rank from h = "
        f"{m['h_empirical_full_rank']} on, {m['looseness_sufficient_over_empirical']:.0f}× below the "
        "sufficient width of Thm 3.1 / Prop B.4. λ_min(E K) / 4hσ_W⁴ ranges over "
        f"[{m['min_lam_min_EK_over_bound']:.3f}, {m['max_lam_min_EK_over_bound']:.2f}] (Prop B.3: ≥ 1)."))


EXPERIMENT = Experiment(
    number="02", slug="entk_rank", title="eNTK rank and smallest eigenvalue vs width",
    figure="Thm 3.1 / Prop B.3, B.4, B.6 (no paper figure)", quick=QUICK, full=FULL,
    compute=compute, plot=plot, seconds_quick=5.0, seconds_full=900.0, checks=("C8",),
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
