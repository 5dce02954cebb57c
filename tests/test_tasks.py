"""regimes.tasks: populations, labels, sampling, splits, the group action T_σ, bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from regimes.tasks import (
    OPS,
    Task,
    inverse,
    one_hot,
    random_sigma,
    sample_split,
    transform,
)

# Brute-force label functions, written independently of regimes.tasks.OPS.
PY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "sum_of_squares": lambda a, b: a**2 + b**2,
    "square_of_sum": lambda a, b: (a + b) ** 2,
    "quadratic": lambda a, b: a**2 + a * b + b**2,
    "cubic": lambda a, b: a**3 + a * b**2 + b,
}


def test_every_op_has_a_reference() -> None:
    assert set(PY_OPS) == set(OPS)


@pytest.mark.parametrize("p", [2, 5, 6, 7])
def test_population_order_and_size(p: int) -> None:
    for setting, arity in (("classification", 2), ("regression", 3)):
        task = Task(p, setting)
        pop = task.population()
        assert task.arity == arity and task.size == p**arity == len(pop)
        assert pop.x.dtype == torch.int64 and pop.x.shape == (p**arity, arity)
        want = list(itertools.product(range(p), repeat=arity))
        assert [tuple(r) for r in pop.x.tolist()] == want
        assert torch.equal(task.flat_index(pop.x), torch.arange(p**arity))


@pytest.mark.parametrize("op", sorted(PY_OPS))
@pytest.mark.parametrize("p", [2, 6, 7])
def test_labels_match_brute_force(op: str, p: int) -> None:
    cls = Task(p, "classification", op=op).population()
    for (a, b), y in zip(cls.x.tolist(), cls.y.tolist(), strict=True):
        assert y == PY_OPS[op](a, b) % p
    assert cls.y.dtype == torch.int64
    reg = Task(p, "regression", op=op).population()
    assert reg.y.dtype == torch.float64
    for (a, b, c), y in zip(reg.x.tolist(), reg.y.tolist(), strict=True):
        assert y == (p if PY_OPS[op](a, b) % p == c else 0)


@pytest.mark.parametrize("m", [1, 3, 4])
def test_m_summands(m: int) -> None:
    p = 4
    cls = Task(p, "classification", summands=m).population()
    assert cls.x.shape == (p**m, m)
    for row, y in zip(cls.x.tolist(), cls.y.tolist(), strict=True):
        assert y == sum(row) % p
    reg = Task(p, "regression", summands=m).population()
    assert reg.x.shape == (p ** (m + 1), m + 1)
    for row, y in zip(reg.x.tolist(), reg.y.tolist(), strict=True):
        assert y == (p if sum(row[:-1]) % p == row[-1] else 0)


def test_regression_targets_have_the_papers_scale() -> None:
    """Footnote of §3: the zero predictor has population square loss p."""
    for p in (3, 7):
        y = Task(p, "regression").population().y
        assert float((y**2).mean()) == pytest.approx(p)


# --------------------------------------------------------------------------- sampling
def test_sample_without_replacement() -> None:
    task = Task(7)
    s = sample_split(task, n=20, seed=3)
    assert len(s.train) == 20
    idx = task.flat_index(s.train.x)
    assert len(torch.unique(idx)) == 20
    # test = complement of the training points; train ∪ test = population
    tidx = task.flat_index(s.test.x)
    assert len(s.test) == task.size - 20
    assert set(idx.tolist()).isdisjoint(tidx.tolist())
    assert set(idx.tolist()) | set(tidx.tolist()) == set(range(task.size))
    assert torch.equal(s.train.y, task.label(s.train.x))
    assert torch.equal(s.test.y, task.label(s.test.x))
    assert len(s.population) == task.size
    # all points can be drawn
    assert len(sample_split(task, n=task.size, seed=0).test) == 0


def test_sample_with_replacement_statistics() -> None:
    """i.i.d. uniform draws: the number of distinct points has mean N(1 − (1 − 1/N)^n);
    over 200 seeds the average lies within 5 standard errors of it; test = complement."""
    task = Task(5)  # N = 25
    N, n = task.size, 25
    distinct = []
    for seed in range(200):
        s = sample_split(task, n=n, replace=True, seed=seed)
        assert len(s.train) == n
        k = len(torch.unique(task.flat_index(s.train.x)))
        assert len(s.test) == N - k
        distinct.append(k)
    d = torch.tensor(distinct, dtype=torch.float64)
    mean = N * (1 - (1 - 1 / N) ** n)
    se = float(d.std()) / math.sqrt(len(d))
    assert abs(float(d.mean()) - mean) <= 5 * se
    # with replacement allows n > N
    assert len(sample_split(task, n=3 * N, replace=True, seed=0).train) == 3 * N


def test_sample_uniformity_chi_square() -> None:
    """Pooled with-replacement draws are uniform over the N points (χ² test, df = N − 1,
    threshold at the 0.999 quantile ≈ df + 4.5·sqrt(2 df) is conservative)."""
    task = Task(4)
    counts = torch.zeros(task.size)
    for seed in range(100):
        idx = task.flat_index(sample_split(task, n=32, replace=True, seed=seed).train.x)
        counts += torch.bincount(idx, minlength=task.size)
    expected = counts.sum() / task.size
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = task.size - 1
    assert chi2 < df + 4.5 * math.sqrt(2 * df)


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.5, 1.0])
def test_sample_fraction(fraction: float) -> None:
    task = Task(6, "regression")
    s = sample_split(task, fraction=fraction, seed=1)
    assert len(s.train) == max(1, round(fraction * task.size))


def test_sampling_is_seeded() -> None:
    task = Task(7)
    a, b = sample_split(task, n=10, seed=5), sample_split(task, n=10, seed=5)
    c = sample_split(task, n=10, seed=6)
    assert torch.equal(a.train.x, b.train.x)
    assert not torch.equal(a.train.x, c.train.x)
    assert torch.equal(random_sigma(7, seed=1)[0], random_sigma(7, seed=1)[0])


# --------------------------------------------------------------------------- group action
@pytest.mark.parametrize("setting", ["classification", "regression"])
def test_transform_and_inverse(setting: str) -> None:
    p = 7
    task = Task(p, setting)
    data = sample_split(task, n=25, seed=2).train
    sigma = random_sigma(p, seed=9)
    t = transform(data, sigma)
    for row, trow, y, ty in zip(data.x.tolist(), t.x.tolist(), data.y.tolist(), t.y.tolist(), strict=True):
        assert trow == [int(sigma[i][v]) for i, v in enumerate(row)]
        if setting == "classification":
            assert ty == int(sigma[2][y])  # Prop 4.2: the label moves by σ3
        else:
            assert ty == y  # Def 3.2: the target is unchanged
    back = transform(t, inverse(sigma))
    assert torch.equal(back.x, data.x) and torch.equal(back.y, data.y)
    for s, si in zip(sigma, inverse(sigma), strict=True):
        assert torch.equal(s[si], torch.arange(p))


def test_transformed_data_is_not_modular_addition() -> None:
    """T_σ keeps the data set consistent but (for generic σ) it is no longer a + b mod p."""
    p = 7
    task = Task(p)
    pop = task.population()
    t = transform(pop, random_sigma(p, seed=1))
    assert not torch.equal(t.y, task.label(t.x))


def test_one_hot() -> None:
    x = torch.tensor([[0, 3], [2, 1]])
    u = one_hot(x, 4)
    assert u.shape == (2, 8) and u.dtype == torch.float64
    assert u.sum(1).tolist() == [2.0, 2.0]
    assert torch.equal(u.nonzero()[:, 1], torch.tensor([0, 7, 2, 5]))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("p", [1, 0, -3, 2.5, True, "7"])
def test_bad_p(p) -> None:
    with pytest.raises(ValueError, match="p"):
        Task(p)
    with pytest.raises(ValueError, match="p"):
        random_sigma(p, seed=0)


def test_bad_task_fields() -> None:
    with pytest.raises(ValueError, match="op='pow'"):
        Task(5, op="pow")
    with pytest.raises(ValueError, match="setting"):
        Task(5, setting="ranking")
    with pytest.raises(ValueError, match="summands"):
        Task(5, summands=0)
    with pytest.raises(ValueError, match="summands"):
        Task(5, op="mul", summands=3)


def test_bad_sampling() -> None:
    task = Task(5)
    with pytest.raises(ValueError, match=r"n=26.*<= 25"):
        sample_split(task, n=26)  # without replacement: at most the population
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n="):
            sample_split(task, n=bad, replace=True)
    for frac in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"fraction.*\(0, 1\]"):
            sample_split(task, fraction=frac)
    with pytest.raises(ValueError, match="exactly one of n and fraction"):
        sample_split(task, n=3, fraction=0.5)
    with pytest.raises(ValueError, match="exactly one of n and fraction"):
        sample_split(task)


@pytest.mark.parametrize("x,msg", [
    (torch.tensor([[0, 5]]), r"index 5.*0\.\.4"),
    (torch.tensor([[-1, 0]]), r"index -1"),
    (torch.tensor([0, 1]), r"shape"),
    (torch.tensor([[0, 1, 2]]), r"shape \(1, 3\).*\(n, 2\)"),
    (torch.tensor([[0.0, 1.0]]), r"dtype"),
    ([[0, 1]], r"torch.Tensor"),
])
def test_bad_index_tensors(x, msg: str) -> None:
    task = Task(5)
    with pytest.raises(ValueError, match=msg):
        task.label(x)
    with pytest.raises(ValueError, match=msg):
        task.flat_index(x)


def test_bad_one_hot_and_sigma() -> None:
    with pytest.raises(ValueError, match="p"):
        one_hot(torch.tensor([[0, 0]]), 1)
    data = sample_split(Task(5), n=4).train
    with pytest.raises(ValueError, match="sigma"):
        transform(data, random_sigma(6, seed=0))
    with pytest.raises(ValueError, match="sigma"):
        transform(data, random_sigma(5, seed=0, k=2))
    bad = (torch.tensor([0, 0, 1, 2, 3]),) * 3
    with pytest.raises(ValueError, match="sigma"):
        transform(data, bad)


def test_all_points_is_the_population_order() -> None:
    """Row i of all_points(p, m) is i written in base p (most significant digit first): the
    order of Task.population, Task.flat_index and every population-level computation."""
    from regimes.equivariance import pairs
    from regimes.tasks import MAX_POINTS, all_points

    p, m = 4, 3
    x = all_points(p, m)
    assert x.dtype == torch.int64 and tuple(x.shape) == (p**m, m)
    by_hand = torch.tensor([[i // p**2, (i // p) % p, i % p] for i in range(p**m)])
    assert torch.equal(x, by_hand)
    assert torch.equal(Task(p, "regression").population().x, x)
    assert torch.equal(Task(p, "regression").flat_index(x), torch.arange(p**m))
    assert torch.equal(pairs(p), all_points(p, 2))
    for bad in ({"p": 1, "m": 2}, {"p": 3, "m": 0}, {"p": 2.5, "m": 2}):
        with pytest.raises(ValueError):
            all_points(**bad)
    with pytest.raises(ValueError, match="too many"):
        all_points(10, 8)                       # 1e8 > MAX_POINTS rows, refused before any work
    assert MAX_POINTS == 50_000_000
