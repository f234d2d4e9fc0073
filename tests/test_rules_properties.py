"""Property tests of the approval rules over generated shell commands and file changes.

Commands are generated with their ground truth: every program the shell would run (each
chained or piped command, each substitution, each program a wrapper starts) and the words of
the first one. Each word is written plainly or quoted in one of the shell's ways. The rules
must never accept a command beyond what an allow rule says, and never let a denied program
through. File changes are generated with paths in and out of a folder, through ``..`` and
move destinations, in the legacy request and in the events the connection reads.

Hypothesis runs a fixed, derandomized budget, so every run (and CI) checks the same examples.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_app_server import ApprovalRules, accept_all
from codex_app_server._handlers import HandlerTable
from codex_app_server._protocol import Notification
from codex_app_server.approvals import approval_handlers
from codex_app_server.generated import (
    ApplyPatchApprovalParams,
    CommandExecutionRequestApprovalParams,
    FileChangeRequestApprovalParams,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile(
    "approval-rules",
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
RULES_PROFILE = settings.get_profile("approval-rules")

PROGRAMS = ["git", "rm", "ls", "echo", "pytest", "curl", "make"]
# Characters a shell treats specially, mixed into words to try every quoting path.
WORD_CHARS = "abcxyz-_./=~*?$;|&<>(){}'\"\\ #!`"


@dataclass
class Command:
    """A generated command line and what the shell would do with it."""

    text: str
    programs: set[str] = field(default_factory=set)  # base names of every program run
    words: list[str] = field(default_factory=list)  # the first program's words
    plain: bool = True  # one program, literal words, nothing else runs


def quoted(draw: st.DrawFn, word: str) -> str:
    """``word`` as the shell reads it back literally: plain, single-, double- or \\-quoted."""
    style = draw(st.sampled_from(["plain", "single", "double", "backslash"]))
    if style == "plain" and word and all(c.isalnum() or c in "-_./=" for c in word):
        return word
    if style == "double":
        return '"' + "".join("\\" + c if c in '\\"$`' else c for c in word) + '"'
    if style == "backslash" and word:
        return "".join("\\" + c for c in word)
    return shlex.quote(word) if word else "''"


@st.composite
def simple(draw: st.DrawFn, prefix: list[str]) -> Command:
    """One program run, starting with ``prefix`` or another program, maybe through a path."""
    head = prefix if draw(st.booleans()) else [draw(st.sampled_from(PROGRAMS))]
    arguments = draw(st.lists(st.text(WORD_CHARS, max_size=6), max_size=3))
    words = [*head, *arguments]
    program = words[0]
    spelled = [draw(st.sampled_from([program, f"/bin/{program}", f"/usr/bin/{program}"]))]
    text = " ".join(quoted(draw, w) for w in [*spelled, *words[1:]])
    return Command(text, {program}, [*spelled, *words[1:]])


@st.composite
def hazardous(draw: st.DrawFn, prefix: list[str]) -> Command:
    """A command that chains, pipes, substitutes, redirects or wraps another program."""
    first = draw(simple(prefix))
    other = draw(simple(prefix))
    how = draw(
        st.sampled_from(
            ["; ", " && ", " || ", " | ", " & ", "\n", "$(", "`", '"$(', " > ", "wrap", "env"]
        )
    )
    programs = first.programs | other.programs
    if how in ("$(", '"$('):
        closing = ")" if how == "$(" else ')"'
        text = f"{first.text} {how}{other.text}{closing}"
    elif how == "`":
        text = f"{first.text} `{other.text}`"
    elif how == " > ":
        text, programs = (
            f"{first.text} > {draw(st.sampled_from(['out', '~/.bashrc']))}",
            first.programs,
        )
    elif how == "wrap":
        shell = draw(st.sampled_from(["bash", "/bin/sh", "zsh"]))
        text = f"{shell} -c {shlex.quote(other.text)} sh"
        programs = other.programs | {Path(shell).name}
    elif how == "env":
        wrapper = draw(st.sampled_from(["env", "xargs", "sudo", "nohup", "timeout 5"]))
        text = f"{wrapper} {other.text}"
        programs = other.programs | {wrapper.split()[0]}
    else:
        text = f"{first.text}{how}{other.text}"
    return Command(text, programs, first.words, plain=False)


@st.composite
def commands(draw: st.DrawFn, prefix: list[str]) -> Command:
    """A plain or hazardous command, sometimes wrapped the way Codex sends it."""
    command = draw(st.one_of(simple(prefix), hazardous(prefix)))
    if draw(st.booleans()):
        command.text = f"/bin/bash -lc {shlex.quote(command.text)}"
    return command


def request(command: str) -> CommandExecutionRequestApprovalParams:
    return CommandExecutionRequestApprovalParams(
        item_id="c", started_at_ms=0, thread_id="t", turn_id="u", command=command
    )


prefixes = st.sampled_from([["git", "diff"], ["ls"], ["pytest", "-q"], ["echo", "a b"]])


@RULES_PROFILE
@given(st.data(), prefixes)
def test_an_allow_rule_accepts_only_what_its_prefix_covers(
    data: st.DataObject, prefix: list[str]
) -> None:
    command = data.draw(commands(prefix))
    rules = ApprovalRules(allow_commands=[prefix], allow_exact=[prefix])
    outcome = rules.decide(request(command.text))
    literal = all(w and all(c.isalnum() or c in "-_./= " for c in w) for w in command.words)
    if command.plain and literal and command.words[: len(prefix)] == prefix:
        assert outcome.decision == "accept", command.text  # the property is not vacuous
    if outcome.decision == "accept":
        assert command.plain, f"accepted {command.text!r} ({outcome.reason})"
        assert command.words[: len(prefix)] == prefix, command.text
        if outcome.rule == "allow_exact":
            assert command.words == prefix


@RULES_PROFILE
@given(st.data(), prefixes, st.sampled_from(PROGRAMS))
def test_a_deny_rule_never_lets_its_program_through(
    data: st.DataObject, prefix: list[str], denied: str
) -> None:
    command = data.draw(commands(prefix))
    rules = ApprovalRules(deny_commands=[denied], allow_commands=[prefix], ask=accept_all)
    outcome = rules.decide(request(command.text))
    if denied in command.programs:
        assert (outcome.decision, outcome.rule) == ("decline", "deny_commands"), command.text
    if not command.plain:
        assert outcome.decision == "decline", command.text


# --- File changes -------------------------------------------------------------------------

# ``link`` is a symlink inside the folder to a folder beside it.
NAMES = ["a.txt", "sub/b.txt", "../up.txt", "../../etc/x", "sub/../c.txt", "./d.txt", "link/e"]


@dataclass
class Change:
    path: str
    kind: str
    move_to: str | None


def changes(root: Path) -> st.SearchStrategy[list[Change]]:
    place = st.sampled_from(NAMES).map(lambda name: str(root / "project" / name))
    change = st.builds(
        Change,
        place,
        st.sampled_from(["add", "delete", "update"]),
        st.none() | place,
    )
    return st.lists(change, min_size=1, max_size=4)


def writes_outside(changes: list[Change], folder: Path) -> bool:
    written = [c.path for c in changes] + [
        c.move_to for c in changes if c.kind == "update" and c.move_to
    ]
    return any(not Path(p).resolve().is_relative_to(folder) for p in written)


def legacy(changes: list[Change]) -> ApplyPatchApprovalParams:
    files: dict[str, Any] = {}
    for c in changes:
        if c.kind == "update":
            files[c.path] = {"type": "update", "unified_diff": "", "move_path": c.move_to}
        else:
            files[c.path] = {"type": c.kind, "content": ""}
    return ApplyPatchApprovalParams(call_id="c", conversation_id="t", file_changes=files)


def v2(changes: list[Change], split: int) -> tuple[list[Notification], Any]:
    """The item's first changes announced by ``item/started``, the rest by a patch update."""

    def wire(c: Change) -> dict[str, Any]:
        kind: dict[str, Any] = {"type": c.kind}
        if c.kind == "update":
            kind["move_path"] = c.move_to
        return {"path": c.path, "diff": "", "kind": kind}

    item = {"type": "fileChange", "id": "f", "changes": [wire(c) for c in changes[:split]]}
    events = [Notification("item/started", {"item": item}, "t", "u")]
    if changes[split:]:
        update = {"itemId": "f", "changes": [wire(c) for c in changes[split:]]}
        events.append(Notification("item/fileChange/patchUpdated", update, "t", "u"))
    return events, FileChangeRequestApprovalParams(
        item_id="f", started_at_ms=0, thread_id="t", turn_id="u"
    )


