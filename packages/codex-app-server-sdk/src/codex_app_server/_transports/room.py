"""Where the threads of the blocking API wait for a server's output, and read it themselves.

Shared by the sync transports: stdio (the waiting threads read the pipe) and the websocket
and in-memory ones (which push what they receive, so nobody reads).
"""

from __future__ import annotations

import importlib
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["READER_GRACE", "SIGNAL_SLICE", "WaitRoom"]

#: Longest uninterrupted wait in the sync API (the Ctrl-C latency bound).
SIGNAL_SLICE = 0.1
#: Seconds the background reader stays off the pipe after a thread last waited for it.
READER_GRACE = 0.05


class WaitRoom:
    """Where threads wait for what the server sends, and which of them reads it.

    A waiting thread reads the output itself when no other thread is reading (it *leads*);
    the others sleep until a read changes something or the leader leaves. A reply then reaches
    the thread that asked for it without a hand-off between threads, which was most of a
    round trip's cost. The background reader (:meth:`run_background`) reads only once nobody
    has waited for :data:`READER_GRACE` seconds, so what nobody waits for (server requests,
    the process exiting) is still handled.

    ``lock`` guards whatever the waiters test. ``read`` (called without the lock) reads once,
    waiting at most its argument in seconds (``None``: until there is output), and returns what
    it read, ``b""`` at the end of the output, or ``None`` if nothing came in time; the room
    then hands the bytes to ``on_data`` under the lock it takes back anyway. When ``shared`` is
    false (a pipe that cannot be polled) only the background reader reads; without ``read`` (a
    websocket, which pushes what it receives) nobody does.
    """

    def __init__(
        self,
        lock: threading.Lock,
        read: Callable[[float | None], bytes | None] | None = None,
        on_data: Callable[[bytes], None] | None = None,
        *,
        shared: bool = False,
    ) -> None:
        self.lock = lock
        self._shared = shared and read is not None
        self._read = read if read is not None else _no_reader
        self._on_data = on_data if on_data is not None else _no_reader
        #: The thread whose SIGINT handler may be put aside (the only one Python signals).
        self._main_ident = threading.main_thread().ident
        self._changed = threading.Condition(lock)
        self._background = threading.Condition(lock)
        self._reading = False
        self._waiting = 0
        self._sleepers = 0
        self._last_wait = 0.0
        self._ended = False
        self._urgent = False
        self._interrupted = False

    def notify(self) -> None:
        """Wake the sleeping waiters to test again; call with :attr:`lock` held."""
        if self._sleepers:
            self._changed.notify_all()

    def end(self) -> None:
        """The output ended: nobody reads any more; call with :attr:`lock` held."""
        self._ended = True
        self._background.notify_all()
        self.notify()

    def hurry(self) -> None:
        """Have the background reader read now, not after the grace (closing)."""
        with self.lock:
            self._urgent = True
            self._background.notify_all()

    def wait(self, ready: Callable[[], object], timeout: float | None) -> bool:
        """Return once ``ready()`` is true (``True``) or ``timeout`` seconds passed (``False``).

        ``ready`` is tested with :attr:`lock` held. Call without it.
        """
        if ready():
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        lock = self.lock
        # The SIGINT handler this thread put aside while it reads for everyone (see below).
        held: Any = _NOT_HELD
        with lock:
            self._waiting += 1
            try:
                while not ready():
                    wait = SIGNAL_SLICE
                    if deadline is not None:
                        wait = min(wait, deadline - time.monotonic())
                        if wait <= 0:
                            return False
                    if self._shared and not self._reading and not self._ended:
                        if held is _NOT_HELD:
                            held = self._hold_interrupts()
                        self._reading = True
                        lock.release()
                        chunk = None
                        try:
                            chunk = self._read(wait)
                        finally:
                            lock.acquire()
                            self._reading = False
                            if chunk is not None:
                                self._take(chunk)
                            if self._sleepers:  # what they wait for may have come
                                self._changed.notify_all()
                            if self._urgent:  # the background reader waits for this read
                                self._background.notify_all()
                        if self._interrupted:
                            held = self._release_interrupts(held)
                    else:
                        held = self._release_interrupts(held)
                        self._sleepers += 1
                        try:
                            self._changed.wait(wait)
                        finally:
                            self._sleepers -= 1
                return True
            finally:
                self._waiting -= 1
                self._last_wait = time.monotonic()
                self._release_interrupts(held)  # last: a Ctrl-C held back is raised here

    # In the main thread Ctrl-C must not land between reading bytes and handing them on: they
    # would be lost, and with them another thread's reply or a turn's events. While the main
    # thread reads, SIGINT is only noted; it is raised again once the read is handed on, at
    # most SIGNAL_SLICE later.
    def _hold_interrupts(self) -> Any:
        """Put this thread's SIGINT handler aside if it is the main thread; return it."""
        if threading.get_ident() != self._main_ident:
            return _NOT_MAIN
        previous = _get_handler(signal.SIGINT)
        if previous is None:  # installed outside Python: it could not be put back
            return _NOT_MAIN
        _set_handler(signal.SIGINT, self._note_interrupt)
        return previous

    def _release_interrupts(self, held: Any) -> Any:
        """Put the handler back and raise a SIGINT that came meanwhile; return ``_NOT_HELD``."""
        if held is not _NOT_HELD and held is not _NOT_MAIN:
            _set_handler(signal.SIGINT, held)
            if self._interrupted:
                self._interrupted = False
                signal.raise_signal(signal.SIGINT)
        return _NOT_HELD

    def _note_interrupt(self, signum: int, frame: object) -> None:
        self._interrupted = True

    def run_background(self) -> None:
        """Read whenever nobody has waited for a while; return once the output ended."""
        while True:
            with self.lock:
                while not self._ended:
                    # Never while a waiter reads, even when hurried: one poll object cannot be
                    # polled from two threads at once ("concurrent poll() invocation").
                    if not self._shared or (self._urgent and not self._reading):
                        break
                    if not self._waiting and not self._reading:
                        idle = time.monotonic() - self._last_wait
                        if idle >= READER_GRACE:
                            break
                        self._background.wait(READER_GRACE - idle)
                    else:
                        self._background.wait(READER_GRACE)
                else:
                    return
                self._reading = True
            chunk = None
            try:
                chunk = self._read(None)
            finally:
                with self.lock:
                    self._reading = False
                    if chunk is not None:
                        self._take(chunk)
                    self.notify()

    def _take(self, chunk: bytes) -> None:
        """Hand what was read on (``b""``: the output ended); call with :attr:`lock` held."""
        if chunk:
            self._on_data(chunk)
        else:
            self.end()


def _no_reader(*_: Any) -> Any:
    raise RuntimeError("this WaitRoom has no reader: its transport pushes what it reads")


#: No SIGINT handler put aside yet.
_NOT_HELD: Any = object()
#: Not the main thread (or a handler Python cannot restore): nothing to put aside.
_NOT_MAIN: Any = object()
# The signal module's functions convert numbers to enums and back on every call (~20 us for
# the three calls a read needs); the C functions they wrap take under 1 us.
try:
    _c_signal: Any = importlib.import_module("_signal")
except ImportError:  # an interpreter without it: the same calls, slower
    _c_signal = signal
_set_handler: Callable[[int, Any], Any] = _c_signal.signal
_get_handler: Callable[[int], Any] = _c_signal.getsignal
