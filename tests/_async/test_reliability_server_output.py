"""Whatever the server writes, every usable message arrives whole, in order and typed.

A line that is not a usable message (not JSON, a batch, a reply nobody waits for, nested past
any limit) is skipped, logged and counted, and the turn goes on; a newer server's unknown
messages arrive typed, and its unknown requests are answered with an error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from _backend_async import collect
from _reliability import BUDGET, check_garbage_was_skipped, check_newer_server_events, fake
from codex_app_server import AsyncCodex, final_text
from codex_app_server.testing import ScriptedModelServer, message_deltas, response


async def test_garbage_on_stdout_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    async with AsyncCodex(fake(tmp_path, "garbage")) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("first")
        events = await collect(handle.stream(timeout=20, bounds=BUDGET))
        check_garbage_was_skipped(events, codex.client.connection.protocol_violations, caplog)
        assert final_text(await thread.run("second", timeout=20)) == "done"


async def test_a_burst_of_events_arrives_whole_and_in_order(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    pieces = [f"{i} " for i in range(2000)]
    model_server.enqueue(response(message_deltas(pieces)))
    thread = await async_codex.thread_start()
    handle = await thread.turn("count")
    events = await collect(handle.stream(timeout=20))
    deltas = [e.params.delta for e in events if e.method == "item/agentMessage/delta"]
    assert "".join(deltas) == "".join(pieces)
    assert async_codex.client.connection.protocol_violations == 0


async def test_newer_server_messages_arrive_typed_and_unknown_requests_get_an_error(
    tmp_path: Path,
) -> None:
    async with AsyncCodex(fake(tmp_path, "newer")) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        check_newer_server_events(await collect(handle.stream(timeout=20)))
        assert codex.client.connection.protocol_violations == 0
