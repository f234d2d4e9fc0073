"""Faults, bad input and hostile conditions: each guarantee of docs/reliability.md, sync and async.

The real app-server is used wherever it can be made to misbehave on purpose (killed mid-turn,
bad config, approvals, slow or broken handlers); ``fake_app_server.py`` stands in only for what
the real one cannot do on demand (exit on its own, garbage on stdout, a newer protocol, stalls).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from _fake import child_processes, fake_server, minimal_server, resources
from _portable import kill_hard
from codex_app_server import (
    AppServerStartError,
    AsyncCodex,
    AsyncCodexClient,
    Codex,
    CodexClient,
    CodexConfig,
    CodexNotFoundError,
    MethodNotFoundError,
    RequestTimeoutError,
    TransportClosedError,
    TurnBounds,
    accept_all,
    final_text,
)
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    message,
    message_deltas,
    response,
    stall,
)

#: Bound on waits that should end at once; generous so a loaded CI machine does not flake.
PROMPT = 1.0
TEN_MB = 10 * 1024 * 1024
SECRET = "sk-test-7f3c9e1d-do-not-leak"
NO_EXEC = "Windows has no exec bit: any file is runnable by its name"


def fake(tmp_path: Path, mode: str, **options: Any) -> CodexConfig:
    """Options that start the stand-in app-server in ``mode``."""
    return CodexConfig(codex_bin=fake_server(tmp_path, mode), **options)


def status(turn: Any) -> str:
    return str(getattr(turn.status, "value", turn.status))


def client_replies(events: list[Any]) -> list[dict[str, Any]]:
    """What the client answered the fake's server requests (the fake reports each answer)."""
    return [e.params["reply"] for e in events if e.method == "fake/clientReplied"]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# -- the app-server dies mid-turn --------------------------------------------------------------


def test_killed_mid_turn_fails_every_waiter_promptly(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(stall()))
    handles = [codex.thread_start().turn(f"hang {i}") for i in range(2)]
    model_server.wait_for_requests(2)
    failures: list[BaseException] = []

    def wait(handle: Any) -> None:
        try:
            handle.run()
        except BaseException as exc:
            failures.append(exc)

    waiters = [threading.Thread(target=wait, args=(h,)) for h in handles]
    for waiter in waiters:
        waiter.start()
    killed_with = kill_hard(codex.client.connection.pid)
    killed = time.monotonic()
    for waiter in waiters:
        waiter.join(5)
    assert time.monotonic() - killed < PROMPT
    assert len(failures) == 2
    for failure in failures:
        assert isinstance(failure, TransportClosedError)
        assert failure.exit_code == killed_with
    with pytest.raises(TransportClosedError, match="connection to the app-server is closed"):
        codex.thread_start()


async def test_killed_mid_turn_fails_every_waiter_promptly_async(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(stall()))
    handles = [await (await async_codex.thread_start()).turn(f"hang {i}") for i in range(2)]
    await asyncio.to_thread(model_server.wait_for_requests, 2)
    runs = [asyncio.ensure_future(h.run()) for h in handles]
    await asyncio.sleep(0)
    killed_with = kill_hard(async_codex.client.connection.pid)
    killed = time.monotonic()
    failures = await asyncio.gather(*runs, return_exceptions=True)
    assert time.monotonic() - killed < PROMPT
    for failure in failures:
        assert isinstance(failure, TransportClosedError)
        assert failure.exit_code == killed_with
    with pytest.raises(TransportClosedError, match="connection to the app-server is closed"):
        await async_codex.thread_start()


def test_server_exiting_on_its_own_fails_turn_and_requests_with_its_stderr(
    tmp_path: Path,
) -> None:
    with Codex(fake(tmp_path, "crash")) as codex:
        handle = codex.thread_start().turn("go")
        failures: list[BaseException] = []

        def pending_request() -> None:
            try:
                codex.client.request("fake/never")  # the fake dies on receiving it
            except BaseException as exc:
                failures.append(exc)

        requester = threading.Thread(target=pending_request)
        started = time.monotonic()
        requester.start()
        with pytest.raises(TransportClosedError) as caught:
            handle.run()
        requester.join(5)
        assert time.monotonic() - started < PROMPT
        assert [type(f) for f in failures] == [TransportClosedError]
        for error in (caught.value, failures[0]):
            assert isinstance(error, TransportClosedError)
            assert error.exit_code == 3
            assert "lost the model connection" in error.stderr_tail
            assert "lost the model connection" in str(error)
        with pytest.raises(TransportClosedError, match="closed"):
            codex.thread_start()


