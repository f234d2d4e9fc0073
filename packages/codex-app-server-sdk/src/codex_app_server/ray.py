"""Run many Codex turns on a Ray cluster: actors that own app-servers, batches, Ray Data.

Needs the ``ray`` extra (``pip install 'codex-app-server-sdk[ray]'``); ``import
codex_app_server`` never imports Ray.

- :class:`CodexActor`: a Ray actor class owning one :class:`~codex_app_server.AsyncCodex`
  that runs up to ``turns`` turns at once, each on a new thread.
- :class:`CodexActorPool`: runs :class:`CodexTask` s over N such actors and returns one
  :class:`TaskResult` per task, in input order (:meth:`~CodexActorPool.map`) or as they finish
  (:meth:`~CodexActorPool.map_unordered`). A task's failure is recorded in its result; a task
  whose actor or app-server died is retried elsewhere.
- :class:`CodexBatchMapper`: a callable class for ``Dataset.map_batches`` that turns a column
  of prompts into result columns.

Secrets never travel with the work: a :class:`~codex_app_server.CodexConfig` with ``env``
values is refused. Credentials reach workers through Ray's runtime environment
(``runtime_env={"env_vars": ...}``) or the node's own environment and ``CODEX_HOME``;
``forward_env`` names the variables to pass on when ``inherit_env=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

try:
    import ray
    from ray.exceptions import RayActorError, RayError
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        "codex_app_server.ray needs Ray: install the extra with "
        "`pip install 'codex-app-server-sdk[ray]'`"
    ) from exc

from ._async.api import AsyncCodex
from ._turns import OutputSchema, final_text, status_of
from .bounds import BoundExceededError, TurnBounds
from .config import CodexConfig
from .errors import TransportClosedError, TurnFailedError
from .inputs import Input

if TYPE_CHECKING:
    from ._protocol import Notification
    from .generated import Turn

__all__ = [
    "CodexActor",
    "CodexActorPool",
    "CodexBatchMapper",
    "CodexTask",
    "TaskResult",
    "run_batch",
]

#: ``TaskResult.error_type`` of a task whose actor or app-server died under it (retried).
_LOST = frozenset({"TransportClosedError", "ActorDiedError"})

#: Seconds an actor gets to stop its app-server at shutdown before it is killed.
_CLOSE_GRACE = 30.0

#: The token counts of a result's ``usage``, by their names on the wire.
_USAGE_FIELDS = {
    "inputTokens": "input_tokens",
    "cachedInputTokens": "cached_input_tokens",
    "outputTokens": "output_tokens",
    "reasoningOutputTokens": "reasoning_output_tokens",
    "totalTokens": "total_tokens",
}


@dataclass(frozen=True)
class CodexTask:
    """One turn to run on a new thread.

    ``input``: a prompt or input items (see :mod:`codex_app_server.inputs`). ``cwd``: the
    thread's working directory on the worker (default: the pool's fresh workspace, if asked
    for, else the app-server's). ``model``: the model for this thread. ``output_schema``: a
    JSON Schema dict or pydantic model class; the result's ``output`` is then the final
    message parsed (a ``dict`` for a schema, a model instance for a class). ``bounds``: the
    turn's :class:`~codex_app_server.TurnBounds` (default: the pool's).
    """

    input: Input
    cwd: str | os.PathLike[str] | None = None
    model: str | None = None
    output_schema: OutputSchema | None = None
    bounds: TurnBounds | None = None


@dataclass(frozen=True)
class TaskResult:
    """What became of one :class:`CodexTask`.

    ``index``: the task's position in the input. ``status``: the turn's final status
    (``"completed"``, ``"failed"``, ``"interrupted"``), or ``"error"`` when no turn ended (the
    app-server or actor was lost, a bound was hit, bad input). ``text``: the final agent
    message. ``output``: the parsed structured output when the task gave ``output_schema``.
    ``error`` and ``error_type``: why it did not complete. ``usage``: the thread's token counts
    (``input_tokens``, ``cached_input_tokens``, ``output_tokens``,
    ``reasoning_output_tokens``, ``total_tokens``). ``attempts``: how many times it ran (more
    than one when an actor or app-server died under it).
    """

    index: int
    status: str
    text: str | None = None
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    thread_id: str | None = None
    turn_id: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """Whether the turn completed (and its structured output, if asked for, parsed)."""
        return self.status == "completed" and self.error is None


def _as_task(task: CodexTask | Input) -> CodexTask:
    return task if isinstance(task, CodexTask) else CodexTask(task)


def _portable(config: CodexConfig) -> CodexConfig:
    """``config`` if it can be sent to workers as it is; else a clear error."""
    if config.url is not None:
        raise ValueError(
            "codex_app_server.ray starts an app-server in each worker; a CodexConfig with url= "
            "(a remote app-server) does not apply, leave url unset"
        )
    if config.env:
        raise ValueError(
            "CodexConfig.env would travel with its values to every worker; set secrets in the "
            "workers' environment instead (runtime_env={'env_vars': {...}} in ray.init or "
            "actor_options/ray_remote_args, or the node's own environment and CODEX_HOME) and "
            "name what to pass on with forward_env=[...] when inherit_env=False"
        )
    return config


def _worker_config(config: CodexConfig, forward_env: Sequence[str]) -> CodexConfig:
    """``config`` with the named variables of this worker's environment as its ``env``."""
    if isinstance(forward_env, str):
        raise TypeError("forward_env must be a list of environment variable names")
    missing = [name for name in forward_env if name not in os.environ]
    if missing:
        raise ValueError(
            f"forward_env names {', '.join(missing)}, not set in this worker's environment; "
            "set them with runtime_env={'env_vars': {...}} or on the node"
        )
    return replace(config, env={name: os.environ[name] for name in forward_env})


