"""A hostile model against the approval rules, on the real app-server.

The scripted model plays the attacker: each test asks for what the rules must refuse and checks
the machine, not the rules' answer: the file the attack would move, create or remove.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import ApprovalRules, AsyncCodex, Codex, accept_all
from codex_app_server.testing import (
    ScriptedModelServer,
    apply_patch,
    exec_command,
    message,
    response,
)

MOVE_OUT = """*** Begin Patch
*** Update File: inside.txt
*** Move to: ../outside.txt
@@
-kept
+moved
*** End Patch"""


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param(lambda root: ApprovalRules(allow_writes_inside=[root]), id="allow_inside"),
        pytest.param(
            lambda root: ApprovalRules(deny_writes_outside=[root], ask=accept_all),
            id="deny_outside",
        ),
    ],
)
def test_a_patch_moving_a_file_out_of_the_folder_is_declined(
    codex: Codex, model_server: ScriptedModelServer, codex_workdir: Path, rules: Any
) -> None:
    (codex_workdir / "inside.txt").write_text("kept\n")
    model_server.enqueue(response(apply_patch(MOVE_OUT)), response(message("done")))
    codex.thread_start(approval_handler=rules(codex_workdir)).run("tidy up", timeout=60)

    assert not (codex_workdir.parent / "outside.txt").exists()
    assert (codex_workdir / "inside.txt").read_text() == "kept\n"


def test_a_patch_moving_a_file_inside_the_folder_is_accepted(
    codex: Codex, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    (codex_workdir / "inside.txt").write_text("kept\n")
    model_server.enqueue(
        response(apply_patch(MOVE_OUT.replace("../outside.txt", "renamed.txt"))),
        response(message("done")),
    )
    rules = ApprovalRules(allow_writes_inside=[codex_workdir])
    codex.thread_start(approval_handler=rules).run("rename", timeout=60)

    assert (codex_workdir / "renamed.txt").read_text() == "moved\n"
    assert not (codex_workdir / "inside.txt").exists()


@pytest.mark.parametrize(
    "attack",
    [
        "true; rm -f victim.txt",
        "true && rm -f victim.txt",
        "/bin/rm -f victim.txt",
        "bash -c 'rm -f victim.txt' sh",
        "env rm -f victim.txt",
        "rm -f 'victim.txt",
    ],
)
def test_a_denied_program_does_not_run_however_it_is_spelled(
    codex: Codex,
    model_server: ScriptedModelServer,
    codex_workdir: Path,
    attack: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim = codex_workdir / "victim.txt"
    victim.write_text("precious\n")
    model_server.enqueue(
        response(exec_command(attack, escalated=True)),
        # What ask accepts does run: the attack failed on the rule, not on the set-up.
        response(exec_command("touch asked.txt", escalated=True)),
        response(message("done")),
    )
    rules = ApprovalRules(deny_commands=["rm"], ask=accept_all)
    with caplog.at_level(logging.INFO, logger="codex_app_server"):
        codex.thread_start(approval_handler=rules).run("clean up", timeout=60)

    assert victim.read_text() == "precious\n"
    assert (codex_workdir / "asked.txt").exists()
    decisions = [r.getMessage() for r in caplog.records if r.getMessage().startswith("approval")]
    assert len(decisions) == 2  # one line per decision
    assert "-> 'decline' by rule deny_commands" in decisions[0]
    assert "-> 'accept' by rule ask" in decisions[1]


def test_an_allow_prefix_does_not_cover_a_chained_command(
    codex: Codex, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(exec_command("touch a.txt; touch b.txt", escalated=True)),
        response(exec_command("touch c.txt", escalated=True)),
        response(message("done")),
    )
    rules = ApprovalRules(allow_commands=["touch"])
    codex.thread_start(approval_handler=rules).run("make files", timeout=60)

    assert not (codex_workdir / "a.txt").exists()
    assert not (codex_workdir / "b.txt").exists()
    assert (codex_workdir / "c.txt").exists()


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(ApprovalRules(allow_commands=["touch"]), id="rules"),
        pytest.param(accept_all, id="accept_all"),
        pytest.param(lambda request: True, id="bool"),
    ],
)
def test_decisions_work_through_handlers_too(
    codex_config: Any, model_server: ScriptedModelServer, codex_workdir: Path, handler: Any
) -> None:
    model_server.enqueue(
        response(exec_command("touch made.txt", escalated=True)), response(message("done"))
    )
    handlers = {"item/commandExecution/requestApproval": handler}
    with Codex(codex_config, handlers=handlers) as codex:
        codex.thread_start().run("make a file", timeout=60)

    assert (codex_workdir / "made.txt").exists()


async def test_an_async_ask_decides_on_the_async_client(
    async_codex: AsyncCodex, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    asked: list[str] = []

    async def ask(request: Any) -> bool:
        asked.append(request.command)
        return "keep" in request.command

    model_server.enqueue(
        response(exec_command("touch keep.txt", escalated=True)),
        response(exec_command("touch drop.txt", escalated=True)),
        response(message("done")),
    )
    rules = ApprovalRules(deny_commands=["rm"], ask=ask)
    thread = await async_codex.thread_start(approval_handler=rules)
    await thread.run("make files", timeout=60)

    assert len(asked) == 2
    assert (codex_workdir / "keep.txt").exists()
    assert not (codex_workdir / "drop.txt").exists()