async def test_server_exiting_on_its_own_fails_turn_and_requests_with_its_stderr_async(
    tmp_path: Path,
) -> None:
    async with AsyncCodex(fake(tmp_path, "crash")) as codex:
        handle = await (await codex.thread_start()).turn("go")
        run = asyncio.ensure_future(handle.run())
        started = time.monotonic()
        request = asyncio.ensure_future(codex.client.request("fake/never"))
        failures = await asyncio.gather(run, request, return_exceptions=True)
        assert time.monotonic() - started < PROMPT
        for error in failures:
            assert isinstance(error, TransportClosedError)
            assert error.exit_code == 3
            assert "lost the model connection" in error.stderr_tail
        with pytest.raises(TransportClosedError, match="closed"):
            await codex.thread_start()


# -- the app-server fails at start -------------------------------------------------------------


def test_bad_config_fails_the_constructor_quoting_stderr(
    codex_config: CodexConfig, codex_home: Path
) -> None:
    (codex_home / "config.toml").write_text('approval_policy = "untrusted"\n')
    before = child_processes()
    with pytest.raises(AppServerStartError) as caught:
        Codex(codex_config)
    assert "untrusted" in str(caught.value)
    assert caught.value.exit_code not in (None, 0)
    assert child_processes() <= before


async def test_bad_config_fails_the_start_quoting_stderr_async(
    codex_config: CodexConfig, codex_home: Path
) -> None:
    (codex_home / "config.toml").write_text('approval_policy = "untrusted"\n')
    before = child_processes()
    codex = AsyncCodex(codex_config)
    with pytest.raises(AppServerStartError) as caught:
        await codex.start()
    assert "untrusted" in str(caught.value)
    assert caught.value.exit_code not in (None, 0)
    assert child_processes() <= before


# -- garbage on stdout -------------------------------------------------------------------------


#: A token budget makes the turn read every token-usage update's params as they arrive.
BUDGET = TurnBounds(token_budget=10**9)


def check_garbage_was_skipped(
    events: list[Any], violations: int, caplog: pytest.LogCaptureFixture
) -> None:
    deltas = [e for e in events if e.method == "item/agentMessage/delta"]
    assert len(deltas[0].params.delta) == TEN_MB  # a 10 MB line arrives whole
    assert events[-1].method == "turn/completed"
    # Not JSON, a JSON array, a reply to an unknown id, a 10 MB non-JSON line, deep nesting,
    # and lines that start like one of the turn's deltas and token-usage updates.
    assert violations == 7
    warnings = [r.getMessage() for r in caplog.records if "skipped a message" in r.getMessage()]
    assert len(warnings) == 7
    assert any("and then no JSON at all" in w for w in warnings)
    assert any("tokens galore" in w for w in warnings)
    assert any("not JSON" in w for w in warnings)
    assert any("recursion" in w for w in warnings)
    assert any("not a JSON object" in w for w in warnings)
    assert any("unknown request id 987654" in w for w in warnings)
    assert all(len(w) < 1000 for w in warnings)  # the 10 MB line is excerpted, not logged


def test_garbage_on_stdout_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    with Codex(fake(tmp_path, "garbage")) as codex:
        thread = codex.thread_start()
        events = list(thread.turn("first").stream(timeout=20, bounds=BUDGET))
        check_garbage_was_skipped(events, codex.client.connection.protocol_violations, caplog)
        assert final_text(thread.run("second", timeout=20)) == "done"


