"""Experiment 14 — the textbook's grokking measures under weight decay and data fraction
(a textbook chapter on grokking; the blog post "Some thoughts on Grokking").

AdamW on the quadratic net (cross-entropy, h = 4p). Three sweeps, each run
summarised by t_mem, t_grok (90 %), the gap, the rise time and the logistic fit
of the test curve (:func:`regimes.metrics.grokking_measures`):

* weight decay (fixed data fraction): does more decay shorten the gap?
* data fraction (fixed weight decay): the "Goldilocks" dependence on n/p²;
* weight decay switched on only after memorisation (practice problem 2): a run
  without decay until ``wd_on``, then with decay — does it grok, and how fast
  compared with decay from the start?

Second row: the same weight-decay and data-fraction sweeps for the blog's embedding MLP
(:mod:`regimes.models.mlp`: a shared 128-dimensional embedding, the two rows concatenated,
a 128-unit ReLU layer), trained with :func:`regimes.train.train` as in the blog's code
(full-batch AdamW, lr 3e-2, cross-entropy, float32). The blog's claim: raising the weight
decay from 0.03 to 5 removes the delay between memorisation and generalisation. Each MLP
run also records the circle score of its final embedding rows' top-2 PCA plane.

Third row: the multi-seed sweeps of checks T1–T3 (:mod:`regimes.checks.textbook`; the quadratic
net at p = 23, AdamW lr 3e-3, 3 seeds quick / 5 full, each seed its own data and init):

* T1 — the gap t_grok − t_mem against weight decay γ (0.3, 0.6, 1.2, 3 at fraction 0.7) on
  log-log axes, every seed, the fitted slope with its cluster-bootstrap interval beside slope −1
  (the chapter's Δt ∝ 1/γ);
* T2 — the gap against the training fraction (0.4–0.8 at γ = 3), every seed, runs that never
  grokked within the budget drawn as open triangles, the chapter's 40–60 % band shaded;
* T3 — ‖θ‖₂ over training for every T1 run, t_mem (●) and t_grok (★) marked: does the norm fall
  to a common critical value at the transition?

The verdict dicts (``t1``, ``t2``, ``t3`` under ``metrics.textbook``) use the checks' own rules
(see ``proofs/textbook.md``); the same runs give checks.json's T1–T3.

Quick: p = 23, training fraction 0.7, 2,500 steps, decay switched on at step 300 (just after
t_mem). MLP at p = 31, not the blog's 53, to fit the quick budget (a step costs ~3× less);
training fraction 0.6, 8,000 steps, wd 0.03–5, fractions 0.4–0.8 at wd 1.
Full: p = 47 (wd 0–5, fractions 0.1–0.9), 20,000 steps; MLP at the blog's p = 53, 10,000 steps
(the blog's ``num_epochs``), wd 0.03–5, fractions 0.3–0.9 at wd 1.

Measured for the MLP (quick, seed 0): every run memorises within 9–39 steps; t_grok falls
from 5,543 (wd 0.03) to 614, 245 and 204 (wd 0.3, 1, 5), so the gap shrinks 33-fold but is
not zero at p = 31 (t_mem 39, t_grok 204 at wd 5; at the blog's p = 53 a separate 1,500-step
run with the same decay gave t_mem 53, t_grok 98). More data also shortens it: t_grok 4,615,
245 and 141 at fractions 0.4, 0.6 and 0.8 (wd 1). The final embeddings' top-2 PCA plane is a
circle only under strong decay or ample data (circle score 0.97 at wd 5 and 0.98 at fraction
0.8; 0.37 at wd 0.03).

Measured for the textbook sweeps (quick, seeds 0–2): the seed-mean gap is 920, 420, 227 and 93
steps at γ = 0.3, 0.6, 1.2 and 3; slope −0.98 [−1.13, −0.82] (T1 PASS), so η·γ·Δt ≈ 0.8 in
every run. ‖θ‖₂ grows over the plateau in all 12 runs (seed means 30.1 → 35.0 at γ = 0.3,
24.7 → 26.5 at γ = 3) and is more spread across runs at t_grok than at t_mem (T3 FAIL). Fractions
0.4 and 0.5 never grok within the budget, and where the gap is measured it falls with the
fraction (T2 INCONCLUSIVE).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regimes.checks.textbook import t1_runs, t1_verdict, t2_runs, t2_verdict, t3_verdict
from regimes.harness import Experiment, main
from regimes.runs import MLPRunConfig, TrackedRunConfig, file_params, mlp_run, tracked_run
from regimes.settings.blog import MEASURES_MLP
from regimes.settings.grids import T1, T2
from regimes.settings.textbook import MEASURES_RUN, MEASURES_RUN_FULL, MEASURES_SWEEPS

# the textbook row reads the one grid of checks T1–T3 (regimes.settings.grids) through the same stored
# runs (regimes.runs.textbook_runs), so `regimes check --only T1 T2 T3` after this experiment retrains nothing
QUICK = {"base": MEASURES_RUN, **MEASURES_SWEEPS["quick"], "mlp": MEASURES_MLP["quick"],
         "textbook": {"t1": T1["quick"], "t2": T2["quick"]}}
FULL = {"base": MEASURES_RUN_FULL, **MEASURES_SWEEPS["full"], "mlp": MEASURES_MLP["full"],
        "textbook": {"t1": T1["full"], "t2": T2["full"]}}


def _row(label: str, value: float, s: dict[str, Any]) -> dict[str, Any]:
    m = s["measures"]
    return {"sweep": label, "value": value, "t_mem": s["t_mem"], "t_grok": s["t_grok"], "gap": m["gap"],
            "rise_time": m["rise_time"], "sigmoid_t0": (m["sigmoid"] or {}).get("t0"),
            "sigmoid_k_per_decade": (m["sigmoid"] or {}).get("k"), "final_test_acc": s["final_test_acc"]}


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One point of :func:`compute`: a quadratic-net run, an embedding-MLP run, or a textbook
    sweep (T1 or T2), by ``key["model"]``."""
    if key["model"] == "quadratic":
        return tracked_run(key["cfg"], device=key["device"])
    if key["model"] == "mlp":
        # final parameters only (snapshots of seven MLPs would triple the stored arrays)
        return mlp_run(key["cfg"], device=key["device"], snapshots=False)
    rows, curves = (t1_runs if key["part"] == "t1" else t2_runs)(key["grid"])
    return {"rows": rows}, {f"c{i}_{k}": v for i, cv in enumerate(curves) for k, v in cv.items()}


