"""Benchmark: the kernel-regression sweep of experiment 04 with one kernel build and one
factorisation reused across every training size ("nested"), against re-solving each
n from scratch (kernel slice + eigendecomposition per n, "per-n").

Both paths give the same predictions (the script checks the ℓ2 ratios agree).
The nested path factors the Gram of the largest training sequence once: the
Cholesky factor of a matrix contains the factors of all its leading blocks, so
each smaller prefix costs two triangular solves. Duplicates of the i.i.d. draw
are dropped first (with consistent labels the ridgeless interpolant on a
multiset equals the one on its distinct points). The baseline solves each n's
(singular, duplicated) Gram with ``kernel_regression``.

Usage::

    .venv/bin/python benchmarks/bench_kernels.py            # quick: shared eNTK p=31, matrix-valued p=11
    .venv/bin/python benchmarks/bench_kernels.py --full     # full: shared eNTK p=47, matrix-valued p=23
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from regimes.kernels.nested import classification_sweep

FRACTIONS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def bench(p: int, kernel: str, width: int, seed: int) -> dict:
    """Time both paths for one (p, kernel); returns seconds, ratio and max ℓ2-ratio disagreement."""
    t0 = time.perf_counter()
    a = classification_sweep(p, kernel, FRACTIONS, seed=seed, width=width, nested=True)
    t_nested = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = classification_sweep(p, kernel, FRACTIONS, seed=seed, width=width, nested=False)
    t_per_n = time.perf_counter() - t0
    diff = max(abs(x - y) for x, y in zip(a.l2_ratio, b.l2_ratio, strict=True))
    return {"p": p, "kernel": kernel, "sizes": len(a.n), "n_max": a.n[-1], "nested_s": t_nested,
            "per_n_s": t_per_n, "speedup": t_per_n / t_nested, "max_l2_ratio_diff": diff, "stats": a.stats}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="issue scale: p=47 (shared), p=23 (matrix-valued)")
    ap.add_argument("--p-shared", type=int, default=None, help="p for the first-logit eNTK ⊗ I sweep")
    ap.add_argument("--p-matrix", type=int, default=None, help="p for the matrix-valued eNTK sweep")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    p_shared = args.p_shared or (47 if args.full else 31)
    p_matrix = args.p_matrix or (23 if args.full else 11)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"{len(FRACTIONS)} training sizes per sweep (fractions of p² up to {FRACTIONS[-1]}), i.i.d. pairs")
    print(f"{'p':>4} {'kernel':<12} {'n_max':>6} {'nested s':>9} {'per-n s':>9} {'ratio':>7} {'max Δ':>9}  path")
    rows = [bench(p_shared, "entk_shared", args.width, args.seed),
            bench(p_matrix, "entk_full", args.width, args.seed)]
    for r in rows:
        print(f"{r['p']:>4} {r['kernel']:<12} {r['n_max']:>6} {r['nested_s']:>9.2f} {r['per_n_s']:>9.2f} "
              f"{r['speedup']:>6.1f}x {r['max_l2_ratio_diff']:>9.1e}  {r['stats']}")
        if r["max_l2_ratio_diff"] > 1e-6:
            print("  WARNING: nested and per-n sweeps disagree")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
