"""Gromov's model and measurements (:mod:`regimes.gromov`): eq. 4 by hand, the init law, the
analytic solutions of his App. D, the preactivation images of his Fig 2, the runs' bookkeeping.

Expected values come from hand calculation, brute-force counting or autograd, never from the
code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from regimes.constructions import analytic_accuracy
from regimes.gromov import (
    FUNCTIONS,
    GromovRunConfig,
    analytic_net,
    check_fraction_open,
    check_function,
    fourier_image,
    gromov_net,
    gromov_run,
    heldout_loss_peak,
    line_power_share,
    preactivations,
    square_of_sum_accuracy_limit,
    square_of_sum_branches,
)
from regimes.models.quadratic import QuadraticNet
from regimes.tasks import Task, one_hot, sample_split

# ----------------------------------------------------------------------------- eq. 4


def test_eq4_by_hand() -> None:
    """f(x) = (2/N) W2 (W1 x)² on p = 2, N = 2, input (n, m) = (1, 0), computed by hand:
    x = (e_1, e_0) = (0, 1, 1, 0); W1 x = (2 + 3, −1 + 1) = (5, 0); squared (25, 0);
    (2/2)·W2 (25, 0) = (25, 50)."""
    W1 = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 1.0, 2.0]], dtype=torch.float64)
    W2 = torch.tensor([[1.0, 0.0], [2.0, -1.0]], dtype=torch.float64)
    net = QuadraticNet(W1, W2, output_scale=2.0 / 2)
    out = net(torch.tensor([[1, 0]]))
    assert out.tolist() == [[25.0, 50.0]]


def test_gromov_net_is_eq4_with_one_hot_inputs() -> None:
    """gromov_net's forward pass (a gather of two columns) equals (2/N) W⁽²⁾ (W⁽¹⁾ x)² computed with
    explicit one-hot vectors x = (e_n, e_m) and dense products."""
    p, N = 7, 13
    net = gromov_net(p, N, seed=3, dtype=torch.float64)
    assert net.output_scale == 2.0 / N
    x = torch.cartesian_prod(torch.arange(p), torch.arange(p))
    X = one_hot(x, p)                                   # (p², 2p)
    dense = (2.0 / N) * ((X @ net.W.t()) ** 2) @ net.V.t()
    torch.testing.assert_close(net(x), dense, rtol=1e-13, atol=1e-13)


def test_gromov_init_is_standard_normal() -> None:
    """Every weight ~ N(0, 1) (Gromov Sec. 2): sample mean and variance of 100,000 + 50,000 draws
    within 6 standard errors of 0 and 1 (SE of the mean 1/√n, of the variance √(2/n))."""
    net = gromov_net(50, 1000, seed=0, dtype=torch.float64)
    for w in (net.W, net.V):
        n = w.numel()
        assert abs(float(w.mean())) < 6 / math.sqrt(n)
        assert abs(float(w.var()) - 1.0) < 6 * math.sqrt(2 / n)


# ----------------------------------------------------------------------------- bad input


def test_unknown_function_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"function='pow'.*'add'.*'cubic'"):
        check_function("pow")
    with pytest.raises(ValueError, match="function="):
        GromovRunConfig(function="n+m").validate()
    assert check_function("mul") == "mul"
    assert set(FUNCTIONS) == {"add", "square_of_sum", "sum_of_squares", "mul", "quadratic", "cubic"}


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan"), "half"])
def test_fraction_outside_open_unit_interval_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="fraction"):
        check_fraction_open("fraction", bad)
    with pytest.raises(ValueError, match="fraction"):
        gromov_run(GromovRunConfig(fraction=bad))   # refused before any work


@pytest.mark.parametrize("field,value", [("p", 2), ("h", 0), ("optimizer", "adam"), ("lr", 0.0),
                                         ("steps", 0), ("dtype", "float16"), ("stop_at", 1.5),
                                         ("grok_threshold", 0.0)])
def test_config_fields_are_validated(field, value) -> None:
    with pytest.raises(ValueError, match=field):
        GromovRunConfig(**{field: value}).validate()


def test_h_is_the_only_name_of_the_width() -> None:
    """The hidden width is ``h`` (the central paper's notation) everywhere: the pre-rename
    keyword ``width=`` is refused, not translated."""
    with pytest.raises(TypeError, match="width"):
        GromovRunConfig(p=7, width=16)
    with pytest.raises(TypeError, match="width"):
        gromov_net(7, width=5)
    with pytest.raises(TypeError, match="width"):
        analytic_net("add", 7, width=40)
    assert not hasattr(GromovRunConfig(p=7, h=16), "width")


# ----------------------------------------------------------------------------- the test-loss peak


def test_loss_peak_skips_the_initial_fall() -> None:
    # falls from 9 to 1, rises to 1.5 at step 30, falls: the peak is step 30, not step 0
    assert heldout_loss_peak([0, 10, 20, 30, 40, 50], [9.0, 1.0, 1.2, 1.5, 0.7, 0.2]) == 30.0
    # restricted to steps <= 20 the largest value after the fall is at 20
    assert heldout_loss_peak([0, 10, 20, 30, 40, 50], [9.0, 1.0, 1.2, 1.5, 0.7, 0.2], t_end=20) == 20.0
    # never rises: no peak
    assert heldout_loss_peak([0, 1, 2], [3.0, 2.0, 1.0]) is None
    # NaN samples are ignored
    assert heldout_loss_peak([0, 1, 2, 3], [3.0, 1.0, float("nan"), 2.0]) == 3.0


# ----------------------------------------------------------------------------- runs


def _tiny(**kw) -> GromovRunConfig:
    base = dict(p=7, h=16, fraction=0.6, optimizer="adamw", lr=1e-2, weight_decay=1.0, steps=40, eval_every=5,
                dtype="float64", seed=1)
    return GromovRunConfig(**{**base, **kw})


def test_run_bookkeeping_and_heldout_split() -> None:
    s, a = gromov_run(_tiny(grad_norms=True))
    n = round(0.6 * 49)
    assert s["n_train"] == n
    assert a["step"].tolist() == list(range(0, 41, 5))
    for k in ("train_loss", "test_loss", "train_acc", "test_acc", "W_l2", "V_l2", "grad_W_l2", "grad_V_l2"):
        assert a[k].shape == a["step"].shape and np.isfinite(a[k]).all()
    assert s["stopped_at"] is None


def test_grad_norms_match_autograd() -> None:
    """The recorded ‖∂L/∂W⁽¹⁾‖, ‖∂L/∂W⁽²⁾‖ at step 0 equal autograd's on L = (1/n) Σ_i ‖f(x_i) − e_{y_i}‖²
    with f written densely from one-hot inputs (plain GD: no penalty term)."""
    cfg = _tiny(optimizer="gd", lr=0.1, weight_decay=0.0, steps=1, eval_every=1, grad_norms=True)
    _, a = gromov_run(cfg)
    split = sample_split(Task(7), fraction=0.6, seed=1)
    net = gromov_net(7, 16, seed=1, dtype=torch.float64)
    W = net.W.clone().requires_grad_(True)
    V = net.V.clone().requires_grad_(True)
    X = one_hot(split.train.x, 7)
    Y = torch.nn.functional.one_hot(split.train.y, 7).double()
    f = (2.0 / 16) * ((X @ W.t()) ** 2) @ V.t()
    L = ((f - Y) ** 2).sum(dim=1).mean()
    gW, gV = torch.autograd.grad(L, (W, V))
    assert a["grad_W_l2"][0] == pytest.approx(float(gW.norm()), rel=1e-12)
    assert a["grad_V_l2"][0] == pytest.approx(float(gV.norm()), rel=1e-12)


def test_early_stop_is_a_prefix_of_the_full_run() -> None:
    """stop_at ends the run at the first evaluation whose held-out accuracy reaches it, and
    everything recorded until then equals the uninterrupted run."""
    _, full = gromov_run(_tiny())
    later = np.nonzero(full["step"] > 0)[0]
    level = float(np.max(full["test_acc"][later]))
    assert level > 0
    s, a = gromov_run(_tiny(stop_at=level))
    first = int(later[np.argmax(full["test_acc"][later] >= level - 1e-12)])
    assert s["stopped_at"] == int(full["step"][first])
    for k in a:
        np.testing.assert_array_equal(a[k], full[k][: first + 1])


# ----------------------------------------------------------------------------- analytic solutions


@pytest.mark.parametrize("p", [31, 61])
def test_analytic_add_and_sum_of_squares_are_exact(p: int) -> None:
    """Claim I / eq. 30: at N = 500 the analytic solutions classify every pair (Gromov: 100%)."""
    assert analytic_accuracy(analytic_net("add", p, 500), op="add") == 1.0
    assert analytic_accuracy(analytic_net("sum_of_squares", p, 500), op="sum_of_squares") == 1.0


def test_no_analytic_solution_for_the_hard_functions() -> None:
    for f in ("mul", "quadratic", "cubic"):
        assert analytic_net(f, 11, 50) is None


@pytest.mark.parametrize("p", [3, 7, 11, 13, 31, 97])
def test_square_of_sum_share_by_brute_force(p: int) -> None:
    """(p+1)/(2p) equals the share of pairs (n, m) whose s = n + m mod p is the smallest r with
    r² ≡ s² (mod p), counted by brute force over r."""
    count = 0
    for n in range(p):
        for m in range(p):
            s = (n + m) % p
            smallest = min(r for r in range(p) if (r * r - s * s) % p == 0)
            count += smallest == s
    assert square_of_sum_accuracy_limit(p) == pytest.approx(count / p**2, abs=1e-15)


@pytest.mark.parametrize("p", [2, 9, 15, 4])
def test_square_of_sum_limit_needs_an_odd_prime(p: int) -> None:
    with pytest.raises(ValueError, match="p="):
        square_of_sum_accuracy_limit(p)


def test_analytic_square_of_sum_right_on_its_branch_only() -> None:
    """The analytic (n + m)² net (p = 31, N = 2000): every pair on the encoded branch right, the
    other branch right at most at a few times chance 1/31 (no constructive wave there)."""
    r = square_of_sum_branches(analytic_net("square_of_sum", 31, 2000))
    assert r["chosen_share"] == pytest.approx(16 / 31)
    assert r["acc_chosen_branch"] == 1.0
    assert r["acc_other_branch"] <= 0.15


# ----------------------------------------------------------------------------- preactivations (Fig 2)


def test_preactivations_match_the_forward_pass() -> None:
    p, N = 7, 9
    net = gromov_net(p, N, seed=2, dtype=torch.float64)
    h1, h2 = preactivations(net)
    assert h1.shape == (N, p, p) and h2.shape == (p, p, p)
    for n, m in [(0, 0), (3, 5), (6, 1)]:
        torch.testing.assert_close(h1[:, n, m], net.W[:, n] + net.W[:, p + m])
        torch.testing.assert_close(h2[:, n, m], net(torch.tensor([[n, m]]))[0], rtol=1e-12, atol=1e-12)


def test_line_shares_of_hand_made_images() -> None:
    p, q = 11, 4
    n = torch.arange(p, dtype=torch.float64)[:, None]
    m = torch.arange(p, dtype=torch.float64)[None, :]
    delta = ((n + m - q) % p == 0).double()                      # δ(n + m − q): waves e^{2πik(n+m)/p}
    assert line_power_share(delta, "diagonal") == pytest.approx(1.0, abs=1e-12)
    sep = torch.cos(2 * math.pi * 3 * n / p) + torch.sin(2 * math.pi * 2 * m / p)   # g(n) + h(m)
    assert line_power_share(sep, "axes") == pytest.approx(1.0, abs=1e-12)
    assert line_power_share(sep, "diagonal") == pytest.approx(0.0, abs=1e-12)
    anti = torch.cos(2 * math.pi * 2 * (n - m) / p).expand(p, p)
    assert line_power_share(anti, "antidiagonal") == pytest.approx(1.0, abs=1e-12)
    # Parseval: Σ |DFT|² = p² Σ img²
    assert float(fourier_image(sep).sum()) == pytest.approx(p * p * float((sep**2).sum()), rel=1e-12)
    with pytest.raises(ValueError, match="constant"):
        line_power_share(torch.ones(p, p))
    with pytest.raises(ValueError, match="line"):
        line_power_share(delta, "rows")


def test_a_float32_image_constant_up_to_its_rounding_has_no_line_share() -> None:
    """A constant image has no power away from (0, 0), so no share. A float32 image whose
    entries are 0.3 or one float32 ulp above it is constant up to float32's rounding, but the
    float64-only threshold (1e-24 of the total power) let through its ulp pattern's power, and
    the diagonal share read off it was 0.027. The threshold is now in the image's own precision;
    a float32 wave of relative amplitude 1e-3 on the same constant keeps its share (1 on the
    diagonal for a wave in n + m, computed by hand)."""
    p = 11
    img = torch.full((p, p), 0.3, dtype=torch.float32)
    img[::2, 1::3] = torch.nextafter(img[::2, 1::3], torch.tensor(1.0))
    for line in ("diagonal", "antidiagonal", "axes"):
        with pytest.raises(ValueError, match="constant"):
            line_power_share(img, line)
    n = torch.arange(p, dtype=torch.float64)
    wave = (0.3 + 3e-4 * torch.cos(2 * math.pi * 2 * (n[:, None] + n[None, :]) / p)).float()
    assert line_power_share(wave, "diagonal") == pytest.approx(1.0, abs=1e-6)


def test_analytic_output_image_is_one_diagonal_series() -> None:
    """Eq. 16: h⁽²⁾_q(n, m) → δ(n + m − q) as N grows, so its DFT power concentrates on k₁ = k₂; the
    other waves of eq. 11 (on the axes and the anti-diagonal) cancel like 1/√N. At p = 31 the
    diagonal share is ≥ 0.98 at N = 5000 and grows from N = 500."""
    h2_small = preactivations(analytic_net("add", 31, 500))[1]
    h2_big = preactivations(analytic_net("add", 31, 5000))[1]
    for q in (0, 6, 30):
        big = line_power_share(h2_big[q], "diagonal")
        assert big >= 0.98
        assert big > line_power_share(h2_small[q], "diagonal")
