"""The package's import graph: no cycle, and every import points down the floors below.

The graph is read from the sources themselves (``ast``: every ``import`` and ``from … import``
of a ``regimes`` module anywhere in a file, function-level imports included), not from what
Python happened to import, so a lazy import that would close a cycle is caught too. The lazy
re-exports of ``regimes/__init__.py`` (names resolved on first access) are exempt: they are
strings, not imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "regimes"

#: The floors, lowest first. A module may import modules of its own floor or of a lower one,
#: never of a higher one. A name covers the module and everything under it
#: (``regimes.models`` covers ``regimes.models.quadratic``); the longest name wins.
FLOORS: list[tuple[str, ...]] = [
    ("_validate", "store", "runcache"),           # input checks; atomic writes, hashes, metadata; stored runs
    ("settings",),                                # every named setting once, the run-config schema
    ("sweep", "tasks", "stats"),                  # the generic executor (store only); the task; statistics
    ("models",),
    ("ntk",),
    ("kernels", "spectral", "constructions"),
    ("bounds",),
    ("metrics", "train"),                         # measures; the training loop
    ("equivariance", "gromov", "batched"),        # built on the training loop
    ("runs", "extremal"),                         # training recipes; extremal nets by batched training
    ("checks",),                                  # the registered checks, running and storing them
    ("harness",),                                 # experiments: config, cache, runs, load_run
    ("plots", "report", "notes", "claims"),       # presentation
    ("cli",),
]

#: Imports that point up, each with the reason it is tolerated (and when it goes away).
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    mods = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The module of ``mods`` that ``name`` (a module, or a name inside one) refers to."""
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module → the ``regimes`` modules its source imports (anywhere in the file)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                # ``from regimes.kernels import nested`` imports the submodule, ``from regimes.store
                # import jsonable`` the module itself
                targets = [f"{src}.{a.name}" if f"{src}.{a.name}" in mods else src for a in node.names]
            for t in targets:
                if t == "regimes" or t.startswith("regimes."):
                    r = _resolve(t, mods)
                    if r is not None and r != mod and r != "regimes":
                        out.add(r)
        graph[mod] = out
    return graph


def floor_of(mod: str) -> int | None:
    """The floor index of ``mod`` (longest matching name of :data:`FLOORS`), or ``None``."""
    best: tuple[int, int] | None = None
    for i, names in enumerate(FLOORS):
        for n in names:
            full = f"regimes.{n}"
            if (mod == full or mod.startswith(full + ".")) and (best is None or len(full) > best[1]):
                best = (i, len(full))
    return None if best is None else best[0]


def test_the_graph_reads_known_imports() -> None:
    """The parser sees top-level, from-, submodule and function-level imports (hand-checked)."""
    g = import_graph()
    assert "regimes.store" in g["regimes.sweep"]                 # from regimes.store import …
    assert "regimes.bounds.upper" in g["regimes.checks.rich"]   # from regimes.bounds import upper
    assert "regimes.runs" in g["regimes.checks.scale"] or "regimes.runs" in g["regimes.checks.dynamics"]
    assert "regimes.checks.runner" in g["regimes.cli"]           # function-level import
    assert g["regimes.store"] == set()


def test_every_module_has_a_floor() -> None:
    missing = sorted(m for m in import_graph() if m != "regimes" and floor_of(m) is None)
    assert not missing, f"give these modules a floor in tests/test_architecture.py FLOORS: {missing}"


def test_no_import_cycle() -> None:
    """Depth-first search for a back edge (known exceptions left out: they are the edges
    that still point up, and one of them closes train → harness → runs → train)."""
    g = {m: {t for t in ts if (m, t) not in KNOWN_EXCEPTIONS} for m, ts in import_graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                cycle = [*stack[stack.index(t):], t]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_every_import_points_down() -> None:
    up = []
    for mod, targets in import_graph().items():
        if mod == "regimes":
            continue  # the package's lazy re-exports are exempt
        for t in targets:
            fm, ft = floor_of(mod), floor_of(t)
            if fm is None or ft is None or ft <= fm or (mod, t) in KNOWN_EXCEPTIONS:
                continue
            up.append(f"{mod} (floor {fm}: {FLOORS[fm]}) imports {t} (floor {ft}: {FLOORS[ft]})")
    assert not up, "imports pointing up:\n" + "\n".join(sorted(up))


def test_store_and_sweep_stand_alone() -> None:
    """The results store imports nothing from regimes; the generic executor only the store
    and input validation (it knows nothing about experiments)."""
    g = import_graph()
    assert g["regimes.store"] == set()
    assert g["regimes.sweep"] <= {"regimes.store", "regimes._validate"}
    assert not any(t.startswith("regimes.harness") for t in g["regimes.checks.runner"])