def _usage(params: Mapping[str, Any]) -> dict[str, int]:
    usage = params.get("tokenUsage")
    total = usage.get("total") if isinstance(usage, Mapping) else None
    if not isinstance(total, Mapping):
        return {}
    return {name: int(total.get(wire) or 0) for wire, name in _USAGE_FIELDS.items()}


def _parse(text: str | None, schema: OutputSchema) -> Any:
    """The final message parsed as the schema's JSON (validated into a pydantic class)."""
    if text is None:
        raise ValueError("the turn sent no agent message to parse as structured output")
    validate = getattr(schema, "model_validate_json", None)
    return validate(text) if validate is not None else json.loads(text)


class _TurnRunner:
    """One ``AsyncCodex`` on this worker's loop, running tasks as turns on new threads.

    Shared by :class:`CodexActor` and :class:`CodexBatchMapper`. The app-server starts on the
    first task and is started again after it died.
    """

    def __init__(
        self,
        config: CodexConfig,
        *,
        turns: int,
        fresh_workspace: bool,
        forward_env: Sequence[str],
        bounds: TurnBounds | None,
    ) -> None:
        if turns < 1:
            raise ValueError(f"turns must be at least 1, not {turns!r}")
        self._config = _portable(config)
        self._forward_env = tuple(forward_env)
        self._turns = turns
        self._fresh_workspace = fresh_workspace
        self._bounds = bounds
        self._codex: AsyncCodex | None = None
        self._usage: dict[str, dict[str, int]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._start_lock: asyncio.Lock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Task[None] | None = None

    def _observe(self, event: Notification) -> None:
        if event.method == "thread/tokenUsage/updated" and event.thread_id:
            usage = _usage(event.params)
            if usage:
                self._usage[event.thread_id] = usage

    async def codex(self) -> AsyncCodex:
        """The started app-server client, started now if there is none."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._codex is None:
                codex = AsyncCodex(_worker_config(self._config, self._forward_env))
                codex.turn_observers.append(self._observe)
                try:
                    await codex.start()
                except BaseException:
                    await codex.close()
                    raise
                self._codex = codex
            return self._codex

    async def _drop(self, codex: AsyncCodex) -> None:
        # Several turns see the same dead server; only the first replaces it.
        if self._codex is codex:
            self._codex = None
        await codex.close()

    async def run(self, task: CodexTask, index: int) -> TaskResult:
        """Run ``task`` as one turn on a new thread; every failure is in the result."""
        self.loop = asyncio.get_running_loop()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._turns)
        async with self._slots:
            workspace = None
            if task.cwd is None and self._fresh_workspace:
                workspace = tempfile.mkdtemp(prefix="codex-task-")
            try:
                return await self._run(task, index, workspace)
            finally:
                if workspace is not None:
                    shutil.rmtree(workspace, ignore_errors=True)

    async def _run(self, task: CodexTask, index: int, workspace: str | None) -> TaskResult:
        codex: AsyncCodex | None = None
        thread_id = None
        turn: Turn | None = None
        error: BaseException | None = None
        try:
            codex = await self.codex()
            cwd = task.cwd if task.cwd is not None else workspace
            thread = await codex.thread_start(
                cwd=None if cwd is None else os.fspath(cwd), model=task.model
            )
            thread_id = thread.id
            bounds = task.bounds if task.bounds is not None else self._bounds
            turn = await thread.run(task.input, output_schema=task.output_schema, bounds=bounds)
        except TurnFailedError as exc:
            turn, error = exc.turn, exc
        except BoundExceededError as exc:
            turn, error = exc.turn, exc
        except TransportClosedError as exc:
            error = exc
            if codex is not None:
                await self._drop(codex)
        except Exception as exc:
            error = exc
        usage = self._usage.pop(thread_id, {}) if thread_id else {}
        text = None if turn is None else final_text(turn)
        output = None
        if error is None and task.output_schema is not None:
            try:
                output = _parse(text, task.output_schema)
            except ValueError as exc:
                error = exc
        return TaskResult(
            index=index,
            status="error" if turn is None else status_of(turn),
            text=text,
            output=output,
            error=None if error is None else str(error),
            error_type=None if error is None else type(error).__name__,
            usage=usage,
            thread_id=thread_id,
            turn_id=None if turn is None else turn.id,
        )

    async def close(self) -> None:
        """Stop the app-server, if one runs."""
        codex, self._codex = self._codex, None
        if codex is not None:
            await codex.close()

    def close_from_outside(self, timeout: float) -> None:
        """Stop the app-server from a thread other than its loop's (actor and mapper exit)."""
        loop = self.loop
        if loop is None or self._codex is None or loop.is_closed():
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            # Called on the loop itself: waiting here would block the close it waits for.
            self._closing = loop.create_task(self.close())
        elif loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout)
        else:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self.close())


