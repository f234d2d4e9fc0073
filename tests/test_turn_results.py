"""What a finished turn gives back: its items, its summary, structured output, goals, resume
fallback and the client's cap on concurrent turns, on the real app-server and a scripted model.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import (
    AsyncCodex,
    Codex,
    CodexConfig,
    CodexError,
    InvalidRequestError,
    StructuredOutputError,
    ThreadNotFoundError,
    TurnFailedError,
    TurnSummary,
    accept_all,
    final_text,
    strict_schema,
)
from codex_app_server.testing import (
    ScriptedModelServer,
    Usage,
    exec_command,
    http_error,
    message,
    reasoning,
    response,
    stall,
    write_file,
)
from pydantic import BaseModel, ConfigDict


def kinds(items: list[Any]) -> list[str]:
    return [item.type for item in items]


def busy_turn_script(model_server: ScriptedModelServer) -> None:
    """A turn that reasons and runs a command, edits a file, then answers: three requests."""
    model_server.enqueue(
        response(reasoning("plan"), exec_command("echo hi", escalated=True)),
        response(write_file("notes.txt", "written by the model")),
        response(message("all done")),
    )


EVERY_KIND = ["userMessage", "reasoning", "commandExecution", "fileChange", "agentMessage"]

# -- run() returns every item --------------------------------------------------------------------


def test_run_returns_every_item_the_turn_completed_in_order(
    codex: Codex, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    busy_turn_script(model_server)
    thread = codex.thread_start(approval_handler=accept_all)
    turn = thread.run("do the work")

    assert kinds(turn.items) == EVERY_KIND
    assert str(turn.items_view.value if turn.items_view else None) == "full"
    assert "echo hi" in turn.items[2].command
    assert next(change.path for change in turn.items[3].changes).endswith("notes.txt")
    assert final_text(turn) == "all done"
    assert (codex_workdir / "notes.txt").read_text().strip() == "written by the model"


def test_run_after_stream_returns_the_same_items_as_the_stream_completed(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    busy_turn_script(model_server)
    handle = codex.thread_start(approval_handler=accept_all).turn("do the work")
    streamed = [e.params.item.id for e in handle.stream() if e.method == "item/completed"]
    assert [item.id for item in handle.run().items] == streamed
    assert len(streamed) == len(EVERY_KIND)


async def test_async_run_returns_every_item(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    busy_turn_script(model_server)
    thread = await async_codex.thread_start(approval_handler=accept_all)
    turn = await thread.run("do the work")
    assert kinds(turn.items) == EVERY_KIND


# -- summary -------------------------------------------------------------------------------------


def test_summary_gives_text_status_usage_and_timings(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    busy_turn_script(model_server)
    model_server.enqueue(response(message("second"), usage=Usage(input_tokens=7, output_tokens=3)))
    thread = codex.thread_start(approval_handler=accept_all)
    handle = thread.turn("do the work")
    with pytest.raises(CodexError, match="has not finished"):
        handle.summary()
    turn = handle.run()
    summary = handle.summary()

    assert isinstance(summary, TurnSummary)
    assert summary.turn == turn
    assert (summary.final_text, summary.status, summary.error) == ("all done", "completed", None)
    # Three model responses of Usage()'s default 10 in + 5 out.
    assert summary.usage is not None
    assert (summary.usage.input_tokens, summary.usage.output_tokens) == (30, 15)
    assert summary.usage.total_tokens == 45
    assert summary.started_at is not None
    assert summary.completed_at is not None
    assert summary.completed_at >= summary.started_at
    assert summary.duration_ms is not None

    second = thread.turn("again")
    list(second.stream())  # a summary after stream() as well
    assert second.summary().usage is not None
    assert second.summary().usage.total_tokens == 10  # this turn only
    assert second.summary().thread_usage is not None
    assert second.summary().thread_usage.total_tokens == 55  # the thread's total


def test_summary_of_a_failed_turn_carries_its_error(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(http_error(500, "model exploded"))
    handle = codex.thread_start().turn("boom")
    with pytest.raises(TurnFailedError):
        handle.run()
    summary = handle.summary()
    assert summary.status == "failed"
    assert summary.error is not None
    assert summary.error.message
    assert summary.final_text is None


async def test_async_summary(async_codex: AsyncCodex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(message("fine"), usage=Usage(input_tokens=4, output_tokens=2)))
    handle = await (await async_codex.thread_start()).turn("hi")
    with pytest.raises(CodexError, match="has not finished"):
        handle.summary()
    await handle.run()
    summary = handle.summary()
    assert (summary.final_text, summary.status) == ("fine", "completed")
    assert summary.usage is not None
    assert summary.usage.total_tokens == 6


# -- structured output ---------------------------------------------------------------------------


class Step(BaseModel):
    title: str
    minutes: int = 5


class Plan(BaseModel):
    goal: str
    steps: list[Step]
    note: str | None = None


def objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema (one with properties) inside ``schema``."""
    found = []
    if isinstance(schema, dict):
        if isinstance(schema.get("properties"), dict):
            found.append(schema)
        for value in schema.values():
            found += objects(value)
    elif isinstance(schema, list):
        for value in schema:
            found += objects(value)
    return found


