"""Processes and bytes: start ``codex app-server``, move bytes over its pipes, stop it.

Nothing here knows JSON-RPC. :class:`StdioProcess` serves the synchronous connection: the
threads that wait for the server's output read it themselves, one at a time, through a
:class:`~.room.WaitRoom`, and a background thread reads when none of them waits; stdin is
written by a thread of its own and stderr drained into a bounded tail.
:class:`AsyncStdioProcess` is the event loop's subprocess protocol, with no task of its own.
Both stop the server the same way: close its stdin, then terminate, then kill, each with a
bounded wait, and always reap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import resolve_codex_bin
from .room import WaitRoom
from .stderr import StderrTail

if TYPE_CHECKING:
    from ..config import CodexConfig

__all__ = ["AsyncStdioProcess", "StdioProcess"]

#: Bytes asked for per read; larger lines simply take several reads.
READ_SIZE = 1 << 16
#: Seconds allowed for each step of shutdown: EOF on stdin, then SIGTERM, then SIGKILL
#: (on Windows: Ctrl-Break, then the process tree killed; see :func:`stop_steps`).
SHUTDOWN_STEP = 2.0


def detached_from_ctrl_c(platform: str = sys.platform) -> dict[str, Any]:
    """Popen options that keep the user's Ctrl-C away from the server on ``platform``.

    The server gets its own session (POSIX) or process group (Windows, where a new group does
    not receive the console's Ctrl-C), so the key reaches only Python: the SDK then interrupts
    the turn instead of losing the server.
    """
    if platform == "win32":
        # The constant exists only on Windows; its value is documented and fixed.
        flag: int = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        return {"start_new_session": False, "creationflags": flag}
    return {"start_new_session": True, "creationflags": 0}


def stop_steps(
    pid: int,
    terminate: Callable[[], object],
    kill: Callable[[], object],
    platform: str = sys.platform,
) -> tuple[Callable[[], object], Callable[[], object]]:
    """The two steps that stop server ``pid`` on ``platform`` once EOF on its stdin did not.

    Each ends the server's whole process group (it has one of its own, see
    :func:`detached_from_ctrl_c`), so what it started goes with it. POSIX: SIGTERM, then
    SIGKILL, to the group (or ``terminate``/``kill``, the server alone, once the group is
    gone). Windows has no SIGTERM (``terminate`` is TerminateProcess, which ends that one
    process and leaves its children running): the first step is Ctrl-Break to the group,
    which ends a console program the way the key does, and the second ends the tree of
    processes it started (``taskkill /T /F``), then the server.
    """
    if platform == "win32":

        def break_group() -> None:
            # The constant exists only on Windows; its value is documented and fixed.
            os.kill(pid, getattr(signal, "CTRL_BREAK_EVENT", 1))

        def kill_tree() -> None:
            # By full path: a taskkill.exe in the working directory or on PATH is not run.
            system = os.environ.get("SYSTEMROOT", "C:\\Windows")
            taskkill = os.path.join(system, "System32", "taskkill.exe")
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [taskkill, "/PID", str(pid), "/T", "/F"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=SHUTDOWN_STEP,
                    check=False,
                )
            kill()

        return break_group, kill_tree

    def group(number: int, then: Callable[[], object]) -> Callable[[], object]:
        def step() -> None:
            # The group's id is the server's pid (its own session); os.killpg is POSIX only.
            killpg = getattr(os, "killpg", None)
            if killpg is not None:
                with contextlib.suppress(OSError):
                    killpg(pid, number)
                    return
            then()  # no such group any more: the server alone, which reports what it can

        return step

    return group(signal.SIGTERM, terminate), group(getattr(signal, "SIGKILL", 9), kill)


_DETACHED = detached_from_ctrl_c()
# The largest write a pipe takes whole or not at all; Windows pipes are never written this way.
if sys.platform == "win32":
    _PIPE_BUF = 0
else:
    _PIPE_BUF = select.PIPE_BUF


class StdioProcess:
    """A ``codex app-server`` child process whose stdout is read by the threads that wait for it.

    Built from the config and not started: :meth:`open`, called by the connection,
    launches it. ``on_data`` is called with ``lock`` held, from whichever thread read the bytes
    (see :class:`WaitRoom`, :attr:`room`). ``on_eof`` is called once, from the background
    reader, after stdout closes and the process has been given a moment to exit (so its exit
    code and stderr are known). A line for stdin is written by the caller when the pipe takes
    it whole at once, else queued for a writer thread of its own, so a server that stops
    reading its input blocks that thread only: callers still time out, and :meth:`close`
    still stops it.
    """

    def __init__(self, config: CodexConfig) -> None:
        self.stderr = StderrTail()
        #: Read when opened: the binary is looked up then, as a start would.
        self._config = config

    def open(
        self,
        lock: threading.Lock,
        on_data: Callable[[bytes], None],
        on_message: Callable[[str | bytes], None],
        on_eof: Callable[[str], None],
    ) -> None:
        """Launch the server; its output goes to ``on_data`` (``on_message`` is unused: a
        pipe carries a byte stream, not messages)."""
        self._on_eof = on_eof
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._stdin_open = True
        config = self._config
        self._proc = subprocess.Popen(
            config.argv(resolve_codex_bin(config.codex_bin)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            env=config.process_env(),
            cwd=config.cwd,
            close_fds=True,
            **_DETACHED,
        )
        assert self._proc.stdout is not None
        assert self._proc.stdin is not None
        self._stdout_fd = self._proc.stdout.fileno()
        self._stdin_fd = self._proc.stdin.fileno()
        # Only a pipe that can be polled can be read by whichever thread waits (a waiter must
        # be able to stop after its timeout) or written without blocking. Windows pipes
        # cannot: there a background thread reads alone and the writer thread writes alone.
        self._poll: Any = None
        self._stdin_poll: Any = None
        if sys.platform != "win32":
            self._poll = select.poll()
            self._poll.register(self._stdout_fd, select.POLLIN)
            self._stdin_poll = select.poll()
            self._stdin_poll.register(self._stdin_fd, select.POLLOUT)
            os.set_blocking(self._stdin_fd, False)
        #: Lines queued for the writer thread and not yet written (guarded by _write_lock):
        #: while there are any, a caller must queue too, or its line would overtake them.
        self._queued = 0
        self._write_lock = threading.Lock()
        #: Where threads wait for the server's output.
        self.room = WaitRoom(lock, self._read_once, on_data, shared=self._poll is not None)
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name="codex-app-server-stderr", daemon=True
        )
        self._reader_thread = threading.Thread(
            target=self._read_stdout, name="codex-app-server-reader", daemon=True
        )
        self._writer_thread = threading.Thread(
            target=self._write_stdin, name="codex-app-server-writer", daemon=True
        )
        self._stderr_thread.start()
        self._reader_thread.start()
        self._writer_thread.start()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended, else ``None``."""
        return self._proc.poll()

    def write(self, data: bytes) -> None:
        """Write or queue bytes for the server's stdin; raises ``OSError`` once it is closed."""
        with self._write_lock:
            # Checked under the lock that closing takes: the descriptor's number must not be
            # written to once it is closed (it may already name another file).
            if not self._stdin_open:
                raise BrokenPipeError("the app-server's stdin is closed")
            # A pipe takes a non-blocking write of at most PIPE_BUF bytes whole or not at
            # all, so a line written here never breaks, even when a signal follows; it saves
            # the hand-off to the writer thread on every request.
            if not self._queued and self._stdin_poll is not None and len(data) <= _PIPE_BUF:
                try:
                    os.write(self._stdin_fd, data)
                    return
                except BlockingIOError:
                    pass  # the pipe is full: the writer thread waits for room
            self._queued += 1
            self._outbox.put(data)

    def _write_stdin(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (data := self._outbox.get()) is not None:
                # A signal can cut a pipe write short; the rest must follow, or the line breaks.
                view = memoryview(data)
                while view:
                    try:
                        view = view[os.write(self._stdin_fd, view) :]
                    except BlockingIOError:
                        self._stdin_poll.poll()  # until there is room, or the reader is gone
                with self._write_lock:
                    self._queued -= 1
        except (OSError, ValueError):
            pass  # the server is gone: the reader reports it with the exit code and stderr
        finally:
            with self._write_lock, contextlib.suppress(OSError):
                self._stdin_open = False
                stdin.close()

    def _stop_writer(self) -> None:
        """Close stdin (EOF for the server) once everything queued before it is written."""
        with self._write_lock:
            self._stdin_open = False
        self._outbox.put(None)

    def _read_once(self, timeout: float | None) -> bytes | None:
        """What stdout has (``b""`` at its end), or ``None`` after ``timeout`` seconds."""
        try:
            if self._poll is not None:
                ms = None if timeout is None else max(0, int(timeout * 1000))
                if not self._poll.poll(ms):
                    return None
            return os.read(self._stdout_fd, READ_SIZE)
        except (OSError, ValueError):
            return b""  # the pipe was closed under us by close(); EOF handling follows

    def _read_stdout(self) -> None:
        try:
            self.room.run_background()
        finally:
            self._stop_writer()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1.0)
            self._stderr_thread.join(timeout=1.0)
            self._on_eof("the app-server closed its output")

    def _drain_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        try:
            while chunk := stderr.read(READ_SIZE):
                self.stderr.feed(chunk)
        except (OSError, ValueError):
            pass

    def close(self) -> int | None:
        """Stop the server (EOF, then terminate, then kill) and reap it; idempotent."""
        proc = self._proc
        self._stop_writer()
        self.room.hurry()  # nobody may be waiting: the background reader must see the EOF
        for step in (None, *stop_steps(proc.pid, proc.terminate, proc.kill)):
            if step is not None:
                with contextlib.suppress(OSError):
                    step()
            try:
                proc.wait(timeout=SHUTDOWN_STEP)
                break
            except subprocess.TimeoutExpired:
                continue
        # Once the process is gone a blocked write fails at once, so the writer ends too.
        for thread in (self._writer_thread, self._reader_thread):
            if thread is not threading.current_thread():
                thread.join(timeout=SHUTDOWN_STEP)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        return proc.returncode


