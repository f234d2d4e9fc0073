"""Limits on a running turn: wall-clock time, inactivity, and the thread's token budget.

Give :class:`TurnBounds` to ``run(bounds=...)`` or ``stream(bounds=...)``. When a bound is hit
the SDK interrupts the turn, waits up to :data:`INTERRUPT_GRACE` seconds in all (or
``request_timeout``, if shorter) for the server to answer and confirm the turn's end, and
raises the :class:`BoundExceededError` subclass naming the bound, whatever the server did
meanwhile. The per-request bound is ``CodexConfig.request_timeout``.

:class:`BoundsClock` is the bookkeeping, without I/O: the sync and async turn handles feed it
the time and each event, and ask it how long they may wait for the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ._protocol import Notification
from .errors import CodexError, RequestTimeoutError

__all__ = [
    "Bound",
    "BoundExceededError",
    "BoundsClock",
    "TokenBudgetExceededError",
    "TurnBounds",
    "TurnInactivityError",
    "TurnTimeLimitError",
]

#: The name of a bound, as carried by :attr:`BoundExceededError.bound`.
Bound: TypeAlias = Literal["wall_clock", "inactivity", "token_budget"]

#: Seconds, in all, to wait for the answer to ``turn/interrupt`` and for ``turn/completed``
#: after a turn hit a bound.
INTERRUPT_GRACE = 10.0


@dataclass(frozen=True)
class TurnBounds:
    """Limits for one turn; ``None`` leaves a limit off.

    ``wall_clock``: seconds from when waiting starts to ``turn/completed``. ``inactivity``:
    seconds the server may stay silent (no notification for the turn). ``token_budget``: the
    most tokens the *thread* may have used in total, as ``thread/tokenUsage/updated`` reports.
    """

    wall_clock: float | None = None
    inactivity: float | None = None
    token_budget: int | None = None

    def __post_init__(self) -> None:
        for name in ("wall_clock", "inactivity", "token_budget"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, not {value!r}")


class BoundExceededError(CodexError):
    """A turn hit one of its :class:`TurnBounds` and was interrupted.

    ``bound`` names it (``"wall_clock"``, ``"inactivity"``, ``"token_budget"``), ``limit`` is
    its value, ``turn_id`` the turn, and ``turn`` the final ``Turn`` model once the server
    confirmed the turn's end (``None`` if it did not in time). The message says how the turn
    ended: interrupted, already completed (a token budget is checked when usage is reported,
    which can be after the turn's last message), or not confirmed.
    """

    bound: Bound

    def __init__(self, message: str, *, turn_id: str, limit: float) -> None:
        self.turn_id = turn_id
        self.limit = limit
        self.turn: Any = None
        #: What was exceeded, without how the turn ended.
        self.reason = message
        super().__init__(message)

    def _settle(self, turn: Any, waited: float) -> None:
        """Record the turn's end after the interruption (``None``: not confirmed within
        ``waited`` seconds) in the error."""
        self.turn = turn
        self.args = (f"{self.reason}; {self._subject()} {_outcome(turn, waited)}",)

    def _subject(self) -> str:
        return "it"


def _outcome(turn: Any, waited: float) -> str:
    """How a turn stopped for a bound ended, as the end of a sentence."""
    if turn is None:
        return f"was told to stop, but the server did not confirm its end within {waited:g} s"
    status: Any = turn.status
    status = str(getattr(status, "value", status))
    if status == "interrupted":
        return "was interrupted"
    return f"had already ended ({status}) when the interruption arrived"


class TurnTimeLimitError(BoundExceededError, RequestTimeoutError):
    """The turn ran longer than ``wall_clock`` seconds."""

    bound: Bound = "wall_clock"


class TurnInactivityError(BoundExceededError, RequestTimeoutError):
    """The server sent nothing for the turn for ``inactivity`` seconds."""

    bound: Bound = "inactivity"


class TokenBudgetExceededError(BoundExceededError):
    """The thread's total token usage reached ``token_budget``; ``used`` is that total."""

    bound: Bound = "token_budget"

    def __init__(self, message: str, *, turn_id: str, limit: float, used: int) -> None:
        self.used = used
        super().__init__(message, turn_id=turn_id, limit=limit)

    def _subject(self) -> str:
        return f"turn {self.turn_id}"


