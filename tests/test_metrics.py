"""Tests of regimes.metrics: known answers on synthetic curves/kernels/weights, edge cases,
cross-checks against independent computations, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from regimes.constructions import gromov_solution
from regimes.metrics import (
    KernelTracker,
    center_gram,
    center_targets,
    circle_score,
    cka,
    cosine_distance,
    detect_transition,
    embedding_pca,
    embedding_spectrum,
    eval_subset,
    first_crossing,
    fit_sigmoid,
    frequency_power,
    grokking_gap,
    grokking_measures,
    ipr,
    ipr_per_neuron,
    kernel_change,
    kernel_distance,
    kernel_target_alignment,
    layer_spectrum,
    log_steps,
    relative_kernel_change,
    rise_time,
    sigmoid,
    smoothed_derivative,
    t_exit,
    t_grok,
    t_mem,
)
from regimes.metrics.grokking import JUMP_TOL
from regimes.models import QuadraticNet
from regimes.ntk import entk
from regimes.tasks import Task, sample_split


def _psd(n: int, rank: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, rank, generator=g, dtype=torch.float64)
    return A @ A.t()


# ============================================================================ kernel distances
def test_kernel_distance_identity_scale_and_bounds() -> None:
    K1, K2 = _psd(30, 5, 0), _psd(30, 5, 1)
    assert abs(kernel_distance(K1, K1)) < 1e-12                       # S(t, t) = 0
    assert abs(kernel_distance(K1, 3.7 * K1)) < 1e-12                 # scale of one side
    s = kernel_distance(K1, K2)
    assert abs(kernel_distance(0.01 * K1, 250.0 * K2) - s) < 1e-12     # scale invariance
    assert abs(kernel_distance(K2, K1) - s) < 1e-15                   # symmetry
    assert 0.0 <= s <= 1.0                                            # p.s.d. pair → [0, 1]
    # independent computation via flattened cosine
    a, b = K1.flatten().numpy(), K2.flatten().numpy()
    assert abs(s - (1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b))) < 1e-12
    # orthogonal p.s.d. kernels (disjoint supports) are at distance 1
    E1 = torch.zeros(4, 4, dtype=torch.float64)
    E1[0, 0] = 1
    E2 = torch.zeros(4, 4, dtype=torch.float64)
    E2[1, 1] = 1
    assert kernel_distance(E1, E2) == 1.0


def test_centered_distance_is_one_minus_cka_and_ignores_constants() -> None:
    K1, K2 = _psd(25, 4, 2), _psd(25, 4, 3)
    c = cka(K1, K2)
    assert 0.0 <= c <= 1.0 + 1e-12
    assert abs(kernel_distance(K1, K2, center=True) - (1 - c)) < 1e-12
    # adding a constant matrix (a shared bias feature) leaves the centred distance unchanged
    ones = torch.ones(25, 25, dtype=torch.float64)
    assert abs(kernel_distance(K1 + 50 * ones, K2 + 7 * ones, center=True) - (1 - c)) < 1e-9
    assert abs(cka(K1, K1) - 1) < 1e-12


def test_a_kernel_constant_up_to_round_off_has_no_centred_direction() -> None:
    """HKH of c·11ᵀ is exactly 0 in exact arithmetic; the computed means leave residues of a few
    ulps in most (c, n), which a cosine would turn into a 'distance' of pure round-off. Each such
    centred Gram is exactly 0, so the centred distance and CKA refuse it, for every c and n tried,
    and for a float32 Gram at float32's round-off; a genuine rank-one spread of 1e-9 survives."""
    gen = torch.Generator().manual_seed(0)
    K2 = _psd(9, 3, 1)
    for n in (3, 7, 9, 40):
        for c in torch.rand(25, generator=gen, dtype=torch.float64):
            K = torch.full((n, n), float(c), dtype=torch.float64)
            assert bool((center_gram(K) == 0).all())
            if n == 9:
                with pytest.raises(ValueError, match="centred, constant"):
                    kernel_distance(K, K2, center=True)
    K32 = torch.full((9, 9), 0.3, dtype=torch.float32) + 1e-8 * torch.eye(9)   # float32 round-off of a constant
    assert bool((center_gram(K32) == 0).all())
    x = torch.linspace(-1, 1, 9, dtype=torch.float64)
    spread = torch.full((9, 9), 0.3, dtype=torch.float64) + 1e-9 * torch.outer(x, x)
    assert torch.allclose(center_gram(spread), 1e-9 * torch.outer(x, x), rtol=0, atol=1e-15)   # ulps of 0.3


def _explicit_centred_cosine(K: torch.Tensor, Y: torch.Tensor) -> float:
    """⟨HKH, HYYᵀH⟩_F / (‖HKH‖_F ‖HYYᵀH‖_F) with the centring matrix H = I − 11ᵀ/n built
    explicitly: an implementation independent of the library's column means."""
    n = K.shape[0]
    H = torch.eye(n, dtype=torch.float64) - torch.full((n, n), 1.0 / n, dtype=torch.float64)
    A, B = H @ K @ H, H @ Y @ Y.t() @ H
    return float((A * B).sum() / (torch.linalg.matrix_norm(A) * torch.linalg.matrix_norm(B)))


