"""``python -m codex_app_server run``: driven through a pseudo terminal, on the real app-server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pexpect
import pytest
from codex_app_server.config import resolve_codex_bin
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    exec_command,
    message,
    message_deltas,
    response,
    stall,
    write_file,
)
from test_websocket import TOKEN, ListeningAppServer, write_secret

TIMEOUT = 60


@pytest.fixture
def cli_args(codex_bin: str | None, codex_workdir: Path) -> list[str]:
    """The options every run needs: the binary under test and the working directory."""
    binary = os.fspath(resolve_codex_bin(codex_bin))
    return ["--codex-bin", binary, "--cwd", os.fspath(codex_workdir)]


@pytest.fixture
def cli_env(codex_home: Path) -> dict[str, str]:
    """The CLI's environment: the private CODEX_HOME pointing at the scripted model."""
    env = app_server_env(codex_home)
    env["NO_COLOR"] = "1"  # plain text, so the assertions read what a user reads
    return env


Spawn = Callable[..., "pexpect.spawn"]  # a string: pexpect has no spawn on Windows
PTY = "drives the CLI through a pseudo terminal (pexpect.spawn), which Windows lacks"


@pytest.fixture
def spawn(cli_args: list[str], cli_env: dict[str, str]) -> Spawn:
    """Start the CLI on a pseudo terminal; always reaped at teardown."""
    children: list[pexpect.spawn] = []

    def start(*args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "codex_app_server", "run", *args, *cli_args],
            env=cli_env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(40, 200),
        )
        children.append(child)
        return child

    yield start
    for child in children:
        child.close(force=True)


def finish(child: pexpect.spawn) -> int:
    """Wait for the CLI to exit and return its status."""
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus)


def run_cli(
    args: Sequence[str], cli_args: list[str], cli_env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with pipes (not a terminal) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "codex_app_server", "run", *args, *cli_args],
        env=cli_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.posix_only(PTY)
def test_interactive_approvals_and_readable_rendering(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(
            message_deltas(["Creating ", "the file."]),
            exec_command("echo made > made.txt; echo wrote it", escalated=True),
        ),
        response(exec_command("echo no > refused.txt", escalated=True)),
        response(message_deltas(["All ", "done."])),
    )
    child = spawn("make a file")
    child.expect_exact("Creating the file.")
    child.expect_exact("$ echo made > made.txt; echo wrote it")
    child.expect_exact("Run `echo made > made.txt; echo wrote it`? [y/N]")
    child.sendline("y")
    child.expect_exact("wrote it")
    child.expect(r"\[exit 0")
    child.expect_exact("Run `echo no > refused.txt`? [y/N]")
    child.sendline("n")
    child.expect_exact("[declined]")
    child.expect_exact("All done.")
    child.expect(r"-- completed in [\d.]+ s \| tokens: 30 in \(0 cached\), 15 out, 45 total")
    child.expect(r"-- thread (\S+) \(continue with --resume \1\)")
    assert finish(child) == 0
    assert (codex_workdir / "made.txt").read_text().strip() == "made"
    assert not (codex_workdir / "refused.txt").exists()


@pytest.mark.posix_only(PTY)
def test_output_shows_before_the_turn_ends(spawn: Spawn, model_server: ScriptedModelServer) -> None:
    hold = stall()
    model_server.enqueue(response(message("first part"), hold, message("second part")))
    child = spawn("talk slowly", "--approve", "none")
    # The model is held mid-response: what came before must already be on the screen.
    child.expect_exact("first part")
    hold.wait_reached()
    assert "second part" not in child.before
    hold.release()
    child.expect_exact("second part")
    child.expect_exact("-- completed")
    assert finish(child) == 0


@pytest.mark.posix_only(PTY)
def test_ctrl_c_interrupts_the_turn(spawn: Spawn, model_server: ScriptedModelServer) -> None:
    model_server.enqueue(response(stall()))
    child = spawn("wait forever", "--approve", "none")
    model_server.wait_for_requests(1, timeout=TIMEOUT)
    child.sendintr()
    child.expect_exact("interrupted")
    assert finish(child) == 130


