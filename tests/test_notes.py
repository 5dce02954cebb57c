"""The proof notes as HTML with MathML (``regimes.notes``) and their place in the report.

Expected structures come from the MathML spec and TeX's meaning (``p^{m-2}`` is an
``msup`` of ``p`` over ``m − 2``), not from the converter's output; every note in
``proofs/`` must render with no warning, no raw ``$…$`` and no dangling link.
"""

from __future__ import annotations

import doctest
import html
import importlib
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

import regimes.notes
from regimes import harness, report
from regimes.checks import all_checks
from regimes.notes import (
    NoteWarning,
    build_notes,
    latex_to_mathml,
    looks_like_code,
    notes_for_check,
    parse_index,
    render_inline,
    render_note,
)

PROOFS = Path(regimes.notes.PROOFS_DIR)


class _Links(HTMLParser):
    """Every href / src and every id of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.refs.append(str(a[key]))


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def dangling_links(root: Path) -> list[str]:
    """Links in any ``*.html`` under ``root`` whose file (or ``#id`` in it) does not exist."""
    bad, cache = [], {}
    for page in sorted(root.rglob("*.html")):
        for ref in _parse(page).refs:
            if re.match(r"[a-z][a-z0-9+.-]*:", ref):
                bad.append(f"{page.name}: external {ref}")  # nothing external is expected
                continue
            target, _, frag = ref.partition("#")
            path = (page.parent / target).resolve() if target else page.resolve()
            if not path.is_file():
                bad.append(f"{page.name}: {ref} (no file)")
                continue
            if frag:
                ids = cache.setdefault(path, _parse(path).ids)
                if frag not in ids:
                    bad.append(f"{page.name}: {ref} (no id {frag!r})")
    return bad


def visible_text(page: str) -> str:
    """The text a reader sees outside ``<code>`` and ``<math>`` (tags stripped, entities decoded)."""
    page = re.sub(r"<head>.*?</head>", "", page, flags=re.S)  # the title bar shows no markup
    page = re.sub(r"<(code|math)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# --------------------------------------------------------------------------- formulas
def test_formula_renders_to_mathml() -> None:
    out = latex_to_mathml("p^{m-2}")
    assert out.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML"') and out.endswith("</math>")
    # TeX: the superscript of p is the group m − 2
    assert re.search(r"<msup><mi>p</mi><mrow><mi>m</mi><mo>(−|&#x02212;)</mo><mn>2</mn></mrow></msup>", out), out
    # unicode conventions of the notes: Σ with a script is a sum, ≥ an operator, ³ a superscript
    out = latex_to_mathml("Σ_{i≤n} λ_i ≥ p³")
    assert "<msub><mo>&#x02211;</mo>" in out and "<mo>≥</mo>" in out
    assert re.search(r"<msup><mi>p</mi><mrow><mn>3</mn></mrow></msup>", out), out
    assert 'display="block"' in latex_to_mathml("x", display=True)
    # \mathbb E as the double-struck letter (MathML Core renders no mathvariant but "normal")
    assert "<mi>𝔼</mi>" in latex_to_mathml(r"\mathbb E")


def test_words_and_set_braces() -> None:
    # a word subscript is one upright identifier; braces not after _ or ^ are set braces
    assert re.search(r"<msub><mi>t</mi>(<mrow>)+<mi>fit</mi>(</mrow>)+</msub>", latex_to_mathml("t_fit"))
    out = latex_to_mathml("{f₀, K(x_t, ·)}")
    assert out.count("&#x0007B;") == 1 and out.count("&#x0007D;") == 1


@pytest.mark.parametrize("bad", ["x^{1", "x_a_b", r"\notacommand x", "a}", "  "])
def test_bad_tex_raises(bad: str) -> None:
    with pytest.raises(regimes.notes.MathError):
        latex_to_mathml(bad)


def test_code_or_formula() -> None:
    code = ["tests/test_rank.py::test_c8", "QuadraticNet.init", "thm_3_4_max_n_for_half(p)", "prior_mean=True",
            "regimes check", "10_kernel_exit", "ValueError", "prop_3_7_bound", "nt", "population_*", "## <where>"]
    math = ["E_σ‖A/p − Ψ_σ‖² ≥ Tr((I − P)Σ)", "t_fit", "x_1..x_n", "K(x, x')", "1/p", "S_p^m", "argmax", "np + 1"]
    assert [s for s in code if not looks_like_code(s)] == []
    assert [s for s in math if looks_like_code(s)] == []


# --------------------------------------------------------------------------- inline text
def test_render_inline_statements() -> None:
    out = render_inline("spectrum {p^{m-2}, 0}; λ_min(E K) ≥ 4hσ_W⁴ and $\\mathbb E x$ < 1 & prior_mean")
    assert out.count("<math") == 4  # p^{m-2}, λ_min, σ_W, $…$
    assert "$" not in visible_text(out) and "&lt; 1 &amp; prior_mean" in out
    with pytest.raises(ValueError, match="text="):
        render_inline(None)  # type: ignore[arg-type]


def test_every_check_statement_renders_with_math() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoteWarning)
        for chk in all_checks():
            out = render_inline(chk.statement, source=chk.id)
            text = visible_text(out)
            assert "$" not in text and "^{" not in text and "_{" not in text, (chk.id, text)
    # statements with scripts get MathML: C4's spectrum p^{m-2}
    c4 = next(c for c in all_checks() if c.id == "C4")
    assert "<msup><mi>p</mi>" in render_inline(c4.statement)


# --------------------------------------------------------------------------- notes
def _note_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "proofs"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_bad_math_is_code_and_a_warning_naming_file_and_line(tmp_path: Path) -> None:
    d = _note_dir(tmp_path, {"a.md": "# A\n\nfine $x^2$\nthen $x_a_b$ breaks\n", "README.md": "# index\n"})
    with pytest.warns(NoteWarning, match=r"proofs/a\.md:4: math: .*x_a_b"):
        built = build_notes(tmp_path / "notes", proofs_dir=d, repo_root=tmp_path)
    assert [(i.source, i.line, i.kind) for i in built.issues] == [("proofs/a.md", 4, "math")]
    page = built.pages["a"].read_text()
    assert '<code class="math-error">x_a_b</code>' in page and page.count("<math") == 1


def test_links_between_notes_and_to_code(tmp_path: Path) -> None:
    (tmp_path / "regimes").mkdir()
    (tmp_path / "regimes" / "x.py").write_text("")
    d = _note_dir(tmp_path, {
        "a.md": "# A\n\n## Part two\n\n[b](b.md), [b's part](b.md#part-one), [me](#part-two)\n"
                "[code](../regimes/x.py)\n[gone](gone.md) [nope](../regimes/nope.py) [frag](b.md#nowhere)\n",
        "b.md": "# B\n\n## Part one\n", "README.md": "# index\n"})
    with pytest.warns(NoteWarning):
        built = build_notes(tmp_path / "notes", proofs_dir=d, repo_root=tmp_path)
    page = built.pages["a"].read_text()
    for href in ('href="b.html"', 'href="b.html#part-one"', 'href="#part-two"'):
        assert href in page
    assert '<code class="path" title="regimes/x.py">code</code>' in page
    assert [(i.line, i.kind) for i in built.issues] == [(7, "link")] * 3
    assert {re.search(r"'([^']+)'", i.message).group(1) for i in built.issues} == {
        "gone.md", "../regimes/nope.py", "b.md#nowhere"}
    (tmp_path / "notes" / "index.html").write_text("<p>report</p>")  # the report page the nav links
    (tmp_path / "index.html").write_text("<p>report</p>")
    assert dangling_links(tmp_path / "notes") == []


def test_render_note_prose_and_blocks() -> None:
    body = render_note("Prose x_t and (2/9)^{1/3}, not prior_mean.\n\n    E L ≥ p(1 − 1/p)\n\nCode:\n\n"
                       "    import numpy\n")
    assert body.count("<math") == 3 and 'display="block"' in body
    assert "prior_mean" in body and "<pre><code>import numpy" in body


def test_every_note_renders_clean(tmp_path: Path) -> None:
    """All of proofs/: no warning, MathML in the notes that have formulas, no raw $ or TeX scripts."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoteWarning)
        built = build_notes(tmp_path / "report" / "notes")
    stems = {p.stem for p in PROOFS.glob("*.md")}
    assert set(built.pages) == stems and {"README", "ERRATA"} <= stems
    assert built.issues == []
    n_math = 0
    for stem, page in built.pages.items():
        text = page.read_text(encoding="utf-8")
        n_math += text.count("<math")
        shown = visible_text(text)
        assert "$" not in shown, stem
        left = re.findall(r"\S*[_^]\{\S*", shown)
        assert left == [], (stem, left)
    assert n_math > 500  # ~800 today: the notes are formula-heavy; a converter that gave up shows here
    assert built.pages["thm_3_4_regression_lower_bound"].read_text().count("<math") > 30


def test_index_maps_checks_to_notes() -> None:
    rows = parse_index((PROOFS / "README.md").read_text(encoding="utf-8"))
    stems = {p.stem for p in PROOFS.glob("*.md")}
    assert rows and all(set(r.notes) <= stems for r in rows)
    # every check of the paper (C…) has a note; other families (G… for Gromov) may not yet
    for chk in all_checks():
        if chk.id.startswith("C"):
            assert notes_for_check(chk.id, rows, chk.theorem), f"{chk.id} has no proof note in proofs/README.md"
    # hand-read from the index: C6 is Thm 3.4's check, C15 lives in measurement.md
    assert notes_for_check("C6", rows)[0] == "thm_3_4_regression_lower_bound"
    assert "measurement" in notes_for_check("C15", rows)
    assert notes_for_check("C18", rows) == notes_for_check("C19", rows) == ["extremal"]
    with pytest.raises(ValueError, match="check_id="):
        notes_for_check("six", rows)


def test_parse_index_reads_columns_by_header() -> None:
    new = parse_index("## Rich\n| result | code | note | test (check) | experiment |\n|---|---|---|---|---|\n"
                      "| Thm 4.5 premise | `regimes.extremal.max_margin`, `regimes.checks.extremal.c19` (and prose) "
                      "| [extremal.md](extremal.md) | `tests/test_extremal.py` (C19) | 21 |\n")
    assert [(r.result, r.code, r.notes, r.tests, r.checks, r.experiments, r.section) for r in new] == [
        ("Thm 4.5 premise", ("regimes.extremal.max_margin", "regimes.checks.extremal.c19"), ("extremal",),
         ("tests/test_extremal.py",), ("C19",), ("21",), "Rich")]
    # the earlier four-column layout still parses, with no code
    old = parse_index("| result | note | test (check) | experiment |\n|---|---|---|---|\n"
                      "| Thm 3.1 | [a.md](a.md) | `tests/test_rank.py` (C8) | 02 |\n")
    assert [(r.result, r.notes, r.checks, r.experiments, r.code) for r in old] == [
        ("Thm 3.1", ("a",), ("C8",), ("02",), ())]
    # columns in another order, the short header "test", an unknown column ignored
    moved = parse_index("| note | extra | experiment | test | result | code |\n|---|---|---|---|---|---|\n"
                        "| [b.md](b.md) | x | 10–11 | `tests/b.py` (C17b) | Fig 1 | `regimes.runs.init_scale_run` |\n")
    assert [(r.result, r.notes, r.tests, r.checks, r.experiments, r.code) for r in moved] == [
        ("Fig 1", ("b",), ("tests/b.py",), ("C17b",), ("10", "11"), ("regimes.runs.init_scale_run",))]
    # a table whose header names no result/note column is not the index's
    assert parse_index("| verdict | meaning |\n|---|---|\n| PASS | holds |\n") == []
    # a row without a header before it, or after a paragraph broke the table, is not read
    assert parse_index("| Thm 3.1 | [a.md](a.md) | `tests/t.py` | 02 |\n") == []


def _resolve(dotted: str) -> object:
    """The object a dotted name names: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)  # AttributeError: the name does not exist
        return obj
    raise ImportError(f"{dotted}: no importable prefix")


