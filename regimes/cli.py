"""The ``regimes`` command line: list, run, reproduce, check, report.

``regimes list``        every experiment (paper figure, runtime estimates) and check
``regimes run NN``      one experiment, or a sweep over seeds / config values
``regimes reproduce``   every experiment in order, the checks, then the report
``regimes check``       the verification table; exit status 1 on FAIL, INCONCLUSIVE or ERROR
``regimes report``      the static page ``report/index.html``
``regimes publish``     finished results into ``docs/results/<mode>/``, figures into ``docs/gallery/``

Experiments and checks are found at run time (:func:`regimes.harness.discover`,
:func:`regimes.checks.all_checks`), so a new ``experiments/NN_slug.py`` or a
new check module shows up here with no change to this file.

Every bad input (unknown experiment, conflicting flags, ``--device cuda`` with
no CUDA, an unreachable Dask scheduler) ends with one line ``error: … — fix``
and exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from regimes import harness
from regimes.store import jsonable

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CLIError(Exception):
    """A user error: printed as one line ``error: …``, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that name the fix (``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} — see `{self.prog} --help`\n")


class _FMT(argparse.RawDescriptionHelpFormatter):
    """Wrap descriptions to the terminal; keep the examples epilog as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


# --------------------------------------------------------------------------- helpers
def _bars_off(quiet: bool) -> bool:
    return quiet or not sys.stderr.isatty()


def _fmt_seconds(s: float) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "?"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _experiments(directory: str | None) -> list[harness.Experiment]:
    """Every experiment script's ``EXPERIMENT``; a broken script is named in the error."""
    d = Path(directory) if directory else harness.EXPERIMENTS_DIR
    if not d.is_dir():
        raise CLIError(f"experiments folder {str(d)!r} does not exist — pass --experiments DIR "
                       "pointing at the folder of NN_slug.py scripts")
    try:
        return harness.discover(d)
    except Exception:
        for path in sorted(d.glob("[0-9][0-9]_*.py")):
            try:
                harness.load_script(path)
            except Exception as e:
                raise CLIError(f"experiment script {path} fails to load ({type(e).__name__}: {e}) "
                               "— fix it or move it out of the folder") from None
        raise


def _checks() -> list[Any]:
    """Every registered check; a broken check module is named in the error."""
    import importlib
    import pkgutil

    import regimes.checks as rc

    try:
        return rc.all_checks()
    except Exception:
        for mod in pkgutil.iter_modules(rc.__path__):
            try:
                importlib.import_module(f"regimes.checks.{mod.name}")
            except Exception as e:
                raise CLIError(f"check module regimes/checks/{mod.name}.py fails to import "
                               f"({type(e).__name__}: {e}) — fix it") from None
        raise


def _find(exps: list[harness.Experiment], ident: str) -> harness.Experiment:
    """The experiment named by number (``1``, ``01``), name (``01_slug``) or slug."""
    s = ident.strip()
    for exp in exps:
        if s in (exp.number, exp.name, exp.slug) or (s.isdigit() and int(s) == int(exp.number)):
            return exp
    known = ", ".join(e.number for e in exps) or "none"
    raise CLIError(f"no experiment {ident!r} — known numbers: {known} (see `regimes list`)")


def _device(value: str) -> str:
    if value == "cpu" or value == "cuda" or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise argparse.ArgumentTypeError(f"invalid device {value!r} (choose cpu, cuda or cuda:N)")


def _check_device(device: str, remote: bool = False) -> None:
    if not device.startswith("cuda") or remote:
        return
    import torch

    if not torch.cuda.is_available():
        raise CLIError(f"--device {device} but CUDA is not available here (torch {torch.__version__})"
                       " — use --device cpu, or install a CUDA build of torch on a GPU machine")
    idx = int(device.split(":")[1]) if ":" in device else 0
    if idx >= torch.cuda.device_count():
        raise CLIError(f"--device {device} but only {torch.cuda.device_count()} CUDA device(s) — "
                       "pick an index below that")


