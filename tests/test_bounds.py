"""Turn bounds: wall clock, inactivity and token budget interrupt the turn on the real server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from _fake import fake_server
from codex_app_server import (
    AsyncCodex,
    AsyncCodexClient,
    BoundExceededError,
    Codex,
    CodexClient,
    CodexConfig,
    RequestTimeoutError,
    TokenBudgetExceededError,
    TurnBounds,
    TurnInactivityError,
    TurnTimeLimitError,
    bounds,
)
from codex_app_server._protocol import Notification
from codex_app_server.bounds import BoundsClock, with_timeout
from codex_app_server.errors import JsonRpcError
from codex_app_server.generated import Turn
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
    assert caught.value.turn is not None
    assert caught.value.turn.status.value == "interrupted"
    assert str(caught.value).endswith(
        f"used 120 tokens, reaching its budget of 100; turn {caught.value.turn_id} was interrupted"
    )


def test_the_message_says_how_the_turn_really_ended() -> None:
    def ended(status: str) -> Turn:
        return Turn.model_validate({"id": "u", "items": [], "status": status})

    budget = BoundsClock(TurnBounds(token_budget=10), "u", now=0.0).observe(
        usage_event(12), now=1.0
    )
    assert budget is not None
    budget._settle(ended("completed"), 10.0)
    assert str(budget) == (
        "thread t used 12 tokens, reaching its budget of 10; "
        "turn u had already ended (completed) when the interruption arrived"
    )
    silent = BoundsClock(TurnBounds(inactivity=1), "u", now=0.0).expired(5.0)
    assert silent is not None
    silent._settle(None, 10.0)
    assert str(silent) == (
        "turn u got no event for 1 s; it was told to stop, but the server did not confirm "
        "its end within 10 s"
    )
    silent._settle(ended("interrupted"), 10.0)
    assert str(silent) == "turn u got no event for 1 s; it was interrupted"


def test_a_budget_reached_by_a_finished_turn_says_it_had_completed(
    codex: Codex, model_server: ScriptedModelServer
) -> None:
    # Usage is reported after the last message: the turn may be over before the interrupt.
    model_server.enqueue(response(message("done"), usage=Usage(input_tokens=90, output_tokens=30)))
    with pytest.raises(TokenBudgetExceededError) as caught:
        codex.thread_start().run("go", bounds=TurnBounds(token_budget=100), timeout=60)
    turn = caught.value.turn
    assert turn is not None
    status = turn.status.value
    expected = "was interrupted" if status == "interrupted" else f"had already ended ({status})"
    assert expected in str(caught.value)


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


# -- a server that never answers the interrupt ---------------------------------------------------


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> float:
    """A one-second grace (10 s in production) so the wedged-server tests stay quick."""
    monkeypatch.setattr(bounds, "INTERRUPT_GRACE", 1.0)
    return 1.0


def wedged(tmp_path: Path) -> CodexConfig:
    # request_timeout far above the grace: the grace, not the request bound, must end the wait.
    return CodexConfig(codex_bin=fake_server(tmp_path, "wedged"), request_timeout=60)


def check_unconfirmed(error: BoundExceededError, started: float) -> None:
    assert type(error) is TurnInactivityError
    assert error.bound == "inactivity"
    assert error.turn is None
    assert "did not confirm its end within 1 s" in str(error)
    assert isinstance(error.__cause__, RequestTimeoutError)  # the unanswered turn/interrupt
    assert time.monotonic() - started < 30  # not the 60 s request bound


def test_a_bound_wins_when_the_server_never_answers_the_interrupt(
    tmp_path: Path, short_grace: float
) -> None:
    with Codex(wedged(tmp_path)) as codex:
        handle = codex.thread_start().turn("go")
        started = time.monotonic()
        with pytest.raises(BoundExceededError) as caught:
            handle.run(bounds=TurnBounds(inactivity=0.3))
        check_unconfirmed(caught.value, started)


async def test_async_a_bound_wins_when_the_server_never_answers_the_interrupt(
    tmp_path: Path, short_grace: float
) -> None:
    async with AsyncCodex(wedged(tmp_path)) as codex:
        handle = await (await codex.thread_start()).turn("go")
        started = time.monotonic()
        with pytest.raises(BoundExceededError) as caught:
            async for _ in handle.stream(bounds=TurnBounds(inactivity=0.3)):
                pass
        check_unconfirmed(caught.value, started)


@pytest.mark.parametrize("failure", [JsonRpcError(-32600, "no active turn"), OSError("odd")])
def test_sync_and_async_treat_a_failing_interrupt_alike(
    tmp_path: Path, short_grace: float, failure: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CodexError from turn/interrupt gives way to the bound's error; anything else is a bug
    # and surfaces, in both APIs.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise failure

    async def refuse_async(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(CodexClient, "request", refuse)
    monkeypatch.setattr(AsyncCodexClient, "request", refuse_async)
    expected = TurnInactivityError if isinstance(failure, JsonRpcError) else OSError
    with Codex(wedged(tmp_path)) as codex:
        handle = codex.thread_start().turn("go")
        with pytest.raises(expected):
            handle.run(bounds=TurnBounds(inactivity=0.2))

    async def run_async() -> None:
        async with AsyncCodex(wedged(tmp_path)) as codex:
            handle = await (await codex.thread_start()).turn("go")
            await handle.run(bounds=TurnBounds(inactivity=0.2))

    with pytest.raises(expected):
        asyncio.run(run_async())
