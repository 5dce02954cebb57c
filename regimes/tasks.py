"""Modular-arithmetic tasks on Z_p, sampling, and the permutation group action.

Inputs are integer index tuples, never one-hot matrices: a classification
point is a row ``(a, b)`` of an ``(n, 2)`` int64 tensor with label
``op(a, b) mod p``; a regression point is a row ``(a, b, c)`` of an
``(n, 3)`` tensor with target ``p * 1(op(a, b) == c mod p)`` (paper §1,
footnote: the zero predictor then has population square loss ``p``).
``one_hot`` exists only for generic autodiff and the neural-tangents cross-check.

For the kernel lower bounds (Cor D.8) a task may have more than two summands:
classification on ``[p]^m`` with label ``(x_1 + ... + x_m) mod p`` and
regression on ``[p]^(m+1)`` with target ``p * 1(x_1 + ... + x_m == x_{m+1})``.
Cor D.8's ``m`` (the number of coordinates of the regression domain) is
``Task.arity`` of the regression task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from regimes._validate import check_choice, check_fraction, check_index_tensor, check_int

Setting = Literal["classification", "regression"]

#: Label functions from Gromov's paper (eq. 17-18 family), all taken mod p.
OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "sum_of_squares": lambda a, b: a * a + b * b,
    "square_of_sum": lambda a, b: (a + b) ** 2,
    "quadratic": lambda a, b: a * a + a * b + b * b,
    "cubic": lambda a, b: a**3 + a * b * b + b,
}


@dataclass(frozen=True)
class Task:
    """A modular-arithmetic task: modulus ``p``, setting, label function, summands.

    Parameters
    ----------
    p : modulus, ``p >= 2`` (no primality needed anywhere in the theory).
    setting : ``"classification"`` (``p**summands`` points, p-way label) or
        ``"regression"`` (``p**(summands+1)`` points, target in ``{0, p}``).
    op : key of :data:`OPS`; ops other than ``"add"`` need ``summands == 2``.
    summands : number of summands (Cor D.8); ``2`` is the paper's a + b.
    """

    p: int
    setting: Setting = "classification"
    op: str = "add"
    summands: int = 2

    def __post_init__(self) -> None:
        check_int("p", self.p, low=2)
        check_choice("setting", self.setting, ("classification", "regression"))
        check_choice("op", self.op, OPS)
        check_int("summands", self.summands, low=1)
        if self.op != "add" and self.summands != 2:
            raise ValueError(f"summands={self.summands} is only allowed with op='add' (got op={self.op!r})")

    @property
    def arity(self) -> int:
        """Number of indices per input row (2 for pairs, 3 for triples)."""
        return self.summands + (self.setting == "regression")

    @property
    def size(self) -> int:
        """Population size N: ``p**2`` (classification) or ``p**3`` (regression)."""
        return self.p**self.arity

    def label(self, x: torch.Tensor) -> torch.Tensor:
        """Labels of index rows ``x``.

        Classification: ``op(x) mod p`` as int64. Regression: the float64 target
        ``p * 1(op(x[:, :-1]) == x[:, -1] mod p)`` (paper §1).
        """
        x = check_index_tensor("x", x, self.p, self.arity)
        head = x if self.setting == "classification" else x[:, :-1]
        if self.summands == 2:
            c = OPS[self.op](head[:, 0], head[:, 1]) % self.p
        else:
            c = head.sum(dim=1) % self.p
        if self.setting == "classification":
            return c
        return (c == x[:, -1]).to(torch.float64) * self.p

    def population(self) -> Dataset:
        """All ``N`` points in lexicographic order (row ``i`` has flat index ``i``)."""
        grids = torch.cartesian_prod(*[torch.arange(self.p)] * self.arity)
        x = grids.reshape(-1, self.arity)
        return Dataset(self, x, self.label(x))

    def flat_index(self, x: torch.Tensor) -> torch.Tensor:
        """Position of each row of ``x`` in :meth:`population` (base-p number)."""
        x = check_index_tensor("x", x, self.p, self.arity)
        weights = self.p ** torch.arange(self.arity - 1, -1, -1)
        return (x * weights).sum(dim=1)


@dataclass(frozen=True)
class Dataset:
    """Index inputs ``x`` (n, arity) with their labels ``y`` for a :class:`Task`."""

    task: Task
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: str | torch.device) -> Dataset:
        """The same dataset on ``device``."""
        return Dataset(self.task, self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class Split:
    """A training sample, its test set (the population minus the distinct
    training points) and the full population, for population losses."""

    train: Dataset
    test: Dataset
    population: Dataset


def sample_split(
    task: Task,
    *,
    n: int | None = None,
    fraction: float | None = None,
    replace: bool = False,
    seed: int = 0,
) -> Split:
    """Draw a training set of ``n`` points (or ``fraction`` of the population).

    ``replace=True`` draws i.i.d. uniform points with replacement, the sampling
    of the theory (Thm 3.4, 4.3, D.2: ``D_train ~ D^n``); ``replace=False``
    draws distinct points. The test set is the complement of the distinct
    training points. Exactly one of ``n`` and ``fraction`` must be given; the
    draw uses a ``torch.Generator`` seeded with ``seed``.
    """
    if (n is None) == (fraction is None):
        raise ValueError(f"give exactly one of n and fraction (got n={n!r}, fraction={fraction!r})")
    N = task.size
    if fraction is not None:
        check_fraction("fraction", fraction)
        n = max(1, round(fraction * N))
    n = check_int("n", n, low=1, high=None if replace else N)
    gen = torch.Generator().manual_seed(int(seed))
    if replace:
        idx = torch.randint(N, (n,), generator=gen)
    else:
        idx = torch.randperm(N, generator=gen)[:n]
    pop = task.population()
    in_train = torch.zeros(N, dtype=torch.bool)
    in_train[idx] = True
    train = Dataset(task, pop.x[idx], pop.y[idx])
    test = Dataset(task, pop.x[~in_train], pop.y[~in_train])
    return Split(train, test, pop)


def one_hot(x: torch.Tensor, p: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Concatenated one-hot encoding ``(e_a, e_b[, e_c])`` of index rows, shape (n, arity*p).

    Only for generic autodiff and neural-tangents cross-checks: the library's
    own models gather columns instead.
    """
    p = check_int("p", p, low=2)
    x = check_index_tensor("x", x, p, tuple(range(1, 16)))
    out = torch.zeros(x.shape[0], x.shape[1] * p, dtype=dtype, device=x.device)
    cols = x + p * torch.arange(x.shape[1], device=x.device)
    out.scatter_(1, cols, 1.0)
    return out


