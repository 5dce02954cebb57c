"""The claims ledger: one row per published claim, with our largest run, its measurement
and a verdict, each backed by a committed result file.

The ledger's source is ``docs/claims.toml`` (one ``[[claim]]`` table per row). A row's
``measurement`` (like its ``claim``, ``source_setting`` and ``our_setting``) is a template
whose numbers are *looked up*, never typed: a placeholder ``{FILE:KEY/PATH:FMT}`` is
replaced by the value at ``KEY/PATH`` in the committed result
``docs/results/<tier>/FILE.json`` (list entries by index or by their ``"id"``),
formatted with the Python format spec ``FMT``. The ledger table of ``docs/ledger.md``, the
report's, and the per-source answer at the top of the README are all rendered from this file
(:func:`render_markdown`, :func:`render_html`, :func:`render_answer`), and a test keeps the
committed copies equal to the rendering.

Verdicts (see ``proofs/measurement.md``) are one of

* ``REPRODUCED`` — our measurement, at the scale and seeds stated, shows the claim;
* ``REPRODUCED ONLY UNDER <condition>`` — it does, but only in a setting other than the
  source's (the condition names it);
* ``NOT REPRODUCED AT p ≤ <P>`` — at every size we ran (the largest is ``P``) the
  measurement contradicts the claim or fails its criterion;
* ``OPEN`` — no verdict: the evidence is a single seed, the bound is vacuous at our sizes,
  or the run was not done. The row's measurement says which.

A row whose verdict depends on a *reading* of what the source leaves open (``proofs/measurement.md``,
"Readings") lists each reading it ran as a ``[[claim.readings]]`` table (``reading``, ``measurement``,
``verdict``, each verdict of the forms above) and states its overall verdict as ``REPRODUCED ONLY
UNDER <the readings where it holds>`` or ``NOT REPRODUCED AT p ≤ <P>`` when none does. A row that
holds or fails alike under every reading tried says which in ``readings_tried``.

Every verdict other than ``OPEN`` needs at least one committed evidence file and at
least two seeds (``seeds = 0`` marks a deterministic computation, where seeds do not
apply). :func:`load` enforces this.

Run ``python -m regimes.claims`` to rewrite ``docs/ledger.md``'s table between its
``<!-- claims:begin -->`` and ``<!-- claims:end -->`` markers and the README's answer between
``<!-- answer:begin -->`` and ``<!-- answer:end -->``.

Examples:
    >>> rows = load()
    >>> all(r.verdict.split()[0] in {"REPRODUCED", "NOT", "OPEN"} for r in rows)
    True
"""

from __future__ import annotations

import html
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from regimes.store import atomic_write_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent
LEDGER = REPO_ROOT / "docs" / "claims.toml"
RESULTS = REPO_ROOT / "docs" / "results"
README = REPO_ROOT / "README.md"
LEDGER_MD = REPO_ROOT / "docs" / "ledger.md"
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
ANSWER_BEGIN, ANSWER_END = "<!-- answer:begin -->", "<!-- answer:end -->"
#: The sources, in the README's order: the prefix of a row's ``source`` and how the answer names it.
SOURCES: tuple[tuple[str, str], ...] = (
    ("Mohamadi et al.", "The central paper (Mohamadi et al., ICML 2024)"),
    ("Gromov", "Gromov, *Grokking modular arithmetic*"),
    ("Textbook chapter on grokking", "The textbook chapter on grokking"),
    ("Blog", "The blog post *Some thoughts on Grokking*"),
)
#: Verdict kinds, in the answer's order, with how it names each.
KINDS: tuple[tuple[str, str], ...] = (
    ("yes", "reproduced"), ("only", "reproduced only under a condition"),
    ("not", "not reproduced at the sizes run"), ("open", "open"))

PLACEHOLDER = re.compile(r"\{(?P<file>[\w./-]+):(?P<path>[^:{}]+):(?P<fmt>[^{}]*)\}")
_VERDICT = re.compile(r"REPRODUCED|REPRODUCED ONLY UNDER .+|NOT REPRODUCED AT p ≤ \d+|OPEN")
_FIELDS = ("id", "source", "claim", "source_setting", "our_setting", "seeds", "measurement", "verdict",
           "evidence", "figure")