def _overrides(exp: harness.Experiment, sets: list[str], mode: str) -> dict[str, list[Any]]:
    """``--set KEY=VALUE`` items → ``{full dotted path: [value, …]}`` (several values: a sweep).

    ``KEY`` is a dotted path of the ``mode`` tier's config or a short key naming one leaf
    (:func:`regimes.harness.check_config_key`); the value syntax is
    :func:`regimes.settings.schema.parse_set`'s: JSON when it parses, a JSON list or object is
    one value, ``A,B`` is a sweep for a one-value key and the list ``[A, B]`` for a list key,
    ``A;B`` a sweep for any key. Every value is checked by the schema before any work."""
    from regimes.settings import schema

    axes: dict[str, list[Any]] = {}
    for item in sets:
        key, sep, vals = item.partition("=")
        key = key.strip()
        if not sep or not key or not vals:
            raise CLIError(f"--set {item!r} is not KEY=VALUE — e.g. --set p=11 (a sweep: --set p=11,17; "
                           "a list: --set 'ps=[11,17]')")
        try:
            path = harness.check_config_key(exp, key, mode)
        except ValueError as e:
            raise CLIError(f"--set {key}: {e}") from None
        if path in axes:
            raise CLIError(f"--set {path} given twice — give all values once: --set {key}=A,B")
        holds_list = harness.key_holds_list(exp, mode, path)
        values = schema.parse_set(vals, lambda holds_list=holds_list: holds_list)
        if holds_list and ";" in vals:
            bad = next((v for v in values if not isinstance(v, list)), None)
            if bad is not None:
                parts = [v.strip() for v in vals.split(";")]
                raise CLIError(f"--set {key}: {path}={json.dumps(bad)} is not allowed: {path} holds a list, and "
                               f"'A;B' sweeps whole values — a sweep of lists is written "
                               f"'{key}={';'.join(f'[{v}]' for v in parts)}'")
        leaf = schema.LEAVES.get(path.rsplit(".", 1)[-1])
        for v in values:
            if leaf is not None:
                try:
                    schema.validate_value(path, v, leaf)
                except ValueError as e:
                    raise CLIError(f"--set {key}: {e}") from None
        axes[path] = values
    return axes


# --------------------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> int:
    """`regimes list`: every experiment and every registered check."""
    exps, checks = _experiments(args.experiments), _checks()
    if args.json:
        print(json.dumps({
            "experiments": [{"number": e.number, "name": e.name, "title": e.title,
                             "figure": e.figure, "seconds_quick": jsonable(e.seconds_quick),
                             "seconds_paper": jsonable(e.seconds_paper) if e.paper is not None else None,
                             "seconds_full": jsonable(e.seconds_full),
                             "checks": list(e.checks)} for e in exps],
            "checks": [{"id": c.id, "theorem": c.theorem, "statement": c.statement, "test": c.test}
                       for c in checks]}, indent=2))
        return EXIT_OK
    print(f"Experiments ({len(exps)})  — run one with `regimes run NN`\n")
    print(_table(["NN", "title", "paper figure", "quick", "paper tier", "full", "checks"],
                 [[e.number, e.title, e.figure, _fmt_seconds(e.seconds_quick),
                   _fmt_seconds(e.seconds_paper) if e.paper is not None else "—",
                   _fmt_seconds(e.seconds_full), ",".join(e.checks)] for e in exps]))
    if any(e.paper is not None for e in exps):
        total = sum(e.seconds_paper for e in exps if e.paper is not None and e.seconds_paper == e.seconds_paper)
        print(f"\npaper tier (`regimes reproduce --paper --jobs 2`): the App. A hyperparameters at CPU scale, "
              f"about {_fmt_seconds(total)} of single-process runs in all (measured two at a time on 2 cores)")
    print(f"\nChecks ({len(checks)})  — run them with `regimes check`\n")
    lines = _table(["id", "theorem", "test"], [[c.id, c.theorem, c.test] for c in checks])
    head, rule, *rows = lines.splitlines()
    print(head, rule, sep="\n")
    indent = " " * (max((len(c.id) for c in checks), default=2) + 2)
    for row, c in zip(rows, checks, strict=True):
        print(row)
        print(f"{indent}{c.statement}")
    return EXIT_OK


