"""Experiment 13 — Fourier localisation while grokking (Gromov Fig 6 and Fig 3; blog's circle).

One AdamW run of the quadratic net: Gromov's average IPR₂ of the first layer's
Fourier-transformed weights (his eqs 28–29) over training beside train/test
accuracy, with the level of his analytic solution (eqs 6–7, same p and width)
dashed; the layer's power spectrum over frequencies at init and at the end; and
the PCA of the learned token embeddings (the columns W[:, a] of the a-block —
for this net the first layer is an embedding table) at init and at the end, with
the circle score (share of the 2-D layout on one Fourier frequency).

Second row: the blog's own model ("Some thoughts on Grokking"), the embedding MLP of
:mod:`regimes.models.mlp` (one shared embedding table E ∈ R^{p×128}, the two rows
concatenated, a 128-unit ReLU layer, p logits), trained with the blog's settings
through :func:`regimes.train.train`: full-batch AdamW, lr 3e-2, weight decay 0.03,
cross-entropy, training fraction 0.6 of the p² pairs, float32 (PyTorch's default, as
in the blog's code). Its train/test curves with t_mem and t_grok, the power of E over
frequencies, and the PCA of the rows E[a] at init and at the end with their circle score.

Quick: p = 31, h = 4p, n = 2p^{5/3}, AdamW lr 1e-3, wd 1, cross-entropy, 4,000 steps;
MLP at the blog's p = 53, 6,000 steps (~60 s of training on one CPU thread). Full: p = 97,
20,000 steps; MLP p = 53, 10,000 steps (the blog's ``num_epochs``).

Measured (quick, seed 0): the MLP memorises at step 19 and reaches 90 % test accuracy at
step 3,855 (final 0.999). The power of E ends on six frequencies (k = 2, 8, 15, 18, 22, 25),
but each carries a similar share, so the top two principal components explain only
6 % + 6 % of the variance and their circle score is 0.31 (the PC pairs 3–4 and 5–6 score
0.24 and 0.30): at this weak decay no single PCA plane is a clean circle. With decay 5
(experiment 14, p = 31) the final embeddings' top-2 plane is a circle (score 0.97).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from regimes.harness import Experiment, main
from regimes.metrics.fourier import circle_score, embedding_pca, embedding_spectrum, ipr, layer_spectrum
from regimes.runs import MLPRunConfig, TrackedRunConfig, file_params, mlp_run, tracked_run
from regimes.settings.blog import FOURIER_MLP

# the blog's embedding MLP (regimes.settings.blog, with provenance); quick stops at 6,000 steps
MLP_QUICK, MLP_FULL = FOURIER_MLP["quick"], FOURIER_MLP["full"]
QUICK = {"run": {"p": 31, "alpha": 1.0, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0,
                 "loss": "cross_entropy", "steps": 4000, "track": False, "n_track": 50},
         "mlp": MLP_QUICK}
FULL = {"run": {"p": 97, "alpha": 1.0, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1.0,
                "loss": "cross_entropy", "steps": 20_000, "track": False, "n_track": 80},
        "mlp": MLP_FULL}


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
              "ipr2": arr["ipr2"], "ipr2_coef": arr["ipr2_coef"],
              **{k: v for k, v in arr.items() if k.startswith("params/")}}
    for tag in ("W0", "W1"):
        W = store[tag].to(torch.float64)
        arrays[f"spectrum_{tag}"] = layer_spectrum(W).numpy()
        coords, expl = embedding_pca(W[:, :p].t(), 2)
        score, freq = circle_score(coords)
        arrays[f"pca_{tag}"] = coords.numpy()
        out[f"circle_score_{tag}"], out[f"circle_freq_{tag}"] = score, freq
        out[f"pca_explained_{tag}"] = expl.tolist()
    return out, arrays


def _embedding_views(E: torch.Tensor, out: dict[str, Any], arrays: dict[str, np.ndarray], tag: str) -> None:
    """PCA circle (the blog post) and frequency spectrum of embedding rows ``E`` (p, d), stored under ``tag``.

    Besides the top-2 PCA plane, the circle score of the PC pairs (1, 2), (3, 4), (5, 6): the blog notes
    that the circle may be spread over several components at different frequencies."""
    E = E.to(torch.float64)
    coords, expl = embedding_pca(E, 6)
    score, freq = circle_score(coords[:, :2])
    arrays[f"mlp_pca_{tag}"] = coords[:, :2].numpy()
    arrays[f"mlp_spectrum_{tag}"] = embedding_spectrum(E).numpy()
    out[f"circle_score_{tag}"], out[f"circle_freq_{tag}"] = score, freq
    out[f"pca_explained_{tag}"] = expl[:2].tolist()
    out[f"circle_pc_pairs_{tag}"] = [list(circle_score(coords[:, i: i + 2])) for i in (0, 2, 4)]


def _run_mlp(c: dict[str, Any], seed: int, device: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The blog's embedding MLP (:func:`regimes.runs.mlp_run`): curves, t_mem/t_grok and the
    PCA circle and spectrum of its embedding rows at init and at the end."""
    s, h = mlp_run({**c, "seed": seed}, device=device)
    out: dict[str, Any] = {k: s[k] for k in ("t_mem", "t_grok", "final_train_acc", "final_test_acc", "measures",
                                             "n_train", "num_params", "train_wall_s")}
    arrays = {"mlp_step": h["step"], "mlp_train_acc": h["train_acc"], "mlp_test_acc": h["test_acc"],
              **{k: v for k, v in h.items() if k.startswith("params/")}}
    _embedding_views(torch.from_numpy(h["embed_init"]), out, arrays, "init")
    _embedding_views(torch.from_numpy(h["embed_end"]), out, arrays, "end")
    return out, arrays


