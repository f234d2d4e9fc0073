"""A turn stopped by its caller is interrupted on the server, and the connection stays usable.

``run(timeout=)`` interrupts the turn when it expires (the turn's status becomes
``interrupted``, the thread takes the next turn); against a wedged server that never answers
the interrupt, the wait is bounded by ``request_timeout``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _backend_async import blocking
from _reliability import PROMPT, fake, status
from codex_app_server import AsyncCodex, RequestTimeoutError, final_text
from codex_app_server.testing import ScriptedModelServer, message, response, stall


async def test_run_timeout_interrupts_the_turn_and_the_connection_stays_usable(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(message("still works")))
    thread = await async_codex.thread_start()
    handle = await thread.turn("hang")
    # Once the stall is taken; otherwise the next turn could be the one to get it.
    await blocking(model_server.wait_for_requests, 1)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="interrupted"):
        await handle.run(timeout=0.5)
    # The timeout, then one turn/interrupt round trip.
    assert time.monotonic() - started < 0.5 + 2 * PROMPT
    assert final_text(await thread.run("next", timeout=20)) == "still works"
    stored = await thread.read(include_turns=True)
    assert [status(turn) for turn in stored.turns] == ["interrupted", "completed"]


async def test_interrupting_a_wedged_server_is_bounded_by_request_timeout(tmp_path: Path) -> None:
    async with AsyncCodex(fake(tmp_path, "wedged", request_timeout=2.0)) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await handle.run(timeout=0.2)
        # The turn's bound, then the unanswered turn/interrupt's.
        assert time.monotonic() - started < 0.2 + 2.0 + PROMPT
