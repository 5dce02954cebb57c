"""Tests of the training-dynamics code: the one-layer transformer (parity with an
independent implementation, init law, shared-embedding equivariance, its torch.func
eNTK), the C17 kernel-exit check and the C17b init-scale check (slow), and the run cache they
share with experiments 10 and 11."""

from __future__ import annotations

import math

import pytest
import torch

from regimes.models.transformer import PARAM_NAMES, Transformer
from regimes.ntk.autodiff import entk_autodiff
from regimes.tasks import Task


def _reference_logits(net: Transformer, x: torch.Tensor) -> torch.Tensor:
    """An independent, loop-based causal transformer over all three positions (no
    shortcut to the last position), read at ``=``."""
    P = net.params()
    p, d, H = net.p, net.d_model, net.n_heads
    dh = d // H
    out = []
    for a, b in x.tolist():
        tok = [a, b, p]
        h = torch.stack([P["embed"][t] + P["pos"][i] for i, t in enumerate(tok)])    # (3, d)
        heads = []
        for hh in range(H):
            sl = slice(hh * dh, (hh + 1) * dh)
            Q, K, Vv = h @ P["W_Q"][:, sl], h @ P["W_K"][:, sl], h @ P["W_V"][:, sl]
            S = Q @ K.t() / math.sqrt(dh)
            S = S.masked_fill(torch.triu(torch.ones(3, 3, dtype=torch.bool), 1), float("-inf"))
            heads.append(torch.softmax(S, dim=1) @ Vv)
        r = h + torch.cat(heads, dim=1) @ P["W_O"]
        u = r + torch.relu(r @ P["W_in"] + P["b_in"]) @ P["W_out"] + P["b_out"]
        out.append((u @ P["W_U"])[2])
    return torch.stack(out)


def test_transformer_matches_reference_and_shapes() -> None:
    p = 7
    net = Transformer.init(p, d_model=16, n_heads=4, seed=0)
    x = Task(p).population().x
    y = net(x)
    assert y.shape == (p * p, p) and y.dtype == torch.float64
    assert torch.allclose(y, _reference_logits(net, x), atol=1e-12, rtol=1e-12)


def test_transformer_init_law_and_seed() -> None:
    p, d, m = 11, 32, 64
    a = Transformer.init(p, d_model=d, n_heads=2, d_mlp=m, seed=3)
    b = Transformer.init(p, d_model=d, n_heads=2, d_mlp=m, seed=3)
    c = Transformer.init(p, d_model=d, n_heads=2, d_mlp=m, seed=4)
    assert all(torch.equal(a.params()[k], b.params()[k]) for k in PARAM_NAMES)
    assert not torch.equal(a.params()["W_Q"], c.params()["W_Q"])
    fan = {"W_Q": d, "W_K": d, "W_V": d, "W_O": d, "W_in": d, "b_in": d, "W_out": m, "b_out": m, "W_U": d}
    alpha = 0.5
    s = Transformer.init(p, d_model=d, n_heads=2, d_mlp=m, seed=5, alpha=alpha)
    for k, f in fan.items():
        assert float(s.params()[k].abs().max()) <= alpha / math.sqrt(f) + 1e-15   # U(±α/√fan_in)
    # embeddings N(0, α²): sample std of 12·32 = 384 draws within 15 % of α (≈ 3.6 s.e.)
    emb = s.params()["embed"]
    assert abs(float(emb.std()) - alpha) < 0.15 * alpha
    assert s.num_params() == sum(t.numel() for t in s.params().values())


def test_transformer_shared_embedding_equivariance() -> None:
    """Relabelling the number tokens by σ (one σ for both slots: the embeddings are
    shared) and the output classes by σ3 maps f to f∘T (Thm 3.3 with shared embeddings)."""
    p = 7
    net = Transformer.init(p, d_model=16, n_heads=2, seed=1)
    g = torch.Generator().manual_seed(0)
    s, s3 = torch.randperm(p, generator=g), torch.randperm(p, generator=g)
    P = {k: v.clone() for k, v in net.params().items()}
    P["embed"][s] = net.params()["embed"][:p]          # E'[σ(a)] = E[a]
    P["W_U"][:, s3] = net.params()["W_U"]               # column σ3(k) of W_U' = column k
    x = Task(p).population().x
    f = net(x)
    f2 = net.apply(P, torch.stack([s[x[:, 0]], s[x[:, 1]]], dim=1))
    assert torch.allclose(f2[:, s3], f, atol=1e-12)


