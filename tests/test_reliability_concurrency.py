"""One client serves many callers at once: the hand-written part (the rest is in ``_async/``).

Ctrl-C exists only in the sync face, where the thread whose call is waiting may be the one
reading the server's output for every other thread: an interrupt there must lose none of their
replies.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from codex_app_server import Codex


@pytest.mark.posix_only("sends SIGINT to the main thread with signal.pthread_kill")
def test_ctrl_c_in_the_thread_reading_for_others_loses_none_of_their_replies(
    codex: Codex,
) -> None:
    # The main thread reads the server's output for every waiting thread while its own call
    # waits; Ctrl-C lands there hundreds of times. A reply it had read but not handed on would
    # be lost, and the other thread would time out.
    stop = threading.Event()
    errors: list[BaseException] = []
    answered = 0

    def other_thread() -> None:
        nonlocal answered
        try:
            while not stop.is_set():
                codex.client.request("thread/loaded/list", {}, timeout=5)
                answered += 1
        except BaseException as exc:
            errors.append(exc)

    armed = [False]

    def on_sigint(signum: int, frame: object) -> None:
        if armed[0]:
            armed[0] = False  # one interrupt per call: never inside the except clause below
            raise KeyboardInterrupt

    def interrupter() -> None:
        while not stop.wait(0.003):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    workers = [threading.Thread(target=other_thread), threading.Thread(target=interrupter)]
    interrupted = 0
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                armed[0] = True
                codex.client.thread_loaded_list()
                armed[0] = False
            except KeyboardInterrupt:
                interrupted += 1
    finally:
        armed[0] = False
        stop.set()
        for worker in workers:
            worker.join(10)
        signal.signal(signal.SIGINT, previous)
    assert errors == []
    assert interrupted > 20
    assert answered > 20
    connection = codex.client.connection
    assert connection.protocol_violations == 0
    assert codex.client.thread_loaded_list().data == []
    assert connection.pending_requests() == 0
