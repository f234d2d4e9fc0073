"""The synchronous user API: :class:`Codex`, :class:`Thread` and :class:`TurnHandle`.

A thin layer over the typed client: it returns the generated models themselves, adds the
objects people reason with (a thread, a running turn), and keeps a turn's events apart from
every other thread's. :mod:`codex_app_server.async_api` is its asyncio twin.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast, overload

from . import account as sign_in
from ._client import CodexClient
from ._connection import AnyConnection, Inbox
from ._handlers import HandlerTable, ServerRequestHandler
from ._protocol import Notification, Subscription, excerpt
from ._turns import (
    RECORDED,
    OutputSchema,
    TurnRecord,
    TurnSummary,
    check_turn,
    completed_turn,
    is_turn_end,
    is_turn_start,
    parse_output,
    turn_params,
    typed,
)
from .approvals import (
    ApprovalHandler,
    approval_handlers,
    refuse_async,
    set_thread_approval_handler,
)
from .bounds import (
    BoundExceededError,
    BoundsClock,
    TurnBounds,
    interrupt_grace,
    next_wait,
    with_timeout,
)
from .config import CodexConfig
from .errors import CodexError, JsonRpcError, RequestTimeoutError, ThreadNotFoundError
from .inputs import ExternalMessage, Input, external_join_params, not_joined, to_wire_input
from .presets import ApprovalModeLike, SandboxLike, thread_presets, turn_presets
from .rules import wants_watch, watch_turn

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .account import ChatgptLoginHandle, DeviceCodeLoginHandle
    from .generated import (
        GetAccountResponse,
        InitializeResponse,
        ModelListResponse,
        ThreadGoal,
        ThreadGoalStatus,
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


def typed_or_skip(event: Notification, connection: AnyConnection) -> Any:
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
                "skipped a message from the app-server: not JSON: %s: %s", exc, excerpt(event.raw)
            )
            return None
        raise  # valid JSON that typed() still refused is a bug to see, not line noise to skip


def thread_not_found(exc: JsonRpcError, thread_id: str) -> JsonRpcError:
    """``exc`` as a :class:`~codex_app_server.ThreadNotFoundError` when it says the thread
    does not exist (the server has no typed code for that, only its message)."""
    if isinstance(exc, ThreadNotFoundError) or not any(
        marker in exc.message for marker in _NOT_FOUND_MARKERS
    ):
        return exc
    return ThreadNotFoundError(
        exc.code, exc.message, exc.data, method=exc.method, thread_id=thread_id
    )


#: How the server words "no such thread" (``thread/resume`` and ``thread/fork``, 0.169.0).
_NOT_FOUND_MARKERS = ("no rollout found",)


def structured_model(output_schema: OutputSchema | None) -> type[BaseModel] | None:
    """The pydantic model class given as ``output_schema``, if it is one."""
    return None if output_schema is None or isinstance(output_schema, Mapping) else output_schema


def parse_with(turn: Turn, given: type[ModelT] | None, remembered: type[BaseModel] | None) -> Any:
    """``parse_output`` with ``run_parsed``'s model: the one given, else the turn's schema's."""
    model = given or remembered
    if model is None:
        raise TypeError(
            "run_parsed() needs the model: give it (run_parsed(Model)) or start the turn with "
            "output_schema=Model"
        )
    return parse_output(turn, model)


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
        for handler in (approval_handler, *(handlers or {}).values()):
            refuse_async(handler)  # nothing on the sync client's worker threads can await
        #: The typed client underneath: one method per protocol request, for what this API
        #: does not cover.
        self.client = CodexClient(
            make_config(config, options), handlers=make_handlers(approval_handler, handlers)
        )
        if self.client.config.require_sign_in:
            try:
                sign_in.ensure_signed_in(self.client)
            except BaseException:
                self.client.close()
                raise
        #: The client-wide approval handler (approval rules read turns' file changes).
        self.approval_handler = approval_handler
        #: Functions shown every event a turn handle reads (telemetry uses this).
        self.turn_observers: list[Callable[[Notification], None]] = []
        cap = self.client.config.max_concurrent_turns
        # Turns past the cap wait in turn() for a running one to end (see TurnHandle).
        self._turn_slots = None if cap is None else threading.BoundedSemaphore(cap)

    @property
    def metadata(self) -> InitializeResponse:
        """The server's ``initialize`` response (user agent, ``CODEX_HOME``, platform)."""
        return self.client.initialize_response

    def login_api_key(self, api_key: str) -> None:
        """Sign the app-server in with an OpenAI API key; it is stored in ``CODEX_HOME``.

        The key is sent on the server's stdin only, and never logged, shown or quoted in an
        error. Raises :class:`~codex_app_server.LoginFailedError` if the server refuses it.
        """
        sign_in.login_api_key(self.client, api_key)

    def login_chatgpt(self) -> ChatgptLoginHandle:
        """Start a browser sign-in with ChatGPT; open the handle's ``auth_url``, then ``wait()``."""
        return sign_in.login_chatgpt(self.client)

    def login_chatgpt_device_code(self) -> DeviceCodeLoginHandle:
        """Start a device-code sign-in with ChatGPT; show the handle's ``verification_url``
        and ``user_code``, then ``wait()``. Without a network it fails at once
        (:class:`~codex_app_server.LoginFailedError`)."""
        return sign_in.login_chatgpt_device_code(self.client)

    def account(self, *, refresh_token: bool = False) -> GetAccountResponse:
        """The sign-in the app-server has (``account``, ``None`` when signed out) and whether
        its model provider needs one (``requires_openai_auth``)."""
        return self.client.account_read(refresh_token=refresh_token or None)

    def logout(self) -> None:
        """Forget the stored sign-in (``CODEX_HOME``'s credentials)."""
        self.client.account_logout()

    def thread_start(
        self,
        *,
        approval_handler: ApprovalHandler | None = None,
        tools: Sequence[Tool | ToolFunction] = (),
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> Thread:
        """Start a new thread; ``params`` are ``thread/start``'s fields in snake_case.

        ``tools`` are functions the model may call (see :func:`~codex_app_server.tool`); they
        need ``experimental_api=True``. ``approval_mode`` and ``sandbox`` are named presets
        (:class:`~codex_app_server.ApprovalMode`, :class:`~codex_app_server.Sandbox`).
        """
        params = thread_presets(params, approval_mode, sandbox)
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
        self,
        thread_id: str,
        *,
        approval_handler: ApprovalHandler | None = None,
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> Thread:
        """Load a stored thread so new turns can run on it (presets as in ``thread_start``).

        Raises :class:`~codex_app_server.ThreadNotFoundError` if there is no such thread.
        """
        params = thread_presets(params, approval_mode, sandbox)
        try:
            response = self.client.thread_resume(thread_id=thread_id, **params)
        except JsonRpcError as exc:
            raise thread_not_found(exc, thread_id) from None
        return Thread(self, response.thread, approval_handler)

    def thread_fork(
        self,
        thread_id: str,
        *,
        approval_handler: ApprovalHandler | None = None,
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        **params: Any,
    ) -> Thread:
        """Copy a thread's history into a new thread (presets as in ``thread_start``).

        Raises :class:`~codex_app_server.ThreadNotFoundError` if there is no such thread.
        """
        params = thread_presets(params, approval_mode, sandbox)
        try:
            response = self.client.thread_fork(thread_id=thread_id, **params)
        except JsonRpcError as exc:
            raise thread_not_found(exc, thread_id) from None
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
        refuse_async(handler)
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
        approval_mode: ApprovalModeLike | None = None,
        sandbox: SandboxLike | None = None,
        include_subagents: bool = False,
        **params: Any,
    ) -> TurnHandle:
        """Start a turn and return its handle; ``params`` are ``turn/start``'s in snake_case.

        A pydantic model as ``output_schema`` is sent as its strict schema
        (:func:`~codex_app_server.strict_schema`) and remembered by :meth:`TurnHandle.run_parsed`.
        With ``max_concurrent_turns`` set, this waits while that many turns are running.
        ``approval_mode`` and ``sandbox`` are named presets; like the wire overrides, they hold
        for later turns of the thread too.
        ``include_subagents``: the handle's :meth:`~TurnHandle.stream` also yields the events
        of the sub-agent threads spawned during the turn (and theirs), each naming its
        ``thread_id``; the stream still ends with this turn's ``turn/completed``.
        """
        params = turn_presets(params, approval_mode, sandbox)
        wire_params = turn_params(self.id, input, output_schema, params)
        slots = self.codex._turn_slots
        if slots is not None:
            slots.acquire()
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
            if slots is not None:
                slots.release()
            raise
        connection.narrow(subscription, response.turn.id)
        if watch:
            connection.narrow(watch, response.turn.id)
            watch_turn(watch.sink, self.id, response.turn.id)
        handle = TurnHandle(self, response.turn, subscription)
        handle._model = structured_model(output_schema)
        handle._slot = None if slots is None else slots.release
        return handle

    def run(
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
        :meth:`TurnHandle.run`)."""
        handle = self.turn(
            input,
            output_schema=output_schema,
            approval_mode=approval_mode,
            sandbox=sandbox,
            **params,
        )
        return handle.run(timeout=timeout, bounds=bounds)

    def run_parsed(
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
        handle = self.turn(input, output_schema=model, **params)
        parsed: ModelT = handle.run_parsed(model, timeout=timeout, bounds=bounds)
        return parsed

    def goal(self) -> ThreadGoal | None:
        """The thread's goal (``thread/goal/get``), or ``None`` if it has none."""
        return self.codex.client.thread_goal_get(thread_id=self.id).goal

    def set_goal(
        self,
        objective: str | None = None,
        *,
        status: ThreadGoalStatus | str | None = None,
        token_budget: int | None = None,
    ) -> ThreadGoal:
        """Set or update the thread's goal and return it; omitted fields keep their value.

        Changes arrive as ``thread/goal/updated`` notifications in a running turn's stream.
        """
        return self.codex.client.thread_goal_set(
            thread_id=self.id, objective=objective, status=status, token_budget=token_budget
        ).goal

    def clear_goal(self) -> bool:
        """Remove the thread's goal; ``False`` if it had none."""
        return self.codex.client.thread_goal_clear(thread_id=self.id).cleared

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
    Under ``max_concurrent_turns`` the handle holds one of the client's slots until
    :meth:`run` or :meth:`stream` has seen the turn end, or a bound, Ctrl-C or a closed
    connection stopped it: consume every handle you start.
    """

    def __init__(self, thread: Thread, turn: Turn, subscription: Subscription[Inbox]) -> None:
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

        Its ``items`` are every item the turn completed (messages, reasoning, commands, file
        changes, tool calls), in order. Raises :class:`~codex_app_server.TurnFailedError` if
        the turn failed. ``timeout`` bounds the whole turn: when it passes, the turn is
        interrupted and :class:`~codex_app_server.TurnTimeLimitError` (a
        ``RequestTimeoutError``) is raised. ``bounds`` adds inactivity and token limits;
        each raises its :class:`~codex_app_server.BoundExceededError`.
        """
        for _ in self._events(None, with_timeout(bounds, timeout)):
            pass
        assert self._completed is not None
        return check_turn(self._completed)

    @overload
    def run_parsed(
        self, model: type[ModelT], *, timeout: float | None = ..., bounds: TurnBounds | None = ...
    ) -> ModelT: ...

    @overload
    def run_parsed(
        self, model: None = ..., *, timeout: float | None = ..., bounds: TurnBounds | None = ...
    ) -> Any: ...

    def run_parsed(
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
        return parse_with(self.run(timeout=timeout, bounds=bounds), model, self._model)

    def summary(self) -> TurnSummary:
        """The finished turn at a glance: final text, status, error, token usage, timings.

        Call it after :meth:`run` or :meth:`stream` saw the turn end (also when ``run()``
        raised ``TurnFailedError``); raises :class:`~codex_app_server.CodexError` before.
        """
        if self._completed is None:
            raise CodexError(
                f"turn {self.id} has not finished: call run() or read stream() to its end first"
            )
        return self._record.summary(self._completed)

    def _events(
        self, timeout: float | None, bounds: TurnBounds | None, *, typed: bool = False
    ) -> Iterator[Any]:
        # One generator between the inbox and the caller, typing the events itself when asked
        # (stream()); an event that has arrived already is taken without the wait machinery.
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
                        event = inbox.get(next_wait(timeout, clock, time.monotonic()))
                    except RequestTimeoutError:
                        exceeded = clock.expired(time.monotonic()) if clock else None
                        if exceeded is None:
                            raise
                        self._stop(exceeded)
                end, model = self._see(event, typed)
                if clock is not None and (exceeded := clock.observe(event, time.monotonic())):
                    self._stop(exceeded)
                if not typed:
                    yield event
                elif model is not None:
                    yield model
                if end:
                    return
        except KeyboardInterrupt:
            try:
                self.interrupt()
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
        for observe in self.thread.codex.turn_observers:
            observe(event)
        model = None
        recorded = event.method in RECORDED and event.turn_id == self.id
        if typed or recorded:
            model = typed_or_skip(event, self.thread.codex.client.connection)
            if recorded and model is not None:
                self._record.observe(model)
        if is_turn_end(event, self.id):
            self._completed = self._record.complete(completed_turn(event))
            return True, model
        return False, model

    def _give_back_slot(self) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot()

    def _stop(self, error: BoundExceededError) -> NoReturn:
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
                client.request(
                    "turn/interrupt",
                    {"threadId": self.thread.id, "turnId": self.id},
                    timeout=grace,
                )
        except CodexError as exc:  # ended meanwhile, or no answer: the bound's error still wins
            failure = exc
        try:
            while self._completed is None and not client.connection.closed:
                self._see(self._subscription.sink.get(max(0.0, deadline - time.monotonic())))
        except CodexError as exc:  # no confirmation in time, or the connection closed
            failure = failure or exc
        finally:
            self._give_back_slot()
        error._settle(self._completed, grace)
        raise error from failure

    def interrupt(self) -> None:
        """Ask the server to stop the turn (it still ends with ``turn/completed``)."""
        if self._completed is None and not self.thread.codex.client.connection.closed:
            self.thread.codex.client.turn_interrupt(thread_id=self.thread.id, turn_id=self.id)

    def _join(self, message: ExternalMessage) -> None:
        if self._completed is not None:
            raise not_joined(self.id)
        client = self.thread.codex.client
        connection = client.connection
        watch = connection.subscribe(self.thread.id)
        try:
            started = client.turn_start(**external_join_params(self.thread.id, message)).turn.id
            if started == self.id:
                return
            # The turn had ended, so the server started another that nobody reads: stop it
            # once it runs (an interrupt before its turn/started finds no turn to stop).
            deadline = time.monotonic() + interrupt_grace(client.config.request_timeout)
            with contextlib.suppress(RequestTimeoutError):
                while not is_turn_start(
                    watch.sink.get(max(0.0, deadline - time.monotonic())), started
                ):
                    pass
            with contextlib.suppress(JsonRpcError):
                client.turn_interrupt(thread_id=self.thread.id, turn_id=started)
            raise not_joined(self.id, started)
        finally:
            connection.unsubscribe(watch)

    def steer(self, input: Input) -> None:
        """Add input to the running turn; an :class:`~codex_app_server.ExternalMessage`
        joins it as a tool's output."""
        if isinstance(input, ExternalMessage):
            self._join(input)
            return
        self.thread.codex.client.turn_steer(
            thread_id=self.thread.id,
            expected_turn_id=self.id,
            input=cast(Any, to_wire_input(input)),
        )
