"""The package's architecture: every module imports on its own, imports point down the layers,
only the dispatch module imports compiled code, and the oracle runs without it."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bitsim

from util import OUTSIDE

PACKAGE = Path(bitsim.__file__).parent
# bottom to top; a module may import its own layer and the layers below it
LAYERS = [
    "_version",
    "_core",
    "_ext",
    "circuits",
    "backends",
    "sim",
    "models",
    "dataflow",
    "nets",
    "app",
    "cli",
]
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages([str(PACKAGE)], "bitsim.")
    if not m.name.startswith("bitsim._ext.") and m.name != "bitsim.__main__"
)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else len(LAYERS)


def bitsim_imports(path: Path):
    """Every bitsim module a source file imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bitsim"):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("bitsim"))


def source(module: str) -> Path:
    rel = Path(*module.split(".")[1:])
    return (
        PACKAGE / rel / "__init__.py"
        if (PACKAGE / rel).is_dir()
        else PACKAGE / rel.with_suffix(".py")
    )


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module):
    if module == "bitsim":
        return
    for target in bitsim_imports(source(module)):
        assert layer(target) <= layer(module), f"{module} imports {target}, a higher layer"


def test_only_dispatch_imports_compiled_code():
    importers = {
        m
        for m in MODULES
        if m != "bitsim"
        for t in bitsim_imports(source(m))
        if t.startswith("bitsim._ext")
    }
    dynamic = {m for m in MODULES if '"bitsim._ext.' in source(m).read_text()}
    assert importers <= {"bitsim.backends.dispatch"}
    assert dynamic == {"bitsim.backends.dispatch"}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_alone(module):
    """A fresh interpreter per module: no import cycle, no hidden import order."""
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=OUTSIDE)


HIDE_EXTENSION = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("bitsim._ext."):
            raise ImportError("hidden: " + name)
sys.meta_path.insert(0, Hide())
"""


def test_reference_and_numba_run_without_the_extension():
    code = (
        HIDE_EXTENSION
        + """
import numpy as np
import bitsim
from bitsim.circuits.multipliers import multiplier_circuit

x = np.arange(-8, 8).repeat(16); w = np.tile(np.arange(-8, 8), 16)
for backend in ("reference", "numba"):
    r = bitsim.simulate_mac(x, w, x_bits=4, acc_bits=12, length=5, backend=backend)
    assert r.total() > 0
    m = bitsim.accwidth.measure(4, x, w, x_bits=4, backend=backend)
    assert m.dots == 64
    g = bitsim.simulate_gates(multiplier_circuit("dadda", 4, 4, True), x, w, backend=backend)
    assert g.totals()["total"] > 0
assert not any(name.startswith("bitsim._ext.") for name in sys.modules)
try:
    bitsim.simulate_mac(x, w, x_bits=4)
except ImportError as err:
    assert "backend='numba' or 'reference'" in str(err), err
else:
    raise AssertionError("the C backend ran without its extension")
"""
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=OUTSIDE)


def test_every_documented_entry_point_is_an_attribute():
    for name in bitsim.__all__:
        assert getattr(bitsim, name) is not None, name
    with pytest.raises(AttributeError):
        bitsim.no_such_thing  # noqa: B018


def test_public_modules_declare_all():
    for module in MODULES:
        name = module.rsplit(".", 1)[-1]
        if (
            name.startswith("_")
            or module.count(".") < 2
            or ".backends." in module
            or module.startswith("bitsim.cli")
        ):
            continue
        assert "__all__" in source(module).read_text(), f"{module} has no __all__"
