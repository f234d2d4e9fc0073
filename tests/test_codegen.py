"""The generator and the bump: every schema construct mapped or refused in one line, overrides
checked against the real server, union params as keywords, the protocol summary, the workflow."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from codex_app_server import generated
from codex_app_server.generated import OpenIntEnum, ShowAgentMessageDisplayVersion, registry
from codex_app_server.generated._index import MODULE_OF
from codex_app_server.generated.methods import AsyncRequestMethods, SyncRequestMethods
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
import protocol_diff  # noqa: E402  (needs the sys.path entry above)
import sdk_codegen  # noqa: E402
import update_sdk_artifacts as artifacts  # noqa: E402

GENERATED = ROOT / "packages/codex-app-server-sdk/src/codex_app_server/generated"


# -- enums ----------------------------------------------------------------------------------


def test_an_integer_enum_is_an_open_int_enum() -> None:
    assert issubclass(ShowAgentMessageDisplayVersion, OpenIntEnum)
    assert ShowAgentMessageDisplayVersion(1) is ShowAgentMessageDisplayVersion.V_1
    newer = ShowAgentMessageDisplayVersion(2)  # a version a newer server may send
    assert isinstance(newer, ShowAgentMessageDisplayVersion)
    assert newer == 2
    assert newer.name == "2"


def _emit(definitions: dict[str, Any]) -> dict[str, str]:
    emitter = sdk_codegen.Emitter(definitions)
    emitter.emit_all()
    return {name: "\n".join(unit.lines) for name, unit in emitter.units.items()}


def test_mixed_and_integer_enums_are_mapped() -> None:
    units = _emit(
        {
            "Mixed": {"enum": ["auto", 0, None, True]},
            "Level": {"type": "integer", "enum": [1, 2, 10]},
            "Holder": {"type": "object", "properties": {"pick": {"enum": ["a", 2]}}},
        }
    )
    assert units["Mixed"].startswith('Mixed: TypeAlias = Literal["auto", 0, None, True]')
    assert "class Level(OpenIntEnum):" in units["Level"]
    assert "V_10 = 10" in units["Level"]
    assert 'HolderPick: TypeAlias = Literal["a", 2]' in units["HolderPick"]


def test_a_construct_the_generator_cannot_map_names_its_schema_path() -> None:
    definitions = {
        "Outer": {
            "type": "object",
            "properties": {"cells": {"type": "array", "items": [{"type": "string"}]}},
        }
    }
    with pytest.raises(sdk_codegen.SchemaError) as raised:
        _emit(definitions)
    assert raised.value.path == "#/definitions/Outer/properties/cells"
    assert str(raised.value).startswith("#/definitions/Outer/properties/cells: ")


def _fake_schema_binary(tmp_path: Path, codex_bin: Path, change: Any) -> Path:
    """A stand-in codex whose generate-json-schema prints the real schema after ``change``."""
    schema = tmp_path / "schema"
    sdk_codegen.dump_schema(codex_bin, schema)
    change(schema)
    fake = tmp_path / "codex"
    fake.write_text(f'#!/bin/sh\ncp -R "{schema}/." "$4"\n')
    fake.chmod(0o755)
    return fake


def _generate(fake: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPTS / "sdk_codegen.py"), "--codex-bin", str(fake)]
    return subprocess.run(
        [*command, "--runtime-version", "9.9.9", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.real_binary
def test_an_unmappable_schema_stops_with_one_error_line_and_status_2(
    schema_codex_bin: Path, tmp_path: Path
) -> None:
    def add_a_tuple_array(schema: Path) -> None:
        bundle = schema / sdk_codegen.V2_BUNDLE
        document = json.loads(bundle.read_text())
        document["definitions"]["Zzz"] = {
            "type": "object",
            "properties": {"pair": {"type": "array", "items": [{"type": "integer"}] * 2}},
        }
        bundle.write_text(json.dumps(document))

    out = tmp_path / "generated"
    result = _generate(_fake_schema_binary(tmp_path, schema_codex_bin, add_a_tuple_array), out)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: #/definitions/Zzz/properties/pair: ZzzPair: tuple-typed arrays are not supported"
    ]
    assert not out.exists()  # nothing written


@pytest.mark.real_binary
def test_a_request_without_a_response_type_stops_the_generator(
    schema_codex_bin: Path, tmp_path: Path
) -> None:
    def add_a_request(schema: Path) -> None:
        requests = schema / "ClientRequest.json"
        document = json.loads(requests.read_text())
        entry = json.loads(json.dumps(document["oneOf"][0]))
        entry["properties"]["method"]["enum"] = ["brandNew/thing"]
        entry["properties"]["params"] = {"$ref": "#/definitions/ThreadStartParams"}
        document["oneOf"].append(entry)
        requests.write_text(json.dumps(document))

    # ThreadStartParams pairs with ThreadStartResponse by name: point it at a stem without one.
    def add_an_unpaired_request(schema: Path) -> None:
        add_a_request(schema)
        requests = schema / "ClientRequest.json"
        document = json.loads(requests.read_text())
        document["oneOf"][-1]["properties"]["params"] = {"$ref": "#/definitions/ThreadId"}
        requests.write_text(json.dumps(document))

    result = _generate(
        _fake_schema_binary(tmp_path, schema_codex_bin, add_an_unpaired_request), tmp_path / "g"
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ClientRequest.json: client requests without a response type")
    assert "brandNew/thing" in line
    assert "RESPONSE_OVERRIDES" in line


#: Override methods and the params that make the real server answer them offline.
OVERRIDE_CALLS: dict[str, dict[str, Any] | None] = {
    "account/gatewayOAuth/cancel": None,
    "account/logout": None,
    "account/securitySetup/read": None,
    "config/batchWrite": {
        "edits": [{"keyPath": "model", "value": "mock-model", "mergeStrategy": "replace"}]
    },
    "config/mcpServer/reload": None,
    "config/value/write": {"keyPath": "model", "value": "mock-model", "mergeStrategy": "replace"},
    "modelProvider/default/set": {"providerId": "mock"},
    "configRequirements/read": None,
    "externalAgentConfig/import/readHistories": None,
    "windowsSandbox/readiness": None,
}
#: Overrides the server answers only for a signed-in account: checked to still refuse offline,
#: so that the day it answers, this test asks for its shape to be checked too.
NEEDS_ACCOUNT = {"account/workspaceMessages/read": "authentication required"}


@pytest.mark.real_binary
def test_each_response_override_matches_the_real_answer(
    schema_codex_bin: Path, tmp_path: Path
) -> None:
    assert set(OVERRIDE_CALLS) | set(NEEDS_ACCOUNT) == set(sdk_codegen.RESPONSE_OVERRIDES)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
        'name = "mock"\nbase_url = "http://127.0.0.1:9/v1"\nwire_api = "responses"\n'
    )
    env = {**os.environ, "CODEX_HOME": str(home), "CODEX_APP_SERVER_DISABLE_MANAGED_CONFIG": "1"}
    server = subprocess.Popen(
        [str(schema_codex_bin), "app-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None

    def call(request_id: int, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        server.stdin.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        while True:
            reply: dict[str, Any] = json.loads(server.stdout.readline())  # type: ignore[union-attr]
            if reply.get("id") == request_id:
                return reply

    problems = []
    try:
        call(0, "initialize", {"clientInfo": {"name": "t", "version": "0"}})
        server.stdin.write('{"method": "initialized"}\n')
        for request_id, (method, params) in enumerate(OVERRIDE_CALLS.items(), 1):
            reply = call(request_id, method, params)
            if "result" not in reply:
                problems.append(f"{method}: {reply}")
                continue
            name = sdk_codegen.RESPONSE_OVERRIDES[method]
            assert registry.CLIENT_REQUESTS[method].response_model == name
            model: BaseModel = registry.load_model(name).model_validate(reply["result"])
            # Every member the server sent is a declared field of the named type.
            if (
                model.model_extra
                or model.model_dump(mode="json", exclude_unset=True) != reply["result"]
            ):
                problems.append(f"{method}: {reply['result']} is not a {name}")
        for offset, (method, refusal) in enumerate(NEEDS_ACCOUNT.items(), 100):
            reply = call(offset, method, None)
            assert refusal in reply.get("error", {}).get("message", ""), (method, reply)
    finally:
        server.kill()
        server.wait()
    assert not problems, problems


# -- union params as keywords -----------------------------------------------------------------


class _Recorder(SyncRequestMethods):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _call(self, method: str, params: dict[str, Any], /) -> Any:
        self.calls.append((method, params))
        return None


def test_union_params_take_keywords_or_one_model() -> None:
    from codex_app_server.generated import ApiKeyLoginAccountParams, LoginAccountParams

    host = _Recorder()
    host.account_login_start(type="apiKey", api_key="sk-test")
    host.account_login_start(type="chatgpt", app_brand=None)
    host.account_login_start({"type": "apiKey", "apiKey": "sk-test"})
    host.account_login_start(ApiKeyLoginAccountParams(api_key="sk-test"))
    sent = [params for _, params in host.calls]
    assert sent[:3] == [
        {"type": "apiKey", "api_key": "sk-test"},
        {"type": "chatgpt"},
        {"type": "apiKey", "apiKey": "sk-test"},
    ]
    # Each form validates into the same params (what the client sends on the wire).
    wire = [LoginAccountParams.model_validate(params).model_dump() for params in sent]
    assert wire[0] == wire[2] == wire[3] == {"type": "apiKey", "apiKey": "sk-test"}
    with pytest.raises(TypeError, match="not both"):
        host.account_login_start({"type": "apiKey", "apiKey": "k"}, type="apiKey")


async def test_async_union_params_take_keywords() -> None:
    class Host(AsyncRequestMethods):
        async def _call(self, method: str, params: dict[str, Any], /) -> Any:
            return (method, params)

    result: Any = await Host().account_login_start(type="apiKey", api_key="k")
    assert result == ("account/login/start", {"type": "apiKey", "api_key": "k"})


# -- module layout ---------------------------------------------------------------------------


def _types_in(tree: ast.Module) -> dict[str, set[str]]:
    """Each type a generated module defines (classes, aliases), with the names it mentions."""
    types: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        else:
            continue
        types[name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {name}
    return types


def _envelopes_in(tree: ast.Module) -> dict[str, str]:
    """The message envelopes a module defines (``method`` and a typed ``params``): their params."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            fields = {
                statement.target.id: statement.annotation
                for statement in node.body
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
            }
            params = fields.get("params")
            if "method" in fields and isinstance(params, ast.Name):
                found[node.name] = params.id
    return found