# --------------------------------------------------------------------------- run
def _check_jobs(jobs: int) -> int:
    """``--jobs`` as one line before any work: at least 1, at most this machine's cores (more
    worker processes than cores only time-slice them, each holding its own copy of the data)."""
    cores = os.cpu_count() or 1
    if jobs < 1 or jobs > cores:
        raise CLIError(f"--jobs {jobs} is out of range: this machine has {cores} core(s), allowed 1 to {cores} "
                       f"— e.g. --jobs {min(2, cores)}, or --jobs 1 to run in this process")
    return jobs


def _check_dask() -> None:
    """``--executor dask`` without the extra: one line with the install line, before any work."""
    import importlib.util

    try:
        found = importlib.util.find_spec("dask.distributed") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise CLIError("--executor dask needs Dask, which is not installed — pip install -e '.[sweep]', "
                       "or drop --executor for local worker processes (--jobs N)")


def _resolve_executor(args: argparse.Namespace) -> tuple[str, int]:
    executor = args.executor
    if args.scheduler is not None:
        if executor == "local":
            raise CLIError("--scheduler needs --executor dask (a local run has no scheduler) — "
                           "drop one of them")
        executor = "dask"
        if args.jobs is not None:
            raise CLIError("--jobs sizes a local cluster; with --scheduler the cluster's workers "
                           "decide — drop --jobs")
        if "://" not in args.scheduler and ":" not in args.scheduler:
            raise CLIError(f"--scheduler {args.scheduler!r} is not an address — "
                           "use e.g. tcp://10.0.0.5:8786")
    executor = executor or "local"
    jobs = args.jobs if args.jobs is not None else (min(4, os.cpu_count() or 1)
                                                     if executor == "dask" else 1)
    if executor == "dask":
        _check_dask()
    if args.scheduler is None:   # a local pool or LocalCluster runs on this machine's cores
        _check_jobs(jobs)
    return executor, jobs


def cmd_run(args: argparse.Namespace) -> int:
    """`regimes run NN`: one experiment, or a sweep over seeds and --set lists."""
    from regimes import sweep

    exps = _experiments(args.experiments)
    exp = _find(exps, args.experiment)
    try:
        harness.mode_config(exp, args.mode)
    except ValueError as e:
        raise CLIError(str(e)) from None
    executor, jobs = _resolve_executor(args)
    axes = _overrides(exp, args.set or [], args.mode)
    seeds = list(dict.fromkeys(args.seed or [0]))
    own = harness.seeds_paths(exp, args.mode)
    if own and args.seed is not None:
        # the experiment seeds its runs from its own `seeds` lists: --seed sets every one of them (one run)
        both = [p for p in own if p in axes]
        if both:
            raise CLIError(f"--seed and --set {both[0]} both set {exp.name}'s seeds — give one of them")
        if exp.reads_seed and len(seeds) > 1:
            raise CLIError(f"--seed {' '.join(map(str, seeds))} cannot reach every seed of {exp.name}: its runs "
                           f"read one run seed besides its seeds keys ({', '.join(own)}) — give one --seed, or "
                           f"set the seeds keys with --set")
        for p in own:
            axes[p] = [seeds]
        if not exp.reads_seed:
            seeds = [0]
    script = str(Path(args.experiments or harness.EXPERIMENTS_DIR) / f"{exp.name}.py")
    out = Path(args.out)
    combos = sweep.grid(**axes, seed=seeds) if axes else [{"seed": s} for s in seeds]
    try:
        points = [harness.ExperimentPoint(script, args.mode, int(c["seed"]), args.device, tuple(sorted(
            harness.nest_overrides(exp, args.mode, {f".{k}": v for k, v in c.items() if k != "seed"}).items())))
                  .as_dict() for c in combos]
        configs = [harness.full_config(exp, mode=args.mode, seed=pt["seed"], device=args.device,
                                       overrides=pt["overrides"]) for pt in points]   # every point, before any work
    except ValueError as e:
        raise CLIError(str(e)) from None
    # a single run computes here; a sweep on an existing cluster computes on its workers.
    # --print-config shows what the run would do, so it is refused where the run would be
    _check_device(args.device, remote=args.scheduler is not None and len(points) > 1)
    if args.print_config:
        for cfg in configs:
            print(json.dumps(jsonable(cfg), indent=2, sort_keys=False))
        return EXIT_OK

    est = {"quick": exp.seconds_quick, "paper": exp.seconds_paper, "full": exp.seconds_full}[args.mode]
    if not args.quiet and isinstance(est, int | float) and est == est and est >= 300:
        print(f"{exp.name}: about {_fmt_seconds(est)} per run ({args.mode} estimate, cached runs are "
              "instant)", file=sys.stderr)
    client = cluster = None
    if executor == "dask":  # connect first: an unreachable scheduler must fail before any write
        client, cluster = sweep.connect_dask(args.scheduler, jobs)
    try:
        if len(points) == 1:  # one run; its ctx.map points use the executor
            inner = None if executor == "local" and jobs == 1 else {
                "jobs": jobs, "executor": executor, "client": client}
            outcome = harness.run(exp, mode=args.mode, seed=seeds[0], device=args.device, out=out,
                                  force=args.force, quiet=args.quiet,
                                  overrides=points[0]["overrides"] or None, executor=inner)
            tag = "cached" if outcome.cached else f"{outcome.result['wall_time_s']:.1f} s"
            print(f"{exp.name}: figure {outcome.figure_path} ({tag}); results {outcome.result_path}")
            return EXIT_OK
        t0 = time.perf_counter()
        harness.clean_out(out)   # temp files of a killed sweep
        fn = functools.partial(harness.experiment_point, out=str(out.resolve()), quiet=True)
        res = sweep.run_sweep(fn, points, harness.ExperimentCache(out, force=args.force), jobs=jobs,
                              executor=executor, client=client, quiet=args.quiet,
                              desc=f"{exp.name} sweep")
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    computed = sum(not r.cached for r in res)
    ipath = harness.write_sweep(
        exp, res, out=out, mode=args.mode, executor=executor, jobs=jobs,
        on_point=lambda tag, fpath, cached: print(
            f"{exp.name} [{tag}]: figure {fpath} ({'cached' if cached else 'computed'})"))
    print(f"{len(res)} points ({computed} computed, {len(res) - computed} cached) in "
          f"{time.perf_counter() - t0:.1f} s; index {ipath}")
    return EXIT_OK


