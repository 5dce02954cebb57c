"""Every named setting of the sources, declared once, with where it comes from.

One module per source, each a set of plain dicts whose values carry their provenance (the
section, equation or "our reading" that gives them); a tier (``quick``/``paper``/``full``) is an
overlay on them, never a second copy:

* :mod:`regimes.settings.mohamadi` — the central paper (Mohamadi et al., ICML 2024): App. A.1–A.3 as
  stated, and a named *reading* of every value it leaves open, with the paper's words;
* :mod:`regimes.settings.gromov` — A. Gromov, *Grokking modular arithmetic* (2023);
* :mod:`regimes.settings.dynamics` — the suite's own runs for the paper's empirical dynamics claims
  (Figs 1, 2, 5: checks C17, C17b), our reading where no source states a value;
* :mod:`regimes.settings.grids` — one grid per claim, read by the claim's figure *and* its check;
* :mod:`regimes.settings.schema` — the one validation convention every run config passes
  before any work (type, range, finiteness, choices: by value, never by truthiness), and the
  leaf paths that ``regimes run NN --set KEY=VALUE`` and ``--print-config`` read.

The package sits on the ground floor: it imports only :mod:`regimes._validate` and
:mod:`regimes.store`, so every floor above it (tasks, runs, checks, experiments, the harness and
the command line) may read it.
"""
