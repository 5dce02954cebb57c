"""Experiment 10 — the eNTK through training: does the network leave the kernel regime
only after fitting the training set? (Fig 1 left, Fig 2 right; check C17.)

For each run (three seeds each; the curves show the first): train/held-out accuracy,
the after-kernel accuracy (ridgeless kernel regression with Θ̂_t frozen at step t) and
the movement of the first-logit eNTK on the training set (relative Frobenius change and Fort et al.'s distance
S(t, 0)) on one log-time axis, with t_mem, t_exit and t_grok marked.

Quick (p = 31 classification, p = 13 regression; ~30 s):

* GD from a large init (α = 16) with weight decay 2e-3, lr 0.5, 80 % of the pairs
  (Lyu et al.'s large-init/small-decay regime; the run of check C17): the kernel
  has barely turned when the training set is fit (S ≈ 0.005) and turns ~15× more
  before the test accuracy passes 95 %.
* AdamW at α = 1, wd 0.1, n = 2p^{5/3}: groks, but not out of a lazy phase — the
  kernel's scale grows some 600× before the fit (Adam's per-coordinate steps are as
  large as the init), while its direction turns little before or after (S 0.03).
* Regression with the paper's GD (App. A.1, lr 1 and λ∞ 1e-4 on ½(g − y)², the default
  ``square_loss`` reading, n = 2p^{2.25}, eNTK also on a 2,000-triple evaluation subset).

Paper tier (``--paper``, 5 seeds): the lazy run as in quick, then the paper's settings at
CPU scale — classification with normalized GD (App. A.2, p = 47, h = 8p, 3,000 steps) under
both readings of eq. A.1 that can change the verdict (:mod:`regimes.settings.mohamadi`: the
whole gradient normalized in float32, the loss gradient alone in float64), and regression
with GD (App. A.1, p = 23, n = 2p^{2.25}, 50,000 steps), each with the eNTK also tracked on a
2,000-point held-out evaluation subset. A row run under a reading records it (``reading``).

Full: the same lazy run with finer tracking, then the paper's settings —
classification with normalized GD (lr 10, λ∞ 1e-20, p = 97, h = 8p, both readings) and
regression with GD (p = 47, n = 2p^{2.25}, 5,000-triple evaluation subset).
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from regimes.harness import Experiment, main
from regimes.runs import TrackedRunConfig, apply_reading, file_params, stored_tracked_run, summarize
from regimes.settings.grids import C17
from regimes.settings.mohamadi import APP_A1, APP_A2, reading_label, resolve_reading
from regimes.stats import mean_ci

_TRACK = {"n_track": 40, "eval_size": 300, "after_pairs": 200, "after_every": 3}
#: the lazy row: the run check C17 judges (large init, small weight decay, plain GD), by tier
#: (regimes.settings.grids.C17); every run is stored once, so `regimes check --only C17` after this
#: experiment retrains nothing
_LAZY_NAME = "cls α=16, GD lr 0.5, wd 2e-3"
#: App. A.2's optimizer, and the readings of what it leaves open that can change the verdict
_A2 = {"optimizer": APP_A2["optimizer"], "lr": APP_A2["lr"], "lam_inf": APP_A2["lam_inf"], "weight_decay": 0.0,
       "loss": APP_A2["loss"]}
_READINGS = [{"normalization": "whole", "dtype": "float32"}, {"normalization": "loss", "dtype": "float64"}]
#: App. A.1's regression: GD on n = 2p^{2.25} triples; lr and λ∞ come from the row's square_loss reading
_A1 = {"setting": "regression", "n_rule": "2p^2.25", "optimizer": APP_A1["optimizer"], "weight_decay": 0.0,
       "loss": "mse"}
QUICK_RUNS = [
    {"name": _LAZY_NAME, **C17["quick"]["run"]},
    {"name": "cls α=1, AdamW wd 0.1", "p": 31, "alpha": 1.0, "weight_decay": 0.1, "steps": 4000, **_TRACK},
    {"name": "reg p=13, GD (App. A.1)", "reading": {}, "p": 13, **_A1, "steps": 5000,
     "n_track": 40, "eval_size": 2000, "after_pairs": 60, "after_every": 3},
]
FULL_RUNS = [
    {"name": _LAZY_NAME, **C17["full"]["run"]},
    *[{"name": f"cls p=97, normalized GD (App. A.2), {reading_label(r)}", "reading": r, "p": 97, "width_mult": 8,
       **_A2, "steps": 100_000, "n_track": 60, "eval_size": 2000, "after_pairs": 1000} for r in _READINGS],
    {"name": "reg p=47, GD (App. A.1)", "reading": {}, "p": 47, **_A1, "steps": 100_000, "n_track": 60,
     "eval_size": 5000, "after_pairs": 50},
]

#: the paper tier: App. A.2's classification and App. A.1's regression at CPU scale, eNTK also
#: tracked on a 2,000-point held-out evaluation subset, 5 seeds; the lazy run kept as its own row
PAPER_RUNS = [
    {"name": _LAZY_NAME, **C17["quick"]["run"]},
    *[{"name": f"cls p=47, normalized GD (App. A.2), {reading_label(r)}", "reading": r, "p": 47, "width_mult": 8,
       **_A2, "steps": 3000, "n_track": 40, "eval_size": 2000, "after_pairs": 300, "after_every": 3}
      for r in _READINGS],
    {"name": "reg p=23, GD (App. A.1)", "reading": {}, "p": 23, **_A1, "steps": 50_000,
     "n_track": 40, "eval_size": 2000, "after_pairs": 50, "after_every": 3},
]


def _run_config(rc: dict[str, Any], seed: int) -> dict[str, Any]:
    """A row's :class:`regimes.runs.TrackedRunConfig` fields at ``seed``. A row of the paper's
    settings has a ``reading`` (``{}`` = the defaults), applied by :func:`regimes.runs.apply_reading`."""
    cfg = {k: v for k, v in rc.items() if k not in ("name", "reading")}
    if rc.get("reading") is not None:
        try:
            cfg = apply_reading(cfg, rc["reading"])
        except ValueError as e:
            raise ValueError(f"run {rc.get('name')!r}: {e} (--set runs.N.reading...)") from None
    return {**cfg, "seed": int(seed)}


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return stored_tracked_run(key["cfg"], device=key["device"])


def compute(ctx) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    seeds = ctx.config["seeds"]
    rows = ctx.config["runs"]
    keys = [{"cfg": _run_config(rc, seed), "device": ctx.device} for rc in rows for seed in seeds]
    done = iter(ctx.map(keys, _point, desc="run × seed"))
    runs, arrays = [], {}
    for i, rc in enumerate(rows):
        per_seed = []
        for seed in seeds:
            cfg = _run_config(rc, seed)
            stored, arr = next(done)
            arr = file_params(arrays, f"run{i}-seed{int(seed)}", {"run": i, "seed": int(seed)}, arr)
            # the measures are recomputed from the stored curves (cheap), so their definitions
            # can change without retraining
            per_seed.append({"seed": int(seed), **stored, **summarize(arr, {**ctx.config.get("measures", {}), **cfg})})
            if seed == seeds[0]:        # the figure draws the first seed's curves
                arrays.update({f"run{i}_{k}": v for k, v in arr.items()})
        first = per_seed[0]
        runs.append({"name": rc["name"], "seeds": [s["seed"] for s in per_seed],
                     "reading": None if rc.get("reading") is None else resolve_reading(rc["reading"]),
                     "t_mem": first["t_mem"], "t_exit": first["t_exit"], "t_grok": first["t_grok"],
                     "per_seed": [{k: s.get(k) for k in ("seed", "t_mem", "t_exit", "t_grok", "exit_after_mem",
                                                         "final_train_acc", "final_test_acc")} | {"c17": s["c17"]}
                                  for s in per_seed],
                     "summary": _over_seeds(per_seed)})
    metrics = {
        "runs": runs,
        # per run, not pooled: the runs differ in optimizer and init on purpose
        "C17": {
            "statement": "S(t_fit,0) <= 0.1 and S(t_gen,0)/S(t_fit,0) >= 10 (t_gen: held-out acc >= 95%)",
            "per_run": {r["name"]: [s["c17"]["holds"] for s in r["per_seed"]] for r in runs},
        },
    }
    return metrics, arrays


def _over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed means with 95% t intervals of the times and the C17 quantities (None entries —
    a run that never memorised, exited or grokked — are counted, not averaged)."""
    out: dict[str, Any] = {}
    for key, get in (("t_mem", lambda s: s["t_mem"]), ("t_exit", lambda s: s["t_exit"]),
                     ("t_grok", lambda s: s["t_grok"]), ("S_fit", lambda s: s["c17"]["S_fit"]),
                     ("growth_ratio", lambda s: s["c17"]["growth_ratio"]),
                     ("rel_change_fit", lambda s: s["c17"]["rel_fit"])):
        vals = [get(s) for s in per_seed]
        got = [float(v) for v in vals if v is not None]
        out[key] = {**(mean_ci(got).as_dict() if got else {"estimate": None}), "n_missing": len(vals) - len(got)}
    return out


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path) -> None:
    from regimes import plots

    runs = result["metrics"]["runs"]
    fig, axes = plots.subplots(ncols=len(runs), width=4.4, height=3.4)
    for i, (ax, run) in enumerate(zip(axes[0], runs, strict=True)):
        s = arrays[f"run{i}_step"]
        x = np.maximum(s, 1)
        tr_key = f"run{i}_train_fit_acc" if f"run{i}_train_fit_acc" in arrays else f"run{i}_train_acc"
        ax.plot(x, arrays[tr_key], color=plots.COLORS[0], **plots.TRAIN_STYLE, label="train acc")
        ax.plot(x, arrays[f"run{i}_test_acc"], color=plots.COLORS[0], **plots.TEST_STYLE, label="held-out acc")
        ak = arrays.get(f"run{i}_after_kernel_acc")
        if ak is not None:
            ok = np.isfinite(ak)
            ax.plot(x[ok], ak[ok], color=plots.COLORS[2], marker=".", ms=3, lw=1, label="after-kernel acc")
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_ylabel("accuracy")
        ax2 = ax.twinx()
        for key, col, lab in (("ntk_rel_change_train", 1, r"$\|\hat\Theta_t-\hat\Theta_0\|/\|\hat\Theta_0\|$"),
                                ("ntk_dist_train", 3, "$S(t,0)$")):
            v = arrays.get(f"run{i}_{key}")
            if v is not None:
                ok = np.isfinite(v) & (v > 0) & (s > 0)   # S(0, 0) = 0 by definition
                ax2.plot(x[ok], v[ok], color=plots.COLORS[col], lw=1.2, label=lab)
        ax2.set_yscale("log")
        ax2.set_xlabel("step")   # the twin shares the x axis; named so every panel's axes are
        ax2.set_ylabel("kernel movement (train set)")
        ax2.grid(False)
        for t, name, ls in ((run["t_mem"], "t_mem", ":"), (run["t_exit"], "t_exit", "-."),
                            (run["t_grok"], "t_grok", "--")):
            if t is not None:
                ax.axvline(max(t, 1), color="0.3", ls=ls, lw=0.9)
                ax.text(max(t, 1), 1.0, name, rotation=90, va="top", ha="right", fontsize=7)
        ax.set_title(textwrap.fill(f"{run['name']} (seed {run['seeds'][0]})", 48), fontsize=8)
        if i == 0:
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(h1 + h2, l1 + l2, loc="center left", fontsize=6)
    c17 = result["metrics"]["C17"]
    verdicts = "; ".join(
        f"{k}: met in {sum(v is True for v in vs)} of {len(vs)} seeds"
        + (f", never fit or generalized in {sum(v is None for v in vs)}" if any(v is None for v in vs) else "")
        for k, vs in c17["per_run"].items())
    times = "; ".join(f"{r['name']}: t_mem {plots.ci_text(r['summary']['t_mem'], '.0f')}, "
                      f"t_grok {plots.ci_text(r['summary']['t_grok'], '.0f')}" for r in runs)
    plots.save(fig, path, caption=(
        f"Curves: the first seed. Over seeds {', '.join(map(str, runs[0]['seeds']))} (mean [95% CI]): {times}. "
        f"C17 ({c17['statement']}): {verdicts}."))


EXPERIMENT = Experiment(
    number="10",
    slug="kernel_exit",
    title="eNTK movement vs memorisation and grokking, with the after-kernel",
    figure="Fig 1 (left), Fig 2 (right)",
    quick={"runs": QUICK_RUNS, "seeds": C17["quick"]["seeds"]},
    full={"runs": FULL_RUNS, "seeds": C17["full"]["seeds"]},
    paper={"runs": PAPER_RUNS, "seeds": [0, 1, 2, 3, 4]},
    compute=compute,
    plot=plot,
    seconds_quick=100.0,
    seconds_paper=52 * 60.0,
    seconds_full=4 * 3600.0,
    checks=("C17",),
    schemas={"runs.*": TrackedRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
