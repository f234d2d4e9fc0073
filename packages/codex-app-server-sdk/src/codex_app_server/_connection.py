"""Connections: the JSON-RPC core driven over a transport, sync (threads) and async (asyncio).

A connection is given its transport (see ``_transports``) and opens it. What to do with what
arrives is decided without I/O (``_protocol``: the pending table, the event sorter); the
connection delivers, wakes and answers. :class:`_ConnectionBase` holds everything the two
share: acting on the sorter's steps, lineage (:meth:`_ConnectionBase._observe`), the decisions
for answering server requests, the hooks (:class:`ConnectionHooks`) and closing.
:class:`Connection` and :class:`AsyncConnection` add only the I/O primitives: how to wait for a
reply, how to queue an event, and where a handler runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import inspect
import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Generic, NoReturn, TypeVar

from ._decode import decode_notification
from ._escape import quoted
from ._handlers import (
    INTERNAL_METHODS,
    HandlerTable,
    Reply,
    ServerRequestHandler,
    decode_params,
    encode_result,
)
from ._hooks import ConnectionHooks, SentRequest
from ._lineage import thread_links
from ._protocol import (
    ErrorResponse,
    Event,
    EventSorter,
    JsonRpcCore,
    Notification,
    ProtocolViolation,
    RequestId,
    Response,
    Router,
    ServerRequest,
    Subscription,
)
from ._redact import redact, redact_text
from ._transports import AsyncTransport, Transport
from ._transports.room import WaitRoom
from .config import CodexConfig
from .errors import CLOSED_BY_OWNER, CodexError, RequestTimeoutError, TransportClosedError

__all__ = [
    "DEFAULT_TIMEOUT",
    "AnyConnection",
    "AsyncConnection",
    "AsyncInbox",
    "Connection",
    "DefaultTimeout",
    "Inbox",
]

logger = logging.getLogger("codex_app_server")

#: Longest message text in a debug line; the rest is counted, not copied.
_LOG_EXCERPT = 4000


def _excerpt(message: Any) -> str:
    # Redacted, bounded, and safe for the terminal a log handler may write to.
    return quoted(
        json.dumps(redact(message), ensure_ascii=False, separators=(",", ":")), _LOG_EXCERPT
    )


def _describe(event: Event) -> str:
    """One log line's worth of a received message."""
    if isinstance(event, Notification):
        return f"{event.method} {_excerpt(event.params)}"
    if isinstance(event, ServerRequest):
        return f"request #{event.request_id} {event.method} {_excerpt(event.params)}"
    if isinstance(event, Response):
        return f"reply #{event.request_id} to {event.method} {_excerpt(event.result)}"
    if isinstance(event, ErrorResponse):
        return redact_text(f"error #{event.request_id} to {event.method}: {event.error}")
    return redact_text(f"unusable: {event.reason}")


def log_sent(line: bytes) -> None:
    """Log one outgoing message at DEBUG, redacted; free when DEBUG is off."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("-> %s", _excerpt(json.loads(line)))


class DefaultTimeout(enum.Enum):
    """The type of :data:`DEFAULT_TIMEOUT`."""

    DEFAULT_TIMEOUT = "the configured request_timeout"


#: As a request's ``timeout=``: the client's ``request_timeout`` (``None`` there waits forever).
DEFAULT_TIMEOUT = DefaultTimeout.DEFAULT_TIMEOUT


def _spawned(item: Mapping[str, Any], thread_id: str) -> list[tuple[str, str]]:
    """``(child, parent)`` pairs an item of ``thread_id`` shows a spawn of."""
    kind = item.get("type")
    if kind == "collabAgentToolCall" and item.get("tool") == "spawnAgent":
        sender = item.get("senderThreadId")
        receivers = item.get("receiverThreadIds")
        if isinstance(sender, str) and isinstance(receivers, list):
            return [(child, sender) for child in receivers if isinstance(child, str)]
    elif kind == "subAgentActivity" and item.get("kind") == "started":
        child = item.get("agentThreadId")
        if isinstance(child, str):
            return [(child, thread_id)]
    return []


class _Closed:
    """Queued to every inbox when the connection ends, carrying the reason."""

    __slots__ = ("error",)

    def __init__(self, error: TransportClosedError) -> None:
        self.error = error


class _Raised:
    """Queued to the inboxes of a request's turn when its handler raised a ``BaseException``
    (``KeyboardInterrupt``, ``SystemExit``...): the reader of the turn raises it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


#: What an inbox holds.
_Item = Notification | _Closed | _Raised


#: Notifications after which nothing is kept for their thread.
_THREAD_GONE = frozenset({"thread/closed", "thread/archived", "thread/deleted"})
#: Requests after whose success nothing is kept for their thread.
_RELEASING = frozenset({"thread/archive", "thread/delete", "thread/unsubscribe"})
#: Item types that link a sub-agent to its parent; lines without them are not parsed.
_SPAWN_MARKERS = (b'"collabAgentToolCall"', b'"subAgentActivity"')


