"""What the reliability tests share: the stand-in's options, bounds, and checks of what a user sees.

The tests themselves are split by guarantee (``test_reliability_*.py`` here and in ``_async/``,
whose sync twins ``scripts/unasync.py`` writes into ``_sync/``); docs/reliability.md cites them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _fake import child_processes, fake_server, resources
from codex_app_server import CodexConfig, MethodNotFoundError, TurnBounds

#: Bound on waits that should end at once; generous so a loaded CI machine does not flake.
PROMPT = 1.0
TEN_MB = 10 * 1024 * 1024
SECRET = "sk-test-7f3c9e1d-do-not-leak"

#: A token budget makes the turn read every token-usage update's params as they arrive.
BUDGET = TurnBounds(token_budget=10**9)

#: What the SDK says about a handler that returned an int to a command approval.
WRONG_TYPE = "returned int; return a CommandExecutionRequestApprovalResponse"


def fake(tmp_path: Path, mode: str, **options: Any) -> CodexConfig:
    """Options that start the stand-in app-server in ``mode``."""
    return CodexConfig(codex_bin=fake_server(tmp_path, mode), **options)


def status(turn: Any) -> str:
    """A turn's status as the server spells it."""
    return str(getattr(turn.status, "value", turn.status))


def client_replies(events: list[Any]) -> list[dict[str, Any]]:
    """What the client answered the fake's server requests (the fake reports each answer)."""
    return [e.params["reply"] for e in events if e.method == "fake/clientReplied"]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def with_secret(config: CodexConfig) -> CodexConfig:
    """``config`` with an API key in the server's environment, and nothing inherited."""
    return CodexConfig(
        codex_bin=config.codex_bin,
        cwd=config.cwd,
        env={**config.env, "OPENAI_API_KEY": SECRET},
        inherit_env=False,
    )


def check_garbage_was_skipped(
    events: list[Any], violations: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The stand-in's ``garbage`` turn arrived whole; each bad line was logged and counted."""
    deltas = [e for e in events if e.method == "item/agentMessage/delta"]
    assert len(deltas[0].params.delta) == TEN_MB  # a 10 MB line arrives whole
    assert events[-1].method == "turn/completed"
    # Not JSON, a JSON array, a reply to an unknown id, a 10 MB non-JSON line, deep nesting,
    # and lines that start like one of the turn's deltas and token-usage updates.
    assert violations == 7
    warnings = [r.getMessage() for r in caplog.records if "skipped a message" in r.getMessage()]
    assert len(warnings) == 7
    assert any("and then no JSON at all" in w for w in warnings)
    assert any("tokens galore" in w for w in warnings)
    assert any("not JSON" in w for w in warnings)
    assert any("recursion" in w for w in warnings)
    assert any("not a JSON object" in w for w in warnings)
    assert any("unknown request id 987654" in w for w in warnings)
    assert all(len(w) < 1000 for w in warnings)  # the 10 MB line is excerpted, not logged


def check_newer_server_events(events: list[Any]) -> None:
    """The stand-in's ``newer`` turn: unknown messages typed, its unknown request refused."""
    by_method = {e.method: e for e in events}
    unknown = by_method["thread/mood/changed"]
    assert type(unknown).__name__ == "UnknownServerNotification"
    assert unknown.params["mood"] == "curious"
    item = by_method["item/started"].params.item
    assert type(item).__name__ == "UnrecognizedThreadItem"
    assert (item.type, item.id, item.model_extra["depth"]) == ("hologram", "h-1", 3)
    completed = by_method["item/completed"].params
    assert completed.model_extra["shininess"] == 0.5  # a new field on a known notification
    assert completed.item.text == "hello"
    assert completed.item.phase == "afterthought"  # a new enum value
    assert completed.item.model_extra["sparkle"] is True
    (reply,) = client_replies(events)
    assert reply["error"]["code"] == MethodNotFoundError.CODE
    assert "item/hologram/requestApproval" in reply["error"]["message"]
    assert events[-1].method == "turn/completed"


def check_no_leaks(before: tuple[int, int, set[int]]) -> None:
    """No more descriptors, threads or child processes than ``before`` (from ``resources()``)."""
    fds, threads, children = before
    # Threads and pipes of the last client may take a moment to be collected.
    wait_until(lambda: resources()[:2] <= (fds, threads))
    assert child_processes() <= children