def answered(rules: ApprovalRules, events: list[Notification], request: Any) -> Any:
    """The decision a connection that read ``events`` sends for ``request``."""
    table = HandlerTable(approval_handlers(rules))
    table.add_root("t")
    for event in events:
        table.observe(event)
    handler = table.find("item/fileChange/requestApproval", "t")
    assert handler is not None
    return handler(request)["decision"]


@settings(RULES_PROFILE, max_examples=60)
@given(st.data(), st.integers(0, 4))
def test_no_file_rule_accepts_a_change_that_writes_outside(
    tmp_path_factory: Any, data: st.DataObject, split: int
) -> None:
    root = tmp_path_factory.getbasetemp() / "properties"
    folder = (root / "project").resolve()
    if not (folder / "link").is_symlink():
        (root / "beside").mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "link").symlink_to(root / "beside")
    generated = data.draw(changes(root))
    outside = writes_outside(generated, folder)
    events, v2_request = v2(generated, split)
    expected = "decline" if outside else "accept"
    for rules in (
        ApprovalRules(allow_writes_inside=[folder]),
        ApprovalRules(deny_writes_outside=[folder], ask=accept_all),
    ):
        assert rules.decide(legacy(generated)).decision == expected, generated
        assert answered(rules, events, v2_request) == expected, generated