@dataclass(frozen=True)
class Claim:
    """One ledger row. ``measurement`` is already rendered (placeholders replaced);
    ``evidence`` lists committed result files relative to ``docs/results/``; ``figure`` is
    a path relative to the repository root, or ``""``."""

    id: str
    source: str
    claim: str
    source_setting: str
    our_setting: str
    seeds: int
    measurement: str
    verdict: str
    evidence: tuple[str, ...]
    figure: str
    tier: str = "quick"
    readings: tuple[tuple[str, str, str], ...] = ()    # (reading, measurement, verdict) per reading run
    readings_tried: str = ""

    @property
    def measurement_text(self) -> str:
        """The measurement with each reading's measurement and verdict after it."""
        extra = "".join(f" — under {r}: {m} ({v})" for r, m, v in self.readings)
        tried = f" — readings tried: {self.readings_tried}" if self.readings_tried else ""
        return self.measurement + extra + tried


def _walk(node: Any, path: str, where: str) -> Any:
    for tok in path.split("/"):
        if isinstance(node, list):
            if tok.lstrip("-").isdigit():
                node = node[int(tok)]
                continue
            hits = [e for e in node if isinstance(e, dict) and e.get("id") == tok]
            if len(hits) != 1:
                raise ValueError(f"{where}: no unique list entry with id {tok!r} on the path {path!r}")
            node = hits[0]
        elif isinstance(node, dict) and tok in node:
            node = node[tok]
        else:
            raise ValueError(f"{where}: key {tok!r} missing on the path {path!r}")
    return node


@lru_cache(maxsize=64)
def _result(tier: str, name: str) -> Any:
    path = RESULTS / tier / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is not committed: run `regimes publish --{tier}` after the experiment")
    return json.loads(path.read_text())


def lookup(tier: str, name: str, path: str) -> Any:
    """The value at ``path`` (``/``-separated) in the committed ``docs/results/<tier>/<name>.json``.

    Raises ``FileNotFoundError`` for a file that is not committed and ``ValueError`` for a
    path that does not resolve or a null value."""
    value = _walk(_result(tier, name), path, f"{tier}/{name}.json")
    if value is None:
        raise ValueError(f"{tier}/{name}.json: {path!r} is null")
    return value


def fill(template: str, tier: str = "quick") -> str:
    """``template`` with every ``{FILE:PATH:FMT}`` replaced by the formatted committed value
    (a minus sign is written as U+2212). ``FILE`` is a result of ``tier``, or ``FOLDER/NAME``
    for one published in another folder of ``docs/results/`` (e.g. a run with overrides)."""
    def sub(m: re.Match[str]) -> str:
        where, _, name = m["file"].rpartition("/")
        return format(lookup(where or tier, name, m["path"]), m["fmt"]).replace("-", "−")
    return PLACEHOLDER.sub(sub, template)


def load(path: Path = LEDGER) -> list[Claim]:
    """Parse and validate the ledger; every placeholder is resolved against the committed files.

    Raises ``ValueError`` naming the row for a missing field, a duplicate id, a verdict not
    of the allowed forms, a non-OPEN verdict with no evidence or with one seed, an evidence
    file or figure that is not committed, or a placeholder that does not resolve."""
    rows = tomllib.loads(Path(path).read_text())["claim"]
    out: list[Claim] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"{Path(path).name} row {i} ({row.get('id', '?')})"
        missing = [f for f in _FIELDS if f not in row]
        if missing:
            raise ValueError(f"{where}: missing fields {missing}")
        optional = ("tier", "readings", "readings_tried")
        unknown = sorted(set(row) - {*_FIELDS, *optional})
        if unknown:
            raise ValueError(f"{where}: unknown fields {unknown}; allowed: {[*_FIELDS, *optional]}")
        if row["id"] in seen:
            raise ValueError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        verdict = row["verdict"]
        if not _VERDICT.fullmatch(verdict):
            raise ValueError(f"{where}: verdict {verdict!r} is not REPRODUCED, REPRODUCED ONLY UNDER <condition>, "
                             "NOT REPRODUCED AT p ≤ <P> or OPEN")
        tier = row.get("tier", "quick")
        evidence = tuple(row["evidence"])
        for ev in evidence:
            if not (RESULTS / ev).exists():
                raise ValueError(f"{where}: evidence docs/results/{ev} is not committed")
        if verdict != "OPEN":
            if not evidence:
                raise ValueError(f"{where}: verdict {verdict!r} needs a committed evidence file")
            if row["seeds"] == 1:
                raise ValueError(f"{where}: a single seed is an anecdote; its verdict must be OPEN")
        if row["figure"] and not (REPO_ROOT / row["figure"]).exists():
            raise ValueError(f"{where}: figure {row['figure']} is not committed")
        try:
            measurement = fill(row["measurement"], tier)
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"{where}: {e}") from None
        try:
            texts = {k: fill(row[k], tier) for k in ("claim", "source_setting", "our_setting")}
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"{where}: {e}") from None
        readings = []
        for j, r in enumerate(row.get("readings", [])):
            if sorted(r) != ["measurement", "reading", "verdict"]:
                raise ValueError(f"{where}: readings[{j}] needs exactly the fields reading, measurement, verdict")
            if not _VERDICT.fullmatch(r["verdict"]):
                raise ValueError(f"{where}: readings[{j}] verdict {r['verdict']!r} is not of the allowed forms")
            try:
                readings.append((r["reading"], fill(r["measurement"], tier), r["verdict"]))
            except (ValueError, FileNotFoundError) as e:
                raise ValueError(f"{where}: readings[{j}]: {e}") from None
        if readings and len({v for _, _, v in readings}) > 1 and kind(verdict) not in ("only", "open"):
            raise ValueError(f"{where}: the readings disagree ({[v for _, _, v in readings]}), so the verdict must "
                             "be REPRODUCED ONLY UNDER <the readings where it holds> (or OPEN)")
        try:
            tried = fill(row.get("readings_tried", ""), tier)
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"{where}: readings_tried: {e}") from None
        out.append(Claim(row["id"], row["source"], texts["claim"], texts["source_setting"], texts["our_setting"],
                         int(row["seeds"]), measurement, verdict, evidence, row["figure"], tier,
                         tuple(readings), tried))
    return out