# --------------------------------------------------------------------------
# The permutation group G = S_p^3 (Def 3.2 and Prop 4.2's group).
# --------------------------------------------------------------------------

Sigma = tuple[torch.Tensor, ...]


def random_sigma(p: int, seed: int, k: int = 3) -> Sigma:
    """``k`` independent uniform permutations of ``[p]`` (as int64 index maps)."""
    check_int("p", p, low=2)
    gen = torch.Generator().manual_seed(int(seed))
    return tuple(torch.randperm(p, generator=gen) for _ in range(k))


def _check_sigma(sigma: Sigma, p: int, k: int) -> None:
    if len(sigma) < k:
        raise ValueError(f"sigma has {len(sigma)} permutations: need at least {k}")
    for i, s in enumerate(sigma[:k]):
        if s.shape != (p,) or not torch.equal(torch.sort(s).values, torch.arange(p, device=s.device)):
            raise ValueError(f"sigma[{i}] is not a permutation of 0..{p - 1}")


def transform(data: Dataset, sigma: Sigma) -> Dataset:
    """The group action T_sigma on a dataset.

    Classification (Prop 4.2): ``((a, b), c) -> ((s1(a), s2(b)), s3(c))``.
    Regression (Def 3.2): ``(a, b, c) -> (s1(a), s2(b), s3(c))`` with the target
    unchanged. The transformed data is in general *not* modular addition any
    more; that is the point of the argument.
    """
    task = data.task
    if task.summands != 2:
        raise ValueError(f"transform needs summands=2, got {task.summands}")
    _check_sigma(sigma, task.p, 3)
    x = torch.stack([sigma[i].to(data.x.device)[data.x[:, i]] for i in range(task.arity)], dim=1)
    y = sigma[2].to(data.y.device)[data.y] if task.setting == "classification" else data.y
    return Dataset(task, x, y)


def inverse(sigma: Sigma) -> Sigma:
    """The inverse permutations, componentwise."""
    return tuple(torch.argsort(s) for s in sigma)
