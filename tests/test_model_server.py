"""The scripted model server of ``codex_app_server.testing``, on its own and driving the real
``codex app-server`` binary through a minimal JSON-RPC client written here (the SDK's client is
not what is under test)."""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from codex_app_server.testing import (
    ModelServerError,
    ScriptedModelServer,
    Usage,
    app_server_env,
    exec_command,
    http_error,
    message,
    message_deltas,
    reasoning,
    response,
    stall,
    write_codex_home,
    write_file,
)
from hypothesis import given, settings
from hypothesis import strategies as st

TIMEOUT = 15.0

# A valid 1x1 PNG: the app-server replaces images it cannot decode with a text placeholder.
PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


# --- the server on its own ----------------------------------------------------------------------


def _post(url: str, body: dict[str, Any]) -> tuple[int, str, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def _sse_types(stream: str) -> list[str]:
    return [
        json.loads(line[len("data: ") :])["type"]
        for line in stream.splitlines()
        if line.startswith("data: ")
    ]


def test_streams_scripted_response_as_server_sent_events() -> None:
    with ScriptedModelServer(response(message_deltas(["Hel", "lo"]), usage=Usage(3, 4))) as server:
        status, content_type, body = _post(f"{server.base_url}/responses", {"model": "m"})
    assert (status, content_type) == (200, "text/event-stream")
    assert _sse_types(body) == [
        "response.created",
        "response.output_item.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]
    assert "event: response.completed\ndata: " in body
    completed = json.loads(body.rstrip().splitlines()[-1][len("data: ") :])
    assert completed["response"]["usage"]["total_tokens"] == 7


def test_running_out_of_script_answers_500_and_is_recorded() -> None:
    with ScriptedModelServer(response(message("only one"))) as server:
        assert _post(f"{server.base_url}/responses", {})[0] == 200
        status, _, body = _post(f"{server.base_url}/responses", {"input": []})
        assert status == 500
        assert "ran out" in json.loads(body)["error"]["message"]
        assert len(server.requests) == 2
        assert server.remaining == 0
        with pytest.raises(ModelServerError, match="ran out: request #2"):
            server.raise_for_failures()


def test_unknown_path_answers_404_and_is_recorded() -> None:
    with ScriptedModelServer(response(message("unused"))) as server:
        status, content_type, body = _post(f"{server.base_url}/chat/completions", {})
        assert (status, content_type) == (404, "application/json")
        assert "/v1/chat/completions" in json.loads(body)["error"]["message"]
        assert server.remaining == 1
        assert server.failures == ["unexpected model request POST /v1/chat/completions"]


def test_http_error_is_answered_with_its_status_and_message() -> None:
    with ScriptedModelServer(http_error(429, "slow down", code="rate_limit_exceeded")) as server:
        status, _, body = _post(f"{server.base_url}/responses", {})
    assert status == 429
    assert json.loads(body)["error"] == {
        "message": "slow down",
        "type": "api_error",
        "code": "rate_limit_exceeded",
    }


def test_stall_holds_the_stream_until_released() -> None:
    gate = stall()
    with ScriptedModelServer(response(message("before"), gate, message("after"))) as server:
        answers: list[str] = []
        client = threading.Thread(
            target=lambda: answers.append(_post(f"{server.base_url}/responses", {})[2])
        )
        client.start()
        gate.wait_reached(TIMEOUT)
        assert client.is_alive()
        assert not answers
        gate.release()
        client.join(TIMEOUT)
    assert answers
    assert _sse_types(answers[0])[-1] == "response.completed"
    assert "after" in answers[0]


def test_close_releases_stalls_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    gate = stall()
    server = ScriptedModelServer(response(gate, message("never sent")))
    client = threading.Thread(target=_post, args=(f"{server.base_url}/responses", {}))
    client.start()
    gate.wait_reached(TIMEOUT)
    server.close()
    client.join(TIMEOUT)
    assert gate.released
    assert set(threading.enumerate()) <= before


def test_importing_the_kit_does_not_import_pydantic() -> None:
    code = "import sys, codex_app_server.testing; print('pydantic' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert result.stdout.strip() == "False"


def test_wait_for_requests_times_out_with_a_clear_message() -> None:
    with ScriptedModelServer() as server, pytest.raises(TimeoutError, match="expected 1 model"):
        server.wait_for_requests(1, timeout=0.01)


def test_enqueue_rejects_bare_outputs() -> None:
    with (
        ScriptedModelServer() as server,
        pytest.raises(TypeError, match="wrap outputs in response"),
    ):
        server.enqueue(message("hi"))  # type: ignore[arg-type]


def test_codex_home_config_points_at_the_server(tmp_path: Path) -> None:
    home = write_codex_home(
        tmp_path / "home",
        "http://127.0.0.1:9/v1",
        approval_policy="never",
        extra={"model_providers": {"mock": {"stream_idle_timeout_ms": 900}}, "x y": "é\n"},
    )
    assert (home / "config.toml").read_text(encoding="utf-8") == (
        'model = "mock-model"\n'
        'model_provider = "mock"\n'
        'approval_policy = "never"\n'
        'sandbox_mode = "read-only"\n'
        '"x y" = "é\\n"\n'
        "\n[features]\n"
        "plugins = false\n"
        "\n[model_providers.mock]\n"
        'name = "mock"\n'
        'base_url = "http://127.0.0.1:9/v1"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
        "stream_idle_timeout_ms = 900\n"
    )


_SCALARS = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@settings(deadline=None, max_examples=150)
@given(settings_tree=st.dictionaries(st.text(), _VALUES, max_size=4))
def test_the_written_config_parses_back_to_the_same_settings(settings_tree: dict[str, Any]) -> None:
    """Any key (quoted where it must be), any text (beyond the BMP, quotes, control characters),
    nested tables, empty ones and tables inside lists: ``config.toml`` means what was given."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib reads TOML from Python 3.11")
    with tempfile.TemporaryDirectory() as folder:
        home = write_codex_home(folder, "http://127.0.0.1:9/v1", extra={"probe": settings_tree})
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config.pop("probe") == settings_tree
    assert config["model_providers"]["mock"]["base_url"] == "http://127.0.0.1:9/v1"
    assert config["features"] == {"plugins": False}


def test_app_server_env_drops_api_keys(tmp_path: Path) -> None:
    env = app_server_env(tmp_path, {"OPENAI_API_KEY": "sk-x", "CODEX_API_KEY": "c", "PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "CODEX_HOME": str(tmp_path),
        "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG": "1",
        "RUST_LOG": "warn",
    }


# --- the real app-server against the scripted model ---------------------------------------------


@dataclass
class Turn:
    """What one turn produced: every message from the app-server, in order."""

    messages: list[dict[str, Any]]

    @property
    def methods(self) -> list[str]:
        return [m["method"] for m in self.messages if "method" in m]

    @property
    def result(self) -> dict[str, Any]:
        completed = [m for m in self.messages if m.get("method") == "turn/completed"]
        turn: dict[str, Any] = completed[-1]["params"]["turn"]
        return turn

    def completed_items(self, kind: str) -> list[dict[str, Any]]:
        return [
            m["params"]["item"]
            for m in self.messages
            if m.get("method") == "item/completed" and m["params"]["item"]["type"] == kind
        ]

    def position(self, method: str, item_type: str | None = None) -> int:
        """Where the first ``method`` message (about an item of ``item_type``) arrived."""
        for index, received in enumerate(self.messages):
            item = received.get("params", {}).get("item", {})
            if received.get("method") == method and item_type in (None, item.get("type")):
                return index
        raise AssertionError(f"no {method} {item_type or ''} in {self.methods}")

    def params(self, method: str) -> list[dict[str, Any]]:
        return [m["params"] for m in self.messages if m.get("method") == method]


class AppServer:
    """``codex app-server`` over stdio, one JSON object per line."""

    def __init__(self, codex_bin: str, codex_home: Path, cwd: Path) -> None:
        self.cwd = cwd
        self._process = subprocess.Popen(
            [codex_bin, "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=app_server_env(codex_home),
            cwd=cwd,
            text=True,
        )
        self._inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.request("initialize", {"clientInfo": {"name": "sdk-tests", "version": "0"}})
        self._send({"method": "initialized"})

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._inbox.put(json.loads(line))

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()

    def next_message(self) -> dict[str, Any]:
        try:
            return self._inbox.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"app-server sent nothing for {TIMEOUT}s") from None

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its result; notifications meanwhile are dropped."""
        self._next_id += 1
        self._send({"id": self._next_id, "method": method, "params": params})
        while True:
            reply = self.next_message()
            if reply.get("id") == self._next_id and "method" not in reply:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    def start_thread(self, **params: Any) -> str:
        thread_id: str = self.request("thread/start", {"cwd": str(self.cwd), **params})["thread"][
            "id"
        ]
        return thread_id

    def start_turn(self, thread_id: str, text: str, **params: Any) -> str:
        user_input = [{"type": "text", "text": text}, *params.pop("extra_input", [])]
        result = self.request("turn/start", {"threadId": thread_id, "input": user_input, **params})
        turn_id: str = result["turn"]["id"]
        return turn_id

    def finish_turn(self, *, decision: str | None = None) -> Turn:
        """Collect messages until ``turn/completed``, answering approval requests with
        ``decision``."""
        messages: list[dict[str, Any]] = []
        while True:
            received = self.next_message()
            messages.append(received)
            if "method" in received and "id" in received:
                assert decision is not None, f"unexpected server request {received}"
                self._send({"id": received["id"], "result": {"decision": decision}})
            if received.get("method") == "turn/completed":
                return Turn(messages)

    def run_turn(self, thread_id: str, text: str, *, decision: str | None = None) -> Turn:
        self.start_turn(thread_id, text)
        return self.finish_turn(decision=decision)

    def close(self) -> None:
        self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def codex_bin() -> str:
    path = os.environ.get("CODEX_BIN")
    if not path:
        pytest.fail("set CODEX_BIN to the codex executable to run the real-binary tests")
    return path


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def app(codex_bin: str, model: ScriptedModelServer, tmp_path: Path) -> Iterator[AppServer]:
    home = write_codex_home(tmp_path / "codex-home", model)
    cwd = tmp_path / "work"
    cwd.mkdir()
    server = AppServer(codex_bin, home, cwd)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.real_binary
def test_plain_message_turn(app: AppServer, model: ScriptedModelServer) -> None:
    model.enqueue(response(message("Hello from the script")))
    turn = app.run_turn(app.start_thread(), "hi")
    assert turn.result["status"] == "completed"
    assert [item["text"] for item in turn.completed_items("agentMessage")] == [
        "Hello from the script"
    ]
    assert turn.methods == [
        "thread/status/changed",
        "turn/started",
        "item/started",
        "item/completed",
        "item/started",
        "item/completed",
        "thread/tokenUsage/updated",
        "account/rateLimits/updated",
        "thread/status/changed",
        "turn/completed",
    ]
    [request] = model.requests
    assert request.user_texts == ["hi"]
    model.raise_for_failures()


@pytest.mark.real_binary
def test_streamed_deltas_and_reasoning(app: AppServer, model: ScriptedModelServer) -> None:
    model.enqueue(
        response(
            reasoning("Thinking it over"), message_deltas(["Hel", "lo", "!"]), usage=Usage(12, 7)
        )
    )
    turn = app.run_turn(app.start_thread(), "hi")
    assert [p["delta"] for p in turn.params("item/agentMessage/delta")] == ["Hel", "lo", "!"]
    assert [p["delta"] for p in turn.params("item/reasoning/summaryTextDelta")] == [
        "Thinking it over"
    ]
    assert turn.completed_items("reasoning")[0]["summary"] == ["Thinking it over"]
    assert turn.completed_items("agentMessage")[0]["text"] == "Hello!"
    [usage] = turn.params("thread/tokenUsage/updated")
    assert usage["tokenUsage"]["last"]["inputTokens"] == 12
    assert usage["tokenUsage"]["last"]["outputTokens"] == 7
    reasoning_events = [
        m for m in turn.methods if m.startswith("item/reasoning/") or m == "item/agentMessage/delta"
    ]
    assert reasoning_events == [
        "item/reasoning/summaryPartAdded",
        "item/reasoning/summaryTextDelta",
        *["item/agentMessage/delta"] * 3,
    ]


@pytest.mark.real_binary
@pytest.mark.parametrize(("decision", "runs"), [("accept", True), ("decline", False)])
def test_command_approval(
    app: AppServer, model: ScriptedModelServer, decision: str, runs: bool
) -> None:
    command = exec_command("echo hi > out.txt", justification="write a file", escalated=True)
    model.enqueue(response(command), response(message("done")))
    turn = app.run_turn(app.start_thread(), "make a file", decision=decision)
    assert (
        turn.position("item/started", "commandExecution")
        < turn.position("item/commandExecution/requestApproval")
        < turn.position("serverRequest/resolved")
        < turn.position("item/completed", "commandExecution")
    )
    [approval] = turn.params("item/commandExecution/requestApproval")
    assert approval["reason"] == "write a file"
    assert approval["itemId"] == command.call_id
    assert "echo hi > out.txt" in approval["command"]
    assert (app.cwd / "out.txt").exists() is runs
    [execution] = turn.completed_items("commandExecution")
    assert execution["status"] == ("completed" if runs else "declined")
    assert "serverRequest/resolved" in turn.methods
    assert turn.result["status"] == "completed"
    _, second = model.requests
    assert command.call_id in second.function_call_outputs


@pytest.mark.real_binary
@pytest.mark.parametrize(("decision", "applied"), [("accept", True), ("decline", False)])
def test_file_change_approval(
    app: AppServer, model: ScriptedModelServer, decision: str, applied: bool
) -> None:
    edit = write_file("notes.txt", "first line\nsecond line")
    model.enqueue(response(edit), response(message("edited")))
    turn = app.run_turn(app.start_thread(), "write notes", decision=decision)
    [approval] = turn.params("item/fileChange/requestApproval")
    assert approval["itemId"] == edit.call_id
    [change] = turn.completed_items("fileChange")
    assert change["status"] == ("completed" if applied else "declined")
    assert change["changes"][0]["kind"] == {"type": "add"}
    notes = app.cwd / "notes.txt"
    assert notes.exists() is applied
    if applied:
        assert notes.read_text() == "first line\nsecond line\n"


@pytest.mark.real_binary
@pytest.mark.parametrize(
    ("status", "error_info"),
    [
        (500, "internalServerError"),
        (429, {"responseTooManyFailedAttempts": {"httpStatusCode": 429}}),
    ],
)
def test_http_error_fails_the_turn(
    app: AppServer, model: ScriptedModelServer, status: int, error_info: object
) -> None:
    model.enqueue(http_error(status, "scripted failure"))
    turn = app.run_turn(app.start_thread(), "hi")
    assert turn.result["status"] == "failed"
    assert turn.result["error"]["codexErrorInfo"] == error_info
    [error] = turn.params("error")
    assert error["willRetry"] is False
    assert error["error"] == turn.result["error"]
    assert len(model.requests) == 1


@pytest.mark.real_binary
def test_stalled_turn_completes_once_released(app: AppServer, model: ScriptedModelServer) -> None:
    gate = stall()
    model.enqueue(response(message_deltas(["par", "tial"]), gate, message("rest")))
    app.start_turn(app.start_thread(), "hi")
    gate.wait_reached(TIMEOUT)
    # Everything before the stall reaches the client while the turn is still running.
    before = Turn([])
    while not before.completed_items("agentMessage"):
        before.messages.append(app.next_message())
    assert [p["delta"] for p in before.params("item/agentMessage/delta")] == ["par", "tial"]
    assert before.completed_items("agentMessage")[0]["text"] == "partial"
    assert "turn/completed" not in before.methods
    gate.release()
    after = app.finish_turn()
    assert after.result["status"] == "completed"
    assert [item["text"] for item in after.completed_items("agentMessage")] == ["rest"]


@pytest.mark.real_binary
def test_stalled_turn_can_be_interrupted(app: AppServer, model: ScriptedModelServer) -> None:
    gate = stall()
    model.enqueue(response(gate, message("never delivered")))
    thread_id = app.start_thread()
    turn_id = app.start_turn(thread_id, "hi")
    gate.wait_reached(TIMEOUT)
    app.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
    turn = app.finish_turn()
    assert turn.result["status"] == "interrupted"
    assert turn.completed_items("agentMessage") == []


@pytest.mark.real_binary
def test_steering_a_stalled_turn_asks_the_model_again(
    app: AppServer, model: ScriptedModelServer
) -> None:
    gate = stall()
    model.enqueue(
        response(message_deltas(["wor", "king"]), gate, message("never delivered")),
        response(message("steered answer")),
    )
    thread_id = app.start_thread()
    turn_id = app.start_turn(thread_id, "hi")
    gate.wait_reached(TIMEOUT)
    steer = {"threadId": thread_id, "expectedTurnId": turn_id}
    app.request("turn/steer", {**steer, "input": [{"type": "text", "text": "also this"}]})
    # The app-server drops the stalled stream and asks again at once, without a release.
    first, second = model.wait_for_requests(2)
    assert not gate.released
    assert first.user_texts == ["hi"]
    assert second.user_texts == ["hi", "also this"]
    turn = app.finish_turn()
    assert turn.result["status"] == "completed"
    assert turn.completed_items("agentMessage")[-1]["text"] == "steered answer"


@pytest.mark.real_binary
def test_second_request_carries_the_first_exchange(
    app: AppServer, model: ScriptedModelServer
) -> None:
    model.enqueue(response(message("Paris.")), response(message("About 2 million.")))
    thread_id = app.start_thread(developerInstructions="Answer in one line.")
    app.run_turn(thread_id, "Capital of France?")
    app.run_turn(thread_id, "Its population?")
    first, second = model.wait_for_requests(2)
    assert first.user_texts == ["Capital of France?"]
    assert first.assistant_texts == []
    assert second.user_texts == ["Capital of France?", "Its population?"]
    assert second.assistant_texts == ["Paris."]
    assert "Answer in one line." in second.instructions
    assert "exec_command" in second.tool_names
    assert second.model == "mock-model"


@pytest.mark.real_binary
def test_output_schema_and_images_are_recorded(app: AppServer, model: ScriptedModelServer) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    image = app.cwd / "pixel.png"
    image.write_bytes(base64.b64decode(PIXEL_PNG))
    model.enqueue(response(message('{"answer": "a pixel"}')))
    app.start_turn(
        app.start_thread(),
        "What is this?",
        outputSchema=schema,
        extra_input=[{"type": "localImage", "path": str(image)}],
    )
    turn = app.finish_turn()
    assert turn.completed_items("agentMessage")[0]["text"] == '{"answer": "a pixel"}'
    [request] = model.requests
    assert request.output_schema == schema
    assert request.images == [f"data:image/png;base64,{PIXEL_PNG}"]
    assert request.user_texts == ["What is this?"]


@pytest.mark.real_binary
def test_running_out_of_script_fails_the_turn_visibly(
    app: AppServer, model: ScriptedModelServer
) -> None:
    turn = app.run_turn(app.start_thread(), "hi")
    assert turn.result["status"] == "failed"
    with pytest.raises(ModelServerError, match="script ran out"):
        model.raise_for_failures()
