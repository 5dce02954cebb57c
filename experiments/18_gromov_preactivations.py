"""Experiment 18 — Gromov's Fig 2: preactivation images and their 2-D Fourier images.

For Gromov's model (eq. 4) on n + m mod p, the output preactivation h⁽²⁾_q(n, m) for a fixed q
and the first-layer preactivation h⁽¹⁾_k(n, m) = W⁽¹⁾[k, n] + W⁽¹⁾[k, p + m] of one neuron, as
p × p images over all input pairs, with the power of their 2-D DFTs (zero frequency at the
centre, log scale); the neuron k shown is the trained net's neuron at the median of the
top-frequency share defined below (a representative neuron, not the cleanest). Columns: at
init, after plain GD (experiment 15's run, seed 0), and Gromov's analytic solution (eqs 6–7,
12) at the same width.

Quantified: the share of h⁽²⁾_q's non-constant DFT power on the diagonal k₁ = k₂ (the waves in
n + m: Gromov's "single series of peaks at n + m ≡ q"), on the anti-diagonal (n − m) and on the
axes (2n, 2m), averaged over all q (:func:`regimes.gromov.line_power_share`; which line is
which: ``proofs/gromov_other_functions.md``); the analytic solution is also evaluated at
N = 5000, where the theory says the diagonal share tends to 1. For h⁽¹⁾ the DFT lies on the
axes for any weights (a function of n plus one of m); its share of non-constant power on the
neuron's top frequency is reported instead (median over neurons).

Quick: p = 61, N = 300, GD lr 50, training fraction 0.49, a budget of 1,800 steps stopped once
held-out accuracy reaches 0.99 (:data:`regimes.gromov.G1_RUN`; seed 0 stops at step 1,360), q = 6
as in his figure. Full: p = 97, N = 500 (his), lr 80, 5,000 steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from regimes import plots
from regimes.gromov import G1_RUN, GromovRunConfig, analytic_net, fourier_image, gromov_run, line_power_share
from regimes.gromov import preactivations as preacts
from regimes.harness import Experiment, RunContext, main
from regimes.runs import file_params, net_arrays

QUICK = {"run": G1_RUN, "q": 6, "analytic_wide": 5000}
FULL = {"run": {**G1_RUN, "p": 97, "h": 500, "lr": 80.0, "steps": 5000, "eval_every": 20}, "q": 6,
        "analytic_wide": 10_000}
LINES = ("diagonal", "antidiagonal", "axes")
COLUMNS = ("init", "trained", "analytic")


def _neuron_top_share(W: torch.Tensor) -> np.ndarray:
    """Per neuron: share of its non-constant first-layer power (both blocks) on its top frequency."""
    from regimes.metrics.fourier import weight_spectrum

    P = weight_spectrum(W).sum(dim=1)[:, 1:]
    tot = P.sum(dim=1)
    return (P.max(dim=1).values / torch.where(tot > 0, tot, torch.ones_like(tot))).numpy()


def _shares(h2: torch.Tensor) -> dict[str, dict[str, float]]:
    out = {}
    for line in LINES:
        v = [line_power_share(h2[q], line) for q in range(h2.shape[0])]
        out[line] = {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v))}
    return out


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    run = c["run"]
    p, h, q = int(run["p"]), int(run["h"]), int(c["q"])
    summary, _, (net0, net1) = gromov_run(GromovRunConfig(**{**run, "seed": ctx.seed, "grad_norms": False}),
                                          device=ctx.device, keep_net=True)
    nets = {"init": net0, "trained": net1.to("cpu"), "analytic": analytic_net("add", p, h, seed=ctx.seed)}
    # the neuron shown (same index in every column): the trained net's neuron at the median of the
    # top-frequency share, a representative one rather than the cleanest
    tops_trained = _neuron_top_share(net1.W.detach().cpu().double())
    k = int(np.argsort(tops_trained)[len(tops_trained) // 2])
    steps_run = summary["stopped_at"] if summary["stopped_at"] is not None else int(run["steps"])
    metrics: dict[str, Any] = {"run": {**{key: summary[key] for key in ("t_mem", "t_grok", "final_test_acc")},
                                       "steps_run": steps_run},
                               "q": q, "neuron": k, "shares_h2": {}, "h1_top_frequency_share": {}}
    arrays: dict[str, np.ndarray] = {}
    for name, net in nets.items():
        h1, h2 = preacts(net)
        metrics["shares_h2"][name] = _shares(h2)
        tops = _neuron_top_share(net.W.detach().cpu().double())
        metrics["h1_top_frequency_share"][name] = {"median": float(np.median(tops)), "neuron_k": float(tops[k])}
        arrays[f"{name}_h2"] = h2[q].numpy()
        arrays[f"{name}_h1"] = h1[k].numpy()
        arrays[f"{name}_h2_fft"] = np.fft.fftshift(fourier_image(h2[q]).numpy())
        arrays[f"{name}_h1_fft"] = np.fft.fftshift(fourier_image(h1[k]).numpy())
    wide = analytic_net("add", p, int(c["analytic_wide"]), seed=ctx.seed)
    metrics["shares_h2"]["analytic_wide"] = _shares(preacts(wide)[1])
    # the trained net (float32): load_run("18")
    file_params(arrays, "trained", {}, net_arrays(nets["trained"]))
    return metrics, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    fig, axes = plots.subplots(ncols=3, nrows=4, width=2.9, height=2.7)
    q, k = m["q"], m["neuron"]
    rows = (("h2", f"h⁽²⁾_{q}(n, m)"), ("h2_fft", f"|DFT h⁽²⁾_{q}|² (log)"), ("h1", f"h⁽¹⁾_{k}(n, m)"),
            ("h1_fft", f"|DFT h⁽¹⁾_{k}|² (log)"))
    for j, col in enumerate(COLUMNS):
        for i, (key, label) in enumerate(rows):
            a = axes[i][j]
            img = arrays[f"{col}_{key}"]
            if key.endswith("fft"):
                img = np.log10(img + 1e-12 * float(img.max()))
                half = img.shape[0] // 2
                a.imshow(img, cmap="magma", origin="lower", extent=(-half - 0.5, half + 0.5, -half - 0.5, half + 0.5))
                a.set_xlabel("k₂", fontsize=7)
                a.set_ylabel("k₁", fontsize=7)
            else:
                a.imshow(img, cmap="RdBu_r", origin="lower")
                a.set_xlabel("m", fontsize=7)
                a.set_ylabel("n", fontsize=7)
            a.grid(False)
            title = f"{col}: {label}"
            if key == "h2_fft":
                s = m["shares_h2"][col]
                title += f"\ndiagonal share {s['diagonal']['mean']:.2f}"
            if key == "h1_fft":
                title += f"\ntop-frequency share {m['h1_top_frequency_share'][col]['neuron_k']:.2f}"
            a.set_title(title, fontsize=7)
    run = c["run"]
    sh = m["shares_h2"]
    plots.save(fig, path, caption=(
        f"Gromov's eq. 4, p = {run['p']}, N = {run['h']}, n + m mod p; trained: plain GD lr {run['lr']:g}, "
        f"fraction {run['fraction']}, {m['run']['steps_run']} steps, seed {c['seed']} (held-out accuracy "
        f"{m['run']['final_test_acc']:.3f}). Share of h⁽²⁾_q's non-constant DFT power on the diagonal k₁ = k₂ (waves "
        f"in n + m), mean over all q: init {sh['init']['diagonal']['mean']:.2f}, trained "
        f"{sh['trained']['diagonal']['mean']:.2f}, analytic {sh['analytic']['diagonal']['mean']:.2f} (N = "
        f"{run['h']}) and {sh['analytic_wide']['diagonal']['mean']:.3f} (N = {c['analytic_wide']}); anti-diagonal: "
        f"{sh['init']['antidiagonal']['mean']:.2f} / {sh['trained']['antidiagonal']['mean']:.2f} / "
        f"{sh['analytic']['antidiagonal']['mean']:.2f}; axes: {sh['init']['axes']['mean']:.2f} / "
        f"{sh['trained']['axes']['mean']:.2f} / {sh['analytic']['axes']['mean']:.2f}. Median top-frequency share of "
        f"a neuron's first-layer power: " + ", ".join(f"{col} {m['h1_top_frequency_share'][col]['median']:.2f}"
                                                       for col in COLUMNS) + "."))


EXPERIMENT = Experiment(
    number="18",
    slug="gromov_preactivations",
    title="Preactivation images and their Fourier images: init, trained, analytic",
    figure="Gromov Fig 2",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=22.0,
    seconds_full=600.0,
    schemas={"run": GromovRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
