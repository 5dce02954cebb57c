"""The package's public names: each is the object its source module defines, whatever was
imported before (checked in fresh interpreters, one per import order), and no public name
of any package is shadowed by a submodule of the same name."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: What runs before the check, in a fresh interpreter.
ORDERS = {
    "nothing": "",
    "import regimes.train": "import regimes.train",
    "from regimes.train import TrainConfig": "from regimes.train import TrainConfig",
    "from regimes import train": "from regimes import train",
    "every source module": "import regimes.tasks, regimes.models, regimes.ntk, regimes.kernels\n"
                           "import regimes.constructions, regimes.train",
    "harness, sweep, cli, metrics": "import regimes.harness, regimes.sweep, regimes.cli, regimes.metrics\n"
                                    "import regimes.runs",
}

CHECK = textwrap.dedent('''
    import importlib, json, sys, types
    import regimes

    bad = []
    for name in regimes.__all__:
        if name == "__version__":
            continue
        src = importlib.import_module(regimes._EXPORTS[name])
        want = getattr(src, name)
        ns = {}
        exec(f"from regimes import {name} as got", ns)
        for how, got in (("regimes." + name, getattr(regimes, name)), ("from regimes import", ns["got"])):
            if got is not want or isinstance(got, types.ModuleType):
                bad.append(f"{how} {name}: {got!r}, expected {want!r}")
        if isinstance(want, types.ModuleType) or want.__doc__ == src.__doc__:
            bad.append(f"{name}: the export is a module")
    # the submodule stays a module under its dotted name
    import regimes.train
    from regimes.train import TrainConfig
    mod = importlib.import_module("regimes.train")
    if not (isinstance(mod, types.ModuleType) and sys.modules["regimes.train"] is mod
            and TrainConfig is mod.TrainConfig and regimes.train is mod.train):
        bad.append("regimes.train module / function mix-up after import regimes.train")
    if "train" not in dir(regimes):
        bad.append("dir(regimes) lacks train")
    print(json.dumps(bad))
''')


def _run(prelude: str, body: str) -> list[str]:
    code = prelude + "\n" + body
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("order", list(ORDERS))
def test_every_export_is_its_object_whatever_was_imported_before(order: str) -> None:
    """Before the fix, ``from regimes import train`` and ``regimes.train`` after any import of
    the submodule gave ``<module 'regimes.train'>`` ("'module' object is not callable")."""
    assert _run(ORDERS[order], CHECK) == []


def test_train_is_callable_after_its_module_was_imported() -> None:
    body = textwrap.dedent('''
        import json
        from regimes import QuadraticNet, Task, TrainConfig, sample_split, train
        split = sample_split(Task(5), n=10, seed=0)
        res = train(QuadraticNet.init(5, 4, seed=0), split.train, TrainConfig(steps=2, lr=0.01, eval_every=2))
        print(json.dumps([type(res).__name__]))
    ''')
    assert _run("import regimes.train\nfrom regimes.train import TrainConfig", body) == ["TrainResult"]


def test_no_public_name_of_any_package_is_a_submodule() -> None:
    """The whole kind: in every package of ``regimes``, after importing all its submodules,
    each name of ``__all__`` that equals a submodule's name is not that module."""
    body = textwrap.dedent('''
        import importlib, json, pkgutil, types
        import regimes

        mods = [m for m in pkgutil.walk_packages(regimes.__path__, "regimes.")]
        for m in mods:
            try:
                importlib.import_module(m.name)
            except ImportError:   # optional stacks (jax, neural-tangents) absent here
                pass
        bad, seen = [], 0
        for m in [None, *mods]:
            name = "regimes" if m is None else m.name
            if m is not None and not m.ispkg:
                continue
            pkg = importlib.import_module(name)
            subs = {s.name for s in pkgutil.iter_modules(pkg.__path__)}
            for pub in set(getattr(pkg, "__all__", ())) & subs:
                seen += 1
                if isinstance(getattr(pkg, pub), types.ModuleType):
                    bad.append(f"{name}.{pub}")
        print(json.dumps([seen, bad]))
    ''')
    seen, bad = _run("", body)
    assert seen >= 1 and bad == []    # regimes.train is such a name
