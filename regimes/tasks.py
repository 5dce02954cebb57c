"""Modular-arithmetic tasks on Z_p, sampling, and the permutation group action.

Inputs are integer index tuples, never one-hot matrices: a classification
point is a row ``(a, b)`` of an ``(n, 2)`` int64 tensor with label
``op(a, b) mod p``; a regression point is a row ``(a, b, c)`` of an
``(n, 3)`` tensor with target ``p * 1(op(a, b) == c mod p)`` (paper Sec. 3,
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

from regimes._validate import MAX_POINTS, check_choice, check_fraction, check_index_tensor, check_int, check_seed

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


def all_points(p: int, m: int) -> torch.Tensor:
    """All ``p**m`` index rows of ``[p]^m`` in lexicographic order, int64 (p**m, m).

    Row ``i`` is the base-p expansion of ``i`` (most significant digit first), so it is the
    order of :meth:`Task.population` and :meth:`Task.flat_index`. The one definition of the
    population's order: every population-level computation (Σ matrices of Sec. D, the
    equivariance checks of Thm 3.3, the population losses) builds its points here.

    Raises ``ValueError`` if ``p < 2``, ``m < 1`` or ``p**m`` exceeds :data:`MAX_POINTS`.

    Examples
    --------
    >>> all_points(2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> all_points(5, 3).shape   # p**m rows
    torch.Size([125, 3])
    """
    p = check_int("p", p, low=2)
    m = check_int("m", m, low=1)
    if p**m > MAX_POINTS:
        raise ValueError(f"p**m = {p**m} points (p={p}, m={m}) is too many: need p**m <= {MAX_POINTS}")
    return torch.cartesian_prod(*[torch.arange(p)] * m).reshape(-1, m)


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

    Examples
    --------
    >>> Task(7).size, Task(7, "regression").size          # p² pairs, p³ triples
    (49, 343)
    >>> Task(5).label(torch.tensor([[2, 4], [3, 2]])).tolist()          # (a + b) mod p
    [1, 0]
    >>> Task(5, "regression").label(torch.tensor([[2, 4, 1], [2, 4, 0]])).tolist()   # p·1(a+b ≡ c)
    [5.0, 0.0]
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
        if self.size > MAX_POINTS:   # refused from the size alone, before anything is allocated
            top = int(MAX_POINTS ** (1 / self.arity))
            while (top + 1) ** self.arity <= MAX_POINTS:
                top += 1
            raise ValueError(f"p={self.p} is out of range: a {self.setting} task with {self.summands} summands has "
                             f"p**{self.arity} = {self.size:.3g} points, more than MAX_POINTS = {MAX_POINTS:,}; "
                             f"allowed 2 <= p <= {top}")

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
        ``p * 1(op(x[:, :-1]) == x[:, -1] mod p)`` (paper Sec. 3).
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
        """All ``N`` points in lexicographic order (row ``i`` has flat index ``i``):
        :func:`all_points` ``(p, arity)`` with their labels."""
        x = all_points(self.p, self.arity)
        return Dataset(self, x, self.label(x))

    def flat_index(self, x: torch.Tensor) -> torch.Tensor:
        """Position of each row of ``x`` in :meth:`population` (base-p number), on ``x``'s device."""
        x = check_index_tensor("x", x, self.p, self.arity)
        weights = self.p ** torch.arange(self.arity - 1, -1, -1, device=x.device)
        return (x * weights).sum(dim=1)

    def pair_task(self) -> Task:
        """The classification task on the heads of this task's inputs: ``self`` for
        classification; for regression the task on ``(a, b)`` (``summands`` indices) whose
        label is the ``c`` of the labelled triple (the argmax_c classifier of Prop E.7)."""
        return Task(self.p, "classification", self.op, self.summands)

    def labelled_point(self, pairs: torch.Tensor) -> torch.Tensor:
        """The one input that carries the label of each head ``pairs`` (m, summands).

        Classification: the pair itself. Regression: the labelled triple
        ``(a, b, op(a, b) mod p)``, the only triple of the pair with target ``p``
        (paper Sec. 3). Returns (m, arity) int64.
        """
        head = self.pair_task()
        pairs = check_index_tensor("pairs", pairs, self.p, head.arity)
        if self.setting == "classification":
            return pairs
        return torch.cat([pairs, head.label(pairs)[:, None]], dim=1)


@dataclass(frozen=True)
class Dataset:
    """Index inputs ``x`` (n, arity) with their labels ``y`` for a :class:`Task`.

    Examples
    --------
    >>> pop = Task(3).population()          # all p² = 9 pairs, lexicographic
    >>> len(pop), pop.x[5].tolist(), int(pop.y[5])
    (9, [1, 2], 0)
    """

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
    training points) and the full population, for population losses.

    Examples
    --------
    >>> s = sample_split(Task(5), n=10, seed=0)      # without replacement: 25 − 10 held out
    >>> len(s.train), len(s.test), len(s.population)
    (10, 15, 25)
    """

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

    Examples
    --------
    >>> s = sample_split(Task(7), fraction=0.5, seed=1)     # round(0.5 · 49) = 24 pairs
    >>> len(s.train), bool((Task(7).label(s.train.x) == s.train.y).all())
    (24, True)
    >>> s = sample_split(Task(3), n=20, replace=True, seed=0)   # i.i.d.: repeats allowed
    >>> len(s.train), len(s.test) == 9 - len(torch.unique(s.train.x, dim=0))
    (20, True)
    """
    if (n is None) == (fraction is None):
        raise ValueError(f"give exactly one of n and fraction (got n={n!r}, fraction={fraction!r})")
    N = task.size
    if fraction is not None:
        check_fraction("fraction", fraction)
        n = max(1, round(fraction * N))
    n = check_int("n", n, low=1, high=None if replace else N)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
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