def _seeds(c: Claim) -> str:
    return "exact" if c.seeds == 0 else str(c.seeds)


def kind(verdict: str) -> str:
    """``"yes"``, ``"only"``, ``"not"`` or ``"open"``: the family of a ledger verdict.

    >>> [kind(v) for v in ("REPRODUCED", "REPRODUCED ONLY UNDER x", "NOT REPRODUCED AT p ≤ 7", "OPEN")]
    ['yes', 'only', 'not', 'open']
    """
    if verdict == "OPEN":
        return "open"
    return "not" if verdict.startswith("NOT") else "only" if "ONLY" in verdict else "yes"


def anchor(c: Claim) -> str:
    """The HTML id of a row, the same in ``docs/ledger.md`` and the report: ``claim-<id>``."""
    return f"claim-{c.id}"


def render_markdown(rows: list[Claim] | None = None, *, link_root: str = "") -> str:
    """The ledger as a Markdown table (``docs/ledger.md``'s copy).

    ``link_root`` is the relative path from the Markdown file to the repository root
    (``"../"`` for ``docs/ledger.md``); evidence and figures link through it. Each row starts
    with an anchor ``claim-<id>``, which the README's answer links to."""
    rows = load() if rows is None else rows
    head = ("| claim | source's setting | our largest run | seeds | measurement | verdict | evidence |\n"
            "|---|---|---|---|---|---|---|\n")
    body = []
    for c in rows:
        ev = ", ".join(f"[{Path(e).stem}]({link_root}docs/results/{e})" for e in c.evidence) or "—"
        if c.figure:
            ev += f"; [figure]({link_root}{c.figure})"
        cells = [f"<a id=\"{anchor(c)}\"></a>**{c.source}**: {c.claim}", c.source_setting, c.our_setting,
                 _seeds(c), c.measurement_text, f"**{c.verdict}**", ev]
        body.append("| " + " | ".join(x.replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
    return head + "\n".join(body) + "\n"


def source_of(c: Claim) -> str:
    """The prefix in :data:`SOURCES` that ``c.source`` starts with; ``ValueError`` if none."""
    for prefix, _ in SOURCES:
        if c.source.startswith(prefix):
            return prefix
    raise ValueError(f"claim {c.id!r}: source {c.source!r} starts with none of {[p for p, _ in SOURCES]}")


def _label(c: Claim, prefix: str, rows: list[Claim]) -> str:
    """A short name for a row: its source after the source's name (``Thm 3.4``), else (when
    that is empty or shared by another row of the source) the claim's first clause."""
    rest = c.source[len(prefix):].strip(" ,:")
    if rest and sum(o.source == c.source and o.id.endswith("-paper") == c.id.endswith("-paper")
                    for o in rows) == 1:
        return rest + (" (paper tier)" if c.id.endswith("-paper") else "")
    clause = re.split(r"[:;,]", c.claim, maxsplit=1)[0].strip()
    return clause if len(clause) <= 60 else clause[:59].rstrip() + "…"


def render_answer(rows: list[Claim] | None = None, *, ledger: str = "docs/ledger.md") -> str:
    """Per source, how many ledger rows reproduced, reproduced only under a condition, did
    not, or stay open, each row named and linked to its anchor in ``ledger`` (the README's
    answer; Markdown)."""
    rows = load() if rows is None else rows
    out = []
    for prefix, name in SOURCES:
        mine = [c for c in rows if source_of(c) == prefix]
        if not mine:
            continue
        parts = []
        for k, words in KINDS:
            these = [c for c in mine if kind(c.verdict) == k]
            if these:
                links = ", ".join(f"[{_label(c, prefix, mine)}]({ledger}#{anchor(c)})" for c in these)
                parts.append(f"**{len(these)} {words}** ({links})")
        out.append(f"- **{name}**, {len(mine)} claims: " + "; ".join(parts) + ".")
    return "\n".join(out) + "\n"


def render_html(rows: list[Claim] | None = None, *, link_root: str | None = None,
                report_links: dict[str, set[str]] | None = None) -> str:
    """The ledger as an HTML table (the report's copy).

    With ``link_root`` (the relative path from the page to the repository root) the
    evidence files and figures are links; with ``None`` (the report's default, which may
    be copied away from the repository) they are shown as repository paths in ``<code>``.
    With ``report_links`` (``{"checks": ids, "experiments": NN_slug names}`` of the report) the
    verdict cell links each row to its evidence on the same page: the sections of the checks the
    row names (``C15``, ``G2``, ``T1`` …) and of the experiment whose figure it cites."""
    rows = load() if rows is None else rows
    e = html.escape

    def ref(path: str, text: str) -> str:
        if link_root is None:
            return f"<code>{e(path)}</code>"
        return f"<a href='{e(link_root)}{e(path)}'>{e(text)}</a>"

    out = ["<table class='claims'><thead><tr><th>claim</th><th>source's setting</th><th>our largest run</th>"
           "<th>seeds</th><th>measurement</th><th>verdict</th><th>evidence</th></tr></thead><tbody>"]
    for c in rows:
        ev = ", ".join(ref(f"docs/results/{x}", Path(x).stem) for x in c.evidence) or "—"
        if c.figure:
            ev += "; " + ref(c.figure, "figure")
        out.append(f"<tr id='{anchor(c)}' class='claim-{kind(c.verdict)}'><td><b>{e(c.source)}</b>: {e(c.claim)}</td>"
                   f"<td>{e(c.source_setting)}</td><td>{e(c.our_setting)}</td><td>{_seeds(c)}</td>"
                   f"<td>{e(c.measurement_text)}</td><td><b>{e(c.verdict)}</b>"
                   + (f"<br><span class='links'>→ {_report_links(c, report_links)}</span>"
                      if report_links is not None else "")
                   + f"</td><td>{ev}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _report_links(c: Claim, known: dict[str, set[str]]) -> str:
    """Links from a ledger row to the report's sections: its checks, then its figure's experiment."""
    text = " ".join((c.claim, c.our_setting, c.measurement_text))
    ids = [i for i in dict.fromkeys(re.findall(r"\b([CGT]\d+b?)\b", text)) if i in known.get("checks", set())]
    links = [f"<a href='#check-{html.escape(i)}'>{html.escape(i)}</a>" for i in ids]
    name = Path(c.figure).stem if c.figure else ""
    if name in known.get("experiments", set()):
        tier = " (paper tier)" if "/paper/" in c.figure else ""
        links.append(f"<a href='#exp-{html.escape(name)}'>figure {html.escape(name[:2])}</a>{tier}")
    return ", ".join(links) or "—"


def readme_block(text: str, begin: str = BEGIN, end: str = END) -> str:
    """The generated block of a Markdown file: the text between ``begin`` and ``end``.

    Raises ``ValueError`` if the markers are missing or out of order."""
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"the file must contain {begin!r} followed by {end!r}")
    return text[i + len(begin):j].strip("\n") + "\n"


def _rewrite(path: Path, begin: str, end: str, block: str) -> bool:
    text = path.read_text()
    readme_block(text, begin, end)   # validates the markers
    i, j = text.find(begin) + len(begin), text.find(end)
    new = text[:i] + "\n" + block + text[j:]
    if new != text:
        atomic_write_bytes(path, new.encode())
    return new != text


def write_readme(readme: Path = README, ledger: Path = LEDGER_MD) -> bool:
    """Rewrite ``docs/ledger.md``'s table and the README's answer from ``docs/claims.toml``;
    True if either changed."""
    rows = load()
    a = _rewrite(ledger, BEGIN, END, render_markdown(rows, link_root="../"))
    b = _rewrite(readme, ANSWER_BEGIN, ANSWER_END, render_answer(rows))
    return a or b


if __name__ == "__main__":
    changed = write_readme()
    print("docs/ledger.md and README.md answer " + ("rewritten" if changed else "already up to date"),
          file=sys.stderr)
