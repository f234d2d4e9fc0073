"""``python -m codex_app_server run "prompt"``: one turn, rendered for a terminal or as JSON lines.

The human rendering prints the agent's message as its deltas arrive, each command with its
output, file changes, and a closing summary with the token usage the server reported in
``thread/tokenUsage/updated``. ``--json`` prints every event of the turn as one JSON object per
line instead. Approvals are asked on the terminal (``--approve ask``, the default when stdin is
a terminal) or answered by ``--approve all`` / ``--approve none``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .api import Codex
from .approvals import ApprovalDecision, ApprovalHandler, accept_all, decline_all
from .config import CodexConfig
from .errors import CodexError

__all__ = ["main"]

#: Environment variable holding the bearer token for ``--url`` (kept off the command line).
TOKEN_VARIABLE = "CODEX_APP_SERVER_TOKEN"
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
#: Longest wait for an approval's item to be shown before asking about it anyway.
ITEM_WAIT = 2.0


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
        help="answer approval requests by asking (default on a terminal), accepting or declining",
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
    """Where the run writes: output, plus one lock so approval prompts never interleave."""

    def __init__(self, out: TextIO, prompts: TextIO, answers: TextIO) -> None:
        self.out = out
        self.prompts = prompts
        self.answers = answers
        self.lock = threading.Lock()
        self.color = out.isatty() and "NO_COLOR" not in os.environ

    def style(self, text: str, code: str) -> str:
        """``text`` in an ANSI style when writing to a colour terminal."""
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def write(self, text: str) -> None:
        """Write and flush at once: deltas must show as they arrive."""
        with self.lock:
            self.out.write(text)
            self.out.flush()

    def ask(self, question: str) -> bool:
        """Ask a yes/no question; anything but y/yes (or end of input) is no."""
        with self.lock:
            self.out.flush()
            self.prompts.write(f"{question} [y/N] ")
            self.prompts.flush()
            answer = self.answers.readline()
            if not answer:
                self.prompts.write("\n")
        return answer.strip().lower() in ("y", "yes")


def describe_approval(request: Any) -> str:
    """One line saying what an approval request wants to do."""
    wire = _wire(request)
    reason = wire.get("reason")
    if isinstance(wire.get("command"), str):
        text = f"Run `{_command_text(wire)}`"
    elif type(request).__name__.startswith(("FileChange", "ApplyPatch")):
        text = "Apply the proposed file changes"
    else:
        text = "Grant the requested permissions"
    return f"{text} ({reason})?" if reason else f"{text}?"


def approval_policy(choice: str, renderer: Renderer) -> ApprovalHandler:
    """The approval handler for ``--approve``."""
    if choice == "all":
        return accept_all
    if choice == "none":
        return decline_all
    return renderer.ask


class Renderer:
    """Shows one turn's events (wire-form dicts): readable terminal output, or JSON lines."""

    def __init__(self, terminal: Terminal, *, json_lines: bool = False) -> None:
        self.terminal = terminal
        self.json_lines = json_lines
        self.streamed: set[str] = set()
        self.turn_usage: dict[str, int] = {}
        self.thread_usage: Mapping[str, Any] = {}
        self.at_line_start = True
        self._shown = threading.Condition()
        self._started: set[str] = set()

    def show(self, wire: Mapping[str, Any]) -> None:
        """Show one notification and note which items have started."""
        method, params = wire["method"], wire.get("params") or {}
        if self.json_lines:
            self._write(json.dumps(wire, ensure_ascii=False) + "\n")
        else:
            self.event(method, params)
        if method == "item/started":
            with self._shown:
                self._started.add((params.get("item") or {}).get("id", ""))
                self._shown.notify_all()

    def ask(self, request: Any) -> ApprovalDecision:
        """Ask on the terminal whether to approve ``request`` (an approval handler).

        Approvals are answered on a worker thread while the stream is shown on the main one;
        waiting until the item asked about is on screen keeps the question after it.
        """
        item_id = getattr(request, "item_id", None)
        if item_id is not None:
            with self._shown:
                self._shown.wait_for(lambda: item_id in self._started, timeout=ITEM_WAIT)
        if not self.json_lines:
            self._end_line()
        question = self.terminal.style(describe_approval(request), "1;33")
        return self.terminal.ask(question)

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
            self.streamed.add(params.get("itemId", ""))
            self._write(params.get("delta", ""))
        elif method == "item/completed" and kind == "agentMessage":
            if item.get("id") not in self.streamed:
                self._write(item.get("text", ""))
            self._end_line()
        elif method == "item/started" and kind == "commandExecution":
            self._line(style(f"$ {_command_text(item)}", "1"))
        elif method == "item/commandExecution/outputDelta":
            self.streamed.add(params.get("itemId", ""))
            self._write(style(params.get("delta", ""), "2"))
        elif method == "item/completed" and kind == "commandExecution":
            # A quick command may report its output only here, not as deltas.
            if item.get("id") not in self.streamed:
                self._write(style(item.get("aggregatedOutput") or "", "2"))
            self._line(style(_command_outcome(item), "2"))
        elif method == "item/completed" and kind == "fileChange":
            applied = item.get("status") == "completed"
            for change in item.get("changes") or []:
                path = change.get("path")
                self._line(style(f"edited {path}" if applied else f"not applied: {path}", "1"))
        elif method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage") or {}
            for key, value in (usage.get("last") or {}).items():
                if isinstance(value, int):
                    self.turn_usage[key] = self.turn_usage.get(key, 0) + value
            self.thread_usage = usage.get("total") or {}
        elif method == "error":
            message = (params.get("error") or {}).get("message", "")
            self._line(style(f"error: {message}", "31"))

    def summary(self, turn: Mapping[str, Any], thread_id: str) -> None:
        """The closing line: outcome, duration, token usage and how to continue."""
        status = str(turn.get("status"))
        seconds = (turn.get("durationMs") or 0) / 1000
        usage = self.turn_usage
        tokens = (
            f"tokens: {usage.get('inputTokens', 0)} in ({usage.get('cachedInputTokens', 0)} "
            f"cached), {usage.get('outputTokens', 0)} out, {usage.get('totalTokens', 0)} total"
        )
        if self.thread_usage:
            tokens += f" (thread: {self.thread_usage.get('totalTokens', 0)})"
        error = (turn.get("error") or {}).get("message")
        outcome = f"{status}: {error}" if error else status
        code = "32" if status == "completed" else "31"
        self._line(self.terminal.style(f"-- {outcome} in {seconds:.1f} s | {tokens}", code))
        self._line(f"-- thread {thread_id} (continue with --resume {thread_id})")