def test_every_generated_module_is_named_after_its_headline_type() -> None:
    """The headline is the type all others in its module hang from (they are its variants, its
    fallback, types only it uses, its envelopes); the file and the docstring are named after it.
    """
    modules = set(GENERATED.glob("_[!_]*.py")) - {GENERATED / "_base.py", GENERATED / "_index.py"}
    assert len(modules) > 400
    for path in sorted(modules):
        tree = ast.parse(path.read_text())
        types, envelopes = _types_in(tree), _envelopes_in(tree)
        named_after = [name for name in types if f"_{sdk_codegen.snake_case(name)}" == path.stem]
        assert len(named_after) == 1, f"{path.name} defines no type it is named after"
        headline = named_after[0]
        hanging = {headline}
        while True:
            more = {
                name
                for name in types.keys() - hanging
                if envelopes.get(name) in hanging or any(name in types[h] for h in hanging)
            }
            if not more:
                break
            hanging |= more
        assert hanging == types.keys(), f"{path.name}: {sorted(types.keys() - hanging)}"
        doc = ast.get_docstring(tree) or ""
        listed = re.findall(r"``(\w+)``", doc)
        assert f"``{headline}``" in doc.splitlines()[0], path.name
        assert listed[0] == headline, path.name
        assert sorted(listed[1:]) == sorted(types.keys() - {headline}), path.name
        assert {MODULE_OF[name] for name in types} == {path.stem}


