"""The ``synapsenet`` command.

    synapsenet train                      train a small network on 'digits' (the main job)
    synapsenet train --dataset mnist --layers 300 --epochs 20
    synapsenet evaluate RUN/model.safetensors --dataset digits
    synapsenet predict RUN/model.safetensors inputs.csv
    synapsenet info RUN/model.safetensors
    synapsenet datasets
    synapsenet playground                 the browser playground (train, and a chip, live)
    synapsenet reproduce neurosim --devices epiram,software --epochs 5
    synapsenet sweep MODEL --vary adc_bits=2..8 --vary read_noise=0,0.02 --backend ray
    synapsenet study --vary learning_rate=0.1,1 --vary hardware=epiram,ag-si --out DIR

One module per command (``add_parser(sub)`` and ``run(args)``); ``ui`` holds what is shown.
Exit status: 0 success, 2 bad input or usage (one line on stderr, no traceback), 1 internal
error, 130 interrupted (a checkpoint is saved; resume with ``synapsenet train --resume RUN``).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from .. import __version__
from ..errors import ConfigError, DataWarning, InputScaleWarning, SynapseError
from . import (bench, cost, datasets, devices, evaluate, flags, hardware, info, playground,
               predict, reproduce, study, sweep, train, ui, words)

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

COMMANDS = {"train": train, "evaluate": evaluate, "predict": predict, "info": info,
            "datasets": datasets, "sweep": sweep, "study": study, "hardware": hardware,
            "devices": devices, "cost": cost, "reproduce": reproduce, "bench": bench,
            "playground": playground}


class UsageError(SynapseError):
    pass


class _Parser(argparse.ArgumentParser):
    commands: dict = {}  # the top parser's: command name → its parser

    def error(self, message):  # one line, exit 2 (argparse's own status), no usage dump
        message = words.with_nearest_choice(message)
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")

    def parse_args(self, args=None, namespace=None):
        args, extras = self.parse_known_args(args, namespace)
        if extras:  # answered by the command's own parser, which knows its options
            command = self.commands.get(getattr(args, "command", None), self)
            flags = [s for a in command._actions for s in a.option_strings]
            command.error(words.unknown_options(extras, flags))
        return args


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="synapsenet", description="The textbook neural network: train, evaluate "
                "and predict, on digital maths or simulated analog hardware.",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Run 'synapsenet COMMAND --help' for the options of a command.")
    p.add_argument("--version", action="version", version=f"synapsenet {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    p.commands = sub.choices
    return p


def main(argv=None) -> int:
    try:
        code = _dispatch(argv)
    except SystemExit:  # --help and --version print, then exit through argparse
        _flush_stdout()
        raise
    return _flush_stdout(code)


def _dispatch(argv) -> int:
    parser = build_parser()
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        return _run(parser, argv)


def _one_line_warnings(show):
    """A ``warnings.showwarning`` that prints the library's DataWarnings as one line, in the
    command line's words, and passes the others to ``show``."""
    def show_warning(message, category, filename, lineno, file=None, line=None):
        if isinstance(message, InputScaleWarning):
            ui.warn(f"the training inputs are {message.rms:.3g} in magnitude (root mean square); "
                    "a network wants inputs of order one (larger ones saturate its neurons and "
                    "training learns little): choose a --scale (auto: the one that suits the "
                    "dataset; 255 for 0–255 pixels; standard for other numbers)")
        elif issubclass(category, DataWarning):
            ui.warn(str(message))
        else:
            show(message, category, filename, lineno, file, line)
    return show_warning


def _run(parser, argv) -> int:
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return EXIT_OK
        return COMMANDS[args.command].run(args)
    except ui.Interrupted as e:
        print(f"synapsenet: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SynapseError as e:
        msg = str(e).replace("\n", " ")
        if isinstance(e, ConfigError):  # the command line was used: speak its language
            msg = words.as_flags(msg, (o.name for o in flags.options()))
        print(f"synapsenet: error: {msg}" if not isinstance(e, UsageError) else msg,
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("synapsenet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader closed the pipe (| head): it has what it wanted
        _discard_stdout()
        return EXIT_OK
    except OSError as e:
        if e.filename is None:  # not about a file the user named
            return _internal(e)
        # the filesystem refused a path the user gave (a folder where a file goes, a full
        # disk, no permission): theirs to fix, said in one line
        where = e.filename2 if e.filename2 is not None else e.filename
        print(f"synapsenet: error: {str(where)!r}: {e.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        return _internal(e)


def _internal(e: Exception) -> int:
    """An internal error: said in one line, with the traceback on request."""
    if os.environ.get("SYNAPSENET_DEBUG"):
        raise e
    print(f"synapsenet: internal error: {type(e).__name__}: {e} "
          "(set SYNAPSENET_DEBUG=1 for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


def _flush_stdout(code=EXIT_OK) -> int:
    """Flush stdout, where a closed pipe often shows first; ``code`` stands either way."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    return code


def _discard_stdout() -> None:
    # what is still buffered goes to /dev/null, so that the interpreter's last flush is quiet
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout
        pass
