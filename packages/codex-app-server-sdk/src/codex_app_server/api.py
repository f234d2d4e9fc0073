"""The synchronous user API: :class:`Codex`, :class:`Thread` and :class:`TurnHandle`.

A thin layer over the typed client: it returns the generated models themselves, adds the
objects people reason with (a thread, a running turn), and keeps a turn's events apart from
every other thread's. :mod:`codex_app_server.async_api` is its asyncio twin.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from ._client import CodexClient
from ._connection import Inbox, _ConnectionBase
from ._handlers import HandlerTable, ServerRequestHandler
from ._protocol import Notification, Subscription, _excerpt
from ._turns import (
    OutputSchema,
    check_turn,
    completed_turn,
    is_turn_end,
    parse_output,
    turn_params,
    typed,
)
from .approvals import ApprovalHandler, approval_handlers, set_thread_approval_handler
from .bounds import (
    INTERRUPT_GRACE,
    BoundExceededError,
    BoundsClock,
    TurnBounds,
    next_wait,
    with_timeout,
)
from .config import CodexConfig
from .errors import JsonRpcError, RequestTimeoutError
from .inputs import Input, to_wire_input
from .rules import wants_watch, watch_turn

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .generated import (
        InitializeResponse,
        ModelListResponse,
        ThreadListResponse,
        ThreadStartResponse,
        Turn,
    )
    from .generated import Thread as ThreadInfo
    from .tools import Tool, ToolFunction

__all__ = ["Codex", "Thread", "TurnHandle"]

logger = logging.getLogger("codex_app_server")

ModelT = TypeVar("ModelT", bound="BaseModel")


def make_config(config: CodexConfig | None, options: Mapping[str, Any]) -> CodexConfig:
    """A config from an explicit ``CodexConfig`` or keyword options (not both)."""
    if config is not None and options:
        raise TypeError(f"pass either config= or keyword options, not both (got {sorted(options)})")
    if config is not None:
        return config
    try:
        return CodexConfig(**options)
    except TypeError as exc:
        raise TypeError(f"{exc}; see CodexConfig for the accepted options") from None


def typed_or_skip(event: Notification, connection: _ConnectionBase[Any, Any]) -> Any:
    """``typed(event)``, or ``None`` (logged and counted) when its line proves not to be JSON.

    Deltas are routed on ids read off their first bytes and parsed only by their consumer, so
    a garbage line that merely starts like one is found out here, and skipped like any other.
    """
    try:
        return typed(event)
    except ValueError:
        if not event.raw:
            raise
        try:
            json.loads(event.raw)
        except (ValueError, RecursionError) as exc:
            connection.protocol_violations += 1
            logger.warning(
                "skipped a message from the app-server: not JSON: %s: %s", exc, _excerpt(event.raw)
            )
            return None
        raise  # JSON that does not fit the model: a real incompatibility, not line noise


def make_handlers(
    approval_handler: Any, handlers: Mapping[str, ServerRequestHandler] | None
) -> HandlerTable:
    """The handler table for a client: explicit per-method handlers win over the approval one."""
    table = HandlerTable(approval_handlers(approval_handler) if approval_handler else None)
    for method, handler in (handlers or {}).items():
        table.set(method, handler)
    return table


class Codex:
    """A Codex app-server, started and initialized by the constructor.

    ``Codex()`` launches the binary from the installed ``codex-cli-bin`` package (or
    ``codex_bin=``) and performs the handshake, raising a clear error if that fails. Use it as
    a context manager, or call :meth:`close`. Options are the fields of
    :class:`~codex_app_server.CodexConfig`, given as keywords or as ``config=``.
    ``approval_handler`` decides approval requests (the default declines them all);
    ``handlers`` maps other server-request methods to functions.
    """

    def __init__(
        self,
        config: CodexConfig | None = None,
        *,
        approval_handler: ApprovalHandler | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
        **options: Any,
    ) -> None:
        self.client = CodexClient(
            make_config(config, options), handlers=make_handlers(approval_handler, handlers)
        )
        #: The client-wide approval handler (approval rules read turns' file changes).
        self.approval_handler = approval_handler
        #: Functions shown every event a turn handle reads (telemetry uses this).
        self.turn_observers: list[Callable[[Notification], None]] = []

    @property
    def metadata(self) -> InitializeResponse:
        """The server's ``initialize`` response (user agent, ``CODEX_HOME``, platform)."""
        return self.client.initialize_response

    def thread_start(
        self,
        *,
        approval_handler: ApprovalHandler | None = None,
        tools: Sequence[Tool | ToolFunction] = (),
        **params: Any,
    ) -> Thread:
        """Start a new thread; ``params`` are ``thread/start``'s fields in snake_case.

        ``tools`` are functions the model may call (see :func:`~codex_app_server.tool`); they
        need ``experimental_api=True``.
        """
        if not tools:
            response = self.client.thread_start(**params)
            return Thread(self, response.thread, approval_handler)
        from . import tools as in_process

        by_name = in_process.as_tools(tools)
        wire = in_process.start_params(
            params, by_name, experimental_api=self.client.config.experimental_api
        )
        started = cast("ThreadStartResponse", self.client._call("thread/start", wire))
        in_process.install(self.client.handlers, started.thread.id, by_name, asynchronous=False)
        return Thread(self, started.thread, approval_handler)

    def thread_resume(
        self, thread_id: str, *, approval_handler: ApprovalHandler | None = None, **params: Any
    ) -> Thread:
        """Load a stored thread so new turns can run on it."""
        response = self.client.thread_resume(thread_id=thread_id, **params)
        return Thread(self, response.thread, approval_handler)

    def thread_fork(
        self, thread_id: str, *, approval_handler: ApprovalHandler | None = None, **params: Any
    ) -> Thread:
        """Copy a thread's history into a new thread."""
        response = self.client.thread_fork(thread_id=thread_id, **params)
        return Thread(self, response.thread, approval_handler)

    def thread_list(self, **params: Any) -> ThreadListResponse:
        """List stored threads (``limit``, ``cursor``, ``sort_key``, ``source_kinds``...)."""
        return self.client.thread_list(**params)

    def thread_read(self, thread_id: str, *, include_turns: bool = False) -> ThreadInfo:
        """Read a stored thread, with its turns if ``include_turns``."""
        return self.client.thread_read(thread_id=thread_id, include_turns=include_turns).thread

    def thread_archive(self, thread_id: str) -> None:
        """Archive a thread (it leaves the default listing)."""
        self.client.thread_archive(thread_id=thread_id)

    def thread_unarchive(self, thread_id: str) -> ThreadInfo:
        """Bring an archived thread back."""
        return self.client.thread_unarchive(thread_id=thread_id).thread

    def models(self, **params: Any) -> ModelListResponse:
        """The models the server offers (``model/list``)."""
        return self.client.model_list(**params)

    def close(self) -> None:
        """Stop the app-server; safe to call more than once."""
        self.client.close()

    def __enter__(self) -> Codex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Thread:
    """A conversation on one app-server. ``info`` is the generated ``Thread`` model."""

    def __init__(
        self, codex: Codex, info: ThreadInfo, approval_handler: ApprovalHandler | None = None
    ) -> None:
        self.codex = codex
        self.info = info
        self._approval_handler: Any = None
        if approval_handler is not None:
            self.set_approval_handler(approval_handler)

    @property
    def id(self) -> str:
        """The thread id."""
        return self.info.id

    def __repr__(self) -> str:
        return f"Thread(id={self.id!r})"

    def set_approval_handler(self, handler: ApprovalHandler | None) -> None:
        """Decide this thread's approval requests with ``handler`` (``None``: client's)."""
        self._approval_handler = handler
        set_thread_approval_handler(self.codex.client.handlers, self.id, handler)

    def subagents(self, *, nested: bool = False) -> list[str]:
        """The ids of the sub-agent threads this thread spawned, oldest first.

        Those this client saw being spawned (on this connection, since the thread was started
        or resumed); ``nested`` adds theirs. Each follows this thread's approval handler.
        """
        return self.codex.client.handlers.subagents(self.id, nested=nested)

    def turn(
        self,
        input: Input,
        *,
        output_schema: OutputSchema | None = None,
        include_subagents: bool = False,
        **params: Any,
    ) -> TurnHandle:
        """Start a turn and return its handle; ``params`` are ``turn/start``'s in snake_case.

        ``include_subagents``: the handle's :meth:`~TurnHandle.stream` also yields the events
        of the sub-agent threads spawned during the turn (and theirs), each naming its
        ``thread_id``; the stream still ends with this turn's ``turn/completed``.
        """
        wire_params = turn_params(self.id, input, output_schema, params)
        connection = self.codex.client.connection
        # Subscribe before starting: the turn's first events can arrive before its reply.
        subscription = connection.subscribe(self.id, subagents=include_subagents)
        # Approval rules about written paths read them off the turn's fileChange items.
        watched = wants_watch(self._approval_handler, self.codex.approval_handler)
        watch = connection.subscribe(self.id, observer=True) if watched else None
        try:
            response = self.codex.client.turn_start(**wire_params)
        except BaseException:
            connection.unsubscribe(subscription)
            if watch:
                connection.unsubscribe(watch)
            raise
        connection.narrow(subscription, response.turn.id)
        if watch:
            connection.narrow(watch, response.turn.id)
            watch_turn(watch.sink, self.id, response.turn.id)
        return TurnHandle(self, response.turn, subscription)

    def run(
        self,
        input: Input,
        *,
        output_schema: OutputSchema | None = None,
        timeout: float | None = None,
        bounds: TurnBounds | None = None,
        **params: Any,
    ) -> Turn:
        """Run a turn to completion and return the final ``Turn`` (``bounds``: see
        :meth:`TurnHandle.run`)."""
        handle = self.turn(input, output_schema=output_schema, **params)
        return handle.run(timeout=timeout, bounds=bounds)

    def set_name(self, name: str) -> None:
        """Give the thread a name."""
        self.codex.client.thread_name_set(thread_id=self.id, name=name)

    def compact(self) -> None:
        """Ask the server to compact the thread's context (it runs as a turn)."""
        self.codex.client.thread_compact_start(thread_id=self.id)

    def read(self, *, include_turns: bool = False) -> ThreadInfo:
        """The thread as stored now, with its turns if ``include_turns``."""
        return self.codex.thread_read(self.id, include_turns=include_turns)


