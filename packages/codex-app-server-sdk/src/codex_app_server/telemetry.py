"""Telemetry: plain counters always, OpenTelemetry spans when ``opentelemetry-api`` is present.

::

    telemetry = Telemetry()          # spans too if the ``otel`` extra is installed
    codex = Codex()
    telemetry.instrument(codex)      # or AsyncCodex; instrument before starting turns
    ...
    telemetry.counters.snapshot()    # {"requests": 4, "turns_completed": 1, ...}

Each request gets a span ``codex.request`` (attributes ``rpc.method``, ``codex.outcome``) and
each turn a span ``codex.turn`` from ``turn/start`` to its ``turn/completed`` (attributes
``codex.thread_id``, ``codex.turn_id``, ``codex.outcome`` (the turn's status), and the turn's
``codex.tokens.input`` / ``.output`` / ``.total`` / ``.cached_input`` / ``.reasoning_output``
summed over its model calls). A turn span ends when its handle reads ``turn/completed`` (``run``
or ``stream``). Install the extra with ``pip install 'codex-app-server-sdk[otel]'``; without a
configured OpenTelemetry SDK the spans are the API's no-ops.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ._protocol import Notification

if TYPE_CHECKING:
    from ._hooks import SentRequest
    from ._protocol import Response

__all__ = ["Counters", "Telemetry"]

_TOKEN_FIELDS = {
    "inputTokens": "input",
    "outputTokens": "output",
    "totalTokens": "total",
    "cachedInputTokens": "cached_input",
    "reasoningOutputTokens": "reasoning_output",
}


@dataclass
class Counters:
    """Running totals for one :class:`Telemetry`; read them with :meth:`snapshot`."""

    requests: int = 0
    request_errors: int = 0
    turns_started: int = 0
    turns_completed: int = 0
    turns_failed: int = 0
    turns_interrupted: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _TurnSpan:
    """One turn being timed: its span (if tracing) and the tokens its model calls used."""

    __slots__ = ("span", "tokens")

    def __init__(self, span: Any) -> None:
        self.span = span
        self.tokens = dict.fromkeys(_TOKEN_FIELDS.values(), 0)


def _opentelemetry_trace() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


class Telemetry:
    """Counts requests, turns and tokens; with OpenTelemetry, also records spans.

    ``tracer``: the OpenTelemetry tracer to use; by default ``codex_app_server``'s tracer from
    the global provider when ``opentelemetry-api`` is importable. ``tracing=False`` keeps
    only the counters.
    """

    def __init__(self, *, tracer: Any = None, tracing: bool = True) -> None:
        self.counters = Counters()
        self._lock = threading.Lock()
        self._turns: dict[str, _TurnSpan] = {}
        #: The span of each request in flight.
        self._requests: dict[SentRequest, Any] = {}
        #: The ``opentelemetry.trace`` module, when tracing.
        self._trace: Any = _opentelemetry_trace() if tracing else None
        self.tracer: Any = None
        if self._trace is not None:
            self.tracer = tracer or self._trace.get_tracer("codex_app_server")

    @property
    def tracing(self) -> bool:
        """Whether spans are recorded (``opentelemetry-api`` is installed and not disabled)."""
        return self.tracer is not None

    def instrument(self, codex: Any) -> None:
        """Observe the requests and turns of ``codex`` (a ``Codex`` or an ``AsyncCodex``).

        Instrumenting the same client twice is refused: every request would count twice.
        """
        if self.observe in codex.turn_observers:
            raise ValueError("this client is already instrumented by this Telemetry")
        # Every request, typed or raw, passes the connection's request and reply hooks.
        hooks = codex.client.connection.hooks
        hooks.request.append(self._start_request)
        hooks.reply.append(self._end_request)
        codex.turn_observers.append(self.observe)

    # -- requests ---------------------------------------------------------------------------
    def _start_request(self, request: SentRequest) -> None:
        if self.tracer is not None:
            span = self.tracer.start_span(
                "codex.request", attributes={"rpc.method": request.method}
            )
            with self._lock:
                self._requests[request] = span

    def _end_request(
        self, request: SentRequest, reply: Response | None, error: BaseException | None
    ) -> None:
        method, params = request.method, request.params
        with self._lock:
            span = self._requests.pop(request, None)
            self.counters.requests += 1
            if error is not None:
                self.counters.request_errors += 1
        if span is not None:
            if error is None:
                span.set_attribute("codex.outcome", "ok")
            else:
                span.set_attribute("codex.outcome", type(error).__name__)
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(error)))
            span.end()
        if reply is not None and method == "turn/start":
            if isinstance(params, bytes):  # a typed call's params, already JSON
                params = json.loads(params)
            if isinstance(reply.result, Mapping):
                self._start_turn(params, reply.result)

    # -- turns ------------------------------------------------------------------------------
    def _start_turn(self, params: Any, result: Mapping[str, Any]) -> None:
        turn_id = (result.get("turn") or {}).get("id")
        if not isinstance(turn_id, str):
            return
        thread_id = params.get("threadId") if isinstance(params, Mapping) else None
        span = None
        if self.tracer is not None:
            attributes = {"codex.turn_id": turn_id, "codex.thread_id": str(thread_id)}
            span = self.tracer.start_span("codex.turn", attributes=attributes)
        with self._lock:
            self.counters.turns_started += 1
            self._turns[turn_id] = _TurnSpan(span)

    def observe(self, event: Notification) -> None:
        """Account for one turn event (token usage, the end of a turn)."""
        method = event.method
        if method == "thread/tokenUsage/updated":
            self._add_tokens(event)
        elif method == "turn/completed":
            self._end_turn(event)

    def _add_tokens(self, event: Notification) -> None:
        usage = event.params.get("tokenUsage")
        last = usage.get("last") if isinstance(usage, Mapping) else None
        if not isinstance(last, Mapping):
            return
        with self._lock:
            self.counters.input_tokens += int(last.get("inputTokens", 0))
            self.counters.output_tokens += int(last.get("outputTokens", 0))
            self.counters.total_tokens += int(last.get("totalTokens", 0))
            turn = self._turns.get(event.turn_id or "")
            if turn is not None:
                for wire, name in _TOKEN_FIELDS.items():
                    turn.tokens[name] += int(last.get(wire) or 0)

    def _end_turn(self, event: Notification) -> None:
        turn_info = event.params.get("turn") or {}
        status = str(turn_info.get("status", "unknown"))
        with self._lock:
            turn = self._turns.pop(event.turn_id or str(turn_info.get("id")), None)
            if status == "completed":
                self.counters.turns_completed += 1
            elif status == "failed":
                self.counters.turns_failed += 1
            elif status == "interrupted":
                self.counters.turns_interrupted += 1
        if turn is None or turn.span is None:
            return
        turn.span.set_attribute("codex.outcome", status)
        for name, count in turn.tokens.items():
            turn.span.set_attribute(f"codex.tokens.{name}", count)
        if status == "failed":
            message = (turn_info.get("error") or {}).get("message") or "turn failed"
            turn.span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, message))
        turn.span.end()
