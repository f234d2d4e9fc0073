"""Approval rules: decided locally from typed requests, on the real app-server and alone."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import ApprovalRules, AsyncCodex, Codex, accept_all
from codex_app_server._handlers import HandlerTable
from codex_app_server._protocol import Notification
from codex_app_server.approvals import approval_handlers
from codex_app_server.generated import (
    ApplyPatchApprovalParams,
    CommandExecutionRequestApprovalParams,
    ExecCommandApprovalParams,
    FileChangeRequestApprovalParams,
    PermissionsRequestApprovalParams,
)
from codex_app_server.rules import (
    CommandNotUnderstood,
    command_words,
    parse_command,
)
from codex_app_server.testing import (
    ScriptedModelServer,
    exec_command,
    message,
    response,
    write_file,
)


def command_request(command: str, **fields: Any) -> CommandExecutionRequestApprovalParams:
    return CommandExecutionRequestApprovalParams.model_validate(
        {
            "itemId": "call_1",
            "startedAtMs": 0,
            "threadId": "t",
            "turnId": "u",
            "command": command,
            **fields,
        }
    )


def patch_request(*paths: str, move_to: str | None = None) -> ApplyPatchApprovalParams:
    changes: dict[str, Any] = {path: {"type": "add", "content": "x"} for path in paths}
    if move_to is not None:
        changes[paths[0]] = {"type": "update", "unified_diff": "", "move_path": move_to}
    return ApplyPatchApprovalParams(call_id="c", conversation_id="t", file_changes=changes)


def file_change_request(item_id: str, turn_id: str = "u") -> FileChangeRequestApprovalParams:
    return FileChangeRequestApprovalParams(
        item_id=item_id, started_at_ms=0, thread_id="t", turn_id=turn_id
    )


class Reader:
    """One connection's handler table with ``handler`` installed for every approval, fed
    notifications as the connection's reader feeds it; requests are answered through it."""

    def __init__(self, handler: Any) -> None:
        self.table = HandlerTable(approval_handlers(handler))
        self.table.add_root("t")  # a thread this client started

    def add(self, method: str, params: dict[str, Any]) -> None:
        self.table.observe(Notification(method, params, "t", params.get("turnId")))

    def answer(self, request: Any) -> Any:
        """The wire answer the connection would send to ``request``."""
        method = (
            "item/fileChange/requestApproval"
            if isinstance(request, FileChangeRequestApprovalParams)
            else "item/commandExecution/requestApproval"
        )
        handler = self.table.find(method, "t")
        assert handler is not None
        return handler(request)


def change(path: Path, move_to: Path | None = None) -> dict[str, Any]:
    kind: dict[str, Any] = {"type": "update", "move_path": str(move_to)} if move_to else {}
    return {"path": str(path), "diff": "", "kind": kind or {"type": "add"}}


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
    # With a deny rule, what the rules cannot read as one program run is declined by it.
    assert decide("/bin/bash -lc 'git status && git push'") == ("decline", "deny_commands")
    allow_only = ApprovalRules(allow_commands=["git status"])
    assert allow_only.decide(command_request("git status && git push")).rule == "default"
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


def test_rules_given_in_handlers_see_file_changes_too(
    codex_config: Any, model_server: ScriptedModelServer, codex_workdir: Path
) -> None:
    model_server.enqueue(
        response(write_file("ok.txt", "1\n")),
        response(write_file("../nope.txt", "2\n")),
        response(message("done")),
    )
    rules = ApprovalRules(allow_writes_inside=[codex_workdir])
    handlers = {"item/fileChange/requestApproval": rules}
    with Codex(codex_config, handlers=handlers) as codex:
        codex.thread_start().run("write", timeout=60)

    assert (codex_workdir / "ok.txt").read_text() == "1\n"
    assert not (codex_workdir.parent / "nope.txt").exists()