def test_resolve_finds_names_and_refuses_missing_ones() -> None:
    assert _resolve("regimes.extremal.max_margin").__name__ == "max_margin"
    assert _resolve("regimes.models.quadratic.QuadraticNet.init")
    with pytest.raises(AttributeError):
        _resolve("regimes.ntk.closed_form.no_such_function")
    with pytest.raises(ImportError):
        _resolve("no_such_package.x")


def test_index_code_column_names_resolve() -> None:
    """Every row of every table names its code, and every dotted name there exists."""
    rows = parse_index((PROOFS / "README.md").read_text(encoding="utf-8"))
    assert len(rows) >= 35
    assert [r.result for r in rows if not r.code] == []
    missing = []
    for r in rows:
        for name in r.code:
            assert name.startswith("regimes."), (r.result, name)
            try:
                _resolve(name)
            except (ImportError, AttributeError) as e:
                missing.append(f"{name} ({r.result[:40]}): {e}")
    assert missing == []


def test_every_note_is_indexed() -> None:
    rows = parse_index((PROOFS / "README.md").read_text(encoding="utf-8"))
    indexed = {s for r in rows for s in r.notes}
    notes = {p.stem for p in PROOFS.glob("*.md")} - {"README"}
    assert sorted(notes - indexed) == []
    assert {"measurement", "ERRATA", "extremal"} <= indexed


