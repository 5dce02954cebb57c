"""The Python code blocks of the README and of ``docs/*.md`` run as written, and print what
their comments say.

Each fenced ``python`` block (the info string exactly ``python``; a block named after a file,
```` ```python my_claims/90_my_claim.py ````, is run end to end by
``tests/test_readme_howto.py`` instead) is executed in a fresh namespace, in order. For
every line ``print(...)  # EXPECTED`` (or ``# EXPECTED: explanation``) the corresponding
printed line must equal ``EXPECTED``; the expected values are statements of the theory or of
the setup (sizes, symmetry of a kernel, a fitted training set, a check's verdict), written
by hand, not produced by the code under test.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(f"{d.relative_to(ROOT)} block {i}", code) for d in DOCS
          for i, code in enumerate(re.findall(r"```python\n(.*?)```", d.read_text(), flags=re.S))]
PRINT = re.compile(r"^\s*print\(.*\)\s+#\s*(?P<expected>[^:]+?)(?::\s.*)?$")


def test_the_readme_has_python_blocks() -> None:
    assert any(name.startswith("README.md") for name, _ in BLOCKS) and len(BLOCKS) >= 2


@pytest.mark.parametrize("i", range(len(BLOCKS)), ids=[name for name, _ in BLOCKS])
def test_readme_block_runs_and_prints_what_it_says(i: int) -> None:
    name, code = BLOCKS[i]
    expected = [m["expected"].strip() for line in code.splitlines() if (m := PRINT.match(line))]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), {"__name__": f"readme_block_{i}"})
    printed = out.getvalue().splitlines()
    assert printed == expected
