"""One tracked training run of the quadratic net, shared by experiments 10, 11, 13, 14
and the C17 check: train with :func:`regimes.train.train`, track the eNTK with
:class:`~regimes.metrics.tracking.KernelTracker`, and summarise the run with the
grokking measures and the kernel-exit time.

:func:`tracked_run` takes a plain dict (so experiment configs stay JSON) and
returns ``(summary, arrays)``: the summary holds ``t_mem``, ``t_grok``, ``t_exit``,
``exit_after_mem`` and the C17 quantities; the arrays hold every logged curve.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from regimes.metrics.fourier import ipr
from regimes.metrics.grokking import first_crossing, grokking_measures, t_exit
from regimes.metrics.tracking import KernelTracker, eval_subset, log_steps

__all__ = ["DEFAULT_MLP_RUN", "DEFAULT_RUN", "c17_summary", "mlp_run", "summarize", "tracked_run"]

#: Defaults of :func:`tracked_run` (a quick, reliably grokking AdamW run, p = 31).
DEFAULT_RUN: dict[str, Any] = {
    "p": 31, "setting": "classification", "width_mult": 4, "n_rule": "2p^(5/3)", "fraction": None,
    "alpha": 1.0, "dist": "uniform", "optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.1,
    "lam_inf": 0.0, "loss": "cross_entropy", "steps": 4000, "n_track": 40, "eval_size": 500,
    "after_pairs": 300, "grok_threshold": 0.9, "gen_threshold": 0.95, "exit_threshold": 0.5,
    "exit_relative": True,
    "after_every": 2, "seed": 0, "dtype": "float64", "track": True, "wd_start": 0,
}


#: Defaults of :func:`mlp_run`: the embedding MLP and settings of the blog post "Some thoughts on
#: Grokking" (code: okitouni/simple-grokking).
DEFAULT_MLP_RUN: dict[str, Any] = {
    "p": 53, "d_embed": 128, "hidden": 128, "optimizer": "adamw", "lr": 3e-2, "weight_decay": 0.03,
    "fraction": 0.6, "steps": 10_000, "n_track": 80, "dtype": "float32", "grok_threshold": 0.9, "seed": 0,
}


def _n_train(cfg: dict[str, Any]) -> int:
    p = cfg["p"]
    if cfg.get("fraction"):
        N = p**2 if cfg["setting"] == "classification" else p**3
        return max(1, round(cfg["fraction"] * N))
    rule = cfg["n_rule"]
    if rule == "2p^(5/3)":
        return round(2 * p ** (5 / 3))
    if rule == "2p^2.25":
        return round(2 * p**2.25)
    raise ValueError(f"n_rule={rule!r} is not allowed: choose '2p^(5/3)' or '2p^2.25' (or give fraction)")


def _fit_callback(p: int, x: torch.Tensor, y: torch.Tensor, scale: float):
    """Regression only: share of training triples fitted to within p/2 (train "accuracy")."""
    from regimes.models.quadratic import QuadraticNet

    def cb(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        g = QuadraticNet.apply_regression(params, x.to(params["W"].device), scale)
        record["train_fit_acc"] = float(((g - y.to(g)).abs() < p / 2).double().mean())

    return cb


def _ipr_callback(record_key: str = "ipr2"):
    def cb(step: int, params: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        record[record_key] = ipr(params["W"], 2.0)

    return cb


def tracked_run(config: dict[str, Any], *, device: str = "cpu", extra_callbacks: tuple = ()
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train the quadratic net as ``config`` says (keys of :data:`DEFAULT_RUN`), tracking the
    eNTK at ``n_track`` log-spaced steps, and summarise it.

    ``wd_start > 0`` switches weight decay on only from that step (the textbook's
    practice problem 2): the run is split into two :func:`~regimes.train.train` calls.
    Returns ``(summary, arrays)``; arrays are the history columns as float64.

    Every test quantity is held out: ``test_acc`` / ``test_loss`` are :func:`regimes.train.train`'s
    (regression: the clean pairs, whose labelled triple was never trained on), and the
    after-kernel accuracy is scored on up to ``after_pairs`` of the same clean pairs
    (:func:`regimes.tasks.clean_pairs`). ``summary["stalled_at"]`` is the train loop's stall
    report (:attr:`regimes.train.TrainResult.stalled_at`; the first phase's, else the
    second's, in global steps), and the arrays' ``stalled_at`` column its running value (NaN
    until a stall is confirmed).
    """
    from regimes.models.quadratic import QuadraticNet
    from regimes.tasks import Task, clean_pairs, sample_split
    from regimes.train import TrainConfig, train

    cfg = {**DEFAULT_RUN, **config}
    p, setting = int(cfg["p"]), cfg["setting"]
    task = Task(p, setting)
    n = _n_train(cfg)
    split = sample_split(task, n=n, seed=cfg["seed"])
    dtype = torch.float64 if cfg["dtype"] == "float64" else torch.float32
    net = QuadraticNet.init(p, int(cfg["width_mult"]) * p, alpha=cfg["alpha"], dist=cfg["dist"],
                            seed=cfg["seed"], dtype=dtype)
    steps = log_steps(int(cfg["steps"]), int(cfg["n_track"]))
    callbacks: list = []
    tracker = None
    if cfg["track"]:
        x_eval = eval_subset(task, min(int(cfg["eval_size"]), task.size), seed=cfg["seed"] + 1) \
            if cfg["eval_size"] else None
        gen = torch.Generator().manual_seed(cfg["seed"] + 2)
        test_pairs = clean_pairs(split.train, split.test)   # held out: labelled point never trained on
        k = min(int(cfg["after_pairs"]), test_pairs.shape[0]) if cfg["after_pairs"] else 0
        after = test_pairs[torch.randperm(test_pairs.shape[0], generator=gen)[:k]] if k else None
        tracker = KernelTracker(task, split.train.x, split.train.y, steps=steps, x_eval=x_eval,
                                after_pairs=after, output_scale=net.output_scale,
                                after_every=int(cfg["after_every"]))
        callbacks.append(tracker)
    if setting == "regression":
        callbacks.append(_fit_callback(p, split.train.x, split.train.y, net.output_scale))
    callbacks.append(_ipr_callback())
    callbacks.extend(extra_callbacks)
    common = dict(lr=cfg["lr"], optimizer=cfg["optimizer"], loss=cfg["loss"], lam_inf=cfg["lam_inf"])
    wd_start = int(cfg["wd_start"])
    total = int(cfg["steps"])
    if 0 < wd_start < total:
        # phase 1 without decay; phase 2 from the phase-1 net with decay (fresh optimizer state)
        s1 = [s for s in steps if s <= wd_start]
        r1 = train(net, split.train, TrainConfig(steps=wd_start, weight_decay=0.0, eval_steps=s1, **common),
                   test=split.test, callbacks=callbacks, device=device)
        s2 = [s - wd_start for s in steps if s >= wd_start]
        shifted = [_shift(cb, wd_start) for cb in callbacks]
        r2 = train(r1.net, split.train, TrainConfig(steps=total - wd_start, weight_decay=cfg["weight_decay"],
                                                     eval_steps=s2, **common),
                   test=split.test, callbacks=shifted, device=device)
        h2 = {k: v[1:] for k, v in r2.history.items()}
        h2["step"] = [s + wd_start for s in h2["step"]]
        if "stalled_at" in h2:   # phase 2 reports its own stalls, in global step numbers
            h2["stalled_at"] = [None if v is None else v + wd_start for v in h2["stalled_at"]]
        history = _concat(r1.history, h2)
        wall = r1.wall_time_s + r2.wall_time_s
        stalled_at = r1.stalled_at if r1.stalled_at is not None else (
            None if r2.stalled_at is None else r2.stalled_at + wd_start)
    else:
        res = train(net, split.train, TrainConfig(steps=total, weight_decay=cfg["weight_decay"], eval_steps=steps,
                                                  **common), test=split.test, callbacks=callbacks, device=device)
        history, wall, stalled_at = res.history, res.wall_time_s, res.stalled_at
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    summary = summarize(arrays, cfg)
    summary.update(n_train=n, width=int(cfg["width_mult"]) * p, train_wall_s=wall,
                   tracking_s=None if tracker is None else tracker.time_s, stalled_at=stalled_at)
    return summary, arrays