# --------------------------------------------------------------------------- check
def _run_and_print_checks(checks: list[Any], *, quick: bool, out: Path, quiet: bool,
                          as_json: bool = False) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    from regimes import report
    from regimes.checks import runner

    harness.clean_out(out)   # temp files of a killed run
    bar = tqdm(total=len(checks), desc="checks", disable=_bars_off(quiet), leave=False)

    def tick(entry: dict[str, Any]) -> None:
        bar.set_postfix_str(f"{entry['id']} {entry['verdict']}")
        bar.update(1)
        if bar.disable and not quiet:  # no bar (a log, not a terminal): one line per check
            print(f"  {entry['id']}: {entry['verdict']} ({entry['wall_s']:.1f} s)", file=sys.stderr,
                  flush=True)

    try:
        entries = runner.run_checks(checks, quick=quick, on_result=tick, out=out)  # stored as each finishes
    finally:
        bar.close()
    resumed = sum(bool(e.get("resumed")) for e in entries)
    if resumed and not quiet:
        print(f"resumed an interrupted run: {resumed} verdict(s) kept from it, "
              f"{len(entries) - resumed} run now", file=sys.stderr)
    if as_json:
        print(json.dumps(entries, indent=2))
        return entries
    rows = []
    for e in entries:
        r = e["result"] or {}
        bound = (f"{r.get('relation', '')} {report.fmt_num(r.get('bound'))}".strip()
                 if e["result"] else "—")
        rows.append([e["id"], e["theorem"], report.fmt_num(r.get("measured")) if r else "—",
                     bound, e["verdict"].upper()])
    print(_table(["id", "theorem", "measured", "bound", "verdict"], rows))
    for e in entries:
        if e["verdict"] == "error":
            print(f"{e['id']} raised {e['error']}", file=sys.stderr)
    return entries


