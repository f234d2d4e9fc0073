"""The connection and the typed client on the in-memory transport: no process is spawned.

What a user of the connection can see: replies reach their callers, timeouts and closing clean
the one pending table, notifications are routed and batched per subscriber, server requests are
answered (by a handler, or with the safe default), and the hooks see the traffic. The no-I/O
parts (the pending table's deadline clock, the event sorter) are tested with a clock passed in.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _scripted_peer import HOLD, RpcError, ScriptedPeer, notification
from codex_app_server import (
    DEFAULT_TIMEOUT,
    RUNTIME_VERSION,
    CodexClient,
    CodexConfig,
    MethodNotFoundError,
    RequestTimeoutError,
    SentRequest,
    TransportClosedError,
)
from codex_app_server._connection import AsyncConnection, Connection
from codex_app_server._handlers import HandlerTable
from codex_app_server._protocol import (
    ErrorResponse,
    EventSorter,
    JsonRpcCore,
    Notification,
    PendingTable,
    Response,
    Router,
    ServerRequest,
)
from codex_app_server._sync import client as client_module
from codex_app_server._transports.memory import HUNG_UP
from codex_app_server.errors import CLOSED_BY_OWNER

CONFIG = CodexConfig(request_timeout=30.0, handler_timeout=5.0)


@pytest.fixture
def peer() -> ScriptedPeer:
    return ScriptedPeer({"echo": lambda params: params, "slow": HOLD})


@pytest.fixture
def connection(peer: ScriptedPeer) -> Iterator[Connection]:
    connection = Connection(CONFIG, peer.transport())
    yield connection
    connection.close()


def in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread; its result or exception lands in the returned list."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_for_request(peer: ScriptedPeer, method: str) -> Any:
    """The id of the first held ``method`` request, once the client has sent it."""
    for _ in range(2000):
        ids = peer.held.get(method)
        if ids:
            return ids.pop(0)
        threading.Event().wait(0.005)
    raise AssertionError(f"{method} was never sent")


# -- requests and replies -----------------------------------------------------------------------


def test_a_reply_reaches_its_caller_and_the_line_has_no_jsonrpc_member(
    connection: Connection, peer: ScriptedPeer
) -> None:
    assert connection.request("echo", {"n": 1}) == {"n": 1}
    (sent,) = peer.received
    assert sent == {"id": sent["id"], "method": "echo", "params": {"n": 1}}
    assert connection.pending_requests() == 0


def test_an_error_reply_raises_its_mapped_exception(connection: Connection) -> None:
    with pytest.raises(MethodNotFoundError, match="unknown method nope"):
        connection.request("nope")
    assert connection.pending_requests() == 0


def test_a_timed_out_request_leaves_nothing_pending_and_its_late_reply_is_dropped(
    connection: Connection, peer: ScriptedPeer
) -> None:
    with pytest.raises(RequestTimeoutError, match=re.escape("'slow' got no reply within 0.05 s")):
        connection.request("slow", timeout=0.05)
    assert connection.pending_requests() == 0
    (late,) = peer.held["slow"]
    peer.reply(late, {"too": "late"})
    assert connection.protocol_violations == 0  # nobody's reply, not the server's fault
    assert connection.request("echo", {"after": True}) == {"after": True}


def test_timeout_none_waits_forever_even_when_request_timeout_is_short(peer: ScriptedPeer) -> None:
    connection = Connection(CodexConfig(request_timeout=0.01), peer.transport())
    try:
        with pytest.raises(RequestTimeoutError):
            connection.request("slow")  # the default: request_timeout
        with pytest.raises(RequestTimeoutError):
            connection.request("slow", timeout=DEFAULT_TIMEOUT)
        peer.held.clear()
        thread, outcome = in_thread(lambda: connection.request("slow", timeout=None))
        request_id = wait_for_request(peer, "slow")
        thread.join(0.2)  # far past request_timeout: still waiting
        assert outcome == []
        peer.reply(request_id, "finally")
        thread.join(10)
        assert outcome == ["finally"]
    finally:
        connection.close()


def test_replies_reach_concurrent_callers_whatever_their_order(
    connection: Connection, peer: ScriptedPeer
) -> None:
    first, first_outcome = in_thread(lambda: connection.request("slow"))
    first_id = wait_for_request(peer, "slow")
    second, second_outcome = in_thread(lambda: connection.request("slow"))
    second_id = wait_for_request(peer, "slow")
    peer.send({"id": second_id, "result": 2}, {"id": first_id, "result": 1})
    first.join(10)
    second.join(10)
    assert (first_outcome, second_outcome) == ([1], [2])


# -- closing ------------------------------------------------------------------------------------


def test_the_peer_hanging_up_fails_waiters_and_names_the_reason(
    connection: Connection, peer: ScriptedPeer
) -> None:
    waiting, outcome = in_thread(lambda: connection.request("slow"))
    wait_for_request(peer, "slow")
    subscription = connection.subscribe("t1")
    assert connection.closed_reason is None
    peer.hang_up()
    waiting.join(10)
    (error,) = outcome
    assert isinstance(error, TransportClosedError)
    assert error.reason == HUNG_UP
    assert connection.closed
    assert connection.closed_reason is not None
    assert connection.closed_reason.reason == HUNG_UP
    assert connection.pending_requests() == 0
    for _ in range(2):  # every later read reports the closure too
        with pytest.raises(TransportClosedError):
            subscription.sink.get(1.0)
    with pytest.raises(TransportClosedError, match="start a new client"):
        connection.request("echo")


def test_close_by_the_owner_keeps_its_reason_and_is_idempotent(
    connection: Connection,
) -> None:
    connection.close()
    connection.close()
    assert connection.closed_reason is not None
    assert connection.closed_reason.reason == CLOSED_BY_OWNER
    late = connection.subscribe("t1")
    with pytest.raises(TransportClosedError):
        late.sink.get(1.0)


# -- routing and batching -----------------------------------------------------------------------


def test_events_reach_their_thread_in_order_and_a_turn_subscription_ends_with_its_turn(
    connection: Connection, peer: ScriptedPeer
) -> None:
    turn = connection.subscribe("t1")
    connection.narrow(turn, "u1")
    thread_wide = connection.subscribe("t1")
    other = connection.subscribe("t2")
    assert connection.subscriber_count() == 3
    assert connection.active_turns() == 3  # the narrowed turn, and two being started
    peer.send(
        notification("x/delta", "t1", "u1", n=0),
        notification("x/delta", "t2", "u9", n=1),
        notification("x/delta", "t1", "u1", n=2),
        notification("x/delta", "t1", "u2", n=3),  # another turn: thread-wide only
    )
    peer.send(notification("x/delta", "t1", "u1", n=4))
    peer.send({"method": "turn/completed", "params": {"threadId": "t1", "turn": {"id": "u1"}}})
    assert [turn.sink.get(1.0).params.get("n") for _ in range(4)] == [0, 2, 4, None]
    assert [thread_wide.sink.get(1.0).params.get("n") for _ in range(5)] == [0, 2, 3, 4, None]
    assert other.sink.get(1.0).params["n"] == 1
    assert connection.subscriber_count() == 2  # the turn's subscription ended with it
    connection.unsubscribe(thread_wide)
    connection.unsubscribe(other)
    assert connection.subscriber_count() == 0


def test_events_for_nobody_are_dropped(connection: Connection, peer: ScriptedPeer) -> None:
    peer.send(notification("x/delta", "nobody", "u", n=0))
    subscription = connection.subscribe("t1")
    peer.send(notification("x/delta", "t1", "u", n=1))
    assert subscription.sink.get(1.0).params["n"] == 1
    assert subscription.sink.get_ready() is None


def test_the_sorter_batches_per_sink_and_puts_what_came_first_first() -> None:
    router: Router[str] = Router()
    router.subscribe("t1", "a")
    router.subscribe("t2", "b")
    observed: list[str] = []
    sorter = EventSorter(router, lambda event: observed.append(event.method), lambda _: None)
    core = JsonRpcCore()
    request_id, _ = core.request("echo", None, waiter="waiter")
    events = core.receive_data(
        b"".join(
            [
                b'{"method":"x/d","params":{"threadId":"t1","n":0}}\n',
                b'{"method":"x/d","params":{"threadId":"t2","n":1}}\n',
                b'{"method":"x/d","params":{"threadId":"t1","n":2}}\n',
                b'{"id":%d,"result":{}}\n' % request_id,
                b'{"id":"s1","method":"ask","params":{"threadId":"t1"}}\n',
                b'{"method":"thread/closed","params":{"threadId":"t1"}}\n',
            ]
        )
    )
    first, reply, request, last = sorter.sort(events)
    assert isinstance(first, dict)
    assert {sink: [e.params["n"] for e in batch] for sink, batch in first.items()} == {
        "a": [0, 2],
        "b": [1],
    }
    assert isinstance(reply, Response)
    assert reply.waiter == "waiter"
    assert isinstance(request, ServerRequest)
    assert request.method == "ask"
    assert isinstance(last, dict)
    assert list(last) == ["a"]
    assert observed == ["thread/closed"]
    # A read of notifications only, as a stream's are: its one batch, nothing around it.
    stream = sorter.sort(core.receive_data(b'{"method":"x/d","params":{"threadId":"t2","n":3}}\n'))
    assert isinstance(stream, dict)
    assert [e.params["n"] for e in stream["b"]] == [3]


def test_the_sorter_lets_a_thread_reply_add_routes_for_the_events_after_it() -> None:
    router: Router[str] = Router()
    core = JsonRpcCore()
    request_id, _ = core.request("thread/start", None)

    def observe_reply(reply: Response) -> None:
        router.subscribe(reply.result["thread"]["id"], "new")

    sorter = EventSorter(router, lambda _: None, observe_reply)
    events = core.receive_data(
        b'{"id":%d,"result":{"thread":{"id":"t9"}}}\n' % request_id
        + b'{"method":"x/d","params":{"threadId":"t9"}}\n'
    )
    reply, batch = sorter.sort(events)
    assert isinstance(reply, Response)
    assert isinstance(batch, dict)
    assert list(batch) == ["new"]


def test_an_error_reply_carries_its_waiter_and_a_reply_for_nobody_is_a_violation() -> None:
    core = JsonRpcCore()
    request_id, _ = core.request("m", None, waiter="w")
    (error,) = core.receive_data(b'{"id":%d,"error":{"code":-32601,"message":"no"}}\n' % request_id)
    assert isinstance(error, ErrorResponse)
    assert error.waiter == "w"
    (stray,) = core.receive_data(b'{"id":99,"result":{}}\n')
    assert not isinstance(stray, Response | Notification)


# -- the deadline clock (no sleeping: the clock is passed in) ---------------------------------


def test_the_pending_table_clock_arms_for_the_earliest_deadline_and_expires_in_order() -> None:
    table = PendingTable()
    for request_id, method in [(1, "a"), (2, "b"), (3, "c"), (4, "d")]:
        table.add(request_id, method, f"waiter {method}")
    assert table.next_deadline is None
    assert table.set_deadline(1, 10.0, 10.0) is True  # nothing armed: arm for it
    assert table.set_deadline(2, 20.0, 20.0) is False  # later than what is armed
    assert table.set_deadline(3, 5.0, 5.0) is True  # earlier: re-arm
    assert table.next_deadline == 5.0
    assert table.expire(4.9) == []
    assert table.next_deadline == 5.0
    assert [call.method for call in table.expire(10.0)] == ["a", "c"]
    assert table.next_deadline == 20.0
    assert table.claim(2) is not None  # replied: nothing left to expire
    assert table.expire(25.0) == []
    assert table.next_deadline is None
    assert len(table) == 1  # "d" never had a deadline
    late = table.claim(1)  # an expired call's late reply is nobody's, not unknown
    assert late is not None
    assert late.method == "a"
    assert late.waiter is None


def test_a_held_deadline_is_off_the_clock_until_set_again() -> None:
    table = PendingTable()
    table.add(1, "a", None)
    table.set_deadline(1, 3.0, 3.0)
    assert table.hold(1) == 3.0
    assert table.expire(100.0) == []
    assert table.set_deadline(1, 3.0, 3.0) is True
    assert [call.method for call in table.expire(100.0)] == ["a"]
    assert table.hold(1) is None  # gone


def test_forgotten_ids_are_bounded_and_fail_all_empties_everything() -> None:
    table = PendingTable()
    for request_id in range(2000):
        table.add(request_id, "m", None)
        table.forget(request_id)
    assert table.claim(0) is None  # only the last 1024 are remembered
    assert table.claim(1999) is not None
    table.add(5000, "x", "w")
    assert [call.waiter for call in table.fail_all()] == ["w"]
    assert len(table) == 0
    assert table.claim(1998) is None


# -- server requests ------------------------------------------------------------------------------


def wait_for_answer(peer: ScriptedPeer, request_id: Any) -> dict[str, Any]:
    for _ in range(2000):
        answers = peer.answers_to(request_id)
        if answers:
            (answer,) = answers
            return answer
        threading.Event().wait(0.005)
    raise AssertionError(f"request {request_id} was never answered")


def test_an_unhandled_approval_gets_the_safe_default(
    connection: Connection, peer: ScriptedPeer
) -> None:
    peer.send({"id": "s1", "method": "item/commandExecution/requestApproval", "params": {}})
    assert wait_for_answer(peer, "s1") == {"id": "s1", "result": {"decision": "decline"}}


def test_an_unknown_server_request_gets_an_error_reply(
    connection: Connection, peer: ScriptedPeer
) -> None:
    peer.send({"id": 7, "method": "test/unknown", "params": {}})
    assert wait_for_answer(peer, 7)["error"]["code"] == -32601


def test_a_handler_answers_and_a_failing_handler_becomes_an_error_reply(peer: ScriptedPeer) -> None:
    def fail(params: Any) -> Any:
        raise ValueError("boom")

    handlers = HandlerTable({"test/echo": lambda params: {"got": params["n"]}, "test/fail": fail})
    connection = Connection(CONFIG, peer.transport(), handlers)
    try:
        peer.send(
            {"id": 1, "method": "test/echo", "params": {"n": 3}},
            {"id": 2, "method": "test/fail", "params": {}},
        )
        assert wait_for_answer(peer, 1) == {"id": 1, "result": {"got": 3}}
        failed = wait_for_answer(peer, 2)["error"]
        assert failed["code"] == -32603
        assert "ValueError: boom" in failed["message"]
    finally:
        connection.close()


def test_a_handler_that_overruns_handler_timeout_gets_the_safe_default_sent(
    peer: ScriptedPeer,
) -> None:
    release = threading.Event()

    def stuck(params: Any) -> Any:
        release.wait(10)
        return {"decision": "accept"}

    handlers = HandlerTable({"test/stuck": stuck})
    config = CodexConfig(handler_timeout=0.05)
    connection = Connection(config, peer.transport(), handlers)
    try:
        peer.send({"id": "s", "method": "test/stuck", "params": {}})
        # The safe default of a method the SDK does not know is a "not handled" error.
        assert wait_for_answer(peer, "s")["error"]["code"] == -32601
        release.set()
        threading.Event().wait(0.05)
        assert len(peer.answers_to("s")) == 1  # the late answer is dropped
    finally:
        release.set()
        connection.close()


# -- hooks --------------------------------------------------------------------------------------


def test_hooks_see_requests_replies_notifications_and_server_requests(
    connection: Connection, peer: ScriptedPeer
) -> None:
    seen: list[Any] = []
    hooks = connection.hooks
    hooks.request.append(lambda sent: seen.append(("request", sent.method)))
    hooks.reply.append(
        lambda sent, reply, error: seen.append(
            ("reply", sent.method, None if reply is None else reply.result, type(error).__name__)
        )
    )
    hooks.notification.append(lambda event: seen.append(("notification", event.method)))
    hooks.server_request.append(lambda request: seen.append(("server", request.method)))
    hooks.notification.append(lambda event: 1 / 0)  # a broken hook is logged, not fatal
    assert connection.request("echo", {"n": 1}) == {"n": 1}
    with pytest.raises(MethodNotFoundError):
        connection.request("nope")
    peer.send(notification("x/delta", "t1", "u1"))
    peer.send({"id": "s", "method": "item/commandExecution/requestApproval", "params": {}})
    wait_for_answer(peer, "s")
    assert seen == [
        ("request", "echo"),
        ("reply", "echo", {"n": 1}, "NoneType"),
        ("request", "nope"),
        ("reply", "nope", None, "MethodNotFoundError"),
        ("notification", "x/delta"),
        ("server", "item/commandExecution/requestApproval"),
    ]


def test_the_reply_hook_gets_the_timeout_the_caller_gets(
    connection: Connection,
) -> None:
    settled: list[tuple[SentRequest, Any]] = []
    connection.hooks.reply.append(lambda sent, reply, error: settled.append((sent, error)))
    with pytest.raises(RequestTimeoutError):
        connection.request("slow", {"p": 1}, timeout=0.01)
    ((sent, error),) = settled
    assert (sent.method, sent.params) == ("slow", {"p": 1})
    assert isinstance(error, RequestTimeoutError)


# -- the typed client on the in-memory transport -------------------------------------------------


def test_the_typed_client_handshakes_and_types_replies(
    peer: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer.answers["thread/loaded/list"] = {"data": ["t1", "t2"], "nextCursor": None}
    monkeypatch.setattr(client_module, "transport_for", lambda config: peer.transport())
    with CodexClient(CodexConfig()) as client:
        assert client.initialize_response.user_agent.startswith(f"codex_cli_rs/{RUNTIME_VERSION}")
        assert client.thread_loaded_list().data == ["t1", "t2"]
        assert client.request("echo", {"raw": True}, timeout=None) == {"raw": True}
    methods = [message.get("method") for message in peer.received]
    assert methods == ["initialize", "initialized", "thread/loaded/list", "echo"]
    assert client.connection.closed


# -- async ----------------------------------------------------------------------------------------


async def test_async_request_reply_error_and_timeout_clean_the_one_table() -> None:
    peer = ScriptedPeer({"echo": lambda params: params, "slow": HOLD, "bad": RpcError(-32601, "x")})
    connection = AsyncConnection(CONFIG, peer.async_transport())
    await connection.start()
    try:
        assert await connection.request("echo", {"n": 1}) == {"n": 1}
        with pytest.raises(MethodNotFoundError):
            await connection.request("bad")
        with pytest.raises(RequestTimeoutError, match=re.escape("within 0.05 s")):
            await connection.request("slow", timeout=0.05)
        assert connection.pending_requests() == 0
        # Two deadlines: the earlier fires first, the later one is still armed after it.
        short = asyncio.ensure_future(connection.request("slow", timeout=0.02))
        long = asyncio.ensure_future(connection.request("slow", timeout=30))
        with pytest.raises(RequestTimeoutError):
            await short
        assert not long.done()
        peer.reply(peer.held["slow"][-1], "late but in time")
        assert await long == "late but in time"
        assert connection.pending_requests() == 0
    finally:
        await connection.close()


async def test_async_timeout_none_waits_past_request_timeout() -> None:
    peer = ScriptedPeer({"slow": HOLD})
    connection = AsyncConnection(CodexConfig(request_timeout=0.01), peer.async_transport())
    await connection.start()
    try:
        waiting = asyncio.ensure_future(connection.request("slow", timeout=None))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        peer.reply(peer.held["slow"][0], "done")
        assert await waiting == "done"
    finally:
        await connection.close()


async def test_async_routing_server_requests_hooks_and_close() -> None:
    async def echo(params: Any) -> Any:
        return {"got": params["n"]}

    peer = ScriptedPeer({"slow": HOLD})
    connection = AsyncConnection(CONFIG, peer.async_transport(), HandlerTable({"test/echo": echo}))
    await connection.start()
    notified: list[str] = []
    connection.hooks.notification.append(lambda event: notified.append(event.method))
    subscription = connection.subscribe("t1")
    peer.send(
        notification("x/delta", "t1", "u", n=0),
        notification("x/delta", "t1", "u", n=1),
        {"id": "s1", "method": "item/fileChange/requestApproval", "params": {}},
        {"id": "s2", "method": "test/echo", "params": {"n": 5}},
    )
    assert [(await subscription.sink.get(1.0)).params["n"] for _ in range(2)] == [0, 1]
    for _ in range(100):
        if peer.answers_to("s2"):
            break
        await asyncio.sleep(0.01)
    assert peer.answers_to("s1") == [{"id": "s1", "result": {"decision": "decline"}}]
    assert peer.answers_to("s2") == [{"id": "s2", "result": {"got": 5}}]
    assert notified == ["x/delta", "x/delta"]
    waiting = asyncio.ensure_future(connection.request("slow"))
    await asyncio.sleep(0)
    peer.hang_up()
    with pytest.raises(TransportClosedError) as closed:
        await waiting
    assert closed.value.reason == HUNG_UP
    assert connection.closed_reason is not None
    assert connection.closed_reason.reason == HUNG_UP
    with pytest.raises(TransportClosedError):
        await subscription.sink.get(1.0)
    await connection.close()
    assert connection.pending_requests() == 0


async def test_async_events_sent_before_a_hang_up_arrive_before_the_closure() -> None:
    peer = ScriptedPeer()
    connection = AsyncConnection(CONFIG, peer.async_transport())
    await connection.start()
    subscription = connection.subscribe("t1")
    peer.send(notification("x/delta", "t1", "u", n=0))
    peer.send(notification("x/delta", "t1", "u", n=1))
    peer.hang_up()
    assert [(await subscription.sink.get(1.0)).params["n"] for _ in range(2)] == [0, 1]
    with pytest.raises(TransportClosedError, match="hung up"):
        await subscription.sink.get(1.0)
    await connection.close()
