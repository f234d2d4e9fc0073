"""In-process tools: the scripted model calls a Python function through the real app-server."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from codex_app_server import AsyncCodex, Codex, CodexConfig, CodexError, Tool, final_text, tool
from codex_app_server.testing import ScriptedModelServer, function_call, message, response
from pydantic import BaseModel


@pytest.fixture
def tool_config(codex_config: CodexConfig) -> CodexConfig:
    """The test config with the experimental API on: dynamic tools need it."""
    return dataclasses.replace(codex_config, experimental_api=True)


@pytest.fixture
def tool_codex(tool_config: CodexConfig) -> Iterator[Codex]:
    with Codex(tool_config) as client:
        yield client


@pytest.fixture
async def async_tool_codex(tool_config: CodexConfig) -> AsyncIterator[AsyncCodex]:
    async with AsyncCodex(tool_config) as client:
        yield client


class Ticket(BaseModel):
    """A support ticket to file."""

    title: str
    priority: int = 3


def tool_items(events: list[Any]) -> list[Any]:
    """The completed ``dynamicToolCall`` items among a turn's typed events."""
    return [
        event.params.item
        for event in events
        if event.method == "item/completed" and event.params.item.type == "dynamicToolCall"
    ]


def test_schema_comes_from_the_signature() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        """Add two integers."""
        return a + b

    assert isinstance(add, Tool)
    assert add(1) == 3  # still callable as the plain function
    assert add.spec() == {
        "type": "function",
        "name": "add",
        "description": "Add two integers.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "a": {"title": "A", "type": "integer"},
                "b": {"default": 2, "title": "B", "type": "integer"},
            },
            "required": ["a"],
            "additionalProperties": False,
        },
    }


def test_a_pydantic_model_argument_gives_the_model_schema() -> None:
    @tool(name="file_ticket", description="File a ticket.")
    def file(ticket: Ticket) -> str:
        return ticket.title

    assert file.input_schema == {
        "description": "A support ticket to file.",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "priority": {"default": 3, "title": "Priority", "type": "integer"},
        },
        "required": ["title"],
    }
    assert file.bind({"title": "Disk full"})() == "Disk full"


def test_undescribable_functions_are_refused() -> None:
    def no_hint(x) -> int:  # type: ignore[no-untyped-def]
        """Has no hint."""
        return 1

    def no_doc(x: int) -> int:
        return x

    def unresolvable(x: Later) -> int:  # type: ignore[name-defined]  # noqa: F821
        """Names a type that does not exist."""
        return 1

    with pytest.raises(TypeError, match="parameter 'x' needs a type hint"):
        tool(no_hint)
    with pytest.raises(TypeError, match="cannot resolve its type hints"):
        tool(unresolvable)
    with pytest.raises(ValueError, match="needs a description"):
        tool(no_doc)


def test_tools_need_the_experimental_api(codex: Codex) -> None:
    @tool
    def noop() -> str:
        """Do nothing."""
        return ""

    with pytest.raises(CodexError, match="experimental_api=True"):
        codex.thread_start(tools=[noop])


def test_the_model_calls_a_sync_tool_and_reads_its_result(
    tool_codex: Codex, model_server: ScriptedModelServer
) -> None:
    calls: list[tuple[int, int, str]] = []

    @tool
    def add(a: int, b: int) -> dict[str, int]:
        """Add two integers."""
        calls.append((a, b, threading.current_thread().name))
        return {"sum": a + b}

    call = function_call("add", {"a": 2, "b": 3})
    model_server.enqueue(response(call), response(message("The sum is 5.")))
    thread = tool_codex.thread_start(tools=[add])
    handle = thread.turn("add 2 and 3")
    events = list(handle.stream(timeout=30))

    assert [c[:2] for c in calls] == [(2, 3)]
    assert model_server.requests[1].function_call_outputs[call.call_id] == '{"sum": 5}'
    offered = [t for t in model_server.requests[0].body["tools"] if t.get("name") == "add"]
    # Codex shows the model the schema without pydantic's titles.
    assert offered[0]["parameters"] == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    assert offered[0]["description"] == "Add two integers."
    [item] = tool_items(events)
    assert (item.tool, item.success, item.arguments) == ("add", True, {"a": 2, "b": 3})
    assert final_text(events[-1].params.turn) == "The sum is 5."


def test_an_async_tool_runs_under_the_sync_client(
    tool_codex: Codex, model_server: ScriptedModelServer
) -> None:
    @tool
    async def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    call = function_call("shout", {"text": "hi"})
    model_server.enqueue(response(call), response(message("done")))
    tool_codex.thread_start(tools=[shout]).run("shout hi", timeout=30)

    assert model_server.requests[1].function_call_outputs[call.call_id] == "HI"


def test_tool_errors_reach_the_model_as_failed_calls(
    tool_codex: Codex, model_server: ScriptedModelServer
) -> None:
    @tool
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    by_zero = function_call("divide", {"a": 1, "b": 0})
    bad_args = function_call("divide", {"a": "one"})
    model_server.enqueue(
        response(by_zero), response(bad_args), response(message("I could not divide."))
    )
    handle = tool_codex.thread_start(tools=[divide]).turn("divide")
    events = list(handle.stream(timeout=30))

    outputs = model_server.requests[2].function_call_outputs
    assert outputs[by_zero.call_id] == "ZeroDivisionError: float division by zero"
    assert outputs[bad_args.call_id].startswith("invalid arguments for divide:")
    assert "b\n  Field required" in outputs[bad_args.call_id]
    assert [item.success for item in tool_items(events)] == [False, False]
    assert events[-1].params.turn.status.value == "completed"


async def test_async_client_runs_async_and_plain_tools(
    async_tool_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    @tool
    async def lookup(key: str) -> str:
        """Look a key up."""
        return {"colour": "blue"}[key]

    @tool
    def file_ticket(ticket: Ticket) -> str:
        """File a ticket."""
        return f"filed {ticket.title!r} at priority {ticket.priority}"

    first = function_call("lookup", {"key": "colour"})
    second = function_call("file_ticket", {"title": "Paint it"})
    model_server.enqueue(response(first, second), response(message("ok")))
    thread = await async_tool_codex.thread_start(tools=[lookup, file_ticket])
    turn = await thread.run("look up and file", timeout=30)

    outputs = model_server.requests[1].function_call_outputs
    assert outputs == {
        first.call_id: "blue",
        second.call_id: "filed 'Paint it' at priority 3",
    }
    assert final_text(turn) == "ok"


def test_tools_belong_to_their_thread(tool_codex: Codex, model_server: ScriptedModelServer) -> None:
    @tool
    def secret() -> str:
        """Tell the secret."""
        return "42"

    tool_codex.thread_start(tools=[secret])
    call = function_call("secret", {})
    model_server.enqueue(response(call), response(message("no tool here")))
    tool_codex.thread_start().run("call secret", timeout=30)

    assert "secret" not in model_server.requests[0].tool_names
    assert "42" not in model_server.requests[1].function_call_outputs.get(call.call_id, "")