W = TypeVar("W")
S = TypeVar("S")
T = TypeVar("T")


class _ConnectionBase(Generic[W, S]):
    def __init__(self, config: CodexConfig, handlers: HandlerTable | None) -> None:
        self.config = config
        self.handlers = handlers if handlers is not None else HandlerTable()
        #: Observers of this connection's traffic (see :class:`ConnectionHooks`).
        self.hooks = ConnectionHooks()
        self._core = JsonRpcCore(decode_notification)
        self._router: Router[S] = Router()
        self._sorter = EventSorter(self._router, self._observe, self._observe_reply)
        self._closed_error: TransportClosedError | None = None
        #: How many unusable lines the server sent (each is logged and skipped).
        self.protocol_violations = 0

    # -- what the sync and async connections provide ---------------------------------------
    def _resolve(self, waiter: W, reply: Response) -> None:
        raise NotImplementedError

    def _reject(self, waiter: W, error: BaseException) -> None:
        raise NotImplementedError

    def _deliver(self, sink: S, items: Sequence[_Item]) -> None:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether the connection has ended (by :meth:`close` or because the server exited)."""
        return self._closed_error is not None

    @property
    def closed_reason(self) -> TransportClosedError | None:
        """Why the connection ended (with the exit code and stderr), or ``None`` while open."""
        return self._closed_error

    def pending_requests(self) -> int:
        """How many requests wait for a reply (for leak checks)."""
        return len(self._core.pending)

    def _handle(self, events: list[Event]) -> None:
        """Act on one read's events: the no-I/O sorter says what, this delivers and wakes."""
        if logger.isEnabledFor(logging.DEBUG):
            for event in events:
                logger.debug("<- %s", _describe(event))
        if self.hooks.notification:
            self.hooks.saw_notifications(events)
        steps = self._sorter.sort(events)
        # The two reads that matter most come as their one step: a round trip's, a stream's.
        if type(steps) is Response:
            self._settle(steps)
            return
        if type(steps) is dict:
            for sink, items in steps.items():
                self._deliver(sink, items)
            return
        assert type(steps) is list
        for step in steps:
            if type(step) is Response:
                self._settle(step)
            elif type(step) is dict:
                for sink, items in step.items():
                    self._deliver(sink, items)
            elif type(step) is ErrorResponse:
                waiter = step.waiter
                if waiter is not None:
                    step.waiter = None
                    self._reject(waiter, step.error)
            elif type(step) is ServerRequest:
                self._dispatch(step)
            else:
                assert isinstance(step, ProtocolViolation)
                self._violated(step)

    def _settle(self, reply: Response) -> None:
        waiter = reply.waiter
        if waiter is not None:
            reply.waiter = None  # no cycle from a reply slot through its reply
            self._resolve(waiter, reply)

    def _violated(self, event: ProtocolViolation) -> None:
        self.protocol_violations += 1
        logger.warning("skipped a message from the app-server: %s: %s", event.reason, event.excerpt)
        if event.request_id is not None:
            # A request the server waits for: an error reply, or its turn would hang.
            refusal = Reply(
                error=(-32700, f"the client could not read this request: {event.reason}")
            )
            self._send_internal(self._reply_line(event.request_id, refusal))

    # -- lineage: which thread spawned which (read here, in arrival order) -----------------
    def _observe(self, event: Notification) -> None:
        self.handlers.observe(event)
        method = event.method
        if method == "turn/completed":
            if event.turn_id is not None:
                self.handlers.turn_ended(event.turn_id)
        elif method in _THREAD_GONE:
            if event.thread_id is not None:
                self.forget_thread(event.thread_id)
        elif method == "thread/started":
            self._observe_thread(event.params)
        elif method == "turn/started":
            turn = event.params.get("turn")
            if event.thread_id is not None and isinstance(turn, Mapping):
                turn_id, root = turn.get("id"), turn.get("rootTurnId")
                if isinstance(turn_id, str):
                    root = root if isinstance(root, str) else None
                    parent = self.handlers.turn_started(event.thread_id, turn_id, root)
                    if parent is not None:
                        self._router.link(event.thread_id, parent, root)
        elif not event.raw or any(marker in event.raw for marker in _SPAWN_MARKERS):
            item = event.params.get("item")
            if isinstance(item, Mapping) and event.thread_id is not None:
                for child, parent in _spawned(item, event.thread_id):
                    if self.handlers.link(child, parent):
                        self._router.link(child, parent, event.turn_id)

    def _observe_reply(self, reply: Response) -> None:
        # An unreadable reply: its caller gets the error when typing it.
        with contextlib.suppress(CodexError):
            self._observe_thread(reply.result)

    def _observe_thread(self, result: Any) -> None:
        """A ``Thread`` this client now drives (a reply or ``thread/started``)."""
        thread = result.get("thread") if isinstance(result, Mapping) else None
        if not isinstance(thread, Mapping) or not isinstance(thread.get("id"), str):
            return
        parent, spawned = thread_links(thread)
        self.handlers.add_root(thread["id"], parent, spawned=spawned)
        if parent is not None:
            self._router.link(thread["id"], parent, None)

    def forget_thread(self, thread_id: str) -> None:
        """Release everything held for ``thread_id`` and its sub-agents (handlers, tools,
        lineage); called when the thread is closed, archived, deleted or unsubscribed."""
        self.handlers.forget_thread(thread_id)

    # -- answering server requests ---------------------------------------------------------
    def _dispatch(self, request: ServerRequest) -> None:
        """Choose who answers ``request`` (on the reader, so lineage read so far counts)."""
        if self.hooks.server_request:
            self.hooks.saw_server_request(request)
        handler = self.handlers.find(request.method, request.thread_id)
        if handler is None:
            reply = HandlerTable.default_reply(request.method)
            self._send_internal(self._reply_line(request.request_id, reply))
        else:
            self._start_handler(request, handler)

    def _send_internal(self, line: bytes) -> None:
        """Send an answer the SDK made itself, never behind user handlers."""
        raise NotImplementedError

    def _start_handler(self, request: ServerRequest, handler: ServerRequestHandler) -> None:
        raise NotImplementedError

    def _safe_default(self, request: ServerRequest) -> bytes:
        return self._reply_line(request.request_id, HandlerTable.default_reply(request.method))

    def _finish_handler(
        self, request: ServerRequest, outcome: Any, exc: BaseException | None
    ) -> bytes:
        if exc is not None:
            logger.warning("handler for %s raised %r", request.method, exc)
            reply = HandlerTable.failure_reply(request.method, exc)
        else:
            try:
                reply = Reply(result=encode_result(request.method, outcome))
            except Exception as encode_exc:
                logger.warning(
                    "handler for %s returned an unusable result: %s", request.method, encode_exc
                )
                reply = HandlerTable.failure_reply(request.method, encode_exc)
        return self._reply_line(request.request_id, reply)

    def _reply_line(self, request_id: RequestId, reply: Reply) -> bytes:
        if reply.error is not None:
            code, message = reply.error
            return self._core.reply_error(request_id, code, message)
        return self._core.reply(request_id, reply.result)

    def _timed_out(self, request: ServerRequest) -> bytes:
        logger.warning(
            "the handler for %s gave no answer within handler_timeout=%s s; sent the safe "
            "default instead",
            request.method,
            self.config.handler_timeout,
        )
        return self._safe_default(request)

    def _aborted(self, request: ServerRequest, exc: BaseException) -> bytes:
        """A handler raised a ``BaseException``: the safe default goes to the server, and the
        exception to whoever reads the request's turn (or its parent's, for a sub-agent)."""
        if not self._raise_in_callers(request, exc):
            logger.error(
                "the handler for %s raised %r; the request was answered with the safe default "
                "and no turn handle was there to raise it",
                request.method,
                exc,
            )
        return self._safe_default(request)

    def _callers(self, request: ServerRequest) -> list[S]:
        owners = self.handlers.lineage(request.thread_id) if request.thread_id else []
        sinks: dict[int, S] = {}
        for index, owner in enumerate(owners):
            turn_id = request.turn_id if index == 0 else None
            for sink in self._router.callers(owner, turn_id):
                sinks.setdefault(id(sink), sink)
        return list(sinks.values())

    def _raise_in_callers(self, request: ServerRequest, exc: BaseException) -> bool:
        """Queue ``exc`` to :meth:`_callers`; ``False`` if there were none."""
        raise NotImplementedError

    def _released(self, method: str, params: Mapping[str, Any] | bytes | None) -> None:
        """A request that ends this client's use of a thread succeeded: release it."""
        if isinstance(params, bytes):
            try:
                params = json.loads(params)
            except ValueError:
                return
        thread_id = params.get("threadId") if isinstance(params, Mapping) else None
        if isinstance(thread_id, str):
            self.forget_thread(thread_id)

    def _closed_by(self, exit_code: int | None, stderr_tail: str, reason: str) -> None:
        if self._closed_error is None:
            self._closed_error = TransportClosedError(
                reason, exit_code=exit_code, stderr_tail=stderr_tail
            )
        error = self._closed_error
        for call in self._core.pending.fail_all():
            if call.waiter is not None:
                self._reject(call.waiter, error)
        for sink in list(self._router.all_sinks()):
            self._deliver(sink, [_Closed(error)])

    def _close_by_owner(self) -> None:
        # Before the server is stopped: the report of its output ending then keeps this
        # reason, and its stderr, which cannot say why it stopped, is not quoted.
        if self._closed_error is None:
            self._closed_error = TransportClosedError(CLOSED_BY_OWNER)

    def _ensure_open(self) -> None:
        if self._closed_error is not None:
            reason = self._closed_error.reason
            if reason != CLOSED_BY_OWNER:
                reason = "the connection to the app-server is closed"
            raise TransportClosedError(
                f"{reason}; start a new client",
                exit_code=self._closed_error.exit_code,
                stderr_tail=self._closed_error.stderr_tail,
            )


