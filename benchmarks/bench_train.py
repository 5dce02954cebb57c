"""Steps per second of the full-batch ℓ∞-regularized training step.

Setting: classification, p = 97, h = 8p, n = 2p^{5/3} training pairs, float32,
cross-entropy, normalized GD (lr 10) with λ‖θ‖_∞ (λ = 1e-20), as in Fig 4.
Three timings in the same process:

* ``regimes.train``: the library loop (gather first layer, hand-written gradients);
* (a) ``torch.nn``: what a user would write — one-hot inputs, two ``nn.Linear``
  layers without bias, autograd, the ℓ∞ penalty as ``max |θ|`` over all parameters,
  normalized GD through ``torch.optim.SGD`` after dividing the gradients by their norm;
* (b) the floor: only the three matrix products of one step
  (``(z⊙z)Vᵀ``, ``Gᵀ(z⊙z)``, ``G V``).

Targets: ≥ 2× faster than (a), within 2× of (b).

    .venv/bin/python benchmarks/bench_train.py [--p 97] [--steps 50] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task, sample_split
from regimes.train import TrainConfig, train


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_library(net: QuadraticNet, data, steps: int, device: torch.device) -> float:
    cfg = TrainConfig(steps=steps, lr=10.0, optimizer="normalized_gd", loss="cross_entropy", lam_inf=1e-20,
                      eval_steps=[], check_finite_every=steps)
    train(net, data, TrainConfig(**{**cfg.__dict__, "steps": 3}), device=device)   # warm-up
    _sync(device)
    t = time.perf_counter()
    train(net, data, cfg, device=device)
    _sync(device)
    return steps / (time.perf_counter() - t)


def bench_torch_nn(net: QuadraticNet, data, steps: int, device: torch.device) -> float:
    p, h = net.p, net.h
    X = torch.zeros(len(data), 2 * p, dtype=net.dtype, device=device)
    X[torch.arange(len(data)), data.x[:, 0]] = 1
    X[torch.arange(len(data)), p + data.x[:, 1]] = 1
    y = data.y.to(device)

    class Square(torch.nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z * z

    model = torch.nn.Sequential(torch.nn.Linear(2 * p, h, bias=False), Square(),
                                torch.nn.Linear(h, p, bias=False)).to(device=device, dtype=net.dtype)
    with torch.no_grad():
        model[0].weight.copy_(net.W)
        model[2].weight.copy_(net.V)
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    lam = 1e-20

    def step() -> None:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss = loss + lam * torch.cat([q.abs().flatten() for q in model.parameters()]).max()
        loss.backward()
        gn = torch.sqrt(sum((q.grad**2).sum() for q in model.parameters()))
        for q in model.parameters():
            q.grad /= gn
        opt.step()

    for _ in range(3):
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - t)


def bench_floor(net: QuadraticNet, data, steps: int, device: torch.device) -> float:
    n, h, p = len(data), net.h, net.p
    gen = torch.Generator().manual_seed(0)
    S = torch.rand(n, h, generator=gen).to(device=device, dtype=net.dtype)
    V = net.V.to(device)
    G = torch.rand(n, p, generator=gen).to(device=device, dtype=net.dtype)
    for _ in range(3):
        S @ V.t(), G.t() @ S, G @ V
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        S @ V.t()
        G.t() @ S
        G @ V
    _sync(device)
    return steps / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    p = args.p
    n = round(2 * p ** (5 / 3))
    data = sample_split(Task(p), n=n, seed=0).train
    net = QuadraticNet.init(p, 8 * p, seed=0, dtype=torch.float32)
    rows = {}
    for name, fn in (("regimes.train", bench_library), ("(a) torch.nn + autograd", bench_torch_nn),
                     ("(b) floor: 3 matmuls", bench_floor)):
        rows[name] = max(fn(net, data, args.steps, device) for _ in range(args.repeats))
    lib = rows["regimes.train"]
    print(f"p={p}, h={8 * p}, n={n}, float32, device={device}, threads={torch.get_num_threads()}, "
          f"steps={args.steps} (best of {args.repeats})")
    print(f"| {'implementation':<26} | {'steps/s':>9} | {'regimes.train speed-up':>22} |")
    print(f"|{'-' * 28}|{'-' * 11}|{'-' * 24}|")
    for name, sps in rows.items():
        print(f"| {name:<26} | {sps:9.1f} | {lib / sps:21.2f}x |")
    a, b = rows["(a) torch.nn + autograd"], rows["(b) floor: 3 matmuls"]
    print(f"\nvs (a): {lib / a:.2f}x faster (target >= 2x); vs floor (b): {b / lib:.2f}x slower (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
