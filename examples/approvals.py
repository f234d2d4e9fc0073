"""Approve what the agent wants to run: accept ``echo`` commands, decline everything else.

Without a handler every approval request is declined (the agent is told and carries on). An
``approval_handler`` receives the typed request params and returns ``True``/``False`` (or
``"accept"``, ``"acceptForSession"``, ``"decline"``, ``"cancel"``). It can be set for the whole
client (``Codex(approval_handler=...)``) or per thread (``thread_start(approval_handler=...)``).
Requests only arrive when the sandbox or approval policy asks for them, for example a command
that needs to run outside the read-only sandbox under ``approval_policy = "on-request"``.
"""

from __future__ import annotations

import shlex
from typing import Any

from codex_app_server import Codex, final_text
from codex_app_server.generated import CommandExecutionRequestApprovalParams

# Anything that could chain a second command after the echo.
SHELL_CONTROL = set(";&|`$()<\n")


def shell_script(command: str) -> str:
    """The script of ``bash -lc SCRIPT`` (how Codex runs commands), else the command itself."""
    parts = shlex.split(command)
    if len(parts) == 3 and parts[0].endswith("sh") and parts[1] in ("-c", "-lc"):
        return parts[2]
    return command


def only_echo(request: Any) -> bool:
    """Accept a command that is a single ``echo`` (its output may go to a file)."""
    if not isinstance(request, CommandExecutionRequestApprovalParams) or not request.command:
        print(f"[decline] {type(request).__name__}")
        return False
    script = shell_script(request.command)
    accepted = script.startswith("echo ") and not SHELL_CONTROL & set(script)
    print(f"[{'accept' if accepted else 'decline'}] {script}  (reason: {request.reason})")
    return accepted


def main() -> None:
    with Codex(approval_handler=only_echo) as codex:
        thread = codex.thread_start()
        for prompt in (
            "Write the word approved into approved.txt using echo.",
            "Create an empty file declined.txt with touch.",
        ):
            print(f"> {prompt}")
            print(final_text(thread.run(prompt)))


if __name__ == "__main__":
    main()
