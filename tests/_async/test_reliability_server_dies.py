"""A server that dies or fails to start fails every waiter with its exit code and stderr, at once.

Killed mid-turn, exiting on its own, or refusing its config: every turn and request waiting on it
gets the error promptly, later calls say the connection is closed, and no process is left.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _backend_async import blocking, in_background, start_and_close
from _fake import child_processes
from _portable import kill_hard
from _reliability import PROMPT, fake
from codex_app_server import AppServerStartError, AsyncCodex, CodexConfig, TransportClosedError
from codex_app_server.testing import ScriptedModelServer, response, stall


async def test_killed_mid_turn_fails_every_waiter_promptly(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(stall()))
    handles = []
    for i in range(2):
        thread = await async_codex.thread_start()
        handles.append(await thread.turn(f"hang {i}"))
    await blocking(model_server.wait_for_requests, 2)
    runs = [await in_background(handle.run) for handle in handles]
    killed_with = kill_hard(async_codex.client.connection.pid)
    killed = time.monotonic()
    failures = [await run.outcome(5) for run in runs]
    assert time.monotonic() - killed < PROMPT
    for failure in failures:
        assert isinstance(failure, TransportClosedError)
        assert failure.exit_code == killed_with
    with pytest.raises(TransportClosedError, match="connection to the app-server is closed"):
        await async_codex.thread_start()


async def test_server_exiting_on_its_own_fails_turn_and_requests_with_its_stderr(
    tmp_path: Path,
) -> None:
    async with AsyncCodex(fake(tmp_path, "crash")) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        started = time.monotonic()
        # The stand-in dies on receiving this request.
        request = await in_background(lambda: codex.client.request("fake/never"))
        with pytest.raises(TransportClosedError) as caught:
            await handle.run()
        failure = await request.outcome(5)
        assert time.monotonic() - started < PROMPT
        for error in (caught.value, failure):
            assert isinstance(error, TransportClosedError)
            assert error.exit_code == 3
            assert "lost the model connection" in error.stderr_tail
            assert "lost the model connection" in str(error)
        with pytest.raises(TransportClosedError, match="closed"):
            await codex.thread_start()


async def test_bad_config_fails_the_start_quoting_stderr(
    codex_config: CodexConfig, codex_home: Path
) -> None:
    (codex_home / "config.toml").write_text('approval_policy = "untrusted"\n')
    before = child_processes()
    with pytest.raises(AppServerStartError) as caught:
        await start_and_close(codex_config)
    assert "untrusted" in str(caught.value)
    assert caught.value.exit_code not in (None, 0)
    assert child_processes() <= before