# --- Commands: one parser decides, and refuses what it cannot read -------------------------


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("true; rm -f x", "chains"),
        ("true && rm -f x", "chains"),
        ("true || rm -f x", "pipes"),
        ("ls | rm -f x", "pipes"),
        ("sleep 1 & rm -f x", "chains"),
        ("bash -c 'rm -f x' sh", "runs another program"),
        ("/bin/bash -lc \"bash -c 'rm -f x'\"", "runs another program"),
        ("env rm -f x", "runs another program"),
        ("xargs rm -f < list", "redirects"),
        ("echo x | xargs rm", "pipes"),
        ("sudo rm -f x", "runs another program"),
        ("find . -name x -exec rm {} +", "braces"),
        ("find . -name x -exec rm ;", "chains"),
        ("find . -name x -delete -execdir rm x", "'find -exec'"),
        ("echo 'unbalanced", "cannot be split"),
        ("echo `rm -f x`", "substitutes"),
        ('echo "$(rm -f x)"', "inside double quotes"),
        ('echo "\\$(rm -f x)"', "escaped"),
        ("rm -f $HOME/x", "expands"),
        ("echo hi > x", "redirects"),
        ("(rm -f x)", "subshell"),
        ("true\nrm -f x", "newline"),
        ("X=1 rm -f x", "sets a variable"),
        ("/bin/r? -f x", "glob"),
        ("~/bin/rm x", "home folder"),
        ("! rm -f x", "negates"),
        ("true # ; rm", "comment"),
        ("", "empty"),
    ],
)
def test_commands_that_are_not_one_plain_program_run_are_refused(command: str, why: str) -> None:
    with pytest.raises(CommandNotUnderstood, match=re.escape(why)):
        parse_command(command)


@pytest.mark.parametrize(
    "command",
    [
        "true; rm -f x",
        "true && rm -f x",
        "/bin/rm -f x",
        "/usr/bin/rm -f x",
        "bash -c 'rm -f x' sh",
        "echo 'unbalanced",
        "'rm' -f x",
        "r\\m -f x",
        "/bin/bash -lc '/bin/rm -rf x'",
        "/bin/RM -f x",
    ],
)
def test_deny_rules_fail_closed_and_name_themselves(
    command: str, caplog: pytest.LogCaptureFixture
) -> None:
    asked: list[Any] = []
    rules = ApprovalRules(deny_commands=["rm"], ask=lambda request: asked.append(request) or True)
    with caplog.at_level(logging.INFO, logger="codex_app_server"):
        assert rules(command_request(command)) == "decline"
    assert asked == []
    [record] = caplog.records
    assert "by rule deny_commands" in record.getMessage()


def test_a_deny_prefix_matches_its_words_anywhere_after_the_program() -> None:
    rules = ApprovalRules(deny_commands=["git push"], ask=accept_all)
    assert rules.decide(command_request("git -C /x push origin")).rule == "deny_commands"
    assert rules.decide(command_request("/usr/bin/git --no-pager push")).rule == "deny_commands"
    assert rules.decide(command_request("git status")).rule == "ask"
    # The legacy request carries argv; the same parser reads it.
    legacy = ExecCommandApprovalParams(
        call_id="c",
        command=["/bin/bash", "-lc", "git push"],
        conversation_id="t",
        cwd="/",
        parsed_cmd=[],
    )
    assert rules.decide(legacy).rule == "deny_commands"


def test_allow_prefixes_allow_any_arguments_but_never_chains_or_other_paths() -> None:
    rules = ApprovalRules(allow_commands=["git diff"])
    # A prefix vouches for the words after it, whatever they are: documented, not hidden.
    assert rules.decide(command_request("git diff --output=/tmp/x")).decision == "accept"
    for command in ("git diff; rm x", "git diff > x", "git diff $(id)", "./git diff", "git diff *"):
        assert rules.decide(command_request(command)).rule == "default", command


def test_exact_commands_and_word_patterns() -> None:
    rules = ApprovalRules(
        allow_exact=["git status", ["git", "log", re.compile(r"-[0-9]{1,3}")], ["pytest", "-q"]]
    )

    def rule(command: str) -> str:
        return rules.decide(command_request(command)).rule

    assert rule("git status") == "allow_exact"
    assert rule("/bin/bash -lc 'git log -20'") == "allow_exact"
    assert rule("pytest -q") == "allow_exact"
    assert rule("git status --short") == "default"
    assert rule("git log -20 --output=x") == "default"
    assert rule("git log -2000") == "default"
    assert rule("git log '-1; rm x'") == "default"
    assert "command is git log /-[0-9]{1,3}/" in rules.decide(command_request("git log -5")).reason
    with pytest.raises(TypeError, match=r"re\.compile"):
        ApprovalRules(allow_exact=[["git", 3]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="empty exact command"):
        ApprovalRules(allow_exact=[""])


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "writeStdin"},
        {"kind": "humanCommand"},
        {"kind": "somethingNew"},
        {"networkApprovalContext": {"host": "example.com", "protocol": "https"}},
    ],
)
def test_command_rules_settle_only_plain_command_runs(fields: dict[str, Any]) -> None:
    rules = ApprovalRules(
        allow_commands=["git"], allow_exact=["git status"], ask=lambda r: "cancel"
    )
    outcome = rules.decide(command_request("git status", **fields))
    assert (outcome.decision, outcome.rule) == ("cancel", "ask")


