"""C17 — kernel-to-rich timing (Figs 1, 2, 5; digest §7 C17).

One tracked AdamW run of the quadratic net (cross-entropy, n = 2p^{5/3}, h = 4p,
init scale α = 8, weight decay 1 — a setting that groks within a few thousand
steps on a CPU). With t_fit the first step at 100 % training accuracy and t_gen
the first at ≥ 95 % test accuracy, the check asks for

    S(t_fit, 0) ≤ 0.1    and    S(t_gen, 0) / S(t_fit, 0) ≥ 10,

where S is Fort et al.'s kernel distance of the first-logit eNTK on the training
set: the kernel has barely turned when the training set is fit, and it moves by
at least an order of magnitude more before the network generalises. The
relative Frobenius change ‖Θ̂_t − Θ̂₀‖/‖Θ̂₀‖ at both times is reported beside it.
This is an empirical claim of the paper (no theorem), so the verdict is a
measurement, not a proof.
"""

from __future__ import annotations

from regimes.checks import CheckResult, register


@register("C17", theorem="Figs 1, 2, 5 (empirical; Kumar et al., Lyu et al.)",
          statement="eNTK barely moves before t_fit (S ≤ 0.1) and moves ≥ 10× more by t_gen",
          test="tests/test_dynamics.py")
def c17(quick: bool = True) -> CheckResult:
    """Run one tracked training run and evaluate the C17 inequalities (see module doc)."""
    from regimes.metrics.runs import tracked_run

    cfg = {"p": 31 if quick else 47, "alpha": 8.0, "weight_decay": 1.0, "steps": 5000 if quick else 20000,
           "eval_size": 0, "after_pairs": 0, "n_track": 40, "seed": 0}
    summary, _ = tracked_run(cfg)
    c = summary["c17"]
    measured = float("nan") if c["growth_ratio"] is None else float(c["growth_ratio"])
    return CheckResult(
        id="C17", theorem="Figs 1, 2, 5", measured=measured, bound=10.0, relation=">=",
        holds=c["holds"],
        details={**c, "t_mem": summary["t_mem"], "t_grok": summary["t_grok"], "t_exit": summary["t_exit"],
                 "exit_after_mem": summary["exit_after_mem"], "config": cfg},
    )
