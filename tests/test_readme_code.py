"""The README's Python code blocks run as written, and print what their comments say.

Each fenced ``python`` block of README.md is executed in a fresh namespace, in order. For
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

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
PRINT = re.compile(r"^\s*print\(.*\)\s+#\s*(?P<expected>[^:]+?)(?::\s.*)?$")


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_runs_and_prints_what_it_says(i: int) -> None:
    code = BLOCKS[i]
    expected = [m["expected"].strip() for line in code.splitlines() if (m := PRINT.match(line))]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md block {i}", "exec"), {"__name__": f"readme_block_{i}"})
    printed = out.getvalue().splitlines()
    assert printed == expected