def _bad(entries: list[dict[str, Any]]) -> list[str]:
    """Ids of the entries that make ``check`` and ``reproduce`` exit 1: FAIL, INCONCLUSIVE or ERROR."""
    from regimes.checks import BAD_VERDICTS

    return [e["id"] for e in entries if e["verdict"].upper() in BAD_VERDICTS]


def cmd_check(args: argparse.Namespace) -> int:
    """`regimes check`: run the registered checks and print the verdict table."""
    checks = _checks()
    if args.only:
        known = {c.id: c for c in checks}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise CLIError(f"unknown check id(s) {', '.join(unknown)} — known: "
                           f"{', '.join(known) or 'none'} (see `regimes list`)")
        checks = [known[i] for i in dict.fromkeys(args.only)]
    if not checks:
        raise CLIError("no checks are registered — add modules under regimes/checks/")
    entries = _run_and_print_checks(checks, quick=args.mode == "quick", out=Path(args.out),
                                    quiet=args.quiet, as_json=args.json)
    bad = _bad(entries)
    if not args.json:
        from regimes.checks.runner import ENTRY_VERDICTS

        counts = {v: sum(e["verdict"] == v for e in entries) for v in ENTRY_VERDICTS}
        print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
              + (f" (exit 1: {', '.join(bad)})" if bad else ""))
    return EXIT_FAIL if bad else EXIT_OK


# --------------------------------------------------------------------------- report
def _build_report(out: Path, exps: list[harness.Experiment], checks: list[Any], *, run_missing: bool,
                  quiet: bool) -> Path:
    from regimes import report
    from regimes.checks import runner

    stored = runner.load_checks(out)
    missing = [c for c in checks if c.id not in stored]
    if missing and run_missing:
        print(f"running {len(missing)} check(s) with no stored verdict (quick): "
              f"{', '.join(c.id for c in missing)}", file=sys.stderr)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(missing), desc="checks", disable=_bars_off(quiet), leave=False)
        try:
            runner.run_checks(missing, quick=True, on_result=lambda _e: bar.update(1), out=out)
        finally:
            bar.close()
    return report.build(out, exps, checks)