@pytest.mark.real_binary
def test_a_message_module_holds_only_its_own_types(schema_codex_bin: Path, tmp_path: Path) -> None:
    """A request's params or result, or a notification's params, heads its own module and takes
    in no named schema type but a value type (an enum, an alias of builtins): ``Account`` is not
    hidden in ``_get_account_response.py``."""
    sdk_codegen.dump_schema(schema_codex_bin, tmp_path)
    named = sdk_codegen.read_schema(tmp_path).definitions.keys()
    messages = {spec.params_model for spec in registry.SERVER_NOTIFICATIONS.values()}
    for spec in [*registry.CLIENT_REQUESTS.values(), *registry.SERVER_REQUESTS.values()]:
        messages |= {name for name in spec[:2] if name is not None}
    assert "GetAccountResponse" in messages
    for message in sorted(messages):
        module = MODULE_OF[message]
        assert module == f"_{sdk_codegen.snake_case(message)}"
        types = _types_in(ast.parse((GENERATED / f"{module}.py").read_text()))
        for name in sorted(types.keys() & named - {message}):
            value = getattr(generated, name)
            is_enum = isinstance(value, type) and issubclass(value, Enum)
            plain_alias = not isinstance(value, type) and not types[name] & MODULE_OF.keys()
            assert is_enum or plain_alias, f"{name} is hidden in {module}"
    assert MODULE_OF["Account"] == "_account"
    assert MODULE_OF["GetAccountResponse"] == "_get_account_response"


