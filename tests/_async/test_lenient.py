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
from _backend_async import collect
from _fake import fake_server
from codex_app_server import AsyncCodex, CodexConfig, final_text, unfit_parts
from codex_app_server.generated import (
    AgentMessageThreadItem,
    ThreadStartResponse,
    Turn,
    TurnCompletedServerNotification,
    UnrecognizedThreadItem,
)


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


async def test_a_newer_servers_shapes_arrive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_app_server")
    async with AsyncCodex(config(tmp_path)) as codex:
        thread = await codex.thread_start()
        handle = await thread.turn("go")
        check_events(await collect(handle.stream(timeout=20)))
        check_turn(await thread.run("again", timeout=20))
        reply = await codex.client.thread_start()
        assert isinstance(reply, ThreadStartResponse)
        assert reply.service_tier is None
        assert unfit_parts(reply) == {"/serviceTier": {"name": "flex", "discount": 0.5}}
    check_warnings(caplog)