def test_constant_targets_have_no_centred_direction() -> None:
    """y − ȳ of constant targets c is exactly 0, but the computed mean of c repeated n times
    differs from c by an ulp for many (c, n) (0.1 seven times): the residue is a vector of pure
    round-off, and the centred alignment used to be read off it (a value of ~1e-17, or a
    ValueError, depending on c and n). Each such centred target vector is now exactly 0 and the
    centred alignment is refused for every (c, n) tried, also for float32 targets at float32's
    round-off; targets with a genuine spread of 1e-9 keep their alignment (agreement with the
    explicit-H formula), and the uncentred alignment of constant targets is unchanged."""
    gen = torch.Generator().manual_seed(1)
    K = _psd(9, 4, 3)
    residues = 0
    for n in (3, 7, 9):
        for c in torch.rand(25, generator=gen, dtype=torch.float64):
            y = torch.full((n,), float(c), dtype=torch.float64)
            residues += bool(((y - y.mean()) != 0).any())
            assert bool((center_targets(y[:, None]) == 0).all())
            with pytest.raises(ValueError, match="centred, constant"):
                kernel_target_alignment(K[:n, :n], y, center=True)
            one = torch.ones(n, dtype=torch.float64)   # uncentred: 1ᵀK1 / (n ‖K‖_F), scale-free
            expected = float(one @ K[:n, :n] @ one) / (n * float(torch.linalg.matrix_norm(K[:n, :n])))
            assert abs(kernel_target_alignment(K[:n, :n], y) - expected) < 1e-12
    assert residues > 0   # the round-off this guards against does occur in these draws
    y32 = torch.full((9,), 0.3, dtype=torch.float32)
    y32[::2] = torch.nextafter(y32[::2], torch.tensor(1.0))       # one float32 ulp apart
    with pytest.raises(ValueError, match="centred, constant"):
        kernel_target_alignment(K, y32, center=True)
    x = torch.linspace(-1, 1, 9, dtype=torch.float64) ** 3
    y = 0.3 + 1e-9 * x
    assert abs(kernel_target_alignment(K, y, center=True) - _explicit_centred_cosine(K, x[:, None])) < 1e-6


def test_kernel_change_and_relative_change() -> None:
    K0 = _psd(10, 3, 4)
    D = _psd(10, 2, 5)
    assert abs(kernel_change(K0 + D, K0) - float(torch.linalg.norm(D))) < 1e-10
    assert abs(relative_kernel_change(2 * K0, K0) - 1.0) < 1e-12
    assert kernel_change(K0, K0) == 0.0