def compute(ctx) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    base = {**c["base"], "seed": ctx.seed}
    jobs = [("weight_decay", float(w), {**base, "weight_decay": float(w)}) for w in c["wds"]]
    jobs += [("fraction", float(f), {**base, "fraction": float(f), "weight_decay": c["wd_fixed"]})
             for f in c["fractions"]]
    jobs += [("wd_after_mem", float(c["wd_on"]), {**base, "weight_decay": c["wd_fixed"], "wd_start": c["wd_on"]})]
    mc, tb = c.get("mlp"), c.get("textbook")
    mjobs = []
    if mc:
        mbase = {**mc["base"], "seed": ctx.seed}
        mjobs = [("weight_decay", float(w), {**mbase, "weight_decay": float(w)}) for w in mc["wds"]]
        mjobs += [("fraction", float(f), {**mbase, "fraction": float(f), "weight_decay": float(mc["wd_fixed"])})
                  for f in mc["fractions"]]
    # every run is one point, so `--jobs J` runs J at a time; the two long textbook sweeps go first
    tkeys = [] if not tb else [{"model": "textbook", "part": "t1", "grid": tb["t1"]},
                                {"model": "textbook", "part": "t2", "grid": tb["t2"]}]
    qkeys = [{"model": "quadratic", "cfg": cfg, "device": ctx.device} for _, _, cfg in jobs]
    mkeys = [{"model": "mlp", "cfg": cfg, "device": ctx.device} for _, _, cfg in mjobs]
    # a run in two sweeps (the fixed weight decay at the fixed fraction) is one point, computed once
    done = ctx.map(tkeys + qkeys + mkeys, _point, desc="runs")
    tdone, qdone, mdone = done[:len(tkeys)], done[len(tkeys):len(tkeys) + len(qkeys)], done[len(tkeys) + len(qkeys):]
    rows, arrays = [], {}
    for i, ((label, value, _), (s, arr)) in enumerate(zip(jobs, qdone, strict=True)):
        arr = file_params(arrays, f"r{i}", {"model": "quadratic", "sweep": label, "value": value}, arr)
        rows.append(_row(label, value, s))
        arrays[f"r{i}_step"], arrays[f"r{i}_train"], arrays[f"r{i}_test"] = arr["step"], arr["train_acc"], \
            arr["test_acc"]
    out = {"rows": rows, "wd_on": c["wd_on"], "wd_fixed": c["wd_fixed"]}
    if mc:
        mrows = []
        for i, ((label, value, _), (s, arr)) in enumerate(zip(mjobs, mdone, strict=True)):
            arr = file_params(arrays, f"m{i}", {"model": "mlp", "sweep": label, "value": value}, arr)
            mrows.append({**_row(label, value, s), "circle_score_end": s["circle_score_end"],
                          "train_wall_s": s["train_wall_s"]})
            arrays[f"m{i}_step"], arrays[f"m{i}_train"], arrays[f"m{i}_test"] = arr["step"], arr["train_acc"], \
                arr["test_acc"]
        out.update(mlp_rows=mrows, mlp_wd_fixed=mc["wd_fixed"])
    if tb:
        out["textbook"] = _textbook(tb, tdone, arrays)
    return out, arrays


