"""The JSON-RPC core: framing, request ids, pending calls and routing, with no I/O.

Bytes go in through :meth:`JsonRpcCore.receive_data` and come out as events; messages to send
come out as bytes. :class:`PendingTable` is the one table of requests waiting for a reply (with
their waiters and the clock of their deadlines); :class:`EventSorter` turns one read's events
into what the connection must deliver and answer, in order. The synchronous (threads) and
asynchronous (asyncio) connections, over any transport, drive these objects, so the protocol
rules live in exactly one place.

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
    "EventSorter",
    "JsonRpcCore",
    "Notification",
    "NotificationDecoder",
    "PendingCall",
    "PendingTable",
    "ProtocolViolation",
    "RequestId",
    "Response",
    "Router",
    "ServerRequest",
    "Subscription",
    "excerpt",
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

    __slots__ = ("_line", "_result", "method", "raw", "request_id", "waiter")

    def __init__(
        self,
        request_id: RequestId,
        method: str,
        result: Any = None,
        raw: bytes | None = None,
        line: bytes = b"",
        waiter: Any = None,
    ) -> None:
        self.request_id = request_id
        self.method = method
        self.raw = raw
        self._result = _UNPARSED if raw is not None else result
        self._line = line
        #: Whoever waits for this reply (see :class:`PendingTable`); the connection takes it.
        self.waiter = waiter

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
                    f"{excerpt(self.raw)}"
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
            f"the app-server's reply to {method!r} is not JSON: {exc}: {excerpt(line)}"
        ) from None
    if not isinstance(message, dict) or "result" not in message:
        raise ProtocolViolationError(
            f"the app-server's reply to {method!r} is malformed: {excerpt(line)}"
        )
    return message["result"]


@dataclass(slots=True)
class ErrorResponse:
    """An error reply to one of our requests, already mapped to its exception class."""

    request_id: RequestId
    method: str
    error: JsonRpcError
    #: Whoever waits for this reply (see :class:`PendingTable`); the connection takes it.
    waiter: Any = field(default=None, compare=False, repr=False)


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


def excerpt(raw: bytes | str) -> str:
    """``raw`` as an error message or a log line may quote it: bounded and terminal-safe."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return quoted(text, _VIOLATION_EXCERPT)


class PendingCall:
    """One request waiting for its reply: its method, its waiter and its deadline."""

    __slots__ = ("deadline", "method", "timeout", "waiter")

    def __init__(self, method: str, waiter: Any) -> None:
        self.method = method
        #: Whatever the connection resolves when the reply comes (a future, a slot...).
        self.waiter = waiter
        #: When it expires on the caller's clock (``None``: never), and the timeout it came from.
        self.deadline: float | None = None
        self.timeout: float | None = None