def test_transformer_entk_psd_and_cross_check() -> None:
    p = 5
    net = Transformer.init(p, d_model=8, n_heads=2, seed=0)
    x = Task(p).population().x[:12]
    K = entk_autodiff(net.apply, net.params(), x, output=0)
    assert K.shape == (12, 12)
    assert torch.allclose(K, K.t(), atol=1e-10)
    assert float(torch.linalg.eigvalsh(K)[0]) > -1e-9 * float(K.abs().max())
    # independent cross-check: per-example gradients by plain autograd
    rows = []
    for i in range(12):
        prm = {k: v.clone().requires_grad_(True) for k, v in net.params().items()}
        out = net.apply(prm, x[i : i + 1])[0, 0]
        grads = torch.autograd.grad(out, list(prm.values()))
        rows.append(torch.cat([gg.reshape(-1) for gg in grads]))
    J = torch.stack(rows)
    assert torch.allclose(K, J @ J.t(), atol=1e-10, rtol=1e-10)


def test_transformer_bad_input() -> None:
    with pytest.raises(ValueError, match="divisible"):
        Transformer.init(7, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="alpha"):
        Transformer.init(7, d_model=8, n_heads=2, alpha=0.0)
    with pytest.raises(ValueError, match="p="):
        Transformer.init(1)
    net = Transformer.init(5, d_model=8, n_heads=2)
    with pytest.raises(ValueError, match="index"):
        net(torch.tensor([[0, 5]]))
    with pytest.raises(ValueError, match="missing"):
        Transformer({"embed": torch.zeros(6, 8)}, 2)


def test_c17_kernel_exit_small_p(tmp_path) -> None:
    """C17 quick: p = 31, GD from a large init (α = 16), weight decay 2e-3, seeds 0–2, 8,000 steps
    (experiment 10's lazy row, trained here into an empty run cache): in every run the
    training-set eNTK has barely turned (Fort distance S(t_fit, 0) ≤ 0.1) when the training set is
    fit, the run generalises after it, and S grows at least tenfold between t_fit and t_gen."""
    from regimes import runcache
    from regimes.checks import run_check

    with runcache.using(tmp_path):
        r = run_check("C17", quick=True)
    assert len(r.details["per_seed"]) == 3 and r.details["steps"] == 8000
    for d in r.details["per_seed"]:
        assert d["t_fit"] is not None and d["t_gen"] is not None, d
        assert d["t_gen"] > d["t_fit"], d               # generalisation after memorisation
        assert d["S_fit"] <= 0.1, d
        assert d["growth_ratio"] >= 10.0, d
        assert d["exit_after_mem"] is True, d          # t_exit ≥ t_mem
        assert d["rel_fit"] is not None and d["rel_gen"] is not None, d   # both measures reported
    assert r.verdict == "PASS" and r.holds is True and r.measured >= 10.0


