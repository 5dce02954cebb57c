"""Held-out metrics, defined once in regimes.tasks (heldout, clean_pair_mask, clean_pairs)
and used by regimes.train: a test metric never scores a point seen in training.

Regression (paper §1, Prop E.7): the accuracy of (a, b) ↦ argmax_c g(a, b, c) is scored on
the *clean* pairs, whose labelled triple (a, b, (a+b) mod p) was never trained on. A pair
whose labelled triple was trained on is answered right by any memoriser, so scoring it
measures memory, not generalisation.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from regimes.kernels import kernel_gram, kernel_regression
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Dataset, Task, all_points, clean_pair_mask, clean_pairs, heldout, sample_split
from regimes.train import TrainConfig, evaluate, train


def _ds(task: Task, rows: list[list[int]]) -> Dataset:
    x = torch.tensor(rows, dtype=torch.int64).reshape(-1, task.arity)
    return Dataset(task, x, task.label(x))


# ----------------------------------------------------------------------------- (i) memorisers
def _memoriser_split():
    p = 11
    task = Task(p, "regression")
    return p, task, sample_split(task, fraction=0.6, seed=0)   # fixed seed: 799 of the 1331 triples


def test_lookup_memoriser_is_at_chance_on_clean_pairs_only():
    """A lookup table, exact on the training triples and i.i.d. N(0, 1e-3) noise elsewhere
    (seed 1), has no information about a clean pair: its argmax there is uniform, so the
    number of clean pairs it gets right is Binomial(m, 1/p). Margin: 3 binomial standard
    deviations, acc ≤ 1/p + 3·sqrt((1/p)(1 − 1/p)/m) (one-sided tail ≈ 0.3% under the
    normal approximation; with the fixed seeds the outcome is deterministic: m = 42 clean
    pairs, 6 right, 0.143 ≤ 0.224). The old all-pairs metric scores the 121 pairs met
    among the test triples, 79 of them contaminated (answered right by memory): 0.70."""
    p, task, split = _memoriser_split()
    table = 1e-3 * torch.randn(task.size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    table[task.flat_index(split.train.x)] = split.train.y
    G = table.reshape(p * p, p)                  # g(a, b, ·) in population order
    ptask = task.pair_task()
    labels = ptask.label(ptask.population().x)

    def acc(pairs):
        i = ptask.flat_index(pairs)
        return float((G[i].argmax(1) == labels[i]).double().mean())

    clean = clean_pairs(split.train, split.test)
    m = clean.shape[0]
    bound = 1 / p + 3 * math.sqrt((1 / p) * (1 - 1 / p) / m)
    assert m == 42
    assert acc(clean) <= bound
    old = torch.unique(split.test.x[:, :2], dim=0)   # every pair occurring among the test triples
    assert old.shape[0] == 121 and acc(old) >= 0.6   # power: the old metric is far above chance
    # the table really memorises: exact on every training triple
    assert torch.equal(table[task.flat_index(split.train.x)], split.train.y)


def test_ridgeless_kernel_memoriser_is_at_chance_on_clean_pairs():
    """Ridgeless RBF regression on one-hot triples interpolates the 799 training triples; the
    kernel is S_p³-invariant, so off the training set its predictor is a sum of functions of
    at most two of (a, b, c) (regimes.kernels.builders) and cannot find the labelled triple:
    clean-pair accuracy ≤ 1/p + 3σ (same binomial margin as above; measured 0.0), while the
    old all-pairs metric reads 0.65."""
    p, task, split = _memoriser_split()
    pts = all_points(p, 3)
    idx = task.flat_index(split.train.x)
    K = kernel_gram("rbf", pts, p=p)
    pred = kernel_regression(K[idx][:, idx], split.train.y, K[:, idx])
    assert float((pred[idx] - split.train.y).abs().max()) < 1e-8          # a memoriser
    G = pred.reshape(p * p, p)
    ptask = task.pair_task()
    labels = ptask.label(ptask.population().x)
    clean = ptask.flat_index(clean_pairs(split.train, split.test))
    m = clean.numel()
    acc_clean = float((G[clean].argmax(1) == labels[clean]).double().mean())
    assert acc_clean <= 1 / p + 3 * math.sqrt((1 / p) * (1 - 1 / p) / m)
    old = ptask.flat_index(torch.unique(split.test.x[:, :2], dim=0))
    assert float((G[old].argmax(1) == labels[old]).double().mean()) >= 0.6


# ----------------------------------------------------------------------------- (ii) by hand
def test_clean_pairs_enumerated_by_hand():
    """p = 3 regression. Training triples: (0,1,1) labelled (0+1=1) → pair (0,1) contaminated;
    (0,2,1) has target 0 → pair (0,2) stays clean; (2,2,1) labelled (2+2=4≡1) → (2,2)
    contaminated. Test triples (complement) meet every pair; the clean ones are the other 7."""
    task = Task(3, "regression")
    train_ds = _ds(task, [[0, 1, 1], [0, 2, 1], [2, 2, 1]])
    split_test = heldout(train_ds, task.population())
    assert len(split_test) == 27 - 3
    got = clean_pairs(train_ds, split_test).tolist()
    want = [[a, b] for a, b in itertools.product(range(3), repeat=2) if (a, b) not in {(0, 1), (2, 2)}]
    assert got == want
    assert clean_pairs(train_ds, task).tolist() == want                 # candidates: all p² pairs
    mask = clean_pair_mask(train_ds, torch.tensor([[0, 1], [0, 2], [2, 2], [1, 1]]))
    assert mask.tolist() == [False, True, False, True]
    # a user test set: (0, 1, 0) and (0, 1, 2) are held-out triples, but their pair (0, 1) is
    # contaminated (its labelled triple (0, 1, 1) was trained on); (0, 2, 1) is a training point
    te = _ds(task, [[0, 1, 0], [0, 1, 2], [1, 0, 0], [0, 2, 1]])
    assert heldout(train_ds, te).x.tolist() == [[0, 1, 0], [0, 1, 2], [1, 0, 0]]
    assert clean_pairs(train_ds, te).tolist() == [[0, 2], [1, 0]]         # pairs of all test rows
    assert clean_pairs(train_ds, heldout(train_ds, te)).tolist() == [[1, 0]]   # what train() scores


def test_heldout_classification_by_hand_drops_the_overlap():
    task = Task(5)
    tr = _ds(task, [[0, 0], [1, 2], [4, 4], [1, 2]])      # duplicates allowed
    te = _ds(task, [[1, 2], [3, 3], [0, 0], [2, 1], [3, 3]])
    h = heldout(tr, te)
    assert h.x.tolist() == [[3, 3], [2, 1], [3, 3]]        # order and duplicates kept
    assert torch.equal(h.y, task.label(h.x))
    assert clean_pairs(tr, te).tolist() == [[2, 1], [3, 3]]
    assert len(heldout(tr, task.population())) == 25 - 3
    empty = heldout(tr, _ds(task, [[0, 0]]))
    assert len(empty) == 0 and empty.x.shape == (0, 2)


def test_clean_pairs_three_summands():
    """Cor D.8's regression on [p]^4: the labelled point of (a, b, c) is (a, b, c, (a+b+c) mod p)."""
    task = Task(3, "regression", summands=3)
    tr = _ds(task, [[0, 0, 1, 1], [1, 1, 1, 2]])          # (0,0,1): labelled; (1,1,1): 3≡0 ≠ 2, not
    assert clean_pair_mask(tr, torch.tensor([[0, 0, 1], [1, 1, 1]])).tolist() == [False, True]
    assert clean_pairs(tr, task).shape == (26, 3)


