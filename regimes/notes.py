"""The proof notes (``proofs/*.md``) as HTML pages with their formulas as MathML.

The notes are Markdown written to read well as plain text: formulas sit in code
spans (`` `E L ≥ p(1 − 1/p − (n'/p^m) e^{(m−1)/(p−1)})` ``), in indented blocks,
or inline in prose with TeX-style scripts (``w_{p+b}``, ``(2/9)^{1/3}``, ``t_fit``),
mixed with Unicode symbols. This module turns them into MathML (rendered
natively by the browser: no script, no network, the pages work offline):

- ``$…$`` and ``$$…$$`` (the dollarmath plugin of ``mdit-py-plugins``) are TeX;
- a code span or an indented block whose text reads as a formula rather than as
  code (a path, a Python name, a call; see :func:`looks_like_code`) is converted;
- in prose, a base with TeX scripts (``x_t``, ``p^{m-2}``, ``S_p^m``, ``max_{x,c}``)
  is converted; everything else stays text.

Conversion is Unicode-aware TeX → MathML by ``latex2mathml`` (see
:func:`latex_to_mathml`). Math it cannot convert is shown verbatim as ``<code>``
and reported, never dropped: a :class:`NoteWarning` (``warnings.warn``) naming
the file and line, and a :class:`Issue` in the list :func:`build_notes` returns.
Links between notes (``foo.md``) point to the rendered pages; links to code, tests
and experiments (``../regimes/x.py``) become the repository path as code text (the
report may be copied away from the repository, so no link could be relied on);
a link to a file or anchor that does not exist is an issue too. Every ``href``
these pages contain therefore resolves inside the report folder.

The index ``proofs/README.md`` maps result → code → note → test (check ids) → experiment;
:func:`parse_index` reads it, :func:`notes_for_check` maps a check (C1…) to its
notes, and each rendered note carries links back to its checks, tests and figures.
"""

from __future__ import annotations

import html
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latex2mathml.converter import convert as _l2m
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

REPO_ROOT = Path(__file__).resolve().parent.parent
PROOFS_DIR = REPO_ROOT / "proofs"
INDEX_NOTE = "README"
ERRATA_NOTE = "ERRATA"

__all__ = [
    "ERRATA_NOTE", "INDEX_NOTE", "PROOFS_DIR", "IndexRow", "Issue", "MathError", "NoteWarning",
    "NotesBuild", "build_notes", "issues_text", "latex_to_mathml", "looks_like_code", "note_title", "notes_for_check",
    "parse_index", "render_inline", "render_note",
]


class NoteWarning(UserWarning):
    """A proof note (or a check statement) could not be rendered as written: math the
    converter cannot handle (shown as ``<code>``) or a link to nothing."""


class MathError(ValueError):
    """``latex2mathml`` cannot convert a formula (syntax error or unknown command)."""


@dataclass(frozen=True)
class Issue:
    """One rendering problem: ``source`` (file or label), 1-based ``line``, ``kind``
    (``"math"`` or ``"link"``) and a message quoting the offending text."""

    source: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.kind}: {self.message}"


def _report(issues: list[Issue] | None, issue: Issue) -> None:
    warnings.warn(str(issue), NoteWarning, stacklevel=3)
    if issues is not None:
        issues.append(issue)


# --------------------------------------------------------------------------- TeX → MathML
#: Characters that latex2mathml leaves as identifiers (<mi>) but are operators.
_OPERATORS = set("≥≤≠≈≡≪≫∈∉∋⊂⊆⊃⊇∪∩∘·×÷±∓−→←↦⇒⇐⇔↔∀∃∂∇‖⟨⟩√∑∏⊙⊗⊕∼≲≳≍∝;:⋅…⋯⌊⌋⌈⌉")
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ", "0123456789+-=()niT", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜ", "0123456789+-=()aeoxhklmnpst", strict=True))
_ACCENTS = {"\u0302": r"\hat", "\u0303": r"\tilde", "\u0304": r"\bar", "\u0307": r"\dot", "\u0308": r"\ddot"}
#: Multi-letter words set as operators (upright, with operator spacing) when not in a script.
_OPERATOR_WORDS = {"Tr", "tr", "max", "min", "argmax", "argmin", "sup", "inf", "log", "exp", "ln", "dist", "span",
                   "rank", "det", "diag", "lim", "Var", "Cov", "sgn", "sign", "mod", "erf", "poly", "supp"}
