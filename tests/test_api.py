"""The user API (Codex, threads, turn handles) on the real app-server and a scripted model."""

from __future__ import annotations

import asyncio
import base64
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import (
    AsyncCodex,
    Codex,
    CodexConfig,
    CodexNotFoundError,
    ImageInput,
    LocalImageInput,
    TextInput,
    TurnFailedError,
    accept_all,
    final_text,
)
from codex_app_server.generated import InitializeResponse, Turn
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    http_error,
    message,
    message_deltas,
    response,
    stall,
    write_file,
)
from pydantic import BaseModel

PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


class Verdict(BaseModel):
    answer: str
    confidence: float


def test_codex_is_eager_and_exposes_metadata(codex: Codex) -> None:
    assert isinstance(codex.metadata, InitializeResponse)
    assert codex.client.connection.pid > 0


def test_constructor_fails_clearly_for_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(CodexNotFoundError, match="codex_bin"):
        Codex(codex_bin=tmp_path / "missing")


def test_config_and_keywords_are_exclusive(codex_config: CodexConfig) -> None:
    with pytest.raises(TypeError, match="either config= or keyword options"):
        Codex(codex_config, cwd="/")
    with pytest.raises(TypeError, match="CodexConfig"):
        Codex(no_such_option=1)


def test_run_returns_the_generated_turn(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("4")))
    thread = codex.thread_start(developer_instructions="answer with a number")
    turn = thread.run("2+2?")
    assert isinstance(turn, Turn)
    assert final_text(turn) == "4"
    assert model_server.requests[0].user_texts[-1] == "2+2?"
    assert "answer with a number" in model_server.requests[0].instructions


def test_stream_yields_typed_events_in_order(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message_deltas(["a", "b", "c"])))
    handle = codex.thread_start().turn("letters")
    events = list(handle.stream())
    methods = [e.method for e in events]
    assert methods.index("turn/started") < methods.index("item/agentMessage/delta")
    agent_done = next(
        i
        for i, e in enumerate(events)
        if e.method == "item/completed" and e.params.item.type == "agentMessage"
    )
    last_delta = max(i for i, m in enumerate(methods) if m == "item/agentMessage/delta")
    assert last_delta < agent_done < len(events) - 1
    assert methods[-1] == "turn/completed"
    deltas = [e.params.delta for e in events if e.method == "item/agentMessage/delta"]
    assert deltas == ["a", "b", "c"]
    assert events[-1].params.turn.id == handle.id
    assert handle.run().id == handle.id  # already complete: returns at once


def test_multi_turn_continuity(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("first answer")), response(message("second answer")))
    thread = codex.thread_start()
    thread.run("first question")
    thread.run("second question")
    second = model_server.requests[1]
    assert "first question" in second.user_texts
    assert "first answer" in second.assistant_texts


def test_inputs_mix_text_and_images(
    codex: Codex, model_server: ScriptedModelServer, tmp_path: Path
) -> None:
    image = tmp_path / "pixel.png"
    image.write_bytes(PIXEL_PNG)
    model_server.enqueue(response(message("seen")))
    codex.thread_start().run(
        [
            TextInput("describe"),
            LocalImageInput(image),
            ImageInput("data:image/png;base64," + base64.b64encode(PIXEL_PNG).decode()),
        ]
    )
    request = model_server.requests[0]
    assert "describe" in request.user_texts
    assert len(request.images) == 2


def test_bad_input_names_the_element(codex: Codex) -> None:
    thread = codex.thread_start()
    with pytest.raises(TypeError, match=r"input\[1\] is a int"):
        thread.turn(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="without a string 'type'"):
        thread.turn({"text": "no type"})


def test_structured_output(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message('{"answer": "yes", "confidence": 0.9}')))
    handle = codex.thread_start().turn("decide", output_schema=Verdict)
    verdict = handle.run_parsed(Verdict)
    assert verdict == Verdict(answer="yes", confidence=0.9)
    schema = model_server.requests[0].output_schema
    assert schema is not None
    assert "confidence" in str(schema)