class CodexActor:
    """The Ray actor class that owns one app-server (create it through :class:`CodexActorPool`,
    or with ``ray.remote(CodexActor).options(max_concurrency=turns + 1).remote(config)``).

    ``config``: how to start ``codex app-server`` on the worker (no ``env`` values: see the
    module's notes on secrets). ``turns``: how many turns run at once. ``fresh_workspace``:
    give each task without a ``cwd`` a new temporary directory as its thread's working
    directory, removed after the turn. ``forward_env``: names of this worker's environment
    variables to give the app-server (with ``inherit_env=False``). ``bounds``: the
    :class:`~codex_app_server.TurnBounds` of tasks that bring none.
    """

    def __init__(
        self,
        config: CodexConfig,
        *,
        turns: int = 4,
        fresh_workspace: bool = False,
        forward_env: Sequence[str] = (),
        bounds: TurnBounds | None = None,
    ) -> None:
        self._runner = _TurnRunner(
            config,
            turns=turns,
            fresh_workspace=fresh_workspace,
            forward_env=forward_env,
            bounds=bounds,
        )

    async def start(self) -> int:
        """Start the app-server now (if none runs) and return its process id."""
        codex = await self._runner.codex()
        return codex.client.connection.pid

    async def run(self, task: CodexTask, index: int = 0) -> TaskResult:
        """Run one task; its failure is recorded in the result, never raised."""
        return await self._runner.run(task, index)

    async def close(self) -> None:
        """Stop the app-server (the next task starts a new one)."""
        await self._runner.close()

    def __ray_shutdown__(self) -> None:
        # Ray calls this when the actor exits gracefully (its handles are gone).
        self._runner.close_from_outside(_CLOSE_GRACE)


