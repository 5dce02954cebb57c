"""The verification report: one static page, ``report/index.html``.

It shows, for every registered check (C1…), the claim it tests, the measured
value against the bound and the verdict, the figures of the experiments that
illustrate it, and the config and run metadata behind each figure (read from
``results/NN_slug.json``); then every experiment's figure; then the errata of
the paper that the suite implements in corrected form. The proof notes
(``proofs/*.md``, the errata list among them) are rendered beside it as pages
``report/notes/<stem>.html`` with their formulas as MathML (:mod:`regimes.notes`);
each check's section links to its notes and each note back to its checks.

The page is self-contained: figures are copied next to it (``report/figures/``)
and referenced relatively, styles are inline, there is no script, so it opens
from disk in any browser without a server. It is built in a temporary folder
and swapped into place, so a failed build never leaves a half-written report.

It only renders: check verdicts come from ``results/checks.json``, run and stored by
:mod:`regimes.checks.runner` (``regimes check``, ``regimes reproduce``), and the errata
from ``proofs/ERRATA.md``, the one list (:data:`ERRATA` is a parsed view of it).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from regimes import claims, harness, store
from regimes import notes as proof_notes
from regimes.checks import VERDICTS, Check
from regimes.checks.runner import (  # noqa: F401  (re-exported: their home before regimes.checks.runner)
    CHECKS_FILE,
    ENTRY_VERDICTS,
    load_checks,
    run_checks,
    save_checks,
    verdict_of,
)

#: The one errata list (rendered in the report's last section; the README links it).
ERRATA_FILE = harness.REPO_ROOT / "proofs" / "ERRATA.md"


def parse_errata(text: str) -> list[tuple[str, str]]:
    """The entries of ``proofs/ERRATA.md`` as ``(where, body)``: one per ``## where`` heading,
    ``body`` its text up to the next heading (Markdown as written, blank lines kept)."""
    entries: list[tuple[str, str]] = []
    for block in text.split("\n## ")[1:]:
        head, _, body = block.partition("\n")
        entries.append((head.strip(), body.strip()))
    return entries


def load_errata(path: Path = ERRATA_FILE) -> list[tuple[str, str]]:
    """:func:`parse_errata` of ``path`` (empty if it cannot be read)."""
    try:
        return parse_errata(Path(path).read_text(encoding="utf-8"))
    except OSError:
        return []


#: The paper's typos and slips that the suite implements in corrected form, as (where, text):
#: a parsed view of ``proofs/ERRATA.md``, the one source (read at import).
ERRATA: list[tuple[str, str]] = load_errata()


# --------------------------------------------------------------------------- checks
def fmt_num(x: Any) -> str:
    """A compact number: 4 significant digits, scientific when tiny or huge."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x != x:
            return "nan"
        return f"{x:.4g}"
    if isinstance(x, str) and x in ("inf", "-inf"):
        return "∞" if x == "inf" else "−∞"
    return str(x)


