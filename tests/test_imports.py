"""Dependencies point one way: the command line uses the library, the model file format uses
the network, and neither is used back (no import cycles, lazy imports included)."""

import ast
from pathlib import Path

import pytest

import synapsenet

SRC = Path(synapsenet.__file__).parent


def imports_of(path: Path) -> set[str]:
    """Every synapsenet module ``path`` imports, at the top or inside a function."""
    parts = ["synapsenet", *path.relative_to(SRC).with_suffix("").parts]
    package = parts[:-1]  # what `.` means in it (for __init__.py: its own package)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}  # `from . import x` imports x
    return {m for m in found if m == "synapsenet" or m.startswith("synapsenet.")}


MODULES = {".".join(["synapsenet", *p.relative_to(SRC).with_suffix("").parts])
           .removesuffix(".__init__"): p for p in SRC.rglob("*.py")}


def uses(module: str, target: str) -> bool:
    return any(m == target or m.startswith(target + ".") for m in imports_of(MODULES[module]))


def test_the_scan_sees_imports():
    assert uses("synapsenet.cli.train", "synapsenet.runs")  # from .. import runs
    assert uses("synapsenet.cli.hardware", "synapsenet.cli.chip")  # from . import chip
    assert uses("synapsenet.model_file", "synapsenet.network")


@pytest.mark.parametrize("module", sorted(m for m in MODULES
                                          if not m.startswith("synapsenet.cli")
                                          and m != "synapsenet.__main__"))
def test_nothing_outside_the_command_line_imports_it(module):
    assert not uses(module, "synapsenet.cli"), module


@pytest.mark.parametrize("module", ["synapsenet.network", "synapsenet.layers",
                                    "synapsenet.training", "synapsenet.optimizers"])
def test_the_network_does_not_know_its_file_format(module):
    assert not uses(module, "synapsenet.model_file") and not uses(module, "synapsenet.files")


def test_only_the_chip_module_of_the_command_line_calls_the_simulator():
    callers = {m for m in MODULES if m.startswith("synapsenet.cli")
               and uses(m, "synapsenet.hardware")}
    assert callers == {"synapsenet.cli.chip"}
