"""The user API: :class:`AsyncCodex`, :class:`AsyncThread` and :class:`AsyncTurnHandle`.

A thin layer over the typed client: it returns the generated models themselves, adds the
objects people reason with (a thread, a running turn), and keeps a turn's events apart from
every other thread's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast, overload

from .._backend_async import (
    BoundedSemaphore,
    Interrupted,
    Lifecycle,
    check_handler,
    stop_interrupted,
)
from .._connection import AsyncInbox
from .._handlers import ServerRequestHandler
from .._protocol import Notification, Subscription
from .._turns import (
    RECORDED,
    OutputSchema,
    TurnRecord,
    TurnSummary,
    check_turn,
    completed_turn,
    is_turn_end,
    is_turn_start,
    turn_params,
)
from .._user_api import (
    make_config,
    make_handlers,
    parse_with,
    structured_model,
    thread_not_found,
    typed_or_skip,
)
from ..approvals import AsyncApprovalHandler, set_thread_approval_handler
from ..bounds import (
    BoundExceededError,
    BoundsClock,
    TurnBounds,
    interrupt_grace,
    next_wait,
    with_timeout,
)
from ..config import CodexConfig
from ..errors import CodexError, JsonRpcError, RequestTimeoutError
from ..inputs import ExternalMessage, Input, external_join_params, not_joined, to_wire_input
from ..presets import ApprovalModeLike, SandboxLike, thread_presets, turn_presets
from . import account as sign_in
from .client import AsyncCodexClient

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..generated import (
        GetAccountResponse,
        InitializeResponse,
        ModelListResponse,
        ThreadGoal,
        ThreadGoalStatus,
        ThreadListResponse,
        ThreadStartResponse,
        Turn,
    )
    from ..generated import Thread as ThreadInfo
    from ..tools import Tool, ToolFunction
    from .account import AsyncChatgptLoginHandle, AsyncDeviceCodeLoginHandle

__all__ = ["AsyncCodex", "AsyncThread", "AsyncTurnHandle"]

ModelT = TypeVar("ModelT", bound="BaseModel")


class AsyncCodex(Lifecycle):
    """A Codex app-server, started on first use.

    It launches the binary from the installed ``codex-cli-bin`` package (or ``codex_bin=``)
    and performs the handshake, raising a clear error if that fails. Use it as a context
    manager, or call :meth:`close`. Options are the fields of
    :class:`~codex_app_server.CodexConfig`, given as keywords or as ``config=``.
    ``approval_handler`` decides approval requests (the default declines them all);
    ``handlers`` maps other server-request methods to plain or ``async`` functions.
    """

    def __init__(
        self,
        config: CodexConfig | None = None,
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        handlers: Mapping[str, ServerRequestHandler] | None = None,
        **options: Any,
    ) -> None:
        for handler in (approval_handler, *(handlers or {}).values()):
            check_handler(handler)  # before anything starts
        #: The typed client underneath: one method per protocol request, for what this API
        #: does not cover.
        self.client = AsyncCodexClient(
            make_config(config, options), handlers=make_handlers(approval_handler, handlers)
        )
        #: The client-wide approval handler.
        self.approval_handler = approval_handler
        #: Functions shown every event a turn handle reads (telemetry uses this).
        self.turn_observers: list[Callable[[Notification], None]] = []
        cap = self.client.config.max_concurrent_turns
        # Turns past the cap wait in turn() for a running one to end (see AsyncTurnHandle).
        self._turn_slots = None if cap is None else BoundedSemaphore(cap)
        self._begin()

    def _is_started(self) -> bool:
        return self.client._is_started()

    async def _start(self) -> None:
        await self.client._ensure_started()
        if self.client.config.require_sign_in:
            try:
                await sign_in.ensure_signed_in(self.client)
            except BaseException:
                await self.client.close()
                raise

    async def _ready(self) -> AsyncCodexClient:
        await self._ensure_started()
        return self.client

    @property
    def metadata(self) -> InitializeResponse:
        """The server's ``initialize`` response (user agent, ``CODEX_HOME``, platform)."""
        return self.client.initialize_response

    async def login_api_key(self, api_key: str) -> None:
        """Sign the app-server in with an OpenAI API key; it is stored in ``CODEX_HOME``.

        The key is sent on the server's stdin only, and never logged, shown or quoted in an
        error. Raises :class:`~codex_app_server.LoginFailedError` if the server refuses it.
        """
        await sign_in.login_api_key(await self._ready(), api_key)

    async def login_chatgpt(self) -> AsyncChatgptLoginHandle:
        """Start a browser sign-in with ChatGPT; open the handle's ``auth_url``, then
        ``await handle.wait()``."""
        return await sign_in.login_chatgpt(await self._ready())

    async def login_chatgpt_device_code(self) -> AsyncDeviceCodeLoginHandle:
        """Start a device-code sign-in with ChatGPT; show the handle's ``verification_url``
        and ``user_code``, then ``await handle.wait()``. Without a network it fails at once
        (:class:`~codex_app_server.LoginFailedError`)."""
        return await sign_in.login_chatgpt_device_code(await self._ready())

    async def account(self, *, refresh_token: bool = False) -> GetAccountResponse:
        """The sign-in the app-server has (``account``, ``None`` when signed out) and whether
        its model provider needs one (``requires_openai_auth``)."""
        client = await self._ready()
        return await client.account_read(refresh_token=refresh_token or None)

    async def logout(self) -> None:
        """Forget the stored sign-in (``CODEX_HOME``'s credentials)."""
        client = await self._ready()
        await client.account_logout()

    async def thread_start(
        self,
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        tools: Sequence[Tool | ToolFunction] = (),
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> AsyncThread:
        """Start a new thread; ``params`` are ``thread/start``'s fields in snake_case.

        ``tools`` are functions (plain or ``async``) the model may call (see
        :func:`~codex_app_server.tool`); they need ``experimental_api=True``.
        ``approval_mode`` and ``sandbox`` are named presets
        (:class:`~codex_app_server.ApprovalMode`, :class:`~codex_app_server.Sandbox`).
        """
        params = thread_presets(params, approval_mode, sandbox)
        client = await self._ready()
        if not tools:
            response = await client.thread_start(**params)
            return AsyncThread(self, response.thread, approval_handler)
        from .. import tools as in_process
        from .tools import tool_call_handler

        by_name = in_process.as_tools(tools)
        wire = in_process.start_params(
            params, by_name, experimental_api=client.config.experimental_api
        )
        started = cast("ThreadStartResponse", await client._call("thread/start", wire))
        client.handlers.set(
            in_process.TOOL_CALL_METHOD, tool_call_handler(by_name), thread_id=started.thread.id
        )
        return AsyncThread(self, started.thread, approval_handler)

    async def thread_resume(
        self,
        thread_id: str,
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> AsyncThread:
        """Load a stored thread so new turns can run on it (presets as in ``thread_start``).

        Raises :class:`~codex_app_server.ThreadNotFoundError` if there is no such thread.
        """
        params = thread_presets(params, approval_mode, sandbox)
        client = await self._ready()
        try:
            response = await client.thread_resume(thread_id=thread_id, **params)
        except JsonRpcError as exc:
            raise thread_not_found(exc, thread_id) from None
        return AsyncThread(self, response.thread, approval_handler)

    async def thread_fork(
        self,
        thread_id: str,
        *,
        approval_handler: AsyncApprovalHandler | None = None,
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> AsyncThread:
        """Copy a thread's history into a new thread (presets as in ``thread_start``).

        Raises :class:`~codex_app_server.ThreadNotFoundError` if there is no such thread.
        """
        params = thread_presets(params, approval_mode, sandbox)
        client = await self._ready()
        try:
            response = await client.thread_fork(thread_id=thread_id, **params)
        except JsonRpcError as exc:
            raise thread_not_found(exc, thread_id) from None
        return AsyncThread(self, response.thread, approval_handler)

    async def thread_list(self, **params: Any) -> ThreadListResponse:
        """List stored threads (``limit``, ``cursor``, ``sort_key``, ``source_kinds``...)."""
        client = await self._ready()
        return await client.thread_list(**params)

    async def thread_read(self, thread_id: str, *, include_turns: bool = False) -> ThreadInfo:
        """Read a stored thread, with its turns if ``include_turns``."""
        client = await self._ready()
        response = await client.thread_read(thread_id=thread_id, include_turns=include_turns)
        return response.thread

    async def thread_archive(self, thread_id: str) -> None:
        """Archive a thread (it leaves the default listing)."""
        client = await self._ready()
        await client.thread_archive(thread_id=thread_id)

    async def thread_unarchive(self, thread_id: str) -> ThreadInfo:
        """Bring an archived thread back."""
        client = await self._ready()
        response = await client.thread_unarchive(thread_id=thread_id)
        return response.thread

    async def models(self, **params: Any) -> ModelListResponse:
        """The models the server offers (``model/list``)."""
        client = await self._ready()
        return await client.model_list(**params)

    async def close(self) -> None:
        """Stop the app-server; safe to call more than once."""
        await self.client.close()


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
        check_handler(handler)
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
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        include_subagents: bool = False,
        **params: Any,
    ) -> AsyncTurnHandle:
        """Start a turn and return its handle; ``params`` are ``turn/start``'s in snake_case.

        A pydantic model as ``output_schema`` is sent as its strict schema
        (:func:`~codex_app_server.strict_schema`) and remembered by
        :meth:`AsyncTurnHandle.run_parsed`. With ``max_concurrent_turns`` set, this waits
        while that many turns are running (giving up on the wait starts nothing).
        ``approval_mode`` and ``sandbox`` are named presets; like the wire overrides, they hold
        for later turns of the thread too.
        ``include_subagents``: the handle's :meth:`~AsyncTurnHandle.stream` also yields the
        events of the sub-agent threads spawned during the turn (and theirs), each naming its
        ``thread_id``; the stream still ends with this turn's ``turn/completed``.
        """
        params = turn_presets(params, approval_mode, sandbox)
        wire_params = turn_params(self.id, input, output_schema, params)
        client = await self.codex._ready()
        slots = self.codex._turn_slots
        if slots is not None:
            await slots.acquire()
        connection = client.connection
        # Subscribe before starting: the turn's first events can arrive before its reply.
        subscription = connection.subscribe(self.id, subagents=include_subagents)
        try:
            response = await client.turn_start(**wire_params)
        except BaseException:
            connection.unsubscribe(subscription)
            if slots is not None:
                slots.release()
            raise
        connection.narrow(subscription, response.turn.id)
        handle = AsyncTurnHandle(self, response.turn, subscription)
        handle._model = structured_model(output_schema)
        handle._slot = None if slots is None else slots.release
        return handle

    async def run(
        self,
        input: Input,
        *,
        output_schema: OutputSchema | None = None,
        timeout: float | None = None,
        bounds: TurnBounds | None = None,
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> Turn:
        """Run a turn to completion and return the final ``Turn`` (``bounds``: see
        :meth:`AsyncTurnHandle.run`)."""
        handle = await self.turn(
            input,
            output_schema=output_schema,
            approval_mode=approval_mode,
            sandbox=sandbox,
            **params,
        )
        return await handle.run(timeout=timeout, bounds=bounds)

    async def run_parsed(
        self,
        input: Input,
        model: type[ModelT],
        /,
        *,
        timeout: float | None = None,
        bounds: TurnBounds | None = None,
        **params: Any,
    ) -> ModelT:
        """Run a turn whose answer must fit ``model`` and return it as an instance.

        ``model`` (the pydantic class) is positional, so ``model="..."`` among ``params`` is
        still the turn's language model. Its strict schema is the turn's ``output_schema``.
        Raises :class:`~codex_app_server.StructuredOutputError` if the answer does not
        validate.
        """
        handle = await self.turn(input, output_schema=model, **params)
        parsed: ModelT = await handle.run_parsed(model, timeout=timeout, bounds=bounds)
        return parsed

    async def goal(self) -> ThreadGoal | None:
        """The thread's goal (``thread/goal/get``), or ``None`` if it has none."""
        client = await self.codex._ready()
        response = await client.thread_goal_get(thread_id=self.id)
        return response.goal

    async def set_goal(
        self,
        objective: str | None = None,
        *,
        status: ThreadGoalStatus | str | None = None,
        token_budget: int | None = None,
    ) -> ThreadGoal:
        """Set or update the thread's goal and return it; omitted fields keep their value.

        Changes arrive as ``thread/goal/updated`` notifications in a running turn's stream.
        """
        client = await self.codex._ready()
        response = await client.thread_goal_set(
            thread_id=self.id, objective=objective, status=status, token_budget=token_budget
        )
        return response.goal

    async def clear_goal(self) -> bool:
        """Remove the thread's goal; ``False`` if it had none."""
        client = await self.codex._ready()
        response = await client.thread_goal_clear(thread_id=self.id)
        return response.cleared

    async def set_name(self, name: str) -> None:
        """Give the thread a name."""
        client = await self.codex._ready()
        await client.thread_name_set(thread_id=self.id, name=name)

    async def compact(self) -> None:
        """Ask the server to compact the thread's context (it runs as a turn)."""
        client = await self.codex._ready()
        await client.thread_compact_start(thread_id=self.id)

    async def read(self, *, include_turns: bool = False) -> ThreadInfo:
        """The thread as stored now, with its turns if ``include_turns``."""
        return await self.codex.thread_read(self.id, include_turns=include_turns)


class AsyncTurnHandle:
    """A running turn: consume it with :meth:`run` or :meth:`stream`, steer or interrupt it.

    ``turn`` is the ``Turn`` model as ``turn/start`` returned it (status ``inProgress``).
    Under ``max_concurrent_turns`` the handle holds one of the client's slots until
    :meth:`run` or :meth:`stream` has seen the turn end, or a bound, cancelling the task or a
    closed connection stopped it: consume every handle you start.
    """

    def __init__(
        self, thread: AsyncThread, turn: Turn, subscription: Subscription[AsyncInbox]
    ) -> None:
        self.thread = thread
        self.turn = turn
        self._subscription = subscription
        self._completed: Turn | None = None
        self._record = TurnRecord()
        #: The pydantic model given as ``output_schema`` (``run_parsed()`` uses it).
        self._model: type[BaseModel] | None = None
        #: Gives back this turn's slot under ``max_concurrent_turns``; ``None`` once given.
        self._slot: Callable[[], None] | None = None

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

        ``timeout`` bounds the wait for each next event. Hitting one of ``bounds`` (see
        :class:`~codex_app_server.TurnBounds`) interrupts the turn, and so does
        cancelling the task.
        """
        return self._events(timeout, bounds, typed=True)

    async def run(self, *, timeout: float | None = None, bounds: TurnBounds | None = None) -> Turn:
        """Wait for ``turn/completed`` and return the final ``Turn``.

        Its ``items`` are every item the turn completed (messages, reasoning, commands, file
        changes, tool calls), in order. Raises :class:`~codex_app_server.TurnFailedError` if
        the turn failed. ``timeout`` bounds the whole turn: when it passes, the turn is
        interrupted and :class:`~codex_app_server.TurnTimeLimitError` (a
        ``RequestTimeoutError``) is raised. ``bounds`` adds inactivity and token limits;
        each raises its :class:`~codex_app_server.BoundExceededError`.
        """
        async for _ in self._events(None, with_timeout(bounds, timeout)):
            pass
        assert self._completed is not None
        return check_turn(self._completed)

    @overload
    async def run_parsed(
        self, model: type[ModelT], *, timeout: float | None = ..., bounds: TurnBounds | None = ...
    ) -> ModelT: ...

    @overload
    async def run_parsed(
        self, model: None = ..., *, timeout: float | None = ..., bounds: TurnBounds | None = ...
    ) -> Any: ...

    async def run_parsed(
        self,
        model: type[ModelT] | None = None,
        *,
        timeout: float | None = None,
        bounds: TurnBounds | None = None,
    ) -> Any:
        """Run the turn and validate its final message into ``model`` (structured output).

        ``model`` defaults to the pydantic model the turn was started with as
        ``output_schema``. Raises :class:`~codex_app_server.StructuredOutputError` (a
        ``CodexError``, with the turn and the validation errors) if it does not validate.
        """
        return parse_with(await self.run(timeout=timeout, bounds=bounds), model, self._model)

    def summary(self) -> TurnSummary:
        """The finished turn at a glance: final text, status, error, token usage, timings.

        Call it after :meth:`run` or :meth:`stream` saw the turn end (also when ``run()``
        raised ``TurnFailedError``); raises :class:`~codex_app_server.CodexError` before.
        """
        if self._completed is None:
            raise CodexError(
                f"turn {self.id} has not finished: let run() or stream() reach its end first"
            )
        return self._record.summary(self._completed)

    async def _events(
        self, timeout: float | None, bounds: TurnBounds | None, *, typed: bool = False
    ) -> AsyncIterator[Any]:
        # One generator between the inbox and the caller, typing the events itself when asked
        # (stream()); an event that has arrived already is taken without the wait machinery
        # (per delta, no wait and no extra generator step).
        if self._done():
            return
        codex = self.thread.codex
        connection = codex.client.connection
        clock = None if bounds is None else BoundsClock(bounds, self.id, time.monotonic())
        inbox = self._subscription.sink
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
                end, model = self._see(event, typed)
                if clock is not None and (exceeded := clock.observe(event, time.monotonic())):
                    await self._stop(exceeded)
                if not typed:
                    yield event
                elif model is not None:
                    yield model
                if end:
                    return
        except Interrupted:
            # The caller gave up on the turn: stop it on the server too.
            try:
                await stop_interrupted(self.interrupt)
            finally:
                self._give_back_slot()
            raise
        finally:
            if self._done():
                connection.unsubscribe(self._subscription)
            if self._done() or connection.closed:
                self._give_back_slot()

    def _done(self) -> bool:
        return self._completed is not None

    def _see(self, event: Notification, typed: bool = False) -> tuple[bool, Any]:
        """Show ``event`` to the observers and record it; at the turn's end, keep the turn.

        Returns whether ``event`` ended the turn, and its typed model when ``typed`` or
        recorded (``None``: a line that proved not to be JSON, skipped and counted once).
        """
        # Called once per delta: attribute chains are read once, into locals.
        codex = self.thread.codex
        for observe in codex.turn_observers:
            observe(event)
        model = None
        turn_id = self.turn.id
        recorded = event.method in RECORDED and event.turn_id == turn_id
        if typed or recorded:
            model = typed_or_skip(event, codex.client.connection)
            if recorded and model is not None:
                self._record.observe(model)
        if is_turn_end(event, turn_id):
            self._completed = self._record.complete(completed_turn(event))
            return True, model
        return False, model

    def _give_back_slot(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot()

    async def _stop(self, error: BoundExceededError) -> NoReturn:
        """Interrupt the turn for a bound, wait briefly for its end, and raise ``error``.

        The answer to ``turn/interrupt`` and the turn's end share one wait (``interrupt_grace``);
        whatever happens meanwhile, ``error`` is what is raised.
        """
        client = self.thread.codex.client
        grace = interrupt_grace(client.config.request_timeout)
        deadline = time.monotonic() + grace
        failure: CodexError | None = None
        try:
            if not client.connection.closed:
                await client.request(
                    "turn/interrupt",
                    {"threadId": self.thread.id, "turnId": self.id},
                    timeout=grace,
                )
        except CodexError as exc:  # ended meanwhile, or no answer: the bound's error still wins
            failure = exc
        try:
            while self._completed is None and not client.connection.closed:
                wait = max(0.0, deadline - time.monotonic())
                self._see(await self._subscription.sink.get(wait))
        except CodexError as exc:  # no confirmation in time, or the connection closed
            failure = failure or exc
        finally:
            self._give_back_slot()
        error._settle(self._completed, grace)
        raise error from failure

    async def interrupt(self) -> None:
        """Ask the server to stop the turn (it still ends with ``turn/completed``)."""
        client = self.thread.codex.client
        if self._completed is None and not client.connection.closed:
            await client.turn_interrupt(thread_id=self.thread.id, turn_id=self.id)

    async def _join(self, message: ExternalMessage) -> None:
        if self._completed is not None:
            raise not_joined(self.id)
        client = self.thread.codex.client
        connection = client.connection
        watch = connection.subscribe(self.thread.id)
        try:
            reply = await client.turn_start(**external_join_params(self.thread.id, message))
            started = reply.turn.id
            if started == self.id:
                return
            # The turn had ended, so the server started another that nobody reads: stop it
            # once it runs (an interrupt before its turn/started finds no turn to stop).
            deadline = time.monotonic() + interrupt_grace(client.config.request_timeout)
            with contextlib.suppress(RequestTimeoutError):
                while not is_turn_start(
                    await watch.sink.get(max(0.0, deadline - time.monotonic())), started
                ):
                    pass
            with contextlib.suppress(JsonRpcError):
                await client.turn_interrupt(thread_id=self.thread.id, turn_id=started)
            raise not_joined(self.id, started)
        finally:
            connection.unsubscribe(watch)

    async def steer(self, input: Input) -> None:
        """Add input to the running turn; an :class:`~codex_app_server.ExternalMessage`
        joins it as a tool's output."""
        if isinstance(input, ExternalMessage):
            await self._join(input)
            return
        await self.thread.codex.client.turn_steer(
            thread_id=self.thread.id,
            expected_turn_id=self.id,
            input=cast(Any, to_wire_input(input)),
        )