def test_network_requests_are_accepted_only_for_allowed_hosts() -> None:
    rules = ApprovalRules(allow_network_hosts=["Example.com"], deny_commands=["curl"])

    def network(command: str, host: str) -> Any:
        context = {"host": host, "protocol": "https"}
        return rules.decide(command_request(command, networkApprovalContext=context))

    assert network("pip download x", "example.com.").rule == "allow_network_hosts"
    assert network("pip download x", "example.org").rule == "default"
    assert network("curl example.com", "example.com").rule == "deny_commands"
    # A plain run of an allowed host's name is no network grant, and the reverse.
    assert rules.decide(command_request("example.com")).rule == "default"


def test_a_command_request_without_its_command_is_declined_by_deny_rules() -> None:
    rules = ApprovalRules(deny_commands=["rm"], ask=accept_all)
    request = CommandExecutionRequestApprovalParams(
        item_id="c", started_at_ms=0, thread_id="t", turn_id="u"
    )
    assert rules.decide(request).reason == "the command is not given"
    permissions = PermissionsRequestApprovalParams.model_validate(
        {
            "itemId": "p",
            "threadId": "t",
            "turnId": "u",
            "permissions": {},
            "startedAtMs": 0,
            "cwd": "/",
        }
    )
    assert rules.decide(permissions).rule == "ask"


# --- File changes: every path a change writes counts ------------------------------------


def test_a_move_destination_is_a_written_path(tmp_path: Path) -> None:
    inside = str(tmp_path / "inside.txt")
    outside = str(tmp_path.parent / "outside.txt")
    rules = ApprovalRules(allow_writes_inside=[tmp_path], ask=lambda r: "cancel")
    assert rules.decide(patch_request(inside)).rule == "allow_writes_inside"
    assert rules.decide(patch_request(inside, move_to=outside)).rule == "ask"
    root = ApplyPatchApprovalParams(
        call_id="c", conversation_id="t", file_changes={}, grant_root=str(tmp_path.parent)
    )
    assert rules.decide(root).rule == "ask"
    strict = ApprovalRules(deny_writes_outside=[tmp_path], ask=accept_all)
    outcome = strict.decide(patch_request(inside, move_to=outside))
    assert (outcome.rule, outcome.reason) == (
        "deny_writes_outside",
        f"{outside} is outside the folders",
    )


def test_relative_or_unknown_kinds_of_paths_are_not_guessed(tmp_path: Path) -> None:
    rules = ApprovalRules(deny_writes_outside=[tmp_path], ask=accept_all)
    assert rules.decide(patch_request("relative.txt")).reason == "the changed files are not known"
    request = ApplyPatchApprovalParams.model_validate(
        {
            "callId": "c",
            "conversationId": "t",
            "fileChanges": {str(tmp_path / "a"): {"type": "rename", "to": "/etc/x"}},
        }
    )
    assert rules.decide(request).reason == "the changed files are not known"


# Rules never answer "acceptForSession" themselves: that answer says ``ask`` decided.
ASKED = {"decision": "acceptForSession"}


def test_the_watch_sees_moves_and_every_patch_update(tmp_path: Path) -> None:
    inbox = Reader(ApprovalRules(allow_writes_inside=[tmp_path], ask=lambda r: "acceptForSession"))
    inside, outside = tmp_path / "a.txt", tmp_path.parent / "b.txt"

    inbox.add(
        "item/started",
        {"turnId": "u", "item": {"type": "fileChange", "id": "i", "changes": [change(inside)]}},
    )
    assert inbox.answer(file_change_request("i")) == {"decision": "accept"}
    inbox.add(
        "item/started",
        {
            "turnId": "u",
            "item": {"type": "fileChange", "id": "m", "changes": [change(inside, outside)]},
        },
    )
    assert inbox.answer(file_change_request("m")) == ASKED
    # Updates before the request add to what the item writes.
    inbox.add(
        "item/started",
        {"turnId": "u", "item": {"type": "fileChange", "id": "p", "changes": [change(inside)]}},
    )
    inbox.add(
        "item/fileChange/patchUpdated", {"turnId": "u", "itemId": "p", "changes": [change(outside)]}
    )
    assert inbox.answer(file_change_request("p")) == ASKED
    # A field the SDK does not know in a change's kind could name another destination.
    inbox.add(
        "item/started",
        {
            "turnId": "u",
            "item": {
                "type": "fileChange",
                "id": "k",
                "changes": [
                    {
                        "path": str(inside),
                        "diff": "",
                        "kind": {"type": "update", "movePath": str(outside)},
                    }
                ],
            },
        },
    )
    assert inbox.answer(file_change_request("k")) == ASKED


