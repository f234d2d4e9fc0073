"""Run a batch of prompts at once, capped, with results in order and each failure in its place.

``max_concurrent_turns`` caps how many turns the client runs at once: the others wait their
turn. ``asyncio.gather`` keeps the prompts' order, and catching ``CodexError`` per prompt keeps
one failure from stopping the rest.
"""

from __future__ import annotations

import asyncio

from codex_app_server import AsyncCodex, CodexError, TurnBounds, final_text

PROMPTS = [f"What is {n} squared? Answer with the number only." for n in range(1, 7)]


async def ask(codex: AsyncCodex, prompt: str) -> str | CodexError:
    """One prompt on its own thread: its answer, or the error that stopped it."""
    try:
        thread = await codex.thread_start()
        turn = await thread.run(prompt, bounds=TurnBounds(wall_clock=300))
        return final_text(turn) or ""
    except CodexError as exc:
        return exc


async def main() -> None:
    async with AsyncCodex(max_concurrent_turns=3) as codex:
        results = await asyncio.gather(*(ask(codex, prompt) for prompt in PROMPTS))
    for number, result in enumerate(results, 1):
        if isinstance(result, CodexError):
            print(f"{number}: failed: {type(result).__name__}")
        else:
            print(f"{number}: {result}")


if __name__ == "__main__":
    asyncio.run(main())