# --------------------------------------------------------------------------- html
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1.5em;color:#1a1a1a;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{font-family:ui-monospace,monospace;white-space:nowrap}
.v{font-weight:600;padding:.1em .5em;border-radius:.3em;white-space:nowrap}
.pass{background:#d8f3dc;color:#1b5e20}.fail{background:#ffd6d6;color:#a00}
.error{background:#ffe0b2;color:#8a4b00}.observation{background:#e3f2fd;color:#0d47a1}
.vacuous{background:#eeeeee;color:#424242}.inconclusive{background:#fff3c4;color:#6d4c00}
.notrun{background:#eee;color:#555}
.card{border:1px solid #ddd;border-radius:.5em;padding:1em;margin:1em 0}
figure{margin:.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.8em;max-height:20em;margin:0;
white-space:pre-wrap;overflow-wrap:anywhere}
tr.claim-yes>td:nth-child(6){color:#1a7f37}tr.claim-only>td:nth-child(6){color:#9a6700}tr.claim-not>td:nth-child(6){color:#cf222e}tr.claim-open>td:nth-child(6){color:#57606a}
table.details{table-layout:fixed}table.details>tbody>tr>th{width:22%}
.meta{font-size:.85em;color:#444}.thumbs{display:flex;flex-wrap:wrap;gap:1em}
.thumbs figure{flex:1 1 45%}
nav.toc{background:#f7f7f7;border:1px solid #ddd;border-radius:.5em;padding:.6em 1em;margin:1em 0}
nav.toc ol{margin:.3em 0}.links{font-weight:400;font-size:.9em}.links a{white-space:nowrap}
.scroll{overflow-x:auto}table.claims code{white-space:normal;overflow-wrap:anywhere;font-size:.85em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pre_json(obj: Any, limit: int = 40) -> str:
    """Pretty JSON with long lists shortened for reading."""

    def shorten(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: shorten(v) for k, v in o.items()}
        if isinstance(o, list):
            if len(o) > limit:
                return [shorten(v) for v in o[: limit // 2]] + [f"… {len(o) - limit} more …"] + [
                    shorten(v) for v in o[-limit // 2:]]
            return [shorten(v) for v in o]
        return o

    return f"<pre>{_e(_compact_json(shorten(obj)))}</pre>"


def _compact_json(obj: Any, indent: int = 0) -> str:
    """JSON with nesting indented but every list of scalars (or of short scalar lists) on one line."""
    pad, inner = " " * indent, " " * (indent + 2)

    def flat(x: Any) -> bool:
        return _scalar(x) or (isinstance(x, list) and len(x) <= 8 and all(_scalar(y) for y in x))

    def num(x: Any) -> Any:
        return float(fmt_num(x)) if isinstance(x, float) and x == x and abs(x) != float("inf") else x

    if isinstance(obj, list) and all(flat(x) for x in obj):
        return json.dumps([[num(y) for y in x] if isinstance(x, list) else num(x) for x in obj],
                          default=str)
    if isinstance(obj, list):
        return "[\n" + ",\n".join(inner + _compact_json(x, indent + 2) for x in obj) + f"\n{pad}]"
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = (f"{inner}{json.dumps(str(k))}: {_compact_json(v, indent + 2)}" for k, v in obj.items())
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    return json.dumps(num(obj), default=str)


def _md(text: str) -> str:
    """A minimal Markdown rendering of an errata body: paragraphs, ``code`` and **bold**
    (everything escaped first; the proof-notes renderer may replace it with MathML)."""
    import re

    paras = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = re.split(r"\n(?=\*\*)", para)        # a line opening in bold starts a new line
        h = "<br>".join(_e(" ".join(line.split())) for line in lines)
        h = re.sub(r"`([^`]+)`", r"<code>\1</code>", h)
        h = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", h)
        paras.append(h)
    return "<br>".join(paras)


def _verdict_badge(verdict: str) -> str:
    label = {"observation": "observation", "notrun": "not run"}.get(verdict, verdict.upper())
    return f'<span class="v {_e(verdict)}">{_e(label)}</span>'


def _load_result(out: Path, exp: harness.Experiment) -> dict[str, Any] | None:
    path = out / "results" / f"{exp.name}.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stored if stored.get("complete") else None


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, bool | int | float | str)


def _records_table(v: Any) -> str | None:
    """A dict of flat dicts, or a list of flat dicts, as a table (``None`` if not that shape)."""
    if isinstance(v, dict) and v and all(isinstance(r, dict) for r in v.values()):
        names, recs = [str(k) for k in v], list(v.values())
    elif isinstance(v, list) and v and len(v) <= 200 and all(isinstance(r, dict) for r in v):
        names, recs = None, v
    else:
        return None
    cols: list[str] = []
    for r in recs:
        cols += [c for c in r if c not in cols]
    # records of scalars, or mostly scalars with a few nested cells (shown collapsed)
    nested = sum(not _scalar(x) for r in recs for x in r.values())
    if len(cols) > 20 or nested > len(recs) * 2:
        return None

    def cell(x: Any) -> str:
        return f'<td class="num">{_e(fmt_num(x))}</td>' if _scalar(x) else f"<td>{_value_html(x, 3)}</td>"

    head = ("<th></th>" if names else "") + "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + (f"<th>{_e(names[i])}</th>" if names else "")
        + "".join(cell(r.get(c)) for c in cols) + "</tr>"
        for i, r in enumerate(recs))
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _value_html(v: Any, depth: int = 0) -> str:
    """A stored value as readable HTML: numbers formatted, flat dicts as ``key value`` pairs,
    lists of records as tables, nested dicts as nested key/value tables; JSON (collapsed) only
    past three levels of nesting."""
    if _scalar(v):
        return f'<span class="num">{_e(fmt_num(v))}</span>'
    if isinstance(v, list) and all(_scalar(x) for x in v):
        items = [fmt_num(x) for x in v]
        if len(items) > 24:
            items = [*items[:12], f"… {len(items) - 24} more …", *items[-12:]]
        return f'<span class="num">{_e(", ".join(items))}</span>' if items else "—"
    if isinstance(v, dict) and v and all(_scalar(x) for x in v.values()) and len(v) <= 12:
        return " · ".join(f'{_e(a)} <span class="num">{_e(fmt_num(b))}</span>' for a, b in v.items())
    if (table := _records_table(v)) is not None:
        return table
    if depth >= 3:
        return f"<details><summary>{_e(type(v).__name__)} of {len(v)}</summary>{_pre_json(v, limit=20)}</details>"
    if isinstance(v, dict):
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_value_html(x, depth + 1)}</td></tr>" for k, x in v.items())
        return f'<table class="details">{rows}</table>'
    if isinstance(v, list):
        if len(v) > 40:
            v = [*v[:20], f"… {len(v) - 40} more …", *v[-20:]]
        rows = "".join(f"<tr><th>{i}</th><td>{_value_html(x, depth + 1)}</td></tr>" for i, x in enumerate(v))
        return f'<table class="details">{rows}</table>'
    return _e(v)


def _details_table(details: dict[str, Any]) -> str:
    if not details:
        return ""
    rows = []
    flat = {k: v for k, v in details.items()
            if isinstance(v, dict) and v and all(_scalar(x) for x in v.values())}
    if len(flat) >= 2 and (table := _records_table(flat)) is not None:
        rows.append(f'<tr><td colspan="2">{table}</td></tr>')
        details = {k: v for k, v in details.items() if k not in flat}
    for k, v in details.items():
        if isinstance(v, dict) and v and all(_scalar(x) for x in v.values()) and len(v) <= 12:
            cell = " · ".join(f'{_e(a)} <span class="num">{_e(fmt_num(b))}</span>'
                              for a, b in v.items())
            rows.append(f"<tr><th>{_e(k)}</th><td>{cell}</td></tr>")
            continue
        rows.append(f"<tr><th>{_e(k)}</th><td>{_value_html(v, 1)}</td></tr>")
    return f'<table class="details">{"".join(rows)}</table>'


def _figure_block(exp: harness.Experiment, result: dict[str, Any] | None, img: str | None,
                  *, full: bool) -> str:
    anchor = f"exp-{exp.name}"
    head = f"{_e(exp.number)} · {_e(exp.title)} <small>({_e(exp.figure)})</small>"
    if img is None:
        cmd = f"regimes run {exp.number}"
        body = f'<p class="meta">Not run yet: <code>{_e(cmd)}</code> draws it.</p>'
        if full:  # in the experiment's own section, under its heading
            return body
        return f'<figure><figcaption><a href="#{anchor}">{head}</a></figcaption>{body}</figure>'
    caption = "" if full else f"<figcaption>{head}</figcaption>"
    fig = (f'<figure><a href="#{anchor}"><img src="{_e(img)}" alt="{_e(exp.title)}" '
           f'loading="eager"></a>{caption}</figure>')
    if not full or result is None:
        return fig
    cfg = result.get("config", {})
    meta = {k: result.get(k) for k in ("config_hash", "git_revision", "wall_time_s", "finished_at",
                                       "host", "versions")}
    return (fig + f'<p class="meta">mode <b>{_e(cfg.get("mode", "?"))}</b> · seed '
            f'<b>{_e(cfg.get("seed", "?"))}</b> · device {_e(cfg.get("device", "?"))} · '
            f'{_e(fmt_num(result.get("wall_time_s")))} s · git {_e(result.get("git_revision", "?"))}'
            f"</p><details><summary>config</summary>{_value_html(cfg, 1)}</details>"
            f"<details><summary>run metadata</summary>{_value_html(meta, 1)}</details>"
            f"<details><summary>metrics</summary>{_value_html(result.get('metrics', {}), 1)}</details>")


# --------------------------------------------------------------------------- proof notes
def _statement(chk: Check) -> str:
    """A check's claim with its formulas as MathML (:func:`regimes.notes.render_inline`)."""
    return proof_notes.render_inline(chk.statement, source=f"check {chk.id} statement")


def _note_links(chk: Check, notes: proof_notes.NotesBuild | None) -> str:
    """`` · proof notes: …`` linking the check's notes (via the index ``proofs/README.md``)."""
    if notes is None:
        return ""
    stems = [s for s in proof_notes.notes_for_check(chk.id, notes.rows, chk.theorem) if s in notes.pages]
    links = ", ".join(f'<a class="note-link" href="{_e(notes.href(s))}">'
                      f"{proof_notes.render_inline(notes.titles[s], source=f'proofs/{s}.md')}</a>" for s in stems)
    return f" · proof notes: {links}" if links else ""


def _notes_section(notes: proof_notes.NotesBuild | None) -> str:
    if notes is None:
        return ""
    first = [s for s in (proof_notes.INDEX_NOTE, proof_notes.ERRATA_NOTE) if s in notes.pages]
    items = "".join(f'<li><a href="{_e(notes.href(s))}">'
                    f"{proof_notes.render_inline(notes.titles[s], source=f'proofs/{s}.md')}</a></li>"
                    for s in first + sorted(s for s in notes.pages if s not in first))
    return ('<h2 id="notes">Proof notes</h2><p class="meta">The notes in <code>proofs/</code>: each result '
            "in our words, a proof sketch, the errata that apply, and which check, test and figure go with "
            f"it.</p><ul>{items}</ul>")


def _errata_link(notes: proof_notes.NotesBuild | None) -> str:
    if notes is None or proof_notes.ERRATA_NOTE not in notes.pages:
        return ""
    return (f'<p class="meta">With the evidence and the test that keeps each: '
            f'<a href="{_e(notes.href(proof_notes.ERRATA_NOTE))}">the errata note</a>.</p>')


def _claims_section(claims_html: str | None) -> str:
    if not claims_html:
        return ""
    return ('<h2 id="claims">Claims ledger</h2><p class="meta">One row per claim of the central paper and '
            "of the other sources, from <code>docs/claims.toml</code>: the source's setting, our largest run, "
            "seeds, the measurement (looked up in the committed result files named in the last column) and a "
            "verdict: REPRODUCED, REPRODUCED ONLY UNDER a condition, NOT REPRODUCED AT p ≤ P, or OPEN.</p>"
            + claims_html)


def render(checks: list[Check], entries: dict[str, dict[str, Any]],
           experiments: list[harness.Experiment], results: dict[str, dict[str, Any] | None],
           images: dict[str, str], *, title: str = "regimes — verification report",
           notes: proof_notes.NotesBuild | None = None, claims_html: str | None = None) -> str:
    """The report's HTML (pure: no file access). ``images`` maps experiment name → src;
    ``notes`` (from :func:`regimes.notes.build_notes`, pages in ``notes/``) adds the links
    from each check to its proof notes and the list of notes; ``claims_html`` (from
    :func:`regimes.claims.render_html`) adds the claims ledger."""
    by_check: dict[str, list[harness.Experiment]] = {}
    for exp in experiments:
        for cid in exp.checks:
            by_check.setdefault(cid, []).append(exp)
    verdicts = [entries.get(c.id, {}).get("verdict", "notrun") for c in checks]
    counts = {v: verdicts.count(v) for v in (*ENTRY_VERDICTS, "notrun")}
    verdict_legend = "; ".join(f"{_verdict_badge(v.lower())} {_e(text)}" for v, text in VERDICTS.items())
    summary = " · ".join(f"{_verdict_badge(v)} {n}" for v, n in counts.items() if n)
    committed = sorted({e["committed"] for e in entries.values() if e.get("committed")})
    committed_note = (f'<p class="meta">Checks not run into this folder show the committed verdicts of '
                      f'{", ".join(f"<code>{_e(c)}</code>" for c in committed)} (their date and git revision '
                      "are beside each).</p>" if committed else "")

    rows = []
    for chk, verdict in zip(checks, verdicts, strict=True):
        res = (entries.get(chk.id) or {}).get("result") or {}
        figs = " ".join(f'<a href="#exp-{_e(x.name)}">{_e(x.number)}</a>'
                        for x in by_check.get(chk.id, []))
        rows.append(
            f'<tr class="check-row" data-check="{_e(chk.id)}"><td><a href="#check-{_e(chk.id)}">'
            f"{_e(chk.id)}</a></td><td>{_e(chk.theorem)}</td><td>{_statement(chk)}</td>"
            f'<td class="num">{_e(fmt_num(res.get("measured")))}</td>'
            f'<td class="num">{_e(res.get("relation", ""))}</td>'
            f'<td class="num">{_e(fmt_num(res.get("bound")))}</td>'
            f"<td>{_verdict_badge(verdict)}</td><td><code>{_e(chk.test)}</code></td>"
            f"<td>{figs or '—'}</td></tr>")
    table = ('<table id="checks"><thead><tr><th>id</th><th>theorem</th><th>claim</th>'
             "<th>measured</th><th></th><th>bound</th><th>verdict</th><th>test</th>"
             f'<th>figures</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')

    sections = []
    for chk, verdict in zip(checks, verdicts, strict=True):
        entry = entries.get(chk.id) or {}
        res = entry.get("result") or {}
        if entry:
            nums = (f'<p>measured <span class="num">{_e(fmt_num(res.get("measured")))}</span> '
                    f'{_e(res.get("relation", ""))} bound <span class="num">'
                    f'{_e(fmt_num(res.get("bound")))}</span> — {_verdict_badge(verdict)} '
                    f'<span class="meta">({_e(entry.get("mode", "?"))} mode, '
                    f'{_e(fmt_num(entry.get("wall_s")))} s, {_e(entry.get("finished_at", ""))}'
                    + (f', committed in <code>{_e(entry["committed"])}</code>, git '
                       f'{_e(str(entry.get("git_revision") or "?")[:10])}' if entry.get("committed") else "")
                    + ")</span></p>")
            if entry.get("error"):
                nums += f"<pre>{_e(entry['error'])}</pre>"
            nums += _details_table(res.get("details") or {})
        else:
            nums = (f"<p>{_verdict_badge('notrun')} <code>regimes check --only {_e(chk.id)}"
                    "</code> runs it.</p>")
        figs = "".join(_figure_block(x, results.get(x.name), images.get(x.name), full=False)
                       for x in by_check.get(chk.id, []))
        sections.append(
            f'<section class="card" id="check-{_e(chk.id)}"><h3>{_e(chk.id)} — {_e(chk.theorem)}'
            f"</h3><p>{_statement(chk)}</p>{nums}<p class=\"meta\">Test: <code>{_e(chk.test)}"
            f"</code>{_note_links(chk, notes)}</p>{f'<div class=thumbs>{figs}</div>' if figs else ''}</section>")

    exp_sections = []
    for exp in experiments:
        exp_sections.append(
            f'<section class="card" id="exp-{_e(exp.name)}"><h3>{_e(exp.number)} · {_e(exp.title)}'
            f'</h3><p class="meta">Paper: {_e(exp.figure)} · checks: '
            f'{_e(", ".join(exp.checks) or "—")} · script <code>experiments/{_e(exp.name)}.py</code>'
            f"</p>{_figure_block(exp, results.get(exp.name), images.get(exp.name), full=True)}"
            "</section>")

    errata = "".join(f'<li id="erratum-{i}"><b>{_e(w)}.</b> {_md(t)}</li>'
                     for i, (w, t) in enumerate(ERRATA, start=1))
    gen = time.strftime("%Y-%m-%d %H:%M:%S %z")
    vers = store.versions()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{_e(title)}</title><style>{_CSS}</style></head><body>
<h1>{_e(title)}</h1>
<p class="meta">Kernel (lazy) vs rich (feature-learning) regime on modular arithmetic — checks of
the theorems of Mohamadi, Li, Wu &amp; Sutherland, <i>Why Do You Grok?</i> (ICML 2024).
Generated {_e(gen)} · git {_e(store.git_revision())} ·
{_e(", ".join(f"{k} {v}" for k, v in vers.items()))}</p>
<nav class="toc"><b>Contents</b><ol>
{'<li><a href="#claims">Claims ledger</a>: the verdict on each claim of each source</li>' if claims_html else ''}
<li><a href="#verification">Verification table</a>: one inequality per check {summary}</li>
<li><a href="#theorems">Check details</a>: numbers, figures and proof notes per check</li>
<li><a href="#experiments">Experiments</a>: every figure with its config and metrics</li>
{'<li><a href="#notes">Proof notes</a></li>' if notes is not None else ''}
<li><a href="#errata">Errata</a></li></ol></nav>
{committed_note}
{_claims_section(claims_html)}
<h2 id="verification">Verification table</h2>
<p class="meta">One row per registered check. A PASS says one inequality holds at this scale; the
ledger above gives the verdict on each claim. Verdicts: {verdict_legend}.</p>
{table}
<h2 id="theorems">Check details</h2>
{"".join(sections)}
<h2 id="experiments">Experiments</h2>
{"".join(exp_sections) or "<p>No experiments found.</p>"}
{_notes_section(notes)}
<h2 id="errata">Errata implemented in corrected form</h2>
{_errata_link(notes)}<ol>{errata}</ol>
</body></html>
"""


def with_committed(entries: dict[str, dict[str, Any]], checks: list[Check],
                   committed: Path | None = None) -> dict[str, dict[str, Any]]:
    """``entries`` completed by the committed verdicts (``docs/results/quick/checks.json``) for
    every check that has none, each marked with ``"committed"`` (the file it came from); the
    entries that were run are kept as they are.

    >>> from regimes.checks import all_checks
    >>> e = with_committed({}, all_checks())
    >>> sorted({x["committed"] for x in e.values()}), len(e) == len(all_checks())
    (['docs/results/quick/checks.json'], True)
    """
    path = harness.PUBLISHED_DIR / "quick" / "checks.json" if committed is None else Path(committed)
    missing = [c.id for c in checks if c.id not in entries]
    if not missing:
        return entries
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return entries
    name = str(path.relative_to(harness.REPO_ROOT)) if path.is_relative_to(harness.REPO_ROOT) else str(path)
    by_id = {e["id"]: e for e in stored.get("checks", []) if isinstance(e, dict) and "id" in e}
    return {**entries, **{cid: {**by_id[cid], "committed": name} for cid in missing if cid in by_id}}


def build(out: str | Path, experiments: list[harness.Experiment], checks: list[Check],
          entries: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write ``out/report/index.html`` (+ ``figures/``) and return the page's path.

    Figures are copied from ``out/figures/NN_slug.png``; results are read from
    ``out/results/NN_slug.json``; check records from ``out/results/checks.json``
    unless ``entries`` is given; a check with no record there shows its committed verdict
    (:func:`with_committed`). The folder is built aside and swapped in whole.
    """
    out = Path(out)
    entries = with_committed(load_checks(out) if entries is None else entries, checks)
    final = out / "report"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=f".report.{store.temp_tag()}.", suffix=".tmp"))  # see clean_stale_temps
    try:
        (tmp / "figures").mkdir()
        results, images = {}, {}
        for exp in experiments:
            results[exp.name] = _load_result(out, exp)
            png = out / "figures" / f"{exp.name}.png"
            if png.exists():
                shutil.copyfile(png, tmp / "figures" / png.name)
                images[exp.name] = f"figures/{png.name}"
        notes = None
        if any(proof_notes.PROOFS_DIR.glob("*.md")):  # absent in a non-editable install
            notes = proof_notes.build_notes(
                tmp / "notes", check_links={c.id: f"index.html#check-{c.id}" for c in checks},
                experiment_links={x.number: f"index.html#exp-{x.name}" for x in experiments})
        ledger = (claims.render_html(report_links={"checks": {c.id for c in checks},
                                                   "experiments": {x.name for x in experiments}})
                  if claims.LEDGER.exists() else None)
        page = render(checks, entries, experiments, results, images, notes=notes, claims_html=ledger)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if final.exists():
            old = out / f".report-old.{store.temp_tag()}.{time.time_ns()}.tmp"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final / "index.html"


def _main() -> int:  # pragma: no cover - convenience
    from regimes.checks import all_checks

    print(build(harness.REPO_ROOT, harness.discover(), all_checks()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(BrokenPipeError):
        sys.exit(_main())