def test_json_lines(
    cli_args: list[str], cli_env: dict[str, str], model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message_deltas(["a", "b"])))
    result = run_cli(["say ab", "--json"], cli_args, cli_env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    methods = [event["method"] for event in events]
    assert methods[-1] == "turn/completed"
    assert "turn/started" in methods
    assert methods.count("item/agentMessage/delta") == 2
    usage = next(e for e in events if e["method"] == "thread/tokenUsage/updated")
    assert usage["params"]["tokenUsage"]["total"]["totalTokens"] == 15
    assert events[-1]["params"]["turn"]["status"] == "completed"


def test_approve_flag_without_a_terminal(
    cli_args: list[str],
    cli_env: dict[str, str],
    model_server: ScriptedModelServer,
    codex_workdir: Path,
) -> None:
    model_server.enqueue(
        response(exec_command("echo yes > flagged.txt", escalated=True)),
        response(write_file("notes.txt", "hello")),
        response(message("ran")),
        response(exec_command("echo no > declined.txt", escalated=True)),
        response(message("skipped")),
    )
    accepted = run_cli(["run it", "--approve", "all"], cli_args, cli_env)
    assert accepted.returncode == 0, accepted.stderr
    assert (codex_workdir / "flagged.txt").exists()
    assert (codex_workdir / "notes.txt").read_text().strip() == "hello"
    assert re.search(r"^edited \S*notes\.txt$", accepted.stdout, re.MULTILINE), accepted.stdout
    # Without a terminal to ask on, the default is to decline.
    declined = run_cli(["run it"], cli_args, cli_env)
    assert declined.returncode == 0, declined.stderr
    assert "skipped" in declined.stdout
    assert not (codex_workdir / "declined.txt").exists()


def test_resume_continues_a_thread(
    cli_args: list[str], cli_env: dict[str, str], model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(response(message("noted: 42")), response(message("it was 42")))
    first = run_cli(["the number is 42"], cli_args, cli_env)
    assert first.returncode == 0, first.stderr
    found = re.search(r"-- thread (\S+) ", first.stdout)
    assert found, first.stdout
    second = run_cli(["what was the number?", "--resume", found.group(1)], cli_args, cli_env)
    assert second.returncode == 0, second.stderr
    assert "it was 42" in second.stdout
    assert "the number is 42" in model_server.requests[1].user_texts


def test_errors_are_reported_without_a_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["hi"], ["--codex-bin", os.fspath(tmp_path / "missing")], cli_env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: codex_bin=")
    assert "Traceback" not in result.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "codex_app_server"], capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2
    assert "run" in usage.stderr


def test_url_with_the_token_from_the_environment(
    codex_bin: str | None,
    codex_home: Path,
    codex_workdir: Path,
    cli_env: dict[str, str],
    model_server: ScriptedModelServer,
    tmp_path: Path,
) -> None:
    token_file = write_secret(tmp_path / "token", TOKEN)
    auth = ["--ws-auth", "capability-token", "--ws-token-file", token_file]
    model_server.enqueue(response(message("over the socket")))
    with ListeningAppServer(codex_bin, codex_home, codex_workdir, auth) as server:
        url_args = ["--url", server.url]
        refused = run_cli(["hi"], url_args, cli_env)
        assert refused.returncode == 1
        assert "HTTP 401" in refused.stderr
        result = run_cli(["hi"], url_args, {**cli_env, "CODEX_APP_SERVER_TOKEN": TOKEN})
        assert result.returncode == 0, result.stderr
        assert "over the socket" in result.stdout
        assert TOKEN not in result.stdout + result.stderr
        mixed = run_cli(["hi"], [*url_args, "--cwd", os.fspath(codex_workdir)], cli_env)
        assert mixed.returncode == 1
        assert "do not apply with url=" in mixed.stderr
