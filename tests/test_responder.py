"""A scripted model that answers by the request, so concurrent turns get their own answers.

Also holds docs/testing.md to its word: its responder example runs as a user's suite would run
it, and the mock model's ``warning`` opens every turn's stream.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from codex_app_server import AsyncCodex, Codex, TurnFailedError, final_text
from codex_app_server.testing import (
    ModelServerError,
    RecordedRequest,
    Responder,
    ScriptedModelServer,
    ScriptItem,
    app_server_env,
    message,
    response,
    stall,
    write_codex_home,
)
from test_testing_docs import passes_as_a_users_suite

pytestmark = pytest.mark.real_binary

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


@contextmanager
def own_model(
    responder: Responder, codex_bin: str | None, tmp_path: Path
) -> Iterator[tuple[ScriptedModelServer, Codex]]:
    """A scripted model of the test's own (not the fixture's, which fails on any failure)."""
    with ScriptedModelServer(responder=responder) as model:
        home = write_codex_home(tmp_path / "home", model)
        with Codex(codex_bin=codex_bin, env=app_server_env(home), inherit_env=False) as codex:
            yield model, codex


def echo(request: RecordedRequest) -> ScriptItem:
    return response(message(f"answer to {request.user_texts[-1]}"))


async def test_concurrent_turns_each_get_the_answer_to_their_prompt(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.responder = echo
    prompts = [f"prompt {i}" for i in range(8)]
    threads = [await async_codex.thread_start() for _ in prompts]
    turns = await asyncio.gather(
        *(thread.run(prompt) for thread, prompt in zip(threads, prompts, strict=True))
    )
    assert [final_text(turn) for turn in turns] == [f"answer to {p}" for p in prompts]
    assert sorted(r.user_texts[-1] for r in model_server.requests) == sorted(prompts)


def test_a_responder_that_returns_none_leaves_the_answer_to_the_queue(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.responder = lambda request: (
        response(message("special")) if request.user_texts[-1] == "special" else None
    )
    model_server.enqueue(response(message("from the queue")))
    thread = codex.thread_start()
    assert final_text(thread.run("ordinary")) == "from the queue"
    assert final_text(thread.run("special")) == "special"
    assert model_server.remaining == 0


def test_a_responder_can_answer_by_the_tools_offered(codex_bin: str | None, tmp_path: Path) -> None:
    def by_tools(request: RecordedRequest) -> ScriptItem:
        can = "exec_command" in request.tool_names
        return response(message("can run commands" if can else "cannot"))

    with own_model(by_tools, codex_bin, tmp_path) as (_, codex):
        assert final_text(codex.thread_start().run("hi")) == "can run commands"


def test_a_responder_that_raises_fails_the_turn_and_is_reported(
    codex_bin: str | None, tmp_path: Path
) -> None:
    def broken(request: RecordedRequest) -> ScriptItem:
        raise KeyError(request.user_texts[-1])

    with own_model(broken, codex_bin, tmp_path) as (model, codex):
        with pytest.raises(TurnFailedError):
            codex.thread_start().run("no answer for this")
        with pytest.raises(ModelServerError, match=r"the responder failed on request #1: KeyError"):
            model.raise_for_failures()


def test_a_stall_from_a_responder_is_released_by_close() -> None:
    gate = stall()
    model = ScriptedModelServer(responder=lambda request: response(gate, message("late")))
    with model, ThreadPoolExecutor(1) as pool:
        # No proxy may stand between a test and 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            f"{model.base_url}/responses", data=b'{"model": "m", "input": []}', method="POST"
        )
        pending = pool.submit(lambda: opener.open(request, timeout=10).read())
        gate.wait_reached()
        model.close()
        assert b"response.created" in pending.result(timeout=10)
    assert gate.released


def test_the_documented_responder_example_passes(tmp_path: Path) -> None:
    section = DOC.read_text().split("### Answering by the request", 1)[1]
    (example,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    passes_as_a_users_suite(tmp_path, example)


def test_the_mock_model_warning_opens_every_turn_s_stream(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    # docs/testing.md: "as the first event of every turn's stream, before turn/started".
    assert "as the first event of every turn's stream" in DOC.read_text().replace("\n", " ")
    model_server.enqueue(response(message("a")), response(message("b")))
    thread = codex.thread_start()
    for prompt in ("one", "two"):
        events = list(thread.turn(prompt).stream())
        methods = [event.method for event in events]
        assert methods[0] == "warning"
        assert methods.index("warning") < methods.index("turn/started")
        assert "Model metadata for `mock-model` not found" in events[0].params.message
