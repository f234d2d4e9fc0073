"""Every wait has a bound: a silent, unanswering or unreading server ends in a clear timeout.

The handshake, a request's reply (including writing it to a server that stopped reading), the
next event of a stream: each raises ``RequestTimeoutError`` naming what it waited for and how
long, the connection stays usable, and closing afterwards is bounded and reaps the server.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from _backend_async import start_and_close
from _fake import child_processes
from _reliability import PROMPT, TEN_MB, fake, status
from codex_app_server import AsyncCodex, AsyncCodexClient, MethodNotFoundError, RequestTimeoutError
from codex_app_server.testing import ScriptedModelServer, response, stall


async def test_handshake_is_bounded_by_request_timeout(tmp_path: Path) -> None:
    before = child_processes()
    started = time.monotonic()
    with pytest.raises(
        RequestTimeoutError, match=re.escape("'initialize' got no reply within 0.5 s")
    ):
        await start_and_close(fake(tmp_path, "silent", request_timeout=0.5))
    # The timeout, then stopping a server that may still be starting up (EOF ends it).
    assert time.monotonic() - started < 0.5 + 2 * PROMPT
    assert child_processes() <= before


async def test_unanswered_request_times_out_clearly_and_the_connection_stays_usable(
    tmp_path: Path,
) -> None:
    async with AsyncCodexClient(fake(tmp_path, "ok", request_timeout=2.0)) as client:
        with pytest.raises(
            RequestTimeoutError, match=re.escape("'fake/never' got no reply within 2.0 s")
        ):
            await client.request("fake/never")
        with pytest.raises(RequestTimeoutError, match=re.escape("within 0.1 s")):
            await client.request("fake/never", timeout=0.1)
        with pytest.raises(MethodNotFoundError):
            await client.request("fake/other")
        started = await client.thread_start()
        assert started.thread.id


async def test_stream_timeout_bounds_the_wait_for_each_event(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    thread = await async_codex.thread_start()
    handle = await thread.turn("hang")
    with pytest.raises(RequestTimeoutError, match=re.escape("no event arrived within 0.5 s")):
        async for _ in handle.stream(timeout=0.5):
            pass
    await handle.interrupt()
    assert status(await handle.run(timeout=20)) == "interrupted"


async def test_request_to_a_server_that_stopped_reading_times_out_and_close_is_bounded(
    tmp_path: Path,
) -> None:
    async with AsyncCodexClient(fake(tmp_path, "deaf", request_timeout=60)) as client:
        pid = client.connection.pid
        started = time.monotonic()
        # Far more than a pipe buffer holds, so the write itself cannot complete.
        with pytest.raises(RequestTimeoutError, match="fake/big"):
            await client.request("fake/big", {"blob": "x" * TEN_MB}, timeout=0.5)
        assert time.monotonic() - started < 0.5 + PROMPT
        await client.close()
        assert time.monotonic() - started < 0.5 + PROMPT + 8
    assert pid not in child_processes()
