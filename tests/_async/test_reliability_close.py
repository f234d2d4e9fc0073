"""``close()`` is prompt, safe from anywhere and more than once, and always reaps the server.

Closing during a turn fails the turn's waiter; closes from several callers at once all return;
a server that ignores EOF and SIGTERM is killed after bounded steps; later calls say the
connection is closed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _backend_async import blocking, in_background
from _fake import child_processes
from _reliability import fake
from codex_app_server import AsyncCodex, AsyncCodexClient, CodexConfig, TransportClosedError
from codex_app_server.testing import ScriptedModelServer, response, stall


async def test_close_during_a_turn_from_other_callers_and_twice(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    async with AsyncCodex(codex_config) as codex:
        pid = codex.client.connection.pid
        thread = await codex.thread_start()
        handle = await thread.turn("hang")
        await blocking(model_server.wait_for_requests, 1)
        run = await in_background(handle.run)
        started = time.monotonic()
        closers = [await in_background(codex.close) for _ in range(4)]
        for closer in closers:
            assert await closer.outcome() is None
        assert isinstance(await run.outcome(), TransportClosedError)
        assert time.monotonic() - started < 5
        await codex.close()  # once more, after the fact; leaving the block closes it again
    assert pid not in child_processes()
    with pytest.raises(TransportClosedError, match="closed"):
        await codex.thread_start()


async def test_close_is_bounded_when_the_server_ignores_eof_and_sigterm(tmp_path: Path) -> None:
    async with AsyncCodexClient(fake(tmp_path, "stubborn")) as client:
        pid = client.connection.pid
        started = time.monotonic()
        await client.close()
        # Two bounded steps (EOF, SIGTERM) of 2 s each, then SIGKILL.
        assert time.monotonic() - started < 8
    assert pid not in child_processes()