def _command_text(item: Mapping[str, Any]) -> str:
    actions = item.get("commandActions") or []
    if len(actions) == 1 and isinstance(actions[0].get("command"), str):
        return str(actions[0]["command"])
    return str(item.get("command", ""))


def _command_outcome(item: Mapping[str, Any]) -> str:
    if item.get("exitCode") is None:
        return f"[{item.get('status')}]"
    duration = item.get("durationMs")
    return f"[exit {item['exitCode']}{f', {duration} ms' if duration else ''}]"


def _wire(event: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def _config(args: argparse.Namespace) -> CodexConfig:
    # With --url, CodexConfig refuses --codex-bin/--cwd rather than ignoring them.
    token = os.environ.get(TOKEN_VARIABLE) if args.url is not None else None
    return CodexConfig(codex_bin=args.codex_bin, cwd=args.cwd, url=args.url, ws_token=token or None)


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Run one turn as the ``run`` command describes; return the exit status."""
    prompt = stdin.read() if args.prompt == "-" else args.prompt
    terminal = Terminal(stdout, stderr if args.json else stdout, stdin)
    choice = args.approve or ("ask" if stdin.isatty() and args.prompt != "-" else "none")
    options = {"model": args.model} if args.model else {}
    renderer = Renderer(terminal, json_lines=args.json)
    with Codex(_config(args), approval_handler=approval_policy(choice, renderer)) as codex:
        if args.resume:
            thread = codex.thread_resume(args.resume, **options)
        else:
            thread = codex.thread_start(**options)
        handle = thread.turn(prompt)
        final: Mapping[str, Any] = {}
        try:
            for event in handle.stream():
                wire = _wire(event)
                renderer.show(wire)
                if wire["method"] == "turn/completed":
                    final = wire["params"]["turn"]
        except KeyboardInterrupt:
            stderr.write("\ninterrupted\n")
            return EXIT_INTERRUPTED
        if not args.json:
            renderer.summary(final, thread.id)
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
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
