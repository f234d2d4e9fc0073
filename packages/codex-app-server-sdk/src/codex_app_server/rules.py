"""Declarative approval rules: decide approval requests locally, and log why.

:class:`ApprovalRules` is an approval handler built from a few lists::

    rules = ApprovalRules(
        allow_commands=["git status", "pytest -q"],
        deny_commands=["rm", "git push"],
        deny_writes_outside=[project_dir],
        ask=my_handler,  # everything no rule settles; the default declines
    )
    thread = codex.thread_start(approval_handler=rules)

The rules are checked in a fixed order and the first that applies decides:

1. ``deny_commands``: a command running a denied program (matched by base name) with the
   prefix's other words among its arguments is declined; so is, once any deny rule exists,
   every command the rules cannot fully parse as one plain program run (see
   :func:`parse_command`).
2. ``deny_writes_outside``: a file change writing a path (a move's destination included)
   outside every one of these folders, or whose paths cannot be seen, is declined.
3. ``allow_network_hosts``: a network request for one of these hosts is accepted. Every other
   network request goes to ``ask``.
4. ``allow_exact`` / ``allow_commands``: a plain command run (``kind="command"``) that parses
   fully and equals an exact command (words may be regular expressions), or starts with an
   allowed prefix, is accepted.
5. ``allow_writes_inside``: a file change whose written paths are all inside these folders is
   accepted.
6. ``ask``: any approval handler decides the rest (default: decline).

Every decision is logged once on the ``codex_app_server`` logger with the rule that made it.

A file-change approval request does not carry the files; they are on the ``fileChange`` item
announced just before it (and in its ``item/fileChange/patchUpdated`` updates). Rules given as
a client's or thread's ``approval_handler`` see those events: the SDK watches each turn for
them. An update that names a new path after the rules accepted its item cancels the turn's next
approval request (rule ``patch_updated``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import shlex
import threading
import weakref
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, TypeAlias

from ._protocol import Notification
from .approvals import ApprovalDecision, AsyncApprovalHandler, is_async_handler
from .errors import RequestTimeoutError, TransportClosedError

__all__ = [
    "ApprovalRules",
    "CommandNotUnderstood",
    "ExactCommand",
    "RuleDecision",
    "command_words",
    "parse_command",
    "watch_turn",
]

logger = logging.getLogger("codex_app_server")

#: One word of an exact command: the word itself, or a pattern the whole word must match.
ExactWord: TypeAlias = str | re.Pattern[str]
#: An exact command for ``allow_exact``: a command line (split like a shell would) or words.
ExactCommand: TypeAlias = str | Sequence[ExactWord]

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
    if len(words) == 3 and _base(words[0]) in _SHELLS and words[1] in ("-c", "-lc"):
        words = _argv(words[2])
    if not words:
        raise CommandNotUnderstood("the command is empty")
    program = _base(words[0])
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


def _base(word: str) -> str:
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


@dataclass(frozen=True)
class RuleDecision:
    """What the rules decided: ``decision`` (as an approval handler returns it), the ``rule``
    that decided (``"deny_commands"``, ..., ``"ask"``, ``"default"``) and why (``reason``)."""

    decision: ApprovalDecision
    rule: str
    reason: str


class ApprovalRules:
    """An approval handler made of declarative rules; see the module documentation.

    Folders are compared after resolving symlinks and ``..``. ``allow_commands`` prefixes are
    compared word by word from the program on and allow *any* further arguments;
    ``allow_exact`` commands must match every word (a word may be a compiled regular
    expression, matched against the whole word). ``deny_commands`` match the program by its
    base name and the prefix's other words anywhere after it, in order. ``ask`` may be a
    coroutine function with :class:`~codex_app_server.AsyncCodex` only.
    """

    def __init__(
        self,
        *,
        allow_commands: Iterable[str | Sequence[str]] = (),
        allow_exact: Iterable[ExactCommand] = (),
        deny_commands: Iterable[str | Sequence[str]] = (),
        allow_writes_inside: Iterable[str | os.PathLike[str]] = (),
        deny_writes_outside: Iterable[str | os.PathLike[str]] = (),
        allow_network_hosts: Iterable[str] = (),
        ask: AsyncApprovalHandler | None = None,
    ) -> None:
        self.allow_commands = [_words(prefix) for prefix in allow_commands]
        self.allow_exact = [_exact(command) for command in allow_exact]
        self.deny_commands = [_words(prefix) for prefix in deny_commands]
        self.allow_writes_inside = [_resolve(folder) for folder in allow_writes_inside]
        self.deny_writes_outside = [_resolve(folder) for folder in deny_writes_outside]
        self.allow_network_hosts = {host.lower().rstrip(".") for host in allow_network_hosts}
        self.ask = ask

    @property
    def watches_writes(self) -> bool:
        """Whether a rule needs the paths of file changes."""
        return bool(self.allow_writes_inside or self.deny_writes_outside)

    @property
    def asynchronous(self) -> bool:
        """Whether ``ask`` must be awaited (only the async client can use these rules then)."""
        return self.ask is not None and is_async_handler(self.ask)

    def __call__(self, request: Any) -> ApprovalDecision | Awaitable[ApprovalDecision]:
        """Decide ``request`` (typed approval params) and log the rule that decided, once.

        With an asynchronous ``ask`` the answer may be an awaitable of the decision.
        """
        outcome = self._settle(request)
        if outcome is None:
            if self.ask is None:
                outcome = _DEFAULT
            else:
                decision = self.ask(request)
                if inspect.isawaitable(decision):
                    return self._finish_later(request, decision)
                outcome = RuleDecision(decision, "ask", "no rule settled it")
        return self._final(request, outcome)

    def decide(self, request: Any) -> RuleDecision:
        """The decision for ``request`` and the rule that made it, without logging.

        Raises ``TypeError`` when the decision is up to an asynchronous ``ask``.
        """
        outcome = self._settle(request)
        if outcome is not None:
            return outcome
        if self.ask is None:
            return _DEFAULT
        decision = self.ask(request)
        if inspect.isawaitable(decision):
            _discard(decision)
            raise TypeError("ask= is asynchronous: call the rules (await rules(request))")
        return RuleDecision(decision, "ask", "no rule settled it")

    async def _finish_later(
        self, request: Any, pending: Awaitable[ApprovalDecision]
    ) -> ApprovalDecision:
        decision = await pending
        return self._final(request, RuleDecision(decision, "ask", "no rule settled it"))

    @staticmethod
    def _final(request: Any, outcome: RuleDecision) -> ApprovalDecision:
        _remember_accepted(request, outcome.decision)
        logger.info(
            "approval %s -> %r by rule %s: %s",
            type(request).__name__,
            outcome.decision,
            outcome.rule,
            outcome.reason,
        )
        return outcome.decision

    def _settle(self, request: Any) -> RuleDecision | None:
        """The decision of the first rule that applies; ``None`` leaves it to ``ask``."""
        flagged = _flagged_update(request)
        if flagged is not None:
            return RuleDecision("cancel", "patch_updated", flagged)
        words, problem = _read_command(request)
        if self.deny_commands and problem:
            return RuleDecision("decline", "deny_commands", problem)
        denied = None if words is None else _denied(words, self.deny_commands)
        if denied is not None:
            return RuleDecision("decline", "deny_commands", f"command runs {denied!r}")
        writes = _is_write(request)
        paths = written_paths(request) if writes else None
        if writes and self.deny_writes_outside:
            if paths is None:
                return RuleDecision(
                    "decline", "deny_writes_outside", "the changed files are not known"
                )
            outside = [p for p in paths if not _inside(p, self.deny_writes_outside)]
            if outside:
                return RuleDecision(
                    "decline", "deny_writes_outside", f"{outside[0]} is outside the folders"
                )
        network = getattr(request, "network_approval_context", None)
        if network is not None:
            host = str(network.host).lower().rstrip(".")
            if host in self.allow_network_hosts:
                return RuleDecision("accept", "allow_network_hosts", f"{host} is allowed")
            return None  # a network request is never settled by a command rule
        if words is not None and _plain_run(request):
            exact = _matching_exact(words, self.allow_exact)
            if exact is not None:
                return RuleDecision("accept", "allow_exact", f"command is {exact}")
            prefix = _matching(words, self.allow_commands)
            if prefix is not None:
                return RuleDecision("accept", "allow_commands", f"command starts with {prefix!r}")
        if (
            writes
            and paths
            and self.allow_writes_inside
            and all(_inside(p, self.allow_writes_inside) for p in paths)
        ):
            return RuleDecision("accept", "allow_writes_inside", "every path is inside")
        return None


_DEFAULT = RuleDecision("decline", "default", "no rule settled it and there is no ask=")


def _discard(pending: Awaitable[Any]) -> None:
    close = getattr(pending, "close", None)
    if close is not None:
        close()  # never awaited: close it so Python does not warn about it


def _read_command(request: Any) -> tuple[list[str] | None, str]:
    """The words of the command ``request`` carries, or ``None`` and why (``""``: no command)."""
    command = getattr(request, "command", None)
    if command is None:
        # A plain run must say what it runs; other kinds (a human checkpoint) may not.
        missing = hasattr(request, "command") and _plain_run(request)
        return None, "the command is not given" if missing else ""
    if not isinstance(command, (str, list)):
        return None, f"the command is a {type(command).__name__}"
    try:
        return parse_command(command), ""
    except CommandNotUnderstood as exc:
        return None, f"with deny rules, a command the rules cannot parse: {exc}"


def _plain_run(request: Any) -> bool:
    """Whether ``request`` asks to run a command, not to type into one or a human checkpoint."""
    kind = getattr(request, "kind", "command")
    return str(getattr(kind, "value", kind)) == "command"


def written_paths(request: Any) -> list[Path] | None:
    """Every path a file-change request would write (moves' destinations and the root it asks
    to write under included), or ``None`` when they cannot all be seen."""
    paths = _changed_paths(request)
    grant_root = getattr(request, "grant_root", None)
    if paths is None or not grant_root:
        return paths
    root = _server_path(grant_root)
    return None if root is None else [*paths, root]


def _changed_paths(request: Any) -> list[Path] | None:
    changes = getattr(request, "file_changes", None)  # the legacy applyPatchApproval
    if isinstance(changes, dict):
        return _paths_of((path, change) for path, change in changes.items())
    item_id = getattr(request, "item_id", None)
    watch, inbox = _watch_of(request)
    if watch is None or item_id is None:
        return None
    # Parallel requests of one turn share the watch: one drains, the others read its findings.
    with watch.lock:
        watch.read(inbox)
        return watch.known.get(item_id)


def _paths_of(changes: Iterable[tuple[Any, Any]]) -> list[Path] | None:
    """The paths written by ``(path, kind)`` pairs; ``None`` if any is not understood."""
    paths: list[Path] = []
    for path, kind in changes:
        kind_type = kind.get("type") if isinstance(kind, dict) else getattr(kind, "type", None)
        if kind_type not in ("add", "delete", "update"):
            return None  # a newer kind may write somewhere this SDK cannot see
        if isinstance(kind, dict):
            if not set(kind) <= {"type", "move_path"}:
                return None  # a field this SDK does not know may name another destination
            move = kind.get("move_path")
        else:
            move = getattr(kind, "move_path", None)
        for written in (path, move) if move else (path,):
            resolved = _server_path(written)
            if resolved is None:
                return None
            paths.append(resolved)
    return paths


def _server_path(path: Any) -> Path | None:
    """A path the server named, resolved; ``None`` unless it is an absolute path string."""
    if not isinstance(path, str) or not PurePath(path).is_absolute():
        return None
    return Path(path).resolve()


def _is_write(request: Any) -> bool:
    return type(request).__name__ in ("FileChangeRequestApprovalParams", "ApplyPatchApprovalParams")


@dataclass
class _Watch:
    """What the rules know of one watched turn; ``loop`` is set for an asyncio inbox.

    ``known`` holds every path each file-change item reported (its ``item/started`` and every
    ``patchUpdated`` since), ``accepted`` the paths the rules accepted per item, and
    ``flagged`` why an update went beyond an accepted item.
    """

    loop: asyncio.AbstractEventLoop | None
    known: dict[Any, list[Path] | None] = field(default_factory=dict)
    accepted: dict[Any, list[Path]] = field(default_factory=dict)
    flagged: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, inbox: Any) -> None:
        """Take in every event waiting in ``inbox`` (on a handler thread, never the loop)."""
        if self.loop is None:
            events = _drain_sync(inbox)
        else:
            events = asyncio.run_coroutine_threadsafe(_drain_async(inbox), self.loop).result(
                _DRAIN_TIMEOUT
            )
        for event in events:
            self._take(event.method, event.params)

    def _take(self, method: str, params: dict[str, Any]) -> None:
        if method == "item/started":
            item = params.get("item") or {}
            if item.get("type") != "fileChange":
                return
            item_id, changes = item.get("id"), item.get("changes")
        elif method == "item/fileChange/patchUpdated":
            item_id, changes = params.get("itemId"), params.get("changes")
        else:
            return
        reported = None
        if isinstance(changes, list) and all(isinstance(c, dict) for c in changes):
            reported = _paths_of((c.get("path"), c.get("kind") or {}) for c in changes)
        before = self.known.get(item_id, [])
        # A later report need not repeat the files an earlier one named: keep the union.
        merged = None if reported is None or before is None else [*before, *reported]
        self.known[item_id] = merged
        accepted = self.accepted.get(item_id)
        if accepted is not None and self.flagged is None:
            beyond = [str(p) for p in reported or () if p not in accepted]
            if reported is None or beyond:
                what = ", ".join(beyond) or "paths it cannot read"
                self.flagged = f"an update to accepted file change {item_id} added {what}"
                logger.warning("approval rules: %s; the turn's next request is cancelled", what)


def _watch_of(request: Any) -> tuple[_Watch | None, Any]:
    key = (getattr(request, "thread_id", None), getattr(request, "turn_id", None))
    inbox = _WATCHED.get(key)
    return (None if inbox is None else _WATCHES.get(inbox)), inbox


def _flagged_update(request: Any) -> str | None:
    """Why the request's turn is cancelled, if an accepted file change grew since."""
    watch, inbox = _watch_of(request)
    if watch is None:
        return None
    with watch.lock:
        watch.read(inbox)
        return watch.flagged