def test_kernel_target_alignment_bounds_and_known_values() -> None:
    y = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    assert abs(kernel_target_alignment(torch.outer(y, y), y) - 1.0) < 1e-12   # perfect kernel
    g = torch.Generator().manual_seed(0)
    for seed in range(5):
        K = _psd(12, 3, 10 + seed)
        Y = torch.nn.functional.one_hot(torch.randint(4, (12,), generator=g), 4).double()
        a = kernel_target_alignment(K, Y)
        assert 0.0 <= a <= 1.0 + 1e-12
        assert 0.0 <= kernel_target_alignment(K, Y, center=True) <= 1.0 + 1e-12
    # y orthogonal to the kernel's range: alignment 0
    K = torch.diag(torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert kernel_target_alignment(K, torch.tensor([0.0, 1.0], dtype=torch.float64)) == 0.0
    # vector and (n, 1) targets agree (k = 1 reduces to yᵀKy / (‖K‖ ‖y‖²))
    K = _psd(6, 6, 20)
    y = torch.arange(6, dtype=torch.float64)
    assert abs(kernel_target_alignment(K, y) - float(y @ K @ y) / float(torch.linalg.norm(K)) / float(y @ y)) \
        < 1e-12


def test_kernel_metrics_bad_input() -> None:
    K = _psd(5, 2, 0)
    with pytest.raises(ValueError, match="same points"):
        kernel_distance(K, _psd(6, 2, 0))
    with pytest.raises(ValueError, match="zero"):
        kernel_distance(K, torch.zeros(5, 5))
    with pytest.raises(ValueError, match="NaN"):
        kernel_change(K, torch.full((5, 5), float("nan")))
    with pytest.raises(ValueError, match="2-D"):
        kernel_change(torch.ones(5), torch.ones(5))
    with pytest.raises(ValueError, match="expected"):
        kernel_target_alignment(K, torch.ones(4))
    with pytest.raises(ValueError, match="zero matrix"):
        relative_kernel_change(K, torch.zeros(5, 5))


# ============================================================================ grokking measures
STEPS = np.arange(0, 10001, 50)


def _sig(t0: float, k: float, low: float = 0.01, high: float = 1.0) -> np.ndarray:
    return low + (high - low) / (1 + np.exp(-k * (STEPS - t0)))


def test_t_mem_t_grok_gap_on_step_functions() -> None:
    train = (STEPS >= 1200).astype(float)
    test = np.where(STEPS >= 7000, 0.97, 0.02)
    assert t_mem(STEPS, train) == 1200
    assert t_grok(STEPS, test) == 7000
    assert t_grok(STEPS, test, threshold=0.98) is None
    assert grokking_gap(1200, 7000) == 5800
    m = grokking_measures(STEPS, train, test)
    assert (m.t_mem, m.t_grok, m.gap) == (1200, 7000, 5800)
    assert abs(m.gap_ratio - 5800 / 7000) < 1e-12
    assert m.rise_time == 50 and abs(m.rise_ratio - 50 / 7000) < 1e-12   # one logging interval
    assert abs(m.slope_at_grok - 0.95 / 50) < 1e-12
    # the moving average turns the step into a ramp of tied slopes: the middle of the tie is
    # the step itself, not a ramp sample picked by round-off
    assert m.detected_step == 7000


def test_accuracy_ratio_rounding_counts_as_full() -> None:
    acc = [0.5, 611 / 612, (612 * (1 / 612))]  # the last is 1.0 up to rounding
    assert t_mem([0, 1, 2], acc) == 2


def test_edge_cases_never_memorizes_never_groks() -> None:
    train = np.minimum(STEPS / 20000, 0.99)        # never reaches 100 %
    test = np.full(STEPS.shape, 0.03)              # flat at chance
    m = grokking_measures(STEPS, train, test)
    assert m.t_mem is None and m.t_grok is None and m.gap is None and m.gap_ratio is None
    assert m.rise_time is None and m.slope_at_grok is None
    assert grokking_gap(None, 5) is None and grokking_gap(5, None) is None
    # generalisation before memorisation: negative gap
    assert grokking_gap(800, 300) == -500
    assert rise_time(STEPS, test) is None


def test_sigmoid_fit_recovers_t0_and_steepness() -> None:
    for t0, k in ((3000.0, 0.004), (6500.0, 0.02), (1500.0, 0.001)):
        fit = fit_sigmoid(STEPS, _sig(t0, k))
        assert fit.converged
        assert abs(fit.t0 - t0) < 1.0 and abs(fit.k - k) / k < 1e-3
        assert abs(fit.low - 0.01) < 1e-3 and abs(fit.high - 1.0) < 1e-3 and fit.rmse < 1e-6


def test_sigmoid_fit_and_detector_on_noisy_curve() -> None:
    rng = np.random.default_rng(0)
    t0, k = 5000.0, 0.003
    noisy = np.clip(_sig(t0, k) + rng.normal(0, 0.03, STEPS.size), 0, 1)
    fit = fit_sigmoid(STEPS, noisy)
    # 201 points with noise 0.03: t0 within a few logging intervals, k within 25 %
    assert abs(fit.t0 - t0) < 150 and abs(fit.k - k) / k < 0.25
    assert 0.02 < fit.rmse < 0.04                     # residual ≈ the noise level
    tr = detect_transition(STEPS, noisy, window=9)
    assert abs(tr.step - t0) < 500 and tr.jump > 0.3
    # the detector on the clean curve finds the inflection exactly (on the grid)
    assert detect_transition(STEPS, _sig(t0, k), window=1).step == 5000


def test_sigmoid_fit_log_time() -> None:
    steps = np.unique(np.round(np.geomspace(1, 1e5, 120)))
    u0, ku = 3.5, 6.0                                  # centre at 10^3.5 steps, per-decade slope
    vals = sigmoid(np.log10(steps + 1), u0, ku, 0.0, 1.0)
    fit = fit_sigmoid(steps, vals, log_time=True)
    assert abs(math.log10(fit.t0 + 1) - u0) < 1e-4 and abs(fit.k - ku) / ku < 1e-3


def test_t_exit() -> None:
    d = np.concatenate([np.full(50, 1e-4), np.linspace(1e-3, 0.5, STEPS.size - 50)])
    te = t_exit(STEPS, d, threshold=0.1)
    i = int(np.argmax(d >= 0.1))
    assert te == STEPS[i] and d[i - 1] < 0.1
    assert t_exit(STEPS, d, threshold=0.9) is None


def test_grokking_bad_input() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        t_mem([0, 1, 2], [0.1, 1.0])
    with pytest.raises(ValueError, match="equal lengths"):
        grokking_measures([0, 1, 2], [0, 1, 1], [0, 0.5])
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="threshold"):
            t_grok([0, 1], [0.0, 1.0], threshold=bad)
        with pytest.raises(ValueError, match="threshold"):
            t_exit([0, 1], [0.0, 1.0], threshold=bad)
    with pytest.raises(ValueError, match="increasing"):
        t_mem([0, 2, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="window"):
        detect_transition([0, 1, 2], [0, 1, 1], window=0)
    with pytest.raises(ValueError, match="below"):
        rise_time([0, 1], [0, 1], low=0.9, high=0.5)


# ---------------------------------------------------------------------------- round-off is no signal
FLAT_STEPS = np.arange(0, 2001, 50)


@pytest.mark.parametrize("level", [1 / 97, 0.3, 0.0])
def test_flat_test_curve_has_no_transition_and_no_fit(level: float) -> None:
    """A test curve that never moves: no detected step and no converged fit (before: steps
    1200, 1250 and 0 picked by round-off, and a 'converged' logistic centred there)."""
    test = np.full(FLAT_STEPS.shape, level)
    train = np.linspace(0, 1, FLAT_STEPS.size)
    m = grokking_measures(FLAT_STEPS, train, test)
    assert m.detected_step is None and m.detected_rate is None and m.sigmoid is None
    assert m.t_grok is None and m.rise_time is None
    assert detect_transition(FLAT_STEPS, test) is None
    fit = fit_sigmoid(FLAT_STEPS, test)
    assert not fit.converged and math.isnan(fit.t0) and math.isnan(fit.k)
    assert fit.low == fit.high == level and fit.rmse == 0.0
    sm, d = smoothed_derivative(FLAT_STEPS, test)
    assert np.all(sm == level) and np.all(d == 0.0)         # exactly: no round-off residue


def test_jump_tolerance_separates_round_off_from_one_test_example() -> None:
    """JUMP_TOL: a step of 1e-9 (round-off scale) is no transition; a step of one test example
    at p = 97 (1/p² ≈ 1.1e-4) is one, found at the step."""
    step = (FLAT_STEPS >= 1000).astype(float)
    assert JUMP_TOL == 1e-6
    for tiny in (1e-15, 1e-9, 0.5 * JUMP_TOL):
        assert detect_transition(FLAT_STEPS, 0.3 + tiny * step) is None
        assert not fit_sigmoid(FLAT_STEPS, 0.3 + tiny * step).converged
    one = 1 / 97**2
    tr = detect_transition(FLAT_STEPS, 0.3 + one * step)
    assert tr is not None and tr.step == 1000 and abs(tr.jump - one) < 1e-12
    fit = fit_sigmoid(FLAT_STEPS, 0.3 + one * step)
    assert fit.converged and 950 <= fit.t0 <= 1000


def test_all_nan_and_spike_and_falling_curves() -> None:
    nan = np.full(FLAT_STEPS.shape, np.nan)
    m = grokking_measures(FLAT_STEPS, np.ones(FLAT_STEPS.size), nan)
    # before: detected_step 0 (the first logged step) with a NaN rate
    assert m.t_grok is None and m.detected_step is None and m.detected_rate is None and m.sigmoid is None
    assert first_crossing(FLAT_STEPS, nan, 0.5) is None
    # an isolated spike is a first crossing (the chapter's definition) but no transition
    spike = np.zeros(FLAT_STEPS.size)
    spike[20] = 1.0
    m = grokking_measures(FLAT_STEPS, np.ones(FLAT_STEPS.size), spike)
    assert m.t_grok == 1000 and m.detected_step is None and m.sigmoid is None
    fit = fit_sigmoid(FLAT_STEPS, spike)   # before: converged=True, t0 ≈ 918, plateaus 0.05 apart
    assert not fit.converged and math.isnan(fit.t0)
    assert detect_transition(FLAT_STEPS, 1 - spike) is None
    # a falling curve has no rise to detect; its fall is still fitted (high < low)
    fall = (FLAT_STEPS < 1000).astype(float)
    assert detect_transition(FLAT_STEPS, fall) is None
    fit = fit_sigmoid(FLAT_STEPS, fall)
    assert fit.converged and 950 <= fit.t0 <= 1000 and fit.high < fit.low


def test_slope_at_grok_skips_an_unlogged_sample() -> None:
    test = np.where(STEPS >= 7000, 0.97, 0.02)
    test[STEPS == 6950] = np.nan
    m = grokking_measures(STEPS, (STEPS >= 1200).astype(float), test)
    assert m.t_grok == 7000
    assert abs(m.slope_at_grok - 0.95 / 100) < 1e-12        # before: NaN


def test_non_finite_samples_never_cross() -> None:
    assert t_mem([0, 1, 2], [0.5, np.inf, 1.0]) == 2          # before: 1 (an overflow)
    assert t_exit([0, 1, 2], [np.nan, np.inf, 0.2], 0.1) == 2
    # rise time starts at the first logged sample, not at an unlogged one
    assert rise_time([0, 1, 2, 3], [np.nan, np.nan, 0.5, 0.95]) == (2, 3)   # before: (0, 3)


def test_round_off_layout_is_not_a_circle() -> None:
    """Tokens sharing one embedding: no PCA axes and no circle (before: 100 % explained by
    a round-off axis and a circle score 0.07 at a frequency picked by round-off)."""
    row = torch.rand(8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    coords, explained = embedding_pca(row.repeat(23, 1), 2)
    assert torch.all(coords == 0) and torch.all(explained == 0)
    with pytest.raises(ValueError, match="all equal"):
        circle_score(coords)
    with pytest.raises(ValueError, match="all equal"):
        circle_score(torch.tensor([[0.1, 0.7]], dtype=torch.float64).repeat(23, 1))


def test_float32_layout_equal_up_to_its_rounding_is_not_a_circle() -> None:
    """The same at float32's precision: tokens one float32 ulp apart used to get a PCA axis
    explaining 100 % (spread 1e-8, above the float64-only 1e-12) and a circle score of 0.37 at
    frequency 4. Both now see no layout; a float32 circle of relative radius 1e-3 on the same
    offset scores 1 at its frequency (its coordinates are cos, sin of 2π·3a/p by construction)."""
    p = 11
    E = torch.tensor([0.3, 0.7, 1.1, -0.37]).repeat(p, 1)
    E[::2, 0] = torch.nextafter(E[::2, 0], torch.tensor(2.0))
    coords, explained = embedding_pca(E, 2)
    assert torch.all(coords == 0) and torch.all(explained == 0)
    flat = torch.tensor([[0.3, 0.7]]).repeat(p, 1)
    flat[::3, 1] = torch.nextafter(flat[::3, 1], torch.tensor(2.0))
    with pytest.raises(ValueError, match="all equal"):
        circle_score(flat)
    t = 2 * math.pi * 3 * torch.arange(p, dtype=torch.float64) / p
    ring = (torch.tensor([0.3, 0.7], dtype=torch.float64) + 1e-3 * torch.stack([t.cos(), t.sin()], 1)).float()
    score, j = circle_score(ring)
    assert j == 3 and score == pytest.approx(1.0, abs=1e-4)
    coords, explained = embedding_pca(ring, 2)
    assert float(explained.sum()) == pytest.approx(1.0, abs=1e-6)


# ============================================================================ Fourier / IPR / PCA
P = 13


def _wave(k: int, phase: float, p: int = P) -> torch.Tensor:
    n = torch.arange(p, dtype=torch.float64)
    return torch.cos(2 * math.pi * k * n / p + phase)


def test_frequency_power_parseval_and_pure_mode() -> None:
    g = torch.Generator().manual_seed(0)
    for p in (12, 13):
        X = torch.randn(7, p, generator=g, dtype=torch.float64)
        assert torch.allclose(frequency_power(X).sum(1), (X * X).sum(1))
    P_ = frequency_power(_wave(4, 0.7)[None])[0]
    assert abs(P_[4] / P_.sum() - 1) < 1e-12        # all power at k = 4 whatever the phase


def test_ipr_pure_mode_flat_and_delta() -> None:
    zeros = torch.zeros(P, dtype=torch.float64)
    pure = torch.stack([torch.cat([_wave(3, 0.4), zeros]), torch.cat([zeros, _wave(5, 1.1)]),
                        torch.cat([_wave(2, 0.0), 2 * _wave(2, 2.0)])])
    assert torch.allclose(ipr_per_neuron(pure), torch.ones(3, dtype=torch.float64))
    assert abs(ipr(pure, r=2) - 1) < 1e-12 and abs(ipr(pure, r=3) - 1) < 1e-12
    # the same neurons in the coefficient basis: the wave's power sits on ±k
    assert abs(ipr_per_neuron(pure[:1], basis="coefficient")[0] - 0.5) < 1e-12
    # IPR_1 ≡ 1
    g = torch.Generator().manual_seed(1)
    Wr = torch.randn(20, 2 * P, generator=g, dtype=torch.float64)
    assert abs(ipr(Wr, r=1) - 1) < 1e-12
    # a delta row e_n has a flat DFT: coefficient basis → p^{1−r}; frequency basis (odd p) →
    # (1/p)^r + (p−1)/2 · (2/p)^r
    delta = torch.zeros(1, 2 * P, dtype=torch.float64)
    delta[0, 5] = 1.0
    for r in (2.0, 3.0):
        assert abs(ipr(delta, r, basis="coefficient") - P ** (1 - r)) < 1e-12
        assert abs(ipr(delta, r) - ((1 / P) ** r + (P - 1) / 2 * (2 / P) ** r)) < 1e-12
    # random weights are delocalised: far below a localised neuron
    assert ipr(Wr) < 0.5


def test_ipr_of_gromov_solution() -> None:
    sol = gromov_solution(P, 3 * P, seed=0)
    W = sol.net.W
    per = ipr_per_neuron(W)
    nonconst = sol.freqs != 0                        # frequency-0 neurons are constant rows
    assert torch.allclose(per[nonconst], torch.ones(int(nonconst.sum()), dtype=torch.float64))
    per_c = ipr_per_neuron(W, basis="coefficient")
    assert torch.allclose(per_c[nonconst], torch.full((int(nonconst.sum()),), 0.25, dtype=torch.float64))


def test_spectra_sum_to_one_and_locate_frequency() -> None:
    zeros = torch.zeros(P, dtype=torch.float64)
    W = torch.stack([torch.cat([_wave(3, 0.1), _wave(3, 0.9)]), torch.cat([_wave(3, 2.0), zeros])])
    s = layer_spectrum(W)
    assert abs(float(s.sum()) - 1) < 1e-12 and int(s.argmax()) == 3 and abs(float(s[3]) - 1) < 1e-12
    e = embedding_spectrum(W[:, :P].t())
    assert abs(float(e.sum()) - 1) < 1e-12 and int(e.argmax()) == 3


def test_pca_circle() -> None:
    a = torch.arange(P, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    # embeddings in R^6 lying on a circle of frequency 4 inside a random 2-plane
    Q, _ = torch.linalg.qr(torch.randn(6, 2, generator=g, dtype=torch.float64))
    circ = torch.stack([torch.cos(2 * math.pi * 4 * a / P), torch.sin(2 * math.pi * 4 * a / P)], 1)
    E = 3.0 * circ @ Q.t() + 1.5
    coords, explained = embedding_pca(E, 2)
    assert abs(float(explained.sum()) - 1) < 1e-12
    score, j = circle_score(coords)
    assert abs(score - 1) < 1e-12 and j == 4
    # a segment traversed back and forth scores 1/2
    seg = torch.stack([_wave(2, 0.0), 2 * _wave(2, 0.0)], 1)
    assert abs(circle_score(seg)[0] - 0.5) < 1e-12
    # random points: no single frequency dominates
    rnd = torch.randn(P, 2, generator=g, dtype=torch.float64)
    assert circle_score(rnd)[0] < 0.6


def test_fourier_bad_input() -> None:
    with pytest.raises(ValueError, match="2p"):
        ipr(torch.ones(3, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="basis"):
        ipr(torch.ones(3, 8, dtype=torch.float64), basis="nope")
    with pytest.raises(ValueError, match="r="):
        ipr(torch.ones(3, 8, dtype=torch.float64), r=0)
    with pytest.raises(ValueError, match="zero"):
        ipr(torch.zeros(3, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="k="):
        embedding_pca(torch.ones(5, 3, dtype=torch.float64), k=4)
    with pytest.raises(ValueError, match="finite"):
        frequency_power(torch.full((2, 5), float("inf")))


# ============================================================================ cadence & subsets
def test_log_steps_and_eval_subset() -> None:
    s = log_steps(5000, 30)
    assert s[0] == 0 and s[-1] == 5000 and s == sorted(set(s)) and 20 <= len(s) <= 31
    assert log_steps(0) == [0]
    task = Task(7)
    x = eval_subset(task, 20, seed=3)
    assert x.shape == (20, 2) and torch.equal(x, eval_subset(task, 20, seed=3))
    assert len({tuple(r) for r in x.tolist()}) == 20                # distinct points
    assert not torch.equal(x, eval_subset(task, 20, seed=4))
    assert eval_subset(task, 49).shape == (49, 2)                     # the whole population


def test_cadence_and_subset_bad_input() -> None:
    task = Task(5)
    with pytest.raises(ValueError, match="size"):
        eval_subset(task, 26)                                        # > p² = 25
    with pytest.raises(ValueError, match="num"):
        log_steps(100, 0)
    split = sample_split(task, n=10, seed=0)
    for bad in (0, -3):
        with pytest.raises(ValueError, match="every"):
            KernelTracker(task, split.train.x, split.train.y, every=bad)
    with pytest.raises(ValueError, match="steps entry"):
        KernelTracker(task, split.train.x, split.train.y, steps=[0, -1])
    with pytest.raises(ValueError, match="at most one"):
        KernelTracker(task, split.train.x, split.train.y, steps=[1], every=2)
    with pytest.raises(ValueError, match="x_eval"):
        KernelTracker(task, split.train.x, split.train.y, x_eval=torch.zeros(5, 3, dtype=torch.long))


# ============================================================================ tracker
def test_tracker_matches_direct_computation_and_velocity() -> None:
    p = 7
    task = Task(p)
    split = sample_split(task, n=30, seed=0)
    x_ev = eval_subset(task, 25, seed=1)
    tr = KernelTracker(task, split.train.x, split.train.y, steps=[0, 2, 5], x_eval=x_ev,
                       after_pairs=split.test.x)
    nets = [QuadraticNet.init(p, 10, seed=s) for s in (0, 1, 2)]
    recs = []
    for step, net in zip([0, 1, 2, 5], [nets[0], nets[1], nets[1], nets[2]], strict=True):
        rec: dict = {}
        tr(step, net.params(), rec)
        recs.append(rec)
    assert recs[1] == {}                                           # step 1 is not tracked
    assert recs[0]["ntk_change_train"] == 0.0 and abs(recs[0]["ntk_dist_eval"]) < 1e-12
    K0 = entk(nets[0], split.train.x)
    K1 = entk(nets[1], split.train.x)
    K2 = entk(nets[2], split.train.x)
    assert abs(recs[2]["ntk_change_train"] - float(torch.linalg.norm(K1 - K0))) < 1e-9
    assert abs(recs[2]["ntk_dist_train"] - kernel_distance(K1, K0)) < 1e-12
    assert abs(recs[3]["ntk_step_dist_train"] - kernel_distance(K2, K1)) < 1e-12
    assert abs(recs[3]["ntk_velocity_train"] - kernel_distance(K2, K1) / 3) < 1e-12
    E0, E2 = entk(nets[0], x_ev), entk(nets[2], x_ev)
    assert abs(recs[3]["ntk_rel_change_eval"] - relative_kernel_change(E2, E0)) < 1e-12
    Y = torch.nn.functional.one_hot(split.train.y, p).double()
    assert abs(recs[3]["ntk_align_train"] - kernel_target_alignment(K2, Y)) < 1e-12
    assert 0.0 <= recs[3]["after_kernel_acc"] <= 1.0
    assert tr.history["step"] == [0, 2, 5]
    assert math.isnan(tr.history["ntk_step_dist_train"][0])


def test_cosine_distance_is_the_one_core() -> None:
    """The public distance and the tracker share one computation; hand values: orthogonal
    matrices are at distance 1, opposite ones at 2, a matrix and its multiple at 0."""
    E1 = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    E2 = torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert cosine_distance(E1, E2) == 1.0
    assert cosine_distance(E1, -E1) == 2.0
    assert cosine_distance(E1, 4.0 * E1) == 0.0
    K1, K2 = _psd(6, 2, 0), _psd(6, 3, 1)
    a, b = K1.numpy().ravel(), K2.numpy().ravel()
    expected = 1 - float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))    # numpy, independently
    assert abs(cosine_distance(K1, K2) - expected) < 1e-14
    assert kernel_distance(K1, K2) == cosine_distance(K1, K2)
    with pytest.raises(ValueError, match="zero"):
        cosine_distance(K1, torch.zeros(6, 6, dtype=torch.float64))
    assert math.isnan(cosine_distance(K1, torch.zeros(6, 6, dtype=torch.float64), on_zero="nan"))
    with pytest.raises(ValueError, match="on_zero"):
        cosine_distance(K1, K2, on_zero="ignore")


def test_tracker_records_nan_for_a_zero_kernel() -> None:
    """A zero eNTK (θ = 0: every gradient of the quadratic net vanishes) has no direction:
    the public kernel_distance refuses it, the tracker records NaN for its distances and
    alignments (a metric does not abort the run it observes) and the Frobenius change, which
    is defined, as a number."""
    p = 5
    task = Task(p)
    split = sample_split(task, n=12, seed=0)
    zero = QuadraticNet(torch.zeros(8, 2 * p, dtype=torch.float64), torch.zeros(p, 8, dtype=torch.float64))
    K0 = entk(zero, split.train.x)
    assert float(K0.abs().max()) == 0.0
    with pytest.raises(ValueError, match="zero"):
        kernel_distance(K0, K0)
    tr = KernelTracker(task, split.train.x, split.train.y, steps=[0, 1])
    net1 = QuadraticNet.init(p, 8, seed=0)
    recs = []
    for step, net in ((0, zero), (1, net1)):
        rec: dict = {}
        tr(step, net.params(), rec)
        recs.append(rec)
    for key in ("ntk_dist_train", "ntk_cdist_train", "ntk_align_train", "ntk_calign_train"):
        assert math.isnan(recs[0][key]), key
    assert math.isnan(recs[1]["ntk_dist_train"]) and math.isnan(recs[1]["ntk_rel_change_train"])
    K1 = entk(net1, split.train.x)
    assert abs(recs[1]["ntk_change_train"] - float(torch.linalg.norm(K1))) < 1e-9
    assert not math.isnan(recs[1]["ntk_align_train"])


def test_tracker_centred_metrics_of_a_kernel_constant_up_to_round_off_are_nan() -> None:
    """The tracker centres with its own hot-path code: an eNTK c·11ᵀ whose centring left a
    few-ulp constant residue used to get a centred distance of exactly 1 from any centred
    kernel (the residue is orthogonal to every centred Gram) instead of NaN. It now agrees
    with center_gram (exactly 0, so NaN like a zero kernel), and a genuine spread of 1e-9 on
    the same constant keeps its centred alignment (agreement with the explicit-H formula)."""
    p = 5
    task = Task(p)
    split = sample_split(task, n=9, seed=0)
    n = split.train.x.shape[0]
    gen = torch.Generator().manual_seed(0)
    cs = [float(c) for c in torch.rand(40, generator=gen, dtype=torch.float64)]
    c = next(c for c in cs if float(torch.linalg.matrix_norm(
        (K := torch.full((n, n), c, dtype=torch.float64)) - K.mean(0) - K.mean(1, keepdim=True) + K.mean())) > 0)
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    spread = 1e-9 * torch.outer(x, x) ** 2

    def kernel(extra):
        def fn(params, xa, xb=None):
            return torch.full((xa.shape[0], xa.shape[0]), c, dtype=torch.float64) + extra
        return fn

    rec: dict = {}
    KernelTracker(task, split.train.x, split.train.y, kernel_fn=kernel(0.0))(0, {"W": torch.zeros(1)}, rec)
    assert math.isnan(rec["ntk_calign_train"])
    assert not math.isnan(rec["ntk_align_train"])   # the uncentred constant kernel has a direction
    rec = {}
    KernelTracker(task, split.train.x, split.train.y, kernel_fn=kernel(spread))(0, {"W": torch.zeros(1)}, rec)
    Y = torch.nn.functional.one_hot(split.train.y, p).double()
    assert abs(rec["ntk_calign_train"] - _explicit_centred_cosine(c + spread, Y)) < 1e-6
    tr = KernelTracker(task, split.train.x, split.train.y, steps=[0, 1])
    net = QuadraticNet.init(p, 8, seed=0, dtype=torch.float64)
    tr.kernel_fn = kernel(0.0)
    tr(0, net.params(), rec := {})
    tr.kernel_fn = lambda params, xa, xb=None: entk(net, xa)
    tr(1, net.params(), rec := {})
    assert math.isnan(rec["ntk_cdist_train"])   # the round-off residue used to give exactly 1.0


def test_after_kernel_on_a_perfect_kernel() -> None:
    """A kernel that already encodes the task (K = YYᵀ over all pairs, the label-
    indicator kernel) gives after-kernel accuracy 1; the tracker must report it."""
    p = 5
    task = Task(p)
    split = sample_split(task, n=15, seed=2)

    def label_kernel(params, x, x2=None):
        x2 = x if x2 is None else x2
        return (((x[:, 0] + x[:, 1]) % p)[:, None] == ((x2[:, 0] + x2[:, 1]) % p)[None, :]).double()

    tr = KernelTracker(task, split.train.x, split.train.y, kernel_fn=label_kernel, after_pairs=split.test.x)
    rec: dict = {}
    tr(0, {"W": torch.zeros(1)}, rec)
    labels_seen = set(split.train.y.tolist())
    test_labels = task.label(split.test.x)
    seen = torch.tensor([int(t) in labels_seen for t in test_labels])
    # every test pair whose class occurs in training is predicted right, the others cannot be
    assert abs(rec["after_kernel_acc"] - float(seen.double().mean())) < 1e-12
    assert abs(rec["ntk_align_train"] - 1.0) < 1e-12


def test_tracker_inside_training_loop() -> None:
    from regimes.train import TrainConfig, train

    p = 7
    task = Task(p)
    split = sample_split(task, n=30, seed=0)
    steps = log_steps(40, 8)
    tr = KernelTracker(task, split.train.x, split.train.y, steps=steps)
    res = train(QuadraticNet.init(p, 14, seed=0), split.train, TrainConfig(steps=40, lr=0.05, eval_steps=steps),
                test=split.test, callbacks=[tr])
    assert res.history["step"] == steps
    d = res.history["ntk_dist_train"]
    assert d[0] < 1e-12 and all(math.isfinite(v) for v in d)
    K_end = entk(res.net, split.train.x)
    K_0 = entk(QuadraticNet.init(p, 14, seed=0), split.train.x)
    assert abs(res.history["ntk_change_train"][-1] - kernel_change(K_end, K_0)) < 1e-8 * kernel_change(K_end, K_0)


def test_tracker_regression_setting() -> None:
    p = 5
    task = Task(p, "regression")
    split = sample_split(task, n=40, seed=0)
    pairs = torch.tensor([[0, 1], [2, 3], [4, 4]])
    tr = KernelTracker(task, split.train.x, split.train.y, after_pairs=pairs, x_eval=eval_subset(task, 30))
    rec: dict = {}
    net = QuadraticNet.init(p, 12, seed=0)
    tr(0, net.params(), rec)
    assert rec["ntk_change_eval"] == 0.0 and 0 <= rec["after_kernel_acc"] <= 1
    K = entk(net, split.train.x, kind="regression")
    assert abs(rec["ntk_align_train"] - kernel_target_alignment(K, split.train.y)) < 1e-12


def test_tracker_autodiff_kernel_matches_closed_form() -> None:
    """The torch.func path of the tracker (used for the transformer) gives the same
    numbers as the closed-form path on the quadratic net."""
    from regimes.metrics import autodiff_kernel_fn

    p = 5
    task = Task(p)
    split = sample_split(task, n=12, seed=1)
    t_cf = KernelTracker(task, split.train.x, split.train.y)
    t_ad = KernelTracker(task, split.train.x, split.train.y,
                         kernel_fn=autodiff_kernel_fn(QuadraticNet.apply, logit=0))
    for s in (0, 1):
        net = QuadraticNet.init(p, 6, seed=s)
        r1: dict = {}
        r2: dict = {}
        t_cf(s, net.params(), r1)
        t_ad(s, net.params(), r2)
        for k in ("ntk_change_train", "ntk_dist_train", "ntk_cdist_train", "ntk_align_train"):
            assert abs(r1[k] - r2[k]) <= 1e-9 * max(1.0, abs(r1[k])), k


def test_dense_tracking_kernel_matches_closed_form() -> None:
    """The tracker's dense masked formula (two matmuls + cached m(x, x')) against the
    group-by-group closed form of regimes.ntk, both settings, cross-kernels, mean field."""
    from regimes.metrics import quadratic_kernel_fn
    from regimes.ntk.closed_form import first_logit_ntk, regression_ntk

    p = 7
    net = QuadraticNet.init(p, 9, seed=3, mean_field=True)
    x = Task(p).population().x[::3]
    x2 = Task(p).population().x[5:30]
    for logit in (0, 4):
        kf = quadratic_kernel_fn("classification", logit=logit, output_scale=net.output_scale)
        ref = first_logit_ntk(net.W, net.V, x, x2, logit=logit, output_scale=net.output_scale)
        assert torch.allclose(kf(net.params(), x, x2), ref, rtol=1e-12, atol=1e-14)
        assert torch.allclose(kf(net.params(), x, x2), ref, rtol=1e-12, atol=1e-14)   # cached mask
    t = Task(p, "regression").population().x[::11]
    kr = quadratic_kernel_fn("regression", output_scale=net.output_scale)
    ref = regression_ntk(net.W, net.V, t, output_scale=net.output_scale)
    assert torch.allclose(kr(net.params(), t), ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="setting"):
        quadratic_kernel_fn("other")


def test_margins_one_definition() -> None:
    """q = f_y − max_{y'≠y} f_{y'} by hand; the check module's name is the same function, and
    train's q_min is its minimum over the training pairs."""
    from regimes.checks.rich import margins as rich_margins
    from regimes.metrics import margins
    from regimes.train import TrainConfig, evaluate

    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0], [-1.0, 4.0, 0.0]], dtype=torch.float64)
    assert margins(logits, torch.tensor([0, 1, 2])).tolist() == [1.0, 0.0, -4.0]
    assert rich_margins is margins
    net = QuadraticNet.init(5, 12, seed=0)
    data = sample_split(Task(5), n=10, seed=0).train
    rec = evaluate(net, data, TrainConfig(steps=1, lr=0.1))
    assert rec["q_min"] == float(margins(net(data.x), data.y).min())
    for bad_logits, bad_y in ((torch.zeros(3), torch.tensor([0, 1, 2])),          # not 2-D
                              (torch.zeros(3, 1), torch.tensor([0, 0, 0])),       # one class
                              (logits, torch.tensor([0.0, 1.0, 2.0])),           # float labels
                              (logits, torch.tensor([0, 1])),                     # wrong length
                              (logits, torch.tensor([0, 1, 3]))):                 # label out of range
        with pytest.raises(ValueError):
            margins(bad_logits, bad_y)