def mlp_run(config: dict[str, Any], *, device: str = "cpu") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train the blog's embedding MLP (:class:`~regimes.models.mlp.EmbeddingMLP`) as ``config``
    says (keys of :data:`DEFAULT_MLP_RUN`) with :func:`regimes.train.train` — full-batch,
    cross-entropy, ``fraction`` of the p² pairs — evaluating at ``n_track`` log-spaced steps.

    Returns ``(summary, arrays)``: the summary holds ``t_mem``, ``t_grok``, the grokking
    measures (as :func:`summarize`), ``n_train``, ``num_params``, ``train_wall_s`` and
    ``circle_score_end`` (the circle score of the final embedding rows' top-2 PCA plane);
    the arrays hold the history columns and the embedding table at init and at the end
    (``embed_init``, ``embed_end``, float64, (p, d_embed)).
    """
    from regimes.metrics.fourier import circle_score, embedding_pca
    from regimes.models.mlp import EmbeddingMLP
    from regimes.tasks import Task, sample_split
    from regimes.train import TrainConfig, train

    c = {**DEFAULT_MLP_RUN, **config}
    p, seed = int(c["p"]), int(c["seed"])
    split = sample_split(Task(p), fraction=float(c["fraction"]), seed=seed)
    dtype = torch.float64 if c["dtype"] == "float64" else torch.float32
    net = EmbeddingMLP.init(p, d_embed=int(c["d_embed"]), hidden=int(c["hidden"]), seed=seed, dtype=dtype)
    cfg = TrainConfig(steps=int(c["steps"]), lr=float(c["lr"]), optimizer=str(c["optimizer"]),
                      weight_decay=float(c["weight_decay"]), loss="cross_entropy",
                      eval_steps=log_steps(int(c["steps"]), int(c["n_track"])))
    res = train(net, split.train, cfg, test=split.test, device=device)
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in res.history.items()}
    E0 = net.params()["embed"].detach().cpu().to(torch.float64)
    E1 = res.net.params()["embed"].detach().cpu().to(torch.float64)
    arrays["embed_init"], arrays["embed_end"] = E0.numpy(), E1.numpy()
    summary = summarize(arrays, {"setting": "classification", "grok_threshold": c["grok_threshold"]})
    summary.update(n_train=len(split.train), num_params=net.num_params(), train_wall_s=res.wall_time_s,
                   circle_score_end=circle_score(embedding_pca(E1, 2)[0])[0], stalled_at=res.stalled_at)
    return summary, arrays


def _shift(cb, offset: int):
    """A callback seeing global step numbers during the second phase (skipping its step 0)."""
    def wrapped(step: int, params, record) -> None:
        if step == 0:
            return
        cb(step + offset, params, record)

    return wrapped


def _concat(h1: dict[str, list], h2: dict[str, list]) -> dict[str, list]:
    keys = set(h1) | set(h2)
    n1, n2 = len(h1["step"]), len(h2["step"])
    return {k: list(h1.get(k, [math.nan] * n1)) + list(h2.get(k, [math.nan] * n2)) for k in keys}


def _at(steps: np.ndarray, values: np.ndarray, t: float | None) -> float | None:
    if t is None:
        return None
    i = int(np.searchsorted(steps, t))
    v = float(values[i]) if i < len(values) else math.nan
    return v if math.isfinite(v) else None


#: Kernel distances S(t, 0) below this are read as "no measurable movement": the float64
#: round-off of S is ~1e-16, so a growth ratio S(t_gen, 0)/S(t_fit, 0) is taken against
#: max(S(t_fit, 0), S_FLOOR) and a ratio of two round-off values can never pass.
S_FLOOR = 1e-9


def c17_summary(arrays: dict[str, np.ndarray], *, gen_threshold: float = 0.95, small: float = 0.1,
                growth: float = 10.0, train_key: str = "train_acc", kernel_key: str = "ntk_dist_train"
                ) -> dict[str, Any]:
    """The quantities of check C17 for one run.

    t_fit: first step with training accuracy 100 %; t_gen: first step with test accuracy
    ≥ ``gen_threshold``. ``small_at_fit``: S(t_fit, 0) ≤ ``small`` (Fort distance of the
    training-set eNTK). ``growth_ratio``: S(t_gen, 0) / S(t_fit, 0), to be ≥ ``growth``
    ("orders of magnitude": at least one), with S(t_fit, 0) floored at :data:`S_FLOOR` so that
    round-off is never read as growth. Also the relative change ‖Θ̂_t − Θ̂₀‖/‖Θ̂₀‖ at
    both times and its ratio. ``holds`` is ``None`` when the run did not fit or generalise.
    """
    steps = arrays["step"]
    tf = first_crossing(steps, arrays[train_key], 1.0)
    tg = first_crossing(steps, arrays["test_acc"], gen_threshold)
    out: dict[str, Any] = {"t_fit": tf, "t_gen": tg}
    rel = arrays.get("ntk_rel_change_train")
    S = arrays.get(kernel_key)
    if S is None or tf is None or tg is None:
        out.update(S_fit=None, S_gen=None, growth_ratio=None, rel_fit=None, rel_gen=None, holds=None)
        return out
    s_fit, s_gen = _at(steps, S, tf), _at(steps, S, tg)
    r_fit = _at(steps, rel, tf) if rel is not None else None
    r_gen = _at(steps, rel, tg) if rel is not None else None
    ratio = None if s_fit is None or s_gen is None else s_gen / max(s_fit, S_FLOOR)
    holds = None if s_fit is None or ratio is None else bool(s_fit <= small and ratio >= growth)
    out.update(S_fit=s_fit, S_gen=s_gen, growth_ratio=ratio, rel_fit=r_fit, rel_gen=r_gen,
               rel_ratio=None if not r_fit or r_gen is None else r_gen / r_fit, holds=holds)
    return out


def summarize(arrays: dict[str, np.ndarray], cfg: dict[str, Any]) -> dict[str, Any]:
    """t_mem, t_grok, t_exit (under those names), exit_after_mem, the grokking measures and C17.

    ``cfg`` needs the keys ``setting``, ``grok_threshold``, ``gen_threshold``, ``exit_threshold``
    (and optionally ``exit_relative``); missing ones are taken from :data:`DEFAULT_RUN`.
    """
    cfg = {**DEFAULT_RUN, **cfg}
    steps = arrays["step"]
    train_key = "train_fit_acc" if cfg["setting"] == "regression" else "train_acc"
    m = grokking_measures(steps, arrays[train_key], arrays["test_acc"], grok_threshold=cfg["grok_threshold"],
                          log_time=True, fit=True)
    out: dict[str, Any] = {"t_mem": m.t_mem, "t_grok": m.t_grok}
    out["t_exit"] = None
    if "ntk_dist_train" in arrays:
        S = arrays["ntk_dist_train"]
        ok = np.isfinite(S)
        thr = float(cfg["exit_threshold"])
        if cfg.get("exit_relative", False) and ok.any() and np.max(S[ok]) > S_FLOOR:
            # scale-free definition: the first step at which the kernel has done `thr` of its
            # total turning, S(t, 0) ≥ thr · max_t S(t, 0)
            out["t_exit"] = first_crossing(steps[ok], S[ok], thr * float(np.max(S[ok])))
            out["t_exit_definition"] = f"first step with S(t,0) >= {thr:g} * max_t S(t,0)"
        elif ok.any() and not cfg.get("exit_relative", False):
            out["t_exit"] = t_exit(steps[ok], S[ok], thr)
            out["t_exit_definition"] = f"first step with S(t,0) >= {thr:g}"
    out["exit_after_mem"] = (None if out["t_exit"] is None or m.t_mem is None
                             else bool(out["t_exit"] >= m.t_mem))
    out["measures"] = m.as_dict()
    out["c17"] = c17_summary(arrays, gen_threshold=cfg["gen_threshold"], train_key=train_key)
    out["final_train_acc"] = float(arrays[train_key][-1])
    out["final_test_acc"] = float(arrays["test_acc"][-1])
    if "after_kernel_acc" in arrays:
        a = arrays["after_kernel_acc"]
        out["after_kernel_acc_init"] = float(a[0])
        out["after_kernel_acc_final"] = float(a[np.isfinite(a)][-1])
    return out
