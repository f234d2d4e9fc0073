"""Server requests: exactly one reply whatever a handler does, bounded handlers, lanes, and
nothing kept for threads that ended. Each test is cited in docs/reliability.md.

The real app-server and the scripted model are used wherever they can produce the case; the
stand-in ``handlers_app_server.py`` only for what the real server cannot be made to send (a
request that is not UTF-8, a reply nested 100,000 deep, a request of an unknown thread, a burst
of requests with token refresh among them, 10,000 threads in seconds).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import (
    AsyncCodex,
    Codex,
    CodexConfig,
    CodexError,
    ProtocolViolationError,
    accept_all,
    decline_all,
    final_text,
    tool,
)
from codex_app_server.testing import ScriptedModelServer, exec_command, message, response
from handlers_app_server import LANES_APPROVALS

#: Bound on waits that only end on a bug; generous so a loaded machine does not flake.
PATIENCE = 20.0


def stand_in(tmp_path: Path, mode: str, **options: Any) -> CodexConfig:
    """Options that start ``handlers_app_server.py`` in ``mode``."""
    launcher = tmp_path / f"handlers-codex-{mode}"
    script = Path(__file__).with_name("handlers_app_server.py")
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" {mode}\n')
    launcher.chmod(0o755)
    return CodexConfig(codex_bin=launcher, **options)


def replies(events: list[Any]) -> dict[str, dict[str, Any]]:
    """The client's replies to the stand-in's requests, by request id."""
    return {
        e.params["reply"]["id"]: e.params["reply"]
        for e in events
        if e.method == "fake/clientReplied"
    }


def approval_script(model_server: ScriptedModelServer) -> None:
    model_server.enqueue(
        response(exec_command("touch escaped.txt", escalated=True)), response(message("after"))
    )


def declined(model_server: ScriptedModelServer) -> bool:
    """Whether the server's second model request carries the command's rejection."""
    (second,) = model_server.wait_for_requests(2, timeout=PATIENCE)[1:]
    return any("rejected" in output for output in second.function_call_outputs.values())


# -- a handler that raises a BaseException -----------------------------------------------------


def test_handler_raising_system_exit_declines_and_raises_from_run(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    approval_script(model_server)

    def quit_now(request: Any) -> Any:
        raise SystemExit("the operator quit")

    with Codex(codex_config) as codex:
        thread = codex.thread_start(approval_handler=quit_now)
        with pytest.raises(SystemExit, match="the operator quit"):
            thread.run("try", timeout=PATIENCE)
        assert declined(model_server)  # the server got the safe default, not silence
        model_server.enqueue(response(message("still usable")))
        assert final_text(thread.run("again", timeout=PATIENCE)) == "still usable"
    assert not (codex_workdir / "escaped.txt").exists()


async def test_handler_raising_system_exit_declines_and_raises_from_run_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    approval_script(model_server)

    async def quit_now(request: Any) -> Any:
        raise KeyboardInterrupt

    async with AsyncCodex(codex_config) as codex:
        thread = await codex.thread_start(approval_handler=quit_now)
        with pytest.raises(KeyboardInterrupt):
            await thread.run("try", timeout=PATIENCE)
        assert await asyncio.to_thread(declined, model_server)
    assert not (codex_workdir / "escaped.txt").exists()


# -- a handler that never answers --------------------------------------------------------------


def test_handler_timeout_sends_the_safe_default(
    codex_config: CodexConfig,
    model_server: ScriptedModelServer,
    codex_workdir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    approval_script(model_server)
    release = threading.Event()

    def stuck(request: Any) -> Any:
        release.wait(PATIENCE)
        return "accept"  # too late: dropped

    config = dataclasses.replace(codex_config, handler_timeout=0.5)
    with Codex(config, approval_handler=stuck) as codex:
        turn = codex.thread_start().run("try", timeout=PATIENCE)
        release.set()
    assert final_text(turn) == "after"
    assert declined(model_server)
    assert not (codex_workdir / "escaped.txt").exists()
    assert "gave no answer within handler_timeout=0.5 s" in caplog.text


async def test_handler_timeout_sends_the_safe_default_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    approval_script(model_server)
    cancelled = asyncio.Event()

    async def stuck(request: Any) -> Any:
        try:
            await asyncio.sleep(PATIENCE)
        except asyncio.CancelledError:
            cancelled.set()  # a coroutine handler is cancelled at its timeout
            raise
        return "accept"

    config = dataclasses.replace(codex_config, handler_timeout=0.5)
    async with AsyncCodex(config, approval_handler=stuck) as codex:
        turn = await (await codex.thread_start()).run("try", timeout=PATIENCE)
    assert final_text(turn) == "after"
    assert cancelled.is_set()
    assert not (codex_workdir / "escaped.txt").exists()


# -- how many handlers run at once, and the SDK's own lane -------------------------------------


def slow_approvals(workers: int) -> tuple[Any, Any]:
    """An approval handler that only answers once ``workers`` of it run at once, and one
    that answers once token refresh has run: both fail (an error reply) otherwise."""
    together = threading.Barrier(workers, timeout=PATIENCE)
    refreshed = threading.Event()

    def all_at_once(request: Any) -> Any:
        together.wait()
        return "accept"

    def after_refresh(request: Any) -> Any:
        if not refreshed.wait(PATIENCE):
            raise RuntimeError("token refresh waited behind the approvals")
        return "accept"

    def refresh(request: Any) -> Any:
        refreshed.set()
        return {"accessToken": "fresh", "chatgptAccountId": "acct-1"}

    return all_at_once, (after_refresh, refresh)


def check_lanes(events: list[Any]) -> None:
    got = replies(events)
    approvals = [f"srv-approval-{n}" for n in range(LANES_APPROVALS)]
    # The one worker is held by an approval until the refresh has run: every approval being
    # accepted shows the refresh did not queue behind it (it would have failed them all).
    assert got["srv-refresh"]["result"]["accessToken"] == "fresh"
    assert got["srv-input"]["result"] == {"answers": {}}
    assert all(got[a]["result"] == {"decision": "accept"} for a in approvals)


def test_handler_workers_and_the_internal_lane(tmp_path: Path) -> None:
    all_at_once, (after_refresh, refresh) = slow_approvals(LANES_APPROVALS)
    # More than the default 8 handlers run at once when asked for.
    with Codex(stand_in(tmp_path, "lanes", handler_workers=LANES_APPROVALS)) as codex:
        codex.client.handlers.set("account/chatgptAuthTokens/refresh", refresh)
        events = list(codex.thread_start(approval_handler=all_at_once).turn("go").stream())
    got = replies(events)
    assert all(got[f"srv-approval-{n}"]["result"] == {"decision": "accept"} for n in range(10))
    # One worker, held by approvals until the refresh has run: the refresh has its own lane.
    handlers = {"account/chatgptAuthTokens/refresh": refresh}
    with Codex(stand_in(tmp_path, "lanes", handler_workers=1), handlers=handlers) as codex:
        check_lanes(list(codex.thread_start(approval_handler=after_refresh).turn("go").stream()))


async def test_handler_workers_and_the_internal_lane_async(tmp_path: Path) -> None:
    all_at_once, (after_refresh, refresh) = slow_approvals(LANES_APPROVALS)
    async with AsyncCodex(stand_in(tmp_path, "lanes", handler_workers=LANES_APPROVALS)) as codex:
        codex.client.handlers.set("account/chatgptAuthTokens/refresh", refresh)
        handle = await (await codex.thread_start(approval_handler=all_at_once)).turn("go")
        events = [e async for e in handle.stream()]
    got = replies(events)
    assert all(got[f"srv-approval-{n}"]["result"] == {"decision": "accept"} for n in range(10))
    handlers = {"account/chatgptAuthTokens/refresh": refresh}
    config = stand_in(tmp_path, "lanes", handler_workers=1)
    async with AsyncCodex(config, handlers=handlers) as codex:
        handle = await (await codex.thread_start(approval_handler=after_refresh)).turn("go")
        check_lanes([e async for e in handle.stream()])


def test_handler_options_are_checked() -> None:
    for bad in ({"handler_workers": 0}, {"handler_workers": True}, {"handler_timeout": 0}):
        with pytest.raises(ValueError, match="handler_"):
            CodexConfig(**bad)  # type: ignore[arg-type]


# -- input the SDK cannot read -----------------------------------------------------------------


def check_unreadable_request(events: list[Any]) -> None:
    reply = replies(events)["srv-utf8"]
    assert reply["error"]["code"] == -32700
    assert "not valid UTF-8" in reply["error"]["message"]
    assert events[-1].method == "turn/completed"


def test_unreadable_request_gets_an_error_reply(tmp_path: Path) -> None:
    with Codex(stand_in(tmp_path, "utf8"), approval_handler=accept_all) as codex:
        check_unreadable_request(list(codex.thread_start().turn("go").stream(timeout=PATIENCE)))
        assert codex.client.connection.protocol_violations == 1


async def test_unreadable_request_gets_an_error_reply_async(tmp_path: Path) -> None:
    async with AsyncCodex(stand_in(tmp_path, "utf8"), approval_handler=accept_all) as codex:
        handle = await (await codex.thread_start()).turn("go")
        check_unreadable_request([e async for e in handle.stream(timeout=PATIENCE)])


def test_deeply_nested_reply_raises_protocol_violation_error(tmp_path: Path) -> None:
    with Codex(stand_in(tmp_path, "deep")) as codex:
        with pytest.raises(ProtocolViolationError, match="nested too deeply") as caught:
            codex.client.request("fake/deep")
        assert isinstance(caught.value, CodexError)
        assert codex.thread_start().id == "thread-1"  # the connection goes on


async def test_deeply_nested_reply_raises_protocol_violation_error_async(tmp_path: Path) -> None:
    async with AsyncCodex(stand_in(tmp_path, "deep")) as codex:
        with pytest.raises(ProtocolViolationError, match="nested too deeply"):
            await codex.client.request("fake/deep")


# -- a request from a thread nobody started ----------------------------------------------------


def test_request_of_an_unknown_thread_gets_the_safe_default(tmp_path: Path) -> None:
    with Codex(stand_in(tmp_path, "orphan"), approval_handler=accept_all) as codex:
        events = list(codex.thread_start().turn("go").stream(timeout=PATIENCE))
    got = replies(events)
    assert got["srv-orphan"]["result"] == {"decision": "decline"}
    assert got["srv-adrift"]["result"] == {"decision": "decline"}


async def test_request_of_an_unknown_thread_gets_the_safe_default_async(tmp_path: Path) -> None:
    async with AsyncCodex(stand_in(tmp_path, "orphan"), approval_handler=accept_all) as codex:
        handle = await (await codex.thread_start()).turn("go")
        events = [e async for e in handle.stream(timeout=PATIENCE)]
    got = replies(events)
    assert got["srv-orphan"]["result"] == {"decision": "decline"}
    assert got["srv-adrift"]["result"] == {"decision": "decline"}


# -- threads that ended leave nothing behind ---------------------------------------------------


@tool
def echo(text: str) -> str:
    """Say it back."""
    return text


ENDINGS = ("thread_archive", "thread_delete", "thread_unsubscribe")


def test_ten_thousand_ended_threads_leave_nothing_behind(tmp_path: Path) -> None:
    config = stand_in(tmp_path, "release", experimental_api=True)
    with Codex(config, approval_handler=accept_all) as codex:
        handlers, connection = codex.client.handlers, codex.client.connection
        for n in range(10_000):
            thread = codex.thread_start(approval_handler=decline_all, tools=[echo])
            if n % 1000 == 0:  # a turn that spawns a sub-agent: lineage to release too
                list(thread.turn("go").stream(timeout=PATIENCE))
                assert thread.subagents() == [f"{thread.id}-child"]
                assert handlers.thread_count() == 2
            getattr(codex.client, ENDINGS[n % 3])(thread_id=thread.id)
            assert handlers.thread_count() == 0
        assert connection.subscriber_count() == 0
        assert connection.active_turns() == 0


async def test_ten_thousand_ended_threads_leave_nothing_behind_async(tmp_path: Path) -> None:
    config = stand_in(tmp_path, "release", experimental_api=True)
    async with AsyncCodex(config, approval_handler=accept_all) as codex:
        handlers = codex.client.handlers
        # The table is shared with the sync client: fewer threads here keep the suite quick.
        for n in range(2_000):
            thread = await codex.thread_start(approval_handler=decline_all, tools=[echo])
            if n % 200 == 0:
                await (await thread.turn("go")).run(timeout=PATIENCE)
                assert thread.subagents() == [f"{thread.id}-child"]
            await getattr(codex.client, ENDINGS[n % 3])(thread_id=thread.id)
        assert handlers.thread_count() == 0
        assert codex.client.connection.subscriber_count() == 0


def test_real_threads_are_released_when_they_end(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    config = dataclasses.replace(codex_config, experimental_api=True)
    with Codex(config, approval_handler=accept_all) as codex:
        handlers = codex.client.handlers
        for ending in ENDINGS:
            thread = codex.thread_start(approval_handler=decline_all, tools=[echo])
            model_server.enqueue(response(message("hi")))
            thread.run("hello", timeout=PATIENCE)
            assert handlers.thread_count() == 1
            getattr(codex.client, ending)(thread_id=thread.id)
            assert handlers.thread_count() == 0, ending


def test_every_test_here_is_cited_in_reliability_md() -> None:
    document = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
    cited = set(re.findall(r"test_handlers\.py::(test_\w+)", document.read_text("utf-8")))
    here = {name for name in globals() if name.startswith("test_")}
    assert cited - here == set()
    uncited = {n for n in here if n not in cited and n.removesuffix("_async") not in cited}
    assert uncited == {"test_every_test_here_is_cited_in_reliability_md"}