def cmd_report(args: argparse.Namespace) -> int:
    """`regimes report`: write report/index.html."""
    exps, checks = _experiments(args.experiments), _checks()
    path = _build_report(Path(args.out), exps, checks, run_missing=not args.no_run_checks,
                         quiet=args.quiet)
    print(f"report: {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- reproduce
def cmd_reproduce(args: argparse.Namespace) -> int:
    """`regimes reproduce`: every experiment in order, then the checks, then the report."""
    from tqdm.auto import tqdm

    exps = _experiments(args.experiments)
    checks = [] if args.skip_checks else _checks()
    if args.mode == "paper":   # the tier exists for the central paper's figures; checks keep their grids
        exps = [e for e in exps if e.paper is not None]
        if checks:
            print("--paper: the checks have quick and full grids only; run `regimes check` for them",
                  file=sys.stderr)
        checks = []
    _check_device(args.device)
    _check_jobs(args.jobs)
    try:
        _ = [harness.full_config(e, mode=args.mode, seed=args.seed, device=args.device) for e in exps]
    except ValueError as e:   # e.g. a seed for experiments that loop over their own seeds: before any work
        own = [x.number for x in exps if harness.loops_over_seeds(x, args.mode)]
        raise CLIError(f"{e}" + (f" (experiments {', '.join(own)} loop over their own 'seeds' key; "
                                 "run them with `regimes run NN --seed …`)" if args.seed and own else "")) from None
    inner = None if args.jobs == 1 else {"jobs": args.jobs, "executor": "local", "client": None}
    out = Path(args.out)
    t0 = time.perf_counter()
    failed: list[str] = []
    bar = tqdm(exps, desc="experiments", unit="exp", disable=_bars_off(args.quiet))
    for exp in bar:
        bar.set_postfix_str(exp.name)
        try:
            oc = harness.run(exp, mode=args.mode, seed=args.seed, device=args.device, out=out,
                             force=args.force, quiet=args.quiet, executor=inner)
        except Exception as e:
            failed.append(exp.name)
            tqdm.write(f"{exp.name}: FAILED ({type(e).__name__}: {e})", file=sys.stdout)
            continue
        tag = "cached" if oc.cached else f"{oc.result['wall_time_s']:.1f} s"
        tqdm.write(f"{exp.name}: figure {oc.figure_path} ({tag})", file=sys.stdout)
    bar.close()
    entries: list[dict[str, Any]] = []
    if checks:
        print()
        entries = _run_and_print_checks(checks, quick=args.mode == "quick", out=out,
                                        quiet=args.quiet)
    path = _build_report(out, exps, checks, run_missing=False, quiet=args.quiet)
    bad = _bad(entries)
    print(f"\nreport: {path}")
    print(f"{len(exps) - len(failed)}/{len(exps)} experiments, "
          f"{len(entries) - len(bad)}/{len(entries)} checks without FAIL/INCONCLUSIVE/ERROR, "
          f"{time.perf_counter() - t0:.0f} s"
          + (f"; failed: {', '.join(failed + bad)}" if failed or bad else ""))
    return EXIT_FAIL if failed or bad else EXIT_OK


# --------------------------------------------------------------------------- publish
def cmd_publish(args: argparse.Namespace) -> int:
    """`regimes publish`: copy finished results and verdicts into docs/results/<mode>/ and
    redraw the gallery from the copies."""
    exps = _experiments(args.experiments)
    try:
        manifest = harness.publish(exps, out=args.out, mode=args.mode, to=args.to, gallery=args.gallery,
                                   allow_overrides=args.allow_overrides)
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None
    to = Path(args.to) if args.to else harness.PUBLISHED_DIR / args.mode
    print(f"published {len(manifest['experiments'])} experiment(s) and "
          f"{len(manifest.get('checks', {}))} check verdict(s) to {to}")
    return EXIT_OK


# --------------------------------------------------------------------------- parser
def _common(p: argparse.ArgumentParser, *, mode: bool = True, quiet: bool = True,
            experiments: bool = True, paper: bool = True) -> None:
    if mode:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                       help="small configs, minutes on a laptop CPU (the default)")
        if paper:
            g.add_argument("--paper", dest="mode", action="store_const", const="paper",
                           help="the paper's App. A hyperparameters at CPU scale (experiments with a "
                                "paper tier: 07-12, 20 and 23; `regimes list` gives the time)")
        g.add_argument("--full", dest="mode", action="store_const", const="full",
                       help="paper-scale configs (a GPU helps)")
        p.set_defaults(mode="quick")
        p.add_argument("--threads", type=int, default=None, metavar="N",
                       help="torch threads (default: 1 for --quick" + ("/--paper" if paper else "")
                            + ", torch's default for --full)")
    p.add_argument("--out", default=str(harness.REPO_ROOT), metavar="DIR",
                   help="folder holding results/, figures/ and report/ (default: the repo root)")
    if experiments:
        p.add_argument("--experiments", default=None, metavar="DIR",
                       help="folder of NN_slug.py experiment scripts (default: the repo's experiments/)")
    if quiet:
        p.add_argument("--quiet", action="store_true",
                       help="no progress bars (they are also off when stderr is not a terminal)")