def _textbook(tb: dict[str, Any], done: list[tuple[dict[str, Any], dict[str, np.ndarray]]],
              arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The multi-seed sweeps of checks T1–T3 (:mod:`regimes.checks.textbook`; ``done``: the T1
    and T2 points), their verdicts, and the T1 runs' curves (``tb1_c{i}_step``, ``_train_acc``,
    ``_test_acc``, ``_theta_l2``)."""
    g1, g2 = tb["t1"], tb["t2"]
    (m1, a1), (m2, _) = done
    arrays.update({f"tb1_{k}": v for k, v in a1.items()})
    r1, r2 = m1["rows"], m2["rows"]
    return {"t1": {"grid": g1, "rows": r1, **t1_verdict(r1)}, "t2": {"grid": g2, "rows": r2, **t2_verdict(r2)},
            "t3": {"grid": g1, **t3_verdict(r1)}}


def _sweep_panels(axes, rows: list[dict[str, Any]], who: str) -> None:
    """t_mem, t_grok and the gap against weight decay and training fraction (one panel each)."""
    from regimes import plots

    for ax, sweep, xlabel in ((axes[0], "weight_decay", "weight decay"),
                              (axes[1], "fraction", "training fraction n/p²")):
        rr = [r for r in rows if r["sweep"] == sweep]
        xv = np.array([r["value"] for r in rr])
        positive = False
        for key, col, mk in (("t_mem", 0, "o"), ("t_grok", 1, "s"), ("gap", 2, "^")):
            v = np.array([np.nan if r[key] is None else r[key] for r in rr], dtype=float)
            ax.plot(xv, v, marker=mk, color=plots.COLORS[col], label=key)
            positive |= bool(np.any(v > 0))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("steps")
        if positive:           # a log axis needs a positive value (none when no run memorised)
            ax.set_yscale("log")
        if sweep == "weight_decay" and xv.size and xv.min() > 0:
            ax.set_xscale("log")
        ax.set_title(who, fontsize=8)
        ax.legend(fontsize=7)


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path) -> None:
    from regimes import plots

    met = result["metrics"]
    rows = met["rows"]
    mrows = met.get("mlp_rows")
    tb = met.get("textbook")
    nrows = 1 + bool(mrows) + bool(tb)
    fig, axes = plots.subplots(ncols=3, nrows=nrows, width=3.8, height=3.1)
    _sweep_panels(axes[0][:2], rows, "quadratic net")
    ax = axes[0][2]
    idx_on = next(i for i, r in enumerate(rows) if r["sweep"] == "wd_after_mem")
    idx_from0 = next(i for i, r in enumerate(rows)
                     if r["sweep"] == "weight_decay" and r["value"] == met["wd_fixed"])
    idx_none = next((i for i, r in enumerate(rows) if r["sweep"] == "weight_decay" and r["value"] == 0.0), None)
    for i, lab, col in ((idx_from0, "wd from step 0", 0), (idx_on, f"wd from step {met['wd_on']}", 1),
                        (idx_none, "no wd", 2)):
        if i is None:
            continue
        x = np.maximum(arrays[f"r{i}_step"], 1)
        ax.plot(x, arrays[f"r{i}_train"], color=plots.COLORS[col], **plots.TRAIN_STYLE)
        ax.plot(x, arrays[f"r{i}_test"], color=plots.COLORS[col], **plots.TEST_STYLE, label=lab)
    ax.axvline(met["wd_on"], color="0.4", ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy (train dashed, test solid)")
    ax.set_title("quadratic net: late weight decay", fontsize=8)
    ax.legend(fontsize=7)
    caption = "Missing points: no memorisation / grokking within the step budget."
    if mrows:
        mb = result["config"]["mlp"]["base"]
        _sweep_panels(axes[1][:2], mrows, f"embedding MLP (blog), p = {mb['p']}")
        ax = axes[1][2]
        for col, (i, r) in enumerate((i, r) for i, r in enumerate(mrows) if r["sweep"] == "weight_decay"):
            x = np.maximum(arrays[f"m{i}_step"], 1)
            ax.plot(x, arrays[f"m{i}_train"], color=plots.COLORS[col % len(plots.COLORS)], **plots.TRAIN_STYLE)
            ax.plot(x, arrays[f"m{i}_test"], color=plots.COLORS[col % len(plots.COLORS)], **plots.TEST_STYLE,
                    label=f"wd {r['value']:g}")
        ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("accuracy (train dashed, test solid)")
        ax.set_title("embedding MLP: weight decay (blog: 0.03 vs 5)", fontsize=8)
        ax.legend(fontsize=7)
        caption += (f" Second row: the blog's embedding MLP, AdamW lr {mb['lr']:g}, training fraction "
                    f"{mb['fraction']:g} in the weight-decay sweep, weight decay {met['mlp_wd_fixed']:g} in the "
                    f"fraction sweep, {mb['steps']} steps, {mb['dtype']}.")
    if tb:
        caption += _textbook_panels(axes[nrows - 1], tb, arrays)
    plots.save(fig, path, caption=caption)


def _textbook_panels(axes, tb: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """Bottom row: checks T1 (gap vs γ, log-log, fitted slope), T2 (gap vs fraction) and T3
    (‖θ‖₂ over training with t_mem and t_grok marked); returns the caption's sentence."""
    from regimes import plots

    t1, t2, t3 = tb["t1"], tb["t2"], tb["t3"]
    ax = axes[0]
    rows = t1["rows"]
    seeds = sorted({r["seed"] for r in rows})
    for j, sd in enumerate(seeds):
        rr = [r for r in rows if r["seed"] == sd and not r["censored"]]
        ax.plot([r["weight_decay"] for r in rr], [r["gap"] for r in rr], "o", ms=3, alpha=0.6,
                color=plots.COLORS[j % len(plots.COLORS)], label=f"seed {sd}")
    fit = t1["fit"]
    wv = np.array(sorted({r["weight_decay"] for r in rows}), dtype=float)
    if fit.get("estimate") is not None and np.isfinite(fit["estimate"]):   # None: too few runs grokked
        ax.plot(wv, np.exp(fit["intercept"]) * wv ** fit["estimate"], color="k",
                label=f"slope {fit['estimate']:.2f} [{fit['low']:.2f}, {fit['high']:.2f}]")
        ax.plot(wv, np.exp(fit["intercept"]) * wv[0] ** (fit["estimate"] + 1) / wv, color="0.5", ls=":",
                label="slope −1 (Δt ∝ 1/γ)")
    ax.set_xscale("log")
    ax.set_xticks(wv, [f"{w:g}" for w in wv], minor=False)
    ax.set_xticks([], minor=True)
    if any(not r["censored"] for r in rows):
        ax.set_yscale("log")
    ax.set_xlabel("weight decay γ")
    ax.set_ylabel("gap t_grok − t_mem (steps)")
    ax.set_title(f"T1: {t1['verdict']} (fraction {t1['grid']['fraction']:g}, {t1['n_censored']} censored)",
                 fontsize=8)
    ax.legend(fontsize=6)
    ax = axes[1]
    rows = t2["rows"]
    fr = sorted({r["fraction"] for r in rows})
    top = max([r["gap"] for r in rows if not r["censored"]] or [1.0])
    for j, sd in enumerate(sorted({r["seed"] for r in rows})):
        rr = [r for r in rows if r["seed"] == sd]
        ax.plot([r["fraction"] for r in rr if not r["censored"]], [r["gap"] for r in rr if not r["censored"]], "o",
                ms=3, alpha=0.6, color=plots.COLORS[j % len(plots.COLORS)], label=f"seed {sd}")
        cf = [r["fraction"] for r in rr if r["censored"]]
        ax.plot(cf, [top * 1.3] * len(cf), "^", ms=4, color=plots.COLORS[j % len(plots.COLORS)], mfc="none")
    pf = t2["per_fraction"]          # keys are floats in memory, strings once stored as JSON
    mean = [pf.get(str(f), pf.get(f, {})).get("estimate") for f in fr]
    ax.plot(fr, [np.nan if m is None else m for m in mean], color="k", label="seed mean")
    lo, hi = t2["band"]
    ax.axvspan(lo, hi, color="0.9", zorder=0, label="chapter's 40–60 %")
    ax.set_xlabel("training fraction n/p²")
    ax.set_ylabel("gap t_grok − t_mem (steps)")
    ax.set_title(f"T2: {t2['verdict']} (γ = {t2['grid']['wd']:g}; ▲ never grokked)", fontsize=8)
    ax.legend(fontsize=6)
    ax = axes[2]
    rows = t1["rows"]
    wds = sorted({r["weight_decay"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    for i, r in enumerate(rows):
        col = plots.COLORS[wds.index(r["weight_decay"]) % len(plots.COLORS)]
        st, th = arrays[f"tb1_c{i}_step"], arrays[f"tb1_c{i}_theta_l2"]
        ax.plot(st, th, color=col, lw=0.8, alpha=0.7, label=f"γ = {r['weight_decay']:g}" if r["seed"] == seeds[0]
                else None)
        for t, mk in ((r["t_mem"], "o"), (r["t_grok"], "*")):
            if t is not None:
                ax.plot([t], [th[st == t][0]], mk, color=col, ms=5)
    ax.set_xlabel("step")
    ax.set_ylabel("‖θ‖₂")
    ratio = "n/a" if t3.get("ratio") is None else f"{t3['ratio']:.2f}"
    ax.set_title(f"T3: {t3['verdict']} (● t_mem, ★ t_grok; CV ratio {ratio})", fontsize=8)
    ax.legend(fontsize=6)
    run = t1["grid"]["run"]
    return (f" Third row (checks T1–T3): the quadratic net, AdamW lr {run['lr']:g}, p = {run['p']}, "
            f"{len(seeds)} seeds per point; T1 fits log gap against log γ with a cluster bootstrap over seeds; "
            "T2's triangles are runs that never grokked within the budget; T3 draws ‖θ‖₂ over all weights.")


EXPERIMENT = Experiment(
    number="14",
    slug="grokking_measures",
    title="Grokking measures under weight decay, data fraction, and late weight decay",
    figure="textbook chapter on grokking; blog (Some thoughts on Grokking)",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    checks=("T1", "T2", "T3"),
    seconds_quick=270.0,
    seconds_full=4 * 3600.0,
    schemas={"base": TrackedRunConfig, "mlp.base": MLPRunConfig}, optional=("mlp", "textbook"),
    reads_seed=True,   # the base and MLP sweeps take the run seed; the textbook sweeps their seeds lists
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
