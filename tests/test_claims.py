"""The claims ledger (``docs/claims.toml``): every row is backed by committed files, its
numbers are looked up (never typed), its verdict has an allowed form, and the committed
copies (``docs/ledger.md``'s table, the README's answer) equal the rendering."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from regimes import claims

ROOT = Path(__file__).resolve().parent.parent


def test_ledger_loads_and_covers_the_central_claims() -> None:
    rows = claims.load()
    ids = {r.id for r in rows}
    # the issue-level claims of the central paper each have a row
    for needed in ("thm-3.4", "thm-4.3", "thm-3.6", "thm-4.5", "fig-1-left", "fig-1-middle", "fig-1-right",
                   "fig-3-right", "fig-4-right", "fig-5"):
        assert needed in ids, needed


def test_ledger_page_and_readme_answer_equal_the_rendering() -> None:
    rows = claims.load()
    block = claims.readme_block((ROOT / "docs" / "ledger.md").read_text())
    assert block == claims.render_markdown(rows, link_root="../"), "run `python -m regimes.claims`"
    answer = claims.readme_block((ROOT / "README.md").read_text(), claims.ANSWER_BEGIN, claims.ANSWER_END)
    assert answer == claims.render_answer(rows), "run `python -m regimes.claims`"


def test_readme_answer_counts_agree_with_the_ledger_page() -> None:
    """The README's per-source counts, read back from its text, against the verdict column of
    docs/ledger.md read independently: every row counted once, under its own verdict family."""
    answer = claims.readme_block((ROOT / "README.md").read_text(), claims.ANSWER_BEGIN, claims.ANSWER_END)
    table = claims.readme_block((ROOT / "docs" / "ledger.md").read_text())
    verdicts = re.findall(r"\| \*\*((?:NOT )?REPRODUCED[^|]*|OPEN)\*\* \|", table)
    assert len(verdicts) == len(claims.load())
    per_kind = {"reproduced": sum(v == "REPRODUCED" for v in verdicts),
                "reproduced only under a condition": sum(v.startswith("REPRODUCED ONLY UNDER") for v in verdicts),
                "not reproduced at the sizes run": sum(v.startswith("NOT REPRODUCED AT") for v in verdicts),
                "open": sum(v == "OPEN" for v in verdicts)}
    for words, n in per_kind.items():
        said = sum(int(k) for k in re.findall(rf"\*\*(\d+) {re.escape(words)}\*\*", answer))
        assert said == n, (words, said, n)
    assert sum(int(k) for k in re.findall(r", (\d+) claims:", answer)) == len(verdicts)
    # every ledger anchor the answer links to exists on the page
    for target in re.findall(r"\(docs/ledger\.md#([\w.-]+)\)", answer):
        assert f'<a id="{target}"></a>' in table, target


def test_every_non_open_verdict_has_committed_evidence_and_seeds() -> None:
    for r in claims.load():
        for ev in r.evidence:
            assert (ROOT / "docs" / "results" / ev).exists(), (r.id, ev)
        if r.verdict != "OPEN":
            assert r.evidence, r.id
            assert r.seeds != 1, r.id


def test_lookup_reads_the_committed_file_independently() -> None:
    # an independent read of checks.json agrees with the ledger's lookup
    stored = {e["id"]: e for e in json.loads((ROOT / "docs/results/quick/checks.json").read_text())["checks"]}
    assert claims.lookup("quick", "checks", "checks/C6/result/measured") == stored["C6"]["result"]["measured"]
    assert claims.fill("x{checks:checks/C6/result/bound:.2f}y") == f"x{stored['C6']['result']['bound']:.2f}y"
    # a FOLDER/NAME placeholder reads that folder, whatever the row's tier
    paper = json.loads((ROOT / "docs/results/paper/12_transformer.json").read_text())
    assert claims.fill("{paper/12_transformer:metrics/t_mem:d}", "quick") == f"{paper['metrics']['t_mem']:d}"


def _write(tmp_path: Path, **over: object) -> Path:
    row = {"id": "x", "source": "S", "claim": "c", "source_setting": "s", "our_setting": "o", "seeds": 3,
           "measurement": "m {checks:checks/C6/result/measured:.1f}", "verdict": "REPRODUCED",
           "evidence": ["quick/checks.json"], "figure": ""}
    row.update(over)

    def val(v: object) -> str:
        return json.dumps(v, ensure_ascii=False)   # JSON literals are valid TOML for str/int/list
    path = tmp_path / "c.toml"
    path.write_text("[[claim]]\n" + "".join(f"{k} = {val(v)}\n" for k, v in row.items()))
    return path


def test_a_valid_row_loads(tmp_path: Path) -> None:
    (row,) = claims.load(_write(tmp_path))
    assert row.measurement.startswith("m ")


@pytest.mark.parametrize(("over", "match"), [
    ({"verdict": "PASS"}, "verdict"),
    ({"verdict": "NOT REPRODUCED"}, "verdict"),
    ({"seeds": 1}, "single seed"),
    ({"evidence": []}, "evidence"),
    ({"evidence": ["quick/nope.json"]}, "not committed"),
    ({"figure": "docs/gallery/nope.png"}, "figure"),
    ({"measurement": "{checks:checks/C999/result/measured:.1f}"}, "C999"),
    ({"measurement": "{nofile:a/b:.1f}"}, "not committed"),
    ({"colour": "red"}, "unknown fields"),
])
def test_bad_rows_are_refused_naming_the_problem(tmp_path: Path, over: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        claims.load(_write(tmp_path, **over))


def test_open_rows_may_rest_on_one_seed(tmp_path: Path) -> None:
    (row,) = claims.load(_write(tmp_path, seeds=1, verdict="OPEN"))
    assert row.verdict == "OPEN"


def test_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="claims:begin"):
        claims.readme_block("no markers here")
    with pytest.raises(ValueError, match="answer:begin"):
        claims.readme_block("<!-- answer:end --> <!-- answer:begin -->", claims.ANSWER_BEGIN, claims.ANSWER_END)


def test_html_rendering_escapes_and_links() -> None:
    out = claims.render_html(link_root="../")
    assert out.count("<tr id='claim-") == len(claims.load())
    assert "href='../docs/results/quick/checks.json'" in out
    plain = claims.render_html()          # the report's copy: paths as code, no links to resolve
    assert "href" not in plain and "<code>docs/results/quick/checks.json</code>" in plain


def test_report_rendering_links_each_row_to_its_checks_and_figure() -> None:
    """In the report every ledger row that names a registered check, or cites a figure of an
    experiment on the page, links to those sections (anchors the report defines)."""
    rows = claims.load()
    out = claims.render_html(rows, report_links={"checks": {"C15", "G1"}, "experiments": {"07_rich_regression"}})
    c15 = out.split("id='claim-thm-3.6'")[1].split("</tr>")[0]
    assert "href='#check-C15'" in c15 and "href='#exp-07_rich_regression'" in c15 and "(paper tier)" in c15
    g1 = out.split("id='claim-gromov-fig1'")[1].split("</tr>")[0]
    assert "href='#check-G1'" in g1
    assert out.count("class='links'") == len(rows)


def _with_readings(tmp_path: Path, verdict: str, verdicts: tuple[str, str]) -> Path:
    path = _write(tmp_path, verdict=verdict)
    m = "{{checks:checks/C6/result/measured:.1f}}"
    rows = "".join(f'[[claim.readings]]\nreading = "r{i}"\nmeasurement = "m{i} {m}"\nverdict = "{v}"\n'
                   for i, v in enumerate(verdicts))
    path.write_text(path.read_text() + rows)
    return path


def test_a_reading_dependent_row_states_each_reading_and_an_only_under_verdict(tmp_path: Path) -> None:
    both = ("REPRODUCED", "NOT REPRODUCED AT p ≤ 61")
    (row,) = claims.load(_with_readings(tmp_path, "REPRODUCED ONLY UNDER r0", both))
    assert [r[0] for r in row.readings] == ["r0", "r1"] and [r[2] for r in row.readings] == list(both)
    assert "under r0: m0 " in row.measurement_text and "(NOT REPRODUCED AT p ≤ 61)" in row.measurement_text
    assert "under r1" in claims.render_markdown([row])
    with pytest.raises(ValueError, match="the readings disagree"):     # a plain verdict would hide the split
        claims.load(_with_readings(tmp_path, "REPRODUCED", both))
    with pytest.raises(ValueError, match=r"readings\[1\] verdict"):
        claims.load(_with_readings(tmp_path, "REPRODUCED ONLY UNDER r0", ("REPRODUCED", "PASS")))
