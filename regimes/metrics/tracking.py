"""Tracking the empirical NTK through training: a callback for :func:`regimes.train.train`.

At each tracked step t the callback builds Θ̂_t on the training inputs (and, if
given, on a fixed seeded evaluation subset of the population, as the paper does
with 20,000 random points for Fig 2), compares it with Θ̂₀ and with the previous
tracked kernel, and writes the numbers into the step's metrics record (so they
land in ``TrainResult.history``)::

    tracker = KernelTracker(task, split.train.x, split.train.y, steps=log_steps(5000),
                            x_eval=eval_subset(task, 2000, seed=1))
    cfg = TrainConfig(..., eval_steps=tracker.steps)
    res = train(net, split.train, cfg, test=split.test, callbacks=[tracker])

Keys added (``S`` = set, ``train`` or ``eval``):

* ``ntk_change_S`` — ‖Θ̂_t − Θ̂₀‖_F (the paper's plotted kernel change);
* ``ntk_rel_change_S`` — ‖Θ̂_t − Θ̂₀‖_F / ‖Θ̂₀‖_F;
* ``ntk_dist_S`` / ``ntk_cdist_S`` — Fort et al.'s S(t, 0), plain / centred;
* ``ntk_step_dist_S`` — S(t_prev, t) between consecutive tracked kernels, and
  ``ntk_velocity_S`` = that divided by t − t_prev (the kernel velocity);
* ``ntk_align_train`` / ``ntk_calign_train`` — kernel–target alignment (Kumar et al.),
  plain / centred, with one-hot targets (classification) or the regression targets;
* ``after_kernel_acc`` (with ``after_pairs``) — held-out accuracy of ridgeless kernel
  regression with the kernel frozen at step t (Θ̂_t instead of Θ̂₀; "after kernel",
  Long 2021), trained on the training set, no prior mean, scored on the clean
  ``after_pairs`` only (:func:`regimes.tasks.clean_pair_mask`: classification, pairs not in
  the training set; regression, pairs whose labelled triple (a, b, (a+b) mod p) is not);
  ``after_kernel_n`` — how many pairs it scores. A Gram the solver refuses as not PSD
  beyond its own precision's round-off gives NaN with a ``RuntimeWarning`` (counted in
  ``KernelTracker.after_kernel_failures``), never a silent NaN;
* ``tracking_time_s`` — seconds this callback has spent so far (overhead benchmark).

The kernel is the first-logit eNTK (Fig 1 footnote: f₁, i.e. logit 0) for
classification and the regression eNTK of g = f_c for triples; for the quadratic
net it comes from the closed form (:mod:`regimes.ntk.closed_form`), for any
other functional model from ``torch.func`` (:func:`regimes.ntk.autodiff.entk_autodiff`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from regimes._validate import check_index_tensor, check_int, check_seed
from regimes.metrics.kernel import center_targets, cosine_distance, frobenius
from regimes.models.protocol import Params
from regimes.tasks import Dataset, Task, clean_pair_mask

__all__ = ["KernelFn", "KernelTracker", "autodiff_kernel_fn", "eval_subset", "log_steps",
           "quadratic_kernel_fn"]

#: ``kernel_fn(params, x, x2) -> (n, n2)`` float64 Gram (x2 = None: x against itself).
KernelFn = Callable[[Params, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def log_steps(total: int, num: int = 40, *, first: int = 1) -> list[int]:
    """Step 0 and about ``num`` log-spaced integer steps from ``first`` to ``total`` (both
    included, duplicates removed): the default tracking cadence."""
    total = check_int("total", total, low=0)
    num = check_int("num", num, low=1)
    first = check_int("first", first, low=1)
    if total < first:
        return [0] if total == 0 else [0, total]
    pts = np.unique(np.round(np.geomspace(first, total, num)).astype(np.int64))
    return sorted({0, total, *(int(t) for t in pts)})


def eval_subset(task: Task, size: int, *, seed: int = 0) -> torch.Tensor:
    """A fixed random subset of ``size`` distinct population inputs (int64 index rows),
    drawn with a ``torch.Generator`` seeded with ``seed``. ``ValueError`` if ``size``
    exceeds the population ``task.size``."""
    if not isinstance(task, Task):
        raise ValueError(f"task must be a Task, got {type(task).__name__}")
    size = check_int("size", size, low=1, high=task.size)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
    idx = torch.randperm(task.size, generator=gen)[:size]
    return task.population().x[idx]


def quadratic_kernel_fn(setting: str = "classification", *, logit: int = 0,
                        output_scale: float = 1.0, dense: bool = True) -> KernelFn:
    """Closed-form eNTK of the quadratic net on ``params = {"W", "V"}``: the first-logit
    kernel on pairs (classification) or the regression kernel on triples.

    ``dense=False`` calls :mod:`regimes.ntk.closed_form` (group-by-group, memory-lean).
    ``dense=True`` (default, for repeated tracking on fixed inputs) evaluates the same
    formula as two dense matrix products and a 0/1/2 mask m(x, x') = 1(a = a') +
    1(b = b') (and 1(c = c') for triples), which is several times faster for n ≲ 10⁴
    but holds n·n2 mask entries (cross-checked in tests/test_metrics.py). The mask is
    rebuilt on every call: a cache of it saved no measurable time (n = 2000, p = 97,
    h = 16 or 388 on CPU: the matrix products dominate), and one keyed on the tensors'
    addresses served stale masks after an in-place edit or an address reuse.
    """
    if setting not in ("classification", "regression"):
        raise ValueError(f"setting={setting!r} is not allowed: choose 'classification' or 'regression'")
    if dense:
        return _DenseQuadraticKernel(setting == "regression", logit, output_scale)
    from regimes.ntk.closed_form import first_logit_ntk, regression_ntk

    if setting == "classification":
        return lambda prm, x, x2=None: first_logit_ntk(prm["W"], prm["V"], x, x2, logit=logit,
                                                       output_scale=output_scale)
    return lambda prm, x, x2=None: regression_ntk(prm["W"], prm["V"], x, x2, output_scale=output_scale)


class _DenseQuadraticKernel:
    """K = s² [ Q Q'ᵀ (⊙ 1(c = c')) + 4 m ⊙ (A A'ᵀ) ] with z = W[:, a] + W[:, p+b], Q = z⊙z, and
    A = z ⊙ V_logit (first logit) or z ⊙ V_c (regression); the masks are computed per call
    (no cache: it can never return another input's masks)."""

    def __init__(self, regression: bool, logit: int, output_scale: float) -> None:
        self.regression, self.logit, self.s2 = regression, int(logit), float(output_scale) ** 2

    def _mask(self, x: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        m = (x[:, None, 0] == x2[None, :, 0]).to(torch.float64) + (x[:, None, 1] == x2[None, :, 1])
        c = (x[:, None, 2] == x2[None, :, 2]).to(torch.float64) if self.regression else None
        return 4.0 * m, c

    def __call__(self, params: Params, x: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        W, V = params["W"].to(torch.float64), params["V"].to(torch.float64)
        x2 = x if x2 is None else x2
        p = V.shape[0]
        Wt = W.t()
        Z, Z2 = Wt[x[:, 0]] + Wt[p + x[:, 1]], Wt[x2[:, 0]] + Wt[p + x2[:, 1]]
        m4, c = self._mask(x, x2)
        if self.regression:
            A, A2 = Z * V[x[:, 2]], Z2 * V[x2[:, 2]]
            K = ((Z * Z) @ (Z2 * Z2).t()).mul_(c).add_(m4 * (A @ A2.t()))
        else:
            v = V[self.logit]
            K = ((Z * Z) @ (Z2 * Z2).t()).add_(m4 * ((Z * (v * v)) @ Z2.t()))
        return K.mul_(self.s2) if self.s2 != 1.0 else K


def autodiff_kernel_fn(apply_fn: Callable[[Params, torch.Tensor], torch.Tensor], *,
                       logit: int | None = 0) -> KernelFn:
    """eNTK of any functional model ``apply_fn(params, x) -> (n, k)`` by ``torch.func``
    (logit ``logit``'s scalar kernel; ``None`` for a scalar-output model)."""
    from regimes.ntk.autodiff import entk_autodiff

    return lambda prm, x, x2=None: entk_autodiff(apply_fn, prm, x, x2, output=logit)


class KernelTracker:
    """Callback ``cb(step, params, record)`` measuring eNTK movement at chosen steps.

    Parameters
    ----------
    task : the task (its setting picks the kernel and the accuracy of the after-kernel).
    x_train, y_train : training inputs (index rows) and labels / regression targets.
    steps : the steps to track (the train loop must evaluate at them: pass
        ``eval_steps=tracker.steps``), or ``None`` with ``every``.
    every : track every ``every``-th step instead (> 0); neither given → every call.
    x_eval : a fixed evaluation subset (e.g. :func:`eval_subset`), optional.
    after_pairs : (m, 2) candidate test pairs for the after-kernel accuracy, optional. Pairs
        that are not held out are dropped (a test metric never scores a training point):
        classification, pairs in ``x_train``; regression, pairs whose labelled triple
        (a, b, (a+b) mod p) is in ``x_train`` (a memoriser answers those right). The number
        kept is ``self.after_n`` and the record's ``after_kernel_n``; with none kept the
        accuracy is NaN.
    kernel_fn : ``kernel_fn(params, x, x2)``; default the quadratic net's closed form.
    output_scale, logit : passed to the default closed-form kernel.
    after_every : compute the after-kernel accuracy at every ``after_every``-th tracked step
        (its ridgeless solve costs an n×n eigendecomposition); the first and the others
        are NaN in between.
    keep_kernels : keep every tracked training kernel in ``self.kernels`` (memory!).
    """

    def __init__(self, task: Task, x_train: torch.Tensor, y_train: torch.Tensor, *,
                 steps: Iterable[int] | None = None, every: int | None = None,
                 x_eval: torch.Tensor | None = None, after_pairs: torch.Tensor | None = None,
                 kernel_fn: KernelFn | None = None, output_scale: float = 1.0, logit: int = 0,
                 after_every: int = 1, keep_kernels: bool = False) -> None:
        if not isinstance(task, Task):
            raise ValueError(f"task must be a Task, got {type(task).__name__}")
        if steps is not None and every is not None:
            raise ValueError("give at most one of steps and every")
        if every is not None:
            every = check_int("every", every, low=1)
        if steps is not None:
            steps = sorted({check_int("steps entry", s, low=0) for s in steps})
            if not steps:
                raise ValueError("steps is empty: give at least one step to track")
        self.task = task
        self.regression = task.setting == "regression"
        self.x_train = check_index_tensor("x_train", x_train, task.p, task.arity)
        if not isinstance(y_train, torch.Tensor) or y_train.shape[:1] != self.x_train.shape[:1]:
            raise ValueError(f"y_train must be a tensor with {self.x_train.shape[0]} rows")
        self.y_train = y_train
        self.x_eval = None if x_eval is None else check_index_tensor("x_eval", x_eval, task.p, task.arity)
        if self.x_eval is not None and self.x_eval.shape[0] > task.size:
            raise ValueError(f"x_eval has {self.x_eval.shape[0]} rows: more than the population "
                             f"({task.size})")
        self.steps = steps
        self.every = every
        self._step_set = None if steps is None else set(steps)
        self.kernel_fn = kernel_fn or quadratic_kernel_fn(task.setting, logit=logit, output_scale=output_scale)
        self.keep_kernels = keep_kernels
        # targets for the alignment and the after-kernel
        if self.regression:
            self._Y = y_train.to(torch.float64).reshape(-1, 1)
        else:
            self._Y = torch.nn.functional.one_hot(y_train.long(), task.p).to(torch.float64)
        self.after_x = self.after_labels = None
        self.after_n = 0
        if after_pairs is not None:
            pairs = check_index_tensor("after_pairs", after_pairs, task.p, 2)
            pairs = pairs[clean_pair_mask(Dataset(task, self.x_train, y_train), pairs)]
            self.after_n = int(pairs.shape[0])
            ptask = task.pair_task()
            self.after_labels = ptask.label(pairs)
            if self.regression:
                c = torch.arange(task.p).repeat(pairs.shape[0])
                self.after_x = torch.cat([pairs.repeat_interleave(task.p, 0), c[:, None]], dim=1)
            else:
                self.after_x = pairs
        self.after_every = check_int("after_every", after_every, low=1)
        self._n_tracked = 0
        self._T: torch.Tensor | None = None      # target Gram YYᵀ and its centred version
        self._Tc: torch.Tensor | None = None
        self._K0c: dict[str, tuple[torch.Tensor, float]] = {}
        self._K0: dict[str, tuple[torch.Tensor, float]] = {}
        self._prev: dict[str, tuple[int, torch.Tensor, float]] = {}
        self.kernels: dict[int, torch.Tensor] = {}
        self.history: dict[str, list[float]] = {"step": []}
        self.time_s = 0.0
        self.after_kernel_failures = 0  # after-kernel solves refused (recorded NaN, with a warning)

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue as if never interrupted: the reference
        kernels Θ̂₀ (for S(t, 0) and ‖Θ̂_t − Θ̂₀‖), the previous tracked kernel (velocity), the
        target Grams, the after-kernel cadence, kept kernels, history and counters.
        :func:`regimes.train.train` saves it in its checkpoint and restores it on resume
        (through :meth:`load_state_dict`), as for any callback with this pair of methods."""
        return {"x_train": self.x_train.cpu(), "n_tracked": self._n_tracked,
                "T": self._T, "Tc": self._Tc, "nT": getattr(self, "_nT", None),
                "K0": self._K0, "K0c": self._K0c, "prev": self._prev, "kernels": self.kernels,
                "history": self.history, "time_s": self.time_s,
                "after_kernel_failures": self.after_kernel_failures}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output. ``ValueError`` if it was saved by a tracker on
        other training inputs."""
        x = state["x_train"]
        if tuple(x.shape) != tuple(self.x_train.shape) or not torch.equal(x, self.x_train.cpu()):
            raise ValueError("KernelTracker.load_state_dict: the saved state was tracked on other training "
                             "inputs (x_train differs)")
        self._n_tracked = int(state["n_tracked"])
        self._T, self._Tc = state["T"], state["Tc"]
        if state["nT"] is not None:
            self._nT = tuple(state["nT"])
        self._K0, self._K0c = dict(state["K0"]), dict(state["K0c"])
        self._prev = dict(state["prev"])
        self.kernels = dict(state["kernels"])
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.time_s = float(state["time_s"])
        self.after_kernel_failures = int(state["after_kernel_failures"])

    # ------------------------------------------------------------------ cadence
    def tracks(self, step: int) -> bool:
        """Whether ``step`` is one of the tracked steps."""
        if self._step_set is not None:
            return step in self._step_set
        if self.every is not None:
            return step % self.every == 0
        return True

    # ------------------------------------------------------------------ callback
    def __call__(self, step: int, params: Params, record: dict[str, Any]) -> None:
        if not self.tracks(step):
            return
        t0 = time.perf_counter()
        out: dict[str, float] = {}
        dev = next(iter(params.values())).device
        sets = {"train": self.x_train}
        if self.x_eval is not None:
            sets["eval"] = self.x_eval
        K_train = None
        for name, x in sets.items():
            K_native = self.kernel_fn(params, x.to(dev), None)
            K = K_native.to(torch.float64)
            Kc = _center(K, K_native.dtype)
            nK, nKc = frobenius(K), frobenius(Kc)
            if name == "train":
                # the after-kernel solve gets the kernel in its own precision: its PSD tolerance
                K_train, Kc_train, norms_train, K_train_native = K, Kc, (nK, nKc), K_native
            if name not in self._K0:
                self._K0[name], self._K0c[name] = (K, nK), (Kc, nKc)
            (K0, n0), (K0c, n0c) = self._K0[name], self._K0c[name]
            # ‖K − K0‖² = ‖K‖² + ‖K0‖² − 2⟨K, K0⟩ loses digits when K ≈ K0: use the difference
            diff = frobenius(K - K0)
            out[f"ntk_change_{name}"] = diff
            out[f"ntk_rel_change_{name}"] = diff / n0 if n0 > 0 else float("nan")
            out[f"ntk_dist_{name}"] = _cos_dist(K, K0, nK, n0)
            out[f"ntk_cdist_{name}"] = _cos_dist(Kc, K0c, nKc, n0c)
            if name in self._prev:
                s_prev, K_prev, nK_prev = self._prev[name]
                d = _cos_dist(K, K_prev, nK, nK_prev)
                out[f"ntk_step_dist_{name}"] = d
                out[f"ntk_velocity_{name}"] = d / (step - s_prev) if step > s_prev else float("nan")
            self._prev[name] = (step, K, nK)
        assert K_train is not None
        if self._T is None:
            Y = self._Y.to(K_train.device)
            self._T = Y @ Y.t()
            Yc = center_targets(Y, self.y_train.dtype if self.regression else torch.float64)
            self._Tc = Yc @ Yc.t()
            self._nT = (frobenius(self._T), frobenius(self._Tc))
        out["ntk_align_train"] = 1.0 - _cos_dist(K_train, self._T, norms_train[0], self._nT[0])
        out["ntk_calign_train"] = 1.0 - _cos_dist(Kc_train, self._Tc, norms_train[1], self._nT[1])
        if self.after_x is not None:
            due = self._n_tracked % self.after_every == 0 and self.after_n > 0
            out["after_kernel_acc"] = self._after_kernel(params, K_train_native, dev, step) if due else float("nan")
            out["after_kernel_n"] = self.after_n
        self._n_tracked += 1
        if self.keep_kernels:
            self.kernels[step] = K_train.cpu()
        self.time_s += time.perf_counter() - t0
        out["tracking_time_s"] = self.time_s
        record.update(out)
        self.history["step"].append(step)
        n_prev = len(self.history["step"]) - 1
        for k, v in out.items():
            col = self.history.setdefault(k, [float("nan")] * n_prev)
            col.append(v)
        for col in self.history.values():
            if len(col) == n_prev:
                col.append(float("nan"))

    def _after_kernel(self, params: Params, K_train: torch.Tensor, dev: torch.device, step: int) -> float:
        """Held-out accuracy of ridgeless regression with Θ̂_t. ``K_train`` is in the kernel's
        own precision, so the PSD check allows that precision's round-off (not float64's).
        A Gram the solver still refuses (not PSD beyond round-off: a broken ``kernel_fn``) is
        recorded as NaN *with* a ``RuntimeWarning`` carrying the solver's message and a count
        in ``self.after_kernel_failures``, never silently."""
        from regimes.kernels import kernel_regression

        Kxt = self.kernel_fn(params, self.after_x.to(dev), self.x_train.to(dev)).to(torch.float64)
        try:
            pred = kernel_regression(K_train, self._Y.to(dev), Kxt, ridge=0.0)
        except ValueError as err:
            self.after_kernel_failures += 1
            warnings.warn(f"KernelTracker: after-kernel accuracy at step {step} recorded as NaN: {err}",
                          RuntimeWarning, stacklevel=3)
            return float("nan")
        pred = pred.reshape(-1, self.task.p)  # regression: one row of p triples per pair
        return float((pred.argmax(dim=1).cpu() == self.after_labels).to(torch.float64).mean())


def _center(K: torch.Tensor, given: torch.dtype = torch.float64) -> torch.Tensor:
    """H K H of a float64 Gram (no validation: the hot path of the tracker), exactly 0 when it is
    round-off, ‖HKH‖_F ≤ 4·n·eps·‖K‖_F with eps of ``given`` (the dtype the kernel function
    returned), as in :func:`regimes.metrics.kernel.center_gram`: an eNTK constant up to round-off
    then has no centred direction (NaN centred distance and alignment), not a distance of 1."""
    r = K.mean(dim=0, keepdim=True)
    C = (K - r).sub_(K.mean(dim=1, keepdim=True)).add_(r.mean())
    eps = torch.finfo(given if given.is_floating_point else torch.float64).eps
    return C.zero_() if frobenius(C) <= 4 * K.shape[0] * eps * frobenius(K) else C


def _cos_dist(A: torch.Tensor, B: torch.Tensor, na: float, nb: float) -> float:
    """Fort et al.'s S = 1 − ⟨A, B⟩_F / (‖A‖_F ‖B‖_F) from precomputed norms: the public core
    :func:`regimes.metrics.kernel.cosine_distance`, with the tracker's choice for a zero kernel
    made explicit: NaN (``on_zero="nan"``), not an exception. A zero (or, centred, constant)
    eNTK has no direction, so its distance and alignment are undefined; a metric must not abort
    the training run it observes, so the record holds NaN there and the run goes on."""
    return cosine_distance(A, B, na, nb, on_zero="nan")
