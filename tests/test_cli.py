"""The ``regimes`` CLI: list / run / reproduce / check / report on tiny synthetic
experiments and checks, and one-line errors on bad input with nothing written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import regimes.checks as rc
from regimes import harness
from regimes.checks import Check, CheckResult
from regimes.cli import main

ROOT = Path(__file__).resolve().parent.parent

REPO = Path(__file__).resolve().parent.parent

TINY = '''
"""Tiny synthetic experiment {num} for the CLI tests."""
import numpy as np
from regimes.harness import Experiment, main


def compute(ctx):
    if ctx.config.get("explode"):
        raise RuntimeError("boom")
    rng = np.random.default_rng(ctx.seed)
    vals = []
    for k in ctx.progress(range(ctx.config["k"]), desc="tiny"):
        m, _ = ctx.point({{"k": k}}, lambda: ({{"v": float(rng.standard_normal())}}, {{}}))
        vals.append(m["v"])
    return {{"total": float(sum(vals)), "lr": ctx.config["run"]["lr"]}}, {{"vals": np.array(vals)}}


def plot(result, arrays, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(arrays["vals"], "o-")
    ax.set_title(f"seed {{result['config']['seed']}}")
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)


EXPERIMENT = Experiment("{num}", "{slug}", "Tiny {slug}", "Fig. T{num}", quick={{"k": 3, "run": {{"lr": 0.1}}}},
                        full={{"k": 5, "explode": {explode}, "run": {{"lr": 0.1}}}}, compute=compute, plot=plot,
                        seconds_quick=2.0, seconds_full=90.0, checks={checks})

if __name__ == "__main__":
    raise SystemExit(main(EXPERIMENT))
'''


def write_tiny(folder: Path, num: str = "91", slug: str = "tinya", *, explode: bool = False,
               checks: tuple[str, ...] = ("T1",)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{num}_{slug}.py"
    path.write_text(TINY.format(num=num, slug=slug, explode=explode, checks=checks))
    return path


def fake_checks() -> list[Check]:
    def ok(quick: bool = True) -> CheckResult:
        return CheckResult("T1", "Thm T.1", 1e-13, 1e-12, "<=", True, {"cases": 3})

    def bad(quick: bool = True) -> CheckResult:
        return CheckResult("T2", "Thm T.2", 0.7, 0.5, "<=", False)

    def obs(quick: bool = True) -> CheckResult:
        return CheckResult("T3", "open question", 0.31, float("nan"), "", None)

    def broken(quick: bool = True) -> CheckResult:
        raise RuntimeError("check crashed")

    def vacuous(quick: bool = True) -> CheckResult:
        return CheckResult("T5", "Thm T.5", 0.2, 3e5, "<=", True, verdict="VACUOUS")

    def never(quick: bool = True) -> CheckResult:
        return CheckResult("T6", "Fig T.6", float("nan"), 10.0, ">=", None, verdict="INCONCLUSIVE")

    return [Check("T1", "Thm T.1", "a passing claim", "tests/test_t.py", ok),
            Check("T2", "Thm T.2", "a failing claim", "tests/test_t.py", bad),
            Check("T3", "open question", "an observation", "tests/test_t.py", obs),
            Check("T4", "Thm T.4", "a crashing check", "tests/test_t.py", broken),
            Check("T5", "Thm T.5", "a vacuous bound", "tests/test_t.py", vacuous),
            Check("T6", "Fig T.6", "an event that never happened", "tests/test_t.py", never)]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[Check]:
    fk = fake_checks()
    monkeypatch.setattr(rc, "all_checks", lambda: fk)
    return fk


def invoke(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: --help and usage errors
        code = int(e.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# --------------------------------------------------------------------------- help and list
@pytest.mark.parametrize("cmd", [[], ["list"], ["run"], ["reproduce"], ["check"], ["report"]])
def test_help_shows_examples(cmd: list[str], capsys: pytest.CaptureFixture) -> None:
    code, out, _ = invoke([*cmd, "--help"], capsys)
    assert code == 0 and "examples:" in out and "regimes" in out


def test_reproduce_help_names_the_experiments_with_a_paper_tier(capsys: pytest.CaptureFixture) -> None:
    _, out, _ = invoke(["reproduce", "--help"], capsys)
    named = re.search(r"paper\s+tier:\s+([-0-9, and]+);", out)
    assert named, out
    listed: set[str] = set()
    for part in re.split(r",\s*|\s+and\s+", named[1].strip()):
        lo, _, hi = part.partition("-")
        listed |= {f"{n:02d}" for n in range(int(lo), int(hi or lo) + 1)}
    assert listed == {e.number for e in harness.discover() if e.paper is not None}


def test_list_shows_every_discovered_experiment_and_registered_check(
        capsys: pytest.CaptureFixture) -> None:
    code, out, _ = invoke(["list", "--json"], capsys)
    assert code == 0
    listed = json.loads(out)
    assert [e["number"] for e in listed["experiments"]] == [e.number for e in harness.discover()]
    assert [c["id"] for c in listed["checks"]] == [c.id for c in rc.all_checks()]
    code, out, _ = invoke(["list"], capsys)
    assert code == 0 and "Experiments (" in out and "Checks (" in out
    for c in rc.all_checks():
        assert c.id in out and c.test in out


def test_list_tiny_folder(tmp_path: Path, capsys: pytest.CaptureFixture, fakes) -> None:
    write_tiny(tmp_path)
    code, out, _ = invoke(["list", "--experiments", str(tmp_path)], capsys)
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("91"))
    assert "Tiny tinya" in row and "Fig. T91" in row and "2 s" in row and "1.5 min" in row
    for c in fakes:
        assert c.id in out and c.statement in out


# --------------------------------------------------------------------------- run
def test_run_writes_results_and_figure_then_reuses_cache(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    args = ["run", "91", "--experiments", str(exps), "--out", str(out), "--quiet"]
    code, first, _ = invoke(args, capsys)
    assert code == 0 and "cached" not in first
    res = json.loads((out / "results" / "91_tinya.json").read_text())
    assert res["complete"] and res["config"]["seed"] == 0 and res["config"]["k"] == 3
    assert (out / "figures" / "91_tinya.png").stat().st_size > 0
    assert (out / "figures" / "91_tinya.pdf").exists()
    code, second, _ = invoke(args, capsys)
    assert code == 0 and "(cached)" in second
    code, third, _ = invoke([*args, "--force"], capsys)
    assert code == 0 and "(cached)" not in third
    # the number may be given as 91, its name or its slug
    for ident in ("91_tinya", "tinya"):
        assert invoke(["run", ident, "--experiments", str(exps), "--out", str(out)], capsys)[0] == 0


def test_run_seeds_and_set_lists_make_a_cached_sweep(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    args = ["run", "91", "--experiments", str(exps), "--out", str(out), "--seed", "0", "1",
            "--set", "k=2,4", "--quiet"]
    code, text, _ = invoke(args, capsys)
    assert code == 0 and "4 points (4 computed, 0 cached)" in text
    index = json.loads((out / "results" / "91_tinya.sweep.json").read_text())
    assert sorted((p["point"]["k"], p["point"]["seed"]) for p in index["points"]) == [
        (2, 0), (2, 1), (4, 0), (4, 1)]
    for p in index["points"]:
        res = json.loads((out / "results" / p["result"]).read_text())
        assert res["config"]["seed"] == p["point"]["seed"] and res["config"]["k"] == p["point"]["k"]
        assert len(res["metrics"]) == 2 and (out / "results" / p["figure"]).stat().st_size > 0
    assert not (out / "results" / "91_tinya.json").exists()  # the canonical result is untouched
    code, text, _ = invoke(args, capsys)
    assert code == 0 and "4 points (0 computed, 4 cached)" in text
    # a single seed of the sweep is a cache hit for a plain run
    code, text, _ = invoke(["run", "91", "--experiments", str(exps), "--out", str(out), "--seed",
                            "1", "--set", "k=4"], capsys)
    assert code == 0 and "(cached)" in text


def test_set_reaches_into_a_nested_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``--set run.lr=…`` changes one entry of the nested ``run`` config (the others keep the
    mode's values); a list of values sweeps it."""
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    code, _, _ = invoke(["run", "91", "--experiments", str(exps), "--out", str(out), "--set", "run.lr=0.5"],
                        capsys)
    assert code == 0
    res = json.loads((out / "results" / "91_tinya.json").read_text())
    assert res["config"]["run"] == {"lr": 0.5} and res["metrics"]["lr"] == 0.5
    code, text, _ = invoke(["run", "91", "--experiments", str(exps), "--out", str(out), "--set",
                            "run.lr=0.2,0.3", "--quiet"], capsys)
    assert code == 0 and "2 points (2 computed, 0 cached)" in text
    index = json.loads((out / "results" / "91_tinya.sweep.json").read_text())
    assert sorted(json.loads((out / "results" / p["result"]).read_text())["metrics"]["lr"]
                  for p in index["points"]) == [0.2, 0.3]