# -- the bump's pieces ------------------------------------------------------------------------


def test_the_protocol_summary_lists_what_changed(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(GENERATED, old)
    registry_file = old / "registry.py"
    text = registry_file.read_text()
    registry_file.write_text(
        text.replace(
            "SERVER_NOTIFICATIONS: dict[str, NotificationSpec] = {\n",
            "SERVER_NOTIFICATIONS: dict[str, NotificationSpec] = {\n"
            '    "gone/away": NotificationSpec("GoneAway", "GoneAway"),\n',
        )
    )
    turn = old / "_turn.py"
    turn.write_text(
        turn.read_text().replace(
            "class Turn(CodexModel):", "class Turn(CodexModel):\n    legacy: int", 1
        )
    )
    index = old / "_index.py"
    index.write_text(
        index.read_text().replace(
            "MODULE_OF: dict[str, str] = {\n",
            'MODULE_OF: dict[str, str] = {\n    "OldName": "_turn",\n',
        )
    )
    summary = protocol_diff.summarize(
        protocol_diff.snapshot(old), protocol_diff.snapshot(GENERATED), ["Turn.legacy: removed"]
    )
    assert "  - removed `gone/away`" in summary
    assert "  - removed: `OldName`" in summary
    assert "  - `Turn`: `legacy` removed" in summary
    assert "- Public API breaks (griffe): 1.\n  - Turn.legacy: removed" in summary
    assert "- Client requests: unchanged" in summary


def test_griffe_finds_a_removed_public_field(tmp_path: Path) -> None:
    new = tmp_path / "new" / "codex_app_server"
    shutil.copytree(GENERATED.parent, new, ignore=shutil.ignore_patterns("__pycache__"))
    turn = new / "generated" / "_turn.py"
    source = turn.read_text()
    assert "    started_at: int | None" in source
    turn.write_text(source.replace("    started_at: int | None", "    _started_at: int | None", 1))
    breaks = protocol_diff.api_breaks(GENERATED.parent.parent, new.parent)
    assert any(line.startswith("Turn.started_at:") for line in breaks), breaks


def test_the_changelog_entry_goes_under_unreleased(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- a fix\n")
    artifacts.add_changelog_entry(
        "Codex runtime 1.0.0 -> 1.1.0.\n- Client requests: ...", changelog
    )
    assert changelog.read_text() == (
        "# Changelog\n\n## [Unreleased]\n\n### Codex runtime\n\nCodex runtime 1.0.0 -> 1.1.0."
        "\n\n- Client requests: ...\n\n### Fixed\n\n- a fix\n"
    )


def test_figures_are_rewritten_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{artifacts.FIGURES_BEGIN}\n- 1 file\n{artifacts.FIGURES_END}\nafter\n")
    assert artifacts.update_figures([doc]) == [doc]
    assert doc.read_text() == (
        f"before\n{artifacts.FIGURES_BEGIN}\n{artifacts.generated_figures()}\n"
        f"{artifacts.FIGURES_END}\nafter\n"
    )
    assert artifacts.update_figures([doc]) == []


def test_the_daily_workflow_bumps_tests_and_opens_a_pull_request_or_an_issue() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/codex-release.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"]  # every day
    assert workflow["permissions"] == {"contents": "read"}
    bump = workflow["jobs"]["bump"]
    runs = [step.get("run", "") for step in bump["steps"]]
    assert any('nox -s bump -- "$VERSION"' in run for run in runs)
    assert any("nox -s lint typecheck tests" in run for run in runs)
    assert any("gh pr create" in run for run in runs)
    (issue,) = [step for step in bump["steps"] if "gh issue create" in step.get("run", "")]
    assert issue["if"].startswith("failure()")
    assert set(bump["permissions"]) == {"contents", "pull-requests", "issues"}