@dataclass
class _Slot:
    """A live actor and the number of its tasks in flight."""

    handle: Any
    running: int = 0


@dataclass
class _Pending:
    index: int
    task: CodexTask
    attempts: int = 0


class CodexActorPool:
    """``actors`` :class:`CodexActor` s running batches of :class:`CodexTask` s.

    ``config``, ``turns`` (per actor), ``fresh_workspace``, ``forward_env``, ``bounds``: as for
    :class:`CodexActor`. ``max_attempts``: how many times a task runs when its actor or
    app-server dies under it before it is recorded as failed with the cause.
    ``max_actor_restarts``: how many dead actors are replaced by new ones over the pool's life
    (default: ``actors``). ``actor_options``: Ray options for the actors (``num_cpus``,
    ``runtime_env``, ``resources``, ``scheduling_strategy``...; ``num_cpus`` defaults to 1).

    Use it as a context manager, or call :meth:`shutdown`, so no app-server outlives it.
    """

    def __init__(
        self,
        config: CodexConfig,
        *,
        actors: int = 2,
        turns: int = 4,
        fresh_workspace: bool = False,
        forward_env: Sequence[str] = (),
        bounds: TurnBounds | None = None,
        max_attempts: int = 3,
        max_actor_restarts: int | None = None,
        actor_options: Mapping[str, Any] | None = None,
    ) -> None:
        if actors < 1:
            raise ValueError(f"actors must be at least 1, not {actors!r}")
        if turns < 1:
            raise ValueError(f"turns must be at least 1, not {turns!r}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts!r}")
        config = _portable(config)
        options: dict[str, Any] = {"num_cpus": 1, **(actor_options or {})}
        # Room for every turn plus the control calls (start, close) beside them.
        options.setdefault("max_concurrency", turns + 2)
        self._actor_class = ray.remote(CodexActor).options(**options)
        self._arguments = (
            (config,),
            {
                "turns": turns,
                "fresh_workspace": fresh_workspace,
                "forward_env": tuple(forward_env),
                "bounds": bounds,
            },
        )
        self.turns = turns
        self.max_attempts = max_attempts
        self._restarts_left = actors if max_actor_restarts is None else max_actor_restarts
        self._slots = [_Slot(self._new_actor()) for _ in range(actors)]
        self._closed = False

    def _new_actor(self) -> Any:
        args, kwargs = self._arguments
        return self._actor_class.remote(*args, **kwargs)

    @property
    def actors(self) -> list[Any]:
        """The handles of the live actors."""
        return [slot.handle for slot in self._slots]

    def start(self) -> None:
        """Start every actor's app-server now (otherwise each starts on its first task)."""
        ray.get([slot.handle.start.remote() for slot in self._slots])

    def map(
        self, tasks: Iterable[CodexTask | Input], *, progress: bool = False
    ) -> list[TaskResult]:
        """Run ``tasks`` (tasks, or prompts) and return their results in input order."""
        results = list(self.map_unordered(tasks, progress=progress))
        results.sort(key=lambda result: result.index)
        return results

    def map_unordered(
        self, tasks: Iterable[CodexTask | Input], *, progress: bool = False
    ) -> Iterator[TaskResult]:
        """Yield one result per task as each finishes (``index`` says which task it was).

        The iterable is read as actors have room, so it may be long or endless. ``progress``
        shows a tqdm bar with the counts done, failed and running.
        """
        if self._closed:
            raise RuntimeError("this CodexActorPool was shut down; create a new one")
        total = len(tasks) if isinstance(tasks, Sized) else None
        bar = _Progress(total) if progress else None
        try:
            for result in self._schedule(enumerate(tasks)):
                if bar is not None:
                    bar.finished(result, running=sum(slot.running for slot in self._slots))
                yield result
        finally:
            if bar is not None:
                bar.close()

    def _schedule(self, tasks: Iterator[tuple[int, CodexTask | Input]]) -> Iterator[TaskResult]:
        retry: deque[_Pending] = deque()
        in_flight: dict[Any, tuple[_Slot, _Pending]] = {}
        exhausted = False
        while True:
            for slot in self._slots:
                while slot.running < self.turns:
                    if retry:
                        pending = retry.popleft()
                    elif not exhausted:
                        try:
                            index, task = next(tasks)
                        except StopIteration:
                            exhausted = True
                            break
                        pending = _Pending(index, _as_task(task))
                    else:
                        break
                    pending.attempts += 1
                    in_flight[slot.handle.run.remote(pending.task, pending.index)] = (slot, pending)
                    slot.running += 1
            if not in_flight:
                if retry or not exhausted:
                    yield from self._abandon(retry, tasks)
                return
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                slot, pending = in_flight.pop(ref)
                slot.running -= 1
                try:
                    result = replace(ray.get(ref), attempts=pending.attempts)
                except RayActorError as exc:
                    self._replace(slot)
                    result = _lost(pending, exc)
                except RayError as exc:
                    result = _lost(pending, exc)
                if result.error_type in _LOST and pending.attempts < self.max_attempts:
                    retry.append(pending)
                else:
                    yield result

    def _replace(self, slot: _Slot) -> None:
        """Take a dead actor out of the pool; start a new one while restarts are left."""
        if slot not in self._slots:
            return
        self._slots.remove(slot)
        with contextlib.suppress(Exception):
            ray.kill(slot.handle)
        if self._restarts_left > 0:
            self._restarts_left -= 1
            self._slots.append(_Slot(self._new_actor()))

    def _abandon(
        self, retry: deque[_Pending], tasks: Iterator[tuple[int, CodexTask | Input]]
    ) -> Iterator[TaskResult]:
        """Results for the tasks left when every actor is gone and none may be restarted."""
        cause = "every actor of the pool died and max_actor_restarts is used up"
        for pending in retry:
            yield _lost(pending, RuntimeError(cause))
        for index, task in tasks:
            yield _lost(_Pending(index, _as_task(task)), RuntimeError(cause))

    def shutdown(self) -> None:
        """Stop every app-server and actor; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        handles = [slot.handle for slot in self._slots]
        self._slots = []
        closing = [handle.close.remote() for handle in handles]
        # A dead or stuck actor must not hold up the others' shutdown.
        ray.wait(closing, num_returns=len(closing), timeout=_CLOSE_GRACE)
        for handle in handles:
            with contextlib.suppress(Exception):
                ray.kill(handle)

    def __enter__(self) -> CodexActorPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _lost(pending: _Pending, exc: BaseException) -> TaskResult:
    """The result of a task whose actor died (or that never reached one)."""
    name = "ActorDiedError" if isinstance(exc, RayActorError) else type(exc).__name__
    return TaskResult(
        index=pending.index,
        status="error",
        error=f"{exc} (after {pending.attempts} attempt(s))",
        error_type=name,
        attempts=pending.attempts,
    )


class _Progress:
    """A tqdm bar counting finished tasks, with done, failed and running in its postfix."""

    def __init__(self, total: int | None) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]

        self._bar = tqdm(total=total, desc="codex", unit="task")
        self.done = self.failed = 0

    def finished(self, result: TaskResult, *, running: int) -> None:
        if result.ok:
            self.done += 1
        else:
            self.failed += 1
        self._bar.update(1)
        self._bar.set_postfix(done=self.done, failed=self.failed, running=running)

    def close(self) -> None:
        self._bar.close()


def run_batch(
    tasks: Iterable[CodexTask | Input],
    config: CodexConfig,
    *,
    actors: int = 2,
    turns: int = 4,
    progress: bool = False,
    **options: Any,
) -> list[TaskResult]:
    """Run ``tasks`` over a new :class:`CodexActorPool` and shut it down; results in order.

    ``options`` are the pool's other keyword arguments.
    """
    with CodexActorPool(config, actors=actors, turns=turns, **options) as pool:
        return pool.map(tasks, progress=progress)


class CodexBatchMapper:
    """A callable class for ``Dataset.map_batches``: prompts in, result columns out.

    ``ds.map_batches(CodexBatchMapper, fn_constructor_args=(config,), concurrency=N)`` runs N
    workers, each owning one app-server running up to ``turns`` turns at once. The batch keeps
    its columns and gains ``text``, ``status``, ``error``, ``thread_id``, ``input_tokens``,
    ``output_tokens``, ``total_tokens`` and, with ``output_schema``, ``output`` (the parsed
    structured output as a JSON string). ``prompt_column`` names the prompts; ``cwd_column``,
    if given, each row's working directory. ``model``, ``output_schema``, ``bounds``,
    ``fresh_workspace``, ``forward_env``: as for :class:`CodexTask` and :class:`CodexActor`.
    """

    def __init__(
        self,
        config: CodexConfig,
        *,
        prompt_column: str = "prompt",
        cwd_column: str | None = None,
        turns: int = 4,
        model: str | None = None,
        output_schema: OutputSchema | None = None,
        bounds: TurnBounds | None = None,
        fresh_workspace: bool = False,
        forward_env: Sequence[str] = (),
    ) -> None:
        self._runner = _TurnRunner(
            config,
            turns=turns,
            fresh_workspace=fresh_workspace,
            forward_env=forward_env,
            bounds=bounds,
        )
        self._prompt_column = prompt_column
        self._cwd_column = cwd_column
        self._model = model
        self._output_schema = output_schema
        # The app-server lives on this loop, in its own thread, across batches.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="codex-batch-mapper", daemon=True
        )
        self._thread.start()

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Run one turn per row and return the batch with the result columns added."""
        if self._prompt_column not in batch:
            raise KeyError(
                f"the batch has no {self._prompt_column!r} column (it has "
                f"{', '.join(map(repr, batch))}); pass prompt_column= to name the prompts"
            )
        prompts = [str(prompt) for prompt in batch[self._prompt_column]]
        cwds: list[Any] = (
            list(batch[self._cwd_column]) if self._cwd_column else [None] * len(prompts)
        )
        tasks = [
            CodexTask(prompt, cwd=cwd or None, model=self._model, output_schema=self._output_schema)
            for prompt, cwd in zip(prompts, cwds, strict=True)
        ]
        future = asyncio.run_coroutine_threadsafe(self._run_all(tasks), self._loop)
        results = future.result()
        columns: dict[str, Any] = {name: list(values) for name, values in batch.items()}
        columns["text"] = [result.text for result in results]
        columns["status"] = [result.status for result in results]
        columns["error"] = [result.error for result in results]
        columns["thread_id"] = [result.thread_id for result in results]
        for name in ("input_tokens", "output_tokens", "total_tokens"):
            columns[name] = [int(result.usage.get(name, 0)) for result in results]
        if self._output_schema is not None:
            columns["output"] = [_output_json(result.output) for result in results]
        return columns

    async def _run_all(self, tasks: list[CodexTask]) -> list[TaskResult]:
        return list(
            await asyncio.gather(*(self._runner.run(task, i) for i, task in enumerate(tasks)))
        )

    def close(self) -> None:
        """Stop the app-server and this mapper's loop; safe to call more than once."""
        if self._loop.is_closed():
            return
        self._runner.close_from_outside(_CLOSE_GRACE)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CLOSE_GRACE)
        if not self._thread.is_alive():
            self._loop.close()

    def __del__(self) -> None:
        # Ray Data drops the mapper when its worker exits gracefully.
        with contextlib.suppress(Exception):
            self.close()


def _output_json(output: Any) -> str | None:
    if output is None:
        return None
    dump = getattr(output, "model_dump_json", None)
    return dump() if dump is not None else json.dumps(output)
