"""Experiment 22 — Gromov's App. E: a transformer's MLP is periodic in n + m, attention alone
needs enough heads (Gromov Figs 11–13).

(a) Fig 11 (App. E.1): the one-layer transformer of :mod:`regimes.models.transformer` trained
on n + m mod p. For each MLP neuron the pre-activation h(n, m) = (r W_in + b_in)(n, m) over
all p² pairs is a p × p image; its share of 2-D DFT power on the diagonal k₁ = k₂ (waves in
n + m; :func:`regimes.gromov.line_power_share`, zero frequency left out) is averaged over
neurons. A random image puts about 1/(p + 1) there. Beside it, the Fourier concentration of
the token embedding: the IPR₂ of each embedding coordinate's power over the frequencies
k = 0..⌊p/2⌋ (:func:`regimes.metrics.fourier.frequency_power`), averaged over coordinates
(1 = one frequency, ≈ 2/p = spread out). Gromov: the activations are periodic while the
embeddings "generically do not develop structure in Fourier space". Both are also measured
at init.

(b) Fig 12 (App. E.2): attention-only models (:class:`regimes.models.attention.AttentionOnly`,
no MLP) — one-layer linear, one-layer softmax, two-layer softmax — trained at
``heads_b`` heads: final train / held-out accuracy.

(c) Fig 13: final train / held-out accuracy against the number of heads at a fixed parameter
count (W_Q, W_K, W_V, W_O are n_embd × n_embd whatever the head count), for the models in
``sweep``.

Training: full-batch AdamW, cross-entropy, training fraction ``fraction`` of the p² pairs,
held-out = the other pairs (Gromov uses the MSE loss for E.1 and early stopping in Fig 13;
neither is used here). Transformer parameters are stored (``load_run`` rebuilds them);
AttentionOnly nets are not, since :func:`regimes.runs.rebuild_net` does not know that model.

Quick: p = 23, training fraction 0.8 (at 0.5 the quick transformer memorises but does not
generalise in 400 steps), transformer d_mlp 64 and 700 steps (higher learning rates, 2e-2 and
3e-2, make its held-out accuracy jump about instead of shortening the run), attention-only
n_embd 32, heads 1, 2, 4, 8 and 16 (panel b at 4 heads), 200 steps, 3 seeds: far too short for
the attention-only models to generalise fully (the caption says what was seen); each
attention-only run costs about 2–3 s of CPU on one thread. Full: Gromov's p = 97, n_embd = 128,
heads 1–128, 3 seeds (not run here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from regimes import plots
from regimes.gromov import line_power_share
from regimes.harness import Experiment, RunContext, main
from regimes.metrics.fourier import frequency_power
from regimes.models.attention import AttentionOnly
from regimes.models.transformer import Transformer
from regimes.runs import file_params, net_arrays
from regimes.stats import mean_ci
from regimes.tasks import Task, all_points, sample_split
from regimes.train import TrainConfig, train

#: Attention-only models by name: (attention kind, layers).
MODELS = {"linear1": ("linear", 1), "softmax1": ("softmax", 1), "softmax2": ("softmax", 2)}

QUICK = {"p": 23, "fraction": 0.8, "seeds": [0, 1, 2],
         "transformer": {"d_model": 32, "n_heads": 4, "d_mlp": 64, "lr": 1e-2, "weight_decay": 1.0, "steps": 700},
         "attention": {"n_embd": 32, "lr": 1e-2, "weight_decay": 1.0, "steps": 200},
         "heads": [1, 2, 4, 8, 16], "sweep": ["softmax1"], "heads_b": 4, "eval_every": 50}
FULL = {"p": 97, "fraction": 0.8, "seeds": [0, 1, 2],
        "transformer": {"d_model": 128, "n_heads": 4, "d_mlp": 512, "lr": 1e-3, "weight_decay": 1.0,
                        "steps": 20_000},
        "attention": {"n_embd": 128, "lr": 1e-3, "weight_decay": 1.0, "steps": 20_000},
        "heads": [1, 2, 4, 8, 16, 32, 64, 128], "sweep": ["linear1", "softmax1", "softmax2"], "heads_b": 32,
        "eval_every": 200}


def _cfg(c: dict[str, Any], eval_every: int) -> TrainConfig:
    return TrainConfig(steps=int(c["steps"]), lr=float(c["lr"]), optimizer="adamw",
                       weight_decay=float(c["weight_decay"]), loss="cross_entropy", eval_every=int(eval_every))


def embedding_ipr(E: torch.Tensor, p: int) -> float:
    """Mean over the embedding's coordinates of the IPR₂ of that coordinate's power over the
    frequencies k = 0..⌊p/2⌋ (the number tokens only: rows 0..p−1 of ``E``)."""
    P = frequency_power(E[:p].t().to(torch.float64))
    w = P / P.sum(dim=1, keepdim=True)
    return float((w**2).sum(dim=1).mean())


@torch.no_grad()
def mlp_preactivations(net: Transformer) -> torch.Tensor:
    """The MLP pre-activations r W_in + b_in over every pair, as (d_mlp, p, p) images."""
    P = {k: v.to(torch.float64) for k, v in net.params().items()}
    p = net.p
    x = all_points(p, 2)
    E, pos = P["embed"], P["pos"]
    tok = torch.cat([x, torch.full_like(x[:, :1], p)], dim=1)
    h = E[tok] + pos
    n, d, H = h.shape[0], net.d_model, net.n_heads
    dh = d // H
    q = (h[:, 2] @ P["W_Q"]).reshape(n, H, dh)
    k = (h @ P["W_K"]).reshape(n, 3, H, dh)
    v = (h @ P["W_V"]).reshape(n, 3, H, dh)
    att = torch.softmax(torch.einsum("nhe,nthe->nht", q, k) / dh**0.5, dim=-1)
    r = h[:, 2] + torch.einsum("nht,nthe->nhe", att, v).reshape(n, d) @ P["W_O"]
    pre = r @ P["W_in"] + P["b_in"]                                   # (p², d_mlp), rows in all_points order
    return pre.t().reshape(-1, p, p)


def diagonal_share(net: Transformer) -> float:
    """Mean over MLP neurons (non-constant images) of the k₁ = k₂ share of 2-D DFT power."""
    shares = []
    for img in mlp_preactivations(net):
        try:
            shares.append(line_power_share(img, "diagonal"))
        except ValueError:
            continue
    return float(np.mean(shares))


def _transformer_point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    torch.manual_seed(0)
    p, c = int(key["p"]), key["transformer"]
    split = sample_split(Task(p), fraction=float(key["fraction"]), seed=key["seed"])
    net = Transformer.init(p, d_model=c["d_model"], n_heads=c["n_heads"], d_mlp=c["d_mlp"], seed=key["seed"],
                           dtype=torch.float32)
    init = {"diag_share": diagonal_share(net), "embed_ipr": embedding_ipr(net.params()["embed"], p)}
    res = train(net, split.train, _cfg(c, key["eval_every"]), test=split.test, device=key["device"])
    h = {k: np.asarray(v, dtype=np.float64) for k, v in res.history.items()}
    row = {"seed": key["seed"], "train_acc": float(h["train_acc"][-1]), "test_acc": float(h["test_acc"][-1]),
           "diag_share": diagonal_share(res.net), "embed_ipr": embedding_ipr(res.net.params()["embed"], p),
           "init_diag_share": init["diag_share"], "init_embed_ipr": init["embed_ipr"]}
    images = mlp_preactivations(res.net)
    return row, {"step": h["step"], "train_acc": h["train_acc"], "test_acc": h["test_acc"],
                 "neuron0": images[0].numpy(), **net_arrays(res.net)}


def _attention_point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    p, c = int(key["p"]), key["attention"]
    kind, layers = MODELS[key["model"]]
    split = sample_split(Task(p), fraction=float(key["fraction"]), seed=key["seed"])
    net = AttentionOnly.init(p, n_embd=c["n_embd"], n_heads=key["heads"], n_layers=layers, kind=kind,
                             seed=key["seed"])
    res = train(net, split.train, _cfg(c, key["eval_every"]), test=split.test, device=key["device"])
    h = {k: np.asarray(v, dtype=np.float64) for k, v in res.history.items()}
    row = {"model": key["model"], "heads": int(key["heads"]), "seed": key["seed"], "num_params": net.num_params(),
           "train_acc": float(h["train_acc"][-1]), "test_acc": float(h["test_acc"][-1])}
    return row, {"step": h["step"], "train_acc": h["train_acc"], "test_acc": h["test_acc"]}


def _ci(vals: list[float]) -> dict[str, Any]:
    return mean_ci(vals).as_dict()


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    base = {"p": int(c["p"]), "fraction": float(c["fraction"]), "eval_every": int(c["eval_every"]),
            "device": ctx.device}
    arrays: dict[str, np.ndarray] = {}
    tkeys = [{**base, "transformer": c["transformer"], "seed": int(s)} for s in c["seeds"]]
    tdone = ctx.map(tkeys, _transformer_point, desc="transformer seeds")
    for k, (_, a) in zip(tkeys, tdone, strict=True):
        rest = file_params(arrays, f"transformer-s{k['seed']}", {"model": "transformer", "seed": k["seed"]}, a)
        arrays.update({f"tf_s{k['seed']}_{name}": v for name, v in rest.items()})
    trows = [r for r, _ in tdone]
    transformer = {"rows": trows, **{k: _ci([r[k] for r in trows]) for k in
                                     ("train_acc", "test_acc", "diag_share", "embed_ipr", "init_diag_share",
                                      "init_embed_ipr")}}
    points = sorted({(m, int(h)) for m in c["sweep"] for h in c["heads"]}
                    | {(m, int(c["heads_b"])) for m in MODELS})
    akeys = [{**base, "attention": c["attention"], "model": m, "heads": h, "seed": int(s)}
             for m, h in points for s in c["seeds"]]
    adone = ctx.map(akeys, _attention_point, desc="attention model × heads × seed")
    for k, (_, a) in zip(akeys, adone, strict=True):
        arrays.update({f"att_{k['model']}_h{k['heads']}_s{k['seed']}_{name}": v for name, v in a.items()})
    arows = [r for r, _ in adone]
    summary = []
    for m, h in points:
        rs = [r for r in arows if r["model"] == m and r["heads"] == h]
        summary.append({"model": m, "heads": h, "num_params": rs[0]["num_params"],
                        "train_acc": _ci([r["train_acc"] for r in rs]), "test_acc": _ci([r["test_acc"] for r in rs])})
    counts = {m: sorted({r["num_params"] for r in arows if r["model"] == m}) for m in MODELS}
    return {"transformer": transformer, "attention_rows": arows, "attention": summary,
            "params_fixed_across_heads": all(len(v) == 1 for v in counts.values()),
            "num_params": {m: v[0] for m, v in counts.items() if v}, "chance": 1.0 / int(c["p"]),
            "diag_share_random": 1.0 / (int(c["p"]) + 1)}, arrays


def _entry(m: dict[str, Any], model: str, heads: int) -> dict[str, Any]:
    return next(e for e in m["attention"] if e["model"] == model and e["heads"] == heads)


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    p, s0 = int(c["p"]), int(c["seeds"][0])
    T = m["transformer"]
    fig, axes = plots.subplots(ncols=4, width=3.4, height=3.1)
    ax, fx, bx, cx = axes[0]
    img = arrays[f"tf_s{s0}_neuron0"]
    ax.imshow(img, origin="lower", cmap="RdBu_r")
    ax.set_xlabel("m")
    ax.set_ylabel("n")
    ax.set_title(f"(a) MLP pre-activation, neuron 0, seed {s0}", fontsize=8)
    F = np.abs(np.fft.fft2(img)) ** 2
    F[0, 0] = 0.0
    fx.imshow(np.fft.fftshift(F), origin="lower", cmap="viridis",
              extent=(-p / 2, p / 2, -p / 2, p / 2))
    fx.set_xlabel("k₂")
    fx.set_ylabel("k₁")
    fx.set_title(f"(a) its |DFT|²; diag share {plots.ci_text(T['diag_share'])}", fontsize=8)
    names = list(MODELS)
    hb = int(c["heads_b"])
    xs = np.arange(len(names))
    for j, (key, style, lab) in enumerate((("train_acc", "//", "train"), ("test_acc", "", "held-out"))):
        est = [_entry(m, n, hb)[key]["estimate"] for n in names]
        lo = [_entry(m, n, hb)[key]["low"] for n in names]
        hi = [_entry(m, n, hb)[key]["high"] for n in names]
        err = np.array([[e - (lw if lw is not None else e) for e, lw in zip(est, lo, strict=True)],
                        [(hh if hh is not None else e) - e for e, hh in zip(est, hi, strict=True)]])
        bx.bar(xs + (j - 0.5) * 0.38, est, 0.38, yerr=err, color=plots.COLORS[j], hatch=style, label=lab)
    bx.axhline(m["chance"], color="0.4", ls=":", lw=0.8, label="chance 1/p")
    bx.set_xticks(xs, ["linear, 1L", "softmax, 1L", "softmax, 2L"], fontsize=7)
    bx.set_ylim(0, 1.05)
    bx.set_xlabel("attention-only model")
    bx.set_ylabel("final accuracy (seed mean, 95% CI)")
    bx.set_title(f"(b) attention only, {hb} heads", fontsize=8)
    bx.legend(fontsize=7)
    for i, name in enumerate(c["sweep"]):
        es = [_entry(m, name, int(h)) for h in c["heads"]]
        col = plots.COLORS[i % len(plots.COLORS)]
        plots.errorbar_ci(cx, c["heads"], [e["train_acc"] for e in es], color=col, marker="o",
                          **plots.TRAIN_STYLE, label=f"{name} train")
        plots.errorbar_ci(cx, c["heads"], [e["test_acc"] for e in es], color=col, marker="s",
                          **plots.TEST_STYLE, label=f"{name} held-out")
    cx.axhline(m["chance"], color="0.4", ls=":", lw=0.8)
    cx.set_xscale("log", base=2)
    cx.set_ylim(0, 1.05)
    cx.set_xlabel("number of heads (parameters fixed)")
    cx.set_ylabel("final accuracy (seed mean, 95% CI)")
    cx.set_title("(c) head-count sweep", fontsize=8)
    cx.legend(fontsize=6)
    a = c["attention"]
    sweep = "; ".join(f"{e['model']} H={e['heads']}: train {plots.ci_text(e['train_acc'])}, held-out "
                      f"{plots.ci_text(e['test_acc'])}" for e in m["attention"])
    tests = {e["heads"]: e["test_acc"]["estimate"] for e in m["attention"] if e["model"] == c["sweep"][0]}
    trains = {e["heads"]: e["train_acc"]["estimate"] for e in m["attention"] if e["model"] == c["sweep"][0]}
    h0, best = min(tests), max(tests, key=tests.get)
    verdict = (f"{c['sweep'][0]}: training accuracy {trains[h0]:.2f} at {h0} head(s) vs {max(trains.values()):.2f} "
               f"at most; held-out {tests[h0]:.2f} at {h0} head(s) vs {tests[best]:.2f} at {best} (chance "
               f"{m['chance']:.3f})" + ("" if tests[best] >= 0.5 else
                                        ": no generalisation jump in this budget, Fig 13 NOT reproduced"))
    e_hi = (T["init_embed_ipr"]["high"] if T["init_embed_ipr"]["high"] is not None
            else T["init_embed_ipr"]["estimate"])
    embed = ("the embedding's Fourier IPR₂ rose above its init range, so Gromov's 'embeddings develop no "
             "Fourier structure' is NOT reproduced here" if T["embed_ipr"]["estimate"] > e_hi
             else "the embedding's Fourier IPR₂ stayed in its init range, as Gromov says")
    plots.save(fig, path, caption=(
        f"n + m mod {p}, training fraction {c['fraction']}, AdamW, cross-entropy, seeds {c['seeds']} "
        f"(mean [95% CI]). (a) transformer d_model {c['transformer']['d_model']}, {c['transformer']['n_heads']} "
        f"heads, {c['transformer']['steps']} steps: train {plots.ci_text(T['train_acc'])}, held-out "
        f"{plots.ci_text(T['test_acc'])}; MLP pre-activation power on k₁ = k₂ {plots.ci_text(T['diag_share'])} "
        f"(init {plots.ci_text(T['init_diag_share'])}, random ≈ {m['diag_share_random']:.3f}); embedding "
        f"Fourier IPR₂ {plots.ci_text(T['embed_ipr'], '.3f')} (init {plots.ci_text(T['init_embed_ipr'], '.3f')}). "
        f"(b, c) attention only, n_embd {a['n_embd']}, {a['steps']} steps, parameter count fixed across heads "
        + ("(parameters: " + ", ".join(f"{k} {v:,}" for k, v in m["num_params"].items()) + ")"
           if m["params_fixed_across_heads"] else "(NOT fixed across heads)")
        + f". {sweep}. {verdict}; {embed}."))


EXPERIMENT = Experiment(
    number="22",
    slug="attention_heads",
    title="Transformer MLP periodic in n + m; attention-only models vs number of heads",
    figure="Gromov Figs 11–13",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=75.0,
    seconds_full=12 * 3600.0,
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
