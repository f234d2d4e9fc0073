"""Telemetry: counters and OpenTelemetry spans for real requests and turns."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from codex_app_server import AsyncCodex, Codex, InvalidRequestError, Telemetry, TurnFailedError
from codex_app_server.testing import (
    ScriptedModelServer,
    Usage,
    function_call,
    http_error,
    message,
    response,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def telemetry(exporter: InMemorySpanExporter) -> Telemetry:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Telemetry(tracer=provider.get_tracer("test"))


def spans(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_turns_and_requests_are_counted_and_traced(
    codex: Codex,
    model_server: ScriptedModelServer,
    telemetry: Telemetry,
    exporter: InMemorySpanExporter,
) -> None:
    telemetry.instrument(codex)
    model_server.enqueue(
        response(message("hi"), usage=Usage(input_tokens=10, output_tokens=5)),
        http_error(500),
    )
    thread = codex.thread_start()
    thread.run("hello", timeout=30)
    with pytest.raises(TurnFailedError):
        thread.run("fail", timeout=30)
    with pytest.raises(InvalidRequestError):
        codex.client.request("no/such/method")
    with pytest.raises(ValueError, match="already instrumented"):
        telemetry.instrument(codex)

    counters = telemetry.counters.snapshot()
    assert counters["turns_started"] == 2
    assert counters["turns_completed"] == 1
    assert counters["turns_failed"] == 1
    assert (counters["input_tokens"], counters["output_tokens"], counters["total_tokens"]) == (
        10,
        5,
        15,
    )
    assert counters["request_errors"] == 1
    assert counters["requests"] == 4  # thread/start, turn/start twice, the unknown method

    methods = [span.attributes["rpc.method"] for span in spans(exporter, "codex.request")]
    assert methods == ["thread/start", "turn/start", "turn/start", "no/such/method"]
    failed_request = spans(exporter, "codex.request")[-1]
    assert failed_request.attributes["codex.outcome"] == "MethodNotFoundError"
    assert failed_request.status.status_code == StatusCode.ERROR

    ok_turn, failed_turn = spans(exporter, "codex.turn")
    assert ok_turn.attributes["codex.outcome"] == "completed"
    assert ok_turn.attributes["codex.thread_id"] == thread.id
    assert ok_turn.attributes["codex.tokens.total"] == 15
    assert ok_turn.attributes["codex.tokens.input"] == 10
    assert failed_turn.attributes["codex.outcome"] == "failed"
    assert failed_turn.status.status_code == StatusCode.ERROR


async def test_async_turn_spans_sum_the_tokens_of_every_model_call(
    async_codex: AsyncCodex,
    model_server: ScriptedModelServer,
    telemetry: Telemetry,
    exporter: InMemorySpanExporter,
) -> None:
    telemetry.instrument(async_codex)
    model_server.enqueue(
        response(function_call("no_such_tool", {}), usage=Usage(input_tokens=10, output_tokens=5)),
        response(message("done"), usage=Usage(input_tokens=20, output_tokens=7)),
    )
    thread = await async_codex.thread_start()
    await thread.run("go", timeout=30)

    [turn] = spans(exporter, "codex.turn")
    assert turn.attributes["codex.tokens.total"] == 42
    assert turn.attributes["codex.tokens.output"] == 12
    assert telemetry.counters.turns_completed == 1
    assert [s.attributes["rpc.method"] for s in spans(exporter, "codex.request")] == [
        "thread/start",
        "turn/start",
    ]


def test_counters_work_without_opentelemetry(
    codex: Codex, model_server: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails as if absent
    telemetry = Telemetry()
    assert not telemetry.tracing
    telemetry.instrument(codex)
    model_server.enqueue(response(message("hi"), usage=Usage(input_tokens=3, output_tokens=4)))
    codex.thread_start().run("hello", timeout=30)

    assert telemetry.counters.snapshot() == {
        "requests": 2,
        "request_errors": 0,
        "turns_started": 1,
        "turns_completed": 1,
        "turns_failed": 0,
        "turns_interrupted": 0,
        "input_tokens": 3,
        "output_tokens": 4,
        "total_tokens": 7,
    }


def test_tracing_can_be_turned_off() -> None:
    assert not Telemetry(tracing=False).tracing
    assert Telemetry().tracing  # opentelemetry-api is installed for the tests
