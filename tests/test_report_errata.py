"""The one errata list, ``proofs/ERRATA.md``: every entry has its evidence and names the test
that keeps it, every named test exists, and the report renders every entry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from regimes import report

REPO = Path(__file__).resolve().parent.parent


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test")}


def test_errata_file_is_the_reports_source() -> None:
    entries = report.parse_errata((REPO / "proofs" / "ERRATA.md").read_text(encoding="utf-8"))
    assert entries == report.ERRATA
    # the union of the README's former list (11) and the report's former list (17), deduplicated
    assert len(entries) == 17
    wheres = [w for w, _ in entries]
    assert len(set(wheres)) == len(wheres)
    for needle in ("Theorem 3.4", "(4.3)", "Lemma G.10", "Definition C.3", "Lemma E.1", "Corollary D.8",
                   "Lemma D.11", "Proposition B.3", "prior mean"):
        assert any(needle in w for w in wheres), needle


def test_every_erratum_has_evidence_and_an_existing_test() -> None:
    for where, body in report.ERRATA:
        assert "**Evidence:**" in body and "**Kept by:**" in body, where
        kept = body.split("**Kept by:**", 1)[1]
        for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", kept):
            assert (REPO / path).is_file(), (where, path)
            assert name in _test_functions(REPO / path), (where, path, name)


def test_parse_errata_hand_example() -> None:
    text = "# Title\n\nintro\n\n## A\n\nfirst\n\n**Evidence:** x\n\n## B\ntwo\n"
    assert report.parse_errata(text) == [("A", "first\n\n**Evidence:** x"), ("B", "two")]


def test_render_shows_every_erratum() -> None:
    html = report.render([], {}, [], {}, {})
    assert html.count('<li id="erratum-') == len(report.ERRATA)
    assert "Lemma G.10" in html and "<code>tests/test_rich_checks.py::" in html