# ----------------------------------------------------------------------------- (iii) train()
def _recompute_regression(net: QuadraticNet, train_x: torch.Tensor, test_x: torch.Tensor, p: int):
    """Clean-pair accuracy and held-out loss from Python sets, independently of regimes.tasks."""
    trained = {tuple(r) for r in train_x.tolist()}
    held = [r for r in test_x.tolist() if tuple(r) not in trained]
    pairs = sorted({(a, b) for a, b, _ in held if (a, b, (a + b) % p) not in trained})
    x = torch.tensor(pairs)
    acc = float((net(x).argmax(1) == (x[:, 0] + x[:, 1]) % p).double().mean())
    hx = torch.tensor(held)
    y = p * ((hx[:, 0] + hx[:, 1]) % p == hx[:, 2]).double()
    loss = float(((net.regression(hx).double() - y) ** 2).mean())
    return acc, len(pairs), loss, len(held)


@pytest.mark.parametrize("test_kind", ["complement", "population"])
def test_train_regression_test_acc_is_the_clean_pair_accuracy(test_kind):
    p = 7
    task = Task(p, "regression")
    split = sample_split(task, n=150, seed=3)
    test = split.test if test_kind == "complement" else split.population    # overlapping: dropped
    net = QuadraticNet.init(p, 28, seed=0)
    res = train(net, split.train, TrainConfig(steps=60, lr=0.02, optimizer="adam", eval_every=30), test=test)
    acc, n_pairs, loss, n_held = _recompute_regression(res.net, split.train.x, test.x, p)
    f = res.final
    assert f["test_acc"] == pytest.approx(acc, abs=1e-12)
    assert f["test_acc_n"] == n_pairs and f["test_n"] == n_held == task.size - 150
    assert f["test_loss"] == pytest.approx(loss, rel=1e-12)
    # the old all-pairs metric would also score the contaminated pairs
    all_pairs = torch.unique(test.x[:, :2], dim=0)
    assert all_pairs.shape[0] > n_pairs
    # population metrics only on request, under their own names
    assert "population_acc" not in f
    rec = evaluate(res.net, split.train, res.config, test=test, population=True)
    pairs = task.pair_task().population().x
    assert rec["population_acc"] == pytest.approx(
        float((res.net(pairs).argmax(1) == task.pair_task().label(pairs)).double().mean()), abs=1e-12)
    pop = task.population()
    assert rec["population_loss"] == pytest.approx(float(((res.net.regression(pop.x) - pop.y) ** 2).mean()),
                                                   rel=1e-12)
    assert rec["test_acc"] == pytest.approx(acc, abs=1e-12)


