"""The report in a real browser: headless Chromium opens ``report/index.html``
from disk, every figure must have decoded (natural size > 0), the verification
table must have one row per registered check, and a screenshot is saved. The
proof-note pages (``report/notes/*.html``) must hold laid-out MathML (a
superscript sits above its base), no raw ``$…$``, and every link of the report
and the notes, as the browser resolves it, must name an existing file (and id).

Skipped, with the reason, when no Chromium is installed (``apt-get install -y
chromium``; ``REGIMES_CHROMIUM`` may name another binary), unless
``REGIMES_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where a missing browser fails. ``REGIMES_ARTIFACTS``
(optional) names a folder that receives a copy of the screenshot.

The page itself carries no script; the test opens a copy of it, in the same
folder, with a small probe script appended that only reads the DOM after the
``load`` event (which fires once every image has loaded or failed) and prints
what it found into the dumped DOM.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from regimes import harness, report
from regimes import notes as proof_notes
from regimes.checks import all_checks

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--allow-file-access-from-files"]

PROBE = r"""<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images).map(i => ({src: i.getAttribute("src"),
    w: i.naturalWidth, h: i.naturalHeight, complete: i.complete}));
  const rows = Array.from(document.querySelectorAll("table#checks > tbody > tr"))
    .map(r => r.dataset.check);
  const links = Array.from(document.querySelectorAll("a[href]")).map(a => a.href);
  const maths = document.querySelectorAll("math").length;
  // MathML laid out: in each msup the script's box starts above its base's
  const sups = Array.from(document.querySelectorAll("msup")).slice(0, 50).map(el => {
    const [b, s] = el.children;
    return [b.getBoundingClientRect().top, s.getBoundingClientRect().top, b.getBoundingClientRect().width];
  });
  const dollars = (document.body.innerText.match(/\$[^$\n]+\$/g) || []);
  const pre = document.createElement("pre");
  pre.id = "__probe";
  pre.textContent = JSON.stringify({imgs, rows, title: document.title, links, maths, sups, dollars});
  document.body.appendChild(pre);
});
</script>"""

TINY = '''
import numpy as np
from regimes.harness import Experiment


def compute(ctx):
    x = np.linspace(0, 1, 20)
    return {"slope": ctx.config["a"]}, {"x": x, "y": ctx.config["a"] * x ** 2}


def plot(result, arrays, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(arrays["x"], arrays["y"])
    ax.set_title(f"a = {result['config']['a']}")
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)


EXPERIMENT = Experiment("{num}", "browser{num}", "Browser probe {num}", "Fig. B{num}",
                        quick={"a": {num}}, full={"a": {num}}, compute=compute, plot=plot,
                        checks={checks})
'''


def _chromium() -> str | None:
    for cand in (os.environ.get("REGIMES_CHROMIUM"), shutil.which("chromium"),
                 "/usr/bin/chromium", shutil.which("chromium-browser"),
                 shutil.which("google-chrome")):
        if cand and Path(cand).exists():
            return cand
    return None


CHROMIUM = _chromium()
NO_BROWSER = ("no Chromium installed: `apt-get install -y chromium` (Debian) or set REGIMES_CHROMIUM "
              "to a Chrome/Chromium binary")


@pytest.fixture(autouse=True)
def _need_browser() -> None:
    """Skip without a browser — except where ``REGIMES_REQUIRE_BROWSER=1`` (CI), which fails."""
    if CHROMIUM is None:
        if os.environ.get("REGIMES_REQUIRE_BROWSER") == "1":
            pytest.fail(NO_BROWSER + " (REGIMES_REQUIRE_BROWSER=1 makes this a failure)")
        pytest.skip(NO_BROWSER)


def _browser(args: list[str], profile: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def _build(tmp_path: Path) -> tuple[Path, list[str]]:
    """A report over two run experiments (figures) and one not run (no figure)."""
    exps, out = tmp_path / "exps", tmp_path / "out"
    exps.mkdir()
    checks = all_checks()
    ids = [c.id for c in checks]
    for num, linked in (("81", tuple(ids[:2])), ("82", tuple(ids[2:3])), ("83", ())):
        src = TINY.replace("{num}", num).replace("{checks}", repr(linked))
        (exps / f"{num}_browser{num}.py").write_text(src)
    discovered = harness.discover(exps)
    for exp in discovered[:2]:
        harness.run(exp, out=out, quiet=True)
    # verdicts from the stored file if a previous `regimes check` left one, else "not run"
    page = report.build(out, discovered, checks, entries=report.load_checks(harness.REPO_ROOT))
    return page, ids


def _probe(page: Path, profile: Path) -> dict:
    """Open a copy of ``page`` (same folder) with :data:`PROBE` appended; what it found."""
    probe = page.with_name(f"probe_{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        proc = _browser(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], profile)
    finally:
        probe.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="__probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, "the probe never ran: " + proc.stdout[-500:]
    return json.loads(html.unescape(m.group(1)))


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(str(v) for k, v in attrs if k == "id" and v)


def _dangling(links: list[str], probe_name: str, page: Path) -> list[str]:
    """Links (absolute URLs as the browser resolved them) to a missing file or id."""
    bad = []
    for url in links:
        u = urlparse(url)
        if u.scheme != "file":
            bad.append(url)
            continue
        path = Path(unquote(u.path))
        if path.name == probe_name:  # a link within the page itself
            path = page
        if not path.is_file():
            bad.append(url)
        elif u.fragment:
            ids = _Ids()
            ids.feed(path.read_text(encoding="utf-8"))
            if u.fragment not in ids.ids:
                bad.append(url)
    return bad


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One report for both tests (building runs two tiny experiments)."""
    if CHROMIUM is None:
        pytest.skip(NO_BROWSER)
    return _build(tmp_path_factory.mktemp("report"))