def _remember_accepted(request: Any, decision: ApprovalDecision) -> None:
    """Note the paths of a file change that was let through, to catch updates that add more."""
    if not _is_write(request) or decision in (False, "decline", "cancel"):
        return
    watch, _ = _watch_of(request)
    item_id = getattr(request, "item_id", None)
    if watch is not None and item_id is not None:
        with watch.lock:
            watch.accepted[item_id] = watch.known.get(item_id) or []


#: Each watched turn's inbox by (thread id, turn id), and what is known of it. Both entries
#: go once the turn ends: the router then drops the only strong reference to the inbox.
_WATCHED: weakref.WeakValueDictionary[tuple[Any, Any], Any] = weakref.WeakValueDictionary()
_WATCHES: weakref.WeakKeyDictionary[Any, _Watch] = weakref.WeakKeyDictionary()
_DRAIN_TIMEOUT = 10.0


def watch_turn(
    inbox: Any, thread_id: str, turn_id: str, loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Let rules read ``inbox``, a subscription to one turn, to find its file changes.

    ``loop`` is the event loop of an asyncio inbox (its events are read on that loop).
    """
    _WATCHES[inbox] = _Watch(loop)
    _WATCHED[(thread_id, turn_id)] = inbox


def wants_watch(*handlers: Any) -> bool:
    """Whether the first handler that is set is a rule set needing file-change paths."""
    for handler in handlers:
        if handler is not None:
            return isinstance(handler, ApprovalRules) and handler.watches_writes
    return False


def _drain_sync(inbox: Any) -> list[Notification]:
    events = []
    with contextlib.suppress(RequestTimeoutError, TransportClosedError):
        while True:
            events.append(inbox.get(0))
    return events


async def _drain_async(inbox: Any) -> list[Notification]:
    events = []
    with contextlib.suppress(RequestTimeoutError, TransportClosedError):
        while True:
            # A zero timeout would give up before even a waiting event is taken.
            events.append(await inbox.get(0.01))
    return events


def _words(prefix: str | Sequence[str]) -> list[str]:
    words = shlex.split(prefix) if isinstance(prefix, str) else [str(w) for w in prefix]
    if not words:
        raise ValueError("an empty command prefix would match every command")
    return words


def _exact(command: ExactCommand) -> list[ExactWord]:
    words: list[ExactWord] = (
        list(shlex.split(command)) if isinstance(command, str) else list(command)
    )
    if not words:
        raise ValueError("an empty exact command would match nothing; remove it")
    for word in words:
        if not isinstance(word, (str, re.Pattern)):
            raise TypeError(f"allow_exact words are strings or re.compile() patterns, not {word!r}")
    return words


def _matching(words: list[str], prefixes: list[list[str]]) -> str | None:
    for prefix in prefixes:
        if words[: len(prefix)] == prefix:
            return shlex.join(prefix)
    return None


def _matching_exact(words: list[str], commands: list[list[ExactWord]]) -> str | None:
    for command in commands:
        if len(command) == len(words) and all(
            word == want if isinstance(want, str) else want.fullmatch(word) is not None
            for word, want in zip(words, command, strict=True)
        ):
            return " ".join(w if isinstance(w, str) else f"/{w.pattern}/" for w in command)
    return None


def _denied(words: list[str], prefixes: list[list[str]]) -> str | None:
    """The deny prefix ``words`` run: same program base name, the other words in order."""
    for prefix in prefixes:
        # Case folded: on a case-insensitive file system `/bin/RM` runs rm.
        if _base(words[0]).casefold() != _base(prefix[0]).casefold():
            continue
        rest = iter(words[1:])
        if all(any(word == wanted for word in rest) for wanted in prefix[1:]):
            return shlex.join(prefix)
    return None


def _resolve(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)
