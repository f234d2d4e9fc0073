"""A scripted app-server peer for the in-memory transport: unit tests of the connection and the
typed client run on it without spawning a process.

The peer answers each request from a table (a result, a callable of the params, or
:data:`HOLD` to leave it unanswered), records every line the client wrote, and lets the test
send notifications and server requests of its own with :meth:`ScriptedPeer.send`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from codex_app_server import RUNTIME_VERSION
from codex_app_server._transports.memory import AsyncMemoryTransport, MemoryTransport

#: An answer that leaves the request unanswered (the test may answer it later, or never).
HOLD: Any = object()

#: What a real server answers to ``initialize`` (enough for the typed client's handshake).
INITIALIZE = {
    "codexHome": "/tmp/codex-home",
    "platformFamily": "unix",
    "platformOs": "linux",
    "userAgent": f"codex_cli_rs/{RUNTIME_VERSION} (test)",
}


class RpcError:
    """An answer that is a JSON-RPC error reply."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message


def line(message: Mapping[str, Any]) -> bytes:
    """A message as the server writes it: compact JSON and a newline."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class ScriptedPeer:
    """Plays the app-server on a :class:`MemoryTransport` or an :class:`AsyncMemoryTransport`."""

    def __init__(self, answers: Mapping[str, Any] | None = None) -> None:
        self.answers: dict[str, Any] = {"initialize": INITIALIZE, **(answers or {})}
        #: Every message the client wrote, decoded, in order.
        self.received: list[dict[str, Any]] = []
        #: Requests answered with HOLD: method -> ids, oldest first.
        self.held: dict[str, list[Any]] = {}
        self._transport: MemoryTransport | AsyncMemoryTransport | None = None

    def transport(self) -> MemoryTransport:
        """A sync transport wired to this peer."""
        transport = MemoryTransport(self)
        self._transport = transport
        return transport

    def async_transport(self) -> AsyncMemoryTransport:
        """An async transport wired to this peer."""
        transport = AsyncMemoryTransport(self)
        self._transport = transport
        return transport

    def __call__(self, data: bytes) -> None:
        message = json.loads(data)
        self.received.append(message)
        method, request_id = message.get("method"), message.get("id")
        if method is None or request_id is None:
            return  # a notification (initialized) or an answer to a server request
        answer = self.answers.get(method, RpcError(-32601, f"unknown method {method}"))
        if answer is HOLD:
            self.held.setdefault(method, []).append(request_id)
            return
        self.reply(request_id, answer, message.get("params"))

    def reply(self, request_id: Any, answer: Any, params: Any = None) -> None:
        """Answer request ``request_id`` (with a result, an :class:`RpcError`, or a callable)."""
        if callable(answer) and not isinstance(answer, RpcError):
            answer = answer(params)
        if isinstance(answer, RpcError):
            self.send({"id": request_id, "error": {"code": answer.code, "message": answer.message}})
        else:
            self.send({"id": request_id, "result": answer})

    def send(self, *messages: Mapping[str, Any]) -> None:
        """Write messages to the client, all in one read."""
        assert self._transport is not None, "make the transport first"
        self._transport.send(b"".join(line(message) for message in messages))

    def answers_to(self, request_id: Any) -> list[dict[str, Any]]:
        """What the client answered to server request ``request_id``."""
        return [
            message
            for message in self.received
            if message.get("id") == request_id and "method" not in message
        ]

    def hang_up(self) -> None:
        """Close the server's side."""
        assert self._transport is not None
        self._transport.hang_up()


def notification(
    method: str, thread_id: str, turn_id: str | None = None, **params: Any
) -> dict[str, Any]:
    """A notification about ``thread_id`` (and ``turn_id``)."""
    body: dict[str, Any] = {"threadId": thread_id, **params}
    if turn_id is not None:
        body["turnId"] = turn_id
    return {"method": method, "params": body}
