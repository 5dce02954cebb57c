"""The claims ledger: one row per published claim, with our largest run, its measurement
and a verdict, each backed by a committed result file.

The ledger's source is ``docs/claims.toml`` (one ``[[claim]]`` table per row). A row's
``measurement`` (like its ``claim``, ``source_setting`` and ``our_setting``) is a template
whose numbers are *looked up*, never typed: a placeholder ``{FILE:KEY/PATH:FMT}`` is
replaced by the value at ``KEY/PATH`` in the committed result
``docs/results/<tier>/FILE.json`` (list entries by index or by their ``"id"``),
formatted with the Python format spec ``FMT``. The README's ledger table and the
report's are both rendered from this file (:func:`render_markdown`,
:func:`render_html`), and a test keeps the README's copy equal to the rendering.

Verdicts (see ``proofs/measurement.md``) are one of

* ``REPRODUCED`` — our measurement, at the scale and seeds stated, shows the claim;
* ``REPRODUCED ONLY UNDER <condition>`` — it does, but only in a setting other than the
  source's (the condition names it);
* ``NOT REPRODUCED AT p ≤ <P>`` — at every size we ran (the largest is ``P``) the
  measurement contradicts the claim or fails its criterion;
* ``OPEN`` — no verdict: the evidence is a single seed, the bound is vacuous at our sizes,
  or the run was not done. The row's measurement says which.

Every verdict other than ``OPEN`` needs at least one committed evidence file and at
least two seeds (``seeds = 0`` marks a deterministic computation, where seeds do not
apply). :func:`load` enforces this.

Run ``python -m regimes.claims`` to rewrite the README's table between its
``<!-- claims:begin -->`` and ``<!-- claims:end -->`` markers.

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
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"

PLACEHOLDER = re.compile(r"\{(?P<file>[\w.-]+):(?P<path>[^:{}]+):(?P<fmt>[^{}]*)\}")
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
    (a minus sign is written as U+2212)."""
    def sub(m: re.Match[str]) -> str:
        return format(lookup(tier, m["file"], m["path"]), m["fmt"]).replace("-", "−")
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
        unknown = sorted(set(row) - {*_FIELDS, "tier"})
        if unknown:
            raise ValueError(f"{where}: unknown fields {unknown}; allowed: {[*_FIELDS, 'tier']}")
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
        out.append(Claim(row["id"], row["source"], texts["claim"], texts["source_setting"], texts["our_setting"],
                         int(row["seeds"]), measurement, verdict, evidence, row["figure"], tier))
    return out


def _seeds(c: Claim) -> str:
    return "exact" if c.seeds == 0 else str(c.seeds)


def render_markdown(rows: list[Claim] | None = None) -> str:
    """The ledger as a Markdown table (the README's copy)."""
    rows = load() if rows is None else rows
    head = ("| claim | source's setting | our largest run | seeds | measurement | verdict | evidence |\n"
            "|---|---|---|---|---|---|---|\n")
    body = []
    for c in rows:
        ev = ", ".join(f"[{Path(e).stem}](docs/results/{e})" for e in c.evidence) or "—"
        if c.figure:
            ev += f"; [figure]({c.figure})"
        cells = [f"**{c.source}**: {c.claim}", c.source_setting, c.our_setting, _seeds(c), c.measurement,
                 f"**{c.verdict}**", ev]
        body.append("| " + " | ".join(x.replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
    return head + "\n".join(body) + "\n"


def render_html(rows: list[Claim] | None = None, *, link_root: str | None = None) -> str:
    """The ledger as an HTML table (the report's copy).

    With ``link_root`` (the relative path from the page to the repository root) the
    evidence files and figures are links; with ``None`` (the report's default, which may
    be copied away from the repository) they are shown as repository paths in ``<code>``."""
    rows = load() if rows is None else rows
    e = html.escape

    def ref(path: str, text: str) -> str:
        if link_root is None:
            return f"<code>{e(path)}</code>"
        return f"<a href='{e(link_root)}{e(path)}'>{e(text)}</a>"

    out = ["<table class='claims'><thead><tr><th>claim</th><th>source's setting</th><th>our largest run</th>"
           "<th>seeds</th><th>measurement</th><th>verdict</th><th>evidence</th></tr></thead><tbody>"]
    for c in rows:
        kind = "open" if c.verdict == "OPEN" else "not" if c.verdict.startswith("NOT") else \
            "only" if "ONLY" in c.verdict else "yes"
        ev = ", ".join(ref(f"docs/results/{x}", Path(x).stem) for x in c.evidence) or "—"
        if c.figure:
            ev += "; " + ref(c.figure, "figure")
        out.append(f"<tr id='claim-{e(c.id)}' class='claim-{kind}'><td><b>{e(c.source)}</b>: {e(c.claim)}</td>"
                   f"<td>{e(c.source_setting)}</td><td>{e(c.our_setting)}</td><td>{_seeds(c)}</td>"
                   f"<td>{e(c.measurement)}</td><td><b>{e(c.verdict)}</b></td><td>{ev}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def readme_block(text: str) -> str:
    """The README's ledger table: the text between the begin and end markers.

    Raises ``ValueError`` if the markers are missing or out of order."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"README.md must contain {BEGIN!r} followed by {END!r}")
    return text[i + len(BEGIN):j].strip("\n") + "\n"


def write_readme(path: Path = README) -> bool:
    """Rewrite the README's ledger table from ``docs/claims.toml``; True if it changed."""
    text = path.read_text()
    readme_block(text)   # validates the markers
    i, j = text.find(BEGIN) + len(BEGIN), text.find(END)
    new = text[:i] + "\n" + render_markdown() + text[j:]
    if new != text:
        atomic_write_bytes(path, new.encode())
    return new != text


if __name__ == "__main__":
    changed = write_readme()
    print("README.md ledger " + ("rewritten" if changed else "already up to date"), file=sys.stderr)
