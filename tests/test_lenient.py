"""A newer server's shapes: every message still arrives, typed as far as it fits.

The stand-in server's ``reshaped`` mode answers and notifies with known methods in shapes the
generated models do not know. Nothing raises out of ``stream()``, ``run()`` or a request; what
does not fit is kept (the union's ``Unrecognized…`` model, or ``unfit_parts``) and a warning is
logged once per method.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from _fake import fake_server
from codex_app_server import AsyncCodex, Codex, CodexConfig, final_text, unfit_parts
from codex_app_server._lenient import fit
from codex_app_server.generated import (
    AgentMessageThreadItem,
    ThreadStartResponse,
    Turn,
    TurnCompletedServerNotification,
    UnrecognizedThreadItem,
)
from pydantic import ValidationError


def config(tmp_path: Path) -> CodexConfig:
    return CodexConfig(codex_bin=fake_server(tmp_path, "reshaped"))


def check_turn(turn: Turn) -> None:
    assert str(getattr(turn.status, "value", turn.status)) == "completed"
    done, parted = turn.items
    assert isinstance(done, AgentMessageThreadItem)
    assert done.text == "done"
    # A known variant whose shape changed: the union's fallback, holding all of its JSON.
    assert isinstance(parted, UnrecognizedThreadItem)
    assert parted.type == "agentMessage"
    assert parted.model_extra == {"id": "msg-2", "text": {"parts": ["hi", "!"]}}
    assert turn.duration_ms is None
    assert final_text(turn) == "done"


def check_events(events: list[Any]) -> None:
    completed = [e for e in events if e.method == "item/completed"]
    assert isinstance(completed[-1].params.item, UnrecognizedThreadItem)
    (end,) = [e for e in events if e.method == "turn/completed"]
    assert isinstance(end, TurnCompletedServerNotification)
    check_turn(end.params.turn)
    assert unfit_parts(end) == {"/params/turn/durationMs": "slow"}


def check_warnings(caplog: pytest.LogCaptureFixture) -> None:
    warned = [r.getMessage() for r in caplog.records if "does not fit" in r.getMessage()]
    methods = sorted(message.split(":", 1)[0] for message in warned)
    # Once per method, however often the method's messages did not fit.
    assert methods == ["item/completed", "thread/start", "turn/completed"]
    assert all("validation error" in message for message in warned)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("codex_app_server._lenient._warned", set())


def test_a_newer_servers_shapes_arrive_sync(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    with Codex(config(tmp_path)) as codex:
        thread = codex.thread_start()
        check_events(list(thread.turn("go").stream(timeout=20)))
        check_turn(thread.run("again", timeout=20))
        reply = codex.client.thread_start()
        assert isinstance(reply, ThreadStartResponse)
        assert reply.service_tier is None
        assert unfit_parts(reply) == {"/serviceTier": {"name": "flex", "discount": 0.5}}
    check_warnings(caplog)


async def test_a_newer_servers_shapes_arrive_async(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    async with AsyncCodex(config(tmp_path)) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        check_events([event async for event in handle.stream(timeout=20)])
        check_turn(await thread.run("again", timeout=20))
        reply = await codex.client.thread_start()
        assert unfit_parts(reply) == {"/serviceTier": {"name": "flex", "discount": 0.5}}
    check_warnings(caplog)


def test_what_fits_has_no_unfit_parts_and_requests_stay_strict() -> None:
    from codex_app_server.generated import TurnStartParams

    turn = fit(Turn, {"id": "t", "items": [], "status": "completed"}, "test/method")
    assert unfit_parts(turn) == {}
    # Building a request is not decoding a newer server's message: a bad shape is an error.
    with pytest.raises(ValidationError):
        TurnStartParams.model_validate(
            {"threadId": "t", "input": [{"type": "text", "text": {"not": "text"}}]}
        )


def test_an_optional_field_that_does_not_fit_is_cut_out() -> None:
    message = {
        "method": "turn/completed",
        "params": {"threadId": "thr", "turn": {"id": "t", "items": [], "status": "completed"}},
    }
    message["params"]["turn"]["startedAt"] = ["not", "a", "number"]
    note = fit(TurnCompletedServerNotification, message, "test/optional")
    assert note.params.turn.id == "t"
    assert unfit_parts(note) == {"/params/turn/startedAt": ["not", "a", "number"]}


def test_a_required_field_that_does_not_fit_keeps_the_message_as_it_came() -> None:
    message = {
        "method": "turn/completed",
        "params": {
            "threadId": "thr",
            "turn": {"id": "t", "items": [], "status": "completed"},
            "extraThing": 1,
        },
    }
    message["params"]["turn"]["items"] = 5  # required, and not a list
    note = fit(TurnCompletedServerNotification, message, "test/required")
    assert isinstance(note, TurnCompletedServerNotification)
    assert note.params == message["params"]  # raw JSON: there is no typed form of it
    assert unfit_parts(note) == {"": message}
