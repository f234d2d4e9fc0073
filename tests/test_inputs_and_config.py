"""Input normalisation, config rendering and approval decisions: pure functions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from codex_app_server import (
    CodexConfig,
    ImageInput,
    LocalImageInput,
    MentionInput,
    SkillInput,
    TextInput,
)
from codex_app_server.approvals import approval_result
from codex_app_server.config import toml_value
from codex_app_server.inputs import to_wire_input


def test_every_input_form_becomes_wire_json(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    assert to_wire_input("hi") == [{"type": "text", "text": "hi"}]
    assert to_wire_input(TextInput("t")) == [{"type": "text", "text": "t"}]
    assert to_wire_input(
        [
            ImageInput("https://x/y.png", detail="low"),
            LocalImageInput(image),
            SkillInput("s", "/s/SKILL.md"),
            MentionInput("m", "/m"),
            {"type": "text", "text": "raw"},
        ]
    ) == [
        {"type": "image", "url": "https://x/y.png", "detail": "low"},
        {"type": "localImage", "path": os.fspath(image)},
        {"type": "skill", "name": "s", "path": "/s/SKILL.md"},
        {"type": "mention", "name": "m", "path": "/m"},
        {"type": "text", "text": "raw"},
    ]


def test_relative_local_image_paths_become_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (wire,) = to_wire_input(LocalImageInput("pic.png"))
    assert wire["path"] == os.fspath(tmp_path / "pic.png")


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ([], ValueError, "empty"),
        (["ok", 3], TypeError, r"input\[1\] is a int"),
        ([{"text": "x"}], ValueError, r"input\[0\] is a dict without a string 'type'"),
        (42, TypeError, "input is a int"),
    ],
)
def test_bad_input_names_the_element(value: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        to_wire_input(value)  # type: ignore[arg-type]


def test_config_overrides_become_toml_arguments() -> None:
    config = CodexConfig(
        codex_bin="/bin/codex",
        config_overrides={
            "model": "o3",
            "sandbox_workspace_write.network_access": True,
            "limits": [1, 2.5],
            "tools": {"web": False},
        },
    )
    assert config.argv(Path("/bin/codex")) == [
        "/bin/codex",
        "app-server",
        "-c",
        'model="o3"',
        "-c",
        "sandbox_workspace_write.network_access=true",
        "-c",
        "limits=[1, 2.5]",
        "-c",
        'tools={"web" = false}',
    ]
    assert toml_value('quote " and \\ back') == '"quote \\" and \\\\ back"'


def test_bad_config_values_are_refused() -> None:
    with pytest.raises(ValueError, match="dotted name"):
        CodexConfig(config_overrides={"a=b": 1})
    with pytest.raises(ValueError, match="request_timeout"):
        CodexConfig(request_timeout=0)
    with pytest.raises(TypeError, match="config override"):
        toml_value(object())
    with pytest.raises(TypeError, match="must be a str"):
        CodexConfig(env={"N": 1}).process_env()  # type: ignore[dict-item]


def test_secrets_in_env_stay_out_of_argv_and_repr() -> None:
    config = CodexConfig(env={"OPENAI_API_KEY": "sk-secret-value"})
    assert "sk-secret-value" not in repr(config)
    assert not any("sk-secret-value" in arg for arg in config.argv(Path("codex")))
    assert config.process_env()["OPENAI_API_KEY"] == "sk-secret-value"
    assert "PATH" not in CodexConfig(env={"A": "b"}, inherit_env=False).process_env()


def test_initialize_params_carry_capabilities() -> None:
    params = CodexConfig(
        experimental_api=True,
        opt_out_notification_methods=["warning"],
        client_name="me",
        client_version="1",
    ).initialize_params()
    assert params["clientInfo"]["name"] == "me"
    assert params["capabilities"] == {
        "experimentalApi": True,
        "optOutNotificationMethods": ["warning"],
    }


@pytest.mark.parametrize(
    ("method", "decision", "wire"),
    [
        ("item/commandExecution/requestApproval", True, {"decision": "accept"}),
        ("item/commandExecution/requestApproval", False, {"decision": "decline"}),
        ("item/fileChange/requestApproval", "acceptForSession", {"decision": "acceptForSession"}),
        ("item/fileChange/requestApproval", "cancel", {"decision": "cancel"}),
        ("execCommandApproval", True, {"decision": "approved"}),
        ("applyPatchApproval", "cancel", {"decision": "abort"}),
        ("item/permissions/requestApproval", False, {"permissions": {}}),
    ],
)
def test_simple_decisions_map_to_each_methods_wire_form(
    method: str, decision: object, wire: object
) -> None:
    assert approval_result(method, None, decision) == wire


def test_legacy_decline_is_a_denial_with_a_reason() -> None:
    result = approval_result("execCommandApproval", None, False)
    assert set(result["decision"]) == {"denied"}


def test_unknown_decisions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown approval decision"):
        approval_result("item/fileChange/requestApproval", None, "maybe")