def test_train_classification_drops_overlapping_test_points():
    p = 7
    split = sample_split(Task(p), n=20, seed=1)
    net = QuadraticNet.init(p, 14, seed=2)
    cfg = TrainConfig(steps=10, lr=0.1, loss="cross_entropy", eval_every=10)
    a = train(net, split.train, cfg, test=split.test)
    b = train(net, split.train, cfg, test=split.population)
    for k in ("test_loss", "test_acc", "test_n", "test_acc_n"):
        assert a.final[k] == b.final[k], k
    assert a.final["test_n"] == a.final["test_acc_n"] == p * p - 20
    x = split.test.x
    assert a.final["test_acc"] == float((a.net(x).argmax(1) == split.test.y).double().mean())
    # a test set made of training points only scores nothing: NaN, not a training score
    c = evaluate(a.net, split.train, cfg, test=split.train)
    assert c["test_n"] == 0 and math.isnan(c["test_acc"]) and math.isnan(c["test_loss"])


def test_after_kernel_scores_clean_pairs_only():
    """KernelTracker's after-kernel accuracy drops candidate pairs that are not held out."""
    from regimes.metrics.tracking import KernelTracker

    for setting in ("classification", "regression"):
        task = Task(5, setting)
        split = sample_split(task, n=40 if setting == "regression" else 10, seed=4)
        candidates = task.pair_task().population().x                 # all 25 pairs, trained or not
        tr = KernelTracker(task, split.train.x, split.train.y, after_pairs=candidates)
        want = clean_pairs(split.train, task)
        assert 0 < tr.after_n == want.shape[0] < 25
        rec: dict = {}
        tr(0, QuadraticNet.init(5, 10, seed=0).params(), rec)
        assert rec["after_kernel_n"] == tr.after_n and 0 <= rec["after_kernel_acc"] <= 1
    # nothing held out: NaN, not a training score
    task = Task(3)
    pop = task.population()
    tr = KernelTracker(task, pop.x, pop.y, after_pairs=pop.x)
    rec = {}
    tr(0, QuadraticNet.init(3, 6, seed=0).params(), rec)
    assert tr.after_n == 0 and math.isnan(rec["after_kernel_acc"])


# ----------------------------------------------------------------------------- (iv) bad input
def test_mismatched_tasks_and_bad_arguments_raise():
    tr = sample_split(Task(5, "regression"), n=20, seed=0).train
    other = sample_split(Task(7, "regression"), n=20, seed=0).test
    cls = sample_split(Task(5), n=5, seed=0).test
    with pytest.raises(ValueError, match=r"test\.task"):
        heldout(tr, other)
    with pytest.raises(ValueError, match=r"test\.task"):
        heldout(tr, cls)
    with pytest.raises(ValueError, match=r"test\.task"):
        clean_pairs(tr, other)
    with pytest.raises(ValueError, match="task=Task"):
        clean_pairs(tr, Task(5))
    with pytest.raises(ValueError, match="test_or_task must be a Dataset or a Task"):
        clean_pairs(tr, torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="train must be a Dataset"):
        heldout(tr.x, other)
    with pytest.raises(ValueError, match="pairs has shape"):
        clean_pair_mask(tr, torch.zeros(3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="pairs"):
        clean_pair_mask(tr, torch.tensor([[0, 5]]))
    net = QuadraticNet.init(5, 8, seed=0)
    cfg = TrainConfig(steps=1, lr=0.1)
    with pytest.raises(ValueError, match="population"):
        evaluate(net, tr, cfg, population="yes")
    with pytest.raises(ValueError, match=r"test\.task"):
        evaluate(net, tr, cfg, test=cls)
    with pytest.raises(ValueError, match=r"test\.task"):
        train(net, tr, cfg, test=cls)
