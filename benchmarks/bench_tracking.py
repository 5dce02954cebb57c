"""Overhead of the eNTK-tracking callback (target: ≤ 20 % at the default cadence).

Trains the quadratic net (p = 31, h = 4p, n = 2p^{5/3}, AdamW, cross-entropy) for
``--steps`` steps, evaluating metrics at the default cadence (``log_steps(steps)``:
~40 log-spaced steps), first without and then with :class:`KernelTracker`
variants, all in this process, and prints wall times with ratios to the baseline.

    .venv/bin/python benchmarks/bench_tracking.py [--steps 3000] [--p 31] [--repeats 2]

Rows: baseline (same evaluation cadence, no tracker); the tracker on the training
set (the default); plus a 500-point evaluation subset; plus the after-kernel
accuracy on 300 test pairs at every 2nd tracked step. Timings are the minimum
over ``--repeats`` runs (other processes share the CPU).
"""

from __future__ import annotations

import argparse
import time

import torch

from regimes.metrics import KernelTracker, eval_subset, log_steps
from regimes.models import QuadraticNet
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train


def _time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--p", type=int, default=31)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    p = args.p
    task = Task(p)
    split = sample_split(task, n=round(2 * p ** (5 / 3)), seed=0)
    net = QuadraticNet.init(p, 4 * p, seed=0)
    steps = log_steps(args.steps)
    cfg = TrainConfig(steps=args.steps, lr=1e-3, optimizer="adamw", weight_decay=1.0, loss="cross_entropy",
                      eval_steps=steps)
    x_eval = eval_subset(task, 500, seed=1)
    after = split.test.x[:300]

    def run(make_tracker) -> None:
        cbs = [] if make_tracker is None else [make_tracker()]
        train(net, split.train, cfg, test=split.test, callbacks=cbs)

    variants = [
        ("training only (metrics at the same steps)", None),
        ("+ tracker, train set (default)", lambda: KernelTracker(task, split.train.x, split.train.y, steps=steps)),
        ("+ eval subset (500 points)", lambda: KernelTracker(task, split.train.x, split.train.y, steps=steps,
                                                             x_eval=x_eval)),
        ("+ eval subset + after-kernel (every 2nd)", lambda: KernelTracker(
            task, split.train.x, split.train.y, steps=steps, x_eval=x_eval, after_pairs=after, after_every=2)),
    ]
    print(f"p={p}, n={len(split.train)}, h={4 * p}, steps={args.steps}, tracked steps={len(steps)}, "
          f"torch threads={torch.get_num_threads()}, best of {args.repeats}")
    print(f"{'variant':48s} {'wall s':>8s} {'ratio':>7s} {'overhead':>9s}")
    base = None
    for name, mk in variants:
        t = _time(lambda mk=mk: run(mk), args.repeats)
        base = t if base is None else base
        print(f"{name:48s} {t:8.2f} {t / base:7.2f} {100 * (t / base - 1):8.1f}%")


if __name__ == "__main__":
    main()