# -- synchronous ------------------------------------------------------------------------------


class Inbox:
    """Events routed to one subscriber of the sync connection.

    ``room`` is the connection's :class:`WaitRoom`: waiting for an event may mean reading the
    server's output in this thread.
    """

    def __init__(self, room: WaitRoom) -> None:
        self._room = room
        self._items: deque[_Item] = deque()

    def put_locked(self, items: Sequence[_Item]) -> None:
        """Queue events; the caller holds the room's lock and wakes the consumer afterwards."""
        self._items.extend(items)

    def get_ready(self) -> Notification | None:
        """The next event if it has arrived already, else ``None`` (and :meth:`get` waits).

        Also ``None`` once the connection has ended: :meth:`get` raises that. Most events of a
        stream are taken this way, with no waiting to set up.
        """
        items = self._items
        if not items or type(items[0]) is not Notification:
            return None
        return items.popleft()  # type: ignore[return-value]

    def get(self, timeout: float | None = None) -> Notification:
        """The next event; raises ``TransportClosedError`` once the connection has ended, and
        what a handler of this turn raised if it raised a ``BaseException``."""
        items = self._items
        if not items and not self._room.wait(items.__len__, timeout):
            raise RequestTimeoutError(f"no event arrived within {timeout} s")
        item = items[0]
        if type(item) is _Closed:
            raise item.error  # left in place: every later get() reports the closure too
        items.popleft()
        if type(item) is _Raised:
            raise item.error
        assert isinstance(item, Notification)
        return item


