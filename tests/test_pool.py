"""Pools of real app-servers: placement by load, thread ownership, health, many turns at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from _fake import child_processes
from codex_app_server import (
    AsyncCodexPool,
    CodexConfig,
    CodexNotFoundError,
    CodexPool,
    TransportClosedError,
    final_text,
)
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    message,
    response,
    stall,
    write_codex_home,
)
from test_websocket import ListeningAppServer


def local_configs(
    count: int, codex_bin: str | None, model_server: ScriptedModelServer, tmp_path: Path
) -> list[CodexConfig]:
    """``count`` local app-servers, each with its own CODEX_HOME, all on one scripted model."""
    configs = []
    for index in range(count):
        home = write_codex_home(tmp_path / f"home-{index}", model_server)
        workdir = tmp_path / f"work-{index}"
        workdir.mkdir()
        configs.append(
            CodexConfig(
                codex_bin=codex_bin, cwd=workdir, env=app_server_env(home), inherit_env=False
            )
        )
    return configs


def wait_until(condition: object, timeout: float = 20.0) -> None:
    """Poll a condition the SDK reports asynchronously (a connection noticing its closure)."""
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


async def test_twelve_turns_over_three_app_servers_at_once(
    codex_bin: str | None, model_server: ScriptedModelServer, tmp_path: Path
) -> None:
    holds = [stall() for _ in range(12)]
    model_server.enqueue(*(response(hold, message("done")) for hold in holds))
    configs = local_configs(3, codex_bin, model_server, tmp_path)
    async with AsyncCodexPool(configs) as pool:
        threads = [await pool.thread_start() for _ in range(12)]
        owners = Counter(pool.members.index(pool.owner(t.id)) for t in threads)
        assert owners == {0: 4, 1: 4, 2: 4}
        handles = [await thread.turn(f"task {i}") for i, thread in enumerate(threads)]
        # All twelve model requests are open at once: the turns really run concurrently.
        await asyncio.to_thread(model_server.wait_for_requests, 12, 60.0)
        assert [h.active_turns for h in pool.health()] == [4, 4, 4]
        for hold in holds:
            hold.release()
        turns = await asyncio.gather(*(handle.run(timeout=60) for handle in handles))
        assert [final_text(turn) for turn in turns] == ["done"] * 12
        health = pool.health()
        assert [(h.connected, h.active_turns, h.threads) for h in health] == [(True, 0, 4)] * 3
        assert all(h.target.startswith("pid ") for h in health)
    prompts = sorted(r.user_texts[-1] for r in model_server.requests)
    assert prompts == sorted(f"task {i}" for i in range(12))
    assert not any(h.connected for h in pool.health())


def test_placement_follows_active_turns_and_threads_stay_with_their_owner(
    codex_bin: str | None,
    codex_home: Path,
    codex_workdir: Path,
    model_server: ScriptedModelServer,
    tmp_path: Path,
) -> None:
    hold = stall()
    model_server.enqueue(response(hold, message("held")), response(message("resumed")))
    [local] = local_configs(1, codex_bin, model_server, tmp_path)
    with (
        ListeningAppServer(codex_bin, codex_home, codex_workdir) as remote,
        CodexPool([local, remote.url]) as pool,
    ):
        busy = pool.thread_start()
        assert pool.owner(busy.id) is pool.members[0]
        handle = busy.turn("hold on")
        model_server.wait_for_requests(1)
        # Member 0 has a turn in progress, so new threads go to member 1 even as it fills up.
        second, third = pool.thread_start(), pool.thread_start()
        assert pool.owner(second.id) is pool.owner(third.id) is pool.members[1]
        local_health, remote_health = pool.health()
        assert (local_health.active_turns, local_health.threads) == (1, 1)
        assert (remote_health.active_turns, remote_health.threads) == (0, 2)
        assert remote_health.target == remote.url
        hold.release()
        assert final_text(handle.run(timeout=30)) == "held"

        again = pool.thread_resume(busy.id)
        assert again.codex is pool.members[0]
        assert final_text(again.run("still here?")) == "resumed"

        remote.kill()
        wait_until(lambda: pool.members[1].client.connection.closed)
        remote_health = pool.health()[1]
        assert not remote_health.connected
        assert remote_health.error is not None
        assert "websocket" in remote_health.error
        assert pool.owner(pool.thread_start().id) is pool.members[0]
        with pytest.raises(TransportClosedError):
            third.run("the server is gone")


def test_a_member_that_fails_to_start_stops_the_others(
    codex_bin: str | None, model_server: ScriptedModelServer, tmp_path: Path
) -> None:
    [good] = local_configs(1, codex_bin, model_server, tmp_path)
    missing = CodexConfig(codex_bin=tmp_path / "no-such-codex")
    before = child_processes()
    with pytest.raises(CodexNotFoundError):
        CodexPool([good, missing])
    assert child_processes() <= before
    with pytest.raises(ValueError, match="at least one member"):
        CodexPool([])


async def test_an_async_pool_that_cannot_start_closes_what_it_started(
    codex_bin: str | None, model_server: ScriptedModelServer, tmp_path: Path
) -> None:
    [good] = local_configs(1, codex_bin, model_server, tmp_path)
    missing = CodexConfig(codex_bin=tmp_path / "no-such-codex")
    before = child_processes()
    pool = AsyncCodexPool([good, missing])
    with pytest.raises(CodexNotFoundError):
        await pool.start()
    assert child_processes() <= before
    assert not any(h.connected for h in pool.health())