# --------------------------------------------------------------------------
# Held-out sets: the one definition every test metric uses.
# --------------------------------------------------------------------------


def _check_dataset(name: str, data: object) -> Dataset:
    if not isinstance(data, Dataset):
        raise ValueError(f"{name} must be a Dataset, got {type(data).__name__}")
    return data


def _check_same_task(train: Dataset, other: Task, what: str) -> None:
    if other != train.task:
        raise ValueError(f"{what}={other} differs from train.task={train.task}: held-out points are only "
                         "defined against a training set of the same task")


def _in_train(train: Dataset, x: torch.Tensor) -> torch.Tensor:
    """Boolean (m,) mask: row i of ``x`` (inputs of ``train.task``) occurs in ``train.x``."""
    task = train.task
    keys = task.flat_index(x)
    seen = task.flat_index(train.x.to(x.device))
    return torch.isin(keys, seen)


def heldout(train: Dataset, test: Dataset) -> Dataset:
    """The points of ``test`` that are not training points: ``test`` minus every row that
    occurs in ``train.x`` (as an input, whatever its label).

    The test set of :func:`sample_split` is already the complement of the training set, so
    there this returns ``test`` unchanged; a user-supplied test set may overlap the
    training set, and the overlap is dropped here. Row order and duplicates of the kept
    rows are preserved; the result lives on ``test``'s device.

    Parameters
    ----------
    train : the training set, (n, arity) inputs.
    test : a dataset of the same :class:`Task`, (m, arity) inputs.

    Returns
    -------
    Dataset with the kept rows of ``test`` (``(m', arity)`` inputs, their labels).

    Raises
    ------
    ValueError : ``train`` or ``test`` is not a :class:`Dataset`, or their tasks differ.

    Example
    -------
    >>> task = Task(3)
    >>> tr = Dataset(task, torch.tensor([[0, 1]]), task.label(torch.tensor([[0, 1]])))
    >>> te = Dataset(task, torch.tensor([[0, 1], [2, 2]]), task.label(torch.tensor([[0, 1], [2, 2]])))
    >>> heldout(tr, te).x.tolist()
    [[2, 2]]
    """
    train, test = _check_dataset("train", train), _check_dataset("test", test)
    _check_same_task(train, test.task, "test.task")
    if len(test) == 0:
        return test
    keep = ~_in_train(train, test.x)
    return Dataset(test.task, test.x[keep], test.y[keep.to(test.y.device)])


def clean_pair_mask(train: Dataset, pairs: torch.Tensor) -> torch.Tensor:
    """Boolean (m,) mask over the heads ``pairs`` (m, summands): True where the pair's
    labelled point (:meth:`Task.labelled_point`) is not in ``train``.

    Regression: a pair (a, b) is *clean* when its labelled triple (a, b, (a+b) mod p) was
    never trained on; the other p − 1 triples of the pair carry target 0 and may have been.
    A pair whose labelled triple was trained on is scored right by a memoriser, so it is
    contaminated for the argmax_c accuracy (Prop E.7). Classification: the pair itself is
    not a training point. ``ValueError`` if ``train`` is not a :class:`Dataset` or
    ``pairs`` is not an (m, summands) index tensor with entries in [0, p).
    """
    train = _check_dataset("train", train)
    pts = train.task.labelled_point(pairs)
    return ~_in_train(train, pts)


