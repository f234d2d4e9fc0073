"""The WaitRoom's one-reader rule: a poll object must never be polled by two threads at once."""

from __future__ import annotations

import threading

from codex_app_server._transports.room import WaitRoom


def test_a_hurried_background_reader_waits_for_the_reading_waiter() -> None:
    """Closing hurries the background reader while a waiter may be reading; it used to read
    beside it, and a real pipe's poll() then raised "concurrent poll() invocation"."""
    lock = threading.Lock()
    guard = threading.Lock()
    active = 0
    most = 0
    calls = 0
    waiter_reads = threading.Event()
    let_go = threading.Event()
    second_read = threading.Event()
    received: list[bytes] = []

    def read(timeout: float | None) -> bytes | None:
        nonlocal active, most, calls
        with guard:
            active += 1
            calls += 1
            call = calls
            most = max(most, active)
        try:
            if call == 1:
                waiter_reads.set()
                let_go.wait(10)
                return b"reply"
            second_read.set()
            return b""  # the output ended
        finally:
            with guard:
                active -= 1

    room = WaitRoom(lock, read, received.append, shared=True)
    waiter = threading.Thread(target=room.wait, args=(lambda: received, 10))
    waiter.start()
    assert waiter_reads.wait(10)
    background = threading.Thread(target=room.run_background)
    background.start()
    room.hurry()
    # The background reader must not read while the waiter still does: give it the chance.
    overlapped = second_read.wait(0.5)
    let_go.set()
    waiter.join(10)
    background.join(10)
    assert not overlapped
    assert most == 1
    assert received == [b"reply"]
    assert second_read.is_set()  # the background reader still read, after the waiter, to EOF
