"""``python -m codex_app_server run "prompt"``: one turn, rendered for a terminal or as JSON lines.

The human rendering prints the agent's message as its deltas arrive, each command with its
output, file changes, and a closing summary with the token usage the server reported in
``thread/tokenUsage/updated``. ``--json`` prints every event of the turn as one JSON object per
line instead. Approvals are asked on the terminal (``--approve ask``, the default when stdin is
a terminal) or answered by ``--approve all`` / ``--approve none``.

Everything the server or the model wrote passes through :func:`~._escape.printable` before a
terminal sees it, and an approval shows everything it would allow before it is asked for.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shlex
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ._escape import json_line, printable
from ._sync.api import Codex
from .approvals import ApprovalDecision
from .config import CodexConfig
from .errors import CodexError

__all__ = ["main"]

#: Environment variable holding the bearer token for ``--url`` (kept off the command line).
TOKEN_VARIABLE = "CODEX_APP_SERVER_TOKEN"
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
#: Longest wait for an approval's item to arrive before deciding without it.
ITEM_WAIT = 2.0
#: The question under every approval shown on the terminal.
QUESTION = "Allow? [y/N] "


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codex_app_server", description="Drive a Codex app-server from a terminal."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one turn and show it as it happens")
    run.add_argument("prompt", help="what to ask; '-' reads it from stdin")
    run.add_argument("--json", action="store_true", help="print events as JSON lines")
    run.add_argument(
        "--approve",
        choices=("ask", "all", "none"),
        help="answer approval requests by asking on the terminal (default when stdin is one), "
        "accepting or declining",
    )
    run.add_argument("--resume", metavar="THREAD_ID", help="continue a stored thread")
    run.add_argument("--model", help="the model to use")
    run.add_argument("--cwd", type=Path, help="the app-server's working directory")
    run.add_argument("--codex-bin", type=Path, help="the codex executable to launch")
    run.add_argument(
        "--url",
        help=f"connect to an app-server at ws://HOST:PORT instead (token from ${TOKEN_VARIABLE})",
    )
    doctor = commands.add_parser("doctor", help="check that the SDK can run here, and say why not")
    doctor.add_argument("--codex-bin", type=Path, help="check this codex executable instead")
    return parser


class Terminal:
    """Where the run writes: its output, its notes (approvals decided without asking), a lock.

    The lock keeps an approval's lines and question together, never interleaved with output.
    """

    def __init__(self, out: TextIO, notes: TextIO) -> None:
        self.out = out
        self.notes = notes
        self.lock = threading.Lock()
        self.color = out.isatty() and "NO_COLOR" not in os.environ

    def style(self, text: str, code: str) -> str:
        """``text`` in an ANSI style when writing to a colour terminal."""
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def write(self, text: str, stream: TextIO | None = None) -> None:
        """Write and flush at once: deltas must show as they arrive."""
        with self.lock:
            target = self.out if stream is None else stream
            target.write(text)
            target.flush()


class Console:
    """The terminal approvals are asked on: ``/dev/tty`` (the console on Windows).

    Never stdin, which may be the prompt's pipe. An answer is read on a daemon thread, so a
    question still open when the run ends (Ctrl-C) neither keeps the process alive nor is
    answered by anyone: :meth:`close` makes it a decline.
    """

    def __init__(self, reader: TextIO, writer: TextIO) -> None:
        self.reader = reader
        self.writer = writer
        self._closed = False
        self._pending: queue.Queue[str] | None = None
        self._reading: threading.Thread | None = None
        self._guard = threading.Lock()

    @classmethod
    def open(cls) -> Console:
        """The process's terminal; ``OSError`` when it has none."""
        if sys.platform == "win32":
            reader, writer = "CONIN$", "CONOUT$"
        else:
            reader = writer = "/dev/tty"
        source = open(reader, encoding="utf-8", errors="replace")  # noqa: SIM115 (kept open)
        try:
            sink = open(writer, "w", encoding="utf-8")  # noqa: SIM115 (kept open)
        except OSError:
            source.close()
            raise
        return cls(source, sink)

    def ask(self, lines: Sequence[str], question: str) -> bool:
        """Show ``lines`` and ``question``; true only for ``y`` or ``yes``.

        Keys typed before the question was shown are discarded first: a ``y`` meant for an
        earlier question must not answer one nobody has read.
        """
        box: queue.Queue[str] = queue.Queue()
        with self._guard:
            if self._closed:
                return False
            self._pending = box
        try:
            # Discarded before the question shows, never after: a flush after it could also
            # drop a Ctrl-C typed as it appears, before the terminal had turned it into SIGINT.
            self._discard_typeahead()
            self.writer.write("".join(f"{line}\n" for line in lines) + question)
            self.writer.flush()
            reading = threading.Thread(target=lambda: box.put(self.reader.readline()), daemon=True)
            with self._guard:
                self._reading = reading
            reading.start()
            answer = box.get()
            if not answer.endswith("\n"):
                self.writer.write("\n")  # end of input, or closed: the next output on its line
                self.writer.flush()
        finally:
            with self._guard:
                self._pending = None
        return answer.strip().lower() in ("y", "yes")

    def _discard_typeahead(self) -> None:
        # The Windows console keeps no line typed ahead of a read that is not running.
        if sys.platform != "win32":
            import termios

            # Not a terminal after all (a test's stand-in): then nothing was typed ahead.
            with contextlib.suppress(OSError, termios.error, ValueError):
                termios.tcflush(self.reader.fileno(), termios.TCIFLUSH)

    def close(self) -> None:
        """Decline the open question, if any, and every later one; close the terminal.

        With a question open, its reader thread still holds the terminal, until the process
        exits.
        """
        with self._guard:
            self._closed = True
            if self._pending is not None:
                self._pending.put("")
            if self._pending is not None or (self._reading and self._reading.is_alive()):
                return  # closing a file another thread reads would wait for that read
        self.reader.close()
        self.writer.close()