class _StdoutProtocol(asyncio.Protocol):
    """Put on the server's stdout pipe in place of the subprocess transport's own protocol.

    That one posts every read to the process protocol through ``call_soon``, one more turn of
    the loop per read; this one hands the bytes to ``on_data`` at once and passes the end of
    the pipe on, so the subprocess transport still learns that stdout closed.
    """

    def __init__(self, inner: asyncio.Protocol, on_data: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._on_data = on_data

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)


class AsyncStdioProcess(asyncio.SubprocessProtocol):
    """The asyncio twin of :class:`StdioProcess`: the loop pushes stdout to ``on_data``.

    No task sits between the pipe and the caller: the process is the transport's protocol, so
    each read reaches ``on_data`` from the loop's own read callback, and the caller a reply
    resolves runs on the loop's next turn (a reader task awaiting a ``StreamReader`` took two
    turns more). Writes go straight to the pipe transport, which buffers
    what the pipe does not take; :meth:`drain` waits only while that buffer is over its
    high-water mark. ``on_eof`` is called once, after stdout closes and the process has been
    given a moment to exit (so its exit code and stderr are known).
    """

    def __init__(self, config: CodexConfig) -> None:
        self.stderr = StderrTail()
        #: Read when opened: the binary is looked up then, as a start would.
        self._config = config
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._eof_task: asyncio.Task[None] | None = None
        #: Whether stdin's buffer is over its high-water mark (set by the transport): while
        #: it is, a writer must await :meth:`drain`.
        self.writing_paused = False
        self._drainers: list[asyncio.Future[None]] = []
        self._closed = False

    async def open(
        self,
        on_data: Callable[[bytes], None],
        on_message: Callable[[str | bytes], None],
        on_eof: Callable[[str], None],
    ) -> None:
        """Launch the server and start pumping its output to ``on_data`` (``on_message`` is
        unused: a pipe carries a byte stream, not messages)."""
        self._on_data = on_data
        self._on_eof = on_eof
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[None] = self._loop.create_future()
        self._stderr_closed: asyncio.Future[None] = self._loop.create_future()
        config = self._config
        program, *args = config.argv(resolve_codex_bin(config.codex_bin))
        await self._loop.subprocess_exec(
            lambda: self,
            program,
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=config.process_env(),
            cwd=Path(config.cwd) if config.cwd is not None else None,
            close_fds=True,
            **_DETACHED,
        )
        # Reads that came before this point were posted to pipe_data_received already, and
        # run before any read that comes after it: the order of the bytes holds.
        transport = self._transport
        stdout = transport.get_pipe_transport(1) if transport is not None else None
        inner = stdout.get_protocol() if stdout is not None else None
        if stdout is not None and isinstance(inner, asyncio.Protocol):
            stdout.set_protocol(_StdoutProtocol(inner, on_data))

    # -- the transport's callbacks ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        assert isinstance(data, bytes)
        if fd == 1:
            self._on_data(data)
        else:
            self.stderr.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 0:
            self._wake_drainers(BrokenPipeError("the app-server's stdin is closed"))
        elif fd == 1:
            if not self._closed and self._eof_task is None:
                self._eof_task = self._loop.create_task(self._report_eof())
        elif not self._stderr_closed.done():
            self._stderr_closed.set_result(None)

    def process_exited(self) -> None:
        if not self._exited.done():
            self._exited.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drainers(None)

    # -- what the connection uses ----------------------------------------------------------
    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._transport is not None
        return self._transport.get_pid()

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended, else ``None``."""
        assert self._transport is not None
        return self._transport.get_returncode()

    def write(self, data: bytes) -> None:
        """Queue bytes for the server's stdin (the loop flushes them)."""
        stdin = self._stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("the app-server's stdin is closed")
        stdin.write(data)

    async def drain(self) -> None:
        """Wait until stdin's buffer is below its high-water mark again (back-pressure)."""
        if not self.writing_paused:
            return
        stdin = self._stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("the app-server's stdin is closed")
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drainers.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._drainers.remove(waiter)

    def _wake_drainers(self, error: BaseException | None) -> None:
        if error is not None:
            self.writing_paused = False
        for waiter in self._drainers:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
        self._drainers.clear()

    async def _report_eof(self) -> None:
        # Give the process a moment to exit and stderr to close: the error then carries both.
        for event in (self._exited, self._stderr_closed):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(event), 1.0)
        self._on_eof("the app-server closed its output")
        transport = self._transport
        if transport is not None and transport.get_returncode() is not None:
            transport.close()  # the process is reaped: release the pipes now, not at close()

    async def close(self) -> int | None:
        """Stop the server (EOF, then terminate, then kill) and reap it; idempotent."""
        transport = self._transport
        assert transport is not None
        stdin = self._stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()  # EOF once what is buffered is written
        pid = transport.get_pid()
        for step in (None, *stop_steps(pid, transport.terminate, transport.kill)):
            if step is not None and transport.get_returncode() is None:
                with contextlib.suppress(OSError, ProcessLookupError):
                    step()
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), SHUTDOWN_STEP)
                break
            except asyncio.TimeoutError:
                continue
        eof_task = self._eof_task
        if eof_task is not None and eof_task is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(eof_task), SHUTDOWN_STEP)
            except asyncio.TimeoutError:
                eof_task.cancel()
        self._closed = True
        transport.close()  # closes the pipes; the process is reaped already
        return transport.get_returncode()