def test_run_from_a_non_tty_subprocess_prints_no_progress_bars(tmp_path: Path) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    proc = subprocess.run([sys.executable, "-m", "regimes.cli", "run", "91", "--experiments",
                           str(exps), "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "91_tinya: figure" in proc.stdout and "\r" not in proc.stderr and "it/s" not in proc.stderr


# --------------------------------------------------------------------------- bad input
BAD = {
    "unknown experiment": (["run", "42"], "no experiment '42'"),
    "quick and full": (["run", "91", "--quick", "--full"], "not allowed with"),
    "scheduler with local executor": (["run", "91", "--executor", "local", "--scheduler",
                                       "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    "jobs with scheduler": (["run", "91", "--scheduler", "tcp://127.0.0.1:1", "--jobs", "2"],
                            "drop --jobs"),
    "zero jobs": (["run", "91", "--jobs", "0"], "--jobs 0 is out of range"),
    "more jobs than cores": (["run", "91", "--jobs", "100000"], "--jobs 100000 is out of range"),
    "reproduce with more jobs than cores": (["reproduce", "--jobs", "100000"], "--jobs 100000 is out of range"),
    "bad device": (["run", "91", "--device", "tpu"], "invalid device"),
    "unknown config key": (["run", "91", "--set", "q=3"], "no config key 'q'"),
    "unknown nested key": (["run", "91", "--set", "run.lrr=1"], "no config key 'lrr'"),
    "set inside a value": (["run", "91", "--set", "k.x=1"], "not a nested config"),
    "malformed set": (["run", "91", "--set", "k"], "KEY=VALUE"),
    "unknown check": (["check", "--only", "C999"], "unknown check id"),
    "missing experiments folder": (["list", "--experiments", "/nonexistent/exps"],
                                   "does not exist"),
    "no command option": (["run"], "required"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_writes_nothing(case: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture, fakes) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    argv, needle = BAD[case]
    extra = [] if "--experiments" in argv else ["--experiments", str(exps)]
    extra += [] if argv[0] == "list" else ["--out", str(out)]
    if argv[0] == "check":
        extra = ["--out", str(out)]
    code, _, err = invoke([*argv, *extra], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error:") and needle in err, err
    assert "—" in err  # every message names its fix after the dash
    assert not out.exists()


def test_dask_without_the_extra_is_one_line_naming_the_install(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("dask") else real(name, *a))
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    code, _, err = invoke(["run", "91", "--executor", "dask", "--experiments", str(exps), "--out", str(out)],
                          capsys)
    assert code == 2 and err.count("\n") == 1 and "pip install -e '.[sweep]'" in err, err
    assert not out.exists()


def test_cuda_without_cuda_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: the refusal cannot be exercised")
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    for cmd in (["run", "91"], ["reproduce", "--skip-checks"]):
        code, _, err = invoke([*cmd, "--device", "cuda", "--experiments", str(exps), "--out",
                               str(out)], capsys)
        assert code == 2 and err.count("\n") == 1 and "--device cpu" in err
    assert not out.exists()


def test_unreachable_scheduler_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dask.distributed", reason="Dask (distributed) not installed")
    monkeypatch.setenv("REGIMES_SCHEDULER_TIMEOUT", "1")
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps)
    code, _, err = invoke(["run", "91", "--scheduler", "tcp://127.0.0.1:9", "--experiments",
                           str(exps), "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in err and "dask scheduler" in err
    assert not out.exists()


# --------------------------------------------------------------------------- check
def test_check_table_verdicts_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture,
                                              fakes) -> None:
    out = tmp_path / "out"
    code, text, err = invoke(["check", "--out", str(out)], capsys)
    assert code == 1  # T2 fails and T4 crashes
    lines = text.splitlines()
    assert lines[0].split() == ["id", "theorem", "measured", "bound", "verdict"]
    rows = {ln.split()[0]: ln for ln in lines[2:8]}
    assert set(rows) == {"T1", "T2", "T3", "T4", "T5", "T6"}
    assert rows["T1"].rstrip().endswith("PASS") and "1e-13" in rows["T1"] and "<= 1e-12" in rows["T1"]
    assert rows["T2"].rstrip().endswith("FAIL")
    assert rows["T3"].rstrip().endswith("OBSERVATION")
    assert rows["T4"].rstrip().endswith("ERROR") and "check crashed" in err
    assert rows["T5"].rstrip().endswith("VACUOUS") and "PASS" not in rows["T5"]
    assert rows["T6"].rstrip().endswith("INCONCLUSIVE")
    assert ("1 pass, 1 fail, 1 vacuous, 1 inconclusive, 1 observation, 1 error (exit 1: T2, T4, T6)"
            in text)
    stored = {e["id"]: e for e in json.loads((out / "results" / "checks.json").read_text())["checks"]}
    assert {k: v["verdict"] for k, v in stored.items()} == {
        "T1": "pass", "T2": "fail", "T3": "observation", "T4": "error", "T5": "vacuous",
        "T6": "inconclusive"}
    assert stored["T1"]["result"]["measured"] == 1e-13 and stored["T1"]["mode"] == "quick"
    # a passing subset (an observation never fails) exits 0
    code, text, _ = invoke(["check", "--only", "T1", "T3", "T5", "--full", "--out", str(out)], capsys)
    assert code == 0 and "1 pass, 1 vacuous, 1 observation\n" in text
    code, _, _ = invoke(["check", "--only", "T6", "--out", str(out)], capsys)
    assert code == 1  # an inconclusive run is not a pass
    stored = {e["id"]: e for e in json.loads((out / "results" / "checks.json").read_text())["checks"]}
    assert stored["T1"]["mode"] == "full" and stored["T2"]["verdict"] == "fail"  # merged, kept


def test_check_runs_real_registry_subset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The first registered check runs through the CLI and its verdict matches run_check."""
    checks = rc.all_checks()
    if not checks:
        pytest.skip("no checks registered yet")
    cid = checks[0].id
    code, text, _ = invoke(["check", "--only", cid, "--out", str(tmp_path), "--json"], capsys)
    entry = json.loads(text)[0]
    verdict = rc.run_check(cid).verdict
    assert entry["verdict"] == verdict.lower()
    assert code == (1 if verdict in rc.BAD_VERDICTS else 0)


# --------------------------------------------------------------------------- report and reproduce
class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows, self.imgs, self._in = [], [], False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "checks":
            self._in = True
        elif tag == "tr" and self._in and "data-check" in a:
            self.rows.append(a["data-check"])
        elif tag == "img":
            self.imgs.append(a["src"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in = False


def test_report_has_every_check_figures_configs_and_errata(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture,
                                                           fakes) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps, "91", "tinya", checks=("T1", "T2"))
    write_tiny(exps, "92", "tinyb", checks=())
    assert invoke(["run", "91", "--experiments", str(exps), "--out", str(out)], capsys)[0] == 0
    assert invoke(["check", "--only", "T1", "T2", "--out", str(out)], capsys)[0] == 1
    code, _, _ = invoke(["report", "--no-run-checks", "--experiments", str(exps), "--out",
                            str(out)], capsys)
    assert code == 0
    page = out / "report" / "index.html"
    html = page.read_text()
    parser = _Rows()
    parser.feed(html)
    assert parser.rows == [c.id for c in fakes]
    assert parser.imgs and all((page.parent / src).stat().st_size > 0 for src in parser.imgs)
    assert "figures/91_tinya.png" in parser.imgs and not any("92" in s for s in parser.imgs)
    assert "regimes run 92" in html                        # the missing figure says how to make it
    res = json.loads((out / "results" / "91_tinya.json").read_text())
    assert res["config_hash"] in html and "git_revision" in html
    assert '<th>k</th><td><span class="num">3</span>' in html     # the config as a readable table, not JSON
    assert "PASS" in html and "FAIL" in html
    # a check with no verdict in this folder shows the committed one (docs/results/quick/checks.json),
    # with its date and revision; one that has none anywhere says "not run"
    committed = {e["id"]: e for e in json.loads((ROOT / "docs/results/quick/checks.json").read_text())["checks"]}
    stored_here = {e["id"] for e in json.loads((out / "results" / "checks.json").read_text())["checks"]}
    shown = [c.id for c in fakes if c.id not in stored_here and c.id in committed]
    for cid in shown:
        sec = html.split(f'id="check-{cid}"')[1].split("</section>")[0]
        assert "committed in <code>docs/results/quick/checks.json</code>" in sec, cid
        assert committed[cid]["finished_at"] in sec and committed[cid]["git_revision"][:10] in sec, cid
    assert ("not run" in html) == any(c.id not in stored_here and c.id not in committed for c in fakes)
    assert 'class="toc"' in html and html.index('id="claims"') < html.index('id="verification"')
    assert "Errata" in html and "Theorem 3.4" in html and "(4.3)" in html
    assert "<script" not in html                            # static, readable without a server
    # without --no-run-checks, checks with no stored verdict are run first
    code, _, err = invoke(["report", "--experiments", str(exps), "--out", str(out)], capsys)
    assert code == 0 and "T3, T4, T5, T6" in err
    stored = json.loads((out / "results" / "checks.json").read_text())["checks"]
    assert sorted(e["id"] for e in stored) == ["T1", "T2", "T3", "T4", "T5", "T6"]


def test_reproduce_runs_every_experiment_then_checks_then_report(
        tmp_path: Path, capsys: pytest.CaptureFixture, fakes) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps, "91", "tinya")
    write_tiny(exps, "92", "tinyb")
    code, text, _ = invoke(["reproduce", "--quick", "--quiet", "--experiments", str(exps),
                            "--out", str(out)], capsys)
    assert code == 1  # the fake T2/T4 fail
    assert text.index("91_tinya: figure") < text.index("92_tinyb: figure") < text.index("report:")
    for name in ("91_tinya", "92_tinyb"):
        assert (out / "figures" / f"{name}.png").exists()
    assert (out / "report" / "index.html").exists()
    code, text, _ = invoke(["reproduce", "--skip-checks", "--quiet", "--experiments", str(exps),
                            "--out", str(out)], capsys)
    assert code == 0 and text.count("(cached)") == 2


def test_reproduce_goes_on_past_a_failing_experiment(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    exps, out = tmp_path / "exps", tmp_path / "out"
    write_tiny(exps, "91", "tinya", explode=True)
    write_tiny(exps, "92", "tinyb")
    code, text, _ = invoke(["reproduce", "--full", "--skip-checks", "--quiet", "--experiments",
                            str(exps), "--out", str(out)], capsys)
    assert code == 1 and "91_tinya: FAILED (RuntimeError: boom)" in text
    assert (out / "figures" / "92_tinyb.png").exists()
    assert not (out / "results" / "91_tinya.json").exists()
    assert "failed: 91_tinya" in text


def test_console_script_points_at_main() -> None:
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="console_scripts") if ep.name == "regimes"]
    assert eps and eps[0].value == "regimes.cli:main"
    assert os.environ.get("PATH") is not None


def test_a_broken_experiment_script_is_named_in_one_line(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    exps = tmp_path / "exps"
    write_tiny(exps)
    (exps / "93_broken.py").write_text("import numpy as np\nraise ImportError('no such\\nthing')\n")
    code, _, err = invoke(["list", "--experiments", str(exps)], capsys)
    assert code == 2 and err.count("\n") == 1 and "93_broken.py fails to load" in err


def test_check_result_verdicts_cannot_contradict_holds() -> None:
    """A vacuous or inconclusive result never reads as a pass; a verdict that contradicts
    ``holds`` or is unknown is refused."""
    assert CheckResult("X", "t", 1.0, 2.0, "<=", True).verdict == "PASS"
    assert CheckResult("X", "t", 3.0, 2.0, "<=", False).verdict == "FAIL"
    assert CheckResult("X", "t", 1.0, 2.0, "", None).verdict == "OBSERVATION"
    for v in ("VACUOUS", "INCONCLUSIVE", "OBSERVATION"):
        assert CheckResult("X", "t", 1.0, 2.0, "<=", True, verdict=v).holds is None
    with pytest.raises(ValueError, match="verdict='PASS' contradicts holds=False"):
        CheckResult("X", "t", 3.0, 2.0, "<=", False, verdict="PASS")
    with pytest.raises(ValueError, match="verdict='MAYBE' is not allowed"):
        CheckResult("X", "t", 3.0, 2.0, "<=", False, verdict="MAYBE")


def test_publish_copies_results_redraws_figures_and_refuses_missing_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture, fakes) -> None:
    """`regimes publish`: the committed copy equals the run's result, the gallery figure is
    drawn from the copy, MANIFEST records the run; a missing or other-mode result is refused
    with the command that would produce it, before anything is written."""
    exps, out, to, gal = tmp_path / "exps", tmp_path / "out", tmp_path / "pub", tmp_path / "gal"
    write_tiny(exps)
    common = ["--experiments", str(exps), "--out", str(out), "--to", str(to), "--gallery", str(gal)]
    code, _, err = invoke(["publish", "--quick", *common], capsys)
    assert code == 2 and "regimes run 91 --quick" in err and not to.exists()
    assert invoke(["run", "91", "--experiments", str(exps), "--out", str(out)], capsys)[0] == 0
    assert invoke(["check", "--only", "T1", "--out", str(out)], capsys)[0] == 0
    code, _, err = invoke(["publish", "--full", *common], capsys)          # only a quick result exists
    assert code == 2 and "--full" in err and not to.exists()
    code, text, _ = invoke(["publish", "--quick", *common], capsys)
    assert code == 0 and "published 1 experiment(s) and 1 check verdict(s)" in text
    ran = json.loads((out / "results" / "91_tinya.json").read_text())
    assert json.loads((to / "91_tinya.json").read_text()) == ran
    assert (to / "91_tinya.npz").read_bytes() == (out / "results" / "91_tinya.npz").read_bytes()
    assert (gal / "91_tinya.png").stat().st_size > 0 and (gal / "91_tinya.pdf").stat().st_size > 0   # + vector copy
    manifest = json.loads((to / "MANIFEST.json").read_text())
    assert manifest["experiments"]["91_tinya"]["config_hash"] == ran["config_hash"]
    assert manifest["checks"]["T1"]["verdict"] == "pass"
    assert manifest["total_experiment_wall_s"] == pytest.approx(ran["wall_time_s"])


def _epilog_examples() -> list[tuple[str, list[str]]]:
    """Every ``regimes …`` command in the --help epilogs (the top level and each command's),
    split on ``&&``, without comments and shell redirections."""
    import argparse
    import shlex

    from regimes.cli import build_parser

    ap = build_parser()
    parsers = [("regimes", ap)]
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += sorted(action.choices.items())
    found = []
    for name, p in parsers:
        for line in (p.epilog or "").splitlines():
            if not line.startswith("  regimes "):   # an example line, not the prose around them
                continue
            for part in line.split("#", 1)[0].split("&&"):
                words = shlex.split(part.split(">", 1)[0])
                if words[:1] == ["regimes"]:
                    found.append((name, words[1:]))
    return found


EXAMPLES = _epilog_examples()


def test_the_help_epilogs_hold_examples_of_every_command():
    assert {words[0] for _, words in EXAMPLES} >= {"list", "run", "reproduce", "check", "report", "publish"}


@pytest.mark.parametrize("words", [w for _, w in EXAMPLES], ids=[" ".join(w) for _, w in EXAMPLES])
def test_every_help_example_runs_verbatim(words, capsys, tmp_path, monkeypatch):
    """Each example of the --help epilogs, as written: `run` with --print-config (and --out, so
    nothing lands in the repo), `list` as is, every other command with --help (they would train).
    Nothing is refused (exit 2) except for what this machine lacks — CUDA, the Dask extra — and
    then with the line that names it."""
    import importlib.util

    import torch

    monkeypatch.setattr(harness, "compute_result", lambda *a, **k: pytest.fail("an example trained"))
    if words[0] == "run":
        argv = [*words, "--print-config", "--out", str(tmp_path)]
    elif words[0] == "list":
        argv = words
    else:
        argv = [*words, "--help"]
    try:
        code = main(argv)
    except SystemExit as e:   # --help
        code = e.code
    err = capsys.readouterr().err
    if code == 2 and "--device cuda" in " ".join(words) and not torch.cuda.is_available():
        assert "CUDA is not available" in err
    elif code == 2 and ("dask" in words or "--scheduler" in words) and importlib.util.find_spec("distributed") is None:
        assert "pip install -e '.[sweep]'" in err
    else:
        assert code == 0, err
    assert not any(tmp_path.iterdir())


def test_check_help_and_docs_state_the_exit_rule_the_code_applies(capsys):
    """`check` exits 1 on exactly the verdicts in BAD_VERDICTS (cli._bad): its --help and the
    docs/cli.md row name each of them, and check's --threads help names no --paper it lacks."""
    from regimes.checks import BAD_VERDICTS
    from regimes.cli import _bad

    entries = [{"id": v, "verdict": v.lower()} for v in ("pass", "fail", "vacuous", "inconclusive", "observation",
                                                          "error")]
    assert _bad(entries) == [v for v in ("pass", "fail", "vacuous", "inconclusive", "observation", "error")
                             if v.upper() in BAD_VERDICTS]
    code, out, _ = invoke(["check", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0 and all(v in text for v in BAD_VERDICTS)
    threads = re.search(r"--threads N (torch threads \(default:[^)]*\))", text)
    assert threads is not None and "--quick" in threads.group(1) and "--paper" not in threads.group(1)
    docs = (ROOT / "docs" / "cli.md").read_text().splitlines()
    row = next(line for line in docs if line.startswith("| `regimes check`"))
    assert all(v in row for v in BAD_VERDICTS)