class Unclear(Exception):
    """An approval request the prompt cannot show in full; it is declined, saying why."""


def approval_lines(request: Any, item: Mapping[str, Any] | None) -> list[str]:
    """What an approval request would allow, as escaped lines: a headline, then details.

    ``item`` is the request's item as the stream last showed it (a file change's paths and
    diff are there, not in the request). Fields the prompt does not otherwise show are listed
    as JSON, so nothing the server sends is hidden. Raises :class:`Unclear` when the request
    cannot be shown in full.
    """
    from .generated import (
        ApplyPatchApprovalParams,
        CommandExecutionRequestApprovalParams,
        ExecCommandApprovalParams,
        FileChangeRequestApprovalParams,
        PermissionsRequestApprovalParams,
    )

    wire = _wire(request)
    for routing in ("threadId", "turnId", "itemId", "startedAtMs", "approvalId", "callId"):
        wire.pop(routing, None)
    wire.pop("conversationId", None)
    if isinstance(request, CommandExecutionRequestApprovalParams):
        lines = _command_lines(wire)
    elif isinstance(request, ExecCommandApprovalParams):
        argv = wire.pop("command")
        wire.pop("parsedCmd", None)  # a summary; the command itself is shown
        lines = ["Run a command?", _field("command", shlex.join(argv))]
        lines.append(_field("cwd", wire.pop("cwd")))
    elif isinstance(request, FileChangeRequestApprovalParams):
        if item is None or not item.get("changes"):
            raise Unclear("the server did not say which files this change writes")
        lines = [f"Change {_count(item['changes'], 'file')}?"]
        lines += _changes_lines(item["changes"])
    elif isinstance(request, ApplyPatchApprovalParams):
        changes = wire.pop("fileChanges")
        lines = [f"Change {_count(changes, 'file')}?"]
        lines += _legacy_changes_lines(changes)
    elif isinstance(request, PermissionsRequestApprovalParams):
        lines = ["Grant these permissions?", *_permission_lines(wire.pop("permissions"))]
        lines.append(_field("cwd", wire.pop("cwd")) + " (relative paths resolve against it)")
    else:
        raise Unclear(f"this CLI cannot show a {type(request).__name__} request")
    root = wire.pop("grantRoot", None)
    if root is not None:
        lines.append(_field("and allow writes under", root) + " for the rest of the session")
    if wire.get("environmentId") in (None, "local"):
        wire.pop("environmentId", None)
    reason = wire.pop("reason", None)
    for name, value in wire.items():
        if value is not None:
            lines.append(_field(name, json_line(value)))
    if reason:
        lines.append(_field("reason", reason))
    return lines