def test_report_renders_in_headless_chromium(built: tuple[Path, list[str]], tmp_path: Path) -> None:
    page, ids = built
    found = _probe(page, tmp_path / "profile-dom")
    assert found["title"].startswith("regimes")
    # one row per registered check, in registry order
    assert found["rows"] == ids
    # every <img> decoded: two run experiments, each shown in its section and beside its checks
    imgs = found["imgs"]
    assert {i["src"] for i in imgs} == {"figures/81_browser81.png", "figures/82_browser82.png"}
    for img in imgs:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, img
        assert (img["w"], img["h"]) == _png_size(page.parent / img["src"])
    # every link resolves; the claims carry MathML; each check section links its proof notes
    assert _dangling(found["links"], "probe_index.html", page) == []
    assert found["maths"] > 0 and not found["dollars"]
    assert sum("/notes/" in u for u in found["links"]) >= len(ids) + len(list(proof_notes.PROOFS_DIR.glob("*.md")))

    shot = tmp_path / "report.png"
    proc = _browser(["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                    tmp_path / "profile-shot")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    assert _png_size(shot) == (1280, 2400) and shot.stat().st_size > 20_000  # not a blank page
    if os.environ.get("REGIMES_ARTIFACTS"):
        dest = Path(os.environ["REGIMES_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, dest / "report_screenshot.png")


NOTES_PROBE = r"""<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script>
// every note in an iframe (one browser start for all); file access is allowed by the flags
const names = NAMES, out = {};
let left = names.length;
for (const n of names) {
  const f = document.createElement("iframe");
  f.style.width = "1000px"; f.style.height = "600px";
  f.onload = () => {
    const d = f.contentDocument;
    const sups = Array.from(d.querySelectorAll("msup")).slice(0, 50).map(el => {
      const [b, s] = el.children;
      return [b.getBoundingClientRect().top, s.getBoundingClientRect().top, b.getBoundingClientRect().width];
    });
    out[n] = {links: Array.from(d.querySelectorAll("a[href]")).map(a => a.href),
              maths: d.querySelectorAll("math").length, sups,
              dollars: (d.body.innerText.match(/\$[^$\n]+\$/g) || [])};
    if (--left === 0) {
      const pre = document.createElement("pre");
      pre.id = "__probe";
      pre.textContent = JSON.stringify(out);
      document.body.appendChild(pre);
    }
  };
  f.src = n;
  document.body.appendChild(f);
}
</script></body></html>"""


def test_proof_notes_render_in_headless_chromium(built: tuple[Path, list[str]], tmp_path: Path) -> None:
    page, _ = built
    folder = page.parent / "notes"
    notes = sorted(folder.glob("*.html"))
    assert {p.stem for p in notes} == {p.stem for p in proof_notes.PROOFS_DIR.glob("*.md")}
    probe = folder / "probe_notes.html"
    probe.write_text(NOTES_PROBE.replace("NAMES", json.dumps([p.name for p in notes])), encoding="utf-8")
    proc = _browser(["--virtual-time-budget=30000", "--dump-dom", probe.as_uri()], tmp_path / "profile-notes")
    probe.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="__probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, "the probe never finished: " + proc.stdout[-500:]
    found = json.loads(html.unescape(m.group(1)))
    assert sorted(found) == [p.name for p in notes]
    total = n_sups = 0
    for name, got in found.items():
        assert _dangling(got["links"], "", folder / name) == [], name
        assert not got["dollars"], (name, got["dollars"])
        total += got["maths"]
        # laid-out MathML: every sampled superscript starts above its base, and has width
        for base_top, sup_top, width in got["sups"]:
            assert sup_top < base_top and width > 0, (name, base_top, sup_top)
        n_sups += len(got["sups"])
        if name not in ("README.html", "ERRATA.html", "measurement.html"):
            assert got["maths"] > 0, name
    assert total > 500 and n_sups > 100  # ~800 formulas in the notes today

    note = folder / "thm_3_4_regression_lower_bound.html"
    shot = tmp_path / "note.png"
    proc = _browser(["--window-size=1000,1400", f"--screenshot={shot}", note.as_uri()], tmp_path / "profile-shot")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    assert _png_size(shot) == (1000, 1400) and shot.stat().st_size > 20_000
    if os.environ.get("REGIMES_ARTIFACTS"):
        dest = Path(os.environ["REGIMES_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, dest / "report_note.png")
