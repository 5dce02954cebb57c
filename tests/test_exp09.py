"""Experiment 09 (sample complexity): held-out set, ℓ2 ratio, the shared bisection, the
summary with censoring, and a tiny end-to-end run whose result carries the stable keys."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
import torch

from regimes.harness import EXPERIMENTS_DIR, run
from regimes.tasks import Task, sample_split


@pytest.fixture(scope="module")
def e09():
    path = next(EXPERIMENTS_DIR.glob("09_*.py"))
    spec = importlib.util.spec_from_file_location("exp_09_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_heldout_is_the_complement_of_the_training_pairs(e09):
    p, n = 7, 20
    split = sample_split(Task(p), n=n, seed=3)
    mask = e09.heldout_mask(p, split.train.x)
    pop = Task(p).population()
    assert int(mask.sum()) == p * p - n
    train = {tuple(r) for r in split.train.x.tolist()}
    assert all((tuple(r) in train) != bool(m) for r, m in zip(pop.x.tolist(), mask.tolist(), strict=True))


def test_l2_ratio_zero_predictor_is_one(e09):
    y = torch.tensor([0, 2, 1, 2])
    assert e09.l2_ratio(torch.zeros(4, 3), y, 3) == pytest.approx(1.0)
    assert e09.l2_ratio(torch.nn.functional.one_hot(y, 3).double(), y, 3) == pytest.approx(0.0)
    assert e09.l2_ratio(torch.full((4, 3), 1 / 3), y, 3) == pytest.approx(2 / 3)


def test_run_seeds_are_independent_and_distinct(e09):
    seen = {e09.run_seeds(0, p, s) for p in (11, 13) for s in range(3)}
    assert len(seen) == 6 and all(d != i for d, i in seen)
    assert e09.run_seeds(0, 11, 0) != e09.run_seeds(1, 11, 0)


def test_search_shares_evaluations_and_resolves_each_criterion(e09):
    calls = []

    def metrics_at(n):  # acc passes 0.95 from n = 300, the loss ratio ≤ ½ from n = 150
        calls.append(n)
        return {"acc": 1.0 if n >= 300 else 0.1, "loss": 0.2 if n >= 150 else 0.9}

    cache = e09.search(metrics_at, 10, 999, [("acc", 0.95, ">="), ("loss", 0.5, "<=")], 0.05)
    assert len(calls) == len(set(calls)) == len(cache)  # no size evaluated twice
    acc_star = min(n for n, m in cache.items() if m["acc"] >= 0.95)
    loss_star = min(n for n, m in cache.items() if m["loss"] <= 0.5)
    assert 300 <= acc_star <= 300 * 1.05 and 150 <= loss_star <= 150 * 1.05
    # dithered splits visit other sizes but resolve the same crossings
    dith = e09.search(metrics_at, 10, 999, [("acc", 0.95, ">="), ("loss", 0.5, "<=")], 0.05,
                      np.random.default_rng(1))
    assert set(dith) != set(cache)
    assert 300 <= min(n for n, m in dith.items() if m["acc"] >= 0.95) <= 315
    never = e09.search(lambda n: {"acc": 0.0}, 10, 999, [("acc", 0.95, ">=")], 0.05)
    assert sorted(never) == [999]  # fails at the ceiling: no bisection


def _row(method, p, s, st_acc, n_acc, st_l2="never", n_l2=math.nan):
    ceil = p * p - p
    out = {"method": method, "p": p, "seed": s, "floor": 5, "ceiling": ceil, "train_fit": 1.0,
           "at_ceiling": {"acc_heldout": 0.5, "l2_heldout": 1.0, "l2_population": 0.1, "acc_train": 1.0}}
    for name, st, n in (("acc", st_acc, n_acc), ("l2", st_l2, n_l2), ("l2_population", "ok", 0.7 * p * p)):
        n_min = 0.9 * n if st in ("ok", "ceiling") else math.nan
        out[name] = {"n_star": n, "n_min": n_min, "status": st, "nonmonotone": 0, "fraction": n / (p * p)}
    return out


def test_summary_excludes_censored_and_compares_paired_seeds(e09):
    c = {"ps": [11, 13, 17], "confidence": 0.95, "bootstrap": 200, "methods": ["kernel", "net"]}
    rows = []
    for s in range(3):
        for p in c["ps"]:
            rows.append(_row("net", p, s, "ok", 1.5 * p ** (5 / 3) * (1 + 0.05 * s)))
            rows.append(_row("kernel", p, s, "never", math.nan))
    rows[-2] = _row("net", 17, 2, "ceiling", 272.0)  # one net point met only at the ceiling p² − p
    summ = e09.summarize(rows, c, 0)
    fit = summ["exponents"]["net"]["acc"]
    assert fit["n_censored"] == 1 and fit["n_used"] == 8 and fit["censored"] == [[17.0, 2]]
    # (dropping seed 2's point at p = 17, the seed with the largest n*, pulls the pooled slope
    # down a little: the exclusion bias the fit's docstring warns about)
    assert fit["estimate"] == pytest.approx(5 / 3, abs=0.1)
    assert math.isnan(summ["exponents"]["kernel"]["acc"]["estimate"])
    assert "fewer than 2 distinct p" in summ["exponents"]["kernel"]["acc"]["reason"]
    assert summ["n_censored"]["kernel"]["acc"] == 9
    f17 = summ["fractions"]["net"]["acc"][2]
    assert f17["p"] == 17 and f17["n"] == 2 and f17["status"]["ceiling"] == 1
    assert f17["search_low"] == pytest.approx(0.9 * f17["estimate"])
    # the kernel never met it (n* > p² − p): every net seed needed fewer, the one met at the ceiling too
    tot = summ["comparison"]["acc"]["total"]
    assert tot == {"net_fewer": 9, "kernel_fewer": 0, "undecided": 0}
    assert summ["comparison"]["l2"]["total"]["undecided"] == 9
    assert {(r["method"], r["criterion"], r["status"]) for r in summ["censored"]} >= {("net", "acc", "ceiling")}


def test_tiny_end_to_end_run_has_stable_keys(e09, tmp_path):
    tiny = {"ps": [5, 7], "seeds": 2, "steps": 20, "width_mult": 2, "bootstrap": 50, "rel_resolution": 0.5}
    out = run(e09.EXPERIMENT, out=tmp_path, quiet=True, overrides=tiny)
    assert out.figure_path.exists() and out.figure_path.with_suffix(".pdf").exists()
    m = json.loads(out.result_path.read_text())["metrics"]
    for meth in ("kernel", "net"):
        for crit in ("acc", "l2", "l2_population"):
            e = m["exponents"][meth][crit]
            assert {"estimate", "low", "high", "n_censored", "censored", "reason"} <= set(e)
            assert [f["p"] for f in m["fractions"][meth][crit]] == [5, 7]
    assert len(m["n_star"]) == 2 * 2 * len(e09.QUICK["methods"]) and {"acc", "l2"} <= set(m["comparison"])
    assert {k: v["normalization"] for k, v in m["readings"].items()} == {"net": "whole", "net_loss": "loss"}
    assert [f["n"] for f in m["at_ceiling"]["kernel"]] == [5 * 5 - 5, 7 * 7 - 7]
    assert all(r["status"] in ("never", "ceiling", "floor") for r in m["censored"])
    for r in m["n_star"]:
        assert r["evaluations"] >= 1 and 0 <= r["acc"]["nonmonotone"]
        for crit in ("acc", "l2"):
            if r[crit]["status"] == "ok":
                assert r["floor"] < r[crit]["n_min"] <= r[crit]["n_star"] < r["ceiling"]


# --------------------------------------------------------------------------- the method set
def test_the_old_methods_keep_their_point_keys(e09):
    # the paper's two methods, the net under both readings of eq. A.1's normalization
    assert e09.QUICK["methods"] == e09.PAPER["methods"] == ["kernel", "net", "net_loss"]
    assert e09.FULL["methods"] == ["kernel", "net", "net_loss", "adamw", "max_margin"]
    # the cache key of an old method's point is the one earlier versions built (same fields,
    # same values), so quick's stored points and numbers carry over unchanged
    c = {**e09.QUICK, "mode": "quick"}
    old_cfg = {k: c[k] for k in ("width_mult", "steps", "dtype", "lr", "lam_inf", "acc_threshold", "l2_threshold",
                                 "lo_exp", "rel_resolution", "ceiling_heldout", "reference_search")}
    old = [{"method": m, "p": p, "seed": s, "run_seed": 0, "device": "cpu", "config": old_cfg,
            "version": e09.POINT_VERSION} for p in c["ps"] for s in range(c["seeds"]) for m in ("kernel", "net")]
    assert [k for k in e09.point_keys(c, 0, "cpu") if k["method"] in ("kernel", "net")] == old
    # adding methods adds their points and leaves the old ones' keys alone
    both = e09.point_keys({**c, "methods": ["kernel", "net", "adamw", "max_margin"]}, 0, "cpu")
    assert [k for k in both if k["method"] in ("kernel", "net")] == old
    assert {k["method"] for k in both} == {"kernel", "net", "adamw", "max_margin"}
    assert "adamw_steps" in next(k for k in both if k["method"] == "adamw")["config"]


@pytest.mark.parametrize("bad", [["kernel", "sgd"], [], "kernel", ["net", "net"]])
def test_bad_methods_raise_before_any_work(e09, tmp_path, bad):
    with pytest.raises(ValueError, match="methods") as err:
        run(e09.EXPERIMENT, out=tmp_path, quiet=True, overrides={"methods": bad, "ps": [5], "seeds": 1})
    if bad == ["kernel", "sgd"]:
        assert "adamw" in str(err.value) and "max_margin" in str(err.value)  # the known names are listed
    assert not list(tmp_path.rglob("*.json"))  # nothing was computed or written
    with pytest.raises(ValueError, match="method"):
        e09.evaluate("sgd", 5, 10, 0, 1, e09.QUICK)


def test_new_methods_see_the_kernels_training_pairs(e09, monkeypatch):
    """Paired design: every method trains on sample_split(seed=data_seed), max_margin too (it
    draws its own split inside regimes.extremal.max_margin: it must be the same pairs)."""
    import regimes.extremal as ex

    seen = {}
    real = ex.sample_split

    def spy(task, **kw):
        sp = real(task, **kw)
        seen.setdefault("x", sp.train.x.clone())
        return sp

    monkeypatch.setattr(ex, "sample_split", spy)
    c = {**e09.QUICK, "width_mult": 2, "mm_steps_per_stage": 5}
    e09.evaluate("max_margin", 7, 20, 11, 12, c)
    assert torch.equal(seen["x"], sample_split(Task(7), n=20, seed=11).train.x)


def test_max_margin_uses_the_given_init_seed():
    from regimes.extremal import max_margin

    a, b, d = [], [], []
    max_margin(5, 12, 10, [3], steps_per_stage=1, temperatures=[0.05], nets_out=a, init_seeds=[4])
    max_margin(5, 12, 10, [3], steps_per_stage=1, temperatures=[0.05], nets_out=b, init_seeds=[3])
    max_margin(5, 12, 10, [3], steps_per_stage=1, temperatures=[0.05], nets_out=d)
    assert torch.equal(b[0].W, d[0].W) and not torch.equal(a[0].W, d[0].W)
    with pytest.raises(ValueError, match="init_seeds"):
        max_margin(5, 12, 10, [3, 4], steps_per_stage=1, init_seeds=[1])


def test_tiny_run_with_all_four_methods(e09, tmp_path):
    tiny = {"ps": [5, 7, 11], "seeds": 2, "steps": 20, "width_mult": 2, "bootstrap": 50, "rel_resolution": 0.5,
            "adamw_steps": 30, "adamw_lr": 1e-2, "mm_steps_per_stage": 20,
            "methods": ["kernel", "net", "adamw", "max_margin"]}
    out = run(e09.EXPERIMENT, out=tmp_path, quiet=True, overrides=tiny)
    assert out.figure_path.exists()
    m = json.loads(out.result_path.read_text())["metrics"]
    assert len(m["n_star"]) == 4 * 3 * 2
    for meth in tiny["methods"]:
        assert set(m["exponents"][meth]) == {"acc", "l2", "l2_population"}
        assert [w["ps"] for w in m["local_exponents"][meth]["acc"]] == [[5, 7, 11]]
    # the max-margin classifier is scored by accuracy only: its ℓ2 criteria are undefined, never searched
    mm = [r for r in m["n_star"] if r["method"] == "max_margin"]
    assert all(r["l2"]["status"] == r["l2_population"]["status"] == "undefined" for r in mm)
    assert all(r["acc"]["status"] in ("ok", "never", "ceiling", "floor") for r in mm)
    assert m["exponents"]["max_margin"]["l2"]["estimate"] is None and m["fractions"]["max_margin"]["l2"] == []
    assert all(r["status"] != "undefined" for r in m["censored"])
    # every non-kernel method is compared with the kernel, seed by seed, on every criterion it defines
    assert set(m["comparison"]["acc"]["vs_kernel"]) == {"net", "adamw", "max_margin"}
    assert set(m["comparison"]["l2"]["vs_kernel"]) == {"net", "adamw"}
    for meth, cmp in m["comparison"]["acc"]["vs_kernel"].items():
        assert sum(cmp["total"].values()) == 3 * 2 and f"{meth}_fewer" in cmp["total"]
    # the kernel-vs-net comparison keeps its old keys
    assert m["comparison"]["acc"]["total"] == m["comparison"]["acc"]["vs_kernel"]["net"]["total"]
    assert m["theory"] == {"kernel": 2.0, "net": 5 / 3, "adamw": None, "max_margin": 5 / 3}