class _Answer:
    """The one reply of a server request: whoever claims it first (the handler or its
    timeout) sends it; the other is dropped."""

    __slots__ = ("_once", "timer")

    def __init__(self) -> None:
        self._once = threading.Lock()
        self.timer: threading.Timer | None = None

    def claim(self) -> bool:
        """``True`` for the first caller only."""
        return self._once.acquire(blocking=False)

    @property
    def done(self) -> bool:
        """Whether the reply was sent already."""
        return self._once.locked()


#: Where one reply is left for the thread blocked in ``exchange()``, under the room's lock:
#: empty until the reply or the error to raise is put in (the first one counts). A list, so
#: the waiting thread's test is ``slot.__len__``: a C call, which it makes on every wake-up.
_ReplySlot = list[Response | BaseException]


class Connection(_ConnectionBase[_ReplySlot, Inbox]):
    """A blocking connection to one ``codex app-server`` process over stdio.

    The threads waiting for replies and events read stdout themselves, one at a time (a
    background thread reads when none waits; see :class:`WaitRoom`); server-request handlers
    run on a small worker pool so a slow handler never stalls other threads' events. Safe to
    use from many threads at once.
    """

    def __init__(
        self, config: CodexConfig, transport: Transport, handlers: HandlerTable | None = None
    ) -> None:
        super().__init__(config, handlers)
        self._lock = threading.Lock()
        # Two lanes: user handlers, at most handler_workers at once, and the SDK's own answers
        # (safe defaults, token refresh), which never queue behind them.
        self._handler_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.handler_workers, thread_name_prefix="codex-handler"
        )
        self._internal_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="codex-internal"
        )
        #: Handler timeouts not yet fired or cancelled (with ``handler_timeout``), under their
        #: own lock: they are armed on the reader, which holds the connection's.
        self._timers: set[threading.Timer] = set()
        self._timers_lock = threading.Lock()
        self._transport = transport
        # The reader takes the lock, so a socket that closes at once waits for open() to end.
        with self._lock:
            transport.open(self._lock, self._on_data, self._on_message, self._on_eof)
        self._room = transport.room

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._transport.pid

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr."""
        return self._transport.stderr.text()

    def _on_data(self, data: bytes) -> None:  # the room's lock is held
        self._handle(self._core.receive_data(data))

    def _on_message(self, message: str | bytes) -> None:  # the room's lock is held
        self._handle([self._core.receive_line(message)])

    def _on_eof(self, reason: str) -> None:
        with self._lock:
            self._handle(self._core.receive_eof())
            self._closed_by(self._transport.exit_code, self._transport.stderr.text(), reason)
            self._room.end()
        self._stop_handlers()

    def _resolve(self, waiter: _ReplySlot, reply: Response) -> None:
        if not waiter:
            waiter.append(reply)

    def _reject(self, waiter: _ReplySlot, error: BaseException) -> None:
        if not waiter:
            waiter.append(error)

    def _deliver(self, sink: Inbox, items: Sequence[_Item]) -> None:
        sink.put_locked(items)

    def _send_internal(self, line: bytes) -> None:
        # A shut-down pool means the connection is closing: nobody is left to answer.
        with contextlib.suppress(RuntimeError):
            self._internal_pool.submit(self._write_reply, line)

    def _start_handler(self, request: ServerRequest, handler: ServerRequestHandler) -> None:
        answer = _Answer()
        timeout = self.config.handler_timeout
        if timeout is not None:
            # Counted from arrival: a request queued behind busy handlers is bounded too.
            answer.timer = threading.Timer(timeout, self._expire, (request, answer))
            answer.timer.daemon = True
        pool = self._internal_pool if request.method in INTERNAL_METHODS else self._handler_pool
        try:
            pool.submit(self._answer, request, handler, answer)
        except RuntimeError:
            return  # closing
        if answer.timer is not None:
            with self._timers_lock:
                self._timers.add(answer.timer)
            answer.timer.start()

    def _expire(self, request: ServerRequest, answer: _Answer) -> None:
        with self._timers_lock:
            self._timers.discard(answer.timer)
        if answer.claim():
            self._write_reply(self._timed_out(request))

    def _answer(
        self, request: ServerRequest, handler: ServerRequestHandler, answer: _Answer
    ) -> None:
        if answer.done:
            return  # timed out while queued: the safe default went already
        try:
            try:
                outcome, exc = handler(decode_params(request.method, request.params)), None
            except Exception as error:
                outcome, exc = None, error
            line = self._finish_handler(request, outcome, exc)
        except BaseException as error:
            # Not re-raised here: in a pool thread nobody would see it.
            line = self._aborted(request, error)
        if answer.claim():
            self._cancel_timer(answer)
            self._write_reply(line)
        else:
            logger.warning(
                "the handler for %s answered after handler_timeout; its answer was dropped",
                request.method,
            )

    def _cancel_timer(self, answer: _Answer) -> None:
        if answer.timer is not None:
            answer.timer.cancel()
            with self._timers_lock:
                self._timers.discard(answer.timer)

    def _write_reply(self, line: bytes) -> None:
        log_sent(line)
        # If the server is gone, its waiters learn that from the reader.
        with contextlib.suppress(OSError):
            self._transport.write(line)

    def _raise_in_callers(self, request: ServerRequest, exc: BaseException) -> bool:
        with self._lock:
            sinks = self._callers(request)
            for sink in sinks:
                sink.put_locked([_Raised(exc)])
            self._room.notify()
        return bool(sinks)

    def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | DefaultTimeout | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Send a request and block until its result; raises the mapped ``JsonRpcError``.

        ``timeout``: seconds to wait for the reply; ``None`` waits forever; by default
        (:data:`DEFAULT_TIMEOUT`) the config's ``request_timeout``.
        """
        return self.exchange(method, params, timeout=timeout).result

    def exchange(
        self,
        method: str,
        params: Mapping[str, Any] | bytes | None = None,
        *,
        timeout: float | DefaultTimeout | None = DEFAULT_TIMEOUT,
    ) -> Response:
        """Like :meth:`request`, but return the reply itself (its result may be unparsed).

        ``params`` may be JSON text already.
        """
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.config.request_timeout
        waiter: _ReplySlot = []
        with self._lock:
            if self._closed_error is not None:
                self._ensure_open()
            request_id, line = self._core.request(method, params, waiter)
        hooks = self.hooks
        sent = None
        if hooks.request or hooks.reply:
            sent = SentRequest(request_id, method, params)
            hooks.saw_request(sent)
        try:
            self._write(line)
            if not self._room.wait(waiter.__len__, timeout):
                raise _timeout_error(method, timeout)
            reply = waiter[0]
            if isinstance(reply, BaseException):
                raise reply
            if method in _RELEASING:
                self._released(method, params)
        except BaseException as error:
            if sent is not None:
                hooks.saw_reply(sent, None, error)
            raise
        finally:
            if not waiter:
                # Timed out or interrupted (Ctrl-C): stop expecting the reply so nothing leaks.
                with self._lock:
                    self._core.pending.forget(request_id)
        if sent is not None:
            hooks.saw_reply(sent, reply, None)
        return reply

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a client notification."""
        with self._lock:
            self._ensure_open()
        self._write(self._core.notification(method, params))

    def _write(self, line: bytes) -> None:
        log_sent(line)
        try:
            self._transport.write(line)
        except OSError:
            # The reader reports the closure with the exit code and stderr; wait for it.
            deadline = time.monotonic() + 2.0
            while not self.closed and time.monotonic() < deadline:
                time.sleep(0.01)
            with self._lock:
                self._ensure_open()
            raise TransportClosedError(
                "could not write to the app-server", stderr_tail=self.stderr_tail()
            ) from None

    def subscribe(
        self, thread_id: str, *, subagents: bool = False, observer: bool = False
    ) -> Subscription[Inbox]:
        """Route the events of ``thread_id`` to a new inbox (``subscription.sink``).

        ``subagents``: also the events of the sub-agents it spawns while subscribed.
        ``observer``: an inbox that only watches (a handler's ``BaseException`` is not
        raised from it).
        """
        inbox = Inbox(self._room)
        with self._lock:
            subscription = self._router.subscribe(
                thread_id, inbox, subagents=subagents, observer=observer
            )
            if self._closed_error is not None:
                inbox.put_locked([_Closed(self._closed_error)])
        return subscription

    def unsubscribe(self, subscription: Subscription[Inbox]) -> None:
        """Stop routing to a subscription."""
        with self._lock:
            self._router.unsubscribe(subscription)

    def narrow(self, subscription: Subscription[Inbox], turn_id: str) -> None:
        """Restrict a subscription to one turn of its thread."""
        with self._lock:
            subscription.turn_id = turn_id

    def subscriber_count(self) -> int:
        """How many thread subscriptions are live (for leak checks)."""
        with self._lock:
            return len(self._router)

    def active_turns(self) -> int:
        """How many turns started through this connection have not completed yet."""
        with self._lock:
            return self._router.turn_count()

    def close(self) -> None:
        """Stop the server and fail anything still waiting; safe to call twice or concurrently."""
        with self._lock:
            self._close_by_owner()
        self._transport.close()
        with self._lock:
            self._closed_by(
                self._transport.exit_code,
                self._transport.stderr.text(),
                "the connection was closed",
            )
            self._room.end()
        self._stop_handlers()

    def _stop_handlers(self) -> None:
        self._handler_pool.shutdown(wait=False, cancel_futures=True)
        self._internal_pool.shutdown(wait=False, cancel_futures=True)
        with self._timers_lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()


# -- asynchronous -----------------------------------------------------------------------------


async def _within(timeout: float | None, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, raising ``asyncio.TimeoutError`` after ``timeout`` seconds.

    ``asyncio.timeout`` where it exists: ``wait_for`` before Python 3.12 runs a coroutine in a
    task of its own and wakes the caller through an extra future, which took a request from
    four turns of the event loop to nearly seven.
    """
    if timeout is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