def _command_lines(wire: dict[str, Any]) -> list[str]:
    kind = wire.pop("kind", "command") or "command"
    headline = {
        "command": "Run a command?",
        "writeStdin": "Send input to a running command?",
        "humanCommand": "Run a command at a managed checkpoint?",
    }.get(kind, f"Allow a {kind!r} request?")
    # The exact command, not the server's best-effort summary of it.
    for shown_otherwise in ("commandActions", "availableDecisions"):
        wire.pop(shown_otherwise, None)
    # Proposed amendments only apply when answered with them; this prompt answers yes or no.
    for not_applied in ("proposedExecpolicyAmendment", "proposedNetworkPolicyAmendments"):
        wire.pop(not_applied, None)
    lines = [headline]
    command = wire.pop("command", None)
    if command is not None:
        lines.append(_field("command", command))
    cwd = wire.pop("cwd", None)
    if cwd is not None:
        lines.append(_field("cwd", cwd))
    network = wire.pop("networkApprovalContext", None)
    if network is not None:
        lines.append(_field("network", f"{network.get('host')} ({network.get('protocol')})"))
    return lines


def _changes_lines(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for change in changes:
        rest = dict(change)
        kind = rest.pop("kind", None) or {}
        verb = kind.get("type", "change") if isinstance(kind, Mapping) else str(kind)
        lines.append(_field(verb, rest.pop("path", "?")))
        move = kind.get("move_path") if isinstance(kind, Mapping) else None
        if move:
            lines.append(_field("moved to", move))
        if isinstance(kind, Mapping) and set(kind) - {"type", "move_path"}:
            lines.append(_field("kind", json_line(kind)))  # a kind of change this CLI predates
        lines += _diff_lines(rest.pop("diff", None) or "")
        lines += [_field(name, json_line(value)) for name, value in rest.items()]
    return lines


def _legacy_changes_lines(changes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = []
    for path, change in changes.items():
        lines.append(_field(change.get("type", "change"), path))
        if change.get("move_path"):
            lines.append(_field("moved to", change["move_path"]))
        lines += _diff_lines(change.get("unified_diff") or change.get("content") or "")
    return lines


def _permission_lines(permissions: Mapping[str, Any]) -> list[str]:
    permissions = dict(permissions)
    lines = []
    network = permissions.pop("network", None) or {}
    if network.get("enabled"):
        lines.append(_field("network", "enabled"))
    files = dict(permissions.pop("fileSystem", None) or {})
    listed = set()
    for entry in files.pop("entries", None) or []:
        access, where = entry.get("access"), entry.get("path") or {}
        if where.get("type") == "path":
            listed.add((access, where.get("path")))
            lines.append(_field(access, where.get("path")))
        elif where.get("type") == "glob_pattern":
            lines.append(_field(access, f"files matching {where.get('pattern')}"))
        else:
            lines.append(_field(access, json_line(where)))
    for access in ("read", "write"):
        for path in files.pop(access, None) or []:
            if (access, path) not in listed:
                lines.append(_field(access, path))
    for name, value in {**files, **permissions}.items():
        if value is not None:
            lines.append(_field(name, json_line(value)))
    if not lines:
        lines.append("  (nothing in particular)")
    return lines


def _field(name: str, value: Any) -> str:
    """One detail line: the value escaped to a single line, so it can fake no other line."""
    return f"  {name}: {printable(str(value))}"


def _diff_lines(diff: str) -> list[str]:
    """A diff under a gutter, so none of its lines can pass for one of the prompt's."""
    return [f"    | {printable(line)}" for line in diff.rstrip("\n").split("\n") if diff]


def _count(things: Sequence[Any] | Mapping[str, Any], noun: str) -> str:
    return f"1 {noun}" if len(things) == 1 else f"{len(things)} {noun}s"


class Renderer:
    """Shows one turn's events (wire-form dicts), and decides its approvals on ``--approve``.

    ``choice`` is ``ask``, ``all`` or ``none``; ``console`` is the terminal to ask on (``None``
    when there is none, and then ``no_console`` says why); ``why_none`` says why ``none`` was
    chosen when the user did not choose it. ``item_wait`` bounds the wait for a request's item.
    """

    def __init__(
        self,
        terminal: Terminal,
        *,
        json_lines: bool = False,
        choice: str = "none",
        console: Console | None = None,
        no_console: str = "",
        why_none: str = "--approve none",
        item_wait: float = ITEM_WAIT,
    ) -> None:
        self.terminal = terminal
        self.json_lines = json_lines
        self.choice = choice
        self.console = console
        self.no_console = no_console
        self.why_none = why_none
        self.item_wait = item_wait
        self.streamed: dict[str, str] = {}
        self.turn_usage: dict[str, int] = {}
        self.thread_usage: Mapping[str, Any] = {}
        self.errors_shown: set[str] = set()
        self.at_line_start = True
        self._shown = threading.Condition()
        self._items: dict[str, dict[str, Any]] = {}

    def show(self, wire: Mapping[str, Any]) -> None:
        """Show one notification and keep the items approvals will ask about."""
        method, params = wire["method"], wire.get("params") or {}
        if self.json_lines:
            self.terminal.write(json_line(wire) + "\n")
        else:
            self.event(method, params)
        if method == "item/started":
            started = dict(params.get("item") or {})
            with self._shown:
                self._items[started.get("id", "")] = started
                self._shown.notify_all()
        elif method == "item/fileChange/patchUpdated":
            with self._shown:
                if (changed := self._items.get(params.get("itemId", ""))) is not None:
                    changed["changes"] = params.get("changes")

    def approve(self, request: Any) -> ApprovalDecision:
        """Decide ``request`` as ``--approve`` says, after showing what it would allow.

        Runs on a worker thread while the stream is shown on the main one; waiting until the
        request's item is on screen keeps the question after it (and a file change's paths
        and diff come from that item).
        """
        item_id = getattr(request, "item_id", None)
        item: dict[str, Any] | None = None
        # A permissions request has no item of its own to wait for.
        if item_id is not None and not hasattr(request, "permissions"):
            with self._shown:
                self._shown.wait_for(lambda: item_id in self._items, timeout=self.item_wait)
                item = self._items.get(item_id)
        try:
            lines = approval_lines(request, item)
        except Unclear as exc:
            self._note([f"Approval requested ({type(request).__name__})", f"  declined: {exc}"])
            return "decline"
        lines[0] = self.terminal.style(lines[0], "1;33")
        if self.choice == "all":
            self._note([*lines, "  accepted (--approve all)"])
            return "accept"
        if self.choice == "none":
            self._note([*lines, f"  declined ({self.why_none})"])
            return "decline"
        if self.console is None:
            self._note([*lines, f"  declined: {self.no_console}"])
            return "decline"
        if not self.json_lines:
            self._end_line()
        with self.terminal.lock:
            self.terminal.out.flush()
            accepted = self.console.ask(lines, QUESTION)
        if not self.terminal.notes.isatty():
            # The question went to the terminal only; the redirected output keeps a record.
            self._note([*lines, f"  {'accepted' if accepted else 'declined'} on the terminal"])
        return accepted

    def _note(self, lines: Sequence[str]) -> None:
        if not self.json_lines:
            self._end_line()
        self.terminal.write("".join(f"{line}\n" for line in lines), self.terminal.notes)
        if not self.json_lines:
            self.at_line_start = True

    def _write(self, text: str) -> None:
        if text:
            self.terminal.write(text)
            self.at_line_start = text.endswith("\n")

    def _line(self, text: str) -> None:
        self._end_line()
        self._write(text + "\n")

    def _end_line(self) -> None:
        if not self.at_line_start:
            self._write("\n")

    def event(self, method: str, params: Mapping[str, Any]) -> None:
        """Render one notification."""
        item = params.get("item") or {}
        kind = item.get("type")
        style = self.terminal.style
        if method == "item/agentMessage/delta":
            self._delta(params, "")
        elif method == "item/completed" and kind == "agentMessage":
            self._whole(item, item.get("text") or "", "")
            self._end_line()
        elif method == "item/started" and kind == "commandExecution":
            self._line(style(f"$ {printable(str(item.get('command', '')))}", "1"))
        elif method == "item/commandExecution/outputDelta":
            self._delta(params, "2")
        elif method == "item/completed" and kind == "commandExecution":
            self._whole(item, item.get("aggregatedOutput") or "", "2")
            self._line(style(_command_outcome(item), "2"))
        elif method == "item/completed" and kind == "fileChange":
            applied = item.get("status") == "completed"
            for change in item.get("changes") or []:
                moved = (change.get("kind") or {}).get("move_path")
                text = printable(str(change.get("path")))
                if moved:
                    text += f" (moved to {printable(str(moved))})"
                self._line(style(f"edited {text}" if applied else f"not applied: {text}", "1"))
        elif method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage") or {}
            for key, value in (usage.get("last") or {}).items():
                if isinstance(value, int):
                    self.turn_usage[key] = self.turn_usage.get(key, 0) + value
            self.thread_usage = usage.get("total") or {}
        elif method == "error":
            error = params.get("error") or {}
            if params.get("willRetry"):
                self._line(style(f"retrying: {_error_text(error)}", "33"))
            else:
                self.errors_shown.add(str(error.get("message")))
                self._line(style(f"error: {_error_text(error)}", "31"))

    def _delta(self, params: Mapping[str, Any], code: str) -> None:
        """Show a piece of an item's text as it arrives, and keep it to check the whole."""
        item_id, delta = params.get("itemId", ""), params.get("delta", "")
        self.streamed[item_id] = self.streamed.get(item_id, "") + delta
        self._write(self._styled(printable(delta, lines=True), code))

    def _whole(self, item: Mapping[str, Any], whole: str, code: str) -> None:
        """Show what of an item's final text its deltas did not.

        The server can leave part of it out of the deltas (a command's first chunk, say);
        what was missing at the end is added, anything else is shown again in full.
        """
        streamed = self.streamed.pop(item.get("id", ""), "")
        if whole.startswith(streamed):
            self._write(self._styled(printable(whole[len(streamed) :], lines=True), code))
        elif whole:
            self._line(self._styled("(in full; part of it was not streamed:)", "2"))
            self._write(self._styled(printable(whole, lines=True), code))

    def _styled(self, text: str, code: str) -> str:
        return self.terminal.style(text, code) if code and text else text

    def summary(self, turn: Mapping[str, Any], thread_id: str) -> None:
        """The closing lines: outcome, duration, token usage and how to continue."""
        status = str(turn.get("status"))
        error = turn.get("error") or {}
        if error and str(error.get("message")) not in self.errors_shown:
            self._line(self.terminal.style(f"error: {_error_text(error)}", "31"))
        seconds = (turn.get("durationMs") or 0) / 1000
        usage = self.turn_usage
        tokens = (
            f"tokens: {usage.get('inputTokens', 0)} in ({usage.get('cachedInputTokens', 0)} "
            f"cached), {usage.get('outputTokens', 0)} out, {usage.get('totalTokens', 0)} total"
        )
        if self.thread_usage:
            tokens += f" (thread: {self.thread_usage.get('totalTokens', 0)})"
        timing = f"in {seconds:.1f} s" if status == "completed" else f"after {seconds:.1f} s"
        code = "32" if status == "completed" else "31"
        self._line(self.terminal.style(f"-- {printable(status)} {timing} | {tokens}", code))
        self._line(resume_line(thread_id))


def resume_line(thread_id: str) -> str:
    """The line saying how to continue the thread."""
    shown = printable(thread_id)
    return f"-- thread {shown} (continue with --resume {shown})"


def _error_text(error: Mapping[str, Any]) -> str:
    """A turn error on one line: its message, then the code and details the server gave."""
    text = printable(str(error.get("message") or "unknown error"))
    info = error.get("codexErrorInfo")
    if info is not None:
        text += f" [{printable(info if isinstance(info, str) else json_line(info))}]"
    if error.get("additionalDetails"):
        text += f" ({printable(str(error['additionalDetails']))})"
    return text


def _command_outcome(item: Mapping[str, Any]) -> str:
    if item.get("exitCode") is None:
        return f"[{printable(str(item.get('status')))}]"
    duration = item.get("durationMs")
    return f"[exit {item['exitCode']}{f', {duration} ms' if duration is not None else ''}]"


def _wire(event: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def _config(args: argparse.Namespace) -> CodexConfig:
    # With --url, CodexConfig refuses --codex-bin/--cwd rather than ignoring them.
    token = os.environ.get(TOKEN_VARIABLE) if args.url is not None else None
    return CodexConfig(codex_bin=args.codex_bin, cwd=args.cwd, url=args.url, ws_token=token or None)


def _renderer(args: argparse.Namespace, stdin: TextIO, terminal: Terminal) -> Renderer:
    """The renderer, with the approval policy ``--approve`` (or its default) asks for."""
    choice = args.approve
    why_none = "--approve none"
    if choice is None:
        choice = "ask" if stdin.isatty() else "none"
        why_none = (
            "stdin is not a terminal, so nothing was asked; --approve ask asks on the "
            "terminal, --approve all accepts"
        )
    console, no_console = None, ""
    if choice == "ask":
        try:
            console = Console.open()
        except OSError as exc:
            where = "the console" if sys.platform == "win32" else "/dev/tty"
            no_console = f"there is no terminal to ask on ({where}: {exc.strerror or exc})"
    return Renderer(
        terminal,
        json_lines=args.json,
        choice=choice,
        console=console,
        no_console=no_console,
        why_none=why_none,
    )


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Run one turn as the ``run`` command describes; return the exit status."""
    prompt = stdin.read() if args.prompt == "-" else args.prompt
    terminal = Terminal(stdout, stderr if args.json else stdout)
    renderer = _renderer(args, stdin, terminal)
    options = {"model": args.model} if args.model else {}
    thread_id: str | None = None
    final: Mapping[str, Any] = {}
    try:
        with Codex(_config(args), approval_handler=renderer.approve) as codex:
            if args.resume:
                thread = codex.thread_resume(args.resume, **options)
            else:
                thread = codex.thread_start(**options)
            thread_id = thread.id
            handle = thread.turn(prompt)
            for event in handle.stream():
                wire = _wire(event)
                renderer.show(wire)
                if wire["method"] == "turn/completed":
                    final = wire["params"]["turn"]
            if not args.json:
                renderer.summary(final, thread.id)
    except KeyboardInterrupt:
        if renderer.console is not None:
            renderer.console.close()
        stderr.write("\ninterrupted\n")
        if thread_id is not None:
            terminal.write(resume_line(thread_id) + "\n", terminal.notes)
        return EXIT_INTERRUPTED
    finally:
        if renderer.console is not None:
            renderer.console.close()
    status = final.get("status")
    if status == "completed":
        return 0
    return EXIT_INTERRUPTED if status == "interrupted" else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """The command line's entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        from .doctor import report

        return report(args.codex_bin)
    try:
        return run(args, sys.stdin, sys.stdout, sys.stderr)
    except (CodexError, ImportError, ValueError) as exc:
        sys.stderr.write(f"error: {printable(str(exc), lines=True)}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
