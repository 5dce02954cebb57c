"""Experiment 07 — rich-regime regression (Fig 3; Prop 3.7, Thm 3.6; check C15).

The two-layer quadratic net of width h = 4p on the regression task (triples (a, b, c),
target p·1(a+b≡c), square loss) with a small ℓ∞ penalty, n = 2p^β of the p³ triples,
several p and independent seeds (data and init). Two settings, each its own row:

* **paper** — App. A.1: GD, learning rate 1, λ∞ = 1e-4 on "squared loss", under a reading of
  what the paper leaves open (:mod:`regimes.settings.mohamadi`; default: ½(g − y)², i.e. lr 0.5
  and λ 2e-4 on the suite's mean (g − y)², float32, PyTorch's default init); every run records
  its reading;
* **substitute** — Adam, lr 0.01, λ∞ = 1e-2, float64: a faster stand-in, *not* the
  paper's setting, shown beside it because it moves further within a CPU budget.

Every test quantity is held out: the square loss over the triples not in the training
set, as a ratio to the zero predictor's loss on the same triples, and the accuracy of
argmax_c g (Prop E.7) over the clean pairs, whose labelled triple (a, b, (a+b) mod p)
was never trained on. Panels: held-out loss ratio over training (one line per seed),
final held-out ratio and clean-pair accuracy vs p (seed means, 95% t intervals), ‖θ‖∞
vs p beside Prop 3.8's construction, and the β sweep at one p.

Tiers: quick (p ≤ 13, 5,000 steps, both settings, the β sweep); paper (``--paper``: the
paper setting only, p = 11, 17, 23 with 5 seeds and 50,000 steps, App. A.1's shortest budget,
and Fig 2's p = 31 and 47 with 3 seeds at its longest, 200,000 steps (``long``); no β sweep);
full (p up to 31, 400,000 steps, both settings, the β sweep). A ``long`` block gives some p
their own steps and seeds, and may drop the eNTK kernel baseline there (at p = 47 its Gram
between the ~190k held-out and clean-pair triples and the 11,568 training triples alone would
take ~18 GB in float64).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.constructions import fourier_interpolator
from regimes.harness import Experiment, RunContext, main
from regimes.runs import file_params, paper_config, stored_rich_run
from regimes.settings.grids import C15
from regimes.settings.mohamadi import regression_step, resolve_reading
from regimes.stats import mean_ci

#: App. A.1's "learning rate 1, regularization 1e-4" on the suite's mean (g − y)² under the default
#: square_loss reading, written out so that the resolved config (--print-config) shows them
_A1 = dict(zip(("lr", "lam_inf"), regression_step(resolve_reading()["square_loss"]), strict=True))
SETTINGS = {"paper": _A1, "substitute": {"optimizer": "adam", "lr": 0.01, "lam_inf": 1e-2, "dtype": "float64"}}
#: quick and full: the grid check C15 judges (regimes.settings.grids), each paper-setting run stored once
QUICK = {**C15["quick"], "beta": 2.25, "betas": [2.0, 2.25, 2.5], "sweep_p": 11, "settings": SETTINGS}
#: the paper tier: App. A.1's GD only (no substitute row): p ≤ 23 at its shortest budget (50k steps),
#: Fig 2's p = 31 and 47 at its longest (200k steps; 3 seeds: about 11 CPU-minutes a run at p = 47)
PAPER = {"ps": [11, 17, 23, 31, 47], "seeds": [0, 1, 2, 3, 4], "beta": 2.25, "betas": [2.25], "sweep_p": 11,
         "steps": 50_000, "n_evals": 100, "settings": {"paper": _A1},
         "long": {"ps": [31, 47], "steps": 200_000, "seeds": [0, 1, 2], "kernel_baseline": False}}
FULL = {**C15["full"], "beta": 2.25, "betas": [2.0, 2.25, 2.5], "sweep_p": 17, "settings": SETTINGS}


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    over = {**key["overrides"], "n_exponent": key["beta"], "steps": key["steps"], "n_evals": key["n_evals"],
            "kernel_baseline": key["kernel"]}
    return stored_rich_run(paper_config("regression", key["p"], key["seed"], **over), device=key["device"])


#: what an entry of ``settings`` may set: the fields of :class:`regimes.runs.RichRunConfig` that
#: ``_point`` does not set itself (it sets the setting, p, seed, n exponent β, steps, n_evals and
#: the kernel baseline from the rest of the config)
SETTING_KEYS = ("optimizer", "lr", "lam_inf", "loss", "dtype", "width_mult", "normalize", "linf_ties", "init",
                "sampling", "reading")


def budget(c: dict[str, Any], p: int) -> tuple[int, list[int]]:
    """(steps, seeds) at modulus ``p``: the config's, or its ``long`` block's for the p listed there."""
    long = c.get("long")
    if long is not None and p in long["ps"]:
        return int(long["steps"]), list(long["seeds"])
    return int(c["steps"]), list(c["seeds"])


def kernel_at(c: dict[str, Any], p: int) -> bool:
    """Whether the eNTK kernel baseline is fit at modulus ``p`` (not in a ``long`` block that drops it)."""
    long = c.get("long")
    return not (long is not None and p in long["ps"] and not long.get("kernel_baseline", True))


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    pb = [(p, c["beta"]) for p in c["ps"]] + [(c["sweep_p"], b) for b in c["betas"] if b != c["beta"]]
    keys = [{"setting": name, "overrides": over, "p": p, "beta": b, "seed": s, "steps": budget(c, p)[0],
             "n_evals": c["n_evals"], "kernel": name == "paper" and b == c["beta"] and kernel_at(c, p),
             "device": ctx.device}
            for name, over in c["settings"].items() for p, b in pb for s in budget(c, p)[1]]
    done = ctx.map(keys, _point, desc="setting × p × β × seed")
    runs = [{k: key[k] for k in ("setting", "p", "beta", "seed")} | m for key, (m, _) in zip(keys, done, strict=True)]
    arrays: dict[str, np.ndarray] = {}
    for key, (_, a) in zip(keys, done, strict=True):
        tag = f"{key['setting']}_p{key['p']}_b{key['beta']}_s{key['seed']}"
        rest = file_params(arrays, tag, {k: key[k] for k in ("setting", "p", "beta", "seed")}, a)
        arrays.update({f"{tag}_{name}": v for name, v in rest.items()})

    def summary(setting: str, p: int, beta: float) -> dict[str, Any]:
        rs = [r for r in runs if (r["setting"], r["p"], r["beta"]) == (setting, p, beta)]
        out = {"setting": setting, "p": p, "beta": beta, "n": rs[0]["n"], "steps": budget(c, p)[0],
               "seeds": len(rs), "reading": rs[0]["reading"]}
        for key in ("heldout_l2_ratio", "heldout_acc", "theta_inf", "train_loss"):
            out[key] = mean_ci([r[key] for r in rs]).as_dict()
        if setting == "paper" and beta == c["beta"] and kernel_at(c, p):
            out["kernel_heldout_l2_ratio"] = mean_ci([r["kernel_heldout_l2_ratio"] for r in rs]).as_dict()
        return out

    by_p = [summary(s, p, c["beta"]) for s in c["settings"] for p in c["ps"]]
    sweep = [summary(s, c["sweep_p"], b) for s in c["settings"] for b in c["betas"]]
    construction = [{"p": p, "theta_inf": fourier_interpolator(p, h=4 * p - 3, variant="4p-3",
                                                               target="regression").theta_inf()}
                    for p in c["ps"] if p % 2]
    return {"runs": runs, "by_p": by_p, "beta_sweep": sweep, "construction_theta_inf": construction}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    sweep = len(c["betas"]) > 1            # the β sweep panel only when there is a sweep to draw
    fig, axes = plots.subplots(4 if sweep else 3, width=3.4, height=3.1)
    ax = axes[0, 0]
    zero = {(r["setting"], r["p"], r["beta"], r["seed"]): r["heldout_zero_loss"] for r in m["runs"]}
    for i, p in enumerate(c["ps"]):
        col = plots.COLORS[i % len(plots.COLORS)]
        for j, s in enumerate(budget(c, p)[1]):
            pre = f"paper_p{p}_b{c['beta']}_s{s}_"
            z = zero[("paper", p, c["beta"], s)]
            x = np.maximum(arrays[pre + "step"], 1)
            ax.plot(x, arrays[pre + "train_loss"] / z, color=col, lw=0.8, **plots.TRAIN_STYLE)
            ax.plot(x, arrays[pre + "test_loss"] / z, color=col, lw=0.8, label=f"$p = {p}$" if j == 0 else None,
                    **plots.TEST_STYLE)
    ax.axhline(1.0, color="black", lw=0.8, label="zero predictor")
    ax.axhline(0.5, color="black", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("square loss / zero predictor's (held-out)")
    ax.set_title(f"paper's GD: train --, held-out —, $n = 2p^{{{c['beta']}}}$", fontsize=8)
    ax.legend(fontsize=6)
    for k, (key, label) in enumerate((("heldout_l2_ratio", "held-out ℓ2 ratio"),
                                      ("heldout_acc", "clean-pair accuracy"))):
        ax = axes[0, 1]
        for i, s in enumerate(c["settings"]):
            rows = [r for r in m["by_p"] if r["setting"] == s]
            plots.errorbar_ci(ax, np.array([r["p"] for r in rows]) + 0.15 * i, [r[key] for r in rows],
                              fmt="o-" if k == 0 else "s--", color=plots.COLORS[2 * i + k], label=f"{s}: {label}")
    ax.axhline(0.5, color="black", lw=0.6, ls=":")
    ax.set_xlabel("$p$")
    ax.set_ylabel("at the end (seed mean, 95% CI)")
    ax.set_ylim(-0.02, None)
    ax.set_title("held-out ℓ2 ratio and clean-pair accuracy", fontsize=8)
    ax.legend(fontsize=6)
    ax = axes[0, 2]
    for i, s in enumerate(c["settings"]):
        rows = [r for r in m["by_p"] if r["setting"] == s]
        plots.errorbar_ci(ax, [r["p"] for r in rows], [r["theta_inf"] for r in rows], fmt="o-",
                          color=plots.COLORS[i], label=s)
    cons = m["construction_theta_inf"]
    ax.plot([r["p"] for r in cons], [r["theta_inf"] for r in cons], "s--", color="black",
            label="Prop 3.8 construction ($4p-3$)")
    ax.set_ylim(0, None)
    ax.set_xlabel("$p$")
    ax.set_ylabel(r"$\|\theta\|_\infty$ at the end")
    ax.set_title(r"$\ell_\infty$ norm vs $p$", fontsize=8)
    ax.legend(fontsize=6)
    if sweep:
        ax = axes[0, 3]
        for i, s in enumerate(c["settings"]):
            rows = [r for r in m["beta_sweep"] if r["setting"] == s]
            plots.errorbar_ci(ax, [r["beta"] for r in rows], [r["heldout_acc"] for r in rows], fmt="o-",
                              color=plots.COLORS[i], label=s)
        ax.set_xlabel(r"$\beta$ ($n = 2p^{\beta}$)")
        ax.set_ylabel("clean-pair accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"sample-size sweep, $p = {c['sweep_p']}$", fontsize=8)
        ax.legend(fontsize=6)
    paper_rows = [r for r in m["by_p"] if r["setting"] == "paper"]
    ratios = ", ".join(f"p = {r['p']}: {r['heldout_l2_ratio']['estimate']:.2f}" for r in paper_rows)
    budgets = "; ".join(f"p = {', '.join(str(r['p']) for r in paper_rows if r['steps'] == st)}: {st:,} steps"
                        for st in dict.fromkeys(r["steps"] for r in paper_rows))
    run0 = next(r for r in m["runs"] if r["setting"] == "paper")["config"]
    read = run0.get("reading") or {}
    sub = "" if "substitute" not in c["settings"] else (
        "; substitute = Adam, lr 0.01, $\\lambda_\\infty = 10^{-2}$, float64 (not the paper's)")
    plots.save(fig, path, caption=(
        f"paper = App. A.1's GD under the reading '{read.get('square_loss', 'suite_v1')}' of \"squared loss\": "
        f"lr {run0['lr']:g}, $\\lambda_\\infty$ = {run0['lam_inf']:g} on the mean $(g - y)^2$, {run0['dtype']}{sub}. "
        f"$h = 4p$; {budgets}. Held-out ℓ2 ratio at the end (paper setting): {ratios} "
        "(≤ 0.5 would be the C15 criterion)."))


EXPERIMENT = Experiment(
    number="07", slug="rich_regression", title="Rich-regime regression at the paper's setting and a substitute",
    figure="Fig 3", quick=QUICK, full=FULL, paper=PAPER, compute=compute, plot=plot,
    seconds_quick=90.0, seconds_paper=25 * 60.0, seconds_full=6 * 3600.0, checks=("C14", "C15"),
    tasks={"": "regression"}, schemas={"settings.*": SETTING_KEYS},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