class PendingTable:
    """The requests waiting for a reply, in one place, with the clock of their deadlines.

    A reply, a timeout, a caller giving up and the end of the connection each clean this one
    table. Deadlines are times on a clock the caller reads and passes in as ``now`` (no timers,
    no I/O here): :meth:`set_deadline` says when the caller's single timer must be set earlier,
    :meth:`expire` takes the overdue calls out, and :attr:`next_deadline` is when to look next.
    """

    def __init__(self) -> None:
        self._calls: dict[RequestId, PendingCall] = {}
        #: Ids given up on (see :meth:`forget`), with their method.
        self._abandoned: dict[RequestId, str] = {}
        #: The time the caller's timer is set for, if any.
        self._armed: float | None = None

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._calls

    def add(self, request_id: RequestId, method: str, waiter: Any) -> None:
        """Expect a reply to ``request_id``."""
        self._calls[request_id] = PendingCall(method, waiter)

    def set_deadline(self, request_id: RequestId, deadline: float, timeout: float) -> bool:
        """Give a pending call a deadline; ``True`` if the timer must be set for it now
        (nothing is armed, or only for later)."""
        call = self._calls.get(request_id)
        if call is None:
            return False
        call.deadline, call.timeout = deadline, timeout
        armed = self._armed
        if armed is None or deadline < armed:
            self._armed = deadline
            return True
        return False

    def hold(self, request_id: RequestId) -> float | None:
        """Take a call's deadline off the clock for a while and return it (``None``: it had
        none); :meth:`set_deadline` puts it back."""
        call = self._calls.get(request_id)
        if call is None:
            return None
        deadline, call.deadline = call.deadline, None
        return deadline

    def claim(self, request_id: RequestId) -> PendingCall | None:
        """The call a reply answers, out of the table; ``None`` if no such request was sent.

        A call given up on still matches (with no waiter): its late reply is nobody's, not a
        fault of the server.
        """
        call = self._calls.pop(request_id, None)
        if call is None and self._abandoned:
            method = self._abandoned.pop(request_id, None)
            if method is not None:
                call = PendingCall(method, None)
        return call

    def forget(self, request_id: RequestId) -> None:
        """Stop expecting a reply (the caller timed out or was cancelled).

        The last :data:`_ABANDONED_KEPT` such ids are remembered, so a reply that still comes
        is dropped quietly.
        """
        call = self._calls.pop(request_id, None)
        if call is not None:
            self._abandon(request_id, call.method)

    def _abandon(self, request_id: RequestId, method: str) -> None:
        self._abandoned[request_id] = method
        if len(self._abandoned) > _ABANDONED_KEPT:
            del self._abandoned[next(iter(self._abandoned))]

    def expire(self, now: float) -> list[PendingCall]:
        """Take out the calls whose deadline is ``now`` or earlier, and set
        :attr:`next_deadline` to the earliest left."""
        overdue: list[PendingCall] = []
        earliest: float | None = None
        for request_id, call in list(self._calls.items()):
            deadline = call.deadline
            if deadline is None:
                continue
            if deadline <= now:
                del self._calls[request_id]
                self._abandon(request_id, call.method)
                overdue.append(call)
            elif earliest is None or deadline < earliest:
                earliest = deadline
        self._armed = earliest
        return overdue

    @property
    def next_deadline(self) -> float | None:
        """When the caller's timer is due (``None``: no deadline is waiting)."""
        return self._armed

    def ids(self) -> list[RequestId]:
        """Ids of requests still waiting for a reply."""
        return list(self._calls)

    def fail_all(self) -> list[PendingCall]:
        """Take out every call (the transport closed); nothing is expected any more."""
        calls = list(self._calls.values())
        self._calls.clear()
        self._abandoned.clear()
        self._armed = None
        return calls