def test_failed_turn_raises_typed_error(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(http_error(500, "model exploded"))
    with pytest.raises(TurnFailedError) as caught:
        codex.thread_start().run("boom")
    assert caught.value.turn.id
    assert caught.value.error is not None


def test_approval_handler_per_client_and_per_thread(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("echo a > client.txt", escalated=True)),
        response(message("a")),
        response(exec_command("echo b > thread.txt", escalated=True)),
        response(message("b")),
    )
    with Codex(codex_config, approval_handler=accept_all) as codex:
        codex.thread_start().run("client policy")
        declined = codex.thread_start(approval_handler=lambda request: False)
        declined.run("thread policy")
    assert (codex_workdir / "client.txt").exists()
    assert not (codex_workdir / "thread.txt").exists()


def test_turns_on_threads_run_concurrently(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(*(response(message(f"reply {i}")) for i in range(3)))
    threads = [codex.thread_start() for _ in range(3)]
    results: dict[str, str | None] = {}

    def run(index: int) -> None:
        handle = threads[index].turn(f"question {index}")
        events = list(handle.stream())
        assert all(
            getattr(e.params, "thread_id", threads[index].id) == threads[index].id for e in events
        )
        results[threads[index].id] = final_text(events[-1].params.turn)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(v or "" for v in results.values()) == ["reply 0", "reply 1", "reply 2"]
    assert codex.client.connection.subscriber_count() == 0


def test_interrupt_a_stalled_turn(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(stall()))
    handle = codex.thread_start().turn("wait forever")
    model_server.wait_for_requests(1)
    handle.interrupt()
    turn = handle.run(timeout=20)
    assert str(getattr(turn.status, "value", turn.status)) == "interrupted"


def test_run_timeout_interrupts_the_turn(codex: Codex, model_server: ScriptedModelServer) -> None:
    from codex_app_server import RequestTimeoutError

    model_server.enqueue(response(stall()), response(message("after")))
    thread = codex.thread_start()
    handle = thread.turn("slow")
    # The stalled answer must be the one in flight, or the next turn would receive it.
    model_server.wait_for_requests(1)
    with pytest.raises(RequestTimeoutError, match="interrupted"):
        handle.run(timeout=1.0)
    # The connection and thread stay usable.
    assert final_text(thread.run("again", timeout=20)) == "after"


def test_thread_lifecycle(codex: Codex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("hi")))
    thread = codex.thread_start()
    thread.run("hello")
    thread.set_name("greeting")
    assert thread.read().name == "greeting"
    listed = codex.thread_list(limit=10)
    assert thread.id in [t.id for t in listed.data]
    codex.thread_archive(thread.id)
    assert thread.id not in [t.id for t in codex.thread_list(limit=10).data]
    codex.thread_unarchive(thread.id)
    forked = codex.thread_fork(thread.id)
    assert forked.id != thread.id
    offered = codex.models().data
    assert len([model for model in offered if model.is_default]) == 1


def test_resume_in_a_new_process(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message("remember 42")), response(message("it was 42")))
    with Codex(codex_config) as first:
        thread = first.thread_start()
        thread.run("the number is 42")
        thread_id = thread.id
    with Codex(codex_config) as second:
        resumed = second.thread_resume(thread_id)
        assert final_text(resumed.run("what was it?")) == "it was 42"
    assert "the number is 42" in model_server.requests[1].user_texts


async def test_async_parity(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(message_deltas(["x", "y"])),
        response(exec_command("echo z > async.txt", escalated=True)),
        response(message("z")),
    )

    async def approve(request: Any) -> bool:
        await asyncio.sleep(0)
        return True

    codex = AsyncCodex(codex_config, approval_handler=approve)
    assert not codex.client.started  # lazy
    async with codex:
        thread = await codex.thread_start()
        handle = await thread.turn("stream")
        methods = [e.method async for e in handle.stream()]
        assert methods[-1] == "turn/completed"
        turn = await thread.run("approve")
        assert final_text(turn) == "z"
    assert (codex_workdir / "async.txt").exists()