class TurnHandle:
    """A running turn: consume it with :meth:`run` or :meth:`stream`, steer or interrupt it.

    ``turn`` is the ``Turn`` model as ``turn/start`` returned it (status ``inProgress``).
    """

    def __init__(self, thread: Thread, turn: Turn, subscription: Subscription[Inbox]) -> None:
        self.thread = thread
        self.turn = turn
        self._subscription = subscription
        self._completed: Turn | None = None

    @property
    def id(self) -> str:
        """The turn id."""
        return self.turn.id

    def __repr__(self) -> str:
        return f"TurnHandle(id={self.id!r}, thread_id={self.thread.id!r})"

    def stream(
        self, *, timeout: float | None = None, bounds: TurnBounds | None = None
    ) -> Iterator[Any]:
        """Yield this turn's notifications, typed, in order, ending with its ``turn/completed``.

        ``timeout`` bounds the wait for each next event. Ctrl-C interrupts the turn, and so
        does hitting one of ``bounds`` (see :class:`~codex_app_server.TurnBounds`).
        """
        return self._events(timeout, bounds, typed=True)

    def run(self, *, timeout: float | None = None, bounds: TurnBounds | None = None) -> Turn:
        """Wait for ``turn/completed`` and return the final ``Turn``.

        Raises :class:`~codex_app_server.TurnFailedError` if the turn failed. ``timeout``
        bounds the whole turn: when it passes, the turn is interrupted and
        :class:`~codex_app_server.TurnTimeLimitError` (a ``RequestTimeoutError``) is raised.
        ``bounds`` adds inactivity and token limits; each raises its
        :class:`~codex_app_server.BoundExceededError`.
        """
        for _ in self._events(None, with_timeout(bounds, timeout)):
            pass
        assert self._completed is not None
        return check_turn(self._completed)

    def run_parsed(self, model: type[ModelT], *, timeout: float | None = None) -> ModelT:
        """Run the turn and validate its final message into ``model`` (structured output)."""
        return parse_output(self.run(timeout=timeout), model)

    def _events(
        self, timeout: float | None, bounds: TurnBounds | None, *, typed: bool = False
    ) -> Iterator[Any]:
        # One generator between the inbox and the caller, typing the events itself when asked
        # (stream()); an event that has arrived already is taken without the wait machinery.
        if self._completed is not None:
            return
        codex = self.thread.codex
        connection = codex.client.connection
        clock = None if bounds is None else BoundsClock(bounds, self.id, time.monotonic())
        inbox = self._subscription.sink
        turn_id = self.id
        try:
            while True:
                event = inbox.get_ready()
                if event is None:
                    try:
                        event = inbox.get(next_wait(timeout, clock, time.monotonic()))
                    except RequestTimeoutError:
                        exceeded = clock.expired(time.monotonic()) if clock else None
                        if exceeded is None:
                            raise
                        self._stop(exceeded)
                for observe in codex.turn_observers:
                    observe(event)
                if clock is not None and (exceeded := clock.observe(event, time.monotonic())):
                    self._stop(exceeded)
                end = is_turn_end(event, turn_id)
                if end:
                    self._completed = completed_turn(event)
                if not typed:
                    yield event
                elif (model := typed_or_skip(event, connection)) is not None:
                    yield model
                if end:
                    return
        except KeyboardInterrupt:
            self.interrupt()
            raise
        finally:
            if self._completed is not None:
                connection.unsubscribe(self._subscription)

    def _next(self, wait: float | None) -> Notification:
        event = self._subscription.sink.get(wait)
        for observe in self.thread.codex.turn_observers:
            observe(event)
        return event

    def _stop(self, error: BoundExceededError) -> NoReturn:
        """Interrupt the turn for a bound, wait briefly for its end, and raise ``error``."""
        with contextlib.suppress(JsonRpcError):  # the turn may have ended meanwhile
            self.interrupt()
        deadline = time.monotonic() + INTERRUPT_GRACE
        with contextlib.suppress(RequestTimeoutError):
            while self._completed is None:
                event = self._next(max(0.0, deadline - time.monotonic()))
                if is_turn_end(event, self.id):
                    self._completed = error.turn = completed_turn(event)
        raise error

    def interrupt(self) -> None:
        """Ask the server to stop the turn (it still ends with ``turn/completed``)."""
        if self._completed is None and not self.thread.codex.client.connection.closed:
            self.thread.codex.client.turn_interrupt(thread_id=self.thread.id, turn_id=self.id)

    def steer(self, input: Input) -> None:
        """Add input to the running turn."""
        self.thread.codex.client.turn_steer(
            thread_id=self.thread.id,
            expected_turn_id=self.id,
            input=cast(Any, to_wire_input(input)),
        )