def test_build_refuses_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="proofs_dir="):
        build_notes(tmp_path / "notes", proofs_dir=tmp_path)


# --------------------------------------------------------------------------- in the report
def test_report_links_checks_and_notes_both_ways(tmp_path: Path) -> None:
    checks = all_checks()
    exps = harness.discover()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoteWarning)
        page = report.build(tmp_path, exps, checks, entries={})
    root = page.parent
    index = page.read_text(encoding="utf-8")
    assert dangling_links(root) == []
    # check → note: C6's section links Thm 3.4's note; the index lists every note, errata included
    c6 = re.search(r'<section class="card" id="check-C6">.*?</section>', index, re.S).group(0)
    assert 'href="notes/thm_3_4_regression_lower_bound.html"' in c6
    assert '<h2 id="notes">' in index
    for stem in (p.stem for p in PROOFS.glob("*.md")):
        assert f'href="notes/{stem}.html"' in index
    # the claims in the table are MathML
    assert "<math" in re.search(r'<table id="checks">.*?</table>', index, re.S).group(0)
    # note → check and experiment
    note = (root / "notes" / "thm_3_4_regression_lower_bound.html").read_text(encoding="utf-8")
    assert 'href="../index.html#check-C6"' in note
    exp03 = next(x for x in exps if x.number == "03")
    assert f'href="../index.html#exp-{exp03.name}"' in note


def test_docstring_examples_run() -> None:
    res = doctest.testmod(regimes.notes, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted >= 15
