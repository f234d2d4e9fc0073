"""The typed client and both connections against the real app-server and a scripted model."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _fake import fake_server
from _portable import kill_hard
from codex_app_server import (
    AppServerStartError,
    AsyncCodexClient,
    CodexClient,
    CodexConfig,
    CodexNotFoundError,
    IncompatibleServerError,
    InvalidRequestError,
    JsonRpcError,
    TransportClosedError,
)
from codex_app_server._connection import Inbox
from codex_app_server.generated import InitializeResponse, ThreadStartResponse
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    message,
    message_deltas,
    response,
    stall,
)

TIMEOUT = 20.0


def collect_turn(inbox: Inbox, turn_id: str) -> list[Any]:
    """Raw notifications of one turn, up to and including its turn/completed."""
    events = []
    while True:
        event = inbox.get(timeout=TIMEOUT)
        events.append(event)
        if event.method == "turn/completed" and event.turn_id == turn_id:
            return events


def start_turn(client: CodexClient, text: str) -> tuple[str, str, Inbox]:
    thread = client.thread_start()
    subscription = client.connection.subscribe(thread.thread.id)
    turn = client.turn_start(thread_id=thread.thread.id, input=[{"type": "text", "text": text}])
    return thread.thread.id, turn.turn.id, subscription.sink


def test_handshake_returns_typed_initialize_response(
    codex_config: CodexConfig, codex_home: Path
) -> None:
    with CodexClient(codex_config) as client:
        info = client.initialize_response
        assert isinstance(info, InitializeResponse)
        assert Path(info.codex_home).resolve() == codex_home.resolve()
        assert info.user_agent
        assert info.platform_os


def test_thread_start_returns_typed_response_with_snake_case_fields(
    codex_config: CodexConfig,
) -> None:
    with CodexClient(codex_config) as client:
        started = client.thread_start(developer_instructions="be brief")
        assert isinstance(started, ThreadStartResponse)
        assert started.thread.id
        assert started.model == "mock-model"


def test_turn_streams_typed_notifications_to_completion(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message_deltas(["Hel", "lo"])))
    with CodexClient(codex_config) as client:
        _, turn_id, inbox = start_turn(client, "hi")
        events = collect_turn(inbox, turn_id)
    methods = [e.method for e in events]
    assert methods.index("turn/started") < methods.index("item/agentMessage/delta")
    assert methods[-1] == "turn/completed"
    deltas = [e.params["delta"] for e in events if e.method == "item/agentMessage/delta"]
    assert "".join(deltas) == "Hello"
    assert model_server.requests[0].user_texts[-1] == "hi"


def test_command_approved_runs_and_declined_does_not(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    seen: list[Any] = []

    def approve(params: Any) -> dict[str, str]:
        seen.append(params)
        return {"decision": "accept" if "yes.txt" in str(params.command) else "decline"}

    model_server.enqueue(
        response(exec_command("echo ok > yes.txt", escalated=True)),
        response(message("ran it")),
        response(exec_command("echo no > no.txt", escalated=True)),
        response(message("did not")),
    )
    handlers = {"item/commandExecution/requestApproval": approve}
    with CodexClient(codex_config, handlers=handlers) as client:
        thread_id, turn_id, inbox = start_turn(client, "make yes")
        collect_turn(inbox, turn_id)
        turn = client.turn_start(thread_id=thread_id, input=[{"type": "text", "text": "no"}])
        collect_turn(inbox, turn.turn.id)
    assert (codex_workdir / "yes.txt").read_text().strip() == "ok"
    assert not (codex_workdir / "no.txt").exists()
    assert type(seen[0]).__name__ == "CommandExecutionRequestApprovalParams"
    assert seen[0].thread_id == thread_id


def test_approvals_are_declined_without_a_handler(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("echo x > default.txt", escalated=True)), response(message("ok"))
    )
    with CodexClient(codex_config) as client:
        _, turn_id, inbox = start_turn(client, "try")
        collect_turn(inbox, turn_id)
    assert not (codex_workdir / "default.txt").exists()
    outputs = model_server.requests[1].function_call_outputs
    assert outputs, "the model should have been told the command was not run"


def test_json_rpc_error_maps_to_its_class(codex_config: CodexConfig) -> None:
    with CodexClient(codex_config) as client:
        with pytest.raises(JsonRpcError) as caught:
            client.request("thread/read", {"threadId": "not-a-thread"})
        assert caught.value.method == "thread/read"
        with pytest.raises(InvalidRequestError):
            client.request("no/such/method", {})
        # The connection is still usable after errors.
        assert client.thread_start().thread.id


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CodexNotFoundError, match="is not a file"):
        CodexClient(CodexConfig(codex_bin=tmp_path / "nope"))
    if os.name == "nt":
        return  # no exec bit: any file is runnable (test_platform_branches simulates both)
    script = tmp_path / "codex"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(CodexNotFoundError, match="not executable"):
        CodexClient(CodexConfig(codex_bin=script))


def test_bad_config_fails_at_start_with_stderr(codex_config: CodexConfig, codex_home: Path) -> None:
    (codex_home / "config.toml").write_text('approval_policy = "untrusted"\n')
    with pytest.raises(AppServerStartError) as caught:
        CodexClient(codex_config)
    assert "untrusted" in str(caught.value)
    assert caught.value.exit_code not in (None, 0)


def test_killed_mid_turn_fails_waiters_at_once(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    client = CodexClient(codex_config)
    try:
        thread_id, turn_id, inbox = start_turn(client, "hang")
        model_server.wait_for_requests(1)
        results: list[BaseException] = []
        other = client.connection.subscribe(thread_id).sink

        def waiter() -> None:
            try:
                collect_turn(other, turn_id)
            except BaseException as exc:
                results.append(exc)

        thread = threading.Thread(target=waiter)
        thread.start()
        killed_with = kill_hard(client.connection.pid)
        started = time.monotonic()
        with pytest.raises(TransportClosedError) as caught:
            collect_turn(inbox, turn_id)
        thread.join(5)
        assert time.monotonic() - started < 1.0
        assert caught.value.exit_code == killed_with
        assert len(results) == 1
        assert isinstance(results[0], TransportClosedError)
        with pytest.raises(TransportClosedError, match="closed"):
            client.thread_start()
    finally:
        client.close()


async def test_async_client_runs_a_turn_and_an_approval(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    async def approve(params: Any) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"decision": "accept"}

    model_server.enqueue(
        response(exec_command("echo hi > async.txt", escalated=True)), response(message("done"))
    )
    handlers = {"item/commandExecution/requestApproval": approve}
    async with AsyncCodexClient(codex_config, handlers=handlers) as client:
        assert isinstance(client.initialize_response, InitializeResponse)
        thread = await client.thread_start()
        inbox = client.connection.subscribe(thread.thread.id).sink
        turn = await client.turn_start(
            thread_id=thread.thread.id, input=[{"type": "text", "text": "go"}]
        )
        methods = []
        while True:
            event = await inbox.get(TIMEOUT)
            methods.append(event.method)
            if event.method == "turn/completed" and event.turn_id == turn.turn.id:
                break
    assert (codex_workdir / "async.txt").read_text().strip() == "hi"
    assert "serverRequest/resolved" in methods


async def test_async_killed_mid_turn_fails_waiters_at_once(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()))
    client = AsyncCodexClient(codex_config)
    await client.start()
    try:
        thread = await client.thread_start()
        inbox = client.connection.subscribe(thread.thread.id).sink
        await client.turn_start(thread_id=thread.thread.id, input=[{"type": "text", "text": "x"}])
        await asyncio.to_thread(model_server.wait_for_requests, 1)
        other = client.connection.subscribe(thread.thread.id).sink

        async def drain(box: Any) -> None:
            while True:
                await box.get(TIMEOUT)

        pending = asyncio.ensure_future(drain(other))
        await asyncio.sleep(0)
        killed_with = kill_hard(client.connection.pid)
        started = time.monotonic()
        with pytest.raises(TransportClosedError) as caught:
            await drain(inbox)
        assert caught.value.exit_code == killed_with
        with pytest.raises(TransportClosedError):
            await pending
        assert time.monotonic() - started < 1.0
        with pytest.raises(TransportClosedError, match="closed"):
            await client.thread_start()
    finally:
        await client.close()


def test_an_older_server_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleServerError, match=r"0\.100\.0.*codex-cli-bin=="):
        CodexClient(CodexConfig(codex_bin=fake_server(tmp_path, "old")))
    client = CodexClient(CodexConfig(codex_bin=fake_server(tmp_path, "old"), check_version=False))
    client.close()


async def test_an_older_server_is_refused_by_the_async_client(tmp_path: Path) -> None:
    client = AsyncCodexClient(CodexConfig(codex_bin=fake_server(tmp_path, "old")))
    with pytest.raises(IncompatibleServerError):
        await client.start()
    assert client.connection.closed


def test_generated_models_as_params_keep_their_tags_on_the_wire(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    from codex_app_server.generated import ReadOnlySandboxPolicy, TextUserInput

    model_server.enqueue(response(message("typed")))
    with CodexClient(codex_config) as client:
        thread = client.thread_start()
        inbox = client.connection.subscribe(thread.thread.id).sink
        turn = client.turn_start(
            thread_id=thread.thread.id,
            input=[TextUserInput(text="typed input")],
            sandbox_policy=ReadOnlySandboxPolicy(),
        )
        collect_turn(inbox, turn.turn.id)
    assert model_server.requests[0].user_texts[-1] == "typed input"


def test_enum_arguments_accept_wire_strings(codex_config: CodexConfig) -> None:
    with CodexClient(codex_config) as client:
        started = client.thread_start(approval_policy="never", sandbox="read-only")
    assert started.approval_policy == "never"
    assert started.sandbox.type == "readOnly"


def test_calls_without_arguments_each_reach_the_server(codex_config: CodexConfig) -> None:
    # Such a call's params are validated once and reused; its reply never is.
    with CodexClient(codex_config) as client:
        before = client.thread_loaded_list()
        first, second = client.thread_start(), client.thread_start()
        after = client.thread_loaded_list()
    assert before.data == []
    assert first.thread.id != second.thread.id
    assert sorted(after.data) == sorted([first.thread.id, second.thread.id])
