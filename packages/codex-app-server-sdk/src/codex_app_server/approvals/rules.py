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
announced before it (and in its ``item/fileChange/patchUpdated`` updates). The connection that
reads those events keeps them (:class:`~codex_app_server.approvals._files.FileChanges`) and hands
them to rules installed as any approval handler of that client; rules called directly know only
what the request carries. An update that names a new path after the rules accepted its item
cancels the turn's next approval request (rule ``patch_updated``).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import shlex
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from ._commands import CommandNotUnderstood, base_name, parse_command
from ._decisions import ApprovalDecision, AsyncApprovalHandler
from ._files import FileChanges, paths_of, server_path

__all__ = ["ApprovalRules", "ExactCommand", "RuleDecision", "is_async_handler"]

logger = logging.getLogger("codex_app_server")

#: One word of an exact command: the word itself, or a pattern the whole word must match.
ExactWord: TypeAlias = str | re.Pattern[str]
#: An exact command for ``allow_exact``: a command line (split like a shell would) or words.
ExactCommand: TypeAlias = str | Sequence[ExactWord]


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
        return self._respond(request, None)

    def _respond(
        self, request: Any, files: FileChanges | None
    ) -> ApprovalDecision | Awaitable[ApprovalDecision]:
        """:meth:`__call__`, knowing what the connection saw of file changes (``files``)."""
        item_paths = files.paths(request) if files is not None and _is_write(request) else None
        outcome = self._settle(request, files, item_paths)
        if outcome is None:
            if self.ask is None:
                outcome = _DEFAULT
            else:
                decision = self.ask(request)
                if inspect.isawaitable(decision):
                    return self._finish_later(request, decision, files, item_paths)
                outcome = RuleDecision(decision, "ask", "no rule settled it")
        return self._final(request, outcome, files, item_paths)

    def decide(self, request: Any) -> RuleDecision:
        """The decision for ``request`` and the rule that made it, without logging.

        Raises ``TypeError`` when the decision is up to an asynchronous ``ask``.
        """
        outcome = self._settle(request, None, None)
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
        self,
        request: Any,
        pending: Awaitable[ApprovalDecision],
        files: FileChanges | None,
        item_paths: list[Path] | None,
    ) -> ApprovalDecision:
        decision = await pending
        outcome = RuleDecision(decision, "ask", "no rule settled it")
        return self._final(request, outcome, files, item_paths)

    @staticmethod
    def _final(
        request: Any,
        outcome: RuleDecision,
        files: FileChanges | None,
        item_paths: list[Path] | None,
    ) -> ApprovalDecision:
        if (
            files is not None
            and _is_write(request)
            and outcome.decision not in (False, "decline", "cancel")
        ):
            # Updates that name other paths than the ones let through must not slip by.
            files.accepted(request, item_paths or [])
        logger.info(
            "approval %s -> %r by rule %s: %s",
            type(request).__name__,
            outcome.decision,
            outcome.rule,
            outcome.reason,
        )
        return outcome.decision

    def _settle(
        self, request: Any, files: FileChanges | None, item_paths: list[Path] | None
    ) -> RuleDecision | None:
        """The decision of the first rule that applies; ``None`` leaves it to ``ask``.

        ``item_paths``: what ``files`` knows the file-change item of ``request`` writes.
        """
        flagged = None if files is None else files.flagged(request)
        if flagged is not None:
            return RuleDecision("cancel", "patch_updated", flagged)
        words, problem = _read_command(request)
        if self.deny_commands and problem:
            return RuleDecision("decline", "deny_commands", problem)
        denied = None if words is None else _denied(words, self.deny_commands)
        if denied is not None:
            return RuleDecision("decline", "deny_commands", f"command runs {denied!r}")
        writes = _is_write(request)
        paths = written_paths(request, item_paths) if writes else None
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


def _is_write(request: Any) -> bool:
    from ..generated import ApplyPatchApprovalParams, FileChangeRequestApprovalParams

    return isinstance(request, (FileChangeRequestApprovalParams, ApplyPatchApprovalParams))


def written_paths(request: Any, item_paths: list[Path] | None) -> list[Path] | None:
    """Every path a file-change request would write (moves' destinations and the root it asks
    to write under included), or ``None`` when they cannot all be seen.

    The legacy request carries its changes; the newer one's are its item's (``item_paths``).
    """
    from ..generated import ApplyPatchApprovalParams

    if isinstance(request, ApplyPatchApprovalParams):
        paths = paths_of(request.file_changes.items())
    else:
        paths = item_paths
    grant_root = getattr(request, "grant_root", None)
    if paths is None or not grant_root:
        return paths
    root = server_path(grant_root)
    return None if root is None else [*paths, root]


def is_async_handler(handler: Any) -> bool:
    """Whether ``handler`` answers with something to await: a coroutine function, an object
    whose ``__call__`` is one, or approval rules whose ``ask`` is."""
    if isinstance(handler, ApprovalRules):
        return handler.asynchronous
    call = type(handler).__call__ if callable(handler) else None
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


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
        if base_name(words[0]).casefold() != base_name(prefix[0]).casefold():
            continue
        rest = iter(words[1:])
        if all(any(word == wanted for word in rest) for wanted in prefix[1:]):
            return shlex.join(prefix)
    return None


def _resolve(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)
