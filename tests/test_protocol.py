"""The JSON-RPC core on byte fixtures: framing, ids, replies, routing, bad input."""

from __future__ import annotations

import json

import pytest
from codex_app_server._protocol import (
    ErrorResponse,
    JsonRpcCore,
    Notification,
    ProtocolViolation,
    Response,
    Router,
    ServerRequest,
)
from codex_app_server.errors import (
    CodexError,
    InternalError,
    InvalidParamsError,
    InvalidRequestError,
    JsonRpcError,
    MethodNotFoundError,
    ParseError,
    RetryLimitExceededError,
    ServerBusyError,
)


def line(message: object) -> bytes:
    return json.dumps(message).encode() + b"\n"


def test_request_lines_have_no_jsonrpc_field_and_increasing_ids() -> None:
    core = JsonRpcCore()
    first_id, first = core.request("thread/start", {"model": "m"})
    second_id, second = core.request("model/list", None)
    assert first.endswith(b"\n")
    assert first.count(b"\n") == 1
    assert json.loads(first) == {"id": first_id, "method": "thread/start", "params": {"model": "m"}}
    assert json.loads(second) == {"id": second_id, "method": "model/list"}
    assert second_id == first_id + 1
    assert sorted(core.pending.ids()) == [first_id, second_id]


def test_notification_reply_and_error_lines() -> None:
    core = JsonRpcCore()
    assert json.loads(core.notification("initialized")) == {"method": "initialized"}
    assert json.loads(core.reply(7, {"decision": "accept"})) == {
        "id": 7,
        "result": {"decision": "accept"},
    }
    assert json.loads(core.reply_error("a", -32601, "nope")) == {
        "id": "a",
        "error": {"code": -32601, "message": "nope"},
    }


def test_response_matches_pending_request_and_is_consumed() -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("thread/start", {})
    (event,) = core.receive_data(line({"id": request_id, "result": {"thread": {"id": "t"}}}))
    assert event == Response(request_id, "thread/start", {"thread": {"id": "t"}})
    assert core.pending.ids() == []
    (again,) = core.receive_data(line({"id": request_id, "result": {}}))
    assert isinstance(again, ProtocolViolation)
    assert "unknown request id" in again.reason


