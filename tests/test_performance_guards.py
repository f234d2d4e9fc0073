"""Guards for the fast paths: they must see exactly what the generic paths see, and leak nothing.

Speed itself is measured by ``benchmarks/run.py`` (``nox -s benchmark``), never here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _portable import launcher
from _scripted_peer import ScriptedPeer, notification
from codex_app_server import Codex, CodexConfig
from codex_app_server._connection import Connection
from codex_app_server._decode import decode_notification
from codex_app_server._protocol import JsonRpcCore, Notification, ProtocolViolation
from codex_app_server._turns import typed
from codex_app_server.errors import TransportClosedError

STANDIN = Path(__file__).resolve().parents[1] / "benchmarks" / "standin_server.py"
RECORDING = json.loads(STANDIN.with_name("recorded.json").read_text(encoding="utf-8"))


def wire(message: dict[str, Any]) -> bytes:
    """A line as the app-server writes it: compact, members in the order given."""
    return json.dumps(message, separators=(",", ":")).encode()


def both_ways(line: bytes) -> tuple[Any, Any]:
    """The event from the fast core and from the core without a decoder."""
    (fast,) = JsonRpcCore(decode_notification).receive_data(line + b"\n")
    (generic,) = JsonRpcCore().receive_data(line + b"\n")
    return fast, generic


def assert_same(fast: Any, generic: Any) -> None:
    assert isinstance(fast, Notification)
    assert isinstance(generic, Notification)
    assert (fast.method, fast.thread_id, fast.turn_id) == (
        generic.method,
        generic.thread_id,
        generic.turn_id,
    )
    assert fast.params == generic.params
    assert type(typed(fast)) is type(typed(generic))
    # The whole envelope may differ: the fast path also keeps the line's emittedAtMs.
    fast_params, generic_params = typed(fast).params, typed(generic).params
    if isinstance(generic_params, dict):  # an unknown method's params stay a dict
        assert fast_params == generic_params
    else:
        assert fast_params.model_dump() == generic_params.model_dump()


@pytest.mark.parametrize(
    "line",
    [
        RECORDING["delta"].encode(),
        RECORDING["turn_completed"].encode(),
        # turnId not right after threadId: the ids cannot be read off the bytes.
        wire(
            {
                "method": "item/agentMessage/delta",
                "params": {"itemId": "i", "turnId": "u", "threadId": "t", "delta": "x"},
            }
        ),
        # An escaped id: only a JSON parser decodes it right.
        wire(
            {
                "method": "item/agentMessage/delta",
                "params": {"threadId": 't"1', "turnId": "u\\2", "itemId": "i", "delta": "x"},
            }
        ),
        # A member these models do not know (a newer server): kept, and the ids still right.
        wire(
            {
                "method": "turn/started",
                "params": {
                    "threadId": "t",
                    "turn": {"id": "u", "items": [], "status": "inProgress"},
                    "turnId": "v",
                    "brandNew": 1,
                },
            }
        ),
        wire(
            {
                "method": "thread/status/changed",
                "params": {"threadId": "t", "status": {"type": "idle"}},
            }
        ),
        wire({"method": "some/futureMethod", "params": {"threadId": "t", "turnId": "u"}}),
    ],
    ids=[
        "recorded-delta",
        "recorded-turn-completed",
        "reordered",
        "escaped",
        "extra-member",
        "no-turn",
        "unknown-method",
    ],
)
def test_the_fast_path_reads_what_the_generic_path_reads(line: bytes) -> None:
    fast, generic = both_ways(line)
    assert_same(fast, generic)


def test_ids_read_off_one_delta_are_never_lent_to_the_next() -> None:
    ids = [("t", "u"), ("t", "u2"), ("t", "u"), ("tt", "u"), ("t", "uu"), ("t", "u"), ("", "u")]
    data = b"".join(
        wire(
            {
                "method": "item/agentMessage/delta",
                "params": {"threadId": thread, "turnId": turn, "itemId": "i", "delta": "x"},
            }
        )
        + b"\n"
        for thread, turn in ids
    )
    events = JsonRpcCore(decode_notification).receive_data(data)
    assert [(e.thread_id, e.turn_id) for e in events] == [
        (e.thread_id, e.turn_id) for e in JsonRpcCore().receive_data(data)
    ]
    assert [(e.thread_id, e.turn_id) for e in events] == [(thread, turn) for thread, turn in ids]


def test_a_recorded_delta_is_routed_without_being_parsed_then_typed_on_demand() -> None:
    (event,) = JsonRpcCore(decode_notification).receive_data(RECORDING["delta"].encode() + b"\n")
    assert event.model is None  # routed on ids read off the bytes
    model = typed(event)
    assert model.params.delta == json.loads(RECORDING["delta"])["params"]["delta"]
    assert typed(event) is model  # typed once


def test_a_notification_line_that_is_not_json_is_still_reported() -> None:
    (event,) = JsonRpcCore(decode_notification).receive_data(
        b'{"method":"turn/completed","params":{"threadId":"t",\n'
    )
    assert isinstance(event, ProtocolViolation)


def test_a_request_shaped_like_a_notification_stays_a_request() -> None:
    line = wire(
        {
            "method": "thread/status/changed",
            "id": 7,
            "params": {"threadId": "t", "status": {"type": "idle"}},
        }
    )
    (event,) = JsonRpcCore(decode_notification).receive_data(line + b"\n")
    assert not isinstance(event, Notification)


def test_an_inbox_keeps_order_across_reads_and_reports_closure_after_them() -> None:
    peer = ScriptedPeer()
    connection = Connection(CodexConfig(), peer.transport())
    inbox = connection.subscribe("t").sink
    # Three reads, as the reader hands them over: each a batch, the closure after the last.
    peer.send(*(notification("m", "t", n=n) for n in range(3)))
    peer.send(notification("m", "t", n=3))
    peer.send(notification("m", "t", n=4))
    peer.hang_up()
    assert [inbox.get(1.0).params["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    for _ in range(2):  # every later get() reports the closure too
        with pytest.raises(TransportClosedError, match="hung up"):
            inbox.get(1.0)
    connection.close()


def standin(tmp_path: Path, deltas: int) -> CodexConfig:
    standin_codex = launcher(tmp_path / "standin-codex", STANDIN)
    return CodexConfig(codex_bin=standin_codex, extra_args=["--deltas", str(deltas)])


def test_a_thousand_turns_on_one_connection_leave_no_routing_state(tmp_path: Path) -> None:
    with Codex(standin(tmp_path, 3)) as codex:
        thread = codex.thread_start()
        connection = codex.client.connection
        turn_ids = set()
        for index in range(1000):
            handle = thread.turn("go")
            turn_ids.add(handle.id)
            if index % 2:
                handle.run()
            else:
                assert [e.method for e in handle.stream()][-1] == "turn/completed"
        assert len(turn_ids) == 1000
        assert connection.subscriber_count() == 0
        assert connection.pending_requests() == 0


def test_importing_the_package_loads_no_pydantic_and_no_model() -> None:
    code = (
        "import sys, codex_app_server; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', "
        "'codex_app_server.generated.'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