def test_strict_schema_closes_every_object_and_requires_every_field() -> None:
    schema = strict_schema(Plan)
    closed = objects(schema)
    assert len(closed) == 2  # Plan and Step
    for obj in closed:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert "default" not in str(schema)
    # Still what pydantic validates: the model's own schema was not changed.
    assert "default" in str(Plan.model_json_schema())


def test_strict_schema_refuses_a_free_form_mapping() -> None:
    class Tags(BaseModel):
        tags: dict[str, str]

    with pytest.raises(TypeError, match=r"'tags' is a free-form mapping.*JSON Schema dict"):
        strict_schema(Tags)


def test_thread_run_parsed_takes_the_model_once(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(
        response(
            message('{"goal": "tea", "steps": [{"title": "boil", "minutes": 3}], "note": null}')
        )
    )
    # The pydantic class is positional: model= is still the turn's language model.
    plan = codex.thread_start().run_parsed("plan tea", Plan, model="other-model")
    assert plan == Plan(goal="tea", steps=[Step(title="boil", minutes=3)])
    assert model_server.requests[0].output_schema == strict_schema(Plan)
    assert model_server.requests[0].model == "other-model"


def test_handle_run_parsed_remembers_the_output_schema_model(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message('{"goal": "g", "steps": [], "note": "n"}')))
    handle = codex.thread_start().turn("plan", output_schema=Plan)
    assert handle.run_parsed() == Plan(goal="g", steps=[], note="n")


def test_an_answer_that_does_not_fit_raises_a_codex_error_with_the_details(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message('{"goal": "g", "steps": [{"title": 1}]}')))
    thread = codex.thread_start()
    with pytest.raises(CodexError) as caught:
        thread.run_parsed("plan", Plan)
    error = caught.value
    assert isinstance(error, StructuredOutputError)
    assert isinstance(error, ValueError)  # code catching ValueError keeps working
    assert error.model is Plan
    assert error.text == '{"goal": "g", "steps": [{"title": 1}]}'
    assert error.turn.status.value == "completed"
    locations = [tuple(e["loc"]) for e in error.errors]
    assert ("steps", 0, "title") in locations
    assert ("note",) not in locations  # a field with a default may be omitted on the way back
    assert "steps.0.title" in str(error)


def test_a_hostile_key_in_the_answer_is_quoted_in_the_message() -> None:
    from codex_app_server import parse_output
    from codex_app_server.generated import Turn

    class Closed(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: int

    text = '{"a": 1, "\\u001b[2J": 2}'
    turn = Turn.model_validate(
        {
            "id": "u",
            "status": "completed",
            "items": [{"type": "agentMessage", "id": "m", "text": text}],
        }
    )
    with pytest.raises(StructuredOutputError) as caught:
        parse_output(turn, Closed)
    assert "\x1b" not in str(caught.value)
    assert '"\\u001b[2J": Extra inputs are not permitted' in str(caught.value)


def test_run_parsed_needs_a_model_when_the_schema_was_a_dict(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message('{"a": 1}')))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    handle = codex.thread_start().turn("a?", output_schema=schema)
    with pytest.raises(TypeError, match=r"run_parsed\(Model\)"):
        handle.run_parsed()
    assert model_server.requests[0].output_schema == schema  # a dict is sent as given


async def test_async_run_parsed(async_codex: AsyncCodex, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(
        response(message('{"goal": "a", "steps": []}')),
        response(message("not json")),
    )
    thread = await async_codex.thread_start()
    assert await thread.run_parsed("plan", Plan) == Plan(goal="a", steps=[])
    handle = await thread.turn("plan", output_schema=Plan)
    with pytest.raises(StructuredOutputError, match="not a valid Plan"):
        await handle.run_parsed()


# -- resume that falls back ----------------------------------------------------------------------


def test_resuming_an_unknown_or_deleted_thread_raises_thread_not_found(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message("hi")))
    unknown = str(uuid.uuid4())
    with Codex(codex_config) as codex:
        with pytest.raises(ThreadNotFoundError) as caught:
            codex.thread_resume(unknown)
        assert caught.value.thread_id == unknown
        assert isinstance(caught.value, InvalidRequestError)
        deleted = codex.thread_start()
        deleted.run("hello")
        codex.client.thread_delete(thread_id=deleted.id)
    with Codex(codex_config) as codex:
        with pytest.raises(ThreadNotFoundError):
            codex.thread_resume(deleted.id)
        # The documented fallback.
        try:
            thread = codex.thread_resume(deleted.id)
        except ThreadNotFoundError:
            thread = codex.thread_start()
        assert thread.id != deleted.id


