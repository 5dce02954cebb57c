"""Experiment 08 — rich-regime classification (Fig 4; Thm 4.5, 4.6, Prop 4.4; check C16).

Normalized GD (lr 10, App. A eq. A.1) on cross-entropy with λ‖θ‖_∞, λ = 1e-20, width
h = 8p, n = 2p^{5/3} of the p² pairs. Left: train (dashed) / test (solid) accuracy
per p. Middle: ‖θ‖_∞ at the end vs p (Fig 4: flat). Right: the normalized ℓ∞
margin q_min/‖θ‖_∞³ vs p beside the construction's 4p (Prop 3.8, a lower bound on
the maximum), and the eNTK kernel baseline: ridgeless regression with the
first-logit eNTK at initialization (⊗ I over the p outputs, prior mean f₀ = the
net at init, App. B.1) on the same training sets — its test accuracy and its
population ℓ2 loss ratio to the zero predictor.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from regimes.harness import Experiment, RunContext, main


def kernel_baseline(net0, split) -> dict:
    """First-logit eNTK (at init) ridgeless regression on one-hot targets, prior f₀ = net0."""
    import torch

    from regimes.kernels import classification_l2_ratio, kernel_regression
    from regimes.ntk import entk

    p = net0.p
    xtr, ytr = split.train.x, split.train.y
    pop = split.population
    K = entk(net0, xtr, kind="first_logit")
    Kt = entk(net0, pop.x, xtr, kind="first_logit")
    with torch.no_grad():
        f0_tr, f0_pop = net0(xtr).double(), net0(pop.x).double()
    Y = torch.nn.functional.one_hot(ytr, p).double()
    pred = kernel_regression(K, Y, Kt, prior_train=f0_tr, prior_test=f0_pop)
    in_train = torch.zeros(pop.x.shape[0], dtype=torch.bool)
    in_train[split.train.task.flat_index(xtr)] = True
    correct = (pred.argmax(1) == pop.y)
    return {"kernel_test_acc": float(correct[~in_train].double().mean()),
            "kernel_train_acc": float(correct[in_train].double().mean()),
            "kernel_l2_ratio": classification_l2_ratio(pred, p)}


def _run(p: int, c: dict, seed: int, device: str) -> tuple[dict, dict]:
    import torch

    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    n = min(round(2 * p ** (5 / 3)), p * p - 1)
    split = sample_split(Task(p), n=n, seed=seed)
    net0 = QuadraticNet.init(p, c["width_mult"] * p, seed=seed, dtype=getattr(torch, c["dtype"]))
    cfg = TrainConfig(steps=c["steps"], lr=c["lr"], optimizer="normalized_gd", loss="cross_entropy",
                      lam_inf=c["lam_inf"], eval_every=max(1, c["steps"] // c["n_evals"]))
    res = train(net0, split.train, cfg, test=split.test, device=device)
    h = res.history
    kb = kernel_baseline(net0.to(dtype=torch.float64), split)
    keys = ("step", "train_acc", "test_acc", "theta_inf", "norm_margin", "q_min")
    m = {"p": p, "n": n, "final_test_acc": h["test_acc"][-1], "final_train_acc": h["train_acc"][-1],
         "final_theta_inf": h["theta_inf"][-1], "final_norm_margin": h["norm_margin"][-1],
         "steps_per_s": res.steps_per_s, **kb}
    return m, {k: np.asarray(h[k], dtype=float) for k in keys}


def compute(ctx: RunContext) -> tuple[dict, dict]:
    c = ctx.config
    runs = {p: ctx.point({"p": p}, lambda p=p: _run(p, c, ctx.seed, ctx.device))
            for p in ctx.progress(c["ps"], "p")}
    arrays = {f"p{p}_{k}": v for p, (_, a) in runs.items() for k, v in a.items()}
    rows = [m for m, _ in runs.values()]
    ps = np.array([m["p"] for m in rows], dtype=float)
    nm = np.array([m["final_norm_margin"] for m in rows])
    slope = float(np.polyfit(np.log(ps), np.log(np.maximum(nm, 1e-300)), 1)[0]) if len(ps) > 1 else None
    metrics = {
        "runs": rows,
        "test_acc_by_p": {m["p"]: m["final_test_acc"] for m in rows},
        "theta_inf_by_p": {m["p"]: m["final_theta_inf"] for m in rows},
        "norm_margin_by_p": {m["p"]: m["final_norm_margin"] for m in rows},
        "norm_margin_loglog_slope": slope,
        "construction_norm_margin_by_p": {m["p"]: 4.0 * m["p"] * (c["width_mult"] // 8) for m in rows}
        if c["width_mult"] >= 8 else {},
        "kernel_test_acc_by_p": {m["p"]: m["kernel_test_acc"] for m in rows},
        "kernel_l2_ratio_by_p": {m["p"]: m["kernel_l2_ratio"] for m in rows},
    }
    return metrics, arrays


def plot(result: dict, arrays: dict, path: Path) -> None:
    from regimes import plots

    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(3, width=3.8, height=3.2)
    ax = axes[0, 0]
    for i, p in enumerate(c["ps"]):
        col = plots.COLORS[i % len(plots.COLORS)]
        s = np.maximum(arrays[f"p{p}_step"], 1)
        ax.plot(s, arrays[f"p{p}_train_acc"], color=col, **plots.TRAIN_STYLE)
        ax.plot(s, arrays[f"p{p}_test_acc"], color=col, label=f"p = {p}", **plots.TEST_STYLE)
        ax.axhline(m["kernel_test_acc_by_p"][str(p)], color=col, lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("net: train -- / test —; eNTK regression ···")
    ax.legend(fontsize=7)
    ps = [int(k) for k in m["theta_inf_by_p"]]
    ax = axes[0, 1]
    ax.plot(ps, list(m["theta_inf_by_p"].values()), "o-")
    ax.set_ylim(0, None)
    ax.set_xlabel("p")
    ax.set_ylabel("‖θ‖∞ at the end")
    ax.set_title("ℓ∞ norm vs p (Fig 4: flat)")
    ax = axes[0, 2]
    ax.plot(ps, list(m["norm_margin_by_p"].values()), "o-", label="trained: q_min/‖θ‖∞³")
    if m["construction_norm_margin_by_p"]:
        ax.plot(ps, list(m["construction_norm_margin_by_p"].values()), "s--", color=plots.COLORS[1],
                label="construction 4p⌊h/8p⌋")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.minorticks_off()
    ax.set_xlabel("p")
    ax.set_ylabel("normalized ℓ∞ margin")
    ax.set_title(f"margin vs p (log-log slope {m['norm_margin_loglog_slope']:.2f})")
    ax.legend(fontsize=7)
    plots.save(fig, path, caption=(
        f"Normalized GD lr {c['lr']}, λ∞ = {c['lam_inf']}, h = {c['width_mult']}p, n = 2p^(5/3), {c['steps']} steps. "
        "eNTK regression test accuracy: " + ", ".join(f"p={k}: {v:.2f}" for k, v in m["kernel_test_acc_by_p"].items())
        + "; its population ℓ2 ratio to the zero predictor: "
        + ", ".join(f"{v:.2f}" for v in m["kernel_l2_ratio_by_p"].values()) + " (Thm 4.3)."))


QUICK = {"ps": [11, 17, 23], "width_mult": 8, "lr": 10.0, "lam_inf": 1e-20, "steps": 1000, "n_evals": 40,
         "dtype": "float64"}
FULL = {"ps": [11, 17, 23, 31, 47, 67, 97], "width_mult": 8, "lr": 10.0, "lam_inf": 1e-20, "steps": 100_000,
        "n_evals": 200, "dtype": "float32"}

EXPERIMENT = Experiment(
    number="08", slug="rich_classification", title="Rich-regime classification with tiny ℓ∞ regularization",
    figure="Fig 4", quick=QUICK, full=FULL, compute=compute, plot=plot,
    seconds_quick=5.0, seconds_full=30000.0, checks=("C14",),
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