def test_c17_is_inconclusive_when_a_seed_never_generalises(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A seed that never reaches 95% held-out accuracy leaves C17 untested: INCONCLUSIVE, not PASS."""
    import numpy as np

    from regimes import runcache, runs
    from regimes.checks import run_check

    steps = np.array([0, 10, 100, 1000], dtype=float)
    arrays = {"step": steps, "train_acc": np.array([0.1, 0.5, 1.0, 1.0]), "test_acc": np.zeros(4),
              "ntk_dist_train": np.array([0.0, 0.001, 0.004, 0.02]),
              "ntk_rel_change_train": np.array([0.0, 0.01, 0.04, 0.2])}
    summary = runs.summarize(arrays, {"setting": "classification"})
    monkeypatch.setattr(runs, "tracked_run", lambda cfg, **kw: (summary, arrays))
    with runcache.using(tmp_path):      # an empty cache: the check's runs are the hand-made one
        r = run_check("C17")
    assert r.verdict == "INCONCLUSIVE" and r.holds is None


def test_stored_tracked_run_trains_once_and_returns_what_it_stored(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path) -> None:
    """stored_tracked_run trains a config once (an int given for a float field names the same run),
    then reads it back: summary and arrays (curves, tracked kernel distances, parameters) equal to
    the first call's, and the same run as tracked_run trained directly. A bad key is refused
    before anything is stored."""
    import numpy as np

    from regimes import runcache, runs

    calls = []
    real = runs.tracked_run

    def counting(cfg, **kw):
        calls.append(cfg)
        return real(cfg, **kw)

    monkeypatch.setattr(runs, "tracked_run", counting)
    cfg = {"p": 7, "alpha": 2, "steps": 30, "n_track": 5, "eval_size": 20, "after_pairs": 4, "seed": 1}
    with runcache.using(tmp_path):
        s1, a1 = runs.stored_tracked_run(cfg)
        s2, a2 = runs.stored_tracked_run({**cfg, "alpha": 2.0})
        with pytest.raises(ValueError, match="lrr"):
            runs.stored_tracked_run({**cfg, "lrr": 1e-3})
    assert len(calls) == 1 and s1 == s2
    assert a1.keys() == a2.keys() and {"ntk_dist_train", "params/final/W"} <= a1.keys()
    assert all(np.array_equal(a1[k], a2[k], equal_nan=a1[k].dtype.kind == "f") for k in a1)
    direct, d_arrays = real(cfg)
    assert (s1["t_mem"], s1["final_test_acc"], s1["n_train"]) == (direct["t_mem"], direct["final_test_acc"],
                                                                   direct["n_train"])
    np.testing.assert_array_equal(a1["test_acc"], d_arrays["test_acc"])
    np.testing.assert_array_equal(a1["params/final/W"], d_arrays["params/final/W"])
    assert len(list((tmp_path / "tracked").glob("*.json"))) == 1


def test_checks_c17_c17b_judge_experiments_10_11s_stored_runs_without_retraining(tmp_path, monkeypatch) -> None:
    """One grid per claim: C17 reads regimes.settings.grids.C17 (experiment 10's lazy row) and C17b
    reads grids.C17B (experiment 11's quick tier), and every run goes through the run cache, so
    after the experiments the checks train nothing and judge the experiments' own runs."""
    from regimes import harness, runcache, runs
    from regimes.settings import grids
    from regimes.settings.dynamics import C17_RUN, C17B_RUN

    exps = {e.number: e for e in harness.discover()}
    lazy = {**C17_RUN, "p": 7, "steps": 40, "n_track": 6, "eval_size": 20, "after_pairs": 4, "after_every": 3}
    monkeypatch.setitem(grids.C17, "quick", {"run": lazy, "seeds": [0, 1]})
    r10 = harness.run(exps["10"], out=tmp_path, quiet=True,
                      overrides={"runs": [{"name": "lazy", **lazy}], "seeds": [0, 1]})
    tiny = {"alphas": [0.5, 2.0], "seeds": [0, 1], "run": {**C17B_RUN, "p": 7, "steps": 30, "n_track": 5}}
    monkeypatch.setitem(grids.C17B, "quick", tiny)
    r11 = harness.run(exps["11"], out=tmp_path, quiet=True, overrides=tiny)
    monkeypatch.setattr(runs, "tracked_run", lambda *a, **k: pytest.fail("a check retrained a stored run"))
    from regimes.checks.dynamics import c17, c17b

    with runcache.using(tmp_path / "results" / "runs"):
        a, b = c17(quick=True), c17b(quick=True)
    exp_seeds = r10.result["metrics"]["runs"][0]["per_seed"]
    assert a.details["seeds"] == [0, 1] == [s["seed"] for s in exp_seeds]
    for got, want in zip(a.details["per_seed"], exp_seeds, strict=True):
        assert {k: got[k] for k in want["c17"]} == want["c17"]
        assert (got["t_mem"], got["t_grok"], got["t_exit"]) == (want["t_mem"], want["t_grok"], want["t_exit"])
    assert b.details["rows"] == r11.result["metrics"]["readings"][0]["rows"]
    assert {(r["alpha"], r["seed"]) for r in b.details["rows"]} == {(0.5, 0), (0.5, 1), (2.0, 0), (2.0, 1)}


def test_c17b_gap_verdict_is_a_trend_test() -> None:
    """The C17b verdict tests a trend: PASS for a gap that grows with α even when one pair of seed
    means overlaps (strict monotonicity of the means, the old rule, fails there), FAIL where the
    gap does not grow, INCONCLUSIVE when an α has fewer than 3 grokked seeds."""
    from regimes.checks.dynamics import gap_verdict

    def rows(gaps_by_alpha):
        return [{"alpha": a, "seed": s, "gap": g} for a, gs in gaps_by_alpha.items() for s, g in enumerate(gs)]

    ok = gap_verdict(rows({0.5: [10, 12, 11], 1.0: [50, 40, 45], 2.0: [300, 200, 250]}))
    assert ok["verdict"] == "PASS" and ok["monotone"] is True
    assert ok["per_alpha"][1.0]["estimate"] == pytest.approx(45.0)
    # a trend with one overlapping pair of means (α = 1 vs 2): not monotone, yet significant
    trend = gap_verdict(rows({0.25: [-60, -40, -50, -70, -30], 0.5: [0, 20, -10, 30, 10],
                              1.0: [60, 90, 40, 70, 80], 2.0: [50, 85, 45, 65, 55], 4.0: [150, 120, 170, 140, 160]}))
    assert trend["verdict"] == "PASS" and trend["monotone"] is False and trend["p_value"] < 0.05
    flat = gap_verdict(rows({0.5: [10, 300, 45], 1.0: [250, 11, 40], 2.0: [12, 200, 50]}))
    assert flat["verdict"] == "FAIL" and flat["p_value"] >= 0.05
    cens = gap_verdict(rows({0.5: [10, None, 11], 1.0: [50, 40, 45]}))
    assert cens["verdict"] == "INCONCLUSIVE" and cens["per_alpha"][0.5]["n_grokked"] == 2


def test_c17b_trend_statistic_agrees_with_an_exact_enumeration() -> None:
    """Spearman's ρ (ranks with ties averaged, then Pearson, by hand) and the one-sided p-value
    enumerated over all 6! pairings agree with the verdict's (scipy's permutation test, which is
    exact when the resamples cover every permutation)."""
    import itertools

    import numpy as np

    from regimes.checks.dynamics import gap_verdict

    alphas = [0.5, 0.5, 1.0, 1.0, 2.0, 2.0]
    gaps = [3.0, 7.0, 5.0, 11.0, 9.0, 13.0]

    def ranks(v):
        v = np.asarray(v, dtype=float)
        return np.array([np.mean(np.flatnonzero(np.sort(v) == x)) + 1 for x in v])

    def rho(y):
        rx, ry = ranks(alphas), ranks(y)
        return float(np.corrcoef(rx, ry)[0, 1])

    r0 = rho(gaps)
    perms = list(itertools.permutations(gaps))
    p_exact = sum(rho(list(y)) >= r0 - 1e-12 for y in perms) / len(perms)
    v = gap_verdict([{"alpha": a, "gap": g} for a, g in zip(alphas, gaps, strict=True)], min_seeds=2,
                    n_resamples=10_000)
    assert v["spearman"] == pytest.approx(r0, abs=1e-12)
    assert v["p_value"] == pytest.approx(p_exact, abs=1e-12)


@pytest.mark.slow
def test_c17b_init_scale_gap_shrinks(tmp_path) -> None:
    """C17b quick (AdamW, p = 31, α ∈ {0.5, 1, 2, 4, 8}, seeds 0–2, trained into an empty run cache):
    a real verdict, and every α groks."""
    from regimes import runcache
    from regimes.checks import run_check

    with runcache.using(tmp_path):
        r = run_check("C17b")
    assert r.verdict in ("PASS", "FAIL"), r.details["per_alpha"]
    assert all(v["n_grokked"] == 3 for v in r.details["per_alpha"].values())


def test_c17_summary_and_t_exit_on_synthetic_curves() -> None:
    """The C17 verdict and t_exit on hand-made curves with known answers."""
    import numpy as np

    from regimes.runs import c17_summary, summarize

    steps = np.array([0, 10, 100, 1000, 5000, 10000], dtype=float)
    train = np.array([0.1, 0.5, 1.0, 1.0, 1.0, 1.0])
    test = np.array([0.0, 0.0, 0.05, 0.3, 0.96, 1.0])
    S = np.array([0.0, 0.001, 0.004, 0.02, 0.08, 0.1])
    arrays = {"step": steps, "train_acc": train, "test_acc": test, "ntk_dist_train": S,
              "ntk_rel_change_train": 10 * S}
    c = c17_summary(arrays)
    assert (c["t_fit"], c["t_gen"]) == (100, 5000)
    assert abs(c["growth_ratio"] - 20.0) < 1e-12 and c["holds"] is True
    assert abs(c["rel_ratio"] - 20.0) < 1e-12
    assert c17_summary(arrays, growth=30.0)["holds"] is False          # 20× is not 30×
    assert c17_summary(arrays, small=0.001)["holds"] is False          # S(t_fit) = 0.004 is not small
    never = {**arrays, "test_acc": np.zeros(6)}
    assert c17_summary(never)["holds"] is None
    # a ratio of two round-off values is not growth: S(t_fit) = 2.2e-16 → 1e-14 is 45× but of nothing
    roundoff = {**arrays, "ntk_dist_train": np.array([0.0, 1e-16, 2.2e-16, 5e-16, 1e-14, 2e-14])}
    c = c17_summary(roundoff)
    assert c["holds"] is False and c["growth_ratio"] < 1e-4
    # an unmoved kernel at t_fit (S = 0 exactly) that then turns measurably does grow
    still = {**arrays, "ntk_dist_train": np.array([0.0, 0.0, 0.0, 0.01, 0.08, 0.1])}
    assert c17_summary(still)["holds"] is True
    s = summarize(arrays, {"setting": "classification", "exit_threshold": 0.5, "exit_relative": True})
    assert (s["t_mem"], s["t_grok"], s["t_exit"]) == (100, 5000, 5000)  # S ≥ 0.05 first at 5000
    assert s["exit_after_mem"] is True
    s = summarize(arrays, {"setting": "classification", "exit_threshold": 0.003, "exit_relative": False})
    assert s["t_exit"] == 100 and s["exit_after_mem"] is True
    s = summarize(arrays, {"setting": "classification", "exit_threshold": 0.001, "exit_relative": False})
    assert s["t_exit"] == 10 and s["exit_after_mem"] is False
