"""``python -m codex_app_server run``: driven through a pseudo terminal, on the real app-server."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pexpect
import pytest
from codex_app_server._escape import json_line, printable
from codex_app_server.cli import Renderer, Terminal
from codex_app_server.config import resolve_codex_bin
from codex_app_server.generated import (
    ApplyPatchApprovalParams,
    ExecCommandApprovalParams,
    FileChangeRequestApprovalParams,
)
from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    apply_patch,
    exec_command,
    function_call,
    http_error,
    message,
    message_deltas,
    response,
    stall,
    write_codex_home,
    write_file,
)
from test_websocket import TOKEN, ListeningAppServer, write_secret

TIMEOUT = 60
DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
#: What no server text may put on the screen raw: C0 controls but the line break, DEL, C1
#: controls, and bidi and other format characters. A pseudo terminal ends lines with CR LF.
RAW = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)


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

    def start(*args: str, stdin: str | None = None, stdout: Path | None = None) -> pexpect.spawn:
        """The CLI on a terminal; with ``stdin``, its stdin is a pipe holding that text, and
        with ``stdout`` its output goes to that file."""
        command = [sys.executable, "-m", "codex_app_server", "run", *args, *cli_args]
        if stdin is not None or stdout is not None:
            shell = f"exec {shlex.join(command)}"
            if stdout is not None:
                shell += f" > {shlex.quote(str(stdout))}"
            if stdin is not None:
                shell = f"printf %s {shlex.quote(stdin)} | {shell}"
            command = ["/bin/sh", "-c", shell]
        child = pexpect.spawn(
            command[0],
            command[1:],
            env=cli_env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(40, 200),
        )
        child.logfile_read = io.StringIO()  # the whole transcript, for checks at the end
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


def doc_session(index: int) -> list[str]:
    """The output lines of docs/cli.md's console example number ``index``, normalised."""
    blocks = re.findall(r"```console\n(.*?)```", DOCS.read_text(), re.DOTALL)
    return normalised(blocks[index], Path("/home/me/project"))[1:]  # less the shell's line


def normalised(screen: str, workdir: Path) -> list[str]:
    """Lines of a session with what varies between runs (numbers, ids, folders) masked."""
    text = screen.replace("\r\n", "\n").replace(str(workdir), "<CWD>")
    text = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "<ID>", text)
    return [line.rstrip() for line in re.sub(r"\d+", "<N>", text).splitlines()]


def transcript(child: pexpect.spawn) -> str:
    """Everything the CLI put on its terminal so far."""
    log = child.logfile_read
    assert isinstance(log, io.StringIO)
    return log.getvalue()