def test_a_file_change_is_decided_only_on_what_its_connection_saw(tmp_path: Path) -> None:
    inside, outside = tmp_path / "a.txt", tmp_path.parent / "b.txt"
    rules = ApprovalRules(deny_writes_outside=[tmp_path], ask=accept_all)
    first, second = Reader(rules), Reader(rules)
    declined = {"decision": "decline"}
    # A request that comes before its item is declined: its files are not known yet.
    assert first.answer(file_change_request("f")) == declined
    first.add(
        "item/started",
        {"turnId": "u", "item": {"type": "fileChange", "id": "f", "changes": [change(inside)]}},
    )
    assert first.answer(file_change_request("f")) == {"decision": "accept"}
    # The same rules on another connection, or called directly, know nothing of that item.
    assert second.answer(file_change_request("f")) == declined
    assert rules.decide(file_change_request("f")).reason == "the changed files are not known"
    # An update naming a path outside, even before any decision, is seen.
    first.add(
        "item/fileChange/patchUpdated", {"turnId": "u", "itemId": "g", "changes": [change(outside)]}
    )
    assert first.answer(file_change_request("g")) == declined
    # Once the turn completes, nothing is kept of it.
    first.add("turn/completed", {"turnId": "u", "turn": {"id": "u"}})
    assert first.answer(file_change_request("f")) == declined
    assert first.table.thread_count() == 1  # the thread's lineage only


def test_an_item_id_reused_in_another_turn_does_not_vouch_for_this_ones_change(
    tmp_path: Path,
) -> None:
    # A hostile server (or model) announces item "x" with a harmless path in one turn, then asks
    # to approve item "x" of another turn, whose own announcement writes outside the folder.
    inside, outside = tmp_path / "a.txt", tmp_path.parent / "b.txt"
    inbox = Reader(ApprovalRules(deny_writes_outside=[tmp_path], ask=accept_all))
    declined = {"decision": "decline"}
    inbox.add(
        "item/started",
        {"turnId": "v", "item": {"type": "fileChange", "id": "x", "changes": [change(inside)]}},
    )
    assert inbox.answer(file_change_request("x", turn_id="u")) == declined  # "u" saw no item "x"
    inbox.add(
        "item/started",
        {"turnId": "u", "item": {"type": "fileChange", "id": "x", "changes": [change(outside)]}},
    )
    assert inbox.answer(file_change_request("x", turn_id="u")) == declined
    # The harmless turn's own request is still decided on its own item.
    assert inbox.answer(file_change_request("x", turn_id="v")) == {"decision": "accept"}


def test_an_update_beyond_an_accepted_change_cancels_the_turns_next_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Reader(ApprovalRules(allow_writes_inside=[tmp_path], allow_commands=["ls"]))
    inside, outside = tmp_path / "a.txt", tmp_path.parent / "b.txt"
    accept, cancel = {"decision": "accept"}, {"decision": "cancel"}
    inbox.add(
        "item/started",
        {"turnId": "u", "item": {"type": "fileChange", "id": "f", "changes": [change(inside)]}},
    )
    assert inbox.answer(file_change_request("f")) == accept
    # The same path again is no news; a new one, after the decision, is.
    inbox.add(
        "item/fileChange/patchUpdated", {"turnId": "u", "itemId": "f", "changes": [change(inside)]}
    )
    assert inbox.answer(command_request("ls")) == accept
    inbox.add(
        "item/fileChange/patchUpdated", {"turnId": "u", "itemId": "f", "changes": [change(outside)]}
    )
    with caplog.at_level(logging.INFO, logger="codex_app_server"):
        assert inbox.answer(command_request("ls")) == cancel
    assert f"an update to accepted file change f added {outside}" in caplog.text
    assert "WARNING" in {record.levelname for record in caplog.records}
    # Another turn of the thread is not affected.
    assert inbox.answer(command_request("ls", turnId="v")) == accept


