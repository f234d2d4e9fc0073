"""Approval rules: decided locally from typed requests, on the real app-server and alone."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import ApprovalRules, AsyncCodex, Codex, accept_all
from codex_app_server.generated import (
    ApplyPatchApprovalParams,
    CommandExecutionRequestApprovalParams,
    ExecCommandApprovalParams,
    FileChangeRequestApprovalParams,
)
from codex_app_server.rules import command_words
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    message,
    response,
    write_file,
)


def command_request(command: str) -> CommandExecutionRequestApprovalParams:
    return CommandExecutionRequestApprovalParams(
        item_id="call_1", started_at_ms=0, thread_id="t", turn_id="u", command=command
    )


def patch_request(*paths: str) -> ApplyPatchApprovalParams:
    changes: dict[str, Any] = {path: {"type": "add", "content": "x"} for path in paths}
    return ApplyPatchApprovalParams(call_id="c", conversation_id="t", file_changes=changes)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("/bin/bash -lc 'git status --short'", ["git", "status", "--short"]),
        ("git log -1", ["git", "log", "-1"]),
        ("/bin/bash -lc 'git status; rm -rf /'", None),
        ("/bin/bash -lc 'echo hi > out.txt'", None),
        ("bash -c 'ls $(whoami)'", None),
        ("ls | sh", None),
        ("/bin/bash -lc 'unbalanced \"quote'", None),
    ],
)
def test_command_words_unwrap_the_shell_and_refuse_chains(
    command: str, words: list[str] | None
) -> None:
    assert command_words(command_request(command)) == words


def test_command_prefixes_match_word_by_word_and_deny_wins() -> None:
    rules = ApprovalRules(allow_commands=["git status", ["pytest"]], deny_commands=["git push"])

    def decide(command: str) -> tuple[Any, str]:
        outcome = rules.decide(command_request(command))
        return outcome.decision, outcome.rule

    assert decide("/bin/bash -lc 'git status --short'") == ("accept", "allow_commands")
    assert decide("pytest -q tests") == ("accept", "allow_commands")
    assert decide("git statusx") == ("decline", "default")
    assert decide("/bin/bash -lc 'git status && git push'") == ("decline", "default")
    strict = ApprovalRules(allow_commands=["git"], deny_commands=["git push"])
    assert strict.decide(command_request("git push origin")).rule == "deny_commands"
    legacy = ExecCommandApprovalParams(
        call_id="c", command=["git", "status"], conversation_id="t", cwd="/", parsed_cmd=[]
    )
    assert rules.decide(legacy).decision == "accept"


def test_writes_outside_the_folders_are_denied_before_anything_else(tmp_path: Path) -> None:
    asked: list[Any] = []
    rules = ApprovalRules(
        deny_writes_outside=[tmp_path / "project"],
        allow_writes_inside=[tmp_path],
        ask=lambda request: asked.append(request) or "acceptForSession",
    )
    inside = str(tmp_path / "project" / "a.txt")
    escaping = str(tmp_path / "project" / ".." / "b.txt")

    assert rules.decide(patch_request(inside)).rule == "allow_writes_inside"
    outcome = rules.decide(patch_request(inside, escaping))
    assert (outcome.decision, outcome.rule) == ("decline", "deny_writes_outside")
    assert str(tmp_path / "b.txt") in outcome.reason
    # Without the fileChange item the paths are unknown: refused rather than guessed.
    unseen = FileChangeRequestApprovalParams(
        item_id="call_9", started_at_ms=0, thread_id="t", turn_id="u"
    )
    assert rules.decide(unseen).reason == "the changed files are not known"
    # A command is no write: the rest goes to ask.
    assert rules.decide(command_request("make")).decision == "acceptForSession"
    assert len(asked) == 1


def test_every_decision_is_logged_with_its_rule(caplog: pytest.LogCaptureFixture) -> None:
    rules = ApprovalRules(allow_commands=["ls"])
    with caplog.at_level(logging.INFO, logger="codex_app_server"):
        assert rules(command_request("ls -la")) == "accept"
        assert rules(command_request("rm x")) == "decline"

    assert [r.getMessage() for r in caplog.records] == [
        "approval CommandExecutionRequestApprovalParams -> 'accept' by rule allow_commands: "
        "command starts with 'ls'",
        "approval CommandExecutionRequestApprovalParams -> 'decline' by rule default: no rule "
        "settled it and there is no ask=",
    ]


def test_empty_prefixes_are_refused() -> None:
    with pytest.raises(ValueError, match="empty command prefix"):
        ApprovalRules(allow_commands=[""])


def test_rules_decide_real_command_approvals(
    codex: Codex, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    allowed = exec_command("touch allowed.txt", escalated=True)
    chained = exec_command("touch a.txt && touch b.txt", escalated=True)
    model_server.enqueue(response(allowed), response(chained), response(message("done")))
    rules = ApprovalRules(allow_commands=["touch"])
    codex.thread_start(approval_handler=rules).run("make files", timeout=60)

    assert (codex_workdir / "allowed.txt").exists()
    assert not (codex_workdir / "a.txt").exists()
    assert not (codex_workdir / "b.txt").exists()


def test_rules_see_the_paths_of_real_file_changes(
    codex_config: Any, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    outside = codex_workdir.parent / "outside.txt"
    model_server.enqueue(
        response(write_file("inside.txt", "kept\n"), write_file("../outside.txt", "no\n")),
        response(message("done")),
    )
    rules = ApprovalRules(deny_writes_outside=[codex_workdir], ask=accept_all)
    with Codex(codex_config, approval_handler=rules) as codex:
        codex.thread_start().run("write two files", timeout=60)
        assert codex.client.connection.subscriber_count() == 0

    assert (codex_workdir / "inside.txt").read_text() == "kept\n"
    assert not outside.exists()


async def test_async_rules_see_file_changes(
    async_codex: AsyncCodex, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(write_file("ok.txt", "1\n")),
        response(write_file("../nope.txt", "2\n")),
        response(message("done")),
    )
    rules = ApprovalRules(deny_writes_outside=[codex_workdir], allow_writes_inside=[codex_workdir])
    thread = await async_codex.thread_start(approval_handler=rules)
    await thread.run("write", timeout=60)

    assert (codex_workdir / "ok.txt").read_text() == "1\n"
    assert not (codex_workdir.parent / "nope.txt").exists()
