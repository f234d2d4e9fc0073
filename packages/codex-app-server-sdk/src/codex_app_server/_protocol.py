"""The JSON-RPC core: framing, request ids, pending calls and routing, with no I/O.

Bytes go in through :meth:`JsonRpcCore.receive_data` and come out as events; messages to send
come out as bytes. The synchronous (threads) and asynchronous (asyncio) connections, and any
other transport, drive this one object, so the protocol rules live in exactly one place.

The app-server speaks JSON-RPC 2.0 without the ``"jsonrpc"`` member, one JSON object per line.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._escape import quoted
from .errors import JsonRpcError, ProtocolViolationError

__all__ = [
    "ErrorResponse",
    "Event",
    "JsonRpcCore",
    "Notification",
    "NotificationDecoder",
    "ProtocolViolation",
    "RequestId",
    "Response",
    "Router",
    "ServerRequest",
    "Subscription",
]

RequestId = int | str

#: How much of an offending line a :class:`ProtocolViolation` keeps, so a 10 MB garbage line
#: does not end up copied into logs and exception messages.
_VIOLATION_EXCERPT = 200


class Response:
    """A successful reply to one of our requests.

    When the line had the server's own layout, ``{"id":N,"result":...}``, the reply is routed
    without being parsed: ``raw`` is the result's JSON text, which a typed caller validates in
    one pass, and :attr:`result` parses it on first use.
    """

    __slots__ = ("_line", "_result", "method", "raw", "request_id")

    def __init__(
        self,
        request_id: RequestId,
        method: str,
        result: Any = None,
        raw: bytes | None = None,
        line: bytes = b"",
    ) -> None:
        self.request_id = request_id
        self.method = method
        self.raw = raw
        self._result = _UNPARSED if raw is not None else result
        self._line = line

    @property
    def result(self) -> Any:
        """The result, parsed."""
        if self._result is _UNPARSED:
            assert self.raw is not None
            try:
                self._result = json.loads(self.raw)
            except ValueError:
                # More members followed "result", or the line is not JSON at all: the whole
                # line decides.
                self._result = _result_of(self._line, self.method)
            except RecursionError:
                # Nested deeper than the decoder recurses: the reply cannot be read at all.
                raise ProtocolViolationError(
                    f"the app-server's reply to {self.method!r} is nested too deeply to read: "
                    f"{_excerpt(self.raw)}"
                ) from None
        return self._result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.request_id, self.method, self.result) == (
            other.request_id,
            other.method,
            other.result,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Response({self.request_id!r}, {self.method!r}, {self.result!r})"


_UNPARSED: Any = object()


def _result_of(line: bytes, method: str) -> Any:
    """The ``result`` of a reply line the fast path could not vouch for."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolViolationError(
            f"the app-server's reply to {method!r} is not JSON: {exc}: {_excerpt(line)}"
        ) from None
    if not isinstance(message, dict) or "result" not in message:
        raise ProtocolViolationError(
            f"the app-server's reply to {method!r} is malformed: {_excerpt(line)}"
        )
    return message["result"]


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An error reply to one of our requests, already mapped to its exception class."""

    request_id: RequestId
    method: str
    error: JsonRpcError


class Notification:
    """A server notification, with the thread and turn it belongs to when it names them.

    A notification that came through the core's decoder keeps its raw line and, once typed,
    its generated envelope model (``model``); ``params`` is then decoded from that line only
    if asked for. Streamed deltas are read through ``model``: no dict is built for them.
    """

    __slots__ = ("_params", "method", "model", "raw", "thread_id", "turn_id")

    def __init__(
        self,
        method: str,
        params: dict[str, Any] | None,
        thread_id: str | None,
        turn_id: str | None,
        model: Any = None,
        raw: bytes = b"",
    ) -> None:
        self.method = method
        self.thread_id = thread_id
        self.turn_id = turn_id
        #: The typed envelope (``method`` plus typed ``params``), once known.
        self.model = model
        #: The line it came in (empty when built from a dict).
        self.raw = raw
        self._params = params

    @property
    def params(self) -> dict[str, Any]:
        """The notification's params as plain JSON values (empty if its line is not JSON)."""
        if self._params is None:
            try:
                params = json.loads(self.raw).get("params")
            except (ValueError, RecursionError):
                # A line routed on ids read off its first bytes can still prove to be garbage;
                # whoever types it reports that, and no reader of params should crash on it.
                params = None
            self._params = params if isinstance(params, dict) else {}
        return self._params

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Notification):
            return NotImplemented
        return (self.method, self.thread_id, self.turn_id, self.params) == (
            other.method,
            other.thread_id,
            other.turn_id,
            other.params,
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value and mutable (params cache)

    def __repr__(self) -> str:
        return (
            f"Notification(method={self.method!r}, thread_id={self.thread_id!r}, "
            f"turn_id={self.turn_id!r})"
        )


@dataclass(frozen=True, slots=True)
class ServerRequest:
    """A request the server sends to the client (approvals, user input, tool calls...)."""

    request_id: RequestId
    method: str
    params: dict[str, Any]
    thread_id: str | None
    turn_id: str | None


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """Input that is not a message we can use; reported, then skipped.

    ``request_id`` is set when the input was a server request whose id could still be read
    (its line is not valid UTF-8): the request is answered with an error, so the server is
    not left waiting for a reply that would never come.
    """

    reason: str
    excerpt: str
    request_id: RequestId | None = None


Event = Response | ErrorResponse | Notification | ServerRequest | ProtocolViolation


#: The routing scope of messages about a sign-in (``account/login/completed``): they name a
#: login, not a thread. A thread id is a UUID, so this key never collides with one.
LOGIN_SCOPE = "account/login"


def _scope(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ``(thread_id, turn_id)`` a message's params refer to, if any."""
    # Legacy approval requests name the thread "conversationId".
    thread_id = params.get("threadId", params.get("conversationId"))
    if thread_id is None and "loginId" in params:
        thread_id = LOGIN_SCOPE
    turn_id = params.get("turnId")
    if turn_id is None:
        turn = params.get("turn")
        if isinstance(turn, Mapping):
            turn_id = turn.get("id")
    return (
        thread_id if isinstance(thread_id, str) else None,
        turn_id if isinstance(turn_id, str) else None,
    )


_METHOD_PREFIX = b'{"method":"'
_METHOD_START = len(_METHOD_PREFIX)
#: How many abandoned request ids are remembered (see :meth:`JsonRpcCore.forget`).
_ABANDONED_KEPT = 1024
_REPLY_PREFIX = b'{"id":'
#: A reply as the server writes it, capturing its id and its result's JSON text; JSON
#: numbers have no leading zeros.
_REPLY = re.compile(rb'\{"id":(0|[1-9][0-9]{0,17}),"result":(.*)\}', re.DOTALL).fullmatch

#: Types one notification line: given its method (as raw bytes) and the line, returns the
#: :class:`Notification` with its typed ``model``, or ``None`` to leave the line to the generic
#: path (unknown method, unexpected shape: that path reports what is wrong).
NotificationDecoder = Callable[[bytes, bytes], "Notification | None"]


def _excerpt(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return quoted(text, _VIOLATION_EXCERPT)


class JsonRpcCore:
    """Turns bytes into events and calls into bytes; keeps the table of pending requests.

    Not thread-safe by itself: each connection serialises access to it (the async connection
    runs on one loop; the sync connection holds a lock around sends and reads in one thread).
    """

    def __init__(self, decode_notification: NotificationDecoder | None = None) -> None:
        self._buffer = bytearray()
        self._next_id = 1
        self._pending: dict[RequestId, str] = {}
        self._abandoned: dict[RequestId, str] = {}
        self._decode_notification = decode_notification

    # -- outgoing -------------------------------------------------------------------------

    def request(self, method: str, params: Mapping[str, Any] | bytes | None) -> tuple[int, bytes]:
        """Allocate an id for a request and return it with the line to send.

        ``params`` may be JSON text already (a typed call serialises its params model
        straight to JSON), spliced in as it is.
        """
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = method
        if type(params) is bytes:
            return request_id, b'{"id":%d,"method":%b,"params":%b}\n' % (
                request_id,
                _json_string(method),
                params,
            )
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        return request_id, _encode(message)

    def notification(self, method: str, params: Mapping[str, Any] | None = None) -> bytes:
        """The line for a client notification (such as ``initialized``)."""
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        return _encode(message)

    def reply(self, request_id: RequestId, result: Any) -> bytes:
        """The line answering a server request with ``result``."""
        return _encode({"id": request_id, "result": result})

    def reply_error(
        self, request_id: RequestId, code: int, message: str, data: Any = None
    ) -> bytes:
        """The line answering a server request with a JSON-RPC error."""
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        return _encode({"id": request_id, "error": error})

    def forget(self, request_id: RequestId) -> None:
        """Stop expecting a reply (the caller timed out or was cancelled).

        A reply that still comes is a reply nobody waits for, not a fault of the server: the
        last :data:`_ABANDONED_KEPT` such ids are remembered so it is dropped quietly.
        """
        method = self._pending.pop(request_id, None)
        if method is not None:
            self._abandoned[request_id] = method
            if len(self._abandoned) > _ABANDONED_KEPT:
                del self._abandoned[next(iter(self._abandoned))]

    def _claim(self, request_id: RequestId) -> str | None:
        """The method of the request a reply answers, or ``None`` if none was sent."""
        method = self._pending.pop(request_id, None)
        if method is None and self._abandoned:
            method = self._abandoned.pop(request_id, None)
        return method

    def pending(self) -> list[RequestId]:
        """Ids of requests still waiting for a reply."""
        return list(self._pending)

    def fail_all(self) -> list[RequestId]:
        """Forget every pending request and return their ids (the transport closed)."""
        ids = list(self._pending)
        self._pending.clear()
        self._abandoned.clear()
        return ids

    # -- incoming -------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the server; return the events of every complete line.

        Lines may arrive split across reads or many to a read; there is no length limit.
        """
        newline = data.find(b"\n")
        if newline < 0:
            self._buffer += data
            return []
        if not self._buffer and newline == len(data) - 1:
            # One whole line, as a reply and each of a real server's deltas arrive: no split.
            lines = [data[:newline]]
        else:
            if self._buffer:
                self._buffer += data
                data = bytes(self._buffer)
                self._buffer.clear()
            lines = data.split(b"\n")
            rest = lines.pop()
            if rest:
                self._buffer += rest
        decode = self._decode_notification
        # The streaming hot path: one loop, one decoder call per line.
        events: list[Event] = []
        append = events.append
        for line in lines:
            if line.startswith(_METHOD_PREFIX):
                if decode is not None:
                    event = decode(line[_METHOD_START : line.find(b'"', _METHOD_START)], line)
                    if event is not None:
                        append(event)
                        continue
            elif line.startswith(_REPLY_PREFIX):
                reply = self._reply(line)
                if reply is not None:
                    append(reply)
                    continue
            if line.strip():
                append(self._parse_line(line))
        return events

    def receive_eof(self) -> list[Event]:
        """The stream ended: a final line without a newline still counts."""
        if not self._buffer.strip():
            self._buffer.clear()
            return []
        line = bytes(self._buffer)
        self._buffer.clear()
        return [self.receive_line(line)]

    def receive_line(self, line: bytes | str) -> Event:
        """Decode one JSON message (a stdio line or a websocket text frame)."""
        # The server writes "method" first in every notification: the method is known before
        # parsing, and the decoder can type the whole line in one pass, with no dict between.
        if (
            self._decode_notification is not None
            and type(line) is bytes
            and line.startswith(_METHOD_PREFIX)
        ):
            event = self._decode_notification(
                line[_METHOD_START : line.find(b'"', _METHOD_START)], line
            )
            if event is not None:
                return event
        return self._parse_line(line)

    def _reply(self, line: bytes) -> Response | None:
        """A reply in the server's layout, ``{"id":N,"result":...}``, routed unparsed.

        ``None`` sends the line the general way: another layout, or an id nobody waits for
        (which the general way reports).
        """
        match = _REPLY(line)
        if match is None:
            return None
        head, raw = match.groups()
        request_id = int(head)
        method = self._claim(request_id)
        if method is None:
            return None
        return Response(request_id, method, None, raw, line)

    def _parse_line(self, line: bytes | str) -> Event:
        try:
            message = json.loads(line)
        except UnicodeDecodeError as exc:
            return ProtocolViolation(
                f"not valid UTF-8: {exc}", _excerpt(line), _request_id_of(line)
            )
        except (ValueError, RecursionError) as exc:
            # The decoder recurses per nesting level: a hostile line must not kill the reader.
            return ProtocolViolation(f"not JSON: {exc}", _excerpt(line))
        if not isinstance(message, dict):
            return ProtocolViolation("not a JSON object", _excerpt(line))
        return self.receive_message(message, line)

    def receive_message(self, message: dict[str, Any], raw: bytes | str = b"") -> Event:
        """Classify a decoded message as a response, notification or server request."""
        method = message.get("method")
        has_id = "id" in message
        if isinstance(method, str):
            params = message.get("params")
            if params is None:
                params = {}
            elif not isinstance(params, dict):
                return ProtocolViolation("params is not an object", _excerpt(raw or str(message)))
            thread_id, turn_id = _scope(params)
            if has_id:
                request_id = message["id"]
                if not isinstance(request_id, int | str):
                    return ProtocolViolation("bad request id", _excerpt(raw or str(message)))
                return ServerRequest(request_id, method, params, thread_id, turn_id)
            return Notification(method, params, thread_id, turn_id)
        if has_id and ("result" in message or "error" in message):
            request_id = message["id"]
            request_method = self._claim(request_id) if _hashable(request_id) else None
            if request_method is None:
                return ProtocolViolation(
                    f"reply to unknown request id {request_id!r}", _excerpt(raw or str(message))
                )
            error = message.get("error")
            if error is not None:
                if not isinstance(error, Mapping):
                    error = {"code": -32603, "message": f"malformed error: {error!r}"}
                return ErrorResponse(
                    request_id,
                    request_method,
                    JsonRpcError.from_error(error, method=request_method),
                )
            return Response(request_id, request_method, message.get("result"))
        return ProtocolViolation(
            "neither a request, a notification nor a reply", _excerpt(raw or str(message))
        )


def _request_id_of(line: bytes | str) -> RequestId | None:
    """The id of the server request on a line that is not valid UTF-8, if it is one.

    Only the id is taken from the repaired text, to address the error reply: nothing else of a
    line that broke the encoding is acted on.
    """
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return None
    request_id = message.get("id")
    return request_id if isinstance(request_id, int | str) else None


def _hashable(value: Any) -> bool:
    return isinstance(value, int | str)


# Compact separators and no ASCII escaping: smaller lines, and the server reads UTF-8. One
# encoder for every line: json.dumps() with arguments builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _encode(message: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(message).encode() + b"\n"


@functools.lru_cache(maxsize=512)
# Cached: a connection calls a handful of methods, each many times.
@functools.lru_cache(maxsize=256)
def _json_string(text: str) -> bytes:
    return _ENCODER.encode(text).encode()


S = TypeVar("S")


@dataclass(eq=False)
class Subscription(Generic[S]):
    """Who wants the events of one thread (and, once known, of one turn in it).

    ``turn_id`` may be filled in after the subscription starts: a turn's events are wanted
    before ``turn/start`` has answered with the turn's id, so the subscription starts
    thread-wide and narrows once the id is known.
    """

    thread_id: str
    sink: S
    turn_id: str | None = None
    #: Also deliver the events of the sub-agents the thread spawns meanwhile.
    subagents: bool = False
    #: Only watches: a handler's ``BaseException`` is raised to the other subscribers.
    observer: bool = False
    #: The subscriptions to sub-agents made for this one; they end with it.
    linked: list[Subscription[S]] = field(default_factory=list)
    #: Made by :meth:`Router.link` for another subscription (not a turn of its own).
    derived: bool = False

    def wants(self, turn_id: str | None) -> bool:
        """Whether an event of ``turn_id`` (None: thread-wide) belongs to this subscriber."""
        return turn_id is None or self.turn_id is None or turn_id == self.turn_id


@dataclass
class Router(Generic[S]):
    """Maps thread and turn ids to the subscribers waiting for them.

    Events that name no subscribed thread are dropped: nothing is kept for nobody, so routing
    tables do not grow with the number of turns.
    """

    _by_thread: dict[str, list[Subscription[S]]] = field(default_factory=dict)

    def subscribe(
        self, thread_id: str, sink: S, *, subagents: bool = False, observer: bool = False
    ) -> Subscription[S]:
        """Start delivering the events of ``thread_id`` to ``sink``."""
        subscription = Subscription(thread_id, sink, subagents=subagents, observer=observer)
        self._by_thread.setdefault(thread_id, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[S]) -> None:
        """Stop a subscription (and those made for its sub-agents); repeats are harmless."""
        for linked in subscription.linked:
            self.unsubscribe(linked)
        subscription.linked.clear()
        subscribers = self._by_thread.get(subscription.thread_id)
        if subscribers is None:
            return
        if subscription in subscribers:
            subscribers.remove(subscription)
        if not subscribers:
            del self._by_thread[subscription.thread_id]

    def link(self, child: str, parent: str, parent_turn: str | None) -> None:
        """``parent`` spawned ``child`` during ``parent_turn`` (``None``: not known): the
        subscriptions of ``parent`` that asked for sub-agents get ``child``'s events too."""
        for origin in list(self._by_thread.get(parent, ())):
            if not origin.subagents or not origin.wants(parent_turn):
                continue
            if any(s.sink is origin.sink for s in self._by_thread.get(child, ())):
                continue  # already delivered there (a second link of the same child)
            linked = self.subscribe(child, origin.sink, subagents=True, observer=origin.observer)
            linked.derived = True
            origin.linked.append(linked)

    def callers(self, thread_id: str, turn_id: str | None) -> list[S]:
        """The sinks of ``thread_id``'s non-observer subscriptions that want ``turn_id``."""
        return [
            s.sink
            for s in self._by_thread.get(thread_id, ())
            if not s.observer and s.wants(turn_id)
        ]

    def route(
        self, thread_id: str | None, turn_id: str | None, *, ends_turn: bool = False
    ) -> list[S]:
        """The sinks that should receive an event scoped to ``(thread_id, turn_id)``.

        ``ends_turn`` marks the turn's last event: subscriptions narrowed to that turn are
        removed after it, so a turn whose handle is never read leaves nothing behind.
        """
        if thread_id is not None:
            subscribers = self._by_thread.get(thread_id)
            if subscribers:
                sinks = [s.sink for s in subscribers if s.wants(turn_id)]
                if ends_turn and turn_id is not None:
                    for done in [s for s in subscribers if s.turn_id == turn_id]:
                        self.unsubscribe(done)
                return sinks
        return []

    def all_sinks(self) -> Iterable[S]:
        """Every sink currently registered (to wake them all when the connection closes)."""
        for subscribers in self._by_thread.values():
            for subscription in subscribers:
                yield subscription.sink

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_thread.values())
