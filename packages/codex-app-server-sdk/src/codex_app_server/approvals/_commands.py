"""Reading a command as the shell would: the one place that decides what a command runs."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

__all__ = ["CommandNotUnderstood", "base_name", "command_words", "parse_command"]

_SHELLS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "busybox"}
)
# Programs whose job is to run another program (or a script) named in their arguments: a rule
# about the outer program says nothing about the inner one.
_WRAPPERS = _SHELLS | {
    ".",
    "source",
    "eval",
    "exec",
    "command",
    "builtin",
    "coproc",
    "trap",
    "env",
    "xargs",
    "sudo",
    "doas",
    "su",
    "runuser",
    "nice",
    "ionice",
    "nohup",
    "timeout",
    "time",
    "stdbuf",
    "setsid",
    "chroot",
    "chrt",
    "taskset",
    "flock",
    "watch",
    "strace",
    "ltrace",
    "unbuffer",
    "script",
    "parallel",
    "firejail",
    "bwrap",
    "systemd-run",
}
_FIND_RUNS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# Unquoted, each of these makes the shell do more than run one program with literal words.
_UNQUOTED = {
    ";": "chains commands",
    "&": "chains or backgrounds commands",
    "|": "pipes into another command",
    "<": "redirects",
    ">": "redirects",
    "(": "opens a subshell",
    ")": "closes a subshell",
    "`": "substitutes a command",
    "$": "expands a variable or substitutes a command",
    "*": "is a glob",
    "?": "is a glob",
    "[": "is a glob",
    "{": "may expand braces",
    "}": "may expand braces",
}
# Only at the start of a word.
_WORD_START = {"~": "expands a home folder", "#": "starts a comment", "!": "negates a pipeline"}
# Inside double quotes these still substitute.
_DOUBLE_QUOTED = {"$": "expands inside double quotes", "`": "substitutes inside double quotes"}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class CommandNotUnderstood(ValueError):
    """A command the rules cannot read as one plain run of one program; says why."""


def parse_command(command: str | Sequence[str]) -> list[str]:
    """The words of ``command`` (a shell command line, or an argv list) as the program gets them.

    The one function that decides what a command runs. Codex's own wrapper
    (``/bin/bash -lc '<script>'``) is removed once. The result is a plain run of one program
    with literal words, or :class:`CommandNotUnderstood` is raised: for anything that chains,
    pipes, redirects, substitutes, expands (``$``, globs, ``~``, braces), sets variables before
    the program, contains a newline or control character, has an unbalanced quote, or runs its
    program through another one (shells' ``-c``, ``env``, ``xargs``, ``sudo``, ``find -exec``...).
    """
    words = _argv(command)
    if len(words) == 3 and base_name(words[0]) in _SHELLS and words[1] in ("-c", "-lc"):
        words = _argv(words[2])
    if not words:
        raise CommandNotUnderstood("the command is empty")
    program = base_name(words[0])
    if _ASSIGNMENT.match(words[0]):
        raise CommandNotUnderstood(f"{words[0]!r} sets a variable before the program")
    if program in _WRAPPERS:
        raise CommandNotUnderstood(f"{words[0]!r} runs another program")
    if program == "find" and _FIND_RUNS.intersection(words):
        raise CommandNotUnderstood("'find -exec' runs another program")
    return words


def _argv(command: str | Sequence[str]) -> list[str]:
    if not isinstance(command, str):
        words = [str(word) for word in command]
        for word in words:
            if _CONTROL_CHARS.search(word):
                raise CommandNotUnderstood("a word contains a newline or control character")
        return words
    if _CONTROL_CHARS.search(command):
        raise CommandNotUnderstood("the command contains a newline or control character")
    _refuse_live_characters(command)
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as exc:  # an unbalanced quote or a trailing backslash
        raise CommandNotUnderstood(f"the command cannot be split into words: {exc}") from None
    return words


def _refuse_live_characters(command: str) -> None:
    """Raise for the first character the shell would treat as more than a literal."""
    quote = ""
    word_start = True
    index = 0
    while index < len(command):
        char = command[index]
        index += 1
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            # Inside double quotes the shell drops a backslash before these; shlex keeps it.
            if quote and command[index : index + 1] in ("$", "`"):
                raise CommandNotUnderstood(f"an escaped {command[index]!r} inside double quotes")
            index, word_start = index + 1, False
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char in _DOUBLE_QUOTED:
                raise CommandNotUnderstood(f"{char!r} {_DOUBLE_QUOTED[char]}")
        elif char in "'\"":
            quote, word_start = char, False
        elif char in _UNQUOTED:
            raise CommandNotUnderstood(f"{char!r} {_UNQUOTED[char]}")
        elif word_start and char in _WORD_START:
            raise CommandNotUnderstood(f"{char!r} {_WORD_START[char]}")
        else:
            word_start = char in " \t"


def base_name(word: str) -> str:
    """The program name in ``word`` (``/bin/rm`` -> ``rm``)."""
    return PurePosixPath(word).name or word


def command_words(request: Any) -> list[str] | None:
    """The words of the command ``request`` wants to run (see :func:`parse_command`).

    ``None`` when the request runs no command or the command is not understood.
    """
    command = getattr(request, "command", None)
    if not isinstance(command, (str, list)):
        return None
    try:
        return parse_command(command)
    except CommandNotUnderstood:
        return None
