"""Settings of the blog post "Some thoughts on Grokking" (code: okitouni/simple-grokking), each
declared once with where it comes from ("blog" for the post's words, "blog's code" for its
repository's defaults, "our reading" where neither gives the value).

:class:`regimes.runs.MLPRunConfig` takes :data:`BLOG_MLP` as its defaults; experiment 19 (the
embedding circle, :data:`CIRCLE_MLP` and :data:`CIRCLE`) and the embedding-MLP rows of
experiments 13 (:data:`FOURIER_MLP`) and 14 (:data:`MEASURES_MLP`) overlay it.

>>> BLOG_MLP["p"], BLOG_MLP["hidden"], BLOG_WD_SMALL, BLOG_WD_LARGE
(53, 128, 0.03, 5.0)
"""

from __future__ import annotations

from typing import Any

#: The blog's weight decays: "raising the weight decay from 0.03 to 5" removes the delay between
#: memorisation and generalisation (blog; 0.03 is its code's default).
BLOG_WD_SMALL, BLOG_WD_LARGE = 0.03, 5.0

#: The blog's embedding MLP and its training (blog's code): a + b mod 53; "a simple 2-layer MLP
#: that takes in two learnable embeddings of dimension hidden_dim=128 concatenated together"
#: (d_embed = hidden = 128, blog); full-batch AdamW lr 3e-2 with weight decay 0.03 on 60 % of the
#: pairs for ``num_epochs`` = 10,000 steps (blog's code). float32: PyTorch's default (our
#: reading). ``n_track`` (log-spaced evaluations) and ``grok_threshold`` (held-out accuracy that
#: defines t_grok) are the suite's measures, not the blog's (our reading).
BLOG_MLP: dict[str, Any] = {"p": 53, "d_embed": 128, "hidden": 128, "optimizer": "adamw", "lr": 3e-2,
                            "weight_decay": BLOG_WD_SMALL, "fraction": 0.6, "steps": 10_000, "n_track": 80,
                            "dtype": "float32", "grok_threshold": 0.9}

# --------------------------------------------------------------------------- experiment 19
#: Experiment 19's run (quick), without the embedding width d and the seed: the blog's MLP at
#: its larger weight decay 5, with which "the embeddings form a clean circle" without delay
#: (blog); 400 steps (our reading: the circle has formed by then at this decay).
CIRCLE_MLP: dict[str, Any] = {**{k: BLOG_MLP[k] for k in ("p", "hidden", "optimizer", "lr")},
                              "weight_decay": BLOG_WD_LARGE, "fraction": BLOG_MLP["fraction"], "steps": 400,
                              "dtype": BLOG_MLP["dtype"]}
#: Experiment 19's grid by tier (our reading): the embedding widths d ("more so for a wider
#: model": the blog's lottery-ticket remark), seeds, the steps at which E is kept (frames), the
#: number of strongest frequencies that count as "lower principal components" (``top``, the
#: blog's two-degenerate-circles remark), and the draws of the rank-correlation null.
CIRCLE: dict[str, dict[str, Any]] = {
    "quick": {"mlp": CIRCLE_MLP, "widths": [32, 128], "seeds": [0, 1, 2], "frames": [0, 10, 30, 100, 200, 400],
              "top": 3, "null_draws": 500},
    "full": {"mlp": {**CIRCLE_MLP, "steps": 2000}, "widths": [16, 32, 128, 512], "seeds": [0, 1, 2, 3, 4],
             "frames": [0, 10, 20, 50, 100, 200, 500, 1000, 2000], "top": 3, "null_draws": 2000},
}

# --------------------------------------------------------------------------- experiments 13, 14
#: Experiment 13's embedding-MLP row (quick): the blog's MLP and weight decay, 6,000 steps and
#: 60 evaluations (our reading: ~60 s of training on one CPU thread); full: the blog's 10,000.
FOURIER_MLP: dict[str, dict[str, Any]] = {
    "quick": {**{k: BLOG_MLP[k] for k in ("p", "d_embed", "hidden", "optimizer", "lr", "weight_decay",
                                           "fraction")}, "steps": 6000, "n_track": 60, "dtype": BLOG_MLP["dtype"]},
}
FOURIER_MLP["full"] = {**FOURIER_MLP["quick"], "steps": BLOG_MLP["steps"], "n_track": BLOG_MLP["n_track"]}

#: Experiment 14's embedding-MLP row: the blog's MLP without its weight decay (swept), at
#: p = 31 and 8,000 steps quick (our reading: a step costs ~3× less than at 53), the blog's
#: p = 53 and 10,000 steps full. The weight-decay sweep spans the blog's 0.03 to 5; the fraction
#: sweep runs at weight decay 1 (our reading).
MEASURES_MLP: dict[str, dict[str, Any]] = {
    "quick": {"base": {**{k: BLOG_MLP[k] for k in ("d_embed", "hidden", "optimizer", "lr", "fraction")}, "p": 31,
                       "steps": 8000, "n_track": 50, "dtype": BLOG_MLP["dtype"]},
              "wds": [BLOG_WD_SMALL, 0.3, 1.0, BLOG_WD_LARGE], "wd_fixed": 1.0, "fractions": [0.4, 0.6, 0.8]},
}
MEASURES_MLP["full"] = {
    "base": {**MEASURES_MLP["quick"]["base"], "p": BLOG_MLP["p"], "steps": BLOG_MLP["steps"],
             "n_track": BLOG_MLP["n_track"]},
    "wds": [BLOG_WD_SMALL, 0.1, 0.3, 1.0, 3.0, BLOG_WD_LARGE], "wd_fixed": 1.0,
    "fractions": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]}
