"""Experiment 14 — the textbook's grokking measures under weight decay and data fraction
(textbook chapter, seed 002; blog, seed 003).

AdamW on the quadratic net (cross-entropy, h = 4p). Three sweeps, each run
summarised by t_mem, t_grok (90 %), the gap, the rise time and the logistic fit
of the test curve (:func:`regimes.metrics.grokking_measures`):

* weight decay (fixed data fraction): does more decay shorten the gap?
* data fraction (fixed weight decay): the "Goldilocks" dependence on n/p²;
* weight decay switched on only after memorisation (practice problem 2): a run
  without decay until ``wd_on``, then with decay — does it grok, and how fast
  compared with decay from the start?

Quick: p = 23, training fraction 0.7, 2,500 steps, decay switched on at step 300 (just after
t_mem). Full: p = 47 (wd 0–5, fractions 0.1–0.9), 20,000 steps.
The embedding MLP of the blog needs a generic training loop (not in
``regimes.train`` yet) and is not run here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regimes.harness import Experiment, main
from regimes.metrics.runs import tracked_run

BASE_Q = {"p": 23, "optimizer": "adamw", "lr": 1e-3, "loss": "cross_entropy", "steps": 2500, "track": False,
          "n_track": 50, "fraction": 0.7}
QUICK = {"base": BASE_Q, "wds": [0.0, 0.3, 1.0, 3.0], "wd_fixed": 1.0,
         "fractions": [0.5, 0.7, 0.9], "wd_on": 300}
BASE_F = {**BASE_Q, "p": 47, "steps": 20_000, "n_track": 80, "fraction": 0.5}
FULL = {"base": BASE_F, "wds": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 5.0], "wd_fixed": 1.0,
        "fractions": [0.1, 0.2, 0.3, 0.5, 0.7, 0.9], "wd_on": 2000}


def _row(label: str, value: float, s: dict[str, Any]) -> dict[str, Any]:
    m = s["measures"]
    return {"sweep": label, "value": value, "t_mem": s["t_mem"], "t_grok": s["t_grok"], "gap": m["gap"],
            "rise_time": m["rise_time"], "sigmoid_t0": (m["sigmoid"] or {}).get("t0"),
            "sigmoid_k_per_decade": (m["sigmoid"] or {}).get("k"), "final_test_acc": s["final_test_acc"]}


def compute(ctx) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    base = {**c["base"], "seed": ctx.seed}
    jobs = [("weight_decay", float(w), {**base, "weight_decay": float(w)}) for w in c["wds"]]
    jobs += [("fraction", float(f), {**base, "fraction": float(f), "weight_decay": c["wd_fixed"]})
             for f in c["fractions"]]
    jobs += [("wd_after_mem", float(c["wd_on"]), {**base, "weight_decay": c["wd_fixed"], "wd_start": c["wd_on"]})]
    rows, arrays = [], {}
    for i, (label, value, cfg) in enumerate(ctx.progress(jobs, "runs")):
        s, arr = ctx.point(cfg, lambda cfg=cfg: tracked_run(cfg, device=ctx.device))
        rows.append(_row(label, value, s))
        arrays[f"r{i}_step"], arrays[f"r{i}_train"], arrays[f"r{i}_test"] = arr["step"], arr["train_acc"], \
            arr["test_acc"]
    return {"rows": rows, "wd_on": c["wd_on"], "wd_fixed": c["wd_fixed"]}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path) -> None:
    from regimes import plots

    rows = result["metrics"]["rows"]
    fig, axes = plots.subplots(ncols=3, width=3.8, height=3.1)
    for ax, sweep, xlabel in ((axes[0][0], "weight_decay", "weight decay"),
                              (axes[0][1], "fraction", "training fraction n/p²")):
        rr = [r for r in rows if r["sweep"] == sweep]
        xv = np.array([r["value"] for r in rr])
        for key, col, mk in (("t_mem", 0, "o"), ("t_grok", 1, "s"), ("gap", 2, "^")):
            v = np.array([np.nan if r[key] is None else r[key] for r in rr], dtype=float)
            ax.plot(xv, v, marker=mk, color=plots.COLORS[col], label=key)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("steps")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    ax = axes[0][2]
    idx_on = next(i for i, r in enumerate(rows) if r["sweep"] == "wd_after_mem")
    idx_from0 = next(i for i, r in enumerate(rows)
                     if r["sweep"] == "weight_decay" and r["value"] == result["metrics"]["wd_fixed"])
    idx_none = next((i for i, r in enumerate(rows) if r["sweep"] == "weight_decay" and r["value"] == 0.0), None)
    for i, lab, col in ((idx_from0, "wd from step 0", 0), (idx_on, f"wd from step {result['metrics']['wd_on']}", 1),
                        (idx_none, "no wd", 2)):
        if i is None:
            continue
        x = np.maximum(arrays[f"r{i}_step"], 1)
        ax.plot(x, arrays[f"r{i}_train"], color=plots.COLORS[col], **plots.TRAIN_STYLE)
        ax.plot(x, arrays[f"r{i}_test"], color=plots.COLORS[col], **plots.TEST_STYLE, label=lab)
    ax.axvline(result["metrics"]["wd_on"], color="0.4", ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy (train dashed, test solid)")
    ax.legend(fontsize=7)
    plots.save(fig, path, caption="Missing points: no memorisation / grokking within the step budget.")


EXPERIMENT = Experiment(
    number="14",
    slug="grokking_measures",
    title="Grokking measures under weight decay, data fraction, and late weight decay",
    figure="textbook (seed 002), blog (seed 003)",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=25.0,
    seconds_full=4 * 3600.0,
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
