"""The scripted model: a Responses API server on 127.0.0.1 answering from a queue.

A responder, a function of each request, may answer before the queue does: with concurrent
turns the order in which requests arrive is not the order the test started them in.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeAlias

from ._script import HttpError, ModelResponse, ScriptItem, Stall

__all__ = ["ModelServerError", "RecordedRequest", "Responder", "ScriptedModelServer"]


class ModelServerError(AssertionError):
    """The scripted model was used in a way the script did not foresee (for example it ran out
    of responses, or got a request on an unknown path)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the app-server sent to the model, as received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names are lower case."""
    body: dict[str, Any]
    """The parsed JSON body (empty if the body was not a JSON object)."""

    @property
    def model(self) -> str | None:
        """The ``model`` the request asked for."""
        value = self.body.get("model")
        return value if isinstance(value, str) else None

    @property
    def instructions(self) -> str:
        """Everything the model was told as instructions: the ``instructions`` field and the
        developer messages, joined by blank lines.

        Codex 0.169.0 sends no ``instructions`` field: the base instructions are the first
        developer message and a thread's developer instructions the second.
        """
        value = self.body.get("instructions")
        parts = [value] if isinstance(value, str) and value else []
        return "\n\n".join([*parts, *self.texts("developer")])

    @property
    def input(self) -> list[dict[str, Any]]:
        """The ``input`` items: messages, tool calls and tool outputs, oldest first."""
        value = self.body.get("input")
        return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

    def messages(self, role: str | None = None) -> list[dict[str, Any]]:
        """The ``message`` items of :attr:`input`, only those of ``role`` if given."""
        return [
            item
            for item in self.input
            if item.get("type", "message") == "message" and role in (None, item.get("role"))
        ]

    def texts(self, role: str) -> list[str]:
        """The text parts of the messages of ``role`` (``user``, ``assistant``, ...), in order."""
        return [
            part["text"]
            for item in self.messages(role)
            for part in _content(item)
            if isinstance(part.get("text"), str)
        ]

    @property
    def user_texts(self) -> list[str]:
        """What the user said: the user text parts, without the context blocks (environment,
        instructions) that Codex adds as user messages."""
        return [
            text for text in self.texts("user") if not text.lstrip().startswith(_CONTEXT_PREFIXES)
        ]

    @property
    def assistant_texts(self) -> list[str]:
        """The assistant's earlier answers carried in the input (prior turns)."""
        return self.texts("assistant")

    @property
    def images(self) -> list[str]:
        """The ``image_url`` of every ``input_image`` part in the input (local images arrive
        as data URLs)."""
        return [
            part["image_url"]
            for item in self.messages()
            for part in _content(item)
            if part.get("type") == "input_image" and isinstance(part.get("image_url"), str)
        ]

    @property
    def function_calls(self) -> list[dict[str, Any]]:
        """Earlier tool calls carried in the input (``function_call`` and ``custom_tool_call``)."""
        kinds = ("function_call", "custom_tool_call")
        return [item for item in self.input if item.get("type") in kinds]

    @property
    def function_call_outputs(self) -> dict[str, str]:
        """Tool results carried in the input, by ``call_id``."""
        outputs: dict[str, str] = {}
        for item in self.input:
            if item.get("type") in ("function_call_output", "custom_tool_call_output"):
                output = item.get("output")
                text = output if isinstance(output, str) else json.dumps(output)
                outputs[str(item.get("call_id"))] = text
        return outputs

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The JSON schema of ``text.format`` when structured output was requested, else None."""
        text = self.body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = fmt.get("schema")
            return schema if isinstance(schema, dict) else None
        return None

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered to the model."""
        tools = self.body.get("tools")
        if not isinstance(tools, list):
            return []
        return [str(tool.get("name", tool.get("type"))) for tool in tools if isinstance(tool, dict)]


Responder: TypeAlias = Callable[[RecordedRequest], ScriptItem | None]
"""Answers a model request from what it holds (:class:`RecordedRequest`): a :func:`response`,
an :func:`http_error`, or ``None`` to let the queue answer. Build a new answer on every call."""


# Codex wraps the context it adds as user messages in tags (<environment_context>, ...) or an
# AGENTS.md heading; real user text rarely starts like that.
_CONTEXT_PREFIXES = ("<", "# AGENTS.md")


def _content(item: dict[str, Any]) -> list[dict[str, Any]]:
    content = item.get("content")
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    return [part for part in content if isinstance(part, dict)] if isinstance(content, list) else []