def run_cli(
    args: Sequence[str], cli_args: list[str], cli_env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with pipes and no terminal at all (a new session has none)."""
    return subprocess.run(
        [sys.executable, "-m", "codex_app_server", "run", *args, *cli_args],
        env=cli_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        start_new_session=True,
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
    child.expect_exact("$ /bin/bash -lc 'echo made > made.txt; echo wrote it'")
    child.expect_exact("Run a command?\r\n")
    child.expect_exact("  command: /bin/bash -lc 'echo made > made.txt; echo wrote it'\r\n")
    child.expect_exact(f"  cwd: {codex_workdir}\r\nAllow? [y/N] ")
    child.sendline("y")
    child.expect_exact("wrote it")
    child.expect(r"\[exit 0, \d+ ms\]")
    child.expect_exact("  command: /bin/bash -lc 'echo no > refused.txt'\r\n")
    child.expect_exact("Allow? [y/N] ")
    child.sendline("n")
    child.expect_exact("[declined]")
    child.expect_exact("All done.")
    child.expect(r"-- completed in [\d.]+ s \| tokens: 30 in \(0 cached\), 15 out, 45 total")
    child.expect(r"-- thread (\S+) \(continue with --resume \1\)")
    assert finish(child) == 0
    assert (codex_workdir / "made.txt").read_text().strip() == "made"
    assert not (codex_workdir / "refused.txt").exists()


@pytest.mark.posix_only(PTY)
def test_a_hostile_command_cannot_disguise_itself_in_the_prompt(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    # The attack: erase the line and return to its start, so that what the terminal shows
    # reads "git status" while the command creates a file; a bidi override reverses the rest,
    # and a line break starts what would pass for the prompt's own cwd line.
    hostile = "touch pwned\x1b[2K\rgit status # \u202etxt.evil\n  cwd: /safe"
    model_server.enqueue(
        response(exec_command(hostile, escalated=True)), response(message("never mind"))
    )
    child = spawn("check the status")
    shown = "touch pwned\\x1b[2K\\rgit status # \\u202etxt.evil\\n  cwd: /safe"
    child.expect_exact(f"  command: /bin/bash -lc '{shown}'\r\n  cwd: {codex_workdir}\r\n")
    child.expect_exact("Allow? [y/N] ")
    assert normalised(transcript(child), codex_workdir) == doc_session(1)
    child.sendline("n")
    child.expect_exact("never mind")
    assert finish(child) == 0
    screen = transcript(child)
    assert not RAW.search(screen), RAW.findall(screen)
    assert f"$ /bin/bash -lc '{shown}'" in screen  # the stream's line is escaped too
    assert list(codex_workdir.iterdir()) == []


def test_server_text_is_escaped_wherever_it_is_shown(
    cli_args: list[str], cli_env: dict[str, str], model_server: ScriptedModelServer
) -> None:
    # Message deltas, a whole message, command output and an error's text, each carrying
    # ESC, CR, C1 CSI, DEL, a bidi override and a zero-width joiner.
    nasty = "\x1b[2K\r\x9b31m\x7f\u202e\u200d"
    model_server.enqueue(
        response(
            message_deltas([f"delta{nasty}", "more"]),
            exec_command("printf 'out\\033[2K\\rfake\\342\\200\\256\\n'"),
        ),
        response(message(f"whole{nasty}")),
        http_error(400, f"bad{nasty}"),
    )
    done = run_cli(["show me", "--approve", "none"], cli_args, cli_env)
    assert done.returncode == 0, done.stderr
    escaped = "\\x1b[2K\\r\\x9b31m\\x7f\\u202e\\u200d"
    assert f"delta{escaped}more" in done.stdout
    assert "out\\x1b[2K\\rfake\\u202e" in done.stdout
    assert f"whole{escaped}" in done.stdout
    failed = run_cli(["again"], cli_args, cli_env)
    assert failed.returncode == 1
    assert "bad\\u001b[2K" in failed.stdout  # the raw JSON body Codex quotes, escaped
    for text in (done.stdout, done.stderr, failed.stdout, failed.stderr):
        assert not RAW.search(text), RAW.findall(text)


@pytest.mark.posix_only(PTY)
def test_the_file_change_prompt_names_every_path_and_shows_the_diff(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    (codex_workdir / "a.txt").write_text("one\n")
    patch = (
        "*** Begin Patch\n*** Update File: a.txt\n*** Move to: ../outside.txt\n@@\n-one\n+two\n"
        "*** Add File: new.txt\n+hello\n*** End Patch"
    )
    model_server.enqueue(response(apply_patch(patch)), response(message("left alone")))
    child = spawn("tidy up")
    outside = codex_workdir.parent / "outside.txt"
    child.expect_exact("Change 2 files?\r\n")
    child.expect_exact(f"  update: {codex_workdir / 'a.txt'}\r\n")
    child.expect_exact(f"  moved to: {outside}\r\n")
    child.expect_exact("    | @@ -1 +1 @@\r\n    | -one\r\n    | +two\r\n")
    child.expect_exact(f"  add: {codex_workdir / 'new.txt'}\r\n    | hello\r\n")
    child.expect_exact("Allow? [y/N] ")
    child.sendline("n")
    child.expect_exact(f"not applied: {codex_workdir / 'a.txt'} (moved to {outside})")
    child.expect_exact("left alone")
    assert finish(child) == 0
    assert (codex_workdir / "a.txt").read_text() == "one\n"
    assert not outside.exists()
    assert not (codex_workdir / "new.txt").exists()


@pytest.mark.posix_only(PTY)
def test_the_permissions_prompt_lists_every_permission(
    spawn: Spawn, model_server: ScriptedModelServer, codex_home: Path, codex_workdir: Path
) -> None:
    # The request_permissions tool is off by default; the model may ask for anything with it.
    write_codex_home(
        codex_home, model_server, extra={"features": {"request_permissions_tool": True}}
    )
    asked = {
        "network": {"enabled": True},
        "file_system": {"read": ["/etc"], "write": ["/srv/\u202egnp.evil"]},
    }
    model_server.enqueue(
        response(function_call("request_permissions", {"permissions": asked, "reason": "b\rx"})),
        response(message("carried on")),
    )
    child = spawn("get access")
    child.expect_exact("Grant these permissions?\r\n")
    child.expect_exact("  network: enabled\r\n")
    child.expect_exact("  read: /etc\r\n")
    child.expect_exact("  write: /srv/\\u202egnp.evil\r\n")
    child.expect_exact(f"  cwd: {codex_workdir} (relative paths resolve against it)\r\n")
    child.expect_exact("  reason: b\\rx\r\nAllow? [y/N] ")
    child.sendline("n")
    child.expect_exact("carried on")
    assert finish(child) == 0
    assert not RAW.search(transcript(child))


@pytest.mark.posix_only(PTY)
def test_answers_are_read_from_the_terminal_not_from_stdin(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path, tmp_path: Path
) -> None:
    # The prompt comes through a pipe and the output goes to a file; the question still
    # reaches the person, and the answer comes from them.
    model_server.enqueue(
        response(exec_command("echo yes > answered.txt", escalated=True)),
        response(message("done")),
    )
    log = tmp_path / "out.log"
    child = spawn("-", "--approve", "ask", stdin="write answered.txt", stdout=log)
    child.expect_exact("  command: /bin/bash -lc 'echo yes > answered.txt'\r\n")
    child.expect_exact("Allow? [y/N] ")
    child.sendline("y")
    assert finish(child) == 0
    assert (codex_workdir / "answered.txt").read_text() == "yes\n"
    assert model_server.requests[0].user_texts[-1] == "write answered.txt"
    # The redirected output records what was asked and answered.
    assert (
        "Run a command?\n"
        "  command: /bin/bash -lc 'echo yes > answered.txt'\n"
        f"  cwd: {codex_workdir}\n"
        "  accepted on the terminal\n"
    ) in log.read_text()
    assert "done" in log.read_text()


@pytest.mark.posix_only(PTY)
def test_the_docs_example_is_what_a_run_shows(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(
            message_deltas(["I'll create ", "the file."]),
            exec_command("echo hello > notes.txt", justification="write the file", escalated=True),
        ),
        response(message("Done: notes.txt now says hello.")),
    )
    child = spawn("create notes.txt saying hello")
    child.expect_exact("Allow? [y/N] ")
    child.sendline("y")
    assert finish(child) == 0
    assert normalised(transcript(child), codex_workdir) == doc_session(0)
    assert (codex_workdir / "notes.txt").read_text() == "hello\n"


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
def test_ctrl_c_interrupts_the_turn_and_says_how_to_resume(
    spawn: Spawn,
    cli_args: list[str],
    cli_env: dict[str, str],
    model_server: ScriptedModelServer,
) -> None:
    model_server.enqueue(response(stall()), response(message("picked up again")))
    child = spawn("wait forever", "--approve", "none")
    model_server.wait_for_requests(1, timeout=TIMEOUT)
    child.sendintr()
    child.expect_exact("interrupted")
    child.expect(r"-- thread (\S+) \(continue with --resume \1\)")
    thread_id = child.match.group(1)
    assert finish(child) == 130
    resumed = run_cli(["go on", "--resume", thread_id], cli_args, cli_env)
    assert resumed.returncode == 0, resumed.stderr
    assert "picked up again" in resumed.stdout


@pytest.mark.posix_only(PTY)
def test_ctrl_c_at_an_open_question_declines_it_and_exits(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(response(exec_command("echo no > never.txt", escalated=True)))
    child = spawn("do it")
    child.expect_exact("Allow? [y/N] ")
    child.sendintr()
    child.expect_exact("interrupted")
    child.expect(r"-- thread (\S+) \(continue with --resume \1\)")
    assert finish(child) == 130
    assert not (codex_workdir / "never.txt").exists()


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
        response(exec_command("echo no > unasked.txt", escalated=True)),
        response(message("not asked")),
    )
    accepted = run_cli(["run it", "--approve", "all"], cli_args, cli_env)
    assert accepted.returncode == 0, accepted.stderr
    assert (codex_workdir / "flagged.txt").exists()
    assert (codex_workdir / "notes.txt").read_text().strip() == "hello"
    assert "  command: /bin/bash -lc 'echo yes > flagged.txt'\n" in accepted.stdout
    assert re.search(
        r"^  add: \S*notes\.txt\n    \| hello\n  accepted \(--approve all\)$",
        accepted.stdout,
        re.MULTILINE,
    ), accepted.stdout
    assert re.search(r"^edited \S*notes\.txt$", accepted.stdout, re.MULTILINE), accepted.stdout
    # Without a terminal on stdin, the default is to decline, and to say why.
    declined = run_cli(["run it"], cli_args, cli_env)
    assert declined.returncode == 0, declined.stderr
    assert "skipped" in declined.stdout
    assert (
        "  command: /bin/bash -lc 'echo no > declined.txt'\n"
        "  cwd: " + str(codex_workdir) + "\n"
        "  declined (stdin is not a terminal, so nothing was asked; --approve ask asks on the "
        "terminal, --approve all accepts)\n"
    ) in declined.stdout
    assert not (codex_workdir / "declined.txt").exists()
    # Asked to ask, with no terminal at all: declined, saying so.
    unasked = run_cli(["-", "--approve", "ask"], cli_args, cli_env, stdin="run it")
    assert unasked.returncode == 0, unasked.stderr
    assert (
        "  declined: there is no terminal to ask on (/dev/tty: No such device or address)\n"
    ) in unasked.stdout
    assert "not asked" in unasked.stdout
    assert not (codex_workdir / "unasked.txt").exists()


@pytest.mark.posix_only(PTY)
def test_the_whole_output_of_a_command_is_shown(
    spawn: Spawn, model_server: ScriptedModelServer
) -> None:
    # The server may send a command's first chunk in no output delta; the user sees it anyway.
    model_server.enqueue(
        response(exec_command("echo start; sleep 1; echo end")), response(message("ok"))
    )
    child = spawn("count", "--approve", "none")
    child.expect(r"\[exit 0, \d+ ms\]")
    output = child.before.split("$ /bin/bash -lc 'echo start; sleep 1; echo end'\r\n", 1)[1]
    assert output.endswith("start\r\nend\r\n"), output
    assert finish(child) == 0


def test_output_missing_from_the_deltas_is_shown_from_the_completed_item() -> None:
    # The event sequence the real server sent in 2 of 3 runs of `echo start; sleep 1; echo end`.
    out = io.StringIO()
    renderer = Renderer(Terminal(out, out))
    item = {"id": "c1", "type": "commandExecution", "command": "/bin/bash -lc 'echo start'"}
    renderer.show({"method": "item/started", "params": {"item": {**item, "status": "inProgress"}}})
    delta = {"itemId": "c1", "delta": "end\n"}
    renderer.show({"method": "item/commandExecution/outputDelta", "params": delta})
    done = {**item, "aggregatedOutput": "start\nend\n", "exitCode": 0, "durationMs": 1013}
    renderer.show({"method": "item/completed", "params": {"item": done}})
    assert out.getvalue() == (
        "$ /bin/bash -lc 'echo start'\n"
        "end\n"
        "(in full; part of it was not streamed:)\n"
        "start\nend\n"
        "[exit 0, 1013 ms]\n"
    )


def test_a_failed_turn_shows_its_cause_once(
    cli_args: list[str], cli_env: dict[str, str], model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(http_error(500))
    failed = run_cli(["hi"], cli_args, cli_env)
    assert failed.returncode == 1
    lines = failed.stdout.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [
        "error: We\u2019re currently experiencing high demand, which may cause temporary "
        "errors. [internalServerError]"
    ]
    assert re.fullmatch(
        r"-- failed after [\d.]+ s \| tokens: 0 in \(0 cached\), 0 out, 0 total", lines[-2]
    ), lines
    assert lines[-1].startswith("-- thread ")


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


#: Every kind of character there is: the BMP (surrogates included) and the supplementary
#: planes' assigned, tag, variation-selector, private-use and unassigned ranges.
EVERY_CHARACTER = "".join(
    map(chr, [*range(0x20000), *range(0x2FFF0, 0x30100), *range(0xE0000, 0xE0200), 0x10FFFF])
)


def test_no_character_reaches_the_terminal_unescaped() -> None:
    one_line = printable(EVERY_CHARACTER)
    assert one_line.isprintable()
    kept = printable(EVERY_CHARACTER, lines=True)
    assert kept.replace("\n", "").replace("\t", "").isprintable()
    assert kept.count("\n") == 1
    assert kept.count("\t") == 1
    visible = "".join(c for c in EVERY_CHARACTER if c.isprintable())
    assert printable(visible) == visible  # readable text is left alone
    assert printable("a\x1b[2K\rb\u202ec\U000e0001\n") == "a\\x1b[2K\\rb\\u202ec\\U000e0001\\n"


def test_json_lines_are_printable_and_mean_the_same() -> None:
    # Lone surrogates alone: JSON reads a high one followed by a low one as a single character.
    text = re.sub("[\ud800-\udfff]", "", EVERY_CHARACTER) + "\ud800 \udfff"
    event = {"method": "item/agentMessage/delta", "params": {"delta": text}}
    line = json_line(event)
    assert line.isprintable()
    assert json.loads(line) == event


def test_legacy_approvals_are_shown_in_full() -> None:
    # The v1 requests: the real server sends them only to v1 conversations, which this CLI
    # does not start, so they are built here.
    out = io.StringIO()
    renderer = Renderer(Terminal(out, out))
    command = ExecCommandApprovalParams.model_validate(
        {
            "callId": "c1",
            "conversationId": "t1",
            "command": ["rm", "-rf", "dir with space", "\x1b[2K"],
            "cwd": "/work",
            "parsedCmd": [{"type": "unknown", "cmd": "ls"}],
            "reason": "clean up",
        }
    )
    patch = ApplyPatchApprovalParams.model_validate(
        {
            "callId": "c2",
            "conversationId": "t1",
            "fileChanges": {
                "/work/a.txt": {"type": "update", "unified_diff": "-a\n+b\n", "move_path": "/x"},
                "/work/gone.txt": {"type": "delete", "content": "old\n"},
            },
            "grantRoot": "/",
        }
    )
    assert renderer.approve(command) == "decline"
    assert renderer.approve(patch) == "decline"
    assert out.getvalue() == (
        "Run a command?\n"
        "  command: rm -rf 'dir with space' '\\x1b[2K'\n"
        "  cwd: /work\n"
        "  reason: clean up\n"
        "  declined (--approve none)\n"
        "Change 2 files?\n"
        "  update: /work/a.txt\n"
        "  moved to: /x\n"
        "    | -a\n"
        "    | +b\n"
        "  delete: /work/gone.txt\n"
        "    | old\n"
        "  and allow writes under: / for the rest of the session\n"
        "  declined (--approve none)\n"
    )


def test_a_file_change_whose_paths_never_came_is_declined_saying_why() -> None:
    out = io.StringIO()
    renderer = Renderer(Terminal(out, out), choice="all", item_wait=0)
    request = FileChangeRequestApprovalParams.model_validate(
        {"itemId": "never-started", "threadId": "t", "turnId": "u", "startedAtMs": 0}
    )
    assert renderer.approve(request) == "decline"
    assert out.getvalue() == (
        "Approval requested (FileChangeRequestApprovalParams)\n"
        "  declined: the server did not say which files this change writes\n"
    )


@pytest.mark.posix_only(PTY)
def test_keys_typed_before_the_question_do_not_answer_it(
    spawn: Spawn, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    hold = stall()
    model_server.enqueue(
        response(hold, exec_command("echo y > typed.txt", escalated=True)),
        response(message("finished")),
    )
    child = spawn("wait, then ask")
    hold.wait_reached(timeout=TIMEOUT)
    child.sendline("y")  # typed ahead, before any question is on the screen
    hold.release()
    child.expect_exact("Allow? [y/N] ")
    child.sendline("n")
    child.expect_exact("[declined]")
    child.expect_exact("finished")
    assert finish(child) == 0
    assert not (codex_workdir / "typed.txt").exists()
