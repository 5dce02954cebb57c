"""Experiment 07 — rich-regime regression (Fig 3; Prop 3.7, Thm 3.6; check C15).

Two-layer quadratic net of width h = 4p on the regression task (triples, target
p·1(a+b≡c), square loss) with a small ℓ∞ penalty, n = 2p^β of the p³ triples.
Left: train (dashed) / test (solid) square loss relative to the zero predictor's
L(Ψ₀) = p, per p. Middle: test accuracy of argmax_c g (Prop E.7) per p.
Right: ‖θ‖_∞ at the end vs p, beside Prop 3.8's minimum-norm interpolator
(4p−3 variant for odd p, scaled to the regression target), and the β sweep.

Quick mode uses Adam (lr 0.01) with λ = 1e-2 — a faster stand-in for the paper's
GD (lr 1, λ = 1e-4, 50k–200k steps, App. A.1), which does not grok within a CPU
minute. Full mode runs the paper's GD; our square loss is mean (g − y)² (no ½),
so the paper's lr 1 on ½(g − y)² is lr 0.5 here (lr 1 diverges at p = 7).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from regimes.harness import Experiment, RunContext, main


def _run(p: int, beta: float, c: dict, seed: int, device: str) -> tuple[dict, dict]:
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    n = min(round(2 * p**beta), p**3 - 1)
    split = sample_split(Task(p, "regression"), n=n, seed=seed)
    net = QuadraticNet.init(p, c["width_mult"] * p, seed=seed, dtype=getattr(__import__("torch"), c["dtype"]))
    cfg = TrainConfig(steps=c["steps"], lr=c["lr"], optimizer=c["optimizer"], lam_inf=c["lam_inf"],
                      eval_every=max(1, c["steps"] // c["n_evals"]))
    res = train(net, split.train, cfg, test=split.test, device=device)
    h = res.history
    keys = ("step", "train_loss", "test_loss", "train_acc", "test_acc", "theta_inf")
    return ({"p": p, "beta": beta, "n": n, "final_test_loss_ratio": h["test_loss"][-1] / p,
             "final_train_loss": h["train_loss"][-1], "final_test_acc": h["test_acc"][-1],
             "final_theta_inf": h["theta_inf"][-1], "steps_per_s": res.steps_per_s},
            {k: np.asarray(h[k], dtype=float) for k in keys})


def compute(ctx: RunContext) -> tuple[dict, dict]:
    from regimes.constructions import fourier_interpolator

    c = ctx.config
    runs = {}
    points = [(p, c["beta"]) for p in c["ps"]] + [(c["sweep_p"], b) for b in c["betas"]
                                                   if b != c["beta"] or c["sweep_p"] not in c["ps"]]
    for p, beta in ctx.progress(points, "runs"):
        runs[(p, beta)] = ctx.point({"p": p, "beta": beta},
                                    lambda p=p, beta=beta: _run(p, beta, c, ctx.seed, ctx.device))
    arrays: dict[str, np.ndarray] = {}
    per_run = []
    for (p, beta), (m, a) in runs.items():
        per_run.append(m)
        for k, v in a.items():
            arrays[f"p{p}_b{beta}_{k}"] = v
    ref = {}
    for p in sorted({p for p, _ in runs}):
        w = c["width_mult"] * p
        if p % 2 and w >= 4 * p - 3:
            ref[p] = fourier_interpolator(p, width=w, variant="4p-3", target="regression").theta_inf()
        elif w >= 8 * p:
            ref[p] = fourier_interpolator(p, width=w, target="regression").theta_inf()
    main_runs = [m for m in per_run if m["beta"] == c["beta"]]
    metrics = {
        "runs": per_run,
        "theta_inf_final_by_p": {m["p"]: m["final_theta_inf"] for m in main_runs},
        "construction_theta_inf_by_p": ref,
        "test_loss_ratio_by_p": {m["p"]: m["final_test_loss_ratio"] for m in main_runs},
        "test_acc_by_p": {m["p"]: m["final_test_acc"] for m in main_runs},
        "beta_sweep": {m["beta"]: {"test_loss_ratio": m["final_test_loss_ratio"], "test_acc": m["final_test_acc"]}
                       for m in per_run if m["p"] == c["sweep_p"]},
    }
    return metrics, arrays


def plot(result: dict, arrays: dict, path: Path) -> None:
    from regimes import plots

    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(4, width=3.4, height=3.1)
    for i, p in enumerate(c["ps"]):
        col = plots.COLORS[i % len(plots.COLORS)]
        pre = f"p{p}_b{c['beta']}_"
        s = arrays[pre + "step"]
        axes[0, 0].plot(s, arrays[pre + "train_loss"] / p, color=col, **plots.TRAIN_STYLE)
        axes[0, 0].plot(s, arrays[pre + "test_loss"] / p, color=col, label=f"p = {p}", **plots.TEST_STYLE)
        axes[0, 1].plot(s, arrays[pre + "train_acc"], color=col, **plots.TRAIN_STYLE)
        axes[0, 1].plot(s, arrays[pre + "test_acc"], color=col, label=f"p = {p}", **plots.TEST_STYLE)
    ax = axes[0, 0]
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", lw=0.8, label="zero predictor")
    ax.set_xlabel("step")
    ax.set_ylabel("square loss / p")
    ax.set_title(f"n = 2p^{c['beta']}, h = {c['width_mult']}p")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy of argmax_c g (Prop E.7)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("train -- / test —")
    ax = axes[0, 2]
    ps = sorted(int(k) for k in m["theta_inf_final_by_p"])
    ax.plot(ps, [m["theta_inf_final_by_p"][str(p)] for p in ps], "o-", label="trained, end of run")
    ref = {int(k): v for k, v in m["construction_theta_inf_by_p"].items()}
    rp = [p for p in ps if p in ref]
    ax.plot(rp, [ref[p] for p in rp], "s--", color=plots.COLORS[1], label="Prop 3.8 construction")
    ax.set_ylim(0, None)
    ax.set_xlabel("p")
    ax.set_ylabel("‖θ‖∞")
    ax.set_title("ℓ∞ norm vs p")
    ax.legend(fontsize=7)
    ax = axes[0, 3]
    sp = c["sweep_p"]
    for i, b in enumerate(c["betas"]):
        pre = f"p{sp}_b{b}_"
        if pre + "step" not in arrays:
            continue
        col = plots.COLORS[i % len(plots.COLORS)]
        ax.plot(arrays[pre + "step"], arrays[pre + "test_acc"], color=col,
                label=f"β = {b} (n = {round(2 * sp**b)})")
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"sample-size sweep, p = {sp}")
    ax.legend(fontsize=7)
    plots.save(fig, path, caption=(
        f"{c['optimizer']} lr {c['lr']}, λ∞ = {c['lam_inf']}, {c['steps']} steps. Test loss / p at the end: "
        + ", ".join(f"p={k}: {v:.2f}" for k, v in m["test_loss_ratio_by_p"].items())
        + ". Thm 3.6 predicts generalization for n = ω̃(p²) once ‖θ‖∞ is near the minimum-norm value."))


QUICK = {"ps": [7, 11, 13], "beta": 2.25, "betas": [1.75, 2.0, 2.25, 2.5], "sweep_p": 11, "width_mult": 4,
         "optimizer": "adam", "lr": 0.01, "lam_inf": 1e-2, "steps": 5000, "n_evals": 50, "dtype": "float64"}
FULL = {"ps": [7, 11, 13, 17, 23, 31], "beta": 2.25, "betas": [1.75, 2.0, 2.25, 2.5], "sweep_p": 17,
        "width_mult": 4, "optimizer": "gd", "lr": 0.5, "lam_inf": 1e-4, "steps": 200_000, "n_evals": 400,
        "dtype": "float32"}

EXPERIMENT = Experiment(
    number="07", slug="rich_regression", title="Rich-regime regression with ℓ∞ regularization",
    figure="Fig 3", quick=QUICK, full=FULL, compute=compute, plot=plot,
    seconds_quick=35.0, seconds_full=20000.0, checks=("C14",),
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
