"""Throughput of the batched engine (regimes/batched.py) against sequential ``train()`` runs.

For S = 1, 4, 8, 16 independent runs (seeds 0..S−1, each its own training sample and init)
at the paper's two settings (App. A; :func:`regimes.runs.paper_config`, float32):

* regression, p = 23: GD lr 0.5 on the mean square loss, λ∞ = 1e-4, h = 4p, n = 2p^{2.25};
* classification, p = 47: normalized GD lr 10, λ∞ = 1e-20, cross-entropy, h = 8p, n = 2p^{5/3};

it times S sequential :func:`regimes.train.train` calls and one :func:`regimes.batched.train_batched`
call over the same runs, in the same process, evaluating only at steps 0 and the last
(stall detection on in both, as by default), and reports run-steps per second
(S · steps / wall seconds, whole calls) and their ratio. Each timing is repeated
``--repeats`` times (interleaved, so a load spike hits both sides) and the table shows the
median and the range. Writes ``benchmarks/results_batched.md``.

    .venv/bin/python benchmarks/bench_batched.py [--threads 2] [--repeats 3] [--out benchmarks/results_batched.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from regimes.batched import train_batched
from regimes.models.quadratic import QuadraticNet
from regimes.runs import paper_config
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train

#: (setting, p, steps): the paper settings asked for, and p = 11 regression (the size of the
#: quick-mode experiments) where per-step overhead, not arithmetic, dominates a step
SETTINGS = (("regression", 11, 400), ("regression", 23, 200), ("classification", 47, 60))
SIZES = (1, 4, 8, 16)


def _runs(setting: str, p: int, S: int, steps: int):
    nets, trains, cfgs = [], [], []
    for seed in range(S):
        rc = paper_config(setting, p, seed)
        split = sample_split(Task(p, setting), n=rc.n, seed=seed)
        nets.append(QuadraticNet.init(p, rc.width_mult * p, seed=seed, dtype=getattr(torch, rc.dtype)))
        trains.append(split.train)
        cfgs.append(TrainConfig(steps=steps, lr=rc.lr, optimizer=rc.optimizer, loss=rc.loss, lam_inf=rc.lam_inf,
                                eval_steps=[], check_finite_every=1))
    return nets, trains, cfgs


def time_sequential(nets, trains, cfgs) -> float:
    t = time.perf_counter()
    for net, tr, cfg in zip(nets, trains, cfgs, strict=True):
        train(net, tr, cfg)
    return time.perf_counter() - t


def time_batched(nets, trains, cfgs) -> float:
    t = time.perf_counter()
    train_batched(nets, trains, cfgs)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_batched.md"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every setting's step count (> 0)")
    ap.add_argument("--append", action="store_true", help="append a table to --out instead of rewriting it")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    if not args.scale > 0:
        raise ValueError(f"--scale={args.scale!r} is out of range: allowed (0, inf)")
    for setting, p, steps in SETTINGS:
        steps = max(1, round(steps * args.scale))
        warm = _runs(setting, p, 2, 3)
        time_sequential(*warm)
        time_batched(*warm)
        for S in args.sizes:
            runs = _runs(setting, p, S, steps)
            seq, bat = [], []
            for _ in range(args.repeats):
                seq.append(S * steps / time_sequential(*runs))
                bat.append(S * steps / time_batched(*runs))
            ratios = [b / s for b, s in zip(bat, seq, strict=True)]
            row = dict(setting=setting, p=p, S=S, steps=steps, seq=seq, bat=bat, ratios=ratios)
            rows.append(row)
            print(f"{setting:14s} p={p} S={S:2d}: sequential {statistics.median(seq):8.1f}, batched "
                  f"{statistics.median(bat):8.1f} run-steps/s, ratio {statistics.median(ratios):.2f} "
                  f"[{min(ratios):.2f}, {max(ratios):.2f}]", flush=True)
    head = [
        "# Batched engine throughput (benchmarks/bench_batched.py)", "",
        "Paper settings (App. A), float32: regression p = 23 (GD lr 0.5, λ∞ 1e-4, h = 4p, n = 2p^2.25), "
        "classification p = 47 (normalized GD lr 10, λ∞ 1e-20, CE, h = 8p, n = 2p^(5/3)); plus regression "
        "p = 11 in the same setting. Run-steps/s = S · steps / wall seconds of the whole call(s), evaluation at "
        "steps 0 and last only. The machine was shared with other jobs while this ran: the spread between "
        "repeats is part of the result.", ""]
    lines = [] if args.append else head
    lines += [
        f"## {args.threads} intra-op thread(s)", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"load average at the start {os.getloadavg()[0]:.1f}; {args.repeats} interleaved repeats per cell "
        "(median, [min, max]).", "",
        "| setting | p | S | steps | sequential train() run-steps/s | batched run-steps/s "
        "| ratio (median [min, max]) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['p']} | {r['S']} | {r['steps']} | {statistics.median(r['seq']):.0f} "
                     f"| {statistics.median(r['bat']):.0f} | {statistics.median(r['ratios']):.2f} "
                     f"[{min(r['ratios']):.2f}, {max(r['ratios']):.2f}] |")
    text = "\n".join(lines) + "\n"
    if args.append and args.out.exists():
        text = args.out.read_text() + "\n" + text
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
