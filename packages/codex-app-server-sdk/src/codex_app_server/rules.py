"""Declarative approval rules: decide approval requests locally, and log why.

:class:`ApprovalRules` is an approval handler built from a few lists::

    rules = ApprovalRules(
        allow_commands=["git status", "pytest -q"],
        deny_writes_outside=[project_dir],
        ask=my_handler,  # everything no rule settles; the default declines
    )
    thread = codex.thread_start(approval_handler=rules)

The rules are checked in a fixed order and the first that applies decides:

1. ``deny_commands``: a command starting with one of these prefixes is declined.
2. ``deny_writes_outside``: a file change touching a path outside every one of these folders
   (or whose paths cannot be seen) is declined.
3. ``allow_commands``: a command starting with one of these prefixes is accepted, unless it
   chains further commands or redirects output (``;``, ``&&``, ``|``, ``>``, ``$(...)``...).
4. ``allow_writes_inside``: a file change whose paths are all inside these folders is accepted.
5. ``ask``: any approval handler decides the rest (default: decline).

Every decision is logged on the ``codex_app_server`` logger with the rule that made it.

A file-change approval request does not carry the files; they are on the ``fileChange`` item
announced just before it. Rules given as a client's or thread's ``approval_handler`` see those
items: the SDK watches each turn's items for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ._protocol import Notification
from .approvals import ApprovalDecision, ApprovalHandler
from .errors import RequestTimeoutError, TransportClosedError

__all__ = ["ApprovalRules", "RuleDecision", "command_words", "watch_turn"]

logger = logging.getLogger("codex_app_server")

_SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
# Anything that could run a second command or write a file hides behind an allowed prefix.
_CONTROL = re.compile(r"[;&|<>`\n]|\$\(")


@dataclass(frozen=True)
class RuleDecision:
    """What the rules decided: ``decision`` (as an approval handler returns it), the ``rule``
    that decided (``"deny_commands"``, ..., ``"ask"``, ``"default"``) and why (``reason``)."""

    decision: ApprovalDecision
    rule: str
    reason: str


class ApprovalRules:
    """An approval handler made of declarative rules; see the module documentation.

    Folders are compared after resolving symlinks and ``..``; command prefixes are compared
    word by word (``"git status"`` matches ``git status --short``, not ``git statusx``).
    """

    def __init__(
        self,
        *,
        allow_commands: Iterable[str | Sequence[str]] = (),
        deny_commands: Iterable[str | Sequence[str]] = (),
        allow_writes_inside: Iterable[str | os.PathLike[str]] = (),
        deny_writes_outside: Iterable[str | os.PathLike[str]] = (),
        ask: ApprovalHandler | None = None,
    ) -> None:
        self.allow_commands = [_words(prefix) for prefix in allow_commands]
        self.deny_commands = [_words(prefix) for prefix in deny_commands]
        self.allow_writes_inside = [_resolve(folder) for folder in allow_writes_inside]
        self.deny_writes_outside = [_resolve(folder) for folder in deny_writes_outside]
        self.ask = ask

    @property
    def watches_writes(self) -> bool:
        """Whether a rule needs the paths of file changes."""
        return bool(self.allow_writes_inside or self.deny_writes_outside)

    def __call__(self, request: Any) -> ApprovalDecision:
        """Decide ``request`` (typed approval params) and log the rule that decided."""
        outcome = self.decide(request)
        logger.info(
            "approval %s -> %r by rule %s: %s",
            type(request).__name__,
            outcome.decision,
            outcome.rule,
            outcome.reason,
        )
        return outcome.decision

    def decide(self, request: Any) -> RuleDecision:
        """The decision for ``request`` and the rule that made it, without logging."""
        words = command_words(request)
        paths = written_paths(request)
        if words is not None:
            prefix = _matching(words, self.deny_commands)
            if prefix is not None:
                return RuleDecision("decline", "deny_commands", f"command starts with {prefix!r}")
        if _is_write(request) and self.deny_writes_outside:
            if paths is None:
                return RuleDecision(
                    "decline", "deny_writes_outside", "the changed files are not known"
                )
            outside = [p for p in paths if not _inside(p, self.deny_writes_outside)]
            if outside:
                return RuleDecision(
                    "decline", "deny_writes_outside", f"{outside[0]} is outside the folders"
                )
        if words is not None:
            prefix = _matching(words, self.allow_commands)
            if prefix is not None:
                return RuleDecision("accept", "allow_commands", f"command starts with {prefix!r}")
        if (
            paths
            and self.allow_writes_inside
            and all(_inside(p, self.allow_writes_inside) for p in paths)
        ):
            return RuleDecision("accept", "allow_writes_inside", "every path is inside")
        if self.ask is not None:
            return RuleDecision(self.ask(request), "ask", "no rule settled it")
        return RuleDecision("decline", "default", "no rule settled it and there is no ask=")


def command_words(request: Any) -> list[str] | None:
    """The words of the command a request wants to run, shell wrappers removed.

    ``None`` when the request runs no command, or when the command is a shell script that
    chains or redirects (then no prefix may vouch for it).
    """
    command = getattr(request, "command", None)
    if isinstance(command, list):
        words = [str(word) for word in command]
    elif isinstance(command, str):
        words = _split(command)
    else:
        return None
    if len(words) == 3 and PurePath(words[0]).name in _SHELLS and words[1] in ("-c", "-lc"):
        words = _split(words[2])
    return words or None


def _split(command: str) -> list[str]:
    """A command line's words; none when it chains, pipes, redirects or cannot be parsed."""
    if _CONTROL.search(command):
        return []
    try:
        return shlex.split(command)
    except ValueError:
        return []


