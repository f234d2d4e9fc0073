"""A turn stopped by its caller is interrupted on the server: the hand-written, asyncio-only part.

Cancelling the task that awaits ``run()`` is the asyncio way to stop a turn (the sync face's is
Ctrl-C, in tests/test_api.py); the ``run(timeout=)`` twins are in ``_async/``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from _reliability import PROMPT, fake, status
from codex_app_server import AsyncCodex, final_text
from codex_app_server.testing import ScriptedModelServer, message, response, stall


async def test_cancelled_run_interrupts_the_turn_and_the_connection_stays_usable(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(message("still works")))
    thread = await async_codex.thread_start()
    task = asyncio.ensure_future(thread.run("hang"))
    await asyncio.to_thread(model_server.wait_for_requests, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    statuses: list[str] = []
    for _ in range(100):
        statuses = [status(t) for t in (await thread.read(include_turns=True)).turns]
        if statuses and statuses[-1] != "inProgress":
            break
        await asyncio.sleep(0.05)
    assert statuses == ["interrupted"]
    assert final_text(await thread.run("next", timeout=20)) == "still works"


async def test_cancelling_with_a_wedged_server_is_bounded_by_request_timeout_async(
    tmp_path: Path,
) -> None:
    async with AsyncCodex(fake(tmp_path, "wedged", request_timeout=2.0)) as codex:
        handle = await (await codex.thread_start()).turn("go")
        task = asyncio.ensure_future(handle.run())
        await asyncio.sleep(0.1)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Cancelling waits for the turn/interrupt it sends, for request_timeout at most.
        assert time.monotonic() - started < 2.0 + PROMPT