def _timeout_error(method: str, timeout: float | None) -> RequestTimeoutError:
    return RequestTimeoutError(
        f"{method!r} got no reply within {timeout} s (raise request_timeout= for slow methods)"
    )


class AsyncInbox:
    """Events routed to one subscriber of the async connection."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Sequence[_Item]] = asyncio.Queue()
        #: Events of the batch being read; only the consumer touches it.
        self._ready: deque[_Item] = deque()

    def put(self, item: _Item) -> None:
        """Queue an event (called by the connection, on its loop)."""
        self._queue.put_nowait([item])

    def put_many(self, items: Sequence[_Item]) -> None:
        """Queue events in order, waking the consumer once (called on the loop)."""
        self._queue.put_nowait(items)

    def get_ready(self) -> Notification | None:
        """The next event if it has arrived already, else ``None`` (and :meth:`get` waits).

        Also ``None`` once the connection has ended: :meth:`get` raises that. Most events of a
        stream are taken this way, with no coroutine to await.
        """
        ready = self._ready
        if not ready:
            if self._queue.empty():
                return None
            ready.extend(self._queue.get_nowait())
        item = ready[0]
        if type(item) is not Notification:
            return None
        ready.popleft()
        return item

    async def get(self, timeout: float | None = None) -> Notification:
        """The next event; raises ``TransportClosedError`` once the connection has ended."""
        while True:
            try:
                item = self._ready.popleft()
                break
            except IndexError:
                pass
            try:
                self._ready.extend(await _within(timeout, self._queue.get()))
            except asyncio.TimeoutError:
                raise RequestTimeoutError(f"no event arrived within {timeout} s") from None
        if type(item) is _Closed:
            self._ready.appendleft(item)
            raise item.error
        if type(item) is _Raised:
            raise item.error
        assert isinstance(item, Notification)
        return item


class AsyncConnection(_ConnectionBase["asyncio.Future[Any]", AsyncInbox]):
    """A connection driven by the running asyncio loop: no threads per message.

    Coroutine handlers run as tasks; plain-function handlers run in the loop's default
    executor, so neither blocks the task that reads the server's output.
    """

    def __init__(
        self,
        config: CodexConfig,
        transport: AsyncTransport,
        handlers: HandlerTable | None = None,
    ) -> None:
        super().__init__(config, handlers)
        self._transport = transport
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Plain-function handlers run in executors of their own, made on first use: user
        # handlers at most handler_workers at once, the SDK's own (token refresh) apart.
        self._executors: dict[bool, concurrent.futures.ThreadPoolExecutor] = {}
        #: The one timer that fails overdue requests, armed for the earliest deadline or later.
        self._expiry: asyncio.TimerHandle | None = None
        #: The loop the transport belongs to, set once the transport is up. Kept because
        #: asyncio.get_running_loop() costs a getpid() system call per call before Python 3.12.
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Open the transport: launch the server process, or connect to ``config.url``."""
        await self._transport.open(self._on_data, self._on_message, self._on_eof)
        self._started = True
        self._loop = asyncio.get_running_loop()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._proc.pid

    @property
    def _proc(self) -> AsyncTransport:
        if not self._started:
            raise CodexError("the connection has not been started")
        return self._transport

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr."""
        return self._proc.stderr.text()

    def _on_data(self, data: bytes) -> None:
        self._handle(self._core.receive_data(data))

    def _on_message(self, message: str | bytes) -> None:
        self._handle([self._core.receive_line(message)])

    def _on_eof(self, reason: str) -> None:
        self._handle(self._core.receive_eof())
        self._closed_by(self._proc.exit_code, self._proc.stderr.text(), reason)
        self._stop_expiry()
        self._stop_executors()

    def _stop_executors(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)

    def _resolve(self, waiter: asyncio.Future[Any], reply: Response) -> None:
        if not waiter.done():
            waiter.set_result(reply)

    def _reject(self, waiter: asyncio.Future[Any], error: BaseException) -> None:
        if not waiter.done():
            waiter.set_exception(error)

    def _deliver(self, sink: AsyncInbox, items: Sequence[_Item]) -> None:
        sink.put_many(items)

    def _send_internal(self, line: bytes) -> None:
        self._write_reply(line)  # the loop's transports queue writes: nothing blocks

    def _write_reply(self, line: bytes) -> None:
        log_sent(line)
        if not self.closed:
            with contextlib.suppress(OSError):
                self._proc.write(line)

    def _start_handler(self, request: ServerRequest, handler: ServerRequestHandler) -> None:
        task = asyncio.ensure_future(self._answer(request, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _executor(self, internal: bool) -> concurrent.futures.ThreadPoolExecutor:
        executor = self._executors.get(internal)
        if executor is None:
            executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=2 if internal else self.config.handler_workers,
                thread_name_prefix="codex-internal" if internal else "codex-handler",
            )
            self._executors[internal] = executor
        return executor

    async def _outcome(self, request: ServerRequest, handler: ServerRequestHandler) -> bytes:
        try:
            params = decode_params(request.method, request.params)
            outcome: Any
            if inspect.iscoroutinefunction(handler):
                outcome = await handler(params)
            else:
                loop = asyncio.get_running_loop()
                executor = self._executor(request.method in INTERNAL_METHODS)
                outcome = await loop.run_in_executor(executor, handler, params)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
            exc = None
        except Exception as error:
            outcome, exc = None, error
        return self._finish_handler(request, outcome, exc)

    async def _answer(self, request: ServerRequest, handler: ServerRequestHandler) -> None:
        try:
            try:
                line = await _within(self.config.handler_timeout, self._outcome(request, handler))
            except asyncio.TimeoutError:
                line = self._timed_out(request)
        except asyncio.CancelledError:
            if not self.closed:  # cancelled by someone else than close(): still answer
                self._write_reply(self._safe_default(request))
            raise
        except BaseException as error:
            # KeyboardInterrupt, SystemExit...: raised from the turn's reader instead, so it
            # does not tear the event loop down from a task nobody awaits.
            line = self._aborted(request, error)
        self._write_reply(line)

    def _raise_in_callers(self, request: ServerRequest, exc: BaseException) -> bool:
        sinks = self._callers(request)
        for sink in sinks:
            sink.put(_Raised(exc))
        return bool(sinks)

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | DefaultTimeout | None = DEFAULT_TIMEOUT,
    ) -> Any:
        """Send a request and wait for its result; raises the mapped ``JsonRpcError``.

        ``timeout``: as for :meth:`Connection.request`.
        """
        return (await self.exchange(method, params, timeout=timeout)).result

    async def exchange(
        self,
        method: str,
        params: Mapping[str, Any] | bytes | None = None,
        *,
        timeout: float | DefaultTimeout | None = DEFAULT_TIMEOUT,
    ) -> Response:
        """Like :meth:`request`, but return the reply itself (its result may be unparsed).

        ``params`` may be JSON text already.
        """
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.config.request_timeout
        if self._closed_error is not None:
            self._ensure_open()
        loop = self._loop
        if loop is None:
            raise CodexError("the connection has not been started")
        waiter: asyncio.Future[Any] = loop.create_future()
        pending = self._core.pending
        request_id, line = self._core.request(method, params, waiter)
        if timeout is not None:
            deadline = loop.time() + timeout
            if pending.set_deadline(request_id, deadline, timeout):
                self._arm(deadline)
        hooks = self.hooks
        observed = None
        if hooks.request or hooks.reply:
            observed = SentRequest(request_id, method, params)
            hooks.saw_request(observed)
        try:
            try:
                sent = self._send(line)
            except OSError:
                await self._write_failed()
            if not sent:
                await self._drain_request(request_id, method, timeout)
            reply: Response = await waiter
            if method in _RELEASING:
                self._released(method, params)
        except BaseException as error:
            if observed is not None:
                hooks.saw_reply(observed, None, error)
            raise
        finally:
            # Timed out or cancelled: stop expecting the reply so nothing leaks (a no-op once
            # the reply came).
            pending.forget(request_id)
        if observed is not None:
            hooks.saw_reply(observed, reply, None)
        return reply

    # Timeouts: one timer per connection, not one per request. A loop timer per call (a
    # TimerHandle, a heap push, a cancel, the loop's sweep of cancelled timers) cost about a
    # tenth of a round trip, asyncio.timeout more: a request only records its deadline in the
    # pending table, and the timer, when it fires, fails the overdue requests and sets itself
    # for the next deadline (the table's clock says which).
    def _arm(self, when: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        assert self._loop is not None
        self._expiry = self._loop.call_at(when, self._expire_overdue)

    def _expire_overdue(self) -> None:
        expiry, self._expiry = self._expiry, None
        # The loop runs a timer up to its clock's resolution early: what it was set for is due.
        assert self._loop is not None
        now = max(self._loop.time(), expiry.when() if expiry else 0.0)
        pending = self._core.pending
        for call in pending.expire(now):
            waiter = call.waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(_timeout_error(call.method, call.timeout))
        if pending.next_deadline is not None:
            self._arm(pending.next_deadline)

    def _stop_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def _drain_request(
        self, request_id: RequestId, method: str, timeout: float | None
    ) -> None:
        """Wait for back-pressure to ease; this wait counts against the request's timeout.

        A server that stops reading its input would otherwise hold drain() forever.
        """
        pending = self._core.pending
        deadline = pending.hold(request_id)
        if deadline is None or timeout is None:
            await self._drain(method, None, None)
            return
        # Off the clock meanwhile: the drain's own timeout reports it, once.
        await self._drain(method, timeout, deadline)
        if pending.set_deadline(request_id, deadline, timeout):
            self._arm(deadline)

    def _send(self, line: bytes) -> bool:
        """Hand ``line`` to the transport; ``False`` if the caller must drain it first.

        Raises ``OSError`` if the transport is closed (see :meth:`_write_failed`).
        """
        log_sent(line)
        process = self._transport
        process.write(line)
        # A pipe under its high-water mark needs no drain: skipping the await saves a
        # coroutine per call. The websocket's drain waits for its writer task.
        return not process.writing_paused

    async def _drain(self, method: str, timeout: float | None, deadline: float | None) -> None:
        try:
            if deadline is None:
                await self._proc.drain()
            else:
                remaining = deadline - asyncio.get_running_loop().time()
                await _within(max(remaining, 0.0), self._proc.drain())
        except asyncio.TimeoutError:
            raise _timeout_error(method, timeout) from None
        except OSError:
            await self._write_failed()

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a client notification."""
        self._ensure_open()
        if self._loop is None:
            raise CodexError("the connection has not been started")
        try:
            sent = self._send(self._core.notification(method, params))
        except OSError:
            await self._write_failed()
        if not sent:
            await self._drain(method, None, None)

    async def _write_failed(self) -> NoReturn:
        for _ in range(200):  # the reader reports the closure with exit code and stderr
            if self.closed:
                break
            await asyncio.sleep(0.01)
        self._ensure_open()
        raise TransportClosedError(
            "could not write to the app-server", stderr_tail=self.stderr_tail()
        ) from None

    def subscribe(
        self, thread_id: str, *, subagents: bool = False, observer: bool = False
    ) -> Subscription[AsyncInbox]:
        """Route the events of ``thread_id`` to a new inbox (``subscription.sink``).

        ``subagents`` and ``observer``: as for :meth:`Connection.subscribe`.
        """
        inbox = AsyncInbox()
        subscription = self._router.subscribe(
            thread_id, inbox, subagents=subagents, observer=observer
        )
        if self._closed_error is not None:
            inbox.put(_Closed(self._closed_error))
        return subscription

    def unsubscribe(self, subscription: Subscription[AsyncInbox]) -> None:
        """Stop routing to a subscription."""
        self._router.unsubscribe(subscription)

    def narrow(self, subscription: Subscription[AsyncInbox], turn_id: str) -> None:
        """Restrict a subscription to one turn of its thread."""
        subscription.turn_id = turn_id

    def subscriber_count(self) -> int:
        """How many thread subscriptions are live (for leak checks)."""
        return len(self._router)

    def active_turns(self) -> int:
        """How many turns started through this connection have not completed yet."""
        return self._router.turn_count()

    async def close(self) -> None:
        """Stop the server and fail anything still waiting; safe to call twice."""
        self._close_by_owner()
        if not self._started:
            self._closed_by(None, "", "the connection was closed")
            return
        await self._transport.close()
        self._closed_by(
            self._transport.exit_code, self._transport.stderr.text(), "the connection was closed"
        )
        self._stop_expiry()
        for task in list(self._tasks):
            task.cancel()
        self._stop_executors()


#: Either connection (for helpers the sync and async APIs share).
AnyConnection = Connection | AsyncConnection