def written_paths(request: Any) -> list[Path] | None:
    """The files a file-change request would write (and the root it asks to write under),
    when they can be seen."""
    paths = _changed_paths(request)
    grant_root = getattr(request, "grant_root", None)
    if paths is None or not grant_root:
        return paths
    return [*paths, _resolve(grant_root)]


def _changed_paths(request: Any) -> list[Path] | None:
    changes = getattr(request, "file_changes", None)  # the legacy applyPatchApproval
    if isinstance(changes, dict):
        return [_resolve(path) for path in changes]
    item_id = getattr(request, "item_id", None)
    key = (getattr(request, "thread_id", None), getattr(request, "turn_id", None))
    inbox = _WATCHED.get(key) if _is_write(request) else None
    watch = None if inbox is None else _WATCHES.get(inbox)
    if inbox is None or watch is None or item_id is None:
        return None
    # Parallel requests of one turn share the watch: one drains, the others read its findings.
    with watch.lock:
        for event in watch.drain(inbox):
            item = event.params.get("item") or {}
            if item.get("type") == "fileChange" and event.method == "item/started":
                paths = [_resolve(change["path"]) for change in item.get("changes", [])]
                watch.known[item.get("id")] = paths
        return watch.known.get(item_id)


def _is_write(request: Any) -> bool:
    return type(request).__name__ in ("FileChangeRequestApprovalParams", "ApplyPatchApprovalParams")


@dataclass
class _Watch:
    """What the rules know of one watched turn; ``loop`` is set for an asyncio inbox."""

    loop: asyncio.AbstractEventLoop | None
    known: dict[Any, list[Path]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def drain(self, inbox: Any) -> list[Notification]:
        """Every event waiting in ``inbox`` (called on a handler thread, never the loop)."""
        if self.loop is None:
            return _drain_sync(inbox)
        return asyncio.run_coroutine_threadsafe(_drain_async(inbox), self.loop).result(
            _DRAIN_TIMEOUT
        )


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


def _matching(words: list[str], prefixes: list[list[str]]) -> str | None:
    for prefix in prefixes:
        if words[: len(prefix)] == prefix:
            return shlex.join(prefix)
    return None


def _resolve(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)
