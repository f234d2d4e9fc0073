"""Nothing runs that nobody allowed: approvals fail closed, secrets stay in the environment.

With no handler or policy accepting, a command does not run; an API key given as environment
reaches the server through its environment only (never its argv, a repr, an error or a log);
the server is started without a shell, so shell syntax in options runs nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psutil
import pytest
from _fake import child_processes
from _portable import kill_hard
from _reliability import SECRET, with_secret
from codex_app_server import AsyncCodex, CodexConfig, TransportClosedError, accept_all
from codex_app_server.testing import ScriptedModelServer, exec_command, message, response


async def test_approvals_are_declined_unless_a_policy_accepts(
    codex_config: CodexConfig, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("echo no > declined.txt", escalated=True)),
        response(message("not run")),
        response(exec_command("echo yes > accepted.txt", escalated=True)),
        response(message("ran")),
    )
    async with AsyncCodex(codex_config) as codex:
        thread = await codex.thread_start()
        await thread.run("try", timeout=20)
    async with AsyncCodex(codex_config, approval_handler=accept_all) as codex:
        thread = await codex.thread_start()
        await thread.run("try", timeout=20)
    assert not (codex_workdir / "declined.txt").exists()
    assert (codex_workdir / "accepted.txt").read_text().strip() == "yes"


async def test_secrets_in_env_stay_out_of_argv_reprs_and_logs(
    codex_config: CodexConfig, model_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="codex_app_server")
    config = with_secret(codex_config)
    model_server.enqueue(
        response(exec_command("echo hi", escalated=True)), response(message("done"))
    )
    async with AsyncCodex(config, approval_handler=accept_all) as codex:
        pid = codex.client.connection.pid
        # The server does get the key, through its environment only.
        assert psutil.Process(pid).environ()["OPENAI_API_KEY"] == SECRET
        assert SECRET not in " ".join(psutil.Process(pid).cmdline())
        thread = await codex.thread_start()
        await thread.run("go", timeout=20)
        shown = [repr(config), str(config), repr(codex), repr(codex.client), repr(thread)]
        kill_hard(pid)
        with pytest.raises(TransportClosedError) as caught:
            await thread.run("again")
        shown += [str(caught.value), repr(caught.value)]
    assert caplog.records, "DEBUG logging was on, yet nothing was logged"
    for text in [*shown, caplog.text]:
        assert SECRET not in text


async def test_server_is_started_without_a_shell(
    codex_config: CodexConfig, codex_workdir: Path
) -> None:
    hostile = "$(touch shell-ran); touch shell-ran2"
    config = CodexConfig(
        codex_bin=codex_config.codex_bin,
        cwd=codex_config.cwd,
        env=codex_config.env,
        inherit_env=False,
        config_overrides={"developer_instructions": hostile},
    )
    async with AsyncCodex(config) as codex:
        pid = codex.client.connection.pid
        argv = psutil.Process(pid).cmdline()
        assert argv[1:] == ["app-server", "-c", f'developer_instructions="{hostile}"']
        # The server is our own child running the codex binary, with no shell in between.
        assert pid in child_processes()
        assert os.path.samefile(psutil.Process(pid).exe(), argv[0])
        await codex.thread_start()
    assert list(codex_workdir.iterdir()) == []
