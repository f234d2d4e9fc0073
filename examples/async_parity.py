"""The same flow with ``AsyncCodex``: run, stream, approve, and two threads at once.

``AsyncCodex`` mirrors ``Codex`` with ``await``; it starts the app-server on ``async with``.
Approval handlers may be coroutine functions. Turns on different threads share one
connection, and each handle sees only its own events, so ``asyncio.gather`` just works.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from codex_app_server import AsyncCodex, AsyncThread, final_text
from codex_app_server.generated import CommandExecutionRequestApprovalParams


async def approve_echo(request: Any) -> bool:
    """Accept ``echo`` commands only; decline everything else."""
    if not isinstance(request, CommandExecutionRequestApprovalParams) or not request.command:
        return False
    script = shlex.split(request.command)[-1]  # Codex runs commands as `bash -lc SCRIPT`
    accepted = script.startswith("echo ") and not set(";&|`$()<\n") & set(script)
    print(f"[approval] {'accept' if accepted else 'decline'}: {request.command}")
    return accepted


async def ask(thread: AsyncThread, prompt: str) -> str:
    """Run one turn and return its answer."""
    return final_text(await thread.run(prompt)) or ""


async def main() -> None:
    async with AsyncCodex(approval_handler=approve_echo) as codex:
        thread = await codex.thread_start()
        print("run:", await ask(thread, "Say hello in French."))

        handle = await thread.turn("Count from one to three in words.")
        print("stream: ", end="")
        async for event in handle.stream():
            if event.method == "item/agentMessage/delta":
                print(event.params.delta, end="", flush=True)
        print()

        print("approval:", await ask(thread, "Use echo to write 'hi' into hello.txt."))

        # Two threads, two turns in flight over the same connection.
        first, second = await asyncio.gather(codex.thread_start(), codex.thread_start())
        answers = await asyncio.gather(ask(first, "Name a colour."), ask(second, "Name an animal."))
        print("concurrent:", answers)


if __name__ == "__main__":
    asyncio.run(main())
