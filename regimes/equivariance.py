"""Permutation equivariance of the quadratic net and of its training (App. C; checks C1, C2).

Three levels, from the network to the learning algorithm:

* :func:`forward_deviation` / :func:`gradient_deviation` — Lemmas C.5 and C.6:
  the forward pass and the parameter gradient commute with the joint action
  (π_σ on θ, T_σ on x), pointwise, for every θ.
* :func:`coupled_run` — Thm 3.3, Prop 4.2, Cor C.7: train once on D from θ₀ and
  once on T_σ(D) from π_σ(θ₀) with the same optimizer; then for every recorded
  step t, every input x of the population and every logit k,
  ``f_{σ3(k)}(θ'_t; T x) = f_k(θ_t; x)``. This is the pathwise statement the
  proofs establish (by induction over the updates); equality in distribution of
  the algorithm follows because an i.i.d. init law is invariant under π_σ.
* :func:`distributional_test` — why the init hypothesis matters: with a law
  that is *not* π_σ-invariant (column-dependent scales, :func:`column_scaled_net`)
  the output of the randomized algorithm at a fixed input has a different
  distribution on D and on T_σ(D), which a two-sample test detects.

Conventions: σ = (σ1, σ2, σ3) are int64 index maps; T_σ is
:func:`regimes.tasks.transform` and π_σ is :meth:`QuadraticNet.permuted`
(the corrected Def C.3, see ``proofs/thm_3_3_equivariance.md``). All comparisons are in
float64 and in absolute terms; the scale of the outputs is reported alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from regimes._validate import check_int, check_positive
from regimes.models.quadratic import QuadraticNet, permute_params
from regimes.tasks import Dataset, Sigma, _check_sigma, all_points, transform

__all__ = [
    "CoupledRun",
    "DistributionalTest",
    "column_scaled_net",
    "coupled_run",
    "distributional_test",
    "forward_deviation",
    "gradient_deviation",
    "pairs",
    "transform_pairs",
]


# --------------------------------------------------------------------------- helpers
def pairs(p: int) -> torch.Tensor:
    """All p² index pairs (a, b) in lexicographic order, shape (p², 2), int64."""
    return all_points(p, 2)


def transform_pairs(x: torch.Tensor, sigma: Sigma) -> torch.Tensor:
    """T_σ on raw index rows: column i is mapped by σ_{i+1} (Def 3.2), labels untouched."""
    return torch.stack([sigma[i][x[:, i]] for i in range(x.shape[1])], dim=1)


def _check_net_sigma(net: QuadraticNet, sigma: Sigma) -> None:
    if not isinstance(net, QuadraticNet):
        raise ValueError(f"net must be a QuadraticNet, got {type(net).__name__}")
    _check_sigma(sigma, net.p, 3)


def _aligned_logits(params: dict[str, torch.Tensor], x: torch.Tensor, sigma: Sigma | None,
                    scale: float) -> torch.Tensor:
    """Logits of the (possibly transformed) run, re-indexed to be comparable with the
    reference: row i holds f_{σ3(k)}(θ'; T x_i) in column k (identity if sigma is None)."""
    if sigma is None:
        return QuadraticNet.apply(params, x, scale).to(torch.float64)
    s3 = sigma[2].to(x.device)
    out = QuadraticNet.apply(params, transform_pairs(x, tuple(s.to(x.device) for s in sigma)), scale)
    return out[:, s3].to(torch.float64)


# --------------------------------------------------------------------------- Lemma C.5 / C.6
def forward_deviation(net: QuadraticNet, sigma: Sigma) -> float:
    """Lemma C.5 (forward equivariance) on the whole population.

    Returns ``max_{a,b,k} |f_{σ3(k)}(π_σθ; (σ1(a), σ2(b))) − f_k(θ; (a, b))|``.
    Since ``g(θ; (a, b, c)) = f_c(θ; (a, b))`` this also covers the regression head
    on all p³ triples. Exact equality holds for every θ; in floating point the two
    sides sum the same products in the same order, so the result is 0 or a few ulps.
    """
    _check_net_sigma(net, sigma)
    x = pairs(net.p).to(net.device)
    ref = _aligned_logits(net.params(), x, None, net.output_scale)
    other = _aligned_logits(net.permuted(sigma).params(), x, sigma, net.output_scale)
    return float((other - ref).abs().max())


def gradient_deviation(net: QuadraticNet, sigma: Sigma) -> float:
    """Lemma C.6 (gradient equivariance) for the regression head on all p³ triples.

    Returns ``max_x ‖π_σ(∇_θ g(θ; x)) − ∇_θ g(π_σθ; T_σ x)‖_∞`` over every triple
    x = (a, b, c), the gradients taken by ``torch.func`` (independent of the
    closed forms of Lemma C.6). As f_k(θ; (a, b)) = g(θ; (a, b, k)), this is the
    gradient statement for every logit of the classification net as well.
    """
    _check_net_sigma(net, sigma)
    p = net.p
    x3 = all_points(p, 3).to(net.device)
    s = net.output_scale

    def g_single(params: dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
        return QuadraticNet.apply_regression(params, xi[None], s)[0]

    grad_fn = torch.func.vmap(torch.func.grad(g_single), in_dims=(None, 0))
    g_ref = grad_fn(net.params(), x3)
    sig = tuple(t.to(net.device) for t in sigma[:3])
    g_perm = grad_fn(net.permuted(sigma).params(), transform_pairs(x3, sig))
    worst = 0.0
    for i in range(x3.shape[0]):
        W2, V2 = permute_params(g_ref["W"][i], g_ref["V"][i], sigma)
        worst = max(worst, float((W2 - g_perm["W"][i]).abs().max()),
                    float((V2 - g_perm["V"][i]).abs().max()))
    return worst


# --------------------------------------------------------------------------- Thm 3.3 / Prop 4.2 / Cor C.7
@dataclass
class CoupledRun:
    """Outcome of :func:`coupled_run`.

    ``steps``: the recorded steps; ``deviation[t]``: the max over all p² pairs and
    all p logits of |f_{σ3(k)}(θ'_t; T x) − f_k(θ_t; x)| at ``steps[t]``;
    ``scale[t]``: max |f_k(θ_t; x)| (to read the deviation relative to the outputs);
    ``max_deviation``: the max over steps; ``final_train_loss``: both runs' last
    training loss (equal up to rounding for a coupled run).
    """

    steps: np.ndarray
    deviation: np.ndarray
    scale: np.ndarray
    max_deviation: float
    final_train_loss: tuple[float, float]
    info: dict[str, Any] = field(default_factory=dict)


def coupled_run(net: QuadraticNet, train_data: Dataset, sigma: Sigma, config: Any, *,
                couple: bool = True, net2: QuadraticNet | None = None) -> CoupledRun:
    """Train on D from θ₀ and on T_σ(D) from π_σ(θ₀); compare the two functions (C2).

    ``config`` is a :class:`regimes.train.TrainConfig` (GD, Adam, AdamW, ℓ∞
    penalty ``lam_inf``, MSE or cross-entropy). The second run's callback
    evaluates ``f(θ'_t; T_σ x)`` on every pair x of the population, re-indexes the
    logits by σ3 and compares with the first run's ``f(θ_t; x)`` at the same step.
    For a regression task (triples) the comparison over all pairs and all logits
    is the comparison of g on all p³ triples.

    ``couple=False`` starts the second run from θ₀ itself (or from ``net2`` if
    given) instead of π_σ(θ₀): the deliberately broken coupling used as the
    non-equivariant reference in experiment 01.

    Thm 3.3 (regression), Prop 4.2 (classification) and Cor C.7 (Adam; and, by
    the same induction, any coordinate-wise-permutation-invariant penalty such as
    λ‖θ‖_∞ with the minimum-norm subgradient) say the deviation is exactly 0.
    """
    from regimes.train import train

    _check_net_sigma(net, sigma)
    if not isinstance(train_data, Dataset):
        raise ValueError(f"train_data must be a Dataset, got {type(train_data).__name__}")
    if train_data.task.p != net.p:
        raise ValueError(f"net has p={net.p} but train_data.task has p={train_data.task.p}")
    if net2 is not None and couple:
        raise ValueError("net2 is only used with couple=False")
    x = pairs(net.p).to(net.device)
    scale = net.output_scale
    ref: dict[int, torch.Tensor] = {}

    def cb_ref(step: int, params: dict[str, torch.Tensor], record: dict) -> None:
        ref[step] = _aligned_logits(params, x, None, scale)

    dev: dict[int, float] = {}

    def cb_other(step: int, params: dict[str, torch.Tensor], record: dict) -> None:
        out = _aligned_logits(params, x, sigma, scale)
        dev[step] = float((out - ref[step]).abs().max())

    r1 = train(net, train_data, config, callbacks=[cb_ref])
    start2 = net.permuted(sigma) if couple else (net if net2 is None else net2)
    r2 = train(start2, transform(train_data, sigma), config, callbacks=[cb_other])
    steps = np.array(sorted(dev), dtype=np.int64)
    deviation = np.array([dev[int(t)] for t in steps])
    scales = np.array([float(ref[int(t)].abs().max()) for t in steps])
    return CoupledRun(steps, deviation, scales, float(deviation.max()),
                      (float(r1.final["train_loss"]), float(r2.final["train_loss"])),
                      {"optimizer": config.optimizer, "loss": config.loss,
                       "lam_inf": float(config.lam_inf), "couple": couple})


# --------------------------------------------------------------------------- init hypothesis
def column_scaled_net(p: int, h: int, *, boost: float = 4.0, columns: tuple[int, ...] = (0,),
                      alpha: float = 1.0, seed: int = 0,
                      dtype: torch.dtype = torch.float64) -> QuadraticNet:
    """A deliberately non-invariant init: PyTorch-default uniform entries, except that
    the first-layer columns of tokens ``columns`` (in both the a- and the b-block)
    are multiplied by ``boost``.

    The entries are independent but not identically distributed, so the law of
    θ₀ is not invariant under π_σ (Thm 3.3's third hypothesis, Thm C.2 (3), fails)
    whenever σ1 or σ2 moves a boosted token.
    """
    p = check_int("p", p, low=2)
    h = check_int("h", h, low=1)
    boost = check_positive("boost", boost)
    for c in columns:
        check_int("columns entry", c, low=0, high=p - 1)
    net = QuadraticNet.init(p, h, alpha=alpha, dist="uniform", seed=seed, dtype=torch.float64)
    W = net.W.clone()
    for c in columns:
        W[:, c] *= boost
        W[:, p + c] *= boost
    return QuadraticNet(W.to(dtype), net.V.to(dtype), output_scale=net.output_scale)


@dataclass
class DistributionalTest:
    """Outcome of :func:`distributional_test`.

    ``original[r]`` = f_k(θ_t^{(r)}; x*) trained on D from draw r, ``transformed[r]`` =
    f_{σ3(k)}(θ'_t^{(r)}; T x*) trained on T_σ(D) from an independent draw r of the
    same law. ``ks_pvalue``: two-sample Kolmogorov–Smirnov p-value of the magnitudes
    |original| vs |transformed| (H0: same law; any function of the output has the
    same law under H0, and the magnitude makes KS sensitive to a change of scale,
    which is what a scaled column produces); ``std_ratio``: std(original) / std(transformed).
    """

    original: np.ndarray
    transformed: np.ndarray
    ks_statistic: float
    ks_pvalue: float
    std_ratio: float


def distributional_test(make_net: Any, train_data: Dataset, sigma: Sigma, config: Any, *,
                        draws: int = 100, x_star: tuple[int, int] = (0, 0), logit: int = 0,
                        seed: int = 0) -> DistributionalTest:
    """Is the randomized algorithm "draw θ₀ ~ P, train" equivariant in distribution (Def 2.2)?

    ``make_net(seed) -> QuadraticNet`` draws θ₀ from the law P. Draws ``seed,
    seed+1, …`` train on D; the independent draws ``seed+draws, …`` train on
    T_σ(D). The statistic is the trained net's logit ``logit`` at the input
    ``x_star`` (and correspondingly logit σ3(logit) at T x_star). Under an
    invariant P (i.i.d. entries) the two samples have the same law, so the KS
    p-value (on magnitudes) is uniform on [0, 1]; under a non-invariant P it is tiny.
    """
    from scipy.stats import ks_2samp

    from regimes.train import train

    draws = check_int("draws", draws, low=2)
    p = train_data.task.p
    _check_sigma(sigma, p, 3)
    a, b = (check_int("x_star entry", v, low=0, high=p - 1) for v in x_star)
    logit = check_int("logit", logit, low=0, high=p - 1)
    xs = torch.tensor([[a, b]])
    xs_t = transform_pairs(xs, sigma)
    k_t = int(sigma[2][logit])
    tdata = transform(train_data, sigma)
    orig, trans = [], []
    for r in range(draws):
        n1 = make_net(seed + r)
        res1 = train(n1, train_data, config)
        orig.append(float(res1.net(xs)[0, logit]))
        n2 = make_net(seed + draws + r)
        res2 = train(n2, tdata, config)
        trans.append(float(res2.net(xs_t)[0, k_t]))
    o, t = np.array(orig), np.array(trans)
    ks = ks_2samp(np.abs(o), np.abs(t))
    return DistributionalTest(o, t, float(ks.statistic), float(ks.pvalue), float(o.std() / t.std()))

