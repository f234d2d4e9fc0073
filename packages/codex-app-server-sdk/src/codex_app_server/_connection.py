"""Connections: the JSON-RPC core driven over a transport, sync (threads) and async (asyncio).

:class:`_ConnectionBase` holds everything the two share: the core, the table of waiting
callers, routing of notifications to subscribers, and the rules for answering server
requests. :class:`Connection` and :class:`AsyncConnection` add only the I/O primitives:
how to wait for a reply, how to queue an event, and where a handler runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Mapping
from typing import Any, Generic, NoReturn, TypeVar

from ._handlers import HandlerTable, Reply, decode_params, encode_result
from ._protocol import (
    ErrorResponse,
    Event,
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
from ._transport import AsyncStdioProcess, StdioProcess, WaitRoom
from ._turns import decode_notification
from ._websocket import AsyncWebSocketTransport, WebSocketTransport
from .config import CodexConfig, resolve_codex_bin
from .errors import CLOSED_BY_OWNER, CodexError, RequestTimeoutError, TransportClosedError

__all__ = ["AsyncConnection", "AsyncInbox", "Connection", "Inbox"]

logger = logging.getLogger("codex_app_server")

#: Longest message text in a debug line; the rest is counted, not copied.
_LOG_EXCERPT = 4000


def _excerpt(message: Any) -> str:
    text = json.dumps(redact(message), ensure_ascii=False, separators=(",", ":"))
    if len(text) > _LOG_EXCERPT:
        return f"{text[:_LOG_EXCERPT]}... ({len(text)} characters)"
    return text


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


_USE_CONFIG: Any = object()


class _Closed:
    """Queued to every inbox when the connection ends, carrying the reason."""

    __slots__ = ("error",)

    def __init__(self, error: TransportClosedError) -> None:
        self.error = error


W = TypeVar("W")
S = TypeVar("S")
T = TypeVar("T")


class _ConnectionBase(Generic[W, S]):
    def __init__(self, config: CodexConfig, handlers: HandlerTable | None) -> None:
        self.config = config
        self.handlers = handlers if handlers is not None else HandlerTable()
        self._core = JsonRpcCore(decode_notification)
        self._router: Router[S] = Router()
        self._waiters: dict[RequestId, W] = {}
        self._closed_error: TransportClosedError | None = None
        #: How many unusable lines the server sent (each is logged and skipped).
        self.protocol_violations = 0

    # -- hooks the sync and async connections provide -------------------------------------
    def _resolve(self, waiter: W, reply: Response) -> None:
        raise NotImplementedError

    def _reject(self, waiter: W, error: BaseException) -> None:
        raise NotImplementedError

    def _deliver(self, sink: S, items: list[Notification | _Closed]) -> None:
        raise NotImplementedError

    def _start_handler(self, request: ServerRequest) -> None:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether the connection has ended (by :meth:`close` or because the server exited)."""
        return self._closed_error is not None

    def _handle(self, events: list[Event]) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            for event in events:
                logger.debug("<- %s", _describe(event))
        elif len(events) == 1 and type(reply := events[0]) is Response:
            # A read that brings one reply, as every round trip's does: resolve its caller
            # without the batching below (which would do this, and nothing more).
            waiter = self._waiters.pop(reply.request_id, None)
            if waiter is not None:
                self._resolve(waiter, reply)
            return
        # Notifications are handed over a batch per subscriber per read, not one by one: a
        # consumer woken once per read instead of once per delta is most of streaming's cost.
        batches: dict[S, list[Notification | _Closed]] = {}
        # A read brings runs of deltas of one turn: they share one routing lookup.
        scope: tuple[str | None, str | None] | None = None
        sinks: list[S] = []
        for event in events:
            if type(event) is Notification:
                if event.method == "turn/completed":
                    # It ends its turn's subscriptions: later lookups must not reuse the sinks.
                    sinks = self._router.route(event.thread_id, event.turn_id, ends_turn=True)
                    scope = None
                elif scope is None or scope[0] != event.thread_id or scope[1] != event.turn_id:
                    sinks = self._router.route(event.thread_id, event.turn_id)
                    scope = (event.thread_id, event.turn_id)
                for sink in sinks:
                    batch = batches.get(sink)
                    if batch is None:
                        batches[sink] = [event]
                    else:
                        batch.append(event)
                continue
            scope = None  # handling a reply or a request may change the subscriptions
            if batches:
                # What arrived before a reply or a request is delivered before it is handled.
                self._deliver_batches(batches)
            if type(event) is Response:
                waiter = self._waiters.pop(event.request_id, None)
                if waiter is not None:
                    self._resolve(waiter, event)
            elif type(event) is ErrorResponse:
                waiter = self._waiters.pop(event.request_id, None)
                if waiter is not None:
                    self._reject(waiter, event.error)
            elif type(event) is ServerRequest:
                self._start_handler(event)
            else:
                assert isinstance(event, ProtocolViolation)
                self.protocol_violations += 1
                logger.warning(
                    "skipped a message from the app-server: %s: %s", event.reason, event.excerpt
                )
        if batches:
            self._deliver_batches(batches)

    def _deliver_batches(self, batches: dict[S, list[Notification | _Closed]]) -> None:
        for sink, items in batches.items():
            self._deliver(sink, items)
        batches.clear()

    def _call_handler(self, request: ServerRequest) -> tuple[Reply, Any]:
        """Find the handler; return the reply now, or the handler and its typed params."""
        handler = self.handlers.find(request.method, request.thread_id)
        if handler is None:
            return HandlerTable.default_reply(request.method), None
        try:
            params = decode_params(request.method, request.params)
        except Exception as exc:
            return HandlerTable.failure_reply(request.method, exc), None
        return Reply(), (handler, params)

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
        return self._reply_bytes(request, reply)

    def _reply_bytes(self, request: ServerRequest, reply: Reply) -> bytes:
        if reply.error is not None:
            code, message = reply.error
            return self._core.reply_error(request.request_id, code, message)
        return self._core.reply(request.request_id, reply.result)

    def _closed_by(self, exit_code: int | None, stderr_tail: str, reason: str) -> None:
        if self._closed_error is None:
            self._closed_error = TransportClosedError(
                reason, exit_code=exit_code, stderr_tail=stderr_tail
            )
        error = self._closed_error
        self._core.fail_all()
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            self._reject(waiter, error)
        for sink in list(self._router.all_sinks()):
            self._deliver(sink, [_Closed(error)])

    def _turns_awaited(self) -> int:
        # A turn may have several subscribers (its handle, an approval-rule watch); count it
        # once. A subscription not yet narrowed stands for the turn being started.
        return len(
            {
                (subscription.thread_id, subscription.turn_id or id(subscription))
                for subscriptions in self._router._by_thread.values()
                for subscription in subscriptions
            }
        )

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
    server's output in this thread. An inbox made without one stands alone (tests).
    """

    def __init__(self, room: WaitRoom | None = None) -> None:
        self._room = room if room is not None else WaitRoom(threading.Lock())
        self._items: deque[Notification | _Closed] = deque()

    def put(self, item: Notification | _Closed) -> None:
        """Queue an event and wake the consumer."""
        self.put_many([item])

    def put_many(self, items: list[Notification | _Closed]) -> None:
        """Queue events in order, waking the consumer once."""
        with self._room.lock:
            self._items.extend(items)
            self._room.notify()

    def put_locked(self, items: list[Notification | _Closed]) -> None:
        """Queue events; the caller holds the room's lock and wakes the consumer afterwards."""
        self._items.extend(items)

    def get_ready(self) -> Notification | None:
        """The next event if it has arrived already, else ``None`` (and :meth:`get` waits).

        Also ``None`` once the connection has ended: :meth:`get` raises that. Most events of a
        stream are taken this way, with no waiting to set up.
        """
        items = self._items
        if not items or type(items[0]) is _Closed:
            return None
        return items.popleft()  # type: ignore[return-value]

    def get(self, timeout: float | None = None) -> Notification:
        """The next event; raises ``TransportClosedError`` once the connection has ended."""
        items = self._items
        if not items and not self._room.wait(items.__len__, timeout):
            raise RequestTimeoutError(f"no event arrived within {timeout} s")
        item = items[0]
        if type(item) is _Closed:
            raise item.error  # left in place: every later get() reports the closure too
        items.popleft()
        assert isinstance(item, Notification)
        return item


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

    def __init__(self, config: CodexConfig, handlers: HandlerTable | None = None) -> None:
        super().__init__(config, handlers)
        self._lock = threading.Lock()
        self._handler_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=8, thread_name_prefix="codex-handler"
        )
        self._process: StdioProcess | WebSocketTransport
        # The reader takes the lock, so a socket that closes at once waits for _process.
        with self._lock:
            if config.url is not None:
                self._process = WebSocketTransport(
                    config.url,
                    token=config.ws_token,
                    ssl_context=config.ws_ssl_context,
                    lock=self._lock,
                    on_message=self._on_message,
                    on_eof=self._on_eof,
                )
            else:
                self._process = StdioProcess(
                    config.argv(resolve_codex_bin(config.codex_bin)),
                    env=config.process_env(),
                    cwd=config.cwd,
                    lock=self._lock,
                    on_data=self._on_data,
                    on_eof=self._on_eof,
                )
        self._room = self._process.room

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._process.pid

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr."""
        return self._process.stderr.text()

    def _on_data(self, data: bytes) -> None:  # the room's lock is held
        self._handle(self._core.receive_data(data))

    def _on_message(self, message: str | bytes) -> None:  # the room's lock is held
        self._handle([self._core.receive_line(message)])

    def _on_eof(self, reason: str = "the app-server closed its output") -> None:
        with self._lock:
            self._handle(self._core.receive_eof())
            self._closed_by(self._process.exit_code, self._process.stderr.text(), reason)
            self._room.end()
        self._handler_pool.shutdown(wait=False)

    def _resolve(self, waiter: _ReplySlot, reply: Response) -> None:
        if not waiter:
            waiter.append(reply)

    def _reject(self, waiter: _ReplySlot, error: BaseException) -> None:
        if not waiter:
            waiter.append(error)

    def _deliver(self, sink: Inbox, items: list[Notification | _Closed]) -> None:
        sink.put_locked(items)

    def _start_handler(self, request: ServerRequest) -> None:
        # A shut-down pool means the connection is closing: nobody is left to answer.
        with contextlib.suppress(RuntimeError):
            self._handler_pool.submit(self._answer, request)

    def _answer(self, request: ServerRequest) -> None:
        reply, call = self._call_handler(request)
        if call is None:
            line = self._reply_bytes(request, reply)
        else:
            handler, params = call
            try:
                outcome, exc = handler(params), None
            except Exception as error:
                outcome, exc = None, error
            line = self._finish_handler(request, outcome, exc)
        log_sent(line)
        # If the server is gone, its waiters learn that from the reader.
        with contextlib.suppress(OSError):
            self._process.write(line)

    def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = _USE_CONFIG,
    ) -> Any:
        """Send a request and block until its result; raises the mapped ``JsonRpcError``."""
        return self.exchange(method, params, timeout=timeout).result

    def exchange(
        self,
        method: str,
        params: Mapping[str, Any] | bytes | None = None,
        *,
        timeout: float | None = _USE_CONFIG,
    ) -> Response:
        """Like :meth:`request`, but return the reply itself (its result may be unparsed).

        ``params`` may be JSON text already.
        """
        if timeout is _USE_CONFIG:
            timeout = self.config.request_timeout
        waiter: _ReplySlot = []
        with self._lock:
            if self._closed_error is not None:
                self._ensure_open()
            request_id, line = self._core.request(method, params)
            self._waiters[request_id] = waiter
        try:
            self._write(line)
            if not self._room.wait(waiter.__len__, timeout):
                raise RequestTimeoutError(
                    f"{method!r} got no reply within {timeout} s (raise request_timeout= for "
                    "slow methods)"
                )
            reply = waiter[0]
            if isinstance(reply, BaseException):
                raise reply
            return reply
        finally:
            if not waiter:
                # Timed out or interrupted (Ctrl-C): stop expecting the reply so nothing leaks.
                with self._lock:
                    self._core.forget(request_id)
                    self._waiters.pop(request_id, None)

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a client notification."""
        with self._lock:
            self._ensure_open()
        self._write(self._core.notification(method, params))

    def _write(self, line: bytes) -> None:
        log_sent(line)
        try:
            self._process.write(line)
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

    def subscribe(self, thread_id: str) -> Subscription[Inbox]:
        """Route the events of ``thread_id`` to a new inbox (``subscription.sink``)."""
        inbox = Inbox(self._room)
        with self._lock:
            subscription = self._router.subscribe(thread_id, inbox)
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
            return self._turns_awaited()

    def close(self) -> None:
        """Stop the server and fail anything still waiting; safe to call twice or concurrently."""
        with self._lock:
            self._close_by_owner()
        self._process.close()
        with self._lock:
            self._closed_by(
                self._process.exit_code, self._process.stderr.text(), "the connection was closed"
            )
            self._room.end()
        self._handler_pool.shutdown(wait=False, cancel_futures=True)


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
        self._queue: asyncio.Queue[list[Notification | _Closed]] = asyncio.Queue()
        #: Events of the batch being read; only the consumer touches it.
        self._ready: deque[Notification | _Closed] = deque()

    def put(self, item: Notification | _Closed) -> None:
        """Queue an event (called by the connection, on its loop)."""
        self._queue.put_nowait([item])

    def put_many(self, items: list[Notification | _Closed]) -> None:
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
        if type(item) is _Closed:
            return None
        ready.popleft()
        assert isinstance(item, Notification)
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
        assert isinstance(item, Notification)
        return item


