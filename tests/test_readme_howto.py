"""The README's "Add your own claim", end to end: its experiment script, saved outside the
package, runs through ``regimes run NN --experiments DIR`` (cache, result JSON, figure and its
PDF), and its check turns the stored result into the verdict its comment states.

The blocks are the README's fenced code blocks named after a file (```` ```python my_claims/… ````);
the expected verdict is the README's comment, which the theory backs: at n = 2p^{5/3} the
rich-regime net generalizes (Thm 4.5), so the held-out accuracy clears 0.9 at p = 23 and 31.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from regimes import cli
from regimes.checks import _REGISTRY

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
NAMED = dict(re.findall(r"```python (\S+)\n(.*?)```", README, flags=re.S))


def test_the_howto_names_an_experiment_and_a_check() -> None:
    assert "my_claims/90_my_claim.py" in NAMED and "my_claims/check_x1.py" in NAMED
    assert "regimes run 90 --experiments my_claims" in README


def test_own_claim_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, code in NAMED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(code)
    argv = ["run", "90", "--experiments", "my_claims", "--quiet", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    result = json.loads((tmp_path / "results" / "90_my_claim.json").read_text())
    rows = result["metrics"]["rows"]
    assert [r["p"] for r in rows] == [23, 31] and all(r["train_acc"] == 1.0 for r in rows)
    for suffix in (".png", ".pdf"):
        assert (tmp_path / "figures" / f"90_my_claim{suffix}").stat().st_size > 0
    # a second run is served from the cache: the same result file, not recomputed
    assert cli.main(argv) == 0
    assert json.loads((tmp_path / "results" / "90_my_claim.json").read_text())["config_hash"] == result["config_hash"]

    code = NAMED["my_claims/check_x1.py"]
    expected = [m.group(1) for m in re.finditer(r"print\(.*\)\s+#\s*(\S+)", code)]
    monkeypatch.delitem(_REGISTRY, "X1", raising=False)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md my_claims/check_x1.py", "exec"), {"__name__": "readme_howto"})
    finally:
        _REGISTRY.pop("X1", None)        # the registry stays the package's for the other tests
    assert out.getvalue().split() == expected == ["PASS"]