def build_parser() -> argparse.ArgumentParser:
    """The ``regimes`` argument parser (one sub-parser per command)."""
    ap = _Parser(prog="regimes", formatter_class=_FMT,
                 description="Verify the kernel-vs-rich regime theory of grokking on modular "
                             "arithmetic: run the experiments, check the theorems, write a report.",
                 epilog="examples:\n  regimes list\n  regimes run 01\n  regimes reproduce --quick\n"
                        "  regimes check --quick\n  regimes report\n\n"
                        "`regimes COMMAND --help` shows each command's options.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="experiments and checks", formatter_class=_FMT,
                       description="List every experiment (number, title, the paper figure it "
                                   "regenerates, runtime estimates) and every registered check.",
                       epilog="examples:\n  regimes list\n  regimes list --json > inventory.json")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--experiments", default=None, metavar="DIR",
                   help="folder of NN_slug.py experiment scripts (default: the repo's experiments/)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one experiment or a sweep", formatter_class=_FMT,
                       description="Run experiment NN through the harness: results/NN_slug.json "
                                   "(+ .npz) and figures/NN_slug.png. A cached result with the same "
                                   "config and code (the script and the library) is reused. Several "
                                   "--seed values or --set lists make a sweep: each point is cached "
                                   "by its config and code hash, runs on local "
                                   "processes (--jobs) or Dask (--executor dask), survives Ctrl-C, "
                                   "and lands in results/NN_slug/ and figures/NN_slug/.",
                       epilog="examples:\n"
                              "  regimes run 01                       # quick config, seed 0\n"
                              "  regimes run 3 --full --device cuda   # paper scale on a GPU\n"
                              "  regimes run 05 --seed 0 1 2 --jobs 2 # three seeds, 2 processes\n"
                              "  regimes run 05 --set p=11,17,23 --seed 0 1 --executor dask --jobs 2\n"
                              "  regimes run 13 --set lam_inf=1e-3 --print-config   # a short key\n"
                              "  regimes run 07 --paper --set .steps=100 --print-config   # the top-level steps\n"
                              "  regimes run 09 --set methods=kernel,net,adamw       # a list value\n"
                              "  regimes run 05 --seed 0 1 2 3 --scheduler tcp://head:8786")
    p.add_argument("experiment", metavar="NN", help="experiment number (1, 01), name or slug")
    p.add_argument("--seed", type=int, nargs="+", metavar="S",
                   help="seed(s); several run as a sweep (default 0). An experiment that loops over "
                        "`seeds` lists of its own (`--print-config` shows them: seeds, long.seeds, "
                        "classification.seeds, …) gets them as EVERY such list, in one run")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any leaf of the config (repeatable): KEY a dotted path (run.lr) or a "
                        "short key naming exactly one path (lam_inf; a name several paths end in, the "
                        "top-level one included, is refused listing them; .steps names the top-level key "
                        "alone); VALUE JSON or text. A=1,2 sweeps a one-value key and is the list [1,2] for "
                        "a list key; 'k=[1,2]' and 'k={\"a\":1}' are one value; 'k=A;B' sweeps any key "
                        "('ps=[11];[17]' for a list key)")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config of each run (JSON, as the run would use and store it) "
                        "and exit without training")
    p.add_argument("--device", type=_device, default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--jobs", type=int, default=None, metavar="J",
                   help="sweep points in parallel: J local processes, or J Dask workers")
    p.add_argument("--executor", choices=("local", "dask"), default=None,
                   help="local processes (default) or Dask (a LocalCluster unless --scheduler)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://head:8786 (implies --executor dask)")
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("reproduce", help="all experiments, the checks, then the report",
                       formatter_class=_FMT,
                       description="Run every experiment in number order through the harness "
                                   "(cached ones are reused), print where each figure went, run "
                                   "the checks, and write report/index.html. Exit status 1 if an "
                                   "experiment or a check failed (everything else still runs).",
                       epilog="examples:\n  regimes reproduce --quick\n"
                              "  regimes reproduce --paper --jobs 2 && regimes publish --paper\n"
                              "  regimes reproduce --full --device cuda\n"
                              "  regimes reproduce --quick --skip-checks --quiet")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    p.add_argument("--device", type=_device, default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="each experiment's points in J local processes (default 1)")
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    p.add_argument("--skip-checks", action="store_true", help="figures and report only")
    _common(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("check", help="the verification table", formatter_class=_FMT,
                       description="Run the registered checks and print id | theorem | measured | "
                                   "bound | verdict. Results are saved to results/checks.json for "
                                   "the report. Exit status 1 if any verdict is FAIL or INCONCLUSIVE, or "
                                   "a check raised (ERROR); PASS, VACUOUS and OBSERVATION (no claim in "
                                   "the paper) never fail the run.",
                       epilog="examples:\n  regimes check --quick\n  regimes check --only C1 C8\n"
                              "  regimes check --full --json > checks.json")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these check ids")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p, experiments=False, paper=False)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="write report/index.html", formatter_class=_FMT,
                       description="Write the static report: each check's claim, numbers and "
                                   "verdict, its figures with their config and run metadata, and "
                                   "the errata. Uses results/checks.json; checks with no stored "
                                   "verdict are run (quick) first unless --no-run-checks.",
                       epilog="examples:\n  regimes report\n  regimes report --no-run-checks\n"
                              "  xdg-open report/index.html")
    p.add_argument("--no-run-checks", action="store_true",
                   help="show checks without a stored verdict as 'not run'")
    _common(p, mode=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("publish", help="commit-ready results: docs/results/<mode>/ and docs/gallery/",
                       formatter_class=_FMT,
                       description="Copy every experiment's finished result (JSON + NPZ) and the "
                                   "stored check verdicts from --out into docs/results/<mode>/, "
                                   "redraw each figure from the copied files into docs/gallery/, and "
                                   "write MANIFEST.json (config hashes, seeds, git revisions, wall "
                                   "times, versions, machine). The README quotes numbers only from "
                                   "these files; a test keeps the two in agreement.",
                       epilog="examples:\n  regimes reproduce --quick && regimes publish --quick\n"
                              "  regimes reproduce --paper --jobs 2 && regimes publish --paper\n"
                              "  regimes publish --quick --out /tmp/run --to /tmp/published")
    p.add_argument("--to", default=None, metavar="DIR", help="destination (default docs/results/<mode>)")
    p.add_argument("--allow-overrides", action="store_true",
                   help="publish results computed with --set overrides too (refused by default: the "
                        "README quotes the tiers); the manifest records the overrides")
    p.add_argument("--gallery", default=None, metavar="DIR",
                   help="figures folder (default docs/gallery; docs/gallery/<mode> for --paper/--full)")
    _common(p, quiet=False)
    p.set_defaults(func=cmd_publish)
    return ap


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _check_out(out: str) -> None:
    """``--out`` must be a folder (it is created if missing): one line before any work if it,
    or a folder above it, is a file."""
    p = Path(out)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                which = "" if q == p else f" ({q} above it is a file)"
                raise CLIError(f"--out {out} is not a folder{which} — give a folder for results/, figures/ and "
                               "report/ (it is created if missing)")
            return


#: The fix for each file-system failure, by errno.
_FS_FIX = {
    errno.EROFS: "the file system is read-only — choose a writable --out",
    errno.ENOSPC: "the disk is full — free some space (or choose another --out) and rerun: finished results "
                  "are kept",
    errno.EDQUOT: "the disk quota is used up — free some space (or choose another --out) and rerun: finished "
                  "results are kept",
    errno.EACCES: "permission denied — choose a folder you can write (--out), or fix its permissions",
    errno.EPERM: "permission denied — choose a folder you can write (--out), or fix its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder — choose another --out",
    errno.EISDIR: "it is a folder where a file belongs — move the folder away",
}


def _fs_line(e: OSError) -> str:
    """One line for a file-system failure: the path, the cause and the fix."""
    where = ""
    if e.filename:
        parts = Path(os.fsdecode(e.filename)).parts   # name the folder, not a temp file inside it
        cut = next((i for i, part in enumerate(parts) if part.startswith(".") and part.endswith(".tmp")), None)
        where = f" {Path(*parts[:cut]) if cut else Path(*parts)}"
    fix = _FS_FIX.get(e.errno or 0, "fix the path or the file system and rerun")
    return f"cannot write{where}: {e.strerror or type(e).__name__} — {fix}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``regimes`` console script."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "command", None):
        ap.print_help()
        return EXIT_USAGE
    from regimes.sweep import SweepError

    try:
        if getattr(args, "out", None) is not None:
            _check_out(args.out)
        if hasattr(args, "threads"):
            harness.configure_threads(args.threads, args.mode)
        if hasattr(args, "out"):   # the training runs experiments and checks share (regimes.runcache)
            from regimes import runcache

            runcache.use_dir(Path(args.out) / "results" / "runs")
        return args.func(args)
    except (CLIError, SweepError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as e:  # the library's validators name the argument, value and allowed range
        print(f"error: {_one_line(e)} — fix the value (see `regimes {args.command} --help`)",
              file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:   # `regimes list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted — finished points and results are kept; rerun the same command to "
              "resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:   # a full disk, a read-only --out: one line (matplotlib may wrap the OSError)
        ose = harness.os_error_in(e)
        if ose is None or (ose.errno not in _FS_FIX and ose.filename is None):
            raise
        print(f"error: {_fs_line(ose)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