def compute(ctx) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    cfg = {**ctx.config["run"], "seed": ctx.seed}
    out, arrays = ctx.point(cfg, lambda: _run(cfg, ctx.device))
    mcfg = {**ctx.config["mlp"], "seed": ctx.seed, "model": "embedding_mlp"}
    mout, marr = ctx.point(mcfg, lambda: _run_mlp(ctx.config["mlp"], ctx.seed, ctx.device))
    stored: dict[str, np.ndarray] = {}
    arrays = file_params(stored, "quadratic", {"model": "quadratic"}, arrays)
    marr = file_params(stored, "mlp", {"model": "mlp"}, marr)
    return {**out, "mlp": mout}, {**arrays, **marr, **stored}


def _pca_panel(ax, c: np.ndarray, title: str) -> None:
    p = c.shape[0]
    ax.scatter(c[:, 0], c[:, 1], c=np.arange(p), cmap="twilight", s=14)
    for a in range(p):
        ax.annotate(str(a), (c[a, 0], c[a, 1]), fontsize=5)
    ax.set_title(title, fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")


def _spectrum_panel(ax, s0: np.ndarray, s1: np.ndarray, ylabel: str) -> None:
    k = np.arange(s0.size)
    ax.bar(k - 0.2, s0, width=0.4, label="init")
    ax.bar(k + 0.2, s1, width=0.4, label="end")
    ax.set_xlabel("frequency k")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path) -> None:
    from regimes import plots

    m = result["metrics"]
    mlp = "mlp_step" in arrays
    fig, axes = plots.subplots(ncols=4, nrows=2 if mlp else 1, width=3.3, height=3.0)
    ax, sx, px, qx = axes[0]
    x = np.maximum(arrays["step"], 1)
    ax.plot(x, arrays["train_acc"], color=plots.COLORS[0], **plots.TRAIN_STYLE, label="train acc")
    ax.plot(x, arrays["test_acc"], color=plots.COLORS[0], **plots.TEST_STYLE, label="held-out acc")
    ax.plot(x, arrays["ipr2"], color=plots.COLORS[1], label="IPR₂ (frequency basis)")
    ax.plot(x, arrays["ipr2_coef"], color=plots.COLORS[2], label="IPR₂ (coefficient basis)")
    ax.axhline(m["ipr_analytic"], color=plots.COLORS[1], ls="--", lw=0.9)
    ax.axhline(m["ipr_analytic_coef"], color=plots.COLORS[2], ls="--", lw=0.9)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy; IPR₂")
    ax.set_title("quadratic net: IPR vs accuracy (dashed: analytic)", fontsize=8)
    ax.legend(fontsize=6)
    _spectrum_panel(sx, arrays["spectrum_W0"], arrays["spectrum_W1"], "share of first-layer power")
    for axp, tag, title in ((px, "W0", "init"), (qx, "W1", "end")):
        _pca_panel(axp, arrays[f"pca_{tag}"], f"quadratic net W[:, a] PCA, {title}: circle "
                   f"{m[f'circle_score_{tag}']:.2f} (k={m[f'circle_freq_{tag}']})")
        axp.set(xlabel="PC 1", ylabel="PC 2")
    caption = None
    if mlp:
        mm = m["mlp"]
        cfg = result["config"]["mlp"]
        bx, tx, ix, ex = axes[1]
        xm = np.maximum(arrays["mlp_step"], 1)
        bx.plot(xm, arrays["mlp_train_acc"], color=plots.COLORS[0], **plots.TRAIN_STYLE, label="train acc")
        bx.plot(xm, arrays["mlp_test_acc"], color=plots.COLORS[0], **plots.TEST_STYLE, label="held-out acc")
        for t in (mm["t_mem"], mm["t_grok"]):
            if t is not None:
                bx.axvline(max(t, 1), color="0.4", ls=":")
        bx.set_xscale("log")
        bx.set_xlabel("step")
        bx.set_ylabel("accuracy")
        bx.set_title(f"embedding MLP (blog), p = {cfg['p']}: t_mem {plots.value_text(mm['t_mem'], '.0f')}, "
                     f"t_grok {plots.value_text(mm['t_grok'], '.0f')}",
                     fontsize=8)
        bx.legend(fontsize=7)
        _spectrum_panel(tx, arrays["mlp_spectrum_init"], arrays["mlp_spectrum_end"], "share of power of E")
        for axp, tag in ((ix, "init"), (ex, "end")):
            _pca_panel(axp, arrays[f"mlp_pca_{tag}"], f"MLP embeddings E[a] PCA, {tag}: circle "
                       f"{mm[f'circle_score_{tag}']:.2f} (k={mm[f'circle_freq_{tag}']})")
            axp.set(xlabel="PC 1", ylabel="PC 2")
        caption = (f"Bottom row: the blog's embedding MLP (d_embed {cfg['d_embed']}, hidden {cfg['hidden']}), "
                   f"AdamW lr {cfg['lr']:g}, weight decay {cfg['weight_decay']:g}, training fraction "
                   f"{cfg['fraction']:g}, {cfg['dtype']}; PCA explained variance at the end "
                   f"{mm['pca_explained_end'][0]:.2f} + {mm['pca_explained_end'][1]:.2f}; circle scores of "
                   "the PC pairs (1, 2), (3, 4), (5, 6) at the end: "
                   + ", ".join(f"{sc:.2f} (k={k})" for sc, k in mm["circle_pc_pairs_end"]) + ".")
    plots.save(fig, path, caption=caption)


EXPERIMENT = Experiment(
    number="13",
    slug="ipr_fourier",
    title="IPR, Fourier spectra and the embedding circle through grokking",
    figure="Gromov Figs 3, 6; blog (Some thoughts on Grokking)",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=70.0,
    seconds_full=1800.0,
    schemas={"run": TrackedRunConfig, "mlp": MLPRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