def clean_pairs(train: Dataset, test_or_task: Dataset | Task) -> torch.Tensor:
    """The distinct heads (pairs (a, b) for ``summands = 2``) on which a held-out
    accuracy is scored: those whose labelled point was never trained on.

    Regression (paper Sec. 3, Prop E.7): the classifier is (a, b) ↦ argmax_c g(a, b, c); it is
    scored on the distinct pairs (a, b) of the candidate triples whose **labelled** triple
    (a, b, op(a, b) mod p) is not in ``train``. Classification: the distinct pairs of the
    candidates that are not in ``train`` (as :func:`heldout`).

    Parameters
    ----------
    train : the training set.
    test_or_task : a :class:`Dataset` of the same task (candidates: the heads of its rows)
        or the :class:`Task` itself (candidates: all ``p**summands`` heads).

    Returns
    -------
    (m, summands) int64 tensor of distinct heads in lexicographic order, on the device of
    the candidates (``test.x``'s; CPU for a Task).

    Raises
    ------
    ValueError : ``train`` is not a :class:`Dataset`, ``test_or_task`` is neither a
        :class:`Dataset` nor a :class:`Task`, or its task differs from ``train.task``.

    Example
    -------
    Regression, p = 3: training on the labelled triple (0, 1, 1) contaminates the pair
    (0, 1); training on (0, 2, 1) (target 0) leaves (0, 2) clean.

    >>> task = Task(3, "regression")
    >>> x = torch.tensor([[0, 1, 1], [0, 2, 1]])
    >>> tr = Dataset(task, x, task.label(x))
    >>> te = Dataset(task, torch.tensor([[0, 1, 0], [0, 2, 2]]), task.label(torch.tensor([[0, 1, 0], [0, 2, 2]])))
    >>> clean_pairs(tr, te).tolist()
    [[0, 2]]
    """
    train = _check_dataset("train", train)
    if isinstance(test_or_task, Task):
        _check_same_task(train, test_or_task, "task")
        heads = test_or_task.pair_task().population().x
    elif isinstance(test_or_task, Dataset):
        _check_same_task(train, test_or_task.task, "test.task")
        h = train.task.pair_task().arity
        heads = test_or_task.x[:, :h]
        if heads.shape[0]:
            heads = torch.unique(heads, dim=0)
    else:
        raise ValueError(f"test_or_task must be a Dataset or a Task, got {type(test_or_task).__name__}")
    if heads.shape[0] == 0:
        return heads.to(torch.int64)
    return heads[clean_pair_mask(train, heads)]


def one_hot(x: torch.Tensor, p: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Concatenated one-hot encoding ``(e_a, e_b[, e_c])`` of index rows, shape (n, arity*p).

    Only for generic autodiff and neural-tangents cross-checks: the library's
    own models gather columns instead.

    Examples
    --------
    >>> one_hot(torch.tensor([[0, 2]]), 3).tolist()       # (e_0, e_2) in R^3 × R^3
    [[1.0, 0.0, 0.0, 0.0, 0.0, 1.0]]
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
    """``k`` independent uniform permutations of ``[p]`` (as int64 index maps).

    Examples
    --------
    >>> sigma = random_sigma(5, seed=0)
    >>> len(sigma), [sorted(s.tolist()) == [0, 1, 2, 3, 4] for s in sigma]
    (3, [True, True, True])
    """
    check_int("p", p, low=2)
    gen = torch.Generator().manual_seed(check_seed("seed", seed))
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

    Examples
    --------
    Shifts σ₁(a) = a + 1, σ₂(b) = b + 2, σ₃(c) = c + 3 keep modular addition
    (σ₃(a + b) = σ₁(a) + σ₂(b) mod p), so the transformed labels are the task's own:

    >>> p = 5
    >>> shift = lambda k: (torch.arange(p) + k) % p
    >>> t = transform(Task(p).population(), (shift(1), shift(2), shift(3)))
    >>> bool((Task(p).label(t.x) == t.y).all())
    True
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
