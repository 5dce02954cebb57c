"""``examples/quickstart.ipynb`` runs top to bottom in a fresh kernel, on the committed
paper-tier results alone, in under a minute, and shows what its prose says: a trained net's
eNTK is a symmetric p² × p² matrix, farther (Fort's distance S) from its own init's kernel than two
independent inits' kernels are from each other, and the redrawn panel's final held-out accuracies
are the stored curves' ends."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat, nbclient, ipykernel")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_runs_in_under_a_minute(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    t0 = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - t0 < 60
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images == 2, "the eNTK spectrum and the redrawn panel"
    assert "(529, 529) symmetric: True" in text                    # p² = 529 pairs at p = 23
    trained, yardstick = (float(v) for v in re.findall(r"\) = ([0-9.]+)", text))
    assert 0.0 <= yardstick < trained <= 1.0                       # Fort's distance lies in [0, 1]
    # the panel's final accuracies equal the seed means of the committed curves' last points, per reading
    stored = json.loads((ROOT / "docs/results/paper/08_rich_classification.json").read_text())
    import numpy as np

    arrays = np.load(ROOT / "docs/results/paper/08_rich_classification.npz")
    seeds = stored["config"]["seeds"]
    blocks = stored["metrics"]["readings"]
    lines = [ln for ln in text.splitlines() if "final held-out accuracy" in ln]
    assert len(lines) == len(blocks)
    for b, line in zip(blocks, lines, strict=True):
        assert line.startswith(b["label"])
        shown = {int(k): float(v) for k, v in re.findall(r"(\d+): ([0-9.]+)", line.split("accuracy")[1])}
        for p in stored["config"]["ps"]:
            want = np.mean([arrays[f"{b['name']}_p{p}_s{s}_test_acc"][-1] for s in seeds])
            assert shown[p] == pytest.approx(want, abs=5e-4)