async def test_garbage_on_stdout_is_skipped_and_counted_async(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    async with AsyncCodex(fake(tmp_path, "garbage")) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("first")
        events = [e async for e in handle.stream(timeout=20, bounds=BUDGET)]
        check_garbage_was_skipped(events, codex.client.connection.protocol_violations, caplog)
        assert final_text(await thread.run("second", timeout=20)) == "done"


def test_a_burst_of_events_arrives_whole_and_in_order(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    pieces = [f"{i} " for i in range(2000)]
    model_server.enqueue(response(message_deltas(pieces)))
    events = list(codex.thread_start().turn("count").stream(timeout=20))
    deltas = [e.params.delta for e in events if e.method == "item/agentMessage/delta"]
    assert "".join(deltas) == "".join(pieces)
    assert codex.client.connection.protocol_violations == 0


async def test_a_burst_of_events_arrives_whole_and_in_order_async(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    pieces = [f"{i} " for i in range(2000)]
    model_server.enqueue(response(message_deltas(pieces)))
    handle = await (await async_codex.thread_start()).turn("count")
    events = [e async for e in handle.stream(timeout=20)]
    deltas = [e.params.delta for e in events if e.method == "item/agentMessage/delta"]
    assert "".join(deltas) == "".join(pieces)
    assert async_codex.client.connection.protocol_violations == 0


# -- a newer server ----------------------------------------------------------------------------


def check_newer_server_events(events: list[Any]) -> None:
    by_method = {e.method: e for e in events}
    unknown = by_method["thread/mood/changed"]
    assert type(unknown).__name__ == "UnknownServerNotification"
    assert unknown.params["mood"] == "curious"
    item = by_method["item/started"].params.item
    assert type(item).__name__ == "UnrecognizedThreadItem"
    assert (item.type, item.id, item.model_extra["depth"]) == ("hologram", "h-1", 3)
    completed = by_method["item/completed"].params
    assert completed.model_extra["shininess"] == 0.5  # a new field on a known notification
    assert completed.item.text == "hello"
    assert completed.item.phase == "afterthought"  # a new enum value
    assert completed.item.model_extra["sparkle"] is True
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == MethodNotFoundError.CODE
    assert "item/hologram/requestApproval" in reply["error"]["message"]
    assert events[-1].method == "turn/completed"


def test_newer_server_messages_arrive_typed_and_unknown_requests_get_an_error(
    tmp_path: Path,
) -> None:
    with Codex(fake(tmp_path, "newer")) as codex:
        events = list(codex.thread_start().turn("go").stream(timeout=20))
        check_newer_server_events(events)
        assert codex.client.connection.protocol_violations == 0


async def test_newer_server_messages_arrive_typed_and_unknown_requests_get_an_error_async(
    tmp_path: Path,
) -> None:
    async with AsyncCodex(fake(tmp_path, "newer")) as codex:
        handle = await (await codex.thread_start()).turn("go")
        check_newer_server_events([e async for e in handle.stream(timeout=20)])
        assert codex.client.connection.protocol_violations == 0


# -- handlers ----------------------------------------------------------------------------------


def boom(params: Any) -> Any:
    raise RuntimeError("the approval service is down")


async def async_boom(params: Any) -> Any:
    raise RuntimeError("the approval service is down")


#: Broken approval handlers, each with what the SDK logs about it.
BROKEN = {
    "raises": (boom, "the approval service is down"),
    "wrong type": (lambda params: 42, "returned int"),
}


@pytest.mark.parametrize("broken", BROKEN)
def test_broken_approval_handler_declines_and_the_turn_goes_on(
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
    with Codex(codex_config, approval_handler=handler) as codex:
        thread = codex.thread_start()
        assert final_text(thread.run("try", timeout=20)) == "after"
        model_server.enqueue(response(message("still usable")))
        assert final_text(thread.run("again", timeout=20)) == "still usable"
    assert not (codex_workdir / "raised.txt").exists()
    assert logged in caplog.text


async def test_broken_approval_handler_declines_and_the_turn_goes_on_async(
    codex_config: CodexConfig,
    model_server: ScriptedModelServer,
    codex_workdir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model_server.enqueue(
        response(exec_command("echo x > raised.txt", escalated=True)), response(message("after"))
    )
    async with AsyncCodex(codex_config, approval_handler=async_boom) as codex:
        thread = await codex.thread_start()
        assert final_text(await thread.run("try", timeout=20)) == "after"
    assert not (codex_workdir / "raised.txt").exists()
    assert "the approval service is down" in caplog.text


def test_raising_handler_is_answered_with_an_internal_error(tmp_path: Path) -> None:
    with Codex(fake(tmp_path, "approval"), approval_handler=boom) as codex:
        events = list(codex.thread_start().turn("go").stream(timeout=20))
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == -32603
    assert "RuntimeError: the approval service is down" in reply["error"]["message"]


async def test_raising_handler_is_answered_with_an_internal_error_async(tmp_path: Path) -> None:
    async with AsyncCodex(fake(tmp_path, "approval"), approval_handler=async_boom) as codex:
        handle = await (await codex.thread_start()).turn("go")
        events = [e async for e in handle.stream(timeout=20)]
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == -32603
    assert "RuntimeError: the approval service is down" in reply["error"]["message"]


WRONG_TYPE = "returned int; return a CommandExecutionRequestApprovalResponse"


def test_wrong_typed_handler_result_is_a_clear_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    handlers = {"item/commandExecution/requestApproval": lambda params: 42}
    with Codex(fake(tmp_path, "approval"), handlers=handlers) as codex:
        events = list(codex.thread_start().turn("go").stream(timeout=20))
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == -32603
    assert WRONG_TYPE in reply["error"]["message"]
    assert WRONG_TYPE in caplog.text  # the user sees it too, not only the server


async def test_wrong_typed_handler_result_is_a_clear_error_async(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")

    async def wrong(params: Any) -> Any:
        return 42

    async with AsyncCodex(fake(tmp_path, "approval"), approval_handler=wrong) as codex:
        handle = await (await codex.thread_start()).turn("go")
        events = [e async for e in handle.stream(timeout=20)]
    (reply,) = client_replies(events)
    assert WRONG_TYPE in reply["error"]["message"]
    assert WRONG_TYPE in caplog.text


def test_slow_handler_does_not_hold_up_other_threads(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    other_done = threading.Event()
    in_handler = threading.Event()
    saw_other_finish: list[bool] = []

    def slow(params: Any) -> bool:
        in_handler.set()
        # Up to 5 s: if events stopped flowing while this runs, the other turn never ends.
        saw_other_finish.append(other_done.wait(5))
        return False

    model_server.enqueue(response(exec_command("echo slow > slow.txt", escalated=True)))
    with Codex(codex_config) as codex:
        slow_thread = codex.thread_start(approval_handler=slow)
        handle = slow_thread.turn("needs approval")
        assert in_handler.wait(10)
        model_server.enqueue(response(message("quick")), response(message("slow done")))
        assert final_text(codex.thread_start().run("quick one", timeout=20)) == "quick"
        other_done.set()
        assert final_text(handle.run(timeout=20)) == "slow done"
    assert saw_other_finish == [True]


async def test_slow_handler_does_not_hold_up_other_threads_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    other_done = asyncio.Event()
    in_handler = asyncio.Event()
    saw_other_finish: list[bool] = []

    async def slow(params: Any) -> bool:
        in_handler.set()
        try:
            await asyncio.wait_for(other_done.wait(), 5)
            saw_other_finish.append(True)
        except asyncio.TimeoutError:
            saw_other_finish.append(False)
        return False

    model_server.enqueue(response(exec_command("echo slow > slow.txt", escalated=True)))
    async with AsyncCodex(codex_config) as codex:
        handle = await (await codex.thread_start(approval_handler=slow)).turn("needs approval")
        await asyncio.wait_for(in_handler.wait(), 10)
        model_server.enqueue(response(message("quick")), response(message("slow done")))
        quick = await (await codex.thread_start()).run("quick one", timeout=20)
        assert final_text(quick) == "quick"
        other_done.set()
        assert final_text(await handle.run(timeout=20)) == "slow done"
    assert saw_other_finish == [True]


# -- lifecycle ---------------------------------------------------------------------------------


def test_close_during_a_turn_from_other_threads_and_twice(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    codex = Codex(codex_config)
    pid = codex.client.connection.pid
    handle = codex.thread_start().turn("hang")
    model_server.wait_for_requests(1)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            handle.run()
        except BaseException as exc:
            failures.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    closers = [threading.Thread(target=codex.close) for _ in range(4)]
    started = time.monotonic()
    for closer in closers:
        closer.start()
    for worker in [*closers, runner]:
        worker.join(10)
    assert time.monotonic() - started < 5
    assert not any(worker.is_alive() for worker in [*closers, runner])
    assert [type(f) for f in failures] == [TransportClosedError]
    codex.close()  # once more, after the fact
    assert pid not in child_processes()
    with pytest.raises(TransportClosedError, match="closed"):
        codex.thread_start()


async def test_close_during_a_turn_and_twice_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    codex = AsyncCodex(codex_config)
    await codex.start()
    pid = codex.client.connection.pid
    handle = await (await codex.thread_start()).turn("hang")
    await asyncio.to_thread(model_server.wait_for_requests, 1)
    run = asyncio.ensure_future(handle.run())
    await asyncio.sleep(0)
    await asyncio.gather(codex.close(), codex.close())
    with pytest.raises(TransportClosedError):
        await asyncio.wait_for(run, 5)
    await codex.close()
    assert pid not in child_processes()
    with pytest.raises(TransportClosedError, match="closed"):
        await codex.thread_start()


def check_no_leaks(before: tuple[int, int, set[int]]) -> None:
    fds, threads, children = before
    # Threads and pipes of the last client may take a moment to be collected.
    wait_until(lambda: resources()[:2] <= (fds, threads))
    assert child_processes() <= children


def test_thousand_open_close_cycles_leak_nothing(tmp_path: Path) -> None:
    config = CodexConfig(codex_bin=minimal_server(tmp_path))
    CodexClient(config).close()  # load what the first client loads once
    before = resources()
    for _ in range(1000):
        CodexClient(config).close()
    check_no_leaks(before)


async def test_thousand_open_close_cycles_leak_nothing_async(tmp_path: Path) -> None:
    config = CodexConfig(codex_bin=minimal_server(tmp_path))
    async with AsyncCodexClient(config):
        pass  # load what the first client loads once
    before = resources()
    for _ in range(1000):
        async with AsyncCodexClient(config):
            pass
    check_no_leaks(before)


def run_with_approval(config: CodexConfig, handler: Callable[[Any], Any]) -> None:
    with Codex(config, approval_handler=handler) as codex:
        events = list(codex.thread_start().turn("go").stream(timeout=20))
    assert client_replies(events) == [{"id": "srv-turn-1", "result": {"decision": "accept"}}]


def test_clients_whose_handlers_ran_leak_nothing(tmp_path: Path) -> None:
    config = fake(tmp_path, "approval")
    run_with_approval(config, accept_all)
    before = resources()
    for _ in range(10):
        run_with_approval(config, accept_all)
    check_no_leaks(before)


async def test_clients_whose_handlers_ran_leak_nothing_async(tmp_path: Path) -> None:
    config = fake(tmp_path, "approval")

    async def cycle() -> None:
        async with AsyncCodex(config, approval_handler=accept_all) as codex:
            handle = await (await codex.thread_start()).turn("go")
            events = [e async for e in handle.stream(timeout=20)]
        assert client_replies(events) == [{"id": "srv-turn-1", "result": {"decision": "accept"}}]

    await cycle()  # the loop's executor, which plain handlers run in, starts its thread once
    before = resources()
    for _ in range(10):
        await cycle()
    check_no_leaks(before)


def test_real_binary_open_close_cycles_leak_nothing(codex_config: CodexConfig) -> None:
    Codex(codex_config).close()
    before = resources()
    for _ in range(10):
        with Codex(codex_config) as codex:
            codex.thread_start()
    check_no_leaks(before)


async def test_real_binary_open_close_cycles_leak_nothing_async(
    codex_config: CodexConfig,
) -> None:
    async with AsyncCodex(codex_config):
        pass
    before = resources()
    for _ in range(10):
        async with AsyncCodex(codex_config) as codex:
            await codex.thread_start()
    check_no_leaks(before)


def test_one_client_used_from_eight_threads(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(*(response(message(f"reply {i}")) for i in range(8)))
    results: dict[str, str | None] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        try:
            thread = codex.thread_start()
            barrier.wait(10)
            codex.models()
            results[thread.id] = final_text(thread.run("hello", timeout=30))
            assert thread.read().id == thread.id
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    assert sorted(v or "" for v in results.values()) == sorted(f"reply {i}" for i in range(8))
    assert codex.client.connection.subscriber_count() == 0


@pytest.mark.posix_only("sends SIGINT to the main thread with signal.pthread_kill")
def test_ctrl_c_in_the_thread_reading_for_others_loses_none_of_their_replies(
    codex: Codex,
) -> None:
    # The main thread reads the server's output for every waiting thread while its own call
    # waits; Ctrl-C lands there hundreds of times. A reply it had read but not handed on would
    # be lost, and the other thread would time out.
    stop = threading.Event()
    errors: list[BaseException] = []
    answered = 0

    def other_thread() -> None:
        nonlocal answered
        try:
            while not stop.is_set():
                codex.client.request("thread/loaded/list", {}, timeout=5)
                answered += 1
        except BaseException as exc:
            errors.append(exc)

    armed = [False]

    def on_sigint(signum: int, frame: object) -> None:
        if armed[0]:
            armed[0] = False  # one interrupt per call: never inside the except clause below
            raise KeyboardInterrupt

    def interrupter() -> None:
        while not stop.wait(0.003):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    workers = [threading.Thread(target=other_thread), threading.Thread(target=interrupter)]
    interrupted = 0
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                armed[0] = True
                codex.client.thread_loaded_list()
                armed[0] = False
            except KeyboardInterrupt:
                interrupted += 1
    finally:
        armed[0] = False
        stop.set()
        for worker in workers:
            worker.join(10)
        signal.signal(signal.SIGINT, previous)
    assert errors == []
    assert interrupted > 20
    assert answered > 20
    connection = codex.client.connection
    assert connection.protocol_violations == 0
    assert codex.client.thread_loaded_list().data == []
    assert connection.pending_requests() == 0


async def test_one_client_used_from_eight_tasks_async(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(*(response(message(f"reply {i}")) for i in range(8)))

    async def work() -> str | None:
        thread = await async_codex.thread_start()
        await async_codex.models()
        return final_text(await thread.run("hello", timeout=30))

    results = await asyncio.gather(*(work() for _ in range(8)))
    assert sorted(r or "" for r in results) == sorted(f"reply {i}" for i in range(8))
    assert async_codex.client.connection.subscriber_count() == 0


# -- cancellation ------------------------------------------------------------------------------


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


def test_run_timeout_interrupts_the_turn_and_the_connection_stays_usable(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(message("still works")))
    thread = codex.thread_start()
    handle = thread.turn("hang")
    # Once the stall is taken; otherwise the next turn could be the one to get it.
    model_server.wait_for_requests(1)
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="interrupted"):
        handle.run(timeout=0.5)
    # The timeout, then one turn/interrupt round trip.
    assert time.monotonic() - started < 0.5 + 2 * PROMPT
    assert final_text(thread.run("next", timeout=20)) == "still works"
    assert [status(t) for t in thread.read(include_turns=True).turns] == [
        "interrupted",
        "completed",
    ]


def test_interrupting_a_wedged_server_is_bounded_by_request_timeout(tmp_path: Path) -> None:
    with Codex(fake(tmp_path, "wedged", request_timeout=2.0)) as codex:
        handle = codex.thread_start().turn("go")
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            handle.run(timeout=0.2)
        # The turn's bound, then the unanswered turn/interrupt's.
        assert time.monotonic() - started < 0.2 + 2.0 + PROMPT


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


# -- timeouts ----------------------------------------------------------------------------------


def test_handshake_is_bounded_by_request_timeout(tmp_path: Path) -> None:
    before = child_processes()
    started = time.monotonic()
    with pytest.raises(
        RequestTimeoutError, match=re.escape("'initialize' got no reply within 0.5 s")
    ):
        Codex(fake(tmp_path, "silent", request_timeout=0.5))
    # The timeout, then stopping a server that may still be starting up (EOF ends it).
    assert time.monotonic() - started < 0.5 + 2 * PROMPT
    assert child_processes() <= before


async def test_handshake_is_bounded_by_request_timeout_async(tmp_path: Path) -> None:
    before = child_processes()
    started = time.monotonic()
    with pytest.raises(
        RequestTimeoutError, match=re.escape("'initialize' got no reply within 0.5 s")
    ):
        await AsyncCodex(fake(tmp_path, "silent", request_timeout=0.5)).start()
    # The timeout, then stopping a server that may still be starting up (EOF ends it).
    assert time.monotonic() - started < 0.5 + 2 * PROMPT
    assert child_processes() <= before


def test_unanswered_request_times_out_clearly_and_the_connection_stays_usable(
    tmp_path: Path,
) -> None:
    with CodexClient(fake(tmp_path, "ok", request_timeout=2.0)) as client:
        with pytest.raises(
            RequestTimeoutError, match=re.escape("'fake/never' got no reply within 2.0 s")
        ):
            client.request("fake/never")
        with pytest.raises(RequestTimeoutError, match=re.escape("within 0.1 s")):
            client.request("fake/never", timeout=0.1)
        with pytest.raises(MethodNotFoundError):
            client.request("fake/other")
        assert client.thread_start().thread.id


async def test_unanswered_request_times_out_clearly_and_the_connection_stays_usable_async(
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
        assert (await client.thread_start()).thread.id


async def test_concurrent_requests_each_time_out_on_their_own_deadline_async(
    tmp_path: Path,
) -> None:
    # One timer serves every request of a connection: a short timeout started after a long
    # one must still fire on time, and the long one later, each once.
    async with AsyncCodexClient(fake(tmp_path, "ok", request_timeout=60)) as client:
        started = time.monotonic()
        slow = asyncio.ensure_future(client.request("fake/never", timeout=1.5))
        await asyncio.sleep(0)
        fast = [asyncio.ensure_future(client.request("fake/never", timeout=t)) for t in (0.4, 0.2)]
        for task, bound in zip(fast[::-1], (0.2, 0.4), strict=True):
            with pytest.raises(RequestTimeoutError, match=re.escape(f"within {bound} s")):
                await task
            assert bound <= time.monotonic() - started < bound + PROMPT
        assert not slow.done()
        assert (await client.thread_start()).thread.id
        with pytest.raises(RequestTimeoutError, match=re.escape("within 1.5 s")):
            await slow
        assert 1.5 <= time.monotonic() - started < 1.5 + PROMPT
        assert client.connection.pending_requests() == 0


def test_stream_timeout_bounds_the_wait_for_each_event(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    handle = codex.thread_start().turn("hang")
    with pytest.raises(RequestTimeoutError, match=re.escape("no event arrived within 0.5 s")):
        for _ in handle.stream(timeout=0.5):
            pass
    handle.interrupt()
    assert status(handle.run(timeout=20)) == "interrupted"


async def test_stream_timeout_bounds_the_wait_for_each_event_async(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    handle = await (await async_codex.thread_start()).turn("hang")
    with pytest.raises(RequestTimeoutError, match=re.escape("no event arrived within 0.5 s")):
        async for _ in handle.stream(timeout=0.5):
            pass
    await handle.interrupt()
    assert status(await handle.run(timeout=20)) == "interrupted"


def test_close_is_bounded_when_the_server_ignores_eof_and_sigterm(tmp_path: Path) -> None:
    client = CodexClient(fake(tmp_path, "stubborn"))
    pid = client.connection.pid
    started = time.monotonic()
    client.close()
    # Two bounded steps (EOF, SIGTERM) of 2 s each, then SIGKILL.
    assert time.monotonic() - started < 8
    assert pid not in child_processes()


async def test_close_is_bounded_when_the_server_ignores_eof_and_sigterm_async(
    tmp_path: Path,
) -> None:
    client = AsyncCodexClient(fake(tmp_path, "stubborn"))
    await client.start()
    pid = client.connection.pid
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < 8
    assert pid not in child_processes()


def test_request_to_a_server_that_stopped_reading_times_out_and_close_is_bounded(
    tmp_path: Path,
) -> None:
    client = CodexClient(fake(tmp_path, "deaf", request_timeout=60))
    pid = client.connection.pid
    started = time.monotonic()
    # Far more than a pipe buffer holds, so the write itself cannot complete.
    with pytest.raises(RequestTimeoutError, match="fake/big"):
        client.request("fake/big", {"blob": "x" * TEN_MB}, timeout=0.5)
    assert time.monotonic() - started < 0.5 + PROMPT
    client.close()
    assert time.monotonic() - started < 0.5 + PROMPT + 8
    assert pid not in child_processes()


async def test_request_to_a_server_that_stopped_reading_times_out_and_close_is_bounded_async(
    tmp_path: Path,
) -> None:
    client = AsyncCodexClient(fake(tmp_path, "deaf", request_timeout=60))
    await client.start()
    pid = client.connection.pid
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="fake/big"):
        await client.request("fake/big", {"blob": "x" * TEN_MB}, timeout=0.5)
    assert time.monotonic() - started < 0.5 + PROMPT
    await client.close()
    assert time.monotonic() - started < 0.5 + PROMPT + 8
    assert pid not in child_processes()


# -- security ----------------------------------------------------------------------------------


def test_approvals_are_declined_unless_a_policy_accepts(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("echo no > declined.txt", escalated=True)),
        response(message("not run")),
        response(exec_command("echo yes > accepted.txt", escalated=True)),
        response(message("ran")),
    )
    with Codex(codex_config) as codex:
        codex.thread_start().run("try", timeout=20)
    with Codex(codex_config, approval_handler=accept_all) as codex:
        codex.thread_start().run("try", timeout=20)
    assert not (codex_workdir / "declined.txt").exists()
    assert (codex_workdir / "accepted.txt").read_text().strip() == "yes"


async def test_approvals_are_declined_unless_a_policy_accepts_async(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("echo no > declined.txt", escalated=True)),
        response(message("not run")),
        response(exec_command("echo yes > accepted.txt", escalated=True)),
        response(message("ran")),
    )
    async with AsyncCodex(codex_config) as codex:
        await (await codex.thread_start()).run("try", timeout=20)
    async with AsyncCodex(codex_config, approval_handler=accept_all) as codex:
        await (await codex.thread_start()).run("try", timeout=20)
    assert not (codex_workdir / "declined.txt").exists()
    assert (codex_workdir / "accepted.txt").read_text().strip() == "yes"


def with_secret(config: CodexConfig) -> CodexConfig:
    return CodexConfig(
        codex_bin=config.codex_bin,
        cwd=config.cwd,
        env={**config.env, "OPENAI_API_KEY": SECRET},
        inherit_env=False,
    )


def test_secrets_in_env_stay_out_of_argv_reprs_and_logs(
    codex_config: CodexConfig, model_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="codex_app_server")
    config = with_secret(codex_config)
    model_server.enqueue(
        response(exec_command("echo hi", escalated=True)), response(message("done"))
    )
    codex = Codex(config, approval_handler=accept_all)
    pid = codex.client.connection.pid
    # The server does get the key, through its environment only.
    assert psutil.Process(pid).environ()["OPENAI_API_KEY"] == SECRET
    assert SECRET not in " ".join(psutil.Process(pid).cmdline())
    thread = codex.thread_start()
    thread.run("go", timeout=20)
    shown = [repr(config), str(config), repr(codex), repr(codex.client), repr(thread)]
    kill_hard(pid)
    with pytest.raises(TransportClosedError) as caught:
        thread.run("again")
    shown += [str(caught.value), repr(caught.value)]
    codex.close()
    assert caplog.records, "DEBUG logging was on, yet nothing was logged"
    for text in [*shown, caplog.text]:
        assert SECRET not in text


async def test_secrets_in_env_stay_out_of_argv_reprs_and_logs_async(
    codex_config: CodexConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="codex_app_server")
    config = with_secret(codex_config)
    async with AsyncCodex(config) as codex:
        pid = codex.client.connection.pid
        assert psutil.Process(pid).environ()["OPENAI_API_KEY"] == SECRET
        assert SECRET not in " ".join(psutil.Process(pid).cmdline())
        thread = await codex.thread_start()
        shown = [repr(config), repr(codex), repr(codex.client), repr(thread)]
    for text in [*shown, caplog.text]:
        assert SECRET not in text


def test_server_is_started_without_a_shell(codex_config: CodexConfig, codex_workdir: Path) -> None:
    hostile = "$(touch shell-ran); touch shell-ran2"
    config = CodexConfig(
        codex_bin=codex_config.codex_bin,
        cwd=codex_config.cwd,
        env=codex_config.env,
        inherit_env=False,
        config_overrides={"developer_instructions": hostile},
    )
    with Codex(config) as codex:
        pid = codex.client.connection.pid
        argv = psutil.Process(pid).cmdline()
        assert argv[1:] == ["app-server", "-c", f'developer_instructions="{hostile}"']
        # The server is our own child running the codex binary, with no shell in between.
        assert pid in child_processes()
        assert os.path.samefile(psutil.Process(pid).exe(), argv[0])
        codex.thread_start()
    assert list(codex_workdir.iterdir()) == []


@pytest.mark.parametrize(
    "kind",
    ["missing", "directory", pytest.param("not executable", marks=pytest.mark.posix_only(NO_EXEC))],
)
def test_codex_bin_that_is_not_an_executable_file_is_refused_before_launch(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "codex"
    if kind == "directory":
        path.mkdir()
    elif kind == "not executable":
        path.write_text(f"#!/bin/sh\ntouch {tmp_path / 'ran'}\n")
    before = child_processes()
    with pytest.raises(CodexNotFoundError, match="codex_bin="):
        Codex(codex_bin=path)
    with pytest.raises(CodexNotFoundError, match="codex_bin="):
        asyncio.run(AsyncCodex(codex_bin=path).start())
    assert child_processes() <= before
    assert not (tmp_path / "ran").exists()


# -- the document ------------------------------------------------------------------------------


def test_every_guarantee_names_existing_tests_and_every_test_is_cited() -> None:
    """docs/reliability.md and this file stay in step: no dead references, no uncited test."""
    document = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
    cited = set(re.findall(r"`(test_\w+)`", document.read_text(encoding="utf-8")))
    here = {name for name in globals() if name.startswith("test_")}
    assert cited - here == set()
    assert {n for n in here if n not in cited and n.removesuffix("_async") not in cited} == set()