async def test_cancelling_run_interrupts_the_turn(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(message("still works")))
    thread = await async_codex.thread_start()
    handle = await thread.turn("hang")
    task = asyncio.ensure_future(handle.run())
    await asyncio.to_thread(model_server.wait_for_requests, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await thread.read(include_turns=True)
    for _ in range(50):
        statuses = [str(getattr(t.status, "value", t.status)) for t in stored.turns]
        if statuses and statuses[-1] != "inProgress":
            break
        await asyncio.sleep(0.1)
        stored = await thread.read(include_turns=True)
    assert statuses[-1] == "interrupted"
    assert final_text(await thread.run("next")) == "still works"
    assert async_codex.client.connection.subscriber_count() == 0


def test_ctrl_c_during_run_interrupts_the_turn(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(message("still alive")))
    thread = codex.thread_start()
    handle = thread.turn("hang")
    model_server.wait_for_requests(1)
    # A real Ctrl-C: SIGINT to this process while run() waits. The app-server has its own
    # session, so it survives and is told to interrupt the turn.
    timer = threading.Timer(0.2, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        handle.run(timeout=20)
    turns = []
    for _ in range(50):
        turns = thread.read(include_turns=True).turns
        if str(getattr(turns[-1].status, "value", turns[-1].status)) != "inProgress":
            break
        time.sleep(0.1)
    assert str(getattr(turns[-1].status, "value", turns[-1].status)) == "interrupted"
    assert final_text(thread.run("next", timeout=20)) == "still alive"


@pytest.mark.parametrize("accept", [True, False])
def test_file_change_approval(
    codex: Codex, model_server: ScriptedModelServer, codex_workdir: Path, accept: bool
) -> None:
    seen: list[Any] = []

    def decide(request: Any) -> bool:
        seen.append(request)
        return accept

    model_server.enqueue(
        response(write_file("notes.txt", "hello from the model")), response(message("edited"))
    )
    thread = codex.thread_start(approval_handler=decide)
    events = list(thread.turn("write notes").stream())
    assert [type(r).__name__ for r in seen] == ["FileChangeRequestApprovalParams"]
    assert seen[0].thread_id == thread.id
    changed = [
        e.params.item
        for e in events
        if e.method == "item/completed" and e.params.item.type == "fileChange"
    ]
    assert len(changed) == 1
    assert (codex_workdir / "notes.txt").exists() is accept
    if accept:
        assert (codex_workdir / "notes.txt").read_text().strip() == "hello from the model"


def test_steer_adds_input_to_the_running_turn(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(stall()), response(message("steered answer")))
    thread = codex.thread_start()
    handle = thread.turn("start slowly")
    model_server.wait_for_requests(1)
    handle.steer("actually, answer this instead")
    turn = handle.run(timeout=20)
    assert final_text(turn) == "steered answer"
    second = model_server.wait_for_requests(2)[1]
    assert "actually, answer this instead" in second.user_texts


async def test_async_turns_on_three_threads_at_once_see_only_their_events(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    gates = [stall() for _ in range(3)]
    model_server.enqueue(*(response(gate) for gate in gates))
    model_server.enqueue(*(response(message(f"answer {i}")) for i in range(3)))
    threads = [await async_codex.thread_start() for _ in range(3)]
    handles = [await thread.turn(f"question {i}") for i, thread in enumerate(threads)]
    # All three model requests are open at once before any is released: truly concurrent.
    await asyncio.to_thread(model_server.wait_for_requests, 3)
    for handle in handles:
        await handle.interrupt()

    async def collect(handle: Any) -> list[Any]:
        return [event async for event in handle.stream(timeout=20)]

    streams = await asyncio.gather(*(collect(handle) for handle in handles))
    for thread, handle, events in zip(threads, handles, streams, strict=True):
        assert events[-1].params.turn.id == handle.id
        assert {getattr(e.params, "thread_id", thread.id) for e in events} == {thread.id}
    answers = await asyncio.gather(*(t.run(f"again {i}") for i, t in enumerate(threads)))
    assert sorted(final_text(turn) or "" for turn in answers) == [
        "answer 0",
        "answer 1",
        "answer 2",
    ]
    assert async_codex.client.connection.subscriber_count() == 0
