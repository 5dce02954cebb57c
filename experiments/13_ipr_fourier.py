"""Experiment 13 — Fourier localisation while grokking (Gromov Fig 6 and Fig 3; blog's circle).

One AdamW run of the quadratic net: Gromov's average IPR₂ of the first layer's
Fourier-transformed weights (his eqs 28–29) over training beside train/test
accuracy, with the level of his analytic solution (eqs 6–7, same p and width)
dashed; the layer's power spectrum over frequencies at init and at the end; and
the PCA of the learned token embeddings (the columns W[:, a] of the a-block —
for this net the first layer is an embedding table) at init and at the end, with
the circle score (share of the 2-D layout on one Fourier frequency).

Quick: p = 31, h = 4p, n = 2p^{5/3}, AdamW lr 1e-3, wd 1, cross-entropy, 4,000 steps.
Full: p = 97, 20,000 steps. The embedding-MLP (the blog's p = 53, hidden 128) needs a
training loop for generic models (not yet in ``regimes.train``), so it is not run here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from regimes.harness import Experiment, main
from regimes.metrics.fourier import circle_score, embedding_pca, ipr, layer_spectrum
from regimes.metrics.runs import tracked_run

QUICK = {"run": {"p": 31, "alpha": 1.0, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0,
                 "loss": "cross_entropy", "steps": 4000, "track": False, "n_track": 50}}
FULL = {"run": {"p": 97, "alpha": 1.0, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0,
                "loss": "cross_entropy", "steps": 20_000, "track": False, "n_track": 80}}


def _snapshot(store: dict[str, torch.Tensor], last: int):
    def cb(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        if step == 0:
            store["W0"] = params["W"].cpu()
        if step == last:
            store["W1"] = params["W"].cpu()
        record["ipr2_coef"] = ipr(params["W"], 2.0, basis="coefficient")

    return cb


def _run(cfg: dict[str, Any], device: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from regimes.constructions import gromov_solution

    store: dict[str, torch.Tensor] = {}
    summary, arr = tracked_run(cfg, device=device, extra_callbacks=(_snapshot(store, int(cfg["steps"])),))
    p = int(cfg["p"])
    h = summary["width"]
    W_sol = gromov_solution(p, h, seed=cfg["seed"]).net.W
    out = {k: summary[k] for k in ("t_mem", "t_grok", "final_test_acc")}
    out.update(ipr_analytic=ipr(W_sol, 2.0), ipr_analytic_coef=ipr(W_sol, 2.0, basis="coefficient"),
               ipr_init=float(arr["ipr2"][0]), ipr_final=float(arr["ipr2"][-1]))
    arrays = {"step": arr["step"], "train_acc": arr["train_acc"], "test_acc": arr["test_acc"],
              "ipr2": arr["ipr2"], "ipr2_coef": arr["ipr2_coef"]}
    for tag in ("W0", "W1"):
        W = store[tag].to(torch.float64)
        arrays[f"spectrum_{tag}"] = layer_spectrum(W).numpy()
        coords, expl = embedding_pca(W[:, :p].t(), 2)
        score, freq = circle_score(coords)
        arrays[f"pca_{tag}"] = coords.numpy()
        out[f"circle_score_{tag}"], out[f"circle_freq_{tag}"] = score, freq
        out[f"pca_explained_{tag}"] = expl.tolist()
    return out, arrays


def compute(ctx) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    cfg = {**ctx.config["run"], "seed": ctx.seed}
    return ctx.point(cfg, lambda: _run(cfg, ctx.device))


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path) -> None:
    from regimes import plots

    m = result["metrics"]
    fig, axes = plots.subplots(ncols=4, width=3.3, height=3.0)
    ax, sx, px, qx = axes[0]
    x = np.maximum(arrays["step"], 1)
    ax.plot(x, arrays["train_acc"], color=plots.COLORS[0], **plots.TRAIN_STYLE, label="train acc")
    ax.plot(x, arrays["test_acc"], color=plots.COLORS[0], **plots.TEST_STYLE, label="test acc")
    ax.plot(x, arrays["ipr2"], color=plots.COLORS[1], label="IPR₂ (frequency basis)")
    ax.plot(x, arrays["ipr2_coef"], color=plots.COLORS[2], label="IPR₂ (coefficient basis)")
    ax.axhline(m["ipr_analytic"], color=plots.COLORS[1], ls="--", lw=0.9)
    ax.axhline(m["ipr_analytic_coef"], color=plots.COLORS[2], ls="--", lw=0.9)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_title("IPR vs accuracy (dashed: analytic solution)")
    ax.legend(fontsize=6)
    k = np.arange(arrays["spectrum_W0"].size)
    sx.bar(k - 0.2, arrays["spectrum_W0"], width=0.4, label="init")
    sx.bar(k + 0.2, arrays["spectrum_W1"], width=0.4, label="end")
    sx.set_xlabel("frequency k")
    sx.set_ylabel("share of first-layer power")
    sx.legend(fontsize=7)
    for axp, tag, title in ((px, "W0", "init"), (qx, "W1", "end")):
        c = arrays[f"pca_{tag}"]
        p = c.shape[0]
        axp.scatter(c[:, 0], c[:, 1], c=np.arange(p), cmap="twilight", s=14)
        for a in range(p):
            axp.annotate(str(a), (c[a, 0], c[a, 1]), fontsize=5)
        axp.set_title(f"embedding PCA, {title}: circle {m[f'circle_score_{tag}']:.2f} "
                      f"(k={m[f'circle_freq_{tag}']})", fontsize=8)
        axp.set_aspect("equal", adjustable="datalim")
    plots.save(fig, path)


EXPERIMENT = Experiment(
    number="13",
    slug="ipr_fourier",
    title="IPR, Fourier spectra and the embedding circle through grokking",
    figure="Gromov Figs 3, 6; blog (seed 003)",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=10.0,
    seconds_full=1800.0,
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
