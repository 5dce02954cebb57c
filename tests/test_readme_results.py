"""The README and ``docs/*.md`` quote numbers only from committed result files, and quote them right.

Every number they quote is followed by an invisible marker
``<!--r FILE KEYPATH FMT-->``: ``FILE`` is a result under ``docs/results/quick/``
(without ``.json``; ``paper/NAME`` or ``full/NAME`` for one under ``docs/results/paper/`` or
``docs/results/full/``), ``KEYPATH`` a
``/``-separated path into it (list entries by index,
or by their ``"id"``; several paths joined by ``+`` quote the sum of their values),
``FMT`` a Python format spec. This test formats the stored value
and compares it with the text right before the marker. The verification table
(``docs/ledger.md``) must match the committed ``checks.json`` row by row (verdict and measured
value), every registered check must be in it, and every gallery figure must have its committed
result and a vector copy (PDF) beside it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from regimes.checks import all_checks
from regimes.report import fmt_num

ROOT = Path(__file__).resolve().parent.parent
#: every Markdown page that quotes numbers: the README and the pages it moved to docs/
PAGES = {str(p.relative_to(ROOT)): p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
LEDGER_PAGE = PAGES["docs/ledger.md"]
RESULTS = ROOT / "docs" / "results" / "quick"
MARKER = re.compile(r"(?P<text>[-−]?[0-9][0-9.,]*(?:e[-+]?[0-9]+)?%?)\**<!--r (?P<file>\S+) (?P<path>\S+) "
                    r"(?P<fmt>\S+)-->")


def _load(name: str) -> dict[str, Any]:
    # "NN_slug" is a quick-mode result; "paper/NN_slug" or "full/NN_slug" one of those tiers
    path = (RESULTS.parent / f"{name}.json") if "/" in name else RESULTS / f"{name}.json"
    assert path.exists(), f"the docs quote {name}, but {path} is not committed (run `regimes publish --quick`)"
    return json.loads(path.read_text())


def _walk(node: Any, path: str) -> Any:
    for tok in path.split("/"):
        if isinstance(node, list):
            if tok.lstrip("-").isdigit():
                node = node[int(tok)]
            else:
                matches = [e for e in node if isinstance(e, dict) and e.get("id") == tok]
                assert len(matches) == 1, f"no unique entry with id {tok!r} on the path {path}"
                node = matches[0]
        else:
            assert isinstance(node, dict) and tok in node, f"key {tok!r} missing on the path {path}"
            node = node[tok]
    return node


MARKERS = [(page, m) for page, text in PAGES.items() for m in MARKER.finditer(text)]


def test_readme_markers_exist() -> None:
    """The README and the findings quote numbers through markers (pages with none would make the
    next test vacuous), and no marker is malformed (a marker the pattern misses is never checked)."""
    assert sum(page == "README.md" for page, _ in MARKERS) >= 2
    assert sum(page == "docs/findings.md" for page, _ in MARKERS) >= 10
    for page, text in PAGES.items():
        assert text.count("<!--r ") == sum(p == page for p, _ in MARKERS), f"{page} has a malformed <!--r marker"


@pytest.mark.parametrize(("page", "m"), MARKERS, ids=[f"{page}:{m['file']}:{m['path']}" for page, m in MARKERS])
def test_readme_number_matches_its_result_file(page: str, m: re.Match) -> None:
    data = _load(m["file"])
    parts = [_walk(data, path) for path in m["path"].split("+")]
    assert None not in parts, f"{m['file']}:{m['path']} is null in the committed file"
    value = parts[0] if len(parts) == 1 else sum(parts)
    expected = format(value, m["fmt"])
    assert m["text"].replace("−", "-") == expected, (m["file"], m["path"], value)


def _table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in LEDGER_PAGE.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[A-Z]\d+b?", cells[0]):
            rows[cells[0]] = cells
    return rows


def test_verdict_table_matches_committed_checks() -> None:
    stored = {e["id"]: e for e in _load("checks")["checks"]}
    rows = _table_rows()
    assert set(rows) == {c.id for c in all_checks()}, "docs/ledger.md's table must list every registered check"
    for cid, (_, _, measured, _, verdict) in rows.items():
        entry = stored[cid]
        assert verdict.strip("*") == entry["verdict"].upper(), cid
        assert measured == fmt_num(entry["result"]["measured"]), cid
        assert entry["mode"] == "quick", cid


@pytest.mark.parametrize("tier", ["quick", "paper"])
def test_every_gallery_figure_has_its_committed_result(tier: str) -> None:
    """docs/gallery/ (quick) and docs/gallery/<tier>/: every figure has its result and
    MANIFEST entry in docs/results/<tier>/, and every published tier's result was run in it."""
    prefix = "" if tier == "quick" else f"{tier}/"
    gallery = ROOT / "docs" / "gallery" / ("" if tier == "quick" else tier)
    manifest = _load(f"{prefix}MANIFEST")
    assert manifest["mode"] == tier
    for png in sorted(gallery.glob("*.png")):
        assert png.stem in manifest["experiments"], f"{png.name} has no committed result"
        assert png.with_suffix(".pdf").exists(), f"{tier}/{png.stem}.pdf: the gallery keeps a vector copy"
        for suffix in (".json", ".npz"):
            assert (RESULTS.parent / tier / f"{png.stem}{suffix}").exists(), f"{tier}/{png.stem}{suffix}"
        assert _load(f"{prefix}{png.stem}")["config"]["mode"] == tier, png.stem
    for name, meta in manifest["experiments"].items():
        assert meta["wall_time_s"] > 0 and meta["git_revision"], name
        assert (gallery / f"{name}.png").exists(), f"{tier}/{name} has no figure"
    assert manifest["machine"]["cpu_count"] >= 1 and "torch" in manifest["versions"]