def compact(message: object) -> bytes:
    """A line as the app-server writes it: no spaces, members in the order given."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def test_a_reply_in_the_servers_layout_is_routed_unparsed_and_parses_the_same() -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("thread/loaded/list", {})
    result = {"data": ["t1"], "nextCursor": None}
    (event,) = core.receive_data(compact({"id": request_id, "result": result}))
    assert isinstance(event, Response)
    assert event.raw == json.dumps(result, separators=(",", ":")).encode()
    assert event.result == result
    assert core.pending.ids() == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":%d,"result":{"a":1},"extra":true}\n',  # more members after the result
        b'{"id": %d, "result": {"a": 1}}\n',  # another layout
        b'{"id":%d,"result":{"a":1}}\r\n',  # a line ending the fast path does not take
    ],
)
def test_replies_in_other_layouts_give_the_same_result(raw: bytes) -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("m", None)
    (event,) = core.receive_data(raw % request_id)
    assert isinstance(event, Response)
    assert event.result == {"a": 1}


def test_a_reply_with_a_leading_zero_id_is_not_taken_for_a_request() -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("m", None)
    assert request_id == 1
    (event,) = core.receive_data(b'{"id":01,"result":{}}\n')
    assert isinstance(event, ProtocolViolation)
    assert core.pending.ids() == [1]


def test_a_broken_reply_line_reaches_its_caller_as_a_clear_error() -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("m", None)
    (event,) = core.receive_data(b'{"id":%d,"result":{"a":}\n' % request_id)
    assert isinstance(event, Response)
    with pytest.raises(CodexError, match="reply to 'm' is not JSON"):
        _ = event.result


def test_params_given_as_json_text_are_spliced_into_the_line() -> None:
    core = JsonRpcCore()
    request_id, sent = core.request("thread/loaded/list", b'{"limit":2}')
    assert json.loads(sent) == {
        "id": request_id,
        "method": "thread/loaded/list",
        "params": {"limit": 2},
    }
    assert sent.endswith(b"}\n")


def test_a_late_reply_to_a_forgotten_request_is_dropped_quietly_and_memory_is_bounded() -> None:
    core = JsonRpcCore()
    ids = [core.request("m", None)[0] for _ in range(1100)]
    for request_id in ids:
        core.pending.forget(request_id)
    assert core.pending.ids() == []
    (late,) = core.receive_data(compact({"id": ids[-1], "result": {}}))
    assert isinstance(late, Response)  # nobody waits for it: the connection drops it
    (again,) = core.receive_data(compact({"id": ids[-1], "result": {}}))
    assert isinstance(again, ProtocolViolation)  # each id is answered once
    (oldest,) = core.receive_data(compact({"id": ids[0], "result": {}}))
    assert isinstance(oldest, ProtocolViolation)  # only the latest forgotten ids are kept


@pytest.mark.parametrize(
    ("code", "data", "cls"),
    [
        (-32700, None, ParseError),
        (-32600, None, InvalidRequestError),
        (-32601, None, MethodNotFoundError),
        (-32602, None, InvalidParamsError),
        (-32603, None, InternalError),
        (-32001, None, ServerBusyError),
        (-32000, {"codexErrorInfo": "serverOverloaded"}, ServerBusyError),
        (
            -32603,
            {"codexErrorInfo": {"responseTooManyFailedAttempts": {}}},
            RetryLimitExceededError,
        ),
        (-31999, None, JsonRpcError),
    ],
)
def test_error_replies_map_to_one_class_per_code(
    code: int, data: object, cls: type[JsonRpcError]
) -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("turn/start", {})
    error = {"code": code, "message": "boom", **({"data": data} if data is not None else {})}
    (event,) = core.receive_data(line({"id": request_id, "error": error}))
    assert isinstance(event, ErrorResponse)
    assert type(event.error) is cls
    assert event.error.code == code
    assert event.error.method == "turn/start"
    assert "boom" in str(event.error)


def test_lines_split_across_reads_and_many_per_read() -> None:
    core = JsonRpcCore()
    raw = line({"method": "a", "params": {"threadId": "t1"}}) + line({"method": "b"})
    events = []
    for i in range(len(raw)):  # one byte at a time
        events += core.receive_data(raw[i : i + 1])
    assert [e.method for e in events if isinstance(e, Notification)] == ["a", "b"]
    assert core.receive_data(raw + raw)[2].method == "a"  # type: ignore[union-attr]


def test_a_ten_megabyte_line_is_read_whole() -> None:
    core = JsonRpcCore()
    big = "x" * (10 * 1024 * 1024)
    raw = line({"method": "item/agentMessage/delta", "params": {"delta": big}})
    events = []
    for start in range(0, len(raw), 65536):
        events += core.receive_data(raw[start : start + 65536])
    (event,) = events
    assert isinstance(event, Notification)
    assert event.params["delta"] == big


def test_notifications_and_server_requests_carry_their_scope() -> None:
    core = JsonRpcCore()
    delta, started, request = core.receive_data(
        line(
            {
                "method": "item/agentMessage/delta",
                "params": {"threadId": "t", "turnId": "u", "delta": "hi"},
            }
        )
        + line({"method": "turn/started", "params": {"threadId": "t", "turn": {"id": "u"}}})
        + line(
            {
                "id": 0,
                "method": "item/commandExecution/requestApproval",
                "params": {"threadId": "t", "turnId": "u", "itemId": "i"},
            }
        )
    )
    assert delta == Notification(
        "item/agentMessage/delta", {"threadId": "t", "turnId": "u", "delta": "hi"}, "t", "u"
    )
    assert isinstance(started, Notification)
    assert (started.thread_id, started.turn_id) == ("t", "u")
    assert isinstance(request, ServerRequest)
    assert (request.request_id, request.thread_id, request.turn_id) == (0, "t", "u")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json\n", "not JSON"),
        (b"[1, 2, 3]\n", "not a JSON object"),
        (b'{"hello": "world"}\n', "neither"),
        (b'{"method": "x", "params": [1]}\n', "params is not an object"),
    ],
)
def test_garbage_is_reported_and_skipped(raw: bytes, reason: str) -> None:
    core = JsonRpcCore()
    events = core.receive_data(raw + line({"method": "ok"}))
    assert isinstance(events[0], ProtocolViolation)
    assert reason in events[0].reason
    assert isinstance(events[1], Notification)


def test_violation_excerpt_is_bounded() -> None:
    (event,) = JsonRpcCore().receive_data(b"x" * 1_000_000 + b"\n")
    assert isinstance(event, ProtocolViolation)
    assert len(event.excerpt) < 300


def test_eof_flushes_a_final_unterminated_line() -> None:
    core = JsonRpcCore()
    assert core.receive_data(b'{"method": "last"}') == []
    (event,) = core.receive_eof()
    assert isinstance(event, Notification)
    assert core.receive_eof() == []


def test_fail_all_empties_the_pending_table() -> None:
    core = JsonRpcCore()
    a, _ = core.request("x", None)
    b, _ = core.request("y", None)
    core.pending.forget(a)
    assert core.pending.ids() == [b]
    assert [call.method for call in core.pending.fail_all()] == ["y"]
    assert core.pending.ids() == []


def test_router_delivers_by_thread_then_narrows_to_turn() -> None:
    router: Router[str] = Router()
    sub = router.subscribe("t1", "turn-handle")
    assert router.route("t1", None) == ["turn-handle"]
    assert router.route("t1", "u-old") == ["turn-handle"]
    sub.turn_id = "u1"
    assert router.route("t1", "u1") == ["turn-handle"]
    assert router.route("t1", "u-old") == []
    assert router.route("t1", None) == ["turn-handle"]
    assert router.route("t2", "u2") == []
    assert router.route(None, None) == []
    router.unsubscribe(sub)
    router.unsubscribe(sub)
    assert len(router) == 0
    assert router.route("t1", "u1") == []


def test_router_keeps_nothing_for_nobody() -> None:
    router: Router[str] = Router()
    for i in range(1000):
        sub = router.subscribe(f"t{i}", "s")
        router.unsubscribe(sub)
    assert len(router) == 0
    assert router.route("t5", None) == []


def test_router_drops_a_turn_subscription_after_its_last_event() -> None:
    router: Router[str] = Router()
    sub = router.subscribe("t1", "handle")
    sub.turn_id = "u1"
    assert router.route("t1", "u1", ends_turn=True) == ["handle"]
    assert len(router) == 0
    assert router.route("t1", "u1") == []