_DOUBLE_STRUCK = {c: chr(0x1D538 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_DOUBLE_STRUCK.update({"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"})


def _word_char(c: str) -> bool:
    return c.isalnum() or c in "'′" or c in _SUPERSCRIPTS or c in _SUBSCRIPTS or c in ")]}"


def _unicode_to_tex(text: str) -> str:
    """Unicode-flavoured formula text → TeX that latex2mathml reads as intended.

    Braces right after ``_``/``^`` (or a ``\\command``) group; other braces are literal
    (set braces). Unbraced multi-character scripts are grouped (``t_fit`` → ``t_{\\mathrm{fit}}``),
    multi-letter words are set upright, Unicode super/subscripts become scripts, combining
    accents become ``\\hat`` etc., word-separating spaces are kept.
    """
    out: list[str] = []
    stack: list[bool] = []  # True: a TeX group, False: a literal set brace
    i, n = 0, len(text)
    group_next = False  # the next "{" opens a group (after _, ^ or a command)
    while i < n:
        c = text[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", text[i:])
            tok = m.group(0) if m else "\\"
            out.append(tok)
            i += len(tok)
            group_next = tok[1:].isalpha()
            if tok[1:].isalpha() and i < n and text[i].isalpha():
                out.append(" ")
            continue
        if c == "{":
            stack.append(group_next)
            out.append("{" if group_next else r"\{")
            group_next = False
            i += 1
            continue
        if c == "}":
            if not stack:
                raise MathError(f"unbalanced braces in {text!r}")
            is_group = stack.pop()
            out.append("}" if is_group else r"\}")
            i += 1
            group_next = is_group  # \frac{a}{b}: an argument may follow an argument
            continue
        group_next = False
        if c in "_^":
            out.append(c)
            i += 1
            rest = text[i:]
            if m := re.match(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*", rest):
                word = m.group(0)
                out.append("{" + (rf"\mathrm{{{word}}}" if len(word) >= 3 and word.isalpha() else word) + "}")
                i += len(word)
            elif m := re.match(r"[0-9]{2,}|[^\W\d_][0-9]+", rest):
                out.append("{" + m.group(0) + "}")
                i += len(m.group(0))
            else:
                group_next = True
            continue
        if c in _SUPERSCRIPTS or c in _SUBSCRIPTS:
            table, mark = (_SUPERSCRIPTS, "^") if c in _SUPERSCRIPTS else (_SUBSCRIPTS, "_")
            j = i
            while j < n and text[j] in table:
                j += 1
            out.append(mark + "{" + "".join(table[x] for x in text[i:j]) + "}")
            i = j
            continue
        if c.isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            before = text[i - 1] if i else ""
            after = text[j] if j < n else ""
            if re.search(r"\\[A-Za-z]+$", text[:i]):
                out.append(" ")  # \mathbb E: the command's argument follows
            elif j - i >= 2 and before and after:
                out.append(r"\qquad ")
            elif before and after and _word_char(before) and (after.isalnum() or after == "\\"):
                # between words a space, between symbols (E L, s Σ_j) a thin one
                words = re.search(r"[A-Za-z]{2,}$", text[:i]) and re.match(r"[A-Za-z]{2,}", text[j:])
                out.append(r"\ " if words else r"\,")
            i = j
            continue
        if c.isascii() and c.isalpha():
            m = re.match(r"[A-Za-z]+", text[i:])
            word = m.group(0)
            if len(word) >= 2 and (word in _OPERATOR_WORDS or len(word) >= 3):
                out.append(rf"\operatorname{{{word}}}" if word in _OPERATOR_WORDS else rf"\mathrm{{{word}}}")
                i += len(word)
                if i < n and text[i] in "_^":  # limits under max_{…}: keep as a plain script
                    pass
                continue
            # single letters, or short products like np: TeX reads them letter by letter
        if i + 1 < n and text[i + 1] in _ACCENTS and not c.isspace():
            out.append(f"{_ACCENTS[text[i + 1]]}{{{c}}}")
            i += 2
            continue
        if c == "Σ" and i + 1 < n and text[i + 1] == "_":
            out.append(r"\sum")
        elif c in "%&#$":
            out.append("\\" + c)
        elif c == "~":
            out.append("∼")
        else:
            out.append(c)
        i += 1
    if stack:
        raise MathError(f"unbalanced braces in {text!r}")
    return "".join(out)


def _tidy_mathml(mathml: str) -> str:
    """Operators as <mo>, upright words as one <mi>, double-struck letters as Unicode."""
    mathml = re.sub(r'<mi mathvariant="double-struck">([A-Z])</mi>',
                    lambda m: f"<mi>{_DOUBLE_STRUCK[m.group(1)]}</mi>", mathml)

    def word(m: re.Match[str]) -> str:
        letters = re.findall(r'<mi mathvariant="normal">([^<]*)</mi>', m.group(0))
        return f"<mi>{''.join(letters)}</mi>"

    mathml = re.sub(r'(?:<mi mathvariant="normal">[^<]</mi>){2,}', word, mathml)
    mathml = mathml.replace("<mo>&#x0002F;</mo>", '<mo lspace="0" rspace="0">/</mo>')
    return re.sub(r"<mi>([^<])</mi>", lambda m: f"<mo>{m.group(1)}</mo>" if m.group(1) in _OPERATORS
                  else m.group(0), mathml)


def latex_to_mathml(tex: str, *, display: bool = False, unicode: bool = True) -> str:
    """One formula as a ``<math>`` element (MathML, rendered natively by browsers).

    ``tex`` is TeX, optionally with Unicode symbols and the conventions of the proof
    notes (``unicode=True``: Unicode scripts ``p³``, ``q₁₂``, combining hats ``f̂``,
    unbraced word scripts ``t_fit``, literal set braces ``{f₀, K(x_t, ·)}``);
    ``unicode=False`` passes ``tex`` to ``latex2mathml`` unchanged. ``display`` gives a
    block formula. Raises :class:`MathError` (a ``ValueError``) when ``tex`` is empty, does
    not parse or uses a command latex2mathml does not know.

    >>> latex_to_mathml("p^{m-2}")[:58]
    '<math xmlns="http://www.w3.org/1998/Math/MathML" display="'
    >>> "<msup><mi>p</mi>" in latex_to_mathml("p^{m-2}")
    True
    >>> latex_to_mathml("x^{1")
    Traceback (most recent call last):
    ...
    regimes.notes.MathError: unbalanced braces in 'x^{1'
    >>> latex_to_mathml("x_a_b")
    Traceback (most recent call last):
    ...
    regimes.notes.MathError: cannot convert 'x_a_b': DoubleSubscriptsError
    """
    if not isinstance(tex, str) or not tex.strip():
        raise MathError(f"tex={tex!r}: expected a non-empty formula")
    try:
        src = _unicode_to_tex(tex) if unicode else tex
        out = _l2m(src, display="block" if display else "inline")
    except MathError:
        raise
    except Exception as e:  # latex2mathml raises many exception types
        raise MathError(f"cannot convert {tex!r}: {type(e).__name__}") from e
    if m := re.search(r"<mi>(\\[A-Za-z]+)</mi>", out):
        raise MathError(f"cannot convert {tex!r}: unknown command {m.group(1)}")
    if "<merror" in out:
        raise MathError(f"cannot convert {tex!r}: merror")
    return _tidy_mathml(out)


def _code_fallback(tex: str) -> str:
    return f'<code class="math-error">{html.escape(tex)}</code>'


# --------------------------------------------------------------------------- what is math
_PATHLIKE = re.compile(r"\.(py|md|json|npz|png|pdf|toml|txt|sh|yml|yaml|html)\b|::|[A-Za-z_]{2,}/[A-Za-z_]{2,}")
_CODELIKE = re.compile(
    r'"|`|\'[A-Za-z_]+\'|=(True|False|None)\b|\bregimes\b|\b(np|torch|jax|scipy|ctx|self)\.'
    r"|[A-Za-z_]\w*\.[A-Za-z_]"  # dotted names: QuadraticNet.init
    r"|[^\W_]{2,}_[^\W_]{2,}"  # snake_case words: prior_mean, test_c2
    r"|\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9]*_[A-Za-z0-9_]*"  # names with two underscores: prop_3_7_bound
    r"|\b\d+_[A-Za-z]"  # experiment names: 10_kernel_exit
    r"|\b[A-Z][a-z]+[A-Z]"  # CamelCase: ValueError
    r"|--\w|\b(def|import|return|lambda|pytest|pip|python)\b"
    r"|^#|<[a-z]+>|_\*")  # headings, placeholders, globs: "## <where>", "population_*"


def looks_like_code(text: str) -> bool:
    """Whether a code span holds code (a path, Python name, call, command) rather than a formula.

    >>> [looks_like_code(s) for s in ("tests/test_rank.py", "QuadraticNet.init", "thm_3_4_max_n_for_half(p)",
    ...                               "ValueError", "compute")]
    [True, True, True, True, True]
    >>> [looks_like_code(s) for s in ("E_σ‖A/p − Ψ_σ‖² ≥ Tr((I − P)Σ)", "t_fit", "x_1..x_n", "K(x, x')", "1/p")]
    [False, False, False, False, False]
    """
    t = text.strip()
    if not t:
        return True
    if _PATHLIKE.search(t) or _CODELIKE.search(t):
        return True
    # a lone ASCII word of 2+ letters is a name (`nt`, `compute`), not a product of letters
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*[A-Za-z]", t)) and t not in _OPERATOR_WORDS


# implicit math in prose: a short base followed by TeX scripts
_BASE_WORDS = _OPERATOR_WORDS | {"E", "P"}


_CLOSERS = {")": "(", "]": "[", "⌋": "⌊", "⌉": "⌈", "‖": "‖", "|": "|"}


def _match_brace(text: str, i: int) -> int:
    """Index after the brace group that starts at ``text[i] == "{"`` (-1 if unbalanced)."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def _script_end(text: str, i: int) -> int:
    """End of the script that starts at ``text[i]`` (after ``_`` or ``^``); -1 if none."""
    if i >= len(text):
        return -1
    if text[i] == "{":
        return _match_brace(text, i)
    if m := re.match(r"[A-Za-z0-9]+|[^\W\d_][0-9]*|[∞′*]", text[i:]):
        return i + len(m.group(0))
    return -1


def _implicit_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each base-with-scripts in prose: ``x_t``, ``p^{m-2}``, ``(2/9)^{1/3}``,
    ``S_p^m``, ``max_{x,c}``; names like ``prior_mean`` or ``lemma_g_10`` are left alone."""
    spans: list[tuple[int, int]] = []
    i = 0
    while (m := re.compile(r"[_^]").search(text, i)) is not None:
        k = m.start()
        i = k + 1
        if spans and k < spans[-1][1]:
            continue
        # the base
        if k > 0 and text[k - 1] in _CLOSERS:
            close = text[k - 1]
            opener = _CLOSERS[close]
            depth, s = 0, k - 1
            while s >= 0:
                if opener == close:  # ‖v‖², |x|: the previous bar of the same kind
                    depth = 1 if s == k - 1 else (0 if text[s] == close else 1)
                else:
                    depth += {close: 1, opener: -1}.get(text[s], 0)
                if depth == 0:
                    break
                s -= 1
            if s < 0:
                continue
        else:
            s = k
            while s > 0 and (text[s - 1].isalnum() or text[s - 1] in "'′" or unicodedata.combining(text[s - 1])):
                s -= 1
            base = re.sub(r"['′\u0300-\u036f]", "", text[s:k])
            if not (re.fullmatch(r"[0-9]*[^\W\d_]|[0-9]+", base) or base in _BASE_WORDS):
                # 4hσ_W: a Greek (non-ASCII) letter ends the product; ASCII names never hold one
                if not (base and base[-1].isalpha() and not base[-1].isascii()):
                    continue
                s = k
                while s > 1 and (unicodedata.combining(text[s - 1]) or text[s - 1] in "'′"):
                    s -= 1
                s -= 1
            if s > 0 and text[s - 1] in "_^\\.@#:":
                continue
        # the scripts: at most one subscript and one superscript
        end, seen, j = k, set(), k
        while j < len(text) and text[j] in "_^" and text[j] not in seen:
            e = _script_end(text, j + 1)
            if e < 0:
                break
            seen.add(text[j])
            end = j = e
        if end == k:
            continue
        if j < len(text) and (text[j] in "_^" or (text[j] == "{")):
            continue  # x_a_b: a name, not a formula
        spans.append((s, end))
        i = end
    return spans


def _render_math_or_code(tex: str, *, display: bool, issues: list[Issue] | None, source: str,
                         line: int) -> str:
    try:
        return latex_to_mathml(tex, display=display)
    except MathError as e:
        _report(issues, Issue(source, line, "math", str(e)))
        return _code_fallback(tex)


def _implicit_to_html(text: str, *, issues: list[Issue] | None, source: str, line: int) -> str:
    out, last = [], 0
    for s, e in _implicit_spans(text):
        out.append(html.escape(text[last:s], quote=False))
        out.append(_render_math_or_code(text[s:e], display=False, issues=issues, source=source, line=line))
        last = e
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


_DOLLAR = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)", re.S)
_BARE_COMMAND = re.compile(r"\\[A-Za-z]+(?:\s*\{[^{}]*\}|\s+[A-Za-z0-9])?")


def render_inline(text: str, *, source: str = "<inline>", line: int = 1,
                  issues: list[Issue] | None = None) -> str:
    """One line of text (a check's ``statement``) as HTML, its math as MathML.

    Math is ``$…$`` / ``$$…$$`` / ``\\(…\\)``, a bare TeX command (``\\mathbb E``), or a base
    with TeX scripts (``p^{m-2}``, ``λ_min``, ``f̂_{TD}``); other text is HTML-escaped. Math
    that cannot be converted is shown as ``<code>`` and reported as a :class:`NoteWarning`
    naming ``source`` and ``line`` (and appended to ``issues`` when given).

    >>> html_ = render_inline("spectrum {p^{m-2}, 0} and $\\\\mathbb E x$ < 1")
    >>> html_.count("<math"), "$" in html_, "&lt; 1" in html_
    (2, False, True)
    >>> render_inline("no math here: prior_mean & x")
    'no math here: prior_mean &amp; x'
    """
    if not isinstance(text, str):
        raise ValueError(f"text={text!r}: expected a str")
    out, last = [], 0
    for m in _DOLLAR.finditer(text):
        out.append(_plain_to_html(text[last:m.start()], issues=issues, source=source, line=line))
        tex = next(g for g in m.groups() if g is not None)
        out.append(_render_math_or_code(tex, display=False, issues=issues, source=source, line=line))
        last = m.end()
    out.append(_plain_to_html(text[last:], issues=issues, source=source, line=line))
    return "".join(out)


def _plain_to_html(text: str, *, issues: list[Issue] | None, source: str, line: int) -> str:
    """Prose: bare TeX commands and bases with scripts as MathML, the rest escaped."""
    out, last = [], 0
    for m in _BARE_COMMAND.finditer(text):
        out.append(_implicit_to_html(text[last:m.start()], issues=issues, source=source, line=line))
        out.append(_render_math_or_code(m.group(0), display=False, issues=issues, source=source, line=line))
        last = m.end()
    out.append(_implicit_to_html(text[last:], issues=issues, source=source, line=line))
    return "".join(out)


# --------------------------------------------------------------------------- the index
@dataclass(frozen=True)
class IndexRow:
    """One row of ``proofs/README.md``'s tables: the result, its note stems, the test
    files, the check ids (C1…), the experiment numbers ("02"), the table's section and
    the dotted names of the code that implements the result (``regimes.bounds.upper.thm_4_6_bound``)."""

    result: str
    notes: tuple[str, ...]
    tests: tuple[str, ...]
    checks: tuple[str, ...]
    experiments: tuple[str, ...]
    section: str = ""
    code: tuple[str, ...] = ()


def _expand_numbers(cell: str) -> tuple[str, ...]:
    nums: list[str] = []
    cell = re.sub(r"`[^`]*`", "", cell)
    for a, b in re.findall(r"\b(\d{2})(?:\s*[–-]\s*(\d{2}))?\b", cell):
        rng = range(int(a), int(b) + 1) if b else [int(a)]
        nums += [f"{x:02d}" for x in rng if f"{x:02d}" not in nums]
    return tuple(nums)


#: Index column headers (lower case) → the field they fill; "test" is the short form of "test (check)".
_INDEX_COLUMNS = {"result": "result", "code": "code", "note": "note", "notes": "note", "test (check)": "test",
                  "test": "test", "tests": "test", "experiment": "experiment", "experiments": "experiment"}


def _index_header(cells: Sequence[str]) -> dict[str, int] | None:
    """Column name → position for a header row of the index (None if ``cells`` is not one).

    A header names ``result`` and ``note``; the other columns are optional and may come in
    any order, unknown ones are ignored."""
    cols: dict[str, int] = {}
    for i, c in enumerate(cells):
        key = _INDEX_COLUMNS.get(re.sub(r"\s+", " ", c.strip().lower()))
        if key is not None and key not in cols:
            cols[key] = i
    return cols if {"result", "note"} <= set(cols) else None


def parse_index(text: str) -> list[IndexRow]:
    """The rows of the index's tables, their columns read from each table's header row:
    ``result``, ``code``, ``note``, ``test (check)`` (or ``test``) and ``experiment``, in any
    order (the index's is result | code | note | test (check) | experiment; a table without
    a code column, the earlier layout, gives rows with ``code == ()``).

    The code cell's backticked dotted names (``regimes.extremal.max_margin``) are ``code``;
    note links are ``notes``; backticked ``tests/…py`` paths are ``tests``, the check ids
    outside backticks ``checks``; two-digit numbers and ranges (``10–12``) ``experiments``.

    >>> rows = parse_index('''## Kernel
    ... | result | code | note | test (check) | experiment |
    ... |---|---|---|---|---|
    ... | Thm 3.4 | `regimes.checks.kernel.c6`, `regimes.stats` | [t.md](t.md) | `tests/t.py` (C6, C17b) | 03, 10–12 |
    ... ''')
    >>> rows[0].notes, rows[0].checks, rows[0].tests, rows[0].experiments, rows[0].section
    (('t',), ('C6', 'C17b'), ('tests/t.py',), ('03', '10', '11', '12'), 'Kernel')
    >>> rows[0].code
    ('regimes.checks.kernel.c6', 'regimes.stats')
    >>> old = parse_index('''| result | note | test (check) | experiment |
    ... |---|---|---|---|
    ... | Thm 3.1 | [a.md](a.md) | `tests/test_rank.py` (C8) | 02 |''')
    >>> old[0].notes, old[0].checks, old[0].experiments, old[0].code
    (('a',), ('C8',), ('02',), ())
    """
    rows: list[IndexRow] = []
    section, cols = "", None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            cols = None
            continue
        if not line.startswith("|"):
            cols = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if (header := _index_header(cells)) is not None:
            cols = header
            continue
        if cols is None or set("".join(cells)) <= set("-: "):
            continue

        def cell(name: str, cells: list[str] = cells, cols: dict[str, int] = cols) -> str:
            i = cols.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        note, test = cell("note"), cell("test")
        notes = tuple(Path(t).stem for t in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", note))
        tests = tuple(re.findall(r"`(tests/[^`:]+?\.py)(?:::[^`]*)?`", test))
        checks = tuple(dict.fromkeys(re.findall(r"\b[A-Z]\d+[a-z]?\b", re.sub(r"`[^`]*`", "", test))))
        code = tuple(dict.fromkeys(re.findall(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)`", cell("code"))))
        rows.append(IndexRow(cell("result"), notes, tests, checks, _expand_numbers(cell("experiment")), section, code))
    return rows


def notes_for_check(check_id: str, rows: Sequence[IndexRow], theorem: str = "") -> list[str]:
    """The note stems that go with a check: notes of index rows naming ``check_id`` in
    their test column, those whose result mentions the check's ``theorem`` first. When no
    row names the id, rows whose result starts with the theorem's first reference
    (``"Thm 3.4"``) are used instead.

    >>> rows = [IndexRow("Thm 3.1 — x", ("a",), (), ("C8",), ()), IndexRow("Prop B.4 — y", ("b",), (), ("C8",), ()),
    ...         IndexRow("Thm 3.4 — z", ("c",), (), ("C6",), ())]
    >>> notes_for_check("C8", rows, "Prop B.4, Thm 3.1"), notes_for_check("C99", rows, "Thm 3.4 (via D.1)")
    (['b', 'a'], ['c'])
    """
    if not re.fullmatch(r"[A-Z][A-Za-z]*\d+[a-z]?", str(check_id)):
        raise ValueError(f"check_id={check_id!r}: expected a check id like 'C6', 'C12b' or 'G1'")
    refs = re.findall(r"(?:Thm|Prop|Lemma|Lemmas|Cor|Remark|Fig|Figs)\.?\s*[A-Z]?\.?\d+(?:\.\d+)?", theorem)
    key = [re.sub(r"\s+", " ", r) for r in refs]

    def rank(row: IndexRow) -> int:
        res = re.sub(r"\s+", " ", row.result)
        return min((i for i, k in enumerate(key) if k in res), default=len(key))

    named = [r for r in rows if check_id in r.checks]
    if not named and key:
        named = [r for r in rows if re.sub(r"\s+", " ", r.result).startswith(key[0])]
    ordered = sorted(named, key=rank)
    return list(dict.fromkeys(s for r in ordered for s in r.notes))


# --------------------------------------------------------------------------- Markdown
def _slug(text: str) -> str:
    s = re.sub(r"[^\w\s-]", "", text.strip().lower())
    return re.sub(r"[\s]+", "-", s)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    md.use(anchors_plugin, min_level=1, max_level=6, slug_func=_slug)
    return md


@dataclass
class _Env:
    source: str
    path: Path | None
    notes: set[str]
    issues: list[Issue]
    repo_root: Path
    anchors: Mapping[str, set[str]] = field(default_factory=dict)


def _line_of(tokens: Sequence[Token], idx: int, block_line: int) -> int:
    return block_line + sum(1 for t in tokens[:idx] if t.type in ("softbreak", "hardbreak"))


def _resolve_link(href: str, env: _Env, line: int) -> tuple[str | None, str | None]:
    """(href for the rendered page, repository path to show as code) for a link in a note."""
    if re.match(r"[a-z][a-z0-9+.-]*:", href) or href.startswith("//"):
        return href, None  # external (http:, mailto:): kept, cannot be checked offline
    if href.startswith("#"):
        if env.path is not None and href[1:] not in env.anchors.get(env.path.stem, set()):
            _report(env.issues, Issue(env.source, line, "link", f"no heading with id {href!r} in this note"))
            return None, None
        return href, None
    target, _, frag = href.partition("#")
    base = env.path.parent if env.path is not None else env.repo_root / "proofs"
    resolved = (base / target).resolve()
    if target.endswith(".md") and resolved.parent == (env.repo_root / "proofs").resolve():
        stem = resolved.stem
        if stem not in env.notes:
            _report(env.issues, Issue(env.source, line, "link", f"{href!r}: no such note"))
            return None, None
        if frag and frag not in env.anchors.get(stem, set()):
            _report(env.issues, Issue(env.source, line, "link", f"{href!r}: no heading with id {frag!r}"))
            return None, None
        return f"{stem}.html" + (f"#{frag}" if frag else ""), None
    try:
        rel = resolved.relative_to(env.repo_root.resolve()).as_posix()
    except ValueError:
        rel = None
    if rel is None or not resolved.exists():
        _report(env.issues, Issue(env.source, line, "link", f"{href!r}: no such file in the repository"))
        return None, None
    return None, rel


def _render_tokens(md: MarkdownIt, tokens: list[Token], env: _Env) -> str:
    """Walk block tokens: math in code spans/blocks/prose, links resolved, then render."""
    for tok in tokens:
        line = (tok.map[0] + 1) if tok.map else 1
        if tok.type == "inline" and tok.children is not None:
            kids: list[Token] = []
            link_stack: list[Token] = []
            for idx, kid in enumerate(tok.children):
                kline = _line_of(tok.children, idx, line)
                if kid.type == "text":
                    kid = _html_token(_implicit_to_html(kid.content, issues=env.issues, source=env.source,
                                                        line=kline))
                elif kid.type == "code_inline" and not looks_like_code(kid.content):
                    kid = _html_token(_render_math_or_code(kid.content, display=False, issues=env.issues,
                                                           source=env.source, line=kline))
                elif kid.type in ("math_inline", "math_inline_double"):
                    kid = _html_token(_render_math_or_code(kid.content, display=kid.type.endswith("double"),
                                                           issues=env.issues, source=env.source, line=kline))
                elif kid.type == "link_open":
                    href, path = _resolve_link(str(kid.attrGet("href") or ""), env, kline)
                    link_stack.append(kid)
                    if href is None:
                        kid = _html_token(f'<code class="path" title="{html.escape(path)}">' if path
                                          else '<span class="broken-link">')
                        link_stack[-1] = kid
                        kid.meta["close"] = "</code>" if path else "</span>"
                    else:
                        kid.attrSet("href", href)
                elif kid.type == "link_close" and link_stack:
                    opener = link_stack.pop()
                    if "close" in opener.meta:
                        kid = _html_token(opener.meta["close"])
                kids.append(kid)
            tok.children = kids
        elif tok.type in ("math_block", "math_block_label"):
            tok.type, tok.content = "html_block", "<div class=\"math-display\">" + _render_math_or_code(
                tok.content.strip(), display=True, issues=env.issues, source=env.source, line=line) + "</div>\n"
        elif tok.type in ("code_block", "fence") and not (tok.info or "").strip():
            lines = [s for s in tok.content.splitlines() if s.strip()]
            if lines and not any(looks_like_code(s) for s in lines):
                parts = [_render_math_or_code(s.strip(), display=True, issues=env.issues, source=env.source,
                                              line=line + k + (1 if tok.type == "fence" else 0))
                         for k, s in enumerate(tok.content.splitlines()) if s.strip()]
                tok.type, tok.content = "html_block", "<div class=\"math-display\">" + "".join(parts) + "</div>\n"
    return md.renderer.render(tokens, md.options, {})


def _html_token(content: str) -> Token:
    t = Token("html_inline", "", 0)
    t.content = content
    return t


def note_title(text: str, default: str = "") -> str:
    """The first level-1 heading of a Markdown note, or ``default``.

    >>> note_title("# Lemma E.1 — cubes\\n\\ntext"), note_title("no heading", "x")
    ('Lemma E.1 — cubes', 'x')
    """
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
    return m.group(1) if m else default


def _anchors_of(md: MarkdownIt, text: str) -> set[str]:
    return {str(t.attrGet("id")) for t in md.parse(text) if t.type == "heading_open" and t.attrGet("id")}


def render_note(text: str, *, source: str = "<note>", path: Path | None = None,
                notes: Iterable[str] = (), anchors: Mapping[str, set[str]] | None = None,
                issues: list[Issue] | None = None, repo_root: Path = REPO_ROOT) -> str:
    """A note's Markdown body as HTML (no page around it), formulas as MathML.

    ``notes`` are the stems of the notes that exist (links to others are issues),
    ``path`` the note's file (relative links resolve from its folder), ``anchors`` the
    heading ids per note stem (to check ``foo.md#bar``). Problems are warned
    (:class:`NoteWarning`, naming ``source`` and line) and appended to ``issues``.

    >>> body = render_note("Bound `E L ≥ p(1 − 1/p)`, see [other](other.md) and `regimes/x.py`.",
    ...                    notes={"other"})
    >>> "<math" in body, 'href="other.html"' in body, "<code>regimes/x.py</code>" in body
    (True, True, True)
    """
    if not isinstance(text, str):
        raise ValueError(f"text={text!r}: expected the note's Markdown as a str")
    md = _markdown()
    issues = [] if issues is None else issues
    env = _Env(source, path, set(notes), issues, repo_root, anchors or {})
    tokens = md.parse(text)
    return _render_tokens(md, tokens, env)


# --------------------------------------------------------------------------- pages
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:60em;
padding:1.5em;color:#1a1a1a;line-height:1.5}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
code{font-family:ui-monospace,monospace;font-size:.88em;background:#f4f4f4;padding:0 .2em;border-radius:.2em}
code.math-error{background:#ffe0b2}.broken-link{text-decoration:underline wavy #a00}
pre{background:#f7f7f7;padding:.6em;overflow:auto}pre code{background:none}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
math{font-size:1.05em}.math-display{margin:.6em 0 .6em 2em;overflow-x:auto}
.math-display math{display:block;margin:.25em 0;text-align:left}
nav,.links{font-size:.9em;color:#444}.links{border:1px solid #ddd;border-radius:.4em;padding:.5em 1em;margin:1em 0}
"""


def _page(title: str, body: str, links: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n"
            f'<nav><a href="../index.html">report</a> · <a href="{INDEX_NOTE}.html">proof notes (index)</a>'
            f"</nav>\n{links}\n<main>\n{body}</main>\n</body></html>\n")


@dataclass
class NotesBuild:
    """What :func:`build_notes` wrote: ``pages`` (note stem → HTML file), ``titles``
    (stem → first heading), ``rows`` (the parsed index), ``issues`` (every warning raised)."""

    pages: dict[str, Path]
    titles: dict[str, str]
    rows: list[IndexRow]
    issues: list[Issue]

    def href(self, stem: str) -> str:
        """The page of note ``stem`` relative to the report root (``notes/<stem>.html``);
        ``ValueError`` for a stem that was not rendered."""
        if stem not in self.pages:
            raise ValueError(f"stem={stem!r}: no such note; have {sorted(self.pages)}")
        return f"notes/{stem}.html"


def _backlinks(stem: str, rows: Sequence[IndexRow], check_links: Mapping[str, str],
               experiment_links: Mapping[str, str], titles: Mapping[str, str]) -> str:
    mine = [r for r in rows if stem in r.notes]
    if not mine:
        return ""
    checks = list(dict.fromkeys(c for r in mine for c in r.checks))
    tests = list(dict.fromkeys(t for r in mine for t in r.tests))
    exps = list(dict.fromkeys(x for r in mine for x in r.experiments))
    results = list(dict.fromkeys(r.result for r in mine))

    def link(label: str, href: str | None) -> str:
        return f'<a href="../{html.escape(href)}">{html.escape(label)}</a>' if href else html.escape(label)

    parts = [f"<b>Index:</b> {'; '.join(render_inline(r, source='proofs/README.md') for r in results)}"]
    if checks:
        parts.append("<b>Checks:</b> " + ", ".join(link(c, check_links.get(c)) for c in checks))
    if tests:
        parts.append("<b>Tests:</b> " + ", ".join(f"<code>{html.escape(t)}</code>" for t in tests))
    if exps:
        parts.append("<b>Experiments / figures:</b> " + ", ".join(link(x, experiment_links.get(x)) for x in exps))
    return '<div class="links">' + "<br>".join(parts) + "</div>"


def build_notes(dest: str | Path, *, proofs_dir: str | Path = PROOFS_DIR,
                check_links: Mapping[str, str] | None = None,
                experiment_links: Mapping[str, str] | None = None,
                repo_root: str | Path = REPO_ROOT) -> NotesBuild:
    """Render every ``proofs_dir/*.md`` to ``dest/<stem>.html`` and return what was written.

    ``dest`` is the ``notes/`` folder inside a report folder, so ``../index.html`` is the
    report. ``check_links`` maps a check id to its section (``"index.html#check-C6"``) and
    ``experiment_links`` an experiment number (``"03"``) to its figure or section, both
    relative to the report folder; each note page links to the checks, tests and
    experiments the index (``proofs_dir/README.md``) lists for it. Math that cannot be
    converted and broken links are warned (:class:`NoteWarning`) and listed in
    ``NotesBuild.issues``. Raises ``ValueError`` when ``proofs_dir`` has no notes.

    >>> import tempfile, warnings
    >>> with tempfile.TemporaryDirectory() as d:
    ...     built = build_notes(Path(d) / "notes")
    ...     sorted(built.pages)[:2], len(built.issues), built.pages["README"].exists()
    (['ERRATA', 'README'], 0, True)
    """
    proofs_dir, dest, repo_root = Path(proofs_dir), Path(dest), Path(repo_root)
    sources = sorted(proofs_dir.glob("*.md"))
    if not sources:
        raise ValueError(f"proofs_dir={str(proofs_dir)!r}: no *.md notes there")
    check_links = dict(check_links or {})
    experiment_links = dict(experiment_links or {})
    md = _markdown()
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sources}
    anchors = {stem: _anchors_of(md, t) for stem, t in texts.items()}
    titles = {stem: note_title(t, stem) for stem, t in texts.items()}
    rows = parse_index(texts.get(INDEX_NOTE, ""))
    issues: list[Issue] = []
    dest.mkdir(parents=True, exist_ok=True)
    pages: dict[str, Path] = {}
    for path in sources:
        stem = path.stem
        try:
            label = path.resolve().relative_to(repo_root.resolve()).as_posix()
        except ValueError:
            label = str(path)
        body = render_note(texts[stem], source=label, path=path, notes=texts, anchors=anchors, issues=issues,
                           repo_root=repo_root)
        links = _backlinks(stem, rows, check_links, experiment_links, titles)
        if stem == INDEX_NOTE:
            body += "<h2>All notes</h2><ul>" + "".join(
                f'<li><a href="{html.escape(s)}.html">{render_inline(titles[s], source=label)}</a></li>'
                for s in sorted(texts) if s != INDEX_NOTE) + "</ul>"
        out = dest / f"{stem}.html"
        out.write_text(_page(re.sub(r"[`*]", "", titles[stem]), body, links), encoding="utf-8")
        pages[stem] = out
    return NotesBuild(pages, titles, rows, issues)


def issues_text(issues: Iterable[Any]) -> str:
    """The issues, one per line as ``source:line: kind: message`` (for a build log).

    >>> issues_text([Issue("proofs/a.md", 4, "math", "cannot convert 'x_a_b'")])
    "proofs/a.md:4: math: cannot convert 'x_a_b'"
    """
    return "\n".join(str(i) for i in issues)
