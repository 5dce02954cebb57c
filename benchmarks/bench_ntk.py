"""Benchmark: the first-logit eNTK of the quadratic net, closed form vs autodiff vs neural-tangents.

Every method runs on the same net (``QuadraticNet.init(p, h, seed=0)``, float64) and
the same points, each in its own subprocess so that its peak memory can be read
from the operating system:

* ``closed_form``     regimes.ntk.entk(method="closed_form")
* ``floor``           only the matrix products the closed form needs, as bare torch
                      calls on pre-arranged inputs: (z⊙z)(z⊙z)ᵀ, plus the shared-column
                      products (z ⊙ V₀²) zᵀ within each group of points sharing a (one
                      batched matmul) and sharing b (another). Defined for all p² points.
* ``autodiff:jc`` / ``autodiff:nvp``   regimes.ntk.autodiff (torch.func), Jacobian
                      contraction / NTK-vector products, default chunking.
* ``nt:<impl>``       regimes.ntk.jax_nt (neural-tangents on a JAX re-implementation).

Timing: the first call is timed on its own (for JAX it includes jit compilation);
if it took under ``--repeat-below`` seconds the call is repeated ``--repeats`` times
and the median reported, otherwise the first call is the reported time (marked †).

Memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident set size of the
worker process, Linux KiB) read after the timed calls, before any verification.
"peak RSS" is that whole-process high-water mark (interpreter, torch, JAX/TensorFlow
imports included); "Δ peak" subtracts the resident size just before the first call
(/proc/self/statm), i.e. the memory the computation itself added.

CPU: each worker is pinned to ``--cores`` CPUs (``os.sched_setaffinity``, which binds
torch's and XLA's thread pools alike) and torch uses that many threads, so all
methods get the same hardware. Ratios are of times measured in the same run.

Usage:  python benchmarks/bench_ntk.py [--quick] [--out benchmarks/results_ntk.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NT_WORKING = ("jacobian_contraction", "ntk_vector_products")
NT_BROKEN = ("structured_derivatives", "auto")


@dataclass
class Config:
    p: int
    h: int
    n: int | None  # None: all p² points; else a seeded random subset of n points
    methods: tuple[str, ...]
    note: str = ""
    results: dict[str, dict] = field(default_factory=dict)

    @property
    def label(self) -> str:
        pts = f"all {self.p**2}" if self.n is None else f"subset {self.n} of {self.p**2}"
        return f"p={self.p}, h={self.h}, {pts}"


ALL_AUTODIFF = ("autodiff:jc", "autodiff:nvp", *(f"nt:{i}" for i in NT_WORKING))


def configs(quick: bool) -> list[Config]:
    if quick:
        return [
            Config(7, 56, None, ("closed_form", "floor", *ALL_AUTODIFF,
                                 *(f"nt:{i}" for i in NT_BROKEN))),
            Config(11, 88, None, ("closed_form", "floor", "autodiff:jc", "nt:jacobian_contraction")),
            Config(11, 88, 60, ("closed_form", "autodiff:jc")),
        ]
    return [
        Config(23, 184, None, ("closed_form", "floor", *ALL_AUTODIFF,
                               *(f"nt:{i}" for i in NT_BROKEN))),
        Config(23, 1024, None, ("closed_form", "floor", *ALL_AUTODIFF)),
        Config(37, 296, None, ("closed_form", "floor", *ALL_AUTODIFF)),
        Config(37, 1024, None, ("closed_form", "floor", "autodiff:jc", "nt:jacobian_contraction"),
               note="NTK-vector products skipped here: ≈ 10× their p = 23, h = 1024 time."),
        Config(97, 776, None, ("closed_form", "floor"),
               note="Autodiff on all 9,409 points would hold 9,409 × 3ph ≈ 2.1e9 Jacobian entries "
                    "(17 GB) and ≈ 4e13 flops; it runs on a subset below."),
        Config(97, 776, 1000, ("closed_form", "autodiff:jc", "nt:jacobian_contraction"),
               note="Subset of 1,000 random points (seed 0); the closed form is timed on the "
                    "same subset."),
    ]


# --------------------------------------------------------------------------- worker
def _rss_now_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def worker(spec: dict) -> dict:
    """Run one method on one config in this process; return timings and memory."""
    cores = spec["cores"]
    avail = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(avail[:cores]))
    import torch

    torch.set_num_threads(cores)
    from regimes.models.quadratic import QuadraticNet
    from regimes.ntk import entk

    p, h, n, method = spec["p"], spec["h"], spec["n"], spec["method"]
    net = QuadraticNet.init(p, h, seed=0)
    x = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    if n is not None:
        x = x[torch.randperm(p * p, generator=torch.Generator().manual_seed(0))[:n]]

    if method == "closed_form":
        def call():
            return entk(net, x)
    elif method == "floor":
        if n is not None:
            raise ValueError("the floor is defined for all p² points only")
        Z = QuadraticNet.hidden(net.W, x)  # lexicographic: row a·p + b
        Q = Z * Z
        A = (Z * net.V[0] ** 2).reshape(p, p, h)
        Zg = Z.reshape(p, p, h)
        A_b, Zg_b = A.transpose(0, 1).contiguous(), Zg.transpose(0, 1).contiguous()

        def call():
            G = Q @ Q.t()
            Sa = torch.bmm(A, Zg.transpose(1, 2))  # groups sharing a
            Sb = torch.bmm(A_b, Zg_b.transpose(1, 2))  # groups sharing b
            return G, Sa, Sb
    elif method.startswith("autodiff:"):
        from regimes.ntk.autodiff import quadratic_entk_autodiff

        impl = {"jc": "jacobian_contraction", "nvp": "ntk_vector_products"}[method.split(":")[1]]

        def call():
            return quadratic_entk_autodiff(net, x, kind="first_logit", implementation=impl)
    elif method.startswith("nt:"):
        from regimes.ntk.jax_nt import _import_nt, quadratic_entk_nt

        _import_nt()  # the (heavy) imports belong to the baseline, not the call
        impl = method.split(":")[1]

        def call():
            return quadratic_entk_nt(net, x, kind="first_logit", implementation=impl)
    else:
        raise ValueError(f"unknown method {method!r}")

    rss_before = _rss_now_kib()
    t0 = time.perf_counter()
    out = call()
    first = time.perf_counter() - t0
    times = []
    if first < spec["repeat_below"]:
        for _ in range(spec["repeats"]):
            t0 = time.perf_counter()
            out = call()
            times.append(time.perf_counter() - t0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = {"first_s": first, "times_s": times,
           "time_s": sorted(times)[len(times) // 2] if times else first,
           "repeated": bool(times), "peak_rss_mb": peak_kib / 1024,
           "delta_peak_mb": (peak_kib - rss_before) / 1024,
           "threads": torch.get_num_threads()}
    if method != "floor":  # verify against the closed form (after the memory reading)
        ref = entk(net, x)
        res["rel_err"] = float((out - ref).norm() / ref.norm())
    return res


# --------------------------------------------------------------------------- driver
def run_one(cfg: Config, method: str, args: argparse.Namespace) -> dict:
    spec = {"p": cfg.p, "h": cfg.h, "n": cfg.n, "method": method, "cores": args.cores,
            "repeats": args.repeats, "repeat_below": args.repeat_below}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"> {args.timeout:.0f} s (stopped)"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    if "known broken" in tail:  # neural-tangents' structured_derivatives / auto on new jax
        inner = tail.split("(", 1)[1].split(":", 1)[0]
        return {"error": f"fails on this jax ({inner} inside neural-tangents)"}
    return {"error": tail[:120]}


def _fmt_time(r: dict) -> str:
    return f"{r['time_s']:.3g}" + ("" if r["repeated"] else " †")


def table(cfgs: list[Config], args: argparse.Namespace) -> str:
    lines = [
        "| config | method | time (s) | first call (s) | peak RSS (MB) | Δ peak (MB) "
        "| × closed form | closed form × floor | rel. err vs closed form |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cfg in cfgs:
        closed = cfg.results.get("closed_form", {})
        floor = cfg.results.get("floor", {})
        for method in cfg.methods:
            r = cfg.results.get(method, {"error": "not run"})
            if "error" in r:
                lines.append(f"| {cfg.label} | {method} | {r['error']} | | | | | | |")
                continue
            x_closed = (f"{r['time_s'] / closed['time_s']:.1f}×"
                        if "time_s" in closed and method not in ("closed_form", "floor") else "")
            x_floor = (f"{closed['time_s'] / floor['time_s']:.2f}"
                       if method == "closed_form" and "time_s" in floor else "")
            err = f"{r['rel_err']:.1e}" if "rel_err" in r else ""
            lines.append(
                f"| {cfg.label} | {method} | {_fmt_time(r)} | {r['first_s']:.3g} "
                f"| {r['peak_rss_mb']:.0f} | {r['delta_peak_mb']:.0f} | {x_closed} | {x_floor} "
                f"| {err} |")
    return "\n".join(lines)


def targets(cfgs: list[Config]) -> list[str]:
    out = []
    for cfg in cfgs:
        closed = cfg.results.get("closed_form", {})
        if "time_s" not in closed:
            continue
        ad = {m: r["time_s"] for m, r in cfg.results.items()
              if (m.startswith("autodiff") or m.startswith("nt:")) and "time_s" in r}
        if cfg.p == 23 and cfg.n is None and ad:
            best = min(ad, key=ad.get)
            ratio = ad[best] / closed["time_s"]
            bound = 3 * cfg.p**2 / (cfg.p + 2)
            out.append(f"- {cfg.label}: fastest autodiff path is `{best}` at {ad[best]:.3g} s, "
                       f"{ratio:.0f}× the closed form (target ≥ 100×: "
                       f"{'met' if ratio >= 100 else 'NOT met'}). For scale: the Jacobian "
                       f"contraction alone costs 2n²·3ph flops, the closed form's products "
                       f"2n²h + 4p³h, a ratio of 3p²/(p + 2) = {bound:.0f} at equal flop rates.")
        if cfg.p == 97 and cfg.n is None:
            floor = cfg.results.get("floor", {})
            if "time_s" in floor:
                ratio = closed["time_s"] / floor["time_s"]
                out.append(f"- {cfg.label}: closed form {closed['time_s']:.3g} s = {ratio:.2f}× "
                           f"the floor ({floor['time_s']:.3g} s) (target ≤ 3×: "
                           f"{'met' if ratio <= 3 else 'NOT met'}); peak RSS "
                           f"{closed['peak_rss_mb']:.0f} MB (target < 4096 MB: "
                           f"{'met' if closed['peak_rss_mb'] < 4096 else 'NOT met'}).")
        if cfg.p == 97 and cfg.n is not None and ad:
            n_all = cfg.p**2
            for m, t in sorted(ad.items()):
                out.append(f"- {cfg.label}: `{m}` {t:.3g} s on the subset; scaled by "
                           f"(9409/{cfg.n})² to all points (the contraction is quadratic in n) "
                           f"≈ {t * (n_all / cfg.n) ** 2:.3g} s — an extrapolation, not a "
                           "measurement.")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    ap.add_argument("--cores", type=int, default=1, help="CPUs per worker (pinned)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--repeat-below", type=float, default=15.0,
                    help="repeat a method only if its first call took less (s)")
    ap.add_argument("--timeout", type=float, default=600.0, help="per-method limit (s)")
    ap.add_argument("--json", type=Path, default=None, help="also dump raw results here")
    ap.add_argument("--only", default=None, help="comma-separated config indices to run")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if not 1 <= args.cores <= len(os.sched_getaffinity(0)):
        ap.error(f"--cores={args.cores} is out of range: 1..{len(os.sched_getaffinity(0))}")

    cfgs = configs(args.quick)
    if args.only:
        keep = {int(i) for i in args.only.split(",")}
        cfgs = [c for i, c in enumerate(cfgs) if i in keep]
    t_start = time.time()
    for cfg in cfgs:
        for method in cfg.methods:
            r = run_one(cfg, method, args)
            cfg.results[method] = r
            shown = r.get("error") or f"{r['time_s']:.3g} s, peak {r['peak_rss_mb']:.0f} MB"
            print(f"[{time.time() - t_start:6.0f} s] {cfg.label} {method}: {shown}", flush=True)

    import torch

    try:
        import jax

        jax_v = jax.__version__
    except ImportError:
        jax_v = "not installed"
    head = [
        "# eNTK benchmark: first-logit kernel of the quadratic net",
        "",
        f"Generated by `python benchmarks/bench_ntk.py{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d')}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs visible, each method in its own process pinned to "
        f"{args.cores} CPU(s); torch {torch.__version__}, jax {jax_v}; float64 throughout.",
        "The machine was shared with other jobs while this ran, so absolute times are noisy; "
        "ratios compare runs from the same session.",
        "",
        "Time: median of repeated calls after the first; † = a single call (the first, which "
        "for neural-tangents includes jit compilation) because it took longer than "
        f"{args.repeat_below:g} s. Peak RSS: whole-process `ru_maxrss`; Δ peak: minus the "
        "resident size just before the first call. Floor: the bare matrix products the closed "
        "form needs ((z⊙z)(z⊙z)ᵀ and the two grouped shared-column batched matmuls).",
        "",
    ]
    notes = [f"- {c.label}: {c.note}" for c in cfgs if c.note]
    report = "\n".join([*head, table(cfgs, args), "", "## Targets", "", *targets(cfgs),
                        "", "## Notes", "", *notes,
                        "- neural-tangents `structured_derivatives` and `auto` fail inside "
                        "neural-tangents on jax ≥ 0.4.26 (tried at the first size only).", ""])
    if args.json is not None:
        args.json.write_text(json.dumps([{"label": c.label, "p": c.p, "h": c.h, "n": c.n,
                                          "results": c.results} for c in cfgs], indent=1))
    print()
    print(report)
    if args.out is not None:
        args.out.write_text(report)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
