"""A broken, wrong-typed or slow handler never stalls a turn: each server request gets one reply.

A handler that raises or returns the wrong type gets the request declined with a ``-32603``
error saying why (logged for the user too), and the turn and the connection go on; a handler
that blocks holds up no other thread's events.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from _backend_async import Event, collect, wait_event
from _reliability import WRONG_TYPE, client_replies, fake
from codex_app_server import AsyncCodex, CodexConfig, final_text
from codex_app_server.testing import ScriptedModelServer, exec_command, message, response


async def boom(params: Any) -> Any:
    raise RuntimeError("the approval service is down")


async def wrong_type(params: Any) -> Any:
    return 42


#: Broken approval handlers, each with what the SDK logs about it.
BROKEN = {
    "raises": (boom, "the approval service is down"),
    "wrong type": (wrong_type, "returned int"),
}


@pytest.mark.parametrize("broken", BROKEN)
async def test_broken_approval_handler_declines_and_the_turn_goes_on(
    codex_config: CodexConfig,
    model_server: ScriptedModelServer,
    codex_workdir: Path,
    caplog: pytest.LogCaptureFixture,
    broken: str,
) -> None:
    handler, logged = BROKEN[broken]
    model_server.enqueue(
        response(exec_command("echo x > raised.txt", escalated=True)), response(message("after"))
    )
    async with AsyncCodex(codex_config, approval_handler=handler) as codex:
        thread = await codex.thread_start()
        assert final_text(await thread.run("try", timeout=20)) == "after"
        model_server.enqueue(response(message("still usable")))
        assert final_text(await thread.run("again", timeout=20)) == "still usable"
    assert not (codex_workdir / "raised.txt").exists()
    assert logged in caplog.text


async def test_raising_handler_is_answered_with_an_internal_error(tmp_path: Path) -> None:
    async with AsyncCodex(fake(tmp_path, "approval"), approval_handler=boom) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        events = await collect(handle.stream(timeout=20))
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == -32603
    assert "RuntimeError: the approval service is down" in reply["error"]["message"]


async def test_wrong_typed_handler_result_is_a_clear_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    handlers = {"item/commandExecution/requestApproval": wrong_type}
    async with AsyncCodex(fake(tmp_path, "approval"), handlers=handlers) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        events = await collect(handle.stream(timeout=20))
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == -32603
    assert WRONG_TYPE in reply["error"]["message"]
    assert WRONG_TYPE in caplog.text  # the user sees it too, not only the server


async def test_slow_handler_does_not_hold_up_other_threads(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    other_done = Event()
    in_handler = Event()
    saw_other_finish: list[bool] = []

    async def slow(params: Any) -> bool:
        in_handler.set()
        # Up to 5 s: if events stopped flowing while this runs, the other turn never ends.
        saw_other_finish.append(await wait_event(other_done, 5))
        return False

    model_server.enqueue(response(exec_command("echo slow > slow.txt", escalated=True)))
    async with AsyncCodex(codex_config) as codex:
        slow_thread = await codex.thread_start(approval_handler=slow)
        handle = await slow_thread.turn("needs approval")
        assert await wait_event(in_handler, 10)
        model_server.enqueue(response(message("quick")), response(message("slow done")))
        quick_thread = await codex.thread_start()
        assert final_text(await quick_thread.run("quick one", timeout=20)) == "quick"
        other_done.set()
        assert final_text(await handle.run(timeout=20)) == "slow done"
    assert saw_other_finish == [True]
