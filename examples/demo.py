"""A streamed answer and an approved command: the whole SDK in one small program.

Run it against your own Codex account as it is, or offline against a scripted model with
``nox -s demo`` (which installs the built wheels into a fresh virtual environment first).
"""

from __future__ import annotations

import shlex
from typing import Any

from codex_app_server import Codex, final_text


def approve_echo_only(request: Any) -> bool:
    """Approve plain ``echo`` commands; decline everything else."""
    command = str(getattr(request, "command", "") or "")
    # Commands arrive wrapped in the user's shell (`/bin/bash -lc '...'`): judge the inner one.
    words = shlex.split(command)
    inner = words[-1] if len(words) == 3 and words[1] in ("-c", "-lc") else command
    allowed = inner.startswith("echo ")
    print(f"\n[approval] {command!r} -> {'approved' if allowed else 'declined'}")
    return allowed


def main() -> None:
    with Codex(approval_handler=approve_echo_only) as codex:
        print(f"[server] {codex.metadata.user_agent}")
        thread = codex.thread_start()
        handle = thread.turn("Say hello, then greet the world from the shell.")
        for event in handle.stream():
            if event.method == "item/agentMessage/delta":
                print(event.params.delta, end="", flush=True)
            elif event.method == "item/completed" and event.params.item.type == "commandExecution":
                item = event.params.item
                print(f"[command] {item.command} (exit {item.exit_code})")
                print(f"[output] {(item.aggregated_output or '').strip()}")
            elif event.method == "turn/completed":
                turn = event.params.turn
                print(f"\n[turn] {turn.status.value}: {final_text(turn)!r}")


if __name__ == "__main__":
    main()
