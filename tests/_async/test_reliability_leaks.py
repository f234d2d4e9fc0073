"""A client leaks nothing: after it closes, no descriptor, thread or child process is left.

Counted with psutil (``/proc`` on Linux, handles on Windows) and ``threading.active_count()``
over many start/close cycles: of a minimal stand-in (so the cycles measure the SDK), of the real
binary, and of clients whose server-request handlers ran.
"""

from __future__ import annotations

from pathlib import Path

from _backend_async import collect
from _fake import minimal_server, resources
from _reliability import check_no_leaks, client_replies, fake
from codex_app_server import AsyncCodex, AsyncCodexClient, CodexConfig, accept_all


async def test_thousand_open_close_cycles_leak_nothing(tmp_path: Path) -> None:
    config = CodexConfig(codex_bin=minimal_server(tmp_path))
    async with AsyncCodexClient(config):
        pass  # load what the first client loads once
    before = resources()
    for _ in range(1000):
        async with AsyncCodexClient(config):
            pass
    check_no_leaks(before)


async def test_clients_whose_handlers_ran_leak_nothing(tmp_path: Path) -> None:
    config = fake(tmp_path, "approval")

    async def cycle() -> None:
        async with AsyncCodex(config, approval_handler=accept_all) as codex:
            thread = await codex.thread_start()
            handle = await thread.turn("go")
            events = await collect(handle.stream(timeout=20))
        assert client_replies(events) == [{"id": "srv-turn-1", "result": {"decision": "accept"}}]

    # What the first cycle starts once stays (in asyncio, the executor plain handlers run in).
    await cycle()
    before = resources()
    for _ in range(10):
        await cycle()
    check_no_leaks(before)


async def test_real_binary_open_close_cycles_leak_nothing(codex_config: CodexConfig) -> None:
    async with AsyncCodex(codex_config):
        pass
    before = resources()
    for _ in range(10):
        async with AsyncCodex(codex_config) as codex:
            await codex.thread_start()
    check_no_leaks(before)