def test_an_update_while_its_change_is_being_decided_cancels_the_turns_next_request(
    tmp_path: Path,
) -> None:
    inside, outside = tmp_path / "a.txt", tmp_path.parent / "b.txt"

    def ask(request: Any) -> str:
        # The reader goes on while a handler decides: the item grows before the answer.
        inbox.add(
            "item/fileChange/patchUpdated",
            {"turnId": "u", "itemId": "f", "changes": [change(outside)]},
        )
        return "accept"

    inbox = Reader(ApprovalRules(allow_commands=["ls"], ask=ask))
    inbox.add(
        "item/started",
        {"turnId": "u", "item": {"type": "fileChange", "id": "f", "changes": [change(inside)]}},
    )
    assert inbox.answer(file_change_request("f")) == {"decision": "accept"}
    assert inbox.answer(command_request("ls")) == {"decision": "cancel"}


# --- Decisions: logged once, accepted wherever a handler is -------------------------------


def test_rules_log_each_decision_once_through_the_handler_table(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = HandlerTable(
        {"item/commandExecution/requestApproval": ApprovalRules(allow_commands=["ls"])}
    )
    table.add_root("t")  # a thread this client started (unknown ones get the safe default)
    handler = table.find("item/commandExecution/requestApproval", "t")
    assert handler is not None
    with caplog.at_level(logging.INFO, logger="codex_app_server"):
        assert handler(command_request("ls")) == {"decision": "accept"}
    assert len(caplog.records) == 1


@pytest.mark.parametrize(
    ("method", "answer", "wire"),
    [
        ("item/commandExecution/requestApproval", accept_all, {"decision": "accept"}),
        ("item/commandExecution/requestApproval", ApprovalRules(), {"decision": "decline"}),
        ("execCommandApproval", lambda r: True, {"decision": "approved"}),
        ("item/fileChange/requestApproval", lambda r: "cancel", {"decision": "cancel"}),
    ],
)
def test_handlers_given_per_method_answer_with_the_same_decision_values(
    method: str, answer: Any, wire: dict[str, Any]
) -> None:
    table = HandlerTable()
    table.add_root("t")
    table.set(method, answer, thread_id="t")
    handler = table.find(method, "t")
    assert handler is not None
    assert handler(None) == wire


async def test_an_async_ask_is_awaited() -> None:
    async def ask(request: Any) -> str:
        await asyncio.sleep(0)
        return "acceptForSession"

    class AskObject:
        async def __call__(self, request: Any) -> bool:
            return True

    for asker, wire in ((ask, "acceptForSession"), (AskObject(), "accept")):
        rules = ApprovalRules(deny_commands=["rm"], ask=asker)
        assert rules.asynchronous
        table = HandlerTable({"item/commandExecution/requestApproval": rules})
        handler = table.find("item/commandExecution/requestApproval", None)
        assert handler is not None
        # Rules still decide without waiting on ask; ask's answer is awaited when it decides.
        assert handler(command_request("rm x")) == {"decision": "decline"}
        assert await handler(command_request("make")) == {"decision": wire}
        with pytest.raises(TypeError, match="asynchronous"):
            rules.decide(command_request("make"))


def test_the_sync_client_refuses_async_handlers_before_starting(codex_config: Any) -> None:
    async def ask(request: Any) -> bool:
        return True

    with pytest.raises(TypeError, match="use AsyncCodex"):
        Codex(codex_config, approval_handler=ApprovalRules(ask=ask))
    with pytest.raises(TypeError, match="use AsyncCodex"):
        Codex(codex_config, handlers={"item/fileChange/requestApproval": ask})


def test_the_sync_thread_refuses_an_async_handler(codex: Codex) -> None:
    class Async:
        async def __call__(self, request: Any) -> bool:
            return True

    with pytest.raises(TypeError, match="cannot await"):
        codex.thread_start(approval_handler=ApprovalRules(ask=Async()))


def test_every_guarantee_in_the_guide_names_a_test_that_exists() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "approval-rules.md").read_text()
    section = guide.split("## What the rules guarantee, and the test that holds each")[1]
    named = re.findall(r"`(test_rules\w*\.py)::(\w+)`", section)
    assert len(named) >= 15
    for file, test in named:
        source = (Path(__file__).parent / file).read_text()
        assert f"def {test}(" in source, f"docs/approval-rules.md names {file}::{test}"
