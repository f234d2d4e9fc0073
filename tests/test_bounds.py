"""Turn bounds: wall clock, inactivity and token budget interrupt the turn on the real server."""

from __future__ import annotations

import time

import pytest
from codex_app_server import (
    AsyncCodex,
    BoundExceededError,
    Codex,
    RequestTimeoutError,
    TokenBudgetExceededError,
    TurnBounds,
    TurnInactivityError,
    TurnTimeLimitError,
)
from codex_app_server._protocol import Notification
from codex_app_server.bounds import BoundsClock, with_timeout
from codex_app_server.testing import (
    ScriptedModelServer,
    Usage,
    function_call,
    message,
    message_deltas,
    response,
    stall,
)


def usage_event(total: int) -> Notification:
    params = {"threadId": "t", "turnId": "u", "tokenUsage": {"total": {"totalTokens": total}}}
    return Notification("thread/tokenUsage/updated", params, "t", "u")


def test_clock_reports_the_nearest_bound_and_which_one_passed() -> None:
    clock = BoundsClock(TurnBounds(wall_clock=10, inactivity=3), "turn", now=100.0)
    assert clock.wait(100.0) == 3.0
    assert clock.expired(102.9) is None
    assert isinstance(clock.expired(103.0), TurnInactivityError)
    clock.observe(Notification("item/started", {}, "t", "u"), now=108.0)
    assert clock.wait(108.0) == 2.0  # the wall clock is nearer now
    error = clock.expired(110.0)
    assert isinstance(error, TurnTimeLimitError)
    assert (error.bound, error.limit, error.turn_id) == ("wall_clock", 10, "turn")


def test_clock_checks_the_thread_total_against_the_budget() -> None:
    clock = BoundsClock(TurnBounds(token_budget=100), "turn", now=0.0)
    assert clock.wait(0.0) is None
    assert clock.observe(usage_event(99), now=1.0) is None
    error = clock.observe(usage_event(100), now=2.0)
    assert isinstance(error, TokenBudgetExceededError)
    assert (error.bound, error.used, error.limit) == ("token_budget", 100, 100)


def test_timeout_is_a_wall_clock_bound_and_the_smaller_wins() -> None:
    assert with_timeout(None, 5) == TurnBounds(wall_clock=5)
    assert with_timeout(TurnBounds(wall_clock=3, token_budget=9), 5) == TurnBounds(3, None, 9)
    assert with_timeout(TurnBounds(inactivity=2), None) == TurnBounds(inactivity=2)
    with pytest.raises(ValueError, match="inactivity must be positive"):
        TurnBounds(inactivity=0)


def test_inactivity_interrupts_a_silent_turn(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(response(message_deltas(["thinking"]), gate, message("late")))
    handle = codex.thread_start().turn("go")
    started = time.monotonic()
    with pytest.raises(TurnInactivityError) as caught:
        handle.run(bounds=TurnBounds(inactivity=0.5, wall_clock=60))

    gate.wait_reached(timeout=1)  # the silence came from the held stream
    assert 0.5 <= time.monotonic() - started < 10
    assert caught.value.bound == "inactivity"
    assert caught.value.turn is not None
    assert caught.value.turn.status.value == "interrupted"
    assert isinstance(caught.value, RequestTimeoutError)


def test_wall_clock_interrupts_a_turn_that_keeps_streaming_too_long(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(response(message_deltas(["a"]), gate, message("late")))
    thread = codex.thread_start()
    with pytest.raises(TurnTimeLimitError, match=r"ran longer than 0\.5 s; it was interrupted"):
        thread.run("go", bounds=TurnBounds(wall_clock=0.5, inactivity=30))

    # The turn is over on the server: the thread takes a new turn at once.
    model_server.enqueue(response(message("next")))
    assert thread.run("again", timeout=30).status.value == "completed"


def test_token_budget_interrupts_the_turn_when_the_thread_spends_it(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(
        response(function_call("no_such_tool", {}), usage=Usage(input_tokens=90, output_tokens=30)),
        response(gate, message("never reached")),
    )
    with pytest.raises(TokenBudgetExceededError) as caught:
        codex.thread_start().run("go", bounds=TurnBounds(token_budget=100), timeout=60)

    assert caught.value.used == 120
    assert "used 120 tokens, reaching its budget of 100" in str(caught.value)
    assert caught.value.turn is not None
    assert caught.value.turn.status.value == "interrupted"


def test_a_turn_within_its_bounds_completes(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message("fine"), usage=Usage(input_tokens=10, output_tokens=5)))
    bounds = TurnBounds(wall_clock=60, inactivity=30, token_budget=16)
    assert codex.thread_start().run("go", bounds=bounds).status.value == "completed"


async def test_async_turns_honour_bounds(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    gate = stall()
    model_server.enqueue(response(message_deltas(["a"]), gate, message("late")))
    thread = await async_codex.thread_start()
    handle = await thread.turn("go")
    with pytest.raises(BoundExceededError) as caught:
        async for _ in handle.stream(bounds=TurnBounds(inactivity=0.5)):
            pass

    assert caught.value.bound == "inactivity"
    assert caught.value.turn.status.value == "interrupted"
