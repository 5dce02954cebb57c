"""Experiment 15 — Gromov's Fig 1: grokking under plain gradient descent (check G1).

Gromov's model (his eq. 4: f(x) = (2/N) W⁽²⁾ (W⁽¹⁾ x)², standard-normal init, no biases,
:func:`regimes.gromov.gromov_net`) on n + m mod p, square loss against one-hot targets,
full-batch GD with no regularization, training fraction 0.49 of the p² pairs (his Fig 1).
Four panels, seed 0: (a) train / held-out loss with the held-out loss's peak marked (his
"test loss reaches its maximum right before the onset of grokking"); (b) ‖W⁽¹⁾‖ and ‖W⁽²⁾‖
(Frobenius); (c) train / held-out accuracy with t_mem, t_onset and t_grok; (d) the norms of
the loss gradient with respect to W⁽¹⁾ and W⁽²⁾. Held-out means the pairs not in the
training set. The times over all seeds are in the caption; check G1 asks, for every seed,
that the held-out loss peaks within 0.2·t_grok before the onset of generalisation.

Quick: p = 61, N = 300, lr 50 on our loss (1/n) Σ ‖f − e_y‖² (``torch.nn.MSELoss`` averages
over the p outputs as well, so this is lr 50·p on that convention), a budget of 1,800 steps,
each run stopped once held-out accuracy reaches 0.99 (grokking complete, at steps 1,360–1,540;
:data:`regimes.settings.gromov.G1_RUN`), 3 seeds. Full: his p = 97 and N = 500, lr 80 (the largest
stable lr scales about like N), 5,000 steps (same stop), 5 seeds (not run here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regimes import plots
from regimes.gromov import GromovRunConfig, g1_verdict
from regimes.harness import Experiment, RunContext, main
from regimes.runs import G1_CURVES as CURVES
from regimes.runs import file_params, stored_gromov_run
from regimes.settings.grids import G1

# one grid for the figure and check G1 (regimes.settings.grids); every run is stored once
# (regimes.runcache), so `regimes check --only G1` after this experiment retrains nothing
QUICK, FULL = G1["quick"], G1["full"]


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    keys = [{"run": c["run"], "seed": s, "device": ctx.device} for s in c["seeds"]]
    done = ctx.map(keys, stored_gromov_run, desc="seeds")
    rows = [s for s, _ in done]
    arrays: dict[str, np.ndarray] = {}
    for k, (_, a) in zip(keys, done, strict=True):
        # the trained net of every seed that did not diverge (float32): load_run("15", seed=s)
        if any(name.startswith("params/") for name in a):
            a = file_params(arrays, f"s{k['seed']}", {"seed": k["seed"]}, a)
        arrays.update({f"s{k['seed']}_{name}": v for name, v in a.items()})
    verdict = g1_verdict(rows, window=float(c["window"]))
    diverged = {str(r["config"]["seed"]): r["diverged_at"] for r in rows if r.get("diverged_at") is not None}
    return {"runs": rows, **verdict, "n_diverged": len(diverged), "diverged": diverged}, arrays


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    s0 = c["seeds"][0]
    r0 = m["runs"][0]
    A = {k: arrays[f"s{s0}_{k}"] for k in CURVES}
    x = A["step"]
    fig, axes = plots.subplots(ncols=4, width=3.4, height=3.0)
    ax, nx, acx, gx = axes[0]
    ax.plot(x, A["train_loss"], color=plots.COLORS[0], **plots.TRAIN_STYLE, label="train")
    ax.plot(x, A["test_loss"], color=plots.COLORS[0], **plots.TEST_STYLE, label="held-out")
    if r0["t_peak"] is not None:
        i = int(np.searchsorted(x, r0["t_peak"]))
        ax.plot([x[i]], [A["test_loss"][i]], "v", color=plots.COLORS[1], ms=8, label=f"held-out peak, step {x[i]:.0f}")
    ax.set_yscale("log")
    ax.set_ylim(max(1e-3, float(np.nanmin(A["train_loss"])) / 2), 3.0)
    ax.set_xlabel("step")
    ax.set_ylabel("square loss")
    ax.set_title("(a) loss", fontsize=9)
    ax.legend(fontsize=7)
    nx.plot(x, A["W_l2"], color=plots.COLORS[0], label="‖W⁽¹⁾‖")
    nx.plot(x, A["V_l2"], color=plots.COLORS[1], label="‖W⁽²⁾‖")
    nx.set_xlabel("step")
    nx.set_ylabel("Frobenius norm")
    nx.set_title("(b) weight norms (Frobenius)", fontsize=9)
    nx.legend(fontsize=7)
    acx.plot(x, A["train_acc"], color=plots.COLORS[0], **plots.TRAIN_STYLE, label="train")
    acx.plot(x, A["test_acc"], color=plots.COLORS[0], **plots.TEST_STYLE, label="held-out")
    for t, name, col in ((r0["t_mem"], "t_mem", "0.5"), (r0["t_onset"], "t_onset", plots.COLORS[2]),
                         (r0["t_grok"], "t_grok", plots.COLORS[1])):
        if t is not None:
            acx.axvline(t, color=col, ls=":", label=f"{name} = {t:.0f}")
    acx.set_xlabel("step")
    acx.set_ylabel("accuracy")
    acx.set_title("(c) accuracy", fontsize=9)
    acx.legend(fontsize=7)
    gx.plot(x, A["grad_W_l2"], color=plots.COLORS[0], label="‖∂L/∂W⁽¹⁾‖")
    gx.plot(x, A["grad_V_l2"], color=plots.COLORS[1], label="‖∂L/∂W⁽²⁾‖")
    gx.set_yscale("log")
    gx.set_xlabel("step")
    gx.set_ylabel("gradient norm (Frobenius)")
    gx.set_title("(d) gradient norms", fontsize=9)
    gx.legend(fontsize=7)
    for a in (ax, nx, gx):
        if r0["t_peak"] is not None:
            a.axvline(r0["t_peak"], color=plots.COLORS[1], ls=":", lw=0.8)
    run = c["run"]
    stop = 1 if run.get("stop_at") is None else run["stop_at"]
    times = "; ".join(f"seed {r['config']['seed']}: t_mem {r['t_mem']}, peak {r['t_peak']}, onset {r['t_onset']}, "
                      f"t_grok {r['t_grok']}" for r in m["runs"])
    plots.save(fig, path, caption=(
        f"Gromov's eq. 4 (N = {run['h']}, standard-normal init, output scale 2/N), n + m mod {run['p']}, "
        f"training fraction {run['fraction']}, full-batch GD lr {run['lr']:g} on the square loss, no regularization, "
        f"budget {run['steps']} steps, stopped at held-out accuracy ≥ {stop:g}; "
        f"panels: seed {s0}. t_onset: held-out accuracy ≥ {run['onset_level']}; t_grok: ≥ "
        f"{run['grok_threshold']}. {times}. G1 (peak within {c['window']}·t_grok before t_onset, every seed): "
        f"{m['verdict']}."))


EXPERIMENT = Experiment(
    number="15",
    slug="gromov_dynamics",
    title="Gromov's quadratic MLP under plain GD: loss peak, norms, gradients",
    figure="Gromov Fig 1",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=47.0,
    seconds_full=1200.0,
    checks=("G1",),
    schemas={"run": GromovRunConfig},
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