class JsonRpcCore:
    """Turns bytes into events and calls into bytes; keeps the table of pending requests.

    Not thread-safe by itself: each connection serialises access to it (the async connection
    runs on one loop; the sync connection holds a lock around sends and reads in one thread).
    """

    def __init__(self, decode_notification: NotificationDecoder | None = None) -> None:
        self._buffer = bytearray()
        self._next_id = 1
        #: The one table of requests waiting for a reply.
        self.pending = PendingTable()
        self._decode_notification = decode_notification

    # -- outgoing -------------------------------------------------------------------------

    def request(
        self, method: str, params: Mapping[str, Any] | bytes | None, waiter: Any = None
    ) -> tuple[int, bytes]:
        """Allocate an id for a request and return it with the line to send.

        ``params`` may be JSON text already (a typed call serialises its params model
        straight to JSON), spliced in as it is. ``waiter`` (anything) comes back on the
        request's reply event, and from :meth:`PendingTable.expire` and
        :meth:`PendingTable.fail_all`.
        """
        request_id = self._next_id
        self._next_id += 1
        self.pending.add(request_id, method, waiter)
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
        call = self.pending.claim(request_id)
        if call is None:
            return None
        return Response(request_id, call.method, None, raw, line, call.waiter)

    def _parse_line(self, line: bytes | str) -> Event:
        try:
            message = json.loads(line)
        except UnicodeDecodeError as exc:
            return ProtocolViolation(f"not valid UTF-8: {exc}", excerpt(line), _request_id_of(line))
        except (ValueError, RecursionError) as exc:
            # The decoder recurses per nesting level: a hostile line must not kill the reader.
            return ProtocolViolation(f"not JSON: {exc}", excerpt(line))
        if not isinstance(message, dict):
            return ProtocolViolation("not a JSON object", excerpt(line))
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
                return ProtocolViolation("params is not an object", excerpt(raw or str(message)))
            thread_id, turn_id = _scope(params)
            if has_id:
                request_id = message["id"]
                if not isinstance(request_id, int | str):
                    return ProtocolViolation("bad request id", excerpt(raw or str(message)))
                return ServerRequest(request_id, method, params, thread_id, turn_id)
            return Notification(method, params, thread_id, turn_id)
        if has_id and ("result" in message or "error" in message):
            request_id = message["id"]
            call = self.pending.claim(request_id) if _hashable(request_id) else None
            if call is None:
                return ProtocolViolation(
                    f"reply to unknown request id {request_id!r}", excerpt(raw or str(message))
                )
            error = message.get("error")
            if error is not None:
                if not isinstance(error, Mapping):
                    error = {"code": -32603, "message": f"malformed error: {error!r}"}
                return ErrorResponse(
                    request_id,
                    call.method,
                    JsonRpcError.from_error(error, method=call.method),
                    call.waiter,
                )
            return Response(request_id, call.method, message.get("result"), waiter=call.waiter)
        return ProtocolViolation(
            "neither a request, a notification nor a reply", excerpt(raw or str(message))
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

    def turn_count(self) -> int:
        """How many turns are being awaited: each counted once however many subscriptions it
        has (its handle, an approval-rule watch); one not yet narrowed stands for a turn being
        started, and those made for sub-agents are not counted."""
        return len(
            {
                (subscription.thread_id, subscription.turn_id or id(subscription))
                for subscriptions in self._by_thread.values()
                for subscription in subscriptions
                if not subscription.derived
            }
        )


#: Notifications the connection observes before the events after it are routed: those that
#: may change who gets what (a thread spawned, a turn begun or ended, a thread gone), and a
#: file change's update, whose paths approval decisions read.
OBSERVED = frozenset(
    {
        "item/fileChange/patchUpdated",
        "thread/started",
        "turn/started",
        "turn/completed",
        "item/started",
        "item/completed",
        "thread/closed",
        "thread/archived",
        "thread/deleted",
    }
)
#: Replies that name a thread this client now drives (observed, like :data:`OBSERVED`).
THREAD_REPLIES = frozenset({"thread/start", "thread/resume", "thread/fork"})

#: One step of what a read asks of a connection, in arrival order: a batch of notifications
#: per sink (a dict), or one reply, error reply, server request or unusable line to act on.
Step = dict[S, list[Notification]] | Response | ErrorResponse | ServerRequest | ProtocolViolation


class EventSorter(Generic[S]):
    """Turns one read's events into the steps a connection acts on, with no I/O.

    Notifications are gathered into one batch per subscriber per read, not handed over one by
    one: a consumer woken once per read instead of once per delta is most of streaming's cost.
    What arrived before a reply or a server request is its own earlier step, so it is
    delivered before that is acted on. ``observe`` is called with every notification in
    :data:`OBSERVED` and ``observe_reply`` with every reply in :data:`THREAD_REPLIES`,
    in arrival order, before the events after them are routed (they may add routes).
    """

    __slots__ = ("_observe", "_observe_reply", "router")

    def __init__(
        self,
        router: Router[S],
        observe: Callable[[Notification], None],
        observe_reply: Callable[[Response], None],
    ) -> None:
        self.router = router
        self._observe = observe
        self._observe_reply = observe_reply

    def sort(self, events: list[Event]) -> list[Step[S]] | Step[S]:
        """The steps for ``events``, in order. The two reads that matter most come back as
        their one step, with no list around it: a read of notifications only (a stream's) as
        its batch, a read of one reply (a round trip's) as the reply."""
        if len(events) == 1 and type(reply := events[0]) is Response:
            if reply.method in THREAD_REPLIES:
                self._observe_reply(reply)
            return reply
        steps: list[Step[S]] | None = None
        batches: dict[S, list[Notification]] = {}
        router = self.router
        # A read brings runs of deltas of one turn: they share one routing lookup.
        scope: tuple[str | None, str | None] | None = None
        sinks: list[S] = []
        for event in events:
            if type(event) is Notification:
                if event.method in OBSERVED:
                    self._observe(event)
                    scope = None  # a sub-agent found may add subscriptions
                if event.method == "turn/completed":
                    # It ends its turn's subscriptions: later lookups must not reuse the sinks.
                    sinks = router.route(event.thread_id, event.turn_id, ends_turn=True)
                    scope = None
                elif scope is None or scope[0] != event.thread_id or scope[1] != event.turn_id:
                    sinks = router.route(event.thread_id, event.turn_id)
                    scope = (event.thread_id, event.turn_id)
                for sink in sinks:
                    batch = batches.get(sink)
                    if batch is None:
                        batches[sink] = [event]
                    else:
                        batch.append(event)
                continue
            scope = None
            if steps is None:
                steps = []
            if batches:
                steps.append(batches)
                batches = {}
            if type(event) is Response and event.method in THREAD_REPLIES:
                self._observe_reply(event)  # may add routes for the events after it
            steps.append(event)  # type: ignore[arg-type]  # not a Notification: see above
        if steps is None:
            return batches
        if batches:
            steps.append(batches)
        return steps