class BoundsClock:
    """Tracks one turn against its bounds; all times are ``time.monotonic()`` values."""

    def __init__(self, bounds: TurnBounds, turn_id: str, now: float) -> None:
        self.bounds = bounds
        self.turn_id = turn_id
        self._deadline = None if bounds.wall_clock is None else now + bounds.wall_clock
        self._last_event = now

    def wait(self, now: float) -> float | None:
        """How long to wait for the next event before a bound is hit (``None``: forever)."""
        limits = []
        if self._deadline is not None:
            limits.append(self._deadline - now)
        if self.bounds.inactivity is not None:
            limits.append(self._last_event + self.bounds.inactivity - now)
        return max(0.0, min(limits)) if limits else None

    def expired(self, now: float) -> BoundExceededError | None:
        """The error for the time bound that has passed at ``now``, if one has."""
        wall_clock = self.bounds.wall_clock
        if wall_clock is not None and self._deadline is not None and now >= self._deadline:
            return TurnTimeLimitError(
                f"turn {self.turn_id} ran longer than {wall_clock} s",
                turn_id=self.turn_id,
                limit=wall_clock,
            )
        inactivity = self.bounds.inactivity
        if inactivity is not None and now >= self._last_event + inactivity:
            return TurnInactivityError(
                f"turn {self.turn_id} got no event for {inactivity} s",
                turn_id=self.turn_id,
                limit=inactivity,
            )
        return None

    def observe(self, event: Notification, now: float) -> BoundExceededError | None:
        """Record an event; the error if it shows the token budget is spent."""
        self._last_event = now
        budget = self.bounds.token_budget
        if budget is None or event.method != "thread/tokenUsage/updated":
            return None
        used = total_tokens(event.params)
        if used is None or used < budget:
            return None
        return TokenBudgetExceededError(
            f"thread {event.thread_id} used {used} tokens, reaching its budget of {budget}",
            turn_id=self.turn_id,
            limit=budget,
            used=used,
        )


def total_tokens(params: Mapping[str, Any]) -> int | None:
    """The thread's total token count in ``thread/tokenUsage/updated`` params."""
    usage = params.get("tokenUsage")
    total = usage.get("total") if isinstance(usage, Mapping) else None
    value = total.get("totalTokens") if isinstance(total, Mapping) else None
    return value if isinstance(value, int) else None


def interrupt_grace(request_timeout: float | None) -> float:
    """Seconds to wait, in all, for a bound's interrupt to be answered and the turn to end:
    :data:`INTERRUPT_GRACE`, or ``request_timeout`` if that is shorter."""
    if request_timeout is None:
        return INTERRUPT_GRACE
    return min(INTERRUPT_GRACE, request_timeout)


def with_timeout(bounds: TurnBounds | None, timeout: float | None) -> TurnBounds | None:
    """``bounds`` with ``run(timeout=...)`` applied as the wall-clock limit (the smaller wins)."""
    if timeout is None:
        return bounds
    if bounds is None:
        return TurnBounds(wall_clock=timeout)
    wall_clock = timeout if bounds.wall_clock is None else min(timeout, bounds.wall_clock)
    return TurnBounds(wall_clock, bounds.inactivity, bounds.token_budget)


def next_wait(timeout: float | None, clock: BoundsClock | None, now: float) -> float | None:
    """How long to wait for an event: the per-event ``timeout`` or the nearest bound."""
    limit = None if clock is None else clock.wait(now)
    if limit is None:
        return timeout
    return limit if timeout is None else min(timeout, limit)