def test_a_malformed_id_is_not_taken_for_a_missing_thread(codex: Codex) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        codex.thread_resume("not-a-thread-id")
    assert not isinstance(caught.value, ThreadNotFoundError)


async def test_async_resume_of_an_unknown_thread(async_codex: AsyncCodex) -> None:
    with pytest.raises(ThreadNotFoundError):
        await async_codex.thread_resume(str(uuid.uuid4()))
    with pytest.raises(ThreadNotFoundError):
        await async_codex.thread_fork(str(uuid.uuid4()))


# -- goals ---------------------------------------------------------------------------------------


def test_thread_goals_set_get_clear_and_updates_in_the_stream(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(response(gate, message("late")))
    thread = codex.thread_start()
    assert thread.goal() is None
    handle = thread.turn("work on it")
    gate.wait_reached(timeout=10)
    goal = thread.set_goal("ship the release", token_budget=5000)
    assert (goal.objective, goal.token_budget, goal.thread_id) == (
        "ship the release",
        5000,
        thread.id,
    )
    assert goal.status.value == "active"
    handle.interrupt()
    updates = [
        e.params.goal for e in handle.stream(timeout=20) if e.method == "thread/goal/updated"
    ]
    assert [u.objective for u in updates] == ["ship the release"]

    paused = thread.set_goal(status="paused")
    assert (paused.objective, paused.status.value) == ("ship the release", "paused")
    stored = thread.goal()
    assert stored is not None
    assert stored.status.value == "paused"
    assert thread.clear_goal() is True
    assert thread.clear_goal() is False
    assert thread.goal() is None


async def test_async_thread_goals(async_codex: AsyncCodex) -> None:
    thread = await async_codex.thread_start()
    assert await thread.goal() is None
    goal = await thread.set_goal("write the docs")
    assert goal.objective == "write the docs"
    stored = await thread.goal()
    assert stored is not None
    assert stored.objective == "write the docs"
    assert await thread.clear_goal() is True
    assert await thread.goal() is None


# -- a cap on concurrent turns -------------------------------------------------------------------


def test_max_concurrent_turns_is_validated() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_concurrent_turns"):
            CodexConfig(max_concurrent_turns=bad)  # type: ignore[arg-type]
    assert CodexConfig(max_concurrent_turns=3).max_concurrent_turns == 3


async def test_a_turn_beyond_the_cap_waits_until_a_running_one_ends(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(response(gate, message("first")), response(message("second")))
    config = CodexConfig(**{**vars(codex_config), "max_concurrent_turns": 1})
    async with AsyncCodex(config) as codex:
        first, second = await codex.thread_start(), await codex.thread_start()
        running = await first.turn("one")
        await asyncio.to_thread(gate.wait_reached, 10)
        waiting = asyncio.ensure_future(second.run("two"))
        for _ in range(5):
            await asyncio.sleep(0)  # let it send turn/start, were it allowed to
        # A request sent after it is answered after it: its turn was not started.
        assert (await first.read()).status.type == "active"
        assert (await second.read()).status.type == "idle"
        assert not waiting.done()
        assert len(model_server.requests) == 1

        gate.release()
        assert final_text(await running.run(timeout=20)) == "first"
        assert final_text(await asyncio.wait_for(waiting, 20)) == "second"
        assert len(model_server.requests) == 2


async def test_cancelling_a_waiting_turn_starts_nothing_and_frees_nothing(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(response(gate), response(message("after")))
    config = CodexConfig(**{**vars(codex_config), "max_concurrent_turns": 1})
    async with AsyncCodex(config) as codex:
        first, second = await codex.thread_start(), await codex.thread_start()
        running = asyncio.ensure_future(first.run("held"))
        await asyncio.to_thread(gate.wait_reached, 10)
        waiting = asyncio.ensure_future(second.run("queued"))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await second.read()).status.type == "idle"
        # Cancelling the running turn interrupts it on the server and gives its slot back.
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert final_text(await second.run("next", timeout=20)) == "after"
        statuses: list[str] = []
        for _ in range(50):
            statuses = [t.status.value for t in (await first.read(include_turns=True)).turns]
            if statuses != ["inProgress"]:
                break
            await asyncio.sleep(0.1)
        assert statuses == ["interrupted"]


def test_sync_turns_under_a_cap_all_complete_in_order(
    codex_config: CodexConfig, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(*(response(message("ok")) for _ in range(6)))
    config = CodexConfig(**{**vars(codex_config), "max_concurrent_turns": 2})
    with Codex(config) as codex:
        threads = [codex.thread_start() for _ in range(6)]
        with ThreadPoolExecutor(6) as pool:
            turns = list(pool.map(lambda t: t.run(f"question for {t.id}", timeout=30), threads))
        assert [turn.status.value for turn in turns] == ["completed"] * 6
        asked = {r.user_texts[-1] for r in model_server.requests}
        assert asked == {f"question for {t.id}" for t in threads}
        assert codex.client.connection.subscriber_count() == 0
