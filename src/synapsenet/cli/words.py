"""The command line's words: the library's names in a message become the command line's
flags (``learning_rate`` → ``--learning-rate``), and an unknown option or choice is answered
with the nearest known one (``--lr`` → ``--learning-rate``)."""

from __future__ import annotations

import difflib
import re

# library names of options that the command line calls otherwise
ALIASES: dict[str, str] = {}
# name=value as the library says it, and as the command line does
FORMS = [(re.compile(r"\bmode='(\w+)'"), r"--mode \1"),
         (re.compile(r"\bnesterov=True\b"), "--optimizer nesterov")]


def as_flags(message: str, option_names) -> str:
    """``message`` with option names written as flags: a name with an underscore wherever
    it stands as a word, a plain one ('epochs') where it is the subject of a rule ('epochs
    must be …'); quoted names (a config file's keys) stay as they are."""
    flags = {n: "--" + n.replace("_", "-") for n in option_names} | ALIASES
    for pattern, replacement in FORMS:
        message = pattern.sub(replacement, message)
    names = "|".join(sorted(map(re.escape, flags), key=len, reverse=True))
    word = rf"(?<![\w'\"-])({names})(?![\w'\"-])"
    message = re.sub(word, lambda m: flags[m[1]] if "_" in m[1] else m[0], message)
    return re.sub(word + r"(?= must\b)", lambda m: flags[m[1]], message)


def nearest(word: str, known) -> str | None:
    """The known option or choice that ``word`` most likely meant: the option whose initials
    it is (``--lr``: --learning-rate), else the closest spelling; None if none is close."""
    known = list(known)
    if word.startswith("--") and len(word) > 3:
        by_initials = [k for k in known if k.startswith("--")
                       and "--" + "".join(p[0] for p in k[2:].split("-") if p) == word]
        if len(by_initials) == 1:
            return by_initials[0]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.7)
    return close[0] if close else None


def unknown_options(extras, known_flags) -> str:
    """The message for arguments argparse did not recognise, with a suggestion if one fits."""
    for arg in extras:
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            guess = nearest(flag, known_flags)
            if guess:
                return f"unknown option '{flag}'; did you mean {guess}?"
    return f"unrecognized arguments: {' '.join(extras)}"


_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def with_nearest_choice(message: str) -> str:
    """argparse's 'invalid choice' message, with the nearest choice suggested."""
    m = _CHOICE.search(message)
    if not m:
        return message
    choices = [c.strip().strip("'") for c in m[2].split(",")]
    guess = nearest(m[1], choices)
    return message + (f"; did you mean '{guess}'?" if guess else "")
