"""Experiment 19 — the blog's embedding circle, made visible and measured ("Some thoughts on Grokking").

The blog's embedding MLP (:class:`regimes.models.mlp.EmbeddingMLP`: a shared token embedding
E ∈ R^{p×d}, the two rows concatenated, a ReLU layer of 128 units, p logits) trained full
batch with AdamW on a + b mod p, at the blog's larger weight decay 5 (with which it
generalises without delay, and its embeddings form a clean circle). Two claims of the blog:

1. The circle may be "spread out over many components at different frequencies": each
   dominant frequency j of E has its own plane, span(Re F_j, Im F_j) with F_j = Σ_a E[a]
   e^{−2πija/p} (:func:`regimes.metrics.circle.frequency_plane`); the tokens are projected on the
   plane of each of the top-3 frequencies, with the circle score there, beside the top-2 PCA
   view.
2. The "lottery ticket": in the axes of the *final* top-2 principal components, the embeddings
   already sit on the final circle at init, up to local order, and more so for a wider model.
   For every frame of training the embeddings (centred) are projected on those fixed axes; the
   circle score of the projection and the circular rank correlation of the tokens' angles with
   their final angles (:func:`regimes.metrics.circle.circular_rank_correlation`) are tracked,
   for two embedding widths d, over seeds. A Monte-Carlo null (random token orders) gives the
   rank correlation that chance alone reaches.

3. The "two degenerate circles" (the blog: "the circle can be ordered modulo 2 in the first two
   principal components such that there are two degenerate circles on top of each other. But
   this multiplicity is broken in lower principal components"): relative to a fundamental
   frequency k, a top-2 PCA plane carrying 2k shows the two halves of the k-order (r = k·a mod p
   below / above p/2) as two circles on top of each other, which the plane of k (in lower
   components) pulls apart (:func:`regimes.metrics.circle.mod2_degeneracy`). For every frame of
   every run: j, the frequency of the top-2 PCA plane, its half k (2k ≡ ±j,
   :func:`regimes.metrics.circle.half_frequency`), the rank of k among E's frequencies by power,
   and the mod-2 scores with that k. A frame shows the blog's picture when k is among the
   ``top`` strongest frequencies (the doubled circle's fundamental is present below the top
   plane) and the top plane holds a circle (coherence ≥ :data:`CIRCLE_MIN` at j; near init it
   is noise); the count is set against its chance rate (ranks as a random order). A hand-made
   embedding (circle at 2k of radius 2 in one plane, at k of radius 1 in another; expected
   values derived in the function's docstring) shows what the picture looks like.

Rows 1–2: frames (seed 0) in the final PCA axes, tokens coloured by their final angular rank, per
width. Row 3: the end state in the planes of the three dominant frequencies and the top-2
PCA plane (largest width, seed 0; tokens coloured by their value a, so a circle at frequency j
shows the colours in the order j·a mod p); circle score and rank correlation over training (seed means,
95% t intervals), with the null's 95% quantile dashed. Row 4: the two halves of the k-order
(two colours) in the top-2 PCA plane and the plane of k, for the hand-made embedding and for
the trained frame (after init) whose half frequency k ranks highest; the rank of k over
training per run (at or below the dashed line: the blog's picture); the halves' separation in
the top-2 PCA plane against that in the plane of k, every trained frame after init.

Quick: p = 53, hidden 128, d ∈ {32, 128}, AdamW lr 3e-2, weight decay 5, training fraction 0.6,
400 steps, 3 seeds. Full: 2,000 steps, d ∈ {16, 32, 128, 512}, 5 seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from regimes import plots
from regimes.harness import Experiment, RunContext, main
from regimes.metrics.circle import (
    circular_rank_correlation,
    frequency_circles,
    frequency_plane,
    half_frequency,
    mod2_degeneracy,
    pca_axes,
    project,
    sheet_masks,
    token_angles,
)
from regimes.metrics.fourier import circle_score, embedding_spectrum
from regimes.runs import file_params, net_arrays
from regimes.settings.blog import CIRCLE
from regimes.stats import mean_ci

# the blog's MLP at its larger weight decay, and the grid of widths, seeds and frames: declared once, with
# provenance, in regimes.settings.blog
QUICK, FULL = CIRCLE["quick"], CIRCLE["full"]


#: A frame can show the two degenerate circles only if its top-2 PCA plane holds a circle: coherence
#: at the plane's frequency j at least this (a segment traversed back and forth scores 1/2).
CIRCLE_MIN = 0.5
#: The hand-made doubled circle shown beside the trained nets: fundamental k, radii of the 2k and k circles.
SYNTHETIC = {"k": 5, "r2k": 2.0, "rk": 1.0, "d": 8}


def _mod2_frame(E: torch.Tensor, top: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The mod-2 view of one embedding: j (frequency of the top-2 PCA plane), its half k, the rank
    of k among E's frequencies by power (1 = strongest), the scores of
    :func:`regimes.metrics.circle.mod2_degeneracy`, and the coordinates on the top-2 PCA plane and
    the plane of k with the sheet of each token (for the figure)."""
    p = E.shape[0]
    axes, c = pca_axes(E, 2)
    pca_xy = project(E, axes, c)
    j = circle_score(pca_xy)[1]
    k = half_frequency(j, p)
    spec = embedding_spectrum(E - E.mean(dim=0))[1:p // 2 + 1]
    order = (torch.argsort(spec, descending=True) + 1).tolist()
    m = mod2_degeneracy(E, k)
    row = {"j": j, "k": k, "rank_k": order.index(k) + 1, "rank_j": order.index(j) + 1, "top": order[:top],
           "k_in_top": order.index(k) + 1 <= top, **{n: m[n] for n in ("power_share_k", "power_share_2k")},
           "pca": m["pca"], "lower_pca": m["lower_pca"], "base": m["base"]}
    try:
        base_xy = frequency_plane(E, k)[1].numpy()
    except ValueError:
        base_xy = np.zeros((p, 2))
    return row, {"pca": pca_xy.numpy(), "base": base_xy, "sheet": sheet_masks(p, k)}


def _synthetic(p: int, top: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The blog's picture by construction: E[a] = r2k (u cos 2θ + v sin 2θ) + rk (x cos θ + y sin θ),
    θ = 2πka/p, u, v, x, y orthonormal (a fixed random frame in R^d)."""
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(int(SYNTHETIC["d"]), 4, generator=g, dtype=torch.float64))
    t = 2 * np.pi * int(SYNTHETIC["k"]) * torch.arange(p, dtype=torch.float64)[:, None] / p
    E = SYNTHETIC["r2k"] * (torch.cos(2 * t) * Q[:, 0] + torch.sin(2 * t) * Q[:, 1]) \
        + SYNTHETIC["rk"] * (torch.cos(t) * Q[:, 2] + torch.sin(t) * Q[:, 3])
    return _mod2_frame(E, top)


def _point(key: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one (width, seed), keep E at the frame steps, measure against the final PCA axes."""
    from regimes.models.mlp import EmbeddingMLP
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    c, d, seed, frames = key["mlp"], int(key["width"]), int(key["seed"]), [int(s) for s in key["frames"]]
    split = sample_split(Task(int(c["p"])), fraction=float(c["fraction"]), seed=seed)
    dtype = torch.float64 if c["dtype"] == "float64" else torch.float32
    net = EmbeddingMLP.init(int(c["p"]), d_embed=d, hidden=int(c["hidden"]), seed=seed, dtype=dtype)
    store: dict[int, torch.Tensor] = {}

    def keep(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        store[step] = params["embed"].detach().cpu().to(torch.float64)

    res = train(net, split.train, TrainConfig(steps=int(c["steps"]), lr=float(c["lr"]), optimizer=str(c["optimizer"]),
                                              weight_decay=float(c["weight_decay"]), loss="cross_entropy",
                                              eval_steps=frames), test=split.test, callbacks=(keep,),
                device=key["device"])
    E1 = store[frames[-1]]
    axes, _ = pca_axes(E1, 2)
    theta_end = token_angles(project(E1, axes))
    score_t, rank_t = [], []
    arrays: dict[str, np.ndarray] = {}
    for s in frames:
        xy = project(store[s], axes)
        score_t.append(circle_score(xy)[0])
        rank_t.append(circular_rank_correlation(theta_end, token_angles(xy)))
        arrays[f"frame{s}"] = xy.numpy()
    arrays["theta_end"] = theta_end
    mod2 = []
    for s in frames:
        row, xy = _mod2_frame(store[s], int(key["top"]))
        mod2.append({"step": s, **row})
        arrays.update({f"mod2_frame{s}_{n}": v for n, v in xy.items()})
    circles = frequency_circles(E1, int(key["top"]))
    for i, fc in enumerate(circles):
        arrays[f"freq{i}"] = frequency_plane(E1, fc["freq"])[1].numpy()
    h = res.history
    out = {"width": d, "seed": seed, "frames": frames, "circle_score_t": score_t, "rank_corr_t": rank_t,
           "pca_circle_end": list(circle_score(project(E1, axes))), "frequency_circles": circles, "mod2": mod2,
           "final_train_acc": float(h["train_acc"][-1]), "final_test_acc": float(h["test_acc"][-1])}
    arrays.update(net_arrays(res.net))
    return out, arrays


def _null(p: int, draws: int, seed: int = 0) -> dict[str, float]:
    """Circular rank correlation of random token orders with a fixed one (the chance level)."""
    rng = np.random.default_rng(seed)
    ref = np.arange(p, dtype=float)
    v = [circular_rank_correlation(ref, rng.permutation(p).astype(float)) for _ in range(draws)]
    return {"mean": float(np.mean(v)), "q95": float(np.quantile(v, 0.95)), "draws": draws}


def compute(ctx: RunContext) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    c = ctx.config
    keys = [{"mlp": c["mlp"], "width": w, "seed": s, "frames": c["frames"], "top": c["top"], "device": ctx.device}
            for w in c["widths"] for s in c["seeds"]]
    done = ctx.map(keys, _point, desc="width × seed")
    runs = [m for m, _ in done]
    arrays: dict[str, np.ndarray] = {}
    for k, (_, a) in zip(keys, done, strict=True):
        # every (width, seed)'s trained EmbeddingMLP (float32): load_run("19", d=width, seed=s)
        a = file_params(arrays, f"w{k['width']}_s{k['seed']}", {"d": k["width"], "seed": k["seed"]}, a)
        if k["seed"] == c["seeds"][0]:
            arrays.update({f"w{k['width']}_s{k['seed']}_{n}": v for n, v in a.items()})
    per_width = {}
    for w in c["widths"]:
        rs = [r for r in runs if r["width"] == w]
        nf = len(c["frames"])
        per_width[str(w)] = {
            "circle_score_t": [mean_ci([r["circle_score_t"][i] for r in rs]).as_dict() for i in range(nf)],
            "rank_corr_t": [mean_ci([r["rank_corr_t"][i] for r in rs]).as_dict() for i in range(nf)],
            "pca_circle_end": mean_ci([r["pca_circle_end"][0] for r in rs]).as_dict(),
            "final_test_acc": mean_ci([r["final_test_acc"] for r in rs]).as_dict(),
        }
    mod2 = _mod2_summary(runs, keys, done, int(c["mlp"]["p"]), int(c["top"]), arrays)
    return {"runs": runs, "per_width": per_width, "null_rank_corr": _null(int(c["mlp"]["p"]), int(c["null_draws"])),
            "mod2": mod2}, arrays


def _mod2_summary(runs: list[dict[str, Any]], keys: list[dict[str, Any]], done: list[Any], p: int, top: int,
                  arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The search for the blog's two degenerate circles over every trained frame after init, the
    chance count, the hand-made example, and the coordinates the figure shows (into ``arrays``)."""
    syn, syn_xy = _synthetic(p, top)
    arrays.update({f"mod2_syn_{n}": v for n, v in syn_xy.items()})
    nfreq = p // 2
    after_init = [(r, f) for r in runs for f in r["mod2"] if f["step"] > 0]
    # only frames whose top-2 PCA plane holds a circle (coherence at j >= CIRCLE_MIN; a segment
    # traversed back and forth scores 1/2) can show the picture; near init the plane is noise
    frames = [(r, f) for r, f in after_init if f["pca"]["circle_2k"] >= CIRCLE_MIN]
    # chance: were the frequencies' ranks a random order, k (≠ j) would rank ≤ top with probability
    # (top − [j ranks ≤ top]) / (⌊p/2⌋ − 1)
    chance = sum((top - (f["rank_j"] <= top)) / (nfreq - 1) for _, f in frames)
    hits = [{"width": r["width"], "seed": r["seed"], "step": f["step"], "j": f["j"], "k": f["k"],
             "rank_k": f["rank_k"]} for r, f in frames if f["k_in_top"]]
    best_r, best_f = min(frames or after_init, key=lambda rf: (rf[1]["rank_k"], rf[1]["pca"]["separation"]))
    ki = next(i for i, k in enumerate(keys) if k["width"] == best_r["width"] and k["seed"] == best_r["seed"])
    a = done[ki][1]
    arrays.update({f"mod2_best_{n}": a[f"mod2_frame{best_f['step']}_{n}"] for n in ("pca", "base", "sheet")})
    end = [r["mod2"][-1] for r in runs]
    return {"synthetic": {**SYNTHETIC, **syn}, "frames_after_init": len(after_init), "circle_min": CIRCLE_MIN,
            "frames_searched": len(frames), "blog_picture_frames": hits, "blog_picture_count": len(hits),
            "blog_picture_expected_by_chance": chance,
            "best": {"width": best_r["width"], "seed": best_r["seed"], **best_f},
            "end_rank_k": [f["rank_k"] for f in end],
            "end_pca_separation": mean_ci([f["pca"]["separation"] for f in end]).as_dict(),
            "end_pca_circle_2k": mean_ci([f["pca"]["circle_2k"] for f in end]).as_dict(),
            "end_base_separation": mean_ci([f["base"]["separation"] for f in end if f["base"]]).as_dict()}


def _scatter(ax, xy: np.ndarray, colour: np.ndarray, title: str) -> None:
    ax.scatter(xy[:, 0], xy[:, 1], c=colour, cmap="twilight", s=10)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def plot(result: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
    m, c = result["metrics"], result["config"]
    frames, widths, s0 = c["frames"], c["widths"], c["seeds"][0]
    show = widths[:2] if len(widths) > 2 else widths
    ncols = max(len(frames), 6)
    fig, axes = plots.subplots(ncols=ncols, nrows=len(show) + 2, width=2.0, height=2.0)
    for r, w in enumerate(show):
        run = next(x for x in m["runs"] if x["width"] == w and x["seed"] == s0)
        colour = np.argsort(np.argsort(arrays[f"w{w}_s{s0}_theta_end"]))
        for j, s in enumerate(frames):
            _scatter(axes[r][j], arrays[f"w{w}_s{s0}_frame{s}"], colour,
                     f"d={w}, step {s}\ncircle {run['circle_score_t'][j]:.2f}, rank ρ {run['rank_corr_t'][j]:.2f}")
        for j in range(len(frames), ncols):
            axes[r][j].axis("off")
    big = show[-1]
    run = next(x for x in m["runs"] if x["width"] == big and x["seed"] == s0)
    colour = np.arange(c["mlp"]["p"])
    row = axes[len(show)]
    for i, fc in enumerate(run["frequency_circles"]):
        _scatter(row[i], arrays[f"w{big}_s{s0}_freq{i}"], colour,
                 f"d={big} end, plane of frequency {fc['freq']}\npower {fc['power_share']:.2f}, circle "
                 f"{fc['circle_score']:.2f}")
    k = len(run["frequency_circles"])
    _scatter(row[k], arrays[f"w{big}_s{s0}_frame{frames[-1]}"], colour,
             f"d={big} end, top-2 PCA\ncircle {run['pca_circle_end'][0]:.2f} (frequency {run['pca_circle_end'][1]})")
    sx, rx = row[k + 1], row[k + 2] if k + 2 < ncols else row[k + 1]
    x = np.maximum(np.asarray(frames, dtype=float), 1)
    for i, w in enumerate(widths):
        col = plots.COLORS[i % len(plots.COLORS)]
        pw = m["per_width"][str(w)]
        sx.plot(x, [e["estimate"] for e in pw["circle_score_t"]], "o-", color=col, ms=3, label=f"d={w}")
        rx.plot(x, [e["estimate"] for e in pw["rank_corr_t"]], "o-", color=col, ms=3, label=f"d={w}")
        for ax, key in ((sx, "circle_score_t"), (rx, "rank_corr_t")):
            lo = [np.nan if e["low"] is None else e["low"] for e in pw[key]]
            hi = [np.nan if e["high"] is None else e["high"] for e in pw[key]]
            ax.fill_between(x, lo, hi, color=col, alpha=0.2)
    rx.axhline(m["null_rank_corr"]["q95"], color="0.4", ls="--", lw=0.8, label="random order, 95%")
    sx.set_ylim(0, 1.05)
    rx.set_ylim(min(0.0, rx.get_ylim()[0]), 1.05)
    for ax, title in ((sx, "circle score in final PCA axes"), (rx, "rank ρ with the final order")):
        ax.set_xscale("log")
        ax.set_xlabel("step (0 shown at 1)", fontsize=7)
        ax.set_title(title, fontsize=7)
        ax.legend(fontsize=6)
    for j in range(k + 3, ncols):
        row[j].axis("off")
    mod2 = _plot_mod2(axes[len(show) + 1], m, arrays, c)
    # axis names: a PCA view, the (cos, sin) plane of one frequency, or a measure over training
    pca, plane = {"xlabel": "PC 1", "ylabel": "PC 2"}, {"xlabel": "cos component", "ylabel": "sin component"}
    for r in range(len(show)):
        for j in range(len(frames)):
            axes[r][j].set(**pca)
    for i in range(k):
        row[i].set(**plane)
    row[k].set(**pca)
    sx.set_ylabel("circle score", fontsize=7)
    rx.set_ylabel("rank correlation ρ", fontsize=7)
    m2 = axes[len(show) + 1]
    for j, names in enumerate((pca, plane, pca, plane)):
        m2[j].set(**names)
    m2[4].set_ylabel("rank of k among frequencies", fontsize=7)
    mlp = c["mlp"]
    init = "; ".join(
        f"d={w}: circle {plots.ci_text(m['per_width'][str(w)]['circle_score_t'][0])}, rank ρ "
        f"{plots.ci_text(m['per_width'][str(w)]['rank_corr_t'][0])}, held-out acc "
        f"{plots.ci_text(m['per_width'][str(w)]['final_test_acc'], '.3f')}" for w in widths)
    plots.save(fig, path, caption=(
        f"Embedding MLP (blog), p = {mlp['p']}, hidden {mlp['hidden']}, AdamW lr {mlp['lr']:g}, weight decay "
        f"{mlp['weight_decay']:g}, fraction {mlp['fraction']}, {mlp['steps']} steps, seeds {c['seeds']}. At init, in "
        f"the final PCA axes (seed mean [95% CI]): {init}. Random token orders reach rank ρ "
        f"{m['null_rank_corr']['mean']:.2f} on average, {m['null_rank_corr']['q95']:.2f} at their 95% quantile. "
        f"{mod2}"))


def _sheets(ax, xy: np.ndarray, sheet: np.ndarray, title: str) -> None:
    for i, (mask, lab) in enumerate(((sheet, "k·a mod p < p/2"), (~sheet, "k·a mod p > p/2"))):
        ax.scatter(xy[mask, 0], xy[mask, 1], s=12 if i == 0 else 6, color=plots.COLORS[i], alpha=0.8, label=lab)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def _plot_mod2(row, m: dict[str, Any], arrays: dict[str, np.ndarray], c: dict[str, Any]) -> str:
    """Row 4 of the figure (the two degenerate circles); returns the caption's sentence."""
    M = m["mod2"]
    syn, best = M["synthetic"], M["best"]
    _sheets(row[0], arrays["mod2_syn_pca"], arrays["mod2_syn_sheet"],
            f"hand-made: top-2 PCA (2k = {syn['j']})\ncircle at 2k {syn['pca']['circle_2k']:.2f}, "
            f"halves' separation {syn['pca']['separation']:.2f}")
    row[0].legend(fontsize=5, loc="lower left")
    _sheets(row[1], arrays["mod2_syn_base"], arrays["mod2_syn_sheet"],
            f"hand-made: plane of k = {syn['k']}\nhalves' separation {syn['base']['separation']:.2f}")
    sep_b = best["base"]["separation"] if best["base"] else float("nan")
    _sheets(row[2], arrays["mod2_best_pca"], arrays["mod2_best_sheet"],
            f"trained d={best['width']} s{best['seed']} step {best['step']}: PCA j = {best['j']}\n"
            f"k = {best['k']} ranks {best['rank_k']}, separation {best['pca']['separation']:.2f}")
    _sheets(row[3], arrays["mod2_best_base"], arrays["mod2_best_sheet"],
            f"same, plane of k = {best['k']}\nhalves' separation {sep_b:.2f}")
    rx, sx = row[4], row[5]
    top = int(c["top"])
    for r in m["runs"]:
        f = r["mod2"]
        rx.plot(np.maximum([x["step"] for x in f], 1), [x["rank_k"] for x in f], "o-", ms=2, lw=0.8,
                color=plots.COLORS[c["widths"].index(r["width"]) % len(plots.COLORS)], alpha=0.7,
                label=f"d={r['width']}" if r["seed"] == c["seeds"][0] else None)
        later = [x for x in f if x["step"] > 0]
        sx.scatter([x["pca"]["separation"] for x in later], [x["base"]["separation"] if x["base"] else np.nan
                                                            for x in later], s=8,
                   color=plots.COLORS[c["widths"].index(r["width"]) % len(plots.COLORS)], alpha=0.6)
    rx.axhline(top + 0.5, color="0.4", ls="--", lw=0.8)
    rx.set_xscale("log")
    rx.set_ylim(c["mlp"]["p"] // 2 + 0.5, 0.5)          # rank 1 at the top
    rx.set_xlabel("step (0 shown at 1)", fontsize=7)
    rx.set_title(f"rank of k (half of the PCA frequency)\n≤ {top}: the blog's picture", fontsize=7)
    rx.legend(fontsize=6)
    sx.scatter([syn["pca"]["separation"]], [syn["base"]["separation"]], marker="*", s=60, color="k",
               label="hand-made")
    sx.set_xlabel("halves' separation, top-2 PCA", fontsize=7)
    sx.set_ylabel("in the plane of k", fontsize=7)
    sx.set_title("0: on top of each other; 1: opposite halves", fontsize=7)
    sx.legend(fontsize=6)
    hits = M["blog_picture_frames"]
    where = ", ".join(f"d={h['width']} s{h['seed']} step {h['step']} (j {h['j']}, k {h['k']})" for h in hits)
    return (f"Two degenerate circles (mod 2): of the {M['frames_after_init']} trained frames after init, "
            f"{M['frames_searched']} have a circle in the top-2 PCA plane (coherence ≥ {M['circle_min']:g} at its "
            f"frequency j); in {len(hits)} of them the half k of j is among the {top} strongest frequencies"
            + (f" ({where})" if hits else "") + f", against {M['blog_picture_expected_by_chance']:.1f} expected were "
            f"the ranks random; at the end k ranks {M['end_rank_k']} of {c['mlp']['p'] // 2}. The halves' separation "
            f"in the top-2 PCA plane at the end, {plots.ci_text(M['end_pca_separation'])}, is small for any circle at "
            f"j = 2k: the picture also needs k's own circle below it. Hand-made (circle at 2k radius "
            f"{syn['r2k']:g}, at k = {syn['k']} radius {syn['rk']:g}): separation {syn['pca']['separation']:.3f} in "
            f"the top-2 PCA plane, {syn['base']['separation']:.3f} in the plane of k.")


EXPERIMENT = Experiment(
    number="19",
    slug="embedding_circle",
    title="The blog's embedding circle: per-frequency planes and the lottery ticket at init",
    figure="blog: Some thoughts on Grokking",
    quick=QUICK,
    full=FULL,
    compute=compute,
    plot=plot,
    seconds_quick=44.0,
    seconds_full=1800.0,
)

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