class AsyncConnection(_ConnectionBase["asyncio.Future[Any]", AsyncInbox]):
    """A connection driven by the running asyncio loop: no threads per message.

    Coroutine handlers run as tasks; plain-function handlers run in the loop's default
    executor, so neither blocks the task that reads the server's output.
    """

    def __init__(self, config: CodexConfig, handlers: HandlerTable | None = None) -> None:
        super().__init__(config, handlers)
        self._process: AsyncStdioProcess | AsyncWebSocketTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: When each request with a timeout expires: (loop time, method, timeout).
        self._deadlines: dict[RequestId, tuple[float, str, float]] = {}
        #: The one timer that fails overdue requests, armed for the earliest deadline or later.
        self._expiry: asyncio.TimerHandle | None = None
        #: The loop the transport belongs to, set once the transport is up. Kept because
        #: asyncio.get_running_loop() costs a getpid() system call per call before Python 3.12.
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Launch the server process, or connect to the server at ``config.url``."""
        if self.config.url is not None:
            self._process = await AsyncWebSocketTransport.connect(
                self.config.url,
                token=self.config.ws_token,
                ssl_context=self.config.ws_ssl_context,
                on_message=self._on_message,
                on_eof=self._on_eof,
            )
        else:
            argv = self.config.argv(resolve_codex_bin(self.config.codex_bin))
            self._process = await AsyncStdioProcess.start(
                argv,
                env=self.config.process_env(),
                cwd=self.config.cwd,
                on_data=self._on_data,
                on_eof=self._on_eof,
            )
        self._loop = asyncio.get_running_loop()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._proc.pid

    @property
    def _proc(self) -> AsyncStdioProcess | AsyncWebSocketTransport:
        if self._process is None:
            raise CodexError("the connection has not been started")
        return self._process

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr."""
        return self._proc.stderr.text()

    def _on_data(self, data: bytes) -> None:
        self._handle(self._core.receive_data(data))

    def _on_message(self, message: str | bytes) -> None:
        self._handle([self._core.receive_line(message)])

    def _on_eof(self, reason: str = "the app-server closed its output") -> None:
        self._handle(self._core.receive_eof())
        self._closed_by(self._proc.exit_code, self._proc.stderr.text(), reason)
        self._stop_expiry()

    def _resolve(self, waiter: asyncio.Future[Any], reply: Response) -> None:
        if not waiter.done():
            waiter.set_result(reply)

    def _reject(self, waiter: asyncio.Future[Any], error: BaseException) -> None:
        if not waiter.done():
            waiter.set_exception(error)

    def _deliver(self, sink: AsyncInbox, items: list[Notification | _Closed]) -> None:
        sink.put_many(items)

    def _start_handler(self, request: ServerRequest) -> None:
        task = asyncio.ensure_future(self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: ServerRequest) -> None:
        reply, call = self._call_handler(request)
        if call is None:
            line = self._reply_bytes(request, reply)
        else:
            handler, params = call
            try:
                outcome: Any
                if inspect.iscoroutinefunction(handler):
                    outcome = await handler(params)
                else:
                    loop = asyncio.get_running_loop()
                    outcome = await loop.run_in_executor(None, handler, params)
                    if inspect.isawaitable(outcome):
                        outcome = await outcome
                exc = None
            except Exception as error:
                outcome, exc = None, error
            line = self._finish_handler(request, outcome, exc)
        log_sent(line)
        if not self.closed:
            with contextlib.suppress(OSError):
                self._proc.write(line)

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = _USE_CONFIG,
    ) -> Any:
        """Send a request and wait for its result; raises the mapped ``JsonRpcError``."""
        return (await self.exchange(method, params, timeout=timeout)).result

    async def exchange(
        self,
        method: str,
        params: Mapping[str, Any] | bytes | None = None,
        *,
        timeout: float | None = _USE_CONFIG,
    ) -> Response:
        """Like :meth:`request`, but return the reply itself (its result may be unparsed).

        ``params`` may be JSON text already.
        """
        if timeout is _USE_CONFIG:
            timeout = self.config.request_timeout
        if self._closed_error is not None:
            self._ensure_open()
        loop = self._loop
        if loop is None:
            raise CodexError("the connection has not been started")
        waiter: asyncio.Future[Any] = loop.create_future()
        request_id, line = self._core.request(method, params)
        self._waiters[request_id] = waiter
        if timeout is not None:
            deadline = loop.time() + timeout
            self._deadlines[request_id] = (deadline, method, timeout)
            expiry = self._expiry
            if expiry is None or deadline < expiry.when():
                self._set_deadline(request_id, (deadline, method, timeout))
        try:
            try:
                sent = self._send(line)
            except OSError:
                await self._write_failed()
            if not sent:
                await self._drain_request(request_id, method)
            reply: Response = await waiter
            return reply
        finally:
            if timeout is not None:
                self._deadlines.pop(request_id, None)
            if self._waiters.pop(request_id, None) is not None:
                # Timed out or cancelled: stop expecting the reply so nothing leaks.
                self._core.forget(request_id)

    # Timeouts: one timer per connection, not one per request. A loop timer per call (a
    # TimerHandle, a heap push, a cancel, the loop's sweep of cancelled timers) cost about a
    # tenth of a round trip, asyncio.timeout more: a request only records its deadline, and
    # the timer, when it fires, fails the overdue requests and sets itself for the next one.
    def _set_deadline(self, request_id: RequestId, entry: tuple[float, str, float]) -> None:
        self._deadlines[request_id] = entry
        expiry = self._expiry
        if expiry is None or entry[0] < expiry.when():
            if expiry is not None:
                expiry.cancel()
            assert self._loop is not None
            self._expiry = self._loop.call_at(entry[0], self._expire_overdue)

    def _expire_overdue(self) -> None:
        expiry, self._expiry = self._expiry, None
        # The loop runs a timer up to its clock's resolution early: what it was set for is due.
        assert self._loop is not None
        now = max(self._loop.time(), expiry.when() if expiry else 0.0)
        later: list[tuple[RequestId, tuple[float, str, float]]] = []
        for request_id, entry in list(self._deadlines.items()):
            if entry[0] > now:
                later.append((request_id, entry))
                continue
            del self._deadlines[request_id]
            waiter = self._waiters.get(request_id)
            if waiter is not None and not waiter.done():
                waiter.set_exception(_timeout_error(entry[1], entry[2]))
        if later:
            request_id, entry = min(later, key=lambda item: item[1][0])
            self._set_deadline(request_id, entry)

    def _stop_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def _drain_request(self, request_id: RequestId, method: str) -> None:
        """Wait for back-pressure to ease; this wait counts against the request's timeout.

        A server that stops reading its input would otherwise hold drain() forever.
        """
        entry = self._deadlines.pop(request_id, None)
        if entry is None:
            await self._drain(method, None, None)
            return
        # Out of the table meanwhile: the drain's own timeout reports it, once.
        await self._drain(method, entry[2], entry[0])
        self._set_deadline(request_id, entry)

    def _send(self, line: bytes) -> bool:
        """Hand ``line`` to the transport; ``False`` if the caller must drain it first.

        Raises ``OSError`` if the transport is closed (see :meth:`_write_failed`).
        """
        log_sent(line)
        process = self._process
        assert process is not None  # set before _loop, which request() checks
        process.write(line)
        # A pipe under its high-water mark needs no drain: skipping the await saves a
        # coroutine per call. The websocket's drain waits for its writer task.
        return type(process) is AsyncStdioProcess and not process.writing_paused

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

    def subscribe(self, thread_id: str) -> Subscription[AsyncInbox]:
        """Route the events of ``thread_id`` to a new inbox (``subscription.sink``)."""
        inbox = AsyncInbox()
        subscription = self._router.subscribe(thread_id, inbox)
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
        return self._turns_awaited()

    async def close(self) -> None:
        """Stop the server and fail anything still waiting; safe to call twice."""
        self._close_by_owner()
        if self._process is None:
            self._closed_by(None, "", "the connection was closed")
            return
        await self._process.close()
        self._closed_by(
            self._process.exit_code, self._process.stderr.text(), "the connection was closed"
        )
        self._stop_expiry()
        for task in list(self._tasks):
            task.cancel()
