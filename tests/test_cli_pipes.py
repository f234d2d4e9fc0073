"""``python -m codex_app_server run`` without a terminal, driven through pipes on every platform.

test_cli.py drives the interactive run through a pseudo terminal, which Windows does not have;
these tests drive the same run through plain pipes and no terminal, as another program or a CI
job would, so the declined approval and the live output are proven on Windows too.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import test_cli
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    message,
    message_deltas,
    response,
    stall,
)

TIMEOUT = test_cli.TIMEOUT
# The same options and environment as the terminal tests.
cli_args = test_cli.cli_args
cli_env = test_cli.cli_env
Follow = Callable[[subprocess.Popen[str]], "queue.Queue[str]"]


def start_cli(
    args: list[str], cli_args: list[str], cli_env: dict[str, str]
) -> subprocess.Popen[str]:
    """Start the CLI with its three streams on pipes."""
    # No terminal at all, as under a CI job or a service: its own session (POSIX), no console
    # (Windows), so the CLI cannot reach the terminal this test may run in.
    detached: dict[str, Any] = (
        {"creationflags": getattr(subprocess, "DETACHED_PROCESS", 0)}
        if sys.platform == "win32"
        else {"start_new_session": True}
    )
    return subprocess.Popen(
        [sys.executable, "-m", "codex_app_server", "run", *args, *cli_args],
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **detached,
    )


@pytest.fixture
def lines_of() -> Iterator[Follow]:
    """Read a process's stdout line by line on a thread, so a test can wait with a bound."""
    readers: list[threading.Thread] = []

    def follow(process: subprocess.Popen[str]) -> queue.Queue[str]:
        lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                lines.put(line)
            lines.put("")  # the end

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        readers.append(reader)
        return lines

    yield follow
    for reader in readers:
        reader.join(TIMEOUT)


def test_an_answer_on_the_pipe_is_never_taken_and_the_request_is_declined_saying_why(
    cli_args: list[str],
    cli_env: dict[str, str],
    model_server: ScriptedModelServer,
    codex_workdir: Path,
) -> None:
    # Answers come from a person at a terminal, never from stdin, which the prompt's text may
    # also come from; with no terminal at all the request is shown, declined, and says why.
    model_server.enqueue(
        response(
            message_deltas(["Creating ", "the file."]),
            exec_command("echo made > made.txt; echo wrote it", escalated=True),
        ),
        response(message_deltas(["All ", "done."])),
    )
    process = start_cli(["make a file", "--approve", "ask"], cli_args, cli_env)
    out, err = process.communicate("y\ny\n", timeout=TIMEOUT)
    assert process.returncode == 0, err
    expected = [
        "Creating the file.",
        "Run a command?",
        "declined: there is no terminal to ask on",
        "All done.",
        "-- completed",
    ]
    positions = [out.find(text) for text in expected]
    assert -1 not in positions, out
    assert positions == sorted(positions), out
    assert "echo made > made.txt; echo wrote it" in out  # the request is shown in full
    assert not (codex_workdir / "made.txt").exists()


def test_output_reaches_a_pipe_before_the_turn_ends(
    cli_args: list[str],
    cli_env: dict[str, str],
    model_server: ScriptedModelServer,
    lines_of: Follow,
) -> None:
    hold = stall()
    model_server.enqueue(response(message("first part"), hold, message("second part")))
    process = start_cli(["talk slowly", "--approve", "none"], cli_args, cli_env)
    try:
        lines = lines_of(process)
        # The model is held mid-response: what came before must already be in the pipe.
        seen = ""
        while "first part" not in seen:
            line = lines.get(timeout=TIMEOUT)
            assert line, f"the output ended before the held part: {seen!r}"
            seen += line
        hold.wait_reached()
        assert "second part" not in seen
        hold.release()
        rest = "".join(iter(lambda: lines.get(timeout=TIMEOUT), ""))
        assert "second part" in rest
        assert "-- completed" in rest
        assert process.wait(TIMEOUT) == 0
    finally:
        hold.release()
        process.kill()
        process.wait(TIMEOUT)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
