"""The command line's layout: a module per command, parsing and dispatch only, within a line
budget; what is shown lives in cli/ui.py and cli/tables.py, the work in the library."""

import inspect

import pytest

from synapsenet.cli import COMMANDS

BUDGET = 80  # lines of a command module


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_module_keeps_to_the_line_budget(name):
    lines = inspect.getsource(COMMANDS[name]).splitlines()
    assert len(lines) <= BUDGET, (f"cli/{COMMANDS[name].__name__.rpartition('.')[2]}.py has "
                                  f"{len(lines)} lines; move its work into a library module")
    assert max(map(len, lines)) <= 99
