"""The examples in docstrings and in examples/ run and say what they claim."""

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["synapsenet", "synapsenet.network", "synapsenet.datasets", "synapsenet.hardware",
           "synapsenet.sklearn"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_perceptron_example_script():
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "perceptron_vs_xor.py")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "and: 4/4" in lines[0] and "or: 4/4" in lines[1]
    assert "xor: 4/4" not in lines[2]  # the perceptron cannot
    assert "xor: 4/4" in lines[3]  # the 2-2-1 network can


def test_tutorial_python_examples():
    result = doctest.testfile(str(ROOT / "docs" / "tutorial.md"), module_relative=False)
    assert result.attempted > 0 and result.failed == 0
