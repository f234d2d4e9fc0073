"""The asyncio user API: :class:`AsyncCodex`, :class:`AsyncThread`, :class:`AsyncTurnHandle`.

The same shape as :mod:`codex_app_server.api` with ``await``. The server starts lazily, on
``async with`` or the first awaited call. Cancelling the task that awaits a turn interrupts
the turn on the server, and the connection stays usable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from ._client import AsyncCodexClient
from ._connection import AsyncInbox
from ._handlers import ServerRequestHandler
from ._protocol import Notification, Subscription
from ._turns import (
    OutputSchema,
    check_turn,
    completed_turn,
    is_turn_end,
    parse_output,
    turn_params,
)
from .api import make_config, make_handlers, typed_or_skip
from .approvals import AsyncApprovalHandler, set_thread_approval_handler
from .bounds import (
    INTERRUPT_GRACE,
    BoundExceededError,
    BoundsClock,
    TurnBounds,
    next_wait,
    with_timeout,
)
from .config import CodexConfig
from .errors import RequestTimeoutError
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

__all__ = ["AsyncCodex", "AsyncThread", "AsyncTurnHandle"]

ModelT = TypeVar("ModelT", bound="BaseModel")


class AsyncCodex:
    """A Codex app-server for asyncio code; it starts on ``async with`` or the first call.

    Accepts the same options as :class:`~codex_app_server.Codex`; ``approval_handler`` and
    ``handlers`` may be coroutine functions.
    """

    def __init__(
        self,
        config: CodexConfig | None = None,
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
        **options: Any,
    ) -> None:
        self.client = AsyncCodexClient(
            make_config(config, options), handlers=make_handlers(approval_handler, handlers)
        )
        #: The client-wide approval handler (approval rules read turns' file changes).
        self.approval_handler = approval_handler
        #: Functions shown every event a turn handle reads (telemetry uses this).
        self.turn_observers: list[Callable[[Notification], None]] = []
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Start and initialize the server now (otherwise the first call does it)."""
        async with self._start_lock:
            if not self.client.started:
                await self.client.start()

    async def _ready(self) -> AsyncCodexClient:
        if not self.client.started:
            await self.start()
        return self.client

    @property
    def metadata(self) -> InitializeResponse:
        """The server's ``initialize`` response; available once started."""
        return self.client.initialize_response

    async def thread_start(
        self,
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        tools: Sequence[Tool | ToolFunction] = (),
        **params: Any,
    ) -> AsyncThread:
        """Start a new thread; ``params`` are ``thread/start``'s fields in snake_case.

        ``tools`` are functions (plain or ``async``) the model may call (see
        :func:`~codex_app_server.tool`); they need ``experimental_api=True``.
        """
        client = await self._ready()
        if not tools:
            response = await client.thread_start(**params)
            return AsyncThread(self, response.thread, approval_handler)
        from . import tools as in_process

        by_name = in_process.as_tools(tools)
        wire = in_process.start_params(
            params, by_name, experimental_api=client.config.experimental_api
        )
        started = cast("ThreadStartResponse", await client._call("thread/start", wire))
        in_process.install(client.handlers, started.thread.id, by_name, asynchronous=True)
        return AsyncThread(self, started.thread, approval_handler)

    async def thread_resume(
        self, thread_id: str, *, approval_handler: AsyncApprovalHandler | None = None, **params: Any
    ) -> AsyncThread:
        """Load a stored thread so new turns can run on it."""
        response = await (await self._ready()).thread_resume(thread_id=thread_id, **params)
        return AsyncThread(self, response.thread, approval_handler)

    async def thread_fork(
        self, thread_id: str, *, approval_handler: AsyncApprovalHandler | None = None, **params: Any
    ) -> AsyncThread:
        """Copy a thread's history into a new thread."""
        response = await (await self._ready()).thread_fork(thread_id=thread_id, **params)
        return AsyncThread(self, response.thread, approval_handler)

    async def thread_list(self, **params: Any) -> ThreadListResponse:
        """List stored threads (``limit``, ``cursor``, ``sort_key``, ``source_kinds``...)."""
        return await (await self._ready()).thread_list(**params)

    async def thread_read(self, thread_id: str, *, include_turns: bool = False) -> ThreadInfo:
        """Read a stored thread, with its turns if ``include_turns``."""
        client = await self._ready()
        return (await client.thread_read(thread_id=thread_id, include_turns=include_turns)).thread

    async def thread_archive(self, thread_id: str) -> None:
        """Archive a thread (it leaves the default listing)."""
        await (await self._ready()).thread_archive(thread_id=thread_id)

    async def thread_unarchive(self, thread_id: str) -> ThreadInfo:
        """Bring an archived thread back."""
        return (await (await self._ready()).thread_unarchive(thread_id=thread_id)).thread

    async def models(self, **params: Any) -> ModelListResponse:
        """The models the server offers (``model/list``)."""
        return await (await self._ready()).model_list(**params)

    async def close(self) -> None:
        """Stop the app-server; safe to call more than once."""
        await self.client.close()

    async def __aenter__(self) -> AsyncCodex:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class AsyncThread:
    """A conversation on one app-server. ``info`` is the generated ``Thread`` model."""

    def __init__(
        self,
        codex: AsyncCodex,
        info: ThreadInfo,
        approval_handler: AsyncApprovalHandler | None = None,
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
        return f"AsyncThread(id={self.id!r})"

    def set_approval_handler(self, handler: AsyncApprovalHandler | None) -> None:
        """Decide this thread's approval requests with ``handler`` (``None``: client's)."""
        self._approval_handler = handler
        set_thread_approval_handler(self.codex.client.handlers, self.id, handler)

    def subagents(self, *, nested: bool = False) -> list[str]:
        """The ids of the sub-agent threads this thread spawned, oldest first.

        Those this client saw being spawned (on this connection, since the thread was started
        or resumed); ``nested`` adds theirs. Each follows this thread's approval handler.
        """
        return self.codex.client.handlers.subagents(self.id, nested=nested)

    async def turn(
        self,
        input: Input,
        *,
        output_schema: OutputSchema | None = None,
        include_subagents: bool = False,
        **params: Any,
    ) -> AsyncTurnHandle:
        """Start a turn and return its handle; ``params`` are ``turn/start``'s in snake_case.

        ``include_subagents``: as for :meth:`codex_app_server.Thread.turn`.
        """
        wire_params = turn_params(self.id, input, output_schema, params)
        client = await self.codex._ready()
        # Subscribe before starting: the turn's first events can arrive before its reply.
        subscription = client.connection.subscribe(self.id, subagents=include_subagents)
        # Approval rules about written paths read them off the turn's fileChange items.
        watched = wants_watch(self._approval_handler, self.codex.approval_handler)
        watch = client.connection.subscribe(self.id, observer=True) if watched else None
        try:
            response = await client.turn_start(**wire_params)
        except BaseException:
            client.connection.unsubscribe(subscription)
            if watch:
                client.connection.unsubscribe(watch)
            raise
        client.connection.narrow(subscription, response.turn.id)
        if watch:
            client.connection.narrow(watch, response.turn.id)
            watch_turn(watch.sink, self.id, response.turn.id, asyncio.get_running_loop())
        return AsyncTurnHandle(self, response.turn, subscription)

    async def run(
        self,
        input: Input,
        *,
        output_schema: OutputSchema | None = None,
        timeout: float | None = None,
        bounds: TurnBounds | None = None,
        **params: Any,
    ) -> Turn:
        """Run a turn to completion and return the final ``Turn`` (``bounds``: see
        :meth:`AsyncTurnHandle.run`)."""
        handle = await self.turn(input, output_schema=output_schema, **params)
        return await handle.run(timeout=timeout, bounds=bounds)

    async def set_name(self, name: str) -> None:
        """Give the thread a name."""
        await (await self.codex._ready()).thread_name_set(thread_id=self.id, name=name)

    async def compact(self) -> None:
        """Ask the server to compact the thread's context (it runs as a turn)."""
        await (await self.codex._ready()).thread_compact_start(thread_id=self.id)

    async def read(self, *, include_turns: bool = False) -> ThreadInfo:
        """The thread as stored now, with its turns if ``include_turns``."""
        return await self.codex.thread_read(self.id, include_turns=include_turns)


class AsyncTurnHandle:
    """A running turn: ``await run()`` or ``async for`` over :meth:`stream`; steer or interrupt.

    ``turn`` is the ``Turn`` model as ``turn/start`` returned it (status ``inProgress``).
    """

    def __init__(
        self, thread: AsyncThread, turn: Turn, subscription: Subscription[AsyncInbox]
    ) -> None:
        self.thread = thread
        self.turn = turn
        self._subscription = subscription
        self._completed: Turn | None = None

    @property
    def id(self) -> str:
        """The turn id."""
        return self.turn.id

    def __repr__(self) -> str:
        return f"AsyncTurnHandle(id={self.id!r}, thread_id={self.thread.id!r})"

    def stream(
        self, *, timeout: float | None = None, bounds: TurnBounds | None = None
    ) -> AsyncIterator[Any]:
        """Yield this turn's notifications, typed, in order, ending with its ``turn/completed``.

        ``timeout`` bounds the wait for each next event; hitting one of ``bounds`` (see
        :class:`~codex_app_server.TurnBounds`) interrupts the turn.
        """
        return self._events(timeout, bounds, typed=True)

    async def run(self, *, timeout: float | None = None, bounds: TurnBounds | None = None) -> Turn:
        """Wait for ``turn/completed`` and return the final ``Turn``.

        Raises :class:`~codex_app_server.TurnFailedError` if the turn failed. ``timeout``
        bounds the whole turn: when it passes, the turn is interrupted and
        :class:`~codex_app_server.TurnTimeLimitError` (a ``RequestTimeoutError``) is raised.
        ``bounds`` adds inactivity and token limits; each raises its
        :class:`~codex_app_server.BoundExceededError`.
        """
        async for _ in self._events(None, with_timeout(bounds, timeout)):
            pass
        assert self._completed is not None
        return check_turn(self._completed)

    async def run_parsed(self, model: type[ModelT], *, timeout: float | None = None) -> ModelT:
        """Run the turn and validate its final message into ``model`` (structured output)."""
        return parse_output(await self.run(timeout=timeout), model)

    async def _events(
        self, timeout: float | None, bounds: TurnBounds | None, *, typed: bool = False
    ) -> AsyncIterator[Any]:
        # One generator between the inbox and the caller, typing the events itself when asked
        # (stream()), and an event that has arrived already is taken without awaiting: per
        # delta, a generator step and a coroutine fewer than a stream() over this generator.
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
                        event = await inbox.get(next_wait(timeout, clock, time.monotonic()))
                    except RequestTimeoutError:
                        exceeded = clock.expired(time.monotonic()) if clock else None
                        if exceeded is None:
                            raise
                        await self._stop(exceeded)
                for observe in codex.turn_observers:
                    observe(event)
                if clock is not None and (exceeded := clock.observe(event, time.monotonic())):
                    await self._stop(exceeded)
                end = is_turn_end(event, turn_id)
                if end:
                    self._completed = completed_turn(event)
                if not typed:
                    yield event
                elif (model := typed_or_skip(event, connection)) is not None:
                    yield model
                if end:
                    return
        except asyncio.CancelledError:
            # The caller gave up on the turn: stop it on the server too, even while we are
            # being cancelled, so it does not run on unobserved.
            await asyncio.shield(self._interrupt_quietly())
            raise
        finally:
            if self._completed is not None:
                connection.unsubscribe(self._subscription)

    async def _next(self, wait: float | None) -> Notification:
        event = await self._subscription.sink.get(wait)
        for observe in self.thread.codex.turn_observers:
            observe(event)
        return event

    async def _stop(self, error: BoundExceededError) -> NoReturn:
        """Interrupt the turn for a bound, wait briefly for its end, and raise ``error``."""
        await self._interrupt_quietly()
        deadline = time.monotonic() + INTERRUPT_GRACE
        with contextlib.suppress(RequestTimeoutError):
            while self._completed is None:
                event = await self._next(max(0.0, deadline - time.monotonic()))
                if is_turn_end(event, self.id):
                    self._completed = error.turn = completed_turn(event)
        raise error

    async def _interrupt_quietly(self) -> None:
        try:
            await self.interrupt()
        except Exception:  # the turn may have ended meanwhile; nothing left to stop
            return

    async def interrupt(self) -> None:
        """Ask the server to stop the turn (it still ends with ``turn/completed``)."""
        client = self.thread.codex.client
        if self._completed is None and not client.connection.closed:
            await client.turn_interrupt(thread_id=self.thread.id, turn_id=self.id)

    async def steer(self, input: Input) -> None:
        """Add input to the running turn."""
        await self.thread.codex.client.turn_steer(
            thread_id=self.thread.id,
            expected_turn_id=self.id,
            input=cast(Any, to_wire_input(input)),
        )
