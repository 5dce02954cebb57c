"""Extremal solutions of the quadratic net: minimum-ℓ∞ interpolators (Thm 3.6's premise) and
maximum-ℓ∞-margin classifiers (Thm 4.5's premise).

Thm 3.6 bounds the population loss of every training interpolator whose ‖θ‖_∞ is within a
constant factor of the smallest achievable; Thm 4.5 that of every net whose normalized margin
q_min/‖θ‖_∞³ is Ω(p). Both are statements about extremal nets, which the paper's training
recipes (GD with a tiny λ‖θ‖_∞, normalized GD on cross-entropy) approach only slowly. Here
they are searched for directly, with the batched engine (:mod:`regimes.batched`) running the
seeds (and the candidate radii) of one shape as one batch:

* :func:`min_linf_interpolators` — the smallest radius r at which projected Adam (θ clipped
  to the ℓ∞ ball of radius r after every step) drives the training square loss of g (p-scaled
  targets, Sec. 3) below ``tol`` within ``steps`` steps, found by a bracketed search on r
  (each round evaluates ``per_round`` radii inside the bracket, geometrically spaced; with
  ``per_round = 1`` it is bisection in log r). An optimizer can only show that an
  interpolator exists at r, so the result r* is an **upper bound** on the true minimum
  norm (at this step budget); :func:`radius_lower_bound` gives a provable lower bound, and
  :func:`construction_norm` the norm of Prop 3.8's exact interpolator, which Thm 3.6 uses
  as its reference scale.
* :func:`max_margin` — projected ascent on a smoothed minimum margin under ‖θ‖_∞ ≤ 1: Adam on
  the cross-entropy of the logits multiplied by a growing temperature T (the mean
  cross-entropy of T·f is a soft-min of the margins, ≈ −min_i q_i·T + log terms), clipping θ
  to [−1, 1] after every step. The attained q_min (the exact minimum over the training pairs
  of f_y − max_{j≠y} f_j, Sec. 4.2) is a **lower bound** on the maximum ℓ∞ margin; Prop 3.8's
  construction attains 4p·⌊h/8p⌋ at ‖θ‖_∞ = 1 on every pair.

Stored once (:func:`regimes.runcache.cached`), for the experiment that draws them and the check
that judges them (one grid per claim, :mod:`regimes.settings.grids`):

* :func:`stored_min_linf_cell` — one (p, n exponent, width) cell of experiment 20 (C18 reads its
  h = 8p, n = 2p^{2.25} cells), with the interpolators found;
* :func:`stored_kernel_baseline` — C18's eNTK kernel baseline on the same samples
  (:func:`kernel_baseline_acc`);
* :func:`stored_max_margin` — one p of experiment 21 and C19, with the nets found.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from regimes._validate import check_choice, check_int, check_positive
from regimes.batched import train_batched
from regimes.constructions import fourier_interpolator
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Split, Task, sample_split
from regimes.train import TrainConfig, evaluate

__all__ = [
    "construction_margin",
    "construction_norm",
    "kernel_baseline_acc",
    "max_margin",
    "min_linf_interpolators",
    "radius_lower_bound",
    "seed_net_arrays",
    "stored_kernel_baseline",
    "stored_max_margin",
    "stored_min_linf_cell",
]


# =========================================================================== reference scales
def radius_lower_bound(p: int, h: int) -> float:
    """A radius below which no net of width h fits a labelled regression triple.

    With ‖θ‖_∞ ≤ r, every pre-activation obeys |z_k| = |W_{k,a} + W_{k,p+b}| ≤ 2r and every
    |V_{c,k}| ≤ r, so |g(a, b, c)| = |Σ_k V_{c,k} z_k²| ≤ h·r·(2r)² = 4h r³. The target of a
    labelled triple is p, so interpolation needs 4h r³ ≥ p: r ≥ (p / 4h)^{1/3}. (h = 8p: 0.315;
    h = 4p: 0.397.) Any training set with one labelled triple inherits the bound.
    """
    p = check_int("p", p, low=2)
    h = check_int("h", h, low=1)
    return (p / (4.0 * h)) ** (1.0 / 3.0)


def _variant(p: int, h: int) -> str:
    if h >= 8 * p:
        return "8p"
    if p % 2 == 1 and h >= 4 * p - 3:
        return "4p-3"
    raise ValueError(f"h={h} is out of range for p={p}: Prop 3.8's construction needs h >= 8p = {8 * p}, or "
                     f"h >= 4p - 3 = {4 * p - 3} for odd p (Remark F.1)")


def construction_norm(p: int, h: int) -> float:
    """‖θ‖_∞ of Prop 3.8's exact regression interpolator at width h (g = p·1(a+b≡c) on all p³
    triples): 4^{-1/3}⌊h/8p⌋^{-1/3} for h ≥ 8p, and 2^{1/3}·4^{-1/3} = 2^{-1/3} for the
    4p − 3-neuron variant of Remark F.1 (odd p, 4p − 3 ≤ h < 8p). Read off the built net
    (:func:`regimes.constructions.fourier_interpolator`), not from the formula."""
    p = check_int("p", p, low=3)
    h = check_int("h", h, low=1)
    return fourier_interpolator(p, h, variant=_variant(p, h), target="regression").theta_inf()


def construction_margin(p: int, h: int) -> float:
    """Normalized margin q_min/‖θ‖_∞³ of Prop 3.8's classification construction at width h,
    computed on all p² pairs from the built net: 4p·⌊h/8p⌋ for h ≥ 8p (``f_q = 4p·1(n+m≡q)`` at
    ‖θ‖_∞ = 1, duplicated copies scaled by c^{-1/3}), 2p for the 4p − 3 variant (odd p)."""
    p = check_int("p", p, low=3)
    h = check_int("h", h, low=1)
    net = fourier_interpolator(p, h, variant=_variant(p, h), target="classification")
    pop = Task(p).population()
    f = net(pop.x)
    fy = f.gather(1, pop.y[:, None]).squeeze(1)
    other = f.scatter(1, pop.y[:, None], float("-inf")).max(dim=1).values
    return float((fy - other).min()) / net.theta_inf() ** 3


# =========================================================================== min-ℓ∞ interpolators
def _check_seeds(seeds: Sequence[int]) -> list[int]:
    s = [check_int("seeds entry", x, low=0) for x in seeds]
    if not s or len(set(s)) != len(s):
        raise ValueError(f"seeds={list(seeds)!r} must be a non-empty list of distinct seeds >= 0")
    return s


def _fit_batch(p: int, h: int, splits: list[Split], seeds: list[int], radii: list[float], steps: int,
               lr: float) -> list[dict[str, Any]]:
    """Projected Adam at radius radii[i] for seed seeds[i] (its own sample and init), as one batch;
    the final record (train loss, held-out metrics) of each run."""
    nets = [QuadraticNet.init(p, h, seed=s) for s in seeds]
    cfg = TrainConfig(steps=steps, lr=lr, optimizer="adam", eval_steps=[], stall_patience=None)
    res = train_batched(nets, [sp.train for sp in splits], cfg, tests=[sp.test for sp in splits], radius=radii)
    return [dict(res.finals[i], radius=float(radii[i]), net=res.nets[i]) for i in range(len(seeds))]


def min_linf_interpolators(p: int, n: int, h: int, seeds: Sequence[int], *, r_lo: float | None = None,
                           r_hi: float | None = None, steps: int = 1000, lr: float = 1e-2, tol: float = 1e-3,
                           rounds: int = 2, per_round: int = 2, also_at: Sequence[float] = (),
                           on_unbracketed: str = "raise", nets_out: dict[int, Any] | None = None
                           ) -> list[dict[str, Any]]:
    """Per seed, the smallest ℓ∞ radius at which projected Adam interpolates n regression triples.

    Parameters
    ----------
    p, n, h : modulus, training-set size (distinct triples, 1 ≤ n < p³), width.
    seeds : ≥ 1 distinct seeds; seed s draws the sample (``sample_split(seed=s)``) and the init.
    r_lo, r_hi : the initial bracket (0 < r_lo < r_hi); default :func:`radius_lower_bound`
        and 1.5 × :func:`construction_norm`. Both ends are run first: r_lo must fail and
        r_hi must succeed for every seed.
    steps, lr : Adam steps and learning rate per evaluation (float64, full batch).
    tol : success = final training loss (mean (g − y)² over the triples) < tol.
    rounds, per_round : search rounds and radii per round (geometric inside the current
        bracket (lo, hi]); the bracket shrinks by a factor (hi/lo)^{1/(per_round+1)} per round.
    also_at : extra radii evaluated for every seed (e.g. the construction's norm), reported
        under ``"also"``.
    on_unbracketed : ``"raise"`` (``ValueError``) or ``"censor"`` (the seed is reported with
        ``censored=True`` and no r*) when the bracket does not bracket for a seed.
    nets_out : if a dict, the interpolator at r* of every bracketed seed is put there under
        its seed.

    Returns
    -------
    One dict per seed: ``r_star`` (smallest succeeding radius seen), ``r_fail`` (largest failing
    radius below it), their ratios to the construction's norm, the run at r_star's
    ``train_loss``, ``heldout_loss``, ``heldout_acc`` (clean pairs), ``heldout_zero_loss`` (the
    zero predictor's held-out loss) and ``heldout_l2_ratio``, ``censored``, and ``also``.

    Raises ``ValueError`` for p < 3, n out of [1, p³ − 1], a radius ≤ 0, r_lo ≥ r_hi, an
    unknown ``on_unbracketed``, or (``"raise"``) a bracket that does not bracket.
    """
    p = check_int("p", p, low=3)
    n = check_int("n", n, low=1, high=p**3 - 1)
    h = check_int("h", h, low=1)
    seeds = _check_seeds(seeds)
    steps = check_int("steps", steps, low=1)
    lr = check_positive("lr", lr)
    tol = check_positive("tol", tol)
    rounds = check_int("rounds", rounds, low=0)
    per_round = check_int("per_round", per_round, low=1)
    check_choice("on_unbracketed", on_unbracketed, ("raise", "censor"))
    lo0 = radius_lower_bound(p, h) if r_lo is None else check_positive("r_lo", r_lo)
    hi0 = 1.5 * construction_norm(p, h) if r_hi is None else check_positive("r_hi", r_hi)
    if lo0 >= hi0:
        raise ValueError(f"r_lo={lo0!r} must be below r_hi={hi0!r}: the bracket (r_lo, r_hi] is empty")
    also = [check_positive("also_at entry", r) for r in also_at]
    splits = [sample_split(Task(p, "regression"), n=n, seed=s) for s in seeds]
    r_c = construction_norm(p, h) if (h >= 8 * p or (p % 2 and h >= 4 * p - 3)) else math.nan

    # round 0: both ends (and the extra radii) for every seed, in one batch
    radii0 = [lo0, hi0, *also]
    k0 = len(radii0)
    recs = _fit_batch(p, h, [sp for sp in splits for _ in radii0], [s for s in seeds for _ in radii0],
                      radii0 * len(seeds), steps, lr)
    state = []
    for j, s in enumerate(seeds):
        r_lo_rec, r_hi_rec = recs[j * k0], recs[j * k0 + 1]
        ok_lo, ok_hi = r_lo_rec["train_loss"] < tol, r_hi_rec["train_loss"] < tol
        bracketed = (not ok_lo) and ok_hi
        if not bracketed and on_unbracketed == "raise":
            raise ValueError(f"the interval (r_lo, r_hi] = ({lo0:.4g}, {hi0:.4g}] does not bracket the interpolation "
                             f"radius for seed {s} (p={p}, n={n}, h={h}): training loss {r_lo_rec['train_loss']:.3g} "
                             f"at r_lo (must be >= tol={tol:g}), {r_hi_rec['train_loss']:.3g} at r_hi (must be < tol)")
        state.append({"seed": s, "lo": lo0, "hi": hi0, "best": r_hi_rec, "bracketed": bracketed,
                      "also": recs[j * k0 + 2:(j + 1) * k0]})
    live = [st for st in state if st["bracketed"]]
    for _ in range(rounds):
        if not live:
            break
        jobs = []
        for st in live:
            lo, hi = st["lo"], st["hi"]
            jobs += [(st, lo * (hi / lo) ** (k / (per_round + 1))) for k in range(1, per_round + 1)]
        recs = _fit_batch(p, h, [splits[seeds.index(st["seed"])] for st, _ in jobs], [st["seed"] for st, _ in jobs],
                          [r for _, r in jobs], steps, lr)
        for st in live:
            mine = sorted(((r, rec) for (s2, r), rec in zip(jobs, recs, strict=True) if s2 is st), key=lambda x: x[0])
            ok = [(r, rec) for r, rec in mine if rec["train_loss"] < tol]
            if ok:
                st["hi"], st["best"] = ok[0]
            fails = [r for r, rec in mine if rec["train_loss"] >= tol and r < st["hi"]]
            if fails:
                st["lo"] = max(max(fails), st["lo"])
    out = []
    for st, sp in zip(state, splits, strict=True):
        zero = float((sp.test.y.double() ** 2).mean())
        row: dict[str, Any] = {"p": p, "n": n, "h": h, "seed": st["seed"], "r_c": r_c,
                               "r_lower_bound": radius_lower_bound(p, h), "censored": not st["bracketed"],
                               "heldout_zero_loss": zero, "steps": steps, "lr": lr, "tol": tol}
        if st["bracketed"]:
            b = st["best"]
            row.update(r_star=st["hi"], r_fail=st["lo"], r_star_over_rc=st["hi"] / r_c, r_fail_over_rc=st["lo"] / r_c,
                       train_loss=b["train_loss"], heldout_loss=b["test_loss"], heldout_acc=b["test_acc"],
                       heldout_l2_ratio=b["test_loss"] / zero, theta_inf=b["theta_inf"])
            if nets_out is not None:
                nets_out[st["seed"]] = b["net"]
        else:
            row.update(r_star=None, r_fail=None, r_star_over_rc=None, r_fail_over_rc=None)
        row["also"] = [{"radius": a["radius"], "train_loss": a["train_loss"], "interpolates": a["train_loss"] < tol,
                        "heldout_acc": a["test_acc"], "heldout_l2_ratio": a["test_loss"] / zero}
                       for a in st["also"]]
        out.append(row)
    return out


# =========================================================================== max margin
def max_margin(p: int, n: int, h: int, seeds: Sequence[int], *,
               temperatures: Sequence[float] = (0.05, 0.2, 1.0), steps_per_stage: int = 500,
               lrs: Sequence[float] | None = None, nets_out: list[Any] | None = None,
               init_seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Per seed, an approximate maximum-ℓ∞-margin classifier on n training pairs (Thm 4.5's premise).

    Projected Adam (float64, full batch) on the mean cross-entropy of T·f(θ; ·), θ clipped to
    [−1, 1] after every step, in stages of ``steps_per_stage`` steps at the temperatures T
    of ``temperatures`` (increasing: the soft-min log Σ exp(−T q) → −T·min q as T grows), each
    stage starting where the last ended (Adam's moments restart). The temperature is the net's
    output scale during training; margins are reported for T = 1 (the net itself).

    Parameters
    ----------
    p, n, h : modulus, training pairs (1 ≤ n < p²), width.
    seeds : ≥ 1 distinct seeds (seed s: ``sample_split(seed=s)`` and, unless ``init_seeds`` is
        given, the init).
    temperatures : > 0, one per stage. A product T·q beyond ~700 underflows exp in float64
        (the gradient is then exactly 0 and θ stops); keep T·4p below that.
    steps_per_stage : Adam steps per stage.
    lrs : Adam learning rate per stage (default 1e-2 then decaying ×1/3 per stage).
    nets_out : if a list, the final nets (one per seed, in order) are appended to it.
    init_seeds : optional, one seed ≥ 0 per entry of ``seeds``: the init of that run is
        ``QuadraticNet.init(p, h, seed=init_seeds[i])`` instead of ``seed=seeds[i]`` (so data and
        init can be drawn independently, as experiment 09 does).

    Returns
    -------
    One dict per seed: ``q_min`` (exact minimum training margin of f at the final θ), ``theta_inf``,
    ``norm_margin`` = q_min/‖θ‖_∞³, ``train_acc``, ``heldout_acc`` (pairs not trained on),
    ``construction_norm_margin`` (Prop 3.8's, :func:`construction_margin`) and the per-stage
    normalized margins ``stages``.

    Raises ``ValueError`` for p < 3, n out of [1, p² − 1], empty/non-positive temperatures, a
    ``lrs`` of another length, bad seeds, or ``init_seeds`` of another length than ``seeds`` or
    with a negative entry.
    """
    p = check_int("p", p, low=3)
    n = check_int("n", n, low=1, high=p**2 - 1)
    h = check_int("h", h, low=1)
    seeds = _check_seeds(seeds)
    temps = [check_positive("temperatures entry", t) for t in temperatures]
    if not temps:
        raise ValueError("temperatures is empty: give at least one stage")
    steps = check_int("steps_per_stage", steps_per_stage, low=1)
    lrs_l = [1e-2 * 3.0**-k for k in range(len(temps))] if lrs is None else [check_positive("lrs entry", a)
                                                                              for a in lrs]
    if len(lrs_l) != len(temps):
        raise ValueError(f"lrs has {len(lrs_l)} entries, temperatures {len(temps)}: give one per stage")
    if init_seeds is None:
        inits = list(seeds)
    else:
        inits = [check_int("init_seeds entry", x, low=0) for x in init_seeds]
        if len(inits) != len(seeds):
            raise ValueError(f"init_seeds has {len(inits)} entries, seeds {len(seeds)}: give one per seed")
    splits = [sample_split(Task(p, "classification"), n=n, seed=s) for s in seeds]
    nets = [QuadraticNet.init(p, h, seed=s) for s in inits]
    stages: list[list[float]] = [[] for _ in seeds]
    for T, lr in zip(temps, lrs_l, strict=True):
        scaled = [QuadraticNet(nt.W, nt.V, output_scale=T) for nt in nets]
        cfg = TrainConfig(steps=steps, lr=lr, optimizer="adam", loss="cross_entropy", eval_steps=[],
                          stall_patience=None, eps=1e-100)
        res = train_batched(scaled, [sp.train for sp in splits], cfg, radius=1.0)
        nets = [QuadraticNet(nt.W, nt.V) for nt in res.nets]
        for i, nt in enumerate(nets):
            rec = evaluate(nt, splits[i].train, cfg)
            stages[i].append(rec["norm_margin"])
    ref = construction_margin(p, h) if (h >= 8 * p or (p % 2 and h >= 4 * p - 3)) else math.nan
    out = []
    for i, s in enumerate(seeds):
        cfg = TrainConfig(steps=1, lr=1.0, loss="cross_entropy")
        rec = evaluate(nets[i], splits[i].train, cfg, test=splits[i].test)
        out.append({"p": p, "n": n, "h": h, "seed": s, "q_min": rec["q_min"], "theta_inf": rec["theta_inf"],
                    "norm_margin": rec["norm_margin"], "train_acc": rec["train_acc"], "heldout_acc": rec["test_acc"],
                    "construction_norm_margin": ref, "stages": stages[i], "temperatures": temps, "lrs": lrs_l,
                    "steps_per_stage": steps})
    if nets_out is not None:
        nets_out.extend(nets)
    return out


# =========================================================================== stored once
def _cell(p: int, n_exponent: float, width_mult: int, seeds: Sequence[int], arity: int
          ) -> tuple[dict[str, Any], int, int]:
    """A grid cell's validated key ``{"p", "n_exponent", "width_mult", "seeds"}`` (plain Python
    values, so the experiment's and the check's keys are equal), h = width_mult·p and
    n = round(2p^e) capped below the population p^arity (:func:`regimes.settings.mohamadi.n_train`:
    p³ regression triples, p² classification pairs)."""
    from regimes.settings.mohamadi import n_train

    p = check_int("p", p, low=3)
    width_mult = check_int("width_mult", width_mult, low=1)
    e = check_positive("n_exponent", n_exponent)
    key = {"p": p, "n_exponent": e, "width_mult": width_mult, "seeds": _check_seeds(seeds)}
    return key, width_mult * p, n_train(p, e, p**arity)


def seed_net_arrays(arrays: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The net of ``seed`` in the arrays of :func:`stored_min_linf_cell` or :func:`stored_max_margin`,
    in :func:`regimes.runs.net_arrays`'s form (``params/final/<name>``, ``params/spec``); empty for a
    seed with no net (a censored search)."""
    pre = f"seed{int(seed)}/"
    return {k.removeprefix(pre): v for k, v in arrays.items() if k.startswith(pre)}


def _file_nets(nets: dict[int, Any]) -> dict[str, np.ndarray]:
    from regimes.runs import net_arrays

    return {f"seed{s}/{k}": v for s, net in sorted(nets.items()) for k, v in net_arrays(net).items()}


def stored_min_linf_cell(p: int, n_exponent: float, width_mult: int, seeds: Sequence[int],
                         search: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One cell of experiment 20's grid (C18 reads its h = 8p, n = 2p^{2.25} cells), computed once.

    :func:`min_linf_interpolators` at n = round(2p^{n_exponent}) triples (capped below p³,
    :func:`regimes.settings.mohamadi.n_train`), h = ``width_mult``·p, for ``seeds``, with the
    search settings ``search`` (``steps``, ``lr``, ``tol``, ``rounds``, ``per_round``, optionally
    ``r_lo``/``r_hi``), also at the construction's norm (``also_at=[construction_norm(p, h)]``) and
    censoring a seed whose bracket does not bracket; stored by :func:`regimes.runcache.cached`
    (kind ``"min_linf"``) under these arguments, so the experiment and the check share it.

    Returns ``({"p", "n_exponent", "width_mult", "h", "n", "rows"}, arrays)``: ``rows`` are
    :func:`min_linf_interpolators`'s (as stored: JSON, NaN read back as ``None``), ``arrays``
    the interpolator at r* of every bracketed seed (read one with :func:`seed_net_arrays`).

    Raises ``ValueError`` for p < 3, a width or exponent out of range, bad seeds, an unknown
    search setting, or a width Prop 3.8 has no construction for (h < 8p, and h < 4p − 3 for
    odd p), before any work.
    """
    from regimes import runcache

    key, h, n = _cell(p, n_exponent, width_mult, seeds, 3)
    allowed = {"steps", "lr", "tol", "rounds", "per_round", "r_lo", "r_hi"}
    if not isinstance(search, dict) or set(search) - allowed:
        raise ValueError(f"search={search!r} is not allowed: give a dict with keys among {sorted(allowed)}")
    p, r_c = key["p"], construction_norm(key["p"], h)
    # plain ints and floats, so that a tier read back from JSON gives the check's key
    search = {k: check_int(k, v, low=0) if k in ("steps", "rounds", "per_round") else check_positive(k, v)
              for k, v in sorted(search.items())}
    key["search"] = search

    def run() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        nets: dict[int, Any] = {}
        rows = min_linf_interpolators(p, n, h, key["seeds"], also_at=[r_c], on_unbracketed="censor",
                                      nets_out=nets, **search)
        return {"p": p, "n_exponent": key["n_exponent"], "width_mult": key["width_mult"], "h": h, "n": n,
                "rows": rows}, _file_nets(nets)

    return runcache.cached("min_linf", key, run)


def kernel_baseline_acc(p: int, n: int, h: int, seed: int) -> float:
    """Clean-pair held-out accuracy of the eNTK-at-init ridgeless kernel regressor (prior mean f₀,
    App. B.1) on the regression sample of ``seed`` (``sample_split(seed=seed)``, the sample
    :func:`min_linf_interpolators` trains on) with the width-h net initialised from ``seed``
    (C15's baseline, :func:`regimes.runs.rich_run`'s kernel baseline)."""
    from regimes.runs import _kernel_baseline

    p = check_int("p", p, low=3)
    n = check_int("n", n, low=1, high=p**3 - 1)
    h = check_int("h", h, low=1)
    seed = check_int("seed", seed, low=0)
    split = sample_split(Task(p, "regression"), n=n, seed=seed)
    net0 = QuadraticNet.init(p, h, seed=seed)
    return float(_kernel_baseline(net0, split, "regression")["kernel_heldout_acc"])


def stored_kernel_baseline(p: int, n_exponent: float, width_mult: int, seeds: Sequence[int]
                           ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """C18's kernel baseline for one cell, computed once: :func:`kernel_baseline_acc` per seed on
    the samples of :func:`stored_min_linf_cell` (same p, n, h and seeds), stored by
    :func:`regimes.runcache.cached` (kind ``"min_linf_kernel"``).

    Returns ``({"p", "n", "h", "seeds", "kernel_heldout_acc": [one per seed]}, {})``. Raises
    ``ValueError`` as :func:`stored_min_linf_cell` does for the cell's arguments.
    """
    from regimes import runcache

    key, h, n = _cell(p, n_exponent, width_mult, seeds, 3)
    p = key["p"]
    return runcache.cached("min_linf_kernel", key, lambda: (
        {"p": p, "n": n, "h": h, "seeds": key["seeds"],
         "kernel_heldout_acc": [kernel_baseline_acc(p, n, h, s) for s in key["seeds"]]}, {}))


def stored_max_margin(p: int, n_exponent: float, width_mult: int, seeds: Sequence[int], *,
                      temperatures: Sequence[float], steps_per_stage: int
                      ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One p of experiment 21's grid and C19's, computed once: :func:`max_margin` at
    n = round(2p^{n_exponent}) pairs (capped below p², :func:`regimes.settings.mohamadi.n_train`),
    h = ``width_mult``·p, for ``seeds`` (data and init), stored by :func:`regimes.runcache.cached`
    (kind ``"max_margin"``) under these arguments.

    Returns ``({"p", "n", "rows"}, arrays)``: ``rows`` are :func:`max_margin`'s (as stored),
    ``arrays`` every seed's final net (read one with :func:`seed_net_arrays`). Raises
    ``ValueError`` for p < 3, a width or exponent out of range, bad seeds, or bad temperatures or
    steps (:func:`max_margin`), before any work.
    """
    from regimes import runcache

    key, h, n = _cell(p, n_exponent, width_mult, seeds, 2)
    p = key["p"]
    temps = [check_positive("temperatures entry", t) for t in temperatures]
    if not temps:
        raise ValueError("temperatures is empty: give at least one stage")
    steps = check_int("steps_per_stage", steps_per_stage, low=1)
    key.update(temperatures=temps, steps_per_stage=steps)

    def run() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        nets: list[Any] = []
        rows = max_margin(p, n, h, key["seeds"], temperatures=temps, steps_per_stage=steps, nets_out=nets)
        return {"p": p, "n": n, "rows": rows}, _file_nets(dict(zip(key["seeds"], nets, strict=True)))

    return runcache.cached("max_margin", key, run)
