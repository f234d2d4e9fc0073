"""The generated protocol models: in sync with the binary's schema, complete, and tolerant."""

from __future__ import annotations

import ast
import difflib
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from codex_app_server import generated
from codex_app_server.generated import registry
from codex_app_server.generated.methods import AsyncRequestMethods, SyncRequestMethods
from pydantic import BaseModel, TypeAdapter

ROOT = Path(__file__).resolve().parent.parent
GENERATED = Path(generated.__file__).parent
VERSION_FILE = GENERATED.parent / "_version.py"


def _runtime_version() -> str:
    match = re.search(r'^RUNTIME_VERSION = "([^"]+)"', VERSION_FILE.read_text(), re.M)
    assert match, "RUNTIME_VERSION not found in _version.py"
    return match.group(1)


@pytest.mark.real_binary
def test_checked_in_code_matches_a_fresh_generation(schema_codex_bin: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        sdk_codegen = importlib.import_module("sdk_codegen")
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    fresh = tmp_path / "generated"
    sdk_codegen.generate_types(schema_codex_bin, _runtime_version(), fresh)

    def files(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): p.read_text()
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    checked_in, regenerated = files(GENERATED), files(fresh)
    problems = [f"missing: {name}" for name in sorted(regenerated.keys() - checked_in.keys())]
    problems += [f"stale: {name}" for name in sorted(checked_in.keys() - regenerated.keys())]
    for name in sorted(checked_in.keys() & regenerated.keys()):
        if checked_in[name] != regenerated[name]:
            diff = difflib.unified_diff(
                checked_in[name].splitlines(), regenerated[name].splitlines(), lineterm="", n=0
            )
            problems.append(f"differs: {name}\n" + "\n".join(list(diff)[:20]))
    assert not problems, (
        "generated code is out of date; run scripts/update_sdk_artifacts.py generate-types\n"
        + "\n".join(problems[:30])
    )


def test_header_names_the_pinned_runtime() -> None:
    assert f'GENERATED_FROM_RUNTIME = "{_runtime_version()}"' in (
        (GENERATED / "__init__.py").read_text().splitlines()
    )
    assert _runtime_version() == generated.GENERATED_FROM_RUNTIME


@pytest.mark.real_binary
def test_registry_has_every_method_of_the_pinned_schema(
    schema_codex_bin: Path, tmp_path: Path
) -> None:
    subprocess.run(
        [str(schema_codex_bin), "app-server", "generate-json-schema", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )

    def methods(file_name: str) -> set[str]:
        document = json.loads((tmp_path / file_name).read_text())
        return {entry["properties"]["method"]["enum"][0] for entry in document["oneOf"]}

    assert set(registry.CLIENT_REQUESTS) == methods("ClientRequest.json")
    assert set(registry.SERVER_NOTIFICATIONS) == methods("ServerNotification.json")
    assert set(registry.SERVER_REQUESTS) == methods("ServerRequest.json")
    assert set(registry.CLIENT_NOTIFICATIONS) == methods("ClientNotification.json")


def test_registry_has_every_method_and_each_model_resolves() -> None:
    assert list(registry.CLIENT_NOTIFICATIONS) == ["initialized"]
    names: set[str] = set()
    for spec in [*registry.CLIENT_REQUESTS.values(), *registry.SERVER_REQUESTS.values()]:
        names.update(n for n in (spec.params_model, spec.response_model) if n is not None)
    for note in registry.SERVER_NOTIFICATIONS.values():
        names.update((note.envelope_model, note.params_model))
    for name in sorted(names):
        model = registry.load_model(name)
        assert model is getattr(generated, name)
        assert issubclass(model, BaseModel), name
    python_names = [spec.python_name for spec in registry.CLIENT_REQUESTS.values()]
    assert len(set(python_names)) == len(python_names)
    assert all(name.isidentifier() for name in python_names)
    assert registry.CLIENT_REQUESTS["thread/start"] == registry.RequestSpec(
        "ThreadStartParams", "ThreadStartResponse", "thread_start"
    )
    assert registry.CLIENT_REQUESTS["fuzzyFileSearch"].python_name == "fuzzy_file_search"
    assert registry.CLIENT_REQUESTS["account/logout"].params_model is None


def test_union_types_build_validators() -> None:
    """Every generated alias (tagged and untagged unions) is a type pydantic accepts."""
    for name in generated.__all__:
        value = getattr(generated, name)
        if not isinstance(value, type):
            TypeAdapter(value)


def test_a_union_response_is_a_root_model_holding_the_shape() -> None:
    from codex_app_server.generated import ApiKeyLoginAccountResponse, LoginAccountResponse

    response = LoginAccountResponse.model_validate({"type": "apiKey"})
    assert isinstance(response.root, ApiKeyLoginAccountResponse)


def test_every_client_request_has_a_sync_and_an_async_method() -> None:
    for spec in registry.CLIENT_REQUESTS.values():
        assert callable(getattr(SyncRequestMethods, spec.python_name))
        assert callable(getattr(AsyncRequestMethods, spec.python_name))


class _Recorder(SyncRequestMethods):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _call(self, method: str, params: dict[str, Any], /) -> Any:
        self.calls.append((method, params))
        return "result"


def test_request_methods_pass_only_given_arguments() -> None:
    host = _Recorder()
    started: Any = host.thread_start(base_instructions="be brief", ephemeral=True)
    logged_out: Any = host.account_logout()
    assert (started, logged_out) == ("result", "result")
    assert host.calls == [
        ("thread/start", {"base_instructions": "be brief", "ephemeral": True}),
        ("account/logout", {}),
    ]


async def test_async_request_methods_await_the_hook() -> None:
    class Host(AsyncRequestMethods):
        async def _call(self, method: str, params: dict[str, Any], /) -> Any:
            return (method, params)

    result: Any = await Host().turn_interrupt(thread_id="t1", turn_id="u1")
    assert result == ("turn/interrupt", {"thread_id": "t1", "turn_id": "u1"})


def test_models_construct_by_either_name_and_dump_wire_names() -> None:
    from codex_app_server.generated import ThreadStartParams

    by_name = ThreadStartParams(base_instructions="x", model_provider="mock")
    by_alias = ThreadStartParams.model_validate({"baseInstructions": "x", "modelProvider": "mock"})
    assert by_name == by_alias
    assert by_name.model_dump(exclude_none=True) == {
        "baseInstructions": "x",
        "modelProvider": "mock",
    }


def _turn_completed(items: list[dict[str, Any]], **turn: Any) -> dict[str, Any]:
    return {
        "method": "turn/completed",
        "emittedAtMs": 1760000000000,
        "params": {
            "threadId": "thr_1",
            "turn": {"id": "turn_1", "status": "completed", "items": items, **turn},
        },
    }


def test_a_turn_completed_message_validates_into_its_typed_envelope() -> None:
    from codex_app_server.generated import (
        AgentMessageThreadItem,
        TurnCompletedServerNotification,
        TurnStatus,
        UserMessageThreadItem,
    )

    message = _turn_completed(
        [
            {"type": "userMessage", "id": "i1", "content": [{"type": "text", "text": "hi"}]},
            {"type": "agentMessage", "id": "i2", "text": "hello", "completedAtMs": 5},
        ],
        durationMs=210,
    )
    note = registry.parse_server_notification(message)
    assert isinstance(note, TurnCompletedServerNotification)
    assert note.emitted_at_ms == 1760000000000
    assert note.params.turn.status is TurnStatus.COMPLETED
    assert note.params.turn.duration_ms == 210
    user, agent = note.params.turn.items
    assert isinstance(user, UserMessageThreadItem)
    assert isinstance(agent, AgentMessageThreadItem)
    assert agent.text == "hello"
    assert agent.completed_at_ms == 5
    assert note.model_dump(exclude_none=True) == message | {
        "params": {
            **message["params"],
            "turn": {
                **message["params"]["turn"],
                "itemsView": "full",
                "items": [
                    message["params"]["turn"]["items"][0]
                    | {"content": [{"type": "text", "text": "hi", "text_elements": []}]},
                    message["params"]["turn"]["items"][1],
                ],
            },
        }
    }


def test_a_newer_server_does_not_break_validation() -> None:
    from codex_app_server.generated import (
        TurnCompletedServerNotification,
        TurnStatus,
        UnknownServerNotification,
        UnrecognizedThreadItem,
    )

    message = _turn_completed(
        [{"type": "hologram", "id": "i9", "depth": 3}], status="paused", brandNew={"a": 1}
    )
    note = registry.parse_server_notification(message)
    assert isinstance(note, TurnCompletedServerNotification)
    turn = note.params.turn
    assert isinstance(turn.status, TurnStatus)
    assert turn.status == "paused"
    assert turn.model_extra == {"brandNew": {"a": 1}}
    (item,) = turn.items
    assert isinstance(item, UnrecognizedThreadItem)
    assert item.type == "hologram"
    assert item.model_extra == {"id": "i9", "depth": 3}
    dumped = note.model_dump(exclude_unset=True)
    assert dumped["params"]["turn"]["status"] == "paused"
    assert dumped["params"]["turn"]["items"] == [{"type": "hologram", "id": "i9", "depth": 3}]

    unknown = registry.parse_server_notification({"method": "future/thing", "params": {"x": 1}})
    assert isinstance(unknown, UnknownServerNotification)
    assert (unknown.method, unknown.params) == ("future/thing", {"x": 1})


def test_server_requests_parse_by_method_with_a_fallback() -> None:
    from codex_app_server.generated import (
        ItemCommandExecutionRequestApprovalServerRequest,
        UnknownServerRequest,
    )

    request = registry.parse_server_request(
        {
            "id": 7,
            "method": "item/commandExecution/requestApproval",
            "params": {
                "threadId": "t",
                "turnId": "u",
                "itemId": "i",
                "startedAtMs": 1,
                "command": "echo hi",
            },
        }
    )
    assert isinstance(request, ItemCommandExecutionRequestApprovalServerRequest)
    assert request.params.thread_id == "t"
    other = registry.parse_server_request({"id": "x", "method": "future/ask", "params": {}})
    assert isinstance(other, UnknownServerRequest)


def test_generated_package_and_registry_import_without_pydantic() -> None:
    code = (
        "import sys\n"
        "import codex_app_server.generated, codex_app_server.generated.registry\n"
        "import codex_app_server.generated.methods\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('pydantic')"
        " or m.startswith('codex_app_server.generated._'))\n"
        "print(loaded)\n"
    )
    src = str(GENERATED.parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert ast.literal_eval(out.stdout.strip()) == ["codex_app_server.generated._index"]


def _fallbacks(value: Any, path: str = "") -> list[str]:
    """Paths inside ``value`` where a model fell back: unknown variant, method or enum value."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        if type(value).__name__.startswith(("Unrecognized", "Unknown")):
            found.append(f"{path}: {type(value).__name__}")
        for name in type(value).model_fields:
            found += _fallbacks(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _fallbacks(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _fallbacks(item, f"{path}[{key!r}]")
    elif isinstance(value, (generated.OpenEnum, generated.OpenIntEnum)) and value.name == str(
        value.value
    ):
        found.append(f"{path}: unknown enum value {value.value!r}")
    return found


@pytest.mark.real_binary
def test_the_real_server_round_trips_through_the_generated_models(
    schema_codex_bin: Path, tmp_path: Path
) -> None:
    """Requests built from the models are accepted; every reply and notification validates
    without a fallback and dumps back to the exact JSON the server sent."""
    from codex_app_server.generated import (
        ClientInfo,
        ConfigReadParams,
        InitializeParams,
        ModelListParams,
        ThreadListParams,
        ThreadStartParams,
    )

    home = tmp_path / "home"
    home.mkdir()
    # A provider on a closed port: nothing here may reach a real model.
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
        'name = "mock"\nbase_url = "http://127.0.0.1:9/v1"\nwire_api = "responses"\n'
    )
    env = {
        **os.environ,
        "CODEX_HOME": str(home),
        "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG": "1",
        "RUST_LOG": "warn",
    }
    server = subprocess.Popen(
        [str(schema_codex_bin), "app-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    notifications: list[BaseModel] = []
    raw: list[Any] = []

    def call(request_id: int, method: str, params: BaseModel) -> BaseModel:
        # exclude_none: an omitted optional field must not go out as null (the server
        # rejects null where the schema is not nullable); the client dumps the same way.
        params_json = params.model_dump(exclude_none=True)
        message = {"id": request_id, "method": method, "params": params_json}
        server.stdin.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        while True:
            reply = json.loads(server.stdout.readline())  # type: ignore[union-attr]
            if reply.get("id") == request_id:
                assert "result" in reply, reply
                spec = registry.CLIENT_REQUESTS[method]
                raw.append(reply["result"])
                return registry.load_model(spec.response_model).model_validate(reply["result"])
            raw.append(reply)
            notifications.append(registry.parse_server_notification(reply))

    try:
        replies = [
            call(1, "initialize", InitializeParams(client_info=ClientInfo(name="t", version="0"))),
        ]
        server.stdin.write(json.dumps({"method": "initialized"}) + "\n")
        replies += [
            call(2, "thread/start", ThreadStartParams(cwd=str(tmp_path))),
            call(3, "thread/list", ThreadListParams()),
            call(4, "model/list", ModelListParams()),
            call(5, "config/read", ConfigReadParams()),
        ]
    finally:
        server.kill()
        server.wait()
    assert [type(reply).__name__ for reply in replies] == [
        "InitializeResponse",
        "ThreadStartResponse",
        "ThreadListResponse",
        "ModelListResponse",
        "ConfigReadResponse",
    ]
    assert notifications, "the server sent no notification before the replies"
    parsed = [*replies, *notifications]
    problems = [problem for model in parsed for problem in _fallbacks(model)]
    assert not problems, problems
    # Fields outside the stable schema (the server sends experimental ones too) are kept as
    # extras, so every message dumps back to exactly what came over the wire.
    dumped = [model.model_dump(mode="json", exclude_unset=True) for model in parsed]

    def canonical(messages: list[Any]) -> list[str]:
        return sorted(json.dumps(message, sort_keys=True) for message in messages)

    assert canonical(dumped) == canonical(raw)