class ScriptedModelServer:
    """A local Responses API server that answers each model request with the next scripted item.

    Use it as a context manager (or call :meth:`close`). Point the app-server at
    :attr:`base_url` with :func:`write_codex_home`. Every request is recorded in :attr:`requests`;
    a request that finds the script empty is answered with HTTP 500 and recorded in
    :attr:`failures` (see :meth:`raise_for_failures`).

    ``responder`` (or the :attr:`responder` attribute) answers by what a request holds rather
    than by its arrival: it is asked first, and the queue answers when it returns ``None``.
    """

    def __init__(self, *script: ScriptItem, responder: Responder | None = None) -> None:
        """Start serving on a free port of 127.0.0.1 with the given script and responder."""
        self._lock = threading.Condition()
        #: Asked for each request's answer before the queue; ``None`` defers to the queue.
        self.responder = responder
        self._script: deque[ScriptItem] = deque()
        self._requests: list[RecordedRequest] = []
        self._failures: list[str] = []
        self._stalls: list[Stall] = []
        self._connections: set[socket.socket] = set()
        self._closed = False
        self.enqueue(*script)
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="codex-scripted-model",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """The provider ``base_url`` to give the app-server, ``http://127.0.0.1:PORT/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def enqueue(self, *items: ScriptItem) -> None:
        """Append answers to the script; each model request consumes the next one."""
        for item in items:
            _check_item(item, "enqueue()")
        with self._lock:
            self._script.extend(items)
            self._track_stalls(items)

    def _track_stalls(self, items: tuple[ScriptItem, ...]) -> None:
        # Called with the lock held: close() releases every stall it knows of.
        self._stalls.extend(
            output
            for item in items
            if isinstance(item, ModelResponse)
            for output in item.outputs
            if isinstance(output, Stall)
        )

    @property
    def remaining(self) -> int:
        """How many scripted answers have not been used yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The model requests received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def failures(self) -> list[str]:
        """Why requests could not be answered from the script, oldest first (a copy)."""
        with self._lock:
            return list(self._failures)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until at least ``count`` model requests were received; return them all.

        Raises :class:`TimeoutError` if fewer arrive within ``timeout`` seconds.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                received = len(self._requests)
                raise TimeoutError(
                    f"expected {count} model request(s) within {timeout}s, got {received}"
                )
            return list(self._requests)

    def raise_for_failures(self) -> None:
        """Raise :class:`ModelServerError` if any request could not be answered from the script."""
        failures = self.failures
        if failures:
            raise ModelServerError("; ".join(failures))

    def close(self) -> None:
        """Stop serving: release every stall, drop open connections and join all threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            stalls, connections = list(self._stalls), list(self._connections)
        for pending in stalls:
            pending.release()
        for connection in connections:
            # A client keeping a connection open would otherwise block its handler thread forever.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        with self._lock:
            return self._closed

    def __enter__(self) -> ScriptedModelServer:
        """Return the running server."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the server."""
        self.close()

    def __repr__(self) -> str:
        """Show the address and the script's progress."""
        with self._lock:
            return (
                f"<ScriptedModelServer {self.base_url} requests={len(self._requests)}"
                f" remaining={len(self._script)} failures={len(self._failures)}>"
            )

    # Called from handler threads.

    def _track(self, connection: socket.socket, active: bool) -> None:
        with self._lock:
            if not active:
                self._connections.discard(connection)
                return
            if not self._closed:
                self._connections.add(connection)
                return
        # Accepted while close() was running, after it shut the known connections down.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)

    def _take(self, request: RecordedRequest) -> ScriptItem | str:
        with self._lock:
            self._requests.append(request)
            number = len(self._requests)
            self._lock.notify_all()
            responder = self.responder
            if request.method != "POST" or request.path.rstrip("/") != "/v1/responses":
                return self._fail(f"unexpected model request {request.method} {request.path}")
        if responder is not None:
            # Outside the lock: a responder may look at the server (requests, remaining).
            try:
                answer = responder(request)
                if answer is not None:
                    _check_item(answer, "the responder")
            except Exception as exc:
                with self._lock:
                    return self._fail(f"the responder failed on request #{number}: {exc!r}")
            if answer is not None:
                with self._lock:
                    self._track_stalls((answer,))
                    if self._closed:
                        for pending in self._stalls:
                            pending.release()
                return answer
        with self._lock:
            if self._script:
                return self._script.popleft()
            return self._fail(
                f"the model script ran out: request #{number} to {request.path}"
                " has no scripted response left"
            )

    def _fail(self, failure: str) -> str:
        # Called with the lock held.
        self._failures.append(failure)
        return failure


def _check_item(item: object, where: str) -> None:
    if not isinstance(item, (ModelResponse, HttpError)):
        raise TypeError(
            f"{where} takes response(...) or http_error(...), got {type(item).__name__};"
            " wrap outputs in response(...)"
        )


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, owner: ScriptedModelServer) -> None:
        self.owner = owner
        self._handlers: list[threading.Thread] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Daemon threads, so that a server a test forgot to close cannot hang the interpreter at
        # exit; tracked, so that close() still joins every one of them.
        handler = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self._handlers = [thread for thread in self._handlers if thread.is_alive()]
        self._handlers.append(handler)
        handler.start()

    def server_close(self) -> None:
        super().server_close()
        for handler in self._handlers:
            handler.join()


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    # HTTP/1.0 closes the connection after each answer, which ends the event stream cleanly.
    protocol_version = "HTTP/1.0"

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, active=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, active=False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._answer(self._record("GET", None))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self._record("POST", self.rfile.read(length)))

    def _record(self, method: str, raw: bytes | None) -> ScriptItem | str:
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        request = RecordedRequest(
            method=method,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=parsed if isinstance(parsed, dict) else {},
        )
        return self.server.owner._take(request)

    def _answer(self, item: ScriptItem | str) -> None:
        try:
            if isinstance(item, str):
                unknown_path = item.startswith("unexpected")
                self._send_json(404 if unknown_path else 500, {"error": {"message": item}})
            elif isinstance(item, HttpError):
                self._send_json(item.status, item.body())
            else:
                self._stream(item)
        except (BrokenPipeError, ConnectionResetError):
            # The app-server dropped the request (for example an interrupted turn).
            pass

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, scripted: ModelResponse) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for event in scripted.events():
            if isinstance(event, Stall):
                self.wfile.flush()
                event._hold()
                if self.server.owner.closed:
                    return
                continue
            kind, data = event
            payload = json.dumps({"type": kind, **data})
            self.wfile.write(f"event: {kind}\ndata: {payload}\n\n".encode())
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        # Test output should show the test's failures, not an access log.
        pass
