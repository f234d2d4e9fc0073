"""Generate ``codex_app_server/generated/`` from the JSON Schema that the codex binary prints.

``generate_types(codex_bin, runtime_version)`` runs ``codex app-server generate-json-schema``,
turns the v2 protocol bundle (plus the message lists of ``ClientRequest.json``,
``ServerNotification.json`` and ``ServerRequest.json``) into pydantic v2 models, a method registry
and typed request-method mixins, and writes them deterministically: the same schema always
gives byte-identical files. See docs/generated-models.md for the layout and naming rules.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import keyword
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _codegen_templates as templates

SDK_SRC = Path(__file__).resolve().parent.parent / "packages" / "codex-app-server-sdk" / "src"
# What is secret is decided in one place, the SDK's own redaction rules (pure standard library).
sys.path.insert(0, str(SDK_SRC))
from codex_app_server._redact import hides_values, is_secret_key  # noqa: E402

GENERATED_DIR = SDK_SRC / "codex_app_server" / "generated"
V2_BUNDLE = "codex_app_server_protocol.v2.schemas.json"
MESSAGE_LISTS = ("ClientRequest.json", "ServerNotification.json", "ServerRequest.json")

# The schema does not link a request to its response type. Most pairs follow
# ``<Stem>Params`` -> ``<Stem>Response``; these methods do not (they take no params or share a
# response), and are named here, each with what the server was seen to answer. The generator
# refuses to run if an entry stops resolving or a new method resolves by neither rule, so a
# runtime upgrade cannot silently mistype a result; tests/test_codegen.py sends each of these
# requests to the real server and checks its answer against the type named here.
RESPONSE_OVERRIDES: dict[str, str] = {
    # No params; answers {} once the login attempt is cancelled (or there was none).
    "account/gatewayOAuth/cancel": "GatewayOAuthCancelResponse",
    # No params; answers {}.
    "account/logout": "LogoutAccountResponse",
    # No params; the account's security setup.
    "account/securitySetup/read": "GetAccountSecuritySetupResponse",
    # No params; the workspace's messages.
    "account/workspaceMessages/read": "GetWorkspaceMessagesResponse",
    # Writes config.toml like config/value/write: {status, version, filePath, overriddenMetadata}.
    "config/batchWrite": "ConfigWriteResponse",
    # No params; answers {} after reloading the MCP servers, as config/mcpServer/refresh did.
    "config/mcpServer/reload": "McpServerRefreshResponse",
    # Writes one config.toml value: {status, version, filePath, overriddenMetadata}.
    "config/value/write": "ConfigWriteResponse",
    # Writes model_provider to config.toml (the schema names no response type); the
    # server answers {status, version, filePath, overriddenMetadata}, a ConfigWriteResponse.
    "modelProvider/default/set": "ConfigWriteResponse",
    # No params; the requirements that managed configuration imposes.
    "configRequirements/read": "ConfigRequirementsReadResponse",
    # No params; the recorded import histories.
    "externalAgentConfig/import/readHistories": "ExternalAgentConfigImportHistoriesReadResponse",
    # No params; whether the Windows sandbox is set up ({status}, also answered on POSIX).
    "windowsSandbox/readiness": "WindowsSandboxReadinessResponse",
}

# Words whose mixed case the generic camelCase split would cut in two (gateway_o_auth).
_WHOLE_WORDS = {"OAuth": "Oauth"}
# Attribute names of pydantic's BaseModel that a field must not shadow.
_PYDANTIC_RESERVED = frozenset(
    {"construct", "copy", "dict", "fields", "json", "schema", "schema_json", "validate"}
    | {
        f"model_{name}"
        for name in (
            "config",
            "fields",
            "computed_fields",
            "extra",
            "fields_set",
            "construct",
            "copy",
            "dump",
            "dump_json",
            "json_schema",
            "parametrized_name",
            "post_init",
            "rebuild",
            "validate",
            "validate_json",
            "validate_strings",
        )
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PRIMITIVES = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}


class SchemaError(RuntimeError):
    """The schema has a shape the generator does not know how to map; extend the generator.

    ``path`` is where in the schema (a JSON pointer into the v2 bundle's ``definitions``, or a
    message list's file name); the message starts with it.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def snake_case(name: str) -> str:
    """``threadId`` -> ``thread_id``, ``gatewayOAuth`` -> ``gateway_oauth``, ``on-request`` ->
    ``on_request``."""
    for word, replacement in _WHOLE_WORDS.items():
        name = name.replace(word, replacement)
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()


def pascal_case(name: str) -> str:
    """``item/agentMessage/delta`` -> ``ItemAgentMessageDelta``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


def field_name(wire: str) -> str:
    """A valid, non-shadowing Python attribute name for the wire property ``wire``."""
    name = snake_case(wire) or "field"
    if name[0].isdigit():
        name = f"f_{name}"
    if keyword.iskeyword(name) or name in _PYDANTIC_RESERVED:
        name += "_"
    return name


def enum_member_name(value: str) -> str:
    """``on-request`` -> ``ON_REQUEST``; values that are not identifiers get a ``V_`` prefix."""
    name = snake_case(value).upper()
    if not name or name[0].isdigit():
        name = f"V_{name}"
    return name


def string_literal(text: str) -> str:
    """A double-quoted Python string literal (json escaping is valid Python for these)."""
    return json.dumps(text, ensure_ascii=False)


def docstring(text: str, indent: str) -> list[str]:
    """Lines of a triple-quoted docstring for ``text`` at ``indent``."""
    body = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body += " "
    lines = body.splitlines()
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    out = [f'{indent}"""{lines[0]}']
    out += [f"{indent}{line}".rstrip() for line in lines[1:]]
    out.append(f'{indent}"""')
    return out


def class_lines(name: str, base: str, doc: str) -> list[str]:
    """A class statement with its docstring and the blank line that follows it."""
    return [f"class {name}({base}):", *docstring(doc, "    "), ""]


# --------------------------------------------------------------------------------------------
# Reading the schema


@dataclass
class Schema:
    """The merged definitions plus the protocol's message lists."""

    definitions: dict[str, Any]
    client_requests: list[tuple[str, str | None]]  # (method, params definition)
    server_notifications: list[tuple[str, str]]
    server_requests: list[tuple[str, str]]
    client_notifications: list[tuple[str, str | None]]
    notification_extra: dict[str, Any]  # properties beside method/params (emittedAtMs)


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema["$ref"]
    prefix = "#/definitions/"
    if not ref.startswith(prefix) or "/" in ref[len(prefix) :]:
        raise SchemaError(f"unsupported $ref {ref!r}")
    return str(ref[len(prefix) :])


def _params_of(entry: dict[str, Any]) -> str | None:
    """The params definition of one ``oneOf`` message entry (``None``: the method has none)."""
    params = entry["properties"].get("params")
    if params is None or params.get("type") == "null":
        return None
    if "$ref" in params:
        return _ref_name(params)
    alternatives = params.get("anyOf", [])
    refs = [alt for alt in alternatives if "$ref" in alt]
    if len(refs) == 1 and len(alternatives) == 2 and {"type": "null"} in alternatives:
        return _ref_name(refs[0])
    raise SchemaError(f"unsupported params schema {params!r}")


def _method_of(entry: dict[str, Any]) -> str:
    (method,) = entry["properties"]["method"]["enum"]
    return str(method)


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in ("$schema", "definitions")}


def _merge(definitions: dict[str, Any], name: str, schema: dict[str, Any], source: str) -> None:
    schema = _strip(schema)
    existing = definitions.get(name)
    if existing is None:
        definitions[name] = schema
        return
    if _without_titles(existing) != _without_titles(schema):
        raise SchemaError(f"{source} defines {name} differently from the v2 bundle")


def _without_titles(schema: Any) -> Any:
    # Titles of inline nodes differ between files (``ApiKeyv2::LoginAccountParams``); the
    # shapes are what must agree.
    if isinstance(schema, dict):
        return {key: _without_titles(value) for key, value in schema.items() if key != "title"}
    if isinstance(schema, list):
        return [_without_titles(value) for value in schema]
    return schema


def class_name(title: str) -> str:
    """A class name from a schema title (``ApiKeyv2::LoginAccountParams`` ->
    ``ApiKeyLoginAccountParams``)."""
    name = re.sub(r"v\d+::", "", title)
    if not _IDENTIFIER.match(name):
        raise SchemaError(f"title {title!r} is not a usable class name")
    return name


def read_schema(out_dir: Path) -> Schema:
    """Load the v2 bundle and the message lists from a ``generate-json-schema`` output folder."""
    definitions: dict[str, Any] = {}
    for name, schema in json.loads((out_dir / V2_BUNDLE).read_text())["definitions"].items():
        _merge(definitions, name, schema, V2_BUNDLE)
    lists = {}
    for file_name in MESSAGE_LISTS:
        document = json.loads((out_dir / file_name).read_text())
        for name, schema in document.get("definitions", {}).items():
            _merge(definitions, name, schema, file_name)
        lists[file_name] = document
    client_doc = out_dir / "ClientNotification.json"
    client_notifications = (
        json.loads(client_doc.read_text())["oneOf"] if client_doc.exists() else []
    )
    # The message unions become hand-shaped envelopes below; their own definitions would
    # collide with params classes of the same title (ErrorNotification).
    for name in ("ClientRequest", "ServerNotification", "ServerRequest", "ClientNotification"):
        definitions.pop(name, None)
    schema = Schema(
        definitions=definitions,
        client_requests=[
            (_method_of(entry), _params_of(entry)) for entry in lists["ClientRequest.json"]["oneOf"]
        ],
        server_notifications=[],
        server_requests=[],
        client_notifications=[
            (_method_of(entry), _params_of(entry)) for entry in client_notifications
        ],
        notification_extra=lists["ServerNotification.json"].get("properties", {}),
    )
    for key, file_name in (
        ("server_notifications", "ServerNotification.json"),
        ("server_requests", "ServerRequest.json"),
    ):
        for entry in lists[file_name]["oneOf"]:
            params = _params_of(entry)
            if params is None:
                raise SchemaError(f"{file_name}: {_method_of(entry)} has no params")
            getattr(schema, key).append((_method_of(entry), params))
    _load_response_types(schema, out_dir)
    return schema


def _load_response_types(schema: Schema, out_dir: Path) -> None:
    """Add response types that live outside the v2 bundle (one file per message type)."""
    wanted = [response for _, response in _client_request_responses(schema, lenient=True)]
    wanted += [response_of(params) for _, params in schema.server_requests]
    for name in wanted:
        if name is None or name in schema.definitions:
            continue
        for candidate in (out_dir / f"{name}.json", out_dir / "v1" / f"{name}.json"):
            if candidate.exists():
                document = json.loads(candidate.read_text())
                for inner, inner_schema in document.get("definitions", {}).items():
                    _merge(schema.definitions, inner, inner_schema, candidate.name)
                _merge(schema.definitions, name, document, candidate.name)
                break


def response_of(params: str) -> str:
    """The response type that pairs with a params type by name (``XParams`` -> ``XResponse``)."""
    return params.removesuffix("Params") + "Response"


def _client_request_responses(
    schema: Schema, *, lenient: bool = False
) -> list[tuple[str, str | None]]:
    """(method, response type) of every client request; raises for unresolved ones unless
    ``lenient`` (used before the out-of-bundle response files are loaded)."""
    pairs: list[tuple[str, str | None]] = []
    unresolved = []
    for method, params in schema.client_requests:
        if method in RESPONSE_OVERRIDES:
            response: str | None = RESPONSE_OVERRIDES[method]
        elif params is not None and params.endswith("Params"):
            response = response_of(params)
        else:
            response = None
        if not lenient and (response is None or response not in schema.definitions):
            unresolved.append(f"{method} -> {response}")
        pairs.append((method, response))
    if unresolved:
        raise SchemaError(
            "client requests without a response type: "
            + ", ".join(unresolved)
            + "; find what the server answers and add the method to RESPONSE_OVERRIDES in"
            " scripts/sdk_codegen.py",
            "ClientRequest.json",
        )
    return pairs


# --------------------------------------------------------------------------------------------
# Mapping schema nodes to Python


@dataclass
class Unit:
    """One emitted top-level name: a class or a type alias, with the names it refers to."""

    name: str
    kind: str  # "enum", "model", "alias" or "root" (a RootModel over an alias)
    lines: list[str]
    deps: set[str] = field(default_factory=set)
    #: The schema definition this unit was emitted for: its own name for a definition, the
    #: enclosing definition for an inline type (a variant, a property's enum, a fallback).
    owner: str = ""


@dataclass
class FieldInfo:
    """One model field, kept for the request-method signatures."""

    name: str
    wire: str
    annotation: str
    required: bool
    description: str


class Emitter:
    """Turns schema definitions into ``Unit`` objects, naming inline types on the way."""

    def __init__(self, definitions: dict[str, Any]) -> None:
        self.definitions = definitions
        self.units: dict[str, Unit] = {}
        self.fields: dict[str, list[FieldInfo]] = {}
        #: Tagged unions: name -> (tag property, [(tag value, variant class)]).
        self.tagged: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        # The JSON pointer of the node being mapped, for errors that must say where.
        self._path: list[str] = []

    @contextlib.contextmanager
    def at(self, *keys: str | int) -> Iterator[None]:
        """Map the nodes inside this block as children of the current node at ``keys``."""
        self._path.extend(str(key) for key in keys)
        try:
            yield
        except SchemaError as error:
            if error.path:
                raise
            raise self.error(str(error)) from None  # the deepest node it was raised under
        finally:
            del self._path[len(self._path) - len(keys) :]

    def error(self, message: str) -> SchemaError:
        """A SchemaError naming the schema path being mapped."""
        return SchemaError(message, "#/" + "/".join(self._path))

    def add(self, unit: Unit) -> None:
        if unit.name in self.units:
            raise self.error(f"two generated types are called {unit.name}")
        if not unit.owner:
            unit.owner = self._path[1] if self._path[:1] == ["definitions"] else unit.name
        self.units[unit.name] = unit

    def emit_all(self) -> None:
        for name in sorted(self.definitions):
            with self.at("definitions", name):
                self.emit_definition(name, self.definitions[name])

    # --- definitions ---

    def emit_definition(self, name: str, schema: dict[str, Any]) -> None:
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives is not None and not schema.get("properties"):
            self.emit_union(name, schema, alternatives)
        elif "enum" in schema:
            self.emit_enum(name, schema, [(value, None) for value in schema["enum"]])
        elif schema.get("type") == "object" and (
            "properties" in schema
            or alternatives is not None
            or not isinstance(schema.get("additionalProperties"), dict)
        ):
            # Includes ``{"type": "object"}`` alone: an empty model, so every request and
            # response type is a model class (extra fields still land in ``model_extra``).
            self.emit_model(name, schema)
        else:
            deps: set[str] = set()
            annotation = self.annotation(schema, name, deps)
            lines = [f"{name}: TypeAlias = {annotation}"]
            if schema.get("description"):
                lines += docstring(schema["description"], "")
            self.add(Unit(name, "alias", lines, deps))

    def wrap_in_root_model(self, name: str) -> None:
        """Turn the union alias ``name`` into ``<name>Shape`` plus a RootModel class ``name``.

        Request and response types must be classes (``load_model`` returns one, the client
        validates with it); a union one becomes a RootModel whose ``.root`` is the shape.
        """
        alias = self.units.pop(name)
        shape = f"{name}Shape"
        alias.lines[0] = alias.lines[0].replace(f"{name}: TypeAlias", f"{shape}: TypeAlias", 1)
        self.add(Unit(shape, "alias", alias.lines, alias.deps, owner=name))
        lines = class_lines(
            name, f"RootModel[{shape}]", f"One of the shapes of ``{shape}``, held in ``root``."
        )
        lines.append("    model_config = ConfigDict(defer_build=True)")
        self.add(Unit(name, "root", lines, {shape}))

    def emit_enum(self, name: str, schema: dict[str, Any], values: list[tuple[Any, Any]]) -> None:
        """Strings: an ``OpenEnum``; integers: an ``OpenIntEnum``; a mix: a ``Literal`` alias."""
        kinds = {_enum_kind(value) for value, _ in values}
        if None in kinds:
            bad = next(value for value, _ in values if _enum_kind(value) is None)
            raise self.error(f"{name}: enum value {bad!r} is not a string, integer, bool or null")
        if len(kinds) != 1 or kinds & {"bool", "null"}:
            # Mixed enums have no enum class that could hold them; the alias still checks.
            literals = [_python_literal(value) for value, _ in values]
            lines = [f"{name}: TypeAlias = Literal[{', '.join(dict.fromkeys(literals))}]"]
            lines += docstring(schema.get("description") or f"Values of ``{name}``.", "")
            self.add(Unit(name, "alias", lines))
            return
        base = "OpenIntEnum" if kinds == {"int"} else "OpenEnum"
        lines = class_lines(name, base, schema.get("description") or f"Values of ``{name}``.")
        seen: set[str] = set()
        for value, description in values:
            member = enum_member_name(str(value))
            if member in seen:
                raise self.error(f"{name}: two values map to member {member}")
            seen.add(member)
            lines.append(f"    {member} = {_python_literal(value)}")
            if description:
                lines += docstring(description, "    ")
        self.add(Unit(name, "enum", lines))

    def emit_union(self, name: str, schema: dict[str, Any], alternatives: list[Any]) -> None:
        strings = [alt for alt in alternatives if _is_string_enum(alt)]
        if len(strings) == len(alternatives):
            values = [(value, alt.get("description")) for alt in strings for value in alt["enum"]]
            self.emit_enum(name, schema, values)
            return
        objects = [alt for alt in alternatives if alt.get("type") == "object" and "$ref" not in alt]
        tag = _common_tag(objects) if len(objects) == len(alternatives) else None
        if tag is not None:
            self.emit_tagged_union(name, schema, objects, tag, {})
            return
        members: list[str] = []
        deps: set[str] = set()
        if strings:
            enum_name = f"{name}Value"
            values = [(value, alt.get("description")) for alt in strings for value in alt["enum"]]
            self.emit_enum(enum_name, {}, values)
            members.append(enum_name)
            deps.add(enum_name)
        key = _alternatives_key(schema)
        for index, alt in enumerate(alternatives):
            if alt in strings:
                continue
            with self.at(key, index):
                if alt.get("type") == "object" and "$ref" not in alt:
                    variant = class_name(
                        alt.get("title") or f"{name}{pascal_case(_first_key(alt))}"
                    )
                    self.emit_model(variant, alt)
                    members.append(variant)
                    deps.add(variant)
                else:
                    members.append(self.annotation(alt, f"{name}Option", deps))
        if objects:
            # An object shape a newer server adds still validates, as a plain dict.
            members.append("dict[str, Any]")
        choices = [member for member in dict.fromkeys(members) if member != "None"]
        union = " | ".join(choices)
        if len(choices) > 1:
            union = f'Annotated[{union}, Field(union_mode="left_to_right")]'
        if len(choices) < len(dict.fromkeys(members)):
            union += " | None"
        lines = [f"{name}: TypeAlias = {union}"]
        if schema.get("description"):
            lines += docstring(schema["description"], "")
        self.add(Unit(name, "alias", lines, deps))

    def emit_tagged_union(
        self,
        name: str,
        schema: dict[str, Any],
        variants: list[dict[str, Any]],
        tag: str,
        shared: dict[str, Any],
    ) -> None:
        members = []
        known = []
        variant_names: list[str] = []
        deps: set[str] = set()
        key = _alternatives_key(schema)
        for index, variant in enumerate(variants):
            (value,) = variant["properties"][tag]["enum"]
            # "slash" keeps apart tags that differ only in punctuation (openai/form, openaiForm).
            variant_name = class_name(
                variant.get("title") or f"{pascal_case(value.replace('/', ' slash '))}{name}"
            )
            merged = {
                "description": f"The ``{tag}: {string_literal(value)}`` variant of ``{name}``.",
                **variant,
            }
            merged["properties"] = {**shared.get("properties", {}), **variant["properties"]}
            merged["required"] = sorted(
                set(shared.get("required", [])) | set(variant.get("required", []))
            )
            with self.at(key, index):
                self.emit_model(variant_name, merged, tag=tag)
            members.append(f"Annotated[{variant_name}, Tag({string_literal(value)})]")
            known.append(value)
            variant_names.append(variant_name)
            deps.add(variant_name)
        self.tagged[name] = (tag, list(zip(known, variant_names, strict=True)))
        fallback = f"Unrecognized{name}"
        self.emit_model(
            fallback,
            {
                "description": f"A ``{name}`` whose ``{tag}`` this SDK does not know (sent by a"
                " newer server); fields it does not declare are kept as extra attributes.",
                "properties": {**shared.get("properties", {}), tag: {"type": "string"}},
                "required": [*shared.get("required", []), tag],
            },
        )
        tag_field = field_name(tag)
        members.append(f"Annotated[{fallback}, Tag(UNKNOWN_TAG)]")
        deps.add(fallback)
        known_set = ", ".join(string_literal(value) for value in known)
        lines = [f"{name}: TypeAlias = Annotated["]
        lines.append("    " + "\n    | ".join(members) + ",")
        lines.append(
            f"    Discriminator(open_tag({string_literal(tag)}, {string_literal(tag_field)},"
            f" frozenset({{{known_set}}}))),"
        )
        # A known variant whose shape changed (a newer server) falls back too, when decoding.
        lines.append(f"    WrapValidator(or_unrecognized({fallback})),")
        lines.append("]")
        if schema.get("description"):
            lines += docstring(schema["description"], "")
        self.add(Unit(name, "alias", lines, deps))

    def emit_model(self, name: str, schema: dict[str, Any], tag: str | None = None) -> None:
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        shared = {key: value for key, value in schema.items() if key not in ("oneOf", "anyOf")}
        found = _common_tag(alternatives) if alternatives is not None else None
        if alternatives is not None and found is not None:
            # Shared fields plus tagged variants, flat on the wire (ThreadItem).
            self.emit_tagged_union(name, schema, alternatives, found, shared)
            return
        properties = dict(schema.get("properties", {}))
        required = set(schema.get("required", []))
        for alt in alternatives or ():
            # Alternative field sets (an image given by url or by file id): all optional here.
            for wire, prop in alt.get("properties", {}).items():
                properties.setdefault(wire, prop)
        deps: set[str] = set()
        lines = class_lines(
            name, "CodexModel", schema.get("description") or f"The ``{name}`` protocol type."
        )
        infos: list[FieldInfo] = []
        used: set[str] = set()
        for wire in sorted(properties, key=lambda w: (w not in required, w)):
            prop = properties[wire]
            attr = field_name(wire)
            if attr in used:
                raise self.error(f"{name}: two properties map to attribute {attr}")
            used.add(attr)
            alias = _alias(wire, attr)
            if wire == tag:
                (value,) = prop["enum"]
                literal = string_literal(value)
                line = f"    {attr}: Literal[{literal}]" + (
                    f" = Field(default={literal}, alias={string_literal(wire)})"
                    if alias
                    else f" = {literal}"
                )
                lines.append(line)
                continue
            with self.at("properties", wire):
                annotation = self.annotation(prop, name + pascal_case(wire), deps)
            is_required = wire in required
            if not is_required and not _nullable(annotation):
                annotation += " | None"
            default = _default(prop, is_required, annotation)
            arguments = [default] if default else []
            if alias:
                arguments.append(f"alias={string_literal(wire)}")
            if _holds_secret(wire, annotation):
                # The value still goes out on the wire; only repr and str leave it out.
                arguments.append("repr=False")
            if arguments == [default] and default.startswith("default=") and "," not in default:
                line = f"    {attr}: {annotation} = {default.removeprefix('default=')}"
            elif arguments:
                line = f"    {attr}: {annotation} = Field({', '.join(arguments)})"
            else:
                line = f"    {attr}: {annotation}"
            lines.append(line)
            description = prop.get("description", "") if isinstance(prop, dict) else ""
            if description:
                lines += docstring(description, "    ")
            infos.append(FieldInfo(attr, wire, annotation, is_required, description))
        self.fields[name] = infos
        self.add(Unit(name, "model", lines, deps))

    # --- annotations ---

    def annotation(self, schema: Any, context: str, deps: set[str]) -> str:
        """The Python type of ``schema``; inline enums and objects become named classes."""
        if schema is True or schema == {} or _only_docs(schema):
            return "Any"
        if "$ref" in schema:
            name = _ref_name(schema)
            if name not in self.definitions:
                raise self.error(f"{context}: reference to unknown {name}")
            deps.add(name)
            return name
        if "allOf" in schema:
            if len(schema["allOf"]) != 1:
                raise self.error(f"{context}: allOf with several members")
            with self.at("allOf", 0):
                return self.annotation(schema["allOf"][0], context, deps)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives is not None and "properties" not in schema:
            rest = [alt for alt in alternatives if alt != {"type": "null"}]
            nullable = len(rest) != len(alternatives)
            if len(rest) == 1:
                with self.at(_alternatives_key(schema), alternatives.index(rest[0])):
                    inner = self.annotation(rest[0], context, deps)
            else:
                name = class_name(schema.get("title") or context)
                self.emit_definition(name, {**schema, "oneOf": rest, "anyOf": None})
                deps.add(name)
                inner = name
            return f"{inner} | None" if nullable and not _nullable(inner) else inner
        types = schema.get("type")
        if isinstance(types, list):
            parts = [
                "None" if t == "null" else self.annotation({**schema, "type": t}, context, deps)
                for t in types
            ]
            return " | ".join(dict.fromkeys(parts))
        if "enum" in schema:
            name = class_name(schema.get("title") or context)
            self.emit_enum(name, schema, [(value, None) for value in schema["enum"]])
            deps.add(name)
            return name
        if types in _PRIMITIVES:
            return _PRIMITIVES[types]
        if types == "null":
            return "None"
        if types == "array":
            items = schema.get("items", True)
            if isinstance(items, list):
                raise self.error(f"{context}: tuple-typed arrays are not supported")
            with self.at("items"):
                return f"list[{self.annotation(items, context + 'Item', deps)}]"
        if types == "object":
            if schema.get("properties") or "oneOf" in schema or "anyOf" in schema:
                name = class_name(schema.get("title") or context)
                self.emit_definition(name, schema)
                deps.add(name)
                return name
            values = schema.get("additionalProperties", True)
            if values is False:
                values = True
            with self.at("additionalProperties"):
                return f"dict[str, {self.annotation(values, context + 'Value', deps)}]"
        raise self.error(f"{context}: unsupported schema {json.dumps(schema, sort_keys=True)}")


def _only_docs(schema: dict[str, Any]) -> bool:
    return isinstance(schema, dict) and set(schema) <= {"description", "title", "default"}


def _alternatives_key(schema: dict[str, Any]) -> str:
    return "oneOf" if schema.get("oneOf") else "anyOf"


def _enum_kind(value: Any) -> str | None:
    """``"str"``, ``"int"``, ``"bool"`` or ``"null"``: the enum values the generator maps."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {str: "str", int: "int"}.get(type(value))


def _python_literal(value: str | int | bool | None) -> str:
    """The Python literal of a JSON enum value."""
    return repr(value) if isinstance(value, (bool, int)) or value is None else string_literal(value)


def _is_string_enum(schema: Any) -> bool:
    return isinstance(schema, dict) and "enum" in schema and schema.get("type") == "string"


def _first_key(schema: dict[str, Any]) -> str:
    required = schema.get("required") or sorted(schema.get("properties", {}))
    return str(required[0]) if required else "Object"


def _common_tag(variants: list[Any]) -> str | None:
    """The property every variant requires as a distinct one-value string enum, if any."""
    if not variants or not all(isinstance(v, dict) and "properties" in v for v in variants):
        return None
    candidates = set.intersection(*(set(v.get("required", [])) for v in variants))
    for candidate in sorted(candidates):
        values = []
        for variant in variants:
            prop = variant["properties"].get(candidate, {})
            if not (_is_string_enum(prop) and len(prop["enum"]) == 1):
                break
            values.append(prop["enum"][0])
        else:
            if len(set(values)) == len(values):
                return str(candidate)
    return None


def _nullable(annotation: str) -> bool:
    return annotation == "Any" or annotation.endswith("| None") or annotation == "None"


def _holds_secret(wire: str, annotation: str) -> bool:
    """Whether a field is text that ``_redact`` hides from logs: a string under a credential's
    key (``apiKey``), or a string map of an ``env``/``headers`` kind, whose every value it hides."""
    if is_secret_key(wire):
        return annotation in ("str", "str | None")
    return hides_values(wire) and annotation.startswith("dict[str, str")


def _alias(wire: str, attr: str) -> str:
    return "" if wire == attr else wire


def _default(prop: dict[str, Any], required: bool, annotation: str) -> str:
    """The ``Field`` default argument (``""`` for a required field without one)."""
    if not isinstance(prop, dict) or "default" not in prop:
        return "" if required else "default=None"
    value = prop["default"]
    if value is None:
        return "default=None"
    if value == []:
        return "default_factory=list"
    if value == {}:
        return "default_factory=dict"
    literal = json.dumps(value).replace("true", "True").replace("false", "False")
    if isinstance(value, (bool, int, float)) or annotation.startswith(("str", "list[str]")):
        return f"default={literal}"
    # An enum or model default: validated so the attribute holds the typed value, not raw JSON.
    return f"default={literal}, validate_default=True"


# --------------------------------------------------------------------------------------------
# Envelopes, registry data and request methods


@dataclass
class Protocol:
    """Everything the writers need: units plus the message registry."""

    units: dict[str, Unit]
    fields: dict[str, list[FieldInfo]]
    client_requests: list[tuple[str, str | None, str, str]]  # method, params, response, python
    server_notifications: list[tuple[str, str, str]]  # method, envelope, params
    server_requests: list[tuple[str, str, str, str, str]]  # + envelope
    client_notifications: list[tuple[str, str | None]]
    tagged: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)

    def messages(self) -> set[str]:
        """The params and result types of every method (what the registry names)."""
        found = {params for _, _, params in self.server_notifications}
        found |= {response for _, _, response, _ in self.client_requests}
        found |= {params for _, params, _, _ in self.client_requests if params is not None}
        return found | {name for _, *names, _, _ in self.server_requests for name in names}


def build_protocol(schema: Schema) -> Protocol:
    """Emit all models and the per-method envelopes; check every registry name resolves."""
    emitter = Emitter(schema.definitions)
    emitter.emit_all()
    units = emitter.units
    registry_types = {p for _, p in schema.client_requests if p is not None}
    registry_types |= {r for _, r in _client_request_responses(schema) if r is not None}
    registry_types |= {p for _, p in schema.server_notifications + schema.server_requests}
    registry_types |= {response_of(p) for _, p in schema.server_requests}
    for name in sorted(registry_types):
        if name in units and units[name].kind == "alias":
            emitter.wrap_in_root_model(name)
    python_names: dict[str, str] = {}
    client_requests = []
    for (method, params), (_, response) in zip(
        schema.client_requests, _client_request_responses(schema), strict=True
    ):
        python = snake_case(method)
        if python in python_names or not _IDENTIFIER.match(python) or keyword.iskeyword(python):
            raise SchemaError(f"{method}: python name {python} is taken or invalid")
        python_names[python] = method
        client_requests.append((method, params, str(response), python))

    notifications = []
    extra = schema.notification_extra
    for method, params in schema.server_notifications:
        envelope = f"{pascal_case(method)}ServerNotification"
        lines = class_lines(envelope, "CodexModel", f"The ``{method}`` notification.")
        lines.append(f"    method: Literal[{string_literal(method)}] = {string_literal(method)}")
        lines.append(f"    params: {params}")
        for wire in sorted(extra):
            attr = field_name(wire)
            annotation = emitter.annotation(extra[wire], envelope, set())
            lines.append(
                f"    {attr}: {annotation} | None = Field(default=None,"
                f" alias={string_literal(wire)})"
            )
            if extra[wire].get("description"):
                lines += docstring(extra[wire]["description"], "    ")
        emitter.add(Unit(envelope, "model", lines, {params}))
        notifications.append((method, envelope, params))
    notifications_union = _method_union(
        "ServerNotification",
        "A server notification, discriminated by ``method``.",
        [(method, envelope) for method, envelope, _ in notifications],
        "UnknownServerNotification",
    )
    emitter.add(notifications_union)

    server_requests = []
    for method, params in schema.server_requests:
        envelope = f"{pascal_case(method)}ServerRequest"
        response = response_of(params)
        if response not in units:
            raise SchemaError(f"server request {method}: no response type {response}")
        lines = class_lines(envelope, "CodexModel", f"The ``{method}`` request from the server.")
        lines.append("    id: RequestId")
        lines.append(f"    method: Literal[{string_literal(method)}] = {string_literal(method)}")
        lines.append(f"    params: {params}")
        emitter.add(Unit(envelope, "model", lines, {params, "RequestId"}))
        python = snake_case(method)
        server_requests.append((method, params, response, python, envelope))
    if len({python for *_, python, _ in server_requests}) != len(server_requests):
        raise SchemaError("two server requests share a python name")
    emitter.add(
        _method_union(
            "ServerRequest",
            "A server-to-client request, discriminated by ``method``.",
            [(method, envelope) for method, *_, envelope in server_requests],
            "UnknownServerRequest",
        )
    )
    for unit in units.values():
        missing = unit.deps - units.keys()
        if missing:
            raise SchemaError(f"{unit.name} refers to undefined {sorted(missing)}")
    for method, params, response, _ in client_requests:
        for type_name in (params, response):
            if type_name is not None and type_name not in units:
                raise SchemaError(f"{method}: {type_name} is not generated")
    return Protocol(
        units,
        emitter.fields,
        client_requests,
        notifications,
        server_requests,
        schema.client_notifications,
        emitter.tagged,
    )


def _method_union(name: str, doc: str, members: list[tuple[str, str]], unknown: str) -> Unit:
    tags = [f"Annotated[{env}, Tag({string_literal(m)})]" for m, env in members]
    tags.append(f"Annotated[{unknown}, Tag(UNKNOWN_TAG)]")
    known = ", ".join(string_literal(method) for method, _ in members)
    lines = [f"{name}: TypeAlias = Annotated["]
    lines.append("    " + "\n    | ".join(tags) + ",")
    lines.append(f'    Discriminator(open_tag("method", "method", frozenset({{{known}}}))),')
    lines.append("]")
    lines += docstring(doc, "")
    return Unit(name, "alias", lines, {env for _, env in members})


# --------------------------------------------------------------------------------------------
# Splitting into modules


METHOD_UNIONS = ("ServerNotification", "ServerRequest")


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative, visiting in the given order (so the result is stable)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component))
    return result


def _is_value(unit: Unit) -> bool:
    """An enum or an alias of literals or builtins: a value type that names nothing else."""
    return unit.kind == "enum" or (unit.kind == "alias" and not unit.deps)


def split_modules(
    units: dict[str, Unit], attached: dict[str, str], messages: set[str]
) -> dict[str, list[str]]:
    """Group units into modules whose imports form no cycle, each named after its headline.

    Returns each module's names, its headline first.

    Start from strongly connected components (types that refer to each other must share a
    module), then fold every group used by exactly one other group into that user: a type only
    ``Thread`` needs travels with ``Thread``, a type many messages share gets a module of its
    own. Importing one class thus loads its own module and the shared modules it needs, not all.
    A module's headline is the type its other types hang from (the group's root), and the
    module is named after it: ``Account`` lives in ``_account.py``.

    ``messages`` are the protocol's messages (request params and results, notification params):
    a reader looks them up by method, so each heads a module of its own, and a named schema type
    that only one message uses keeps its own module too (``Account``, used only by
    ``GetAccountResponse``), unless it is a mere value type of that message (an enum).
    ``attached`` names units (envelopes) that go with another unit (their params), and the
    method unions (which use everything) are left out of the folding.
    """
    names = sorted(name for name in units if name not in attached)
    unions = set(METHOD_UNIONS)
    edges = {name: sorted(units[name].deps - attached.keys()) for name in names}
    components = _strongly_connected(names, edges)
    # A cycle is headed by a schema definition among its members, not by an inline type.
    members = {min(c, key=lambda n: (units[n].owner != n, n)): set(c) for c in components}
    group_of = {member: head for head, group in members.items() for member in group}
    users: dict[str, set[str]] = {head: set() for head in members}
    uses: dict[str, set[str]] = {head: set() for head in members}
    for name in names:
        for dep in edges[name]:
            source, target = group_of[name], group_of[dep]
            if source != target and source not in unions:
                users[target].add(source)
                uses[source].add(target)
    changed = True
    while changed:
        changed = False
        for head in sorted(members):
            if len(users[head]) != 1:
                continue
            (owner,) = users[head]
            named = units[head].owner == head
            for_message = units[owner].owner in messages
            if named and (head in messages or (for_message and not _is_value(units[head]))):
                continue
            members[owner] |= members.pop(head)
            for target in uses.pop(head):
                users[target].discard(head)
                users[target].add(owner)
                uses[owner].add(target)
            uses[owner].discard(head)
            users.pop(head)
            changed = True
    for unit, owner in attached.items():
        members[next(h for h, group in members.items() if owner in group)].add(unit)
    modules: dict[str, list[str]] = {}
    for head, group in members.items():
        module = "_" + snake_case(head)
        if module in modules:
            raise SchemaError(f"module name {module} is taken twice")
        modules[module] = [head, *sorted(group - {head})]
    return dict(sorted(modules.items()))


# --------------------------------------------------------------------------------------------
# Writing files


def _header(runtime_version: str) -> str:
    return (
        "# Generated by scripts/sdk_codegen.py from the app-server schema of codex"
        f" {runtime_version}.\n"
        "# Do not edit: regenerate with `scripts/update_sdk_artifacts.py generate-types`.\n"
    )


def _order(names: list[str], units: dict[str, Unit]) -> list[str]:
    """Enums, classes, aliases in dependency order (alias values run at import), root models."""
    enums = [n for n in names if units[n].kind == "enum"]
    models = [n for n in names if units[n].kind == "model"]
    roots = [n for n in names if units[n].kind == "root"]
    aliases = [n for n in names if units[n].kind == "alias"]
    ordered: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for dep in sorted(units[name].deps):
            if dep in aliases:
                place(dep)
        ordered.append(name)

    for alias in aliases:
        place(alias)
    return enums + models + ordered + roots


def render_module(
    names: list[str], units: dict[str, Unit], module_of: dict[str, str], runtime: str
) -> str:
    """Source of one model module; ``names[0]`` is its headline, named first in its docstring."""
    body: list[str] = []
    for name in _order(names, units):
        body += ["", "", *units[name].lines]
    text = "\n".join(body)
    imports: dict[str, set[str]] = {}
    for name in names:
        for dep in units[name].deps:
            if module_of[dep] != module_of[name]:
                imports.setdefault(module_of[dep], set()).add(dep)

    def used(candidates: Iterable[str]) -> str:
        return ", ".join(n for n in candidates if re.search(rf"\b{n}\b", text))

    headline, *others = names
    if others:
        listed = ", ".join(f"``{name}``" for name in others)
        doc = f"The generated protocol type ``{headline}`` and the types that go with it.\n\n"
        doc += textwrap.fill(f"Also here: {listed}.", 99)
    else:
        doc = f"The generated protocol type ``{headline}``."
    lines = [
        _header(runtime) + "\n".join(docstring(doc, "")),
        "",
        "from __future__ import annotations",
        "",
    ]
    typing_names = used(("Annotated", "Any", "Literal", "TypeAlias"))
    if typing_names:
        lines += [f"from typing import {typing_names}", ""]
    pydantic_names = used(
        ("ConfigDict", "Discriminator", "Field", "RootModel", "Tag", "WrapValidator")
    )
    if pydantic_names:
        lines += [f"from pydantic import {pydantic_names}", ""]
    base_names = used(("UNKNOWN_TAG", *templates.BASE_PUBLIC, "open_tag", "or_unrecognized"))
    if base_names:
        lines.append(f"from ._base import {base_names}")
    for module in sorted(imports):
        lines.append(f"from .{module} import {', '.join(sorted(imports[module]))}")
    return "\n".join(lines) + "\n" + text + "\n"


def _type_checking_imports(names: Iterable[str], source: str) -> str:
    return "\n".join(f"    from {source} import {name} as {name}" for name in sorted(names))


def render_init(module_of: dict[str, str], runtime: str) -> tuple[str, str]:
    """``generated/__init__.py`` (lazy access to every name) and its ``.pyi`` (static names)."""
    source = _header(runtime) + templates.INIT_BODY.format(runtime=string_literal(runtime))
    stub_lines = [_header(runtime).rstrip("\n"), ""]
    stub_lines += [
        f"from .{module} import {name} as {name}" for name, module in sorted(module_of.items())
    ]
    # A literal __all__ in the stub: API tools (griffe) read which names are public from it.
    stub_lines += ["", "GENERATED_FROM_RUNTIME: str", "", "__all__ = ["]
    stub_lines += [f"    {string_literal(name)}," for name in sorted(module_of)]
    stub_lines += ["]", ""]
    return source, "\n".join(stub_lines)


def render_index(module_of: dict[str, str], runtime: str) -> str:
    """Source of ``generated/_index.py``: which module defines which name."""
    entries = "\n".join(
        f"    {string_literal(name)}: {string_literal(module)},"
        for name, module in sorted(module_of.items())
    )
    return (
        _header(runtime)
        + '"""Where each generated name lives, for lazy imports (no pydantic here)."""\n\n'
        + f"MODULE_OF: dict[str, str] = {{\n{entries}\n}}\n"
    )


def render_registry(protocol: Protocol, runtime: str) -> str:
    """Source of ``generated/registry.py``: method tables and the envelope parsers."""

    def spec(*values: str | None) -> str:
        return ", ".join("None" if value is None else string_literal(value) for value in values)

    client = "\n".join(
        f"    {string_literal(m)}: RequestSpec({spec(p, r, py)}),"
        for m, p, r, py in protocol.client_requests
    )
    notifications = "\n".join(
        f"    {string_literal(m)}: NotificationSpec({spec(e, p)}),"
        for m, e, p in protocol.server_notifications
    )
    server = "\n".join(
        f"    {string_literal(m)}: RequestSpec({spec(p, r, py)}),"
        for m, p, r, py, _ in protocol.server_requests
    )
    client_notifications = "\n".join(
        f"    {string_literal(m)}: ClientNotificationSpec({spec(p)}),"
        for m, p in protocol.client_notifications
    )
    envelopes = "\n".join(
        f"    {string_literal(m)}: {string_literal(e)}," for m, *_, e in protocol.server_requests
    )
    return _header(runtime) + templates.REGISTRY_BODY.format(
        client_requests=client,
        server_notifications=notifications,
        server_requests=server,
        client_notifications=client_notifications,
        request_envelopes=envelopes,
    )


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    match = re.match(r"(.+?\.)(\s|$)", flat)
    return match.group(1) if match else flat


def _takes_wire_string(protocol: Protocol, name: str) -> bool:
    """Whether type ``name`` is an enum, or an alias with one among its alternatives."""
    unit = protocol.units.get(name)
    if unit is None:
        return False
    if unit.kind == "enum":
        return True
    return unit.kind == "alias" and any(_takes_wire_string(protocol, dep) for dep in unit.deps)


def _argument_annotation(protocol: Protocol, info: FieldInfo) -> str:
    """A request argument's annotation; an enum also takes its wire string (``"never"``).

    The client validates every argument into the params model, so a plain string becomes the
    enum member there; without this, typed code could not write ``approval_policy="never"``.
    """
    bare = info.annotation.removesuffix(" | None")
    if re.fullmatch(r"[A-Z][A-Za-z0-9]*", bare) and _takes_wire_string(protocol, bare):
        optional = " | None" if bare != info.annotation else ""
        return f"{bare} | str{optional}"
    return info.annotation


def _request_method(
    protocol: Protocol, method: str, params: str | None, response: str, python: str, is_async: bool
) -> tuple[list[str], set[str]]:
    names = {response}
    body: list[str] = []
    doc = [f"Call ``{method}``."]
    description = _class_description(protocol, params)
    if description:
        doc += ["", description]
    if params is not None and params not in protocol.fields:
        return _union_request_method(protocol, method, params, response, python, is_async, doc)
    fields = protocol.fields.get(params, []) if params else []
    arguments = ["self", *(["*"] if fields else [])]
    for info in sorted(fields, key=lambda f: not f.required):
        if info.name in ("self", "params", "result"):
            raise SchemaError(f"{method}: a parameter is called {info.name}")
        default = "" if info.required else " = None"
        arguments.append(f"{info.name}: {_argument_annotation(protocol, info)}{default}")
        names |= set(re.findall(r"\b[A-Z][A-Za-z0-9]*\b", info.annotation)) - {"Any", "None"}
    if fields:
        doc += ["", "Args:"]
        for info in fields:
            summary = (
                _first_sentence(info.description)
                if info.description
                else f"Sent as ``{info.wire}``."
            )
            doc.append(f"    {info.name}: {summary}")
    required = ", ".join(f"{string_literal(f.name)}: {f.name}" for f in fields if f.required)
    optional = [f.name for f in fields if not f.required]
    payload = f"{{{required}}}"
    if optional:
        # None means "not given": the field is left out of the request instead of sent as
        # null. Statements, not a helper taking keywords: a cheap call's typing is a
        # fifth of its cost, and a keyword call and a comprehension were a sixth of that.
        body = [f"        params: dict[str, Any] = {payload}"]
        for name in optional:
            body += [
                f"        if {name} is not None:",
                f"            params[{string_literal(name)}] = {name}",
            ]
        payload = "params"
    call = f"self._call({string_literal(method)}, {payload})"
    if is_async:
        call = f"await {call}"
    keyword_def = "async def" if is_async else "def"
    if len(arguments) > 2:
        listed = "".join(f"\n        {argument}," for argument in arguments)
        lines = ["", f"    {keyword_def} {python}({listed}\n    ) -> {response}:"]
    else:
        lines = ["", f"    {keyword_def} {python}({', '.join(arguments)}) -> {response}:"]
    lines += docstring("\n".join(doc), "        ")
    lines += body
    # An annotated name, not typing.cast: the annotation costs nothing at run time.
    lines += [f"        result: {response} = {call}", "        return result"]
    return lines, names


def _union_request_method(
    protocol: Protocol,
    method: str,
    params: str,
    response: str,
    python: str,
    is_async: bool,
    doc: list[str],
) -> tuple[list[str], set[str]]:
    """A method whose params are one of several shapes: a shape's model (or its dict) given
    positionally, or, for a tagged union, one overload of keywords per shape (tag first)."""
    shape = f"{params}Shape"
    names = {response, shape}
    keyword_def = "async def" if is_async else "def"
    returns = f") -> {response}:"
    lines = [
        "",
        "    @overload",
        f"    {keyword_def} {python}(",
        f"        self, params: {shape} | dict[str, Any], /",
        f"    {returns} ...",
    ]
    tag_arg = ""
    if params in protocol.tagged:
        tag, variants = protocol.tagged[params]
        tag_attr = field_name(tag)
        tag_arg = f", ({string_literal(tag_attr)}, {string_literal(tag)})"
        doc += [
            "",
            f"Give one shape's model (or dict), or its fields as keywords, ``{tag_attr}`` first:",
        ]
        for value, variant in variants:
            infos = sorted(protocol.fields[variant], key=lambda f: not f.required)
            arguments = [f"{tag_attr}: Literal[{string_literal(value)}]"]
            for info in infos:
                if info.name in ("self", "params", "result", tag_attr):
                    raise SchemaError(f"{method}: a parameter is called {info.name}")
                default = "" if info.required else " = None"
                arguments.append(f"{info.name}: {_argument_annotation(protocol, info)}{default}")
                names |= set(re.findall(r"\b[A-Z][A-Za-z0-9]*\b", info.annotation)) - {
                    "Any",
                    "None",
                }
            listed = "".join(
                f"\n        {argument}," for argument in ["self", "/", "*", *arguments]
            )
            lines += [
                "",
                "    @overload",
                f"    {keyword_def} {python}({listed}",
                f"    {returns} ...",
            ]
            doc.append(
                f"``{tag_attr}={string_literal(value)}`` ({variant}): "
                + (", ".join(f"``{i.name}``" for i in infos) or "no other field")
                + "."
            )
    lines += [
        "",
        f"    {keyword_def} {python}(",
        f"        self, params: {shape} | dict[str, Any] | None = None, /, **fields: Any",
        f"    {returns}",
    ]
    lines += docstring("\n".join(doc), "        ")
    call = f"self._call({string_literal(method)}, _union_params(params, fields{tag_arg}))"
    if is_async:
        call = f"await {call}"
    lines += [f"        result: {response} = {call}", "        return result"]
    return lines, names


def _class_description(protocol: Protocol, name: str | None) -> str:
    """The schema description of a generated type, flattened to one paragraph ("" if none)."""
    if name is None:
        return ""
    match = re.search(r'"""(.*?)"""', "\n".join(protocol.units[name].lines), re.S)
    if not match or match.group(1).strip() in (
        f"The ``{name}`` protocol type.",
        f"One of the shapes of ``{name}Shape``, held in ``root``.",
    ):
        return ""
    return " ".join(match.group(1).split())


def render_methods(protocol: Protocol, runtime: str) -> str:
    """Source of ``generated/methods.py``: the sync and async request-method mixins."""
    names: set[str] = set()
    sync_lines: list[str] = []
    async_lines: list[str] = []
    for method, params, response, python in protocol.client_requests:
        lines, used = _request_method(protocol, method, params, response, python, False)
        sync_lines += lines
        names |= used
        lines, _ = _request_method(protocol, method, params, response, python, True)
        async_lines += lines
    return _header(runtime) + templates.METHODS_BODY.format(
        type_checking_imports=_type_checking_imports(names, "."),
        sync_methods="\n".join(sync_lines),
        async_methods="\n".join(async_lines),
    )


# --------------------------------------------------------------------------------------------
# Entry points


def render(schema: Schema, runtime_version: str) -> dict[str, str]:
    """All generated files, by relative path, for ``schema``."""
    protocol = build_protocol(schema)
    attached = {envelope: params for _, envelope, params in protocol.server_notifications}
    attached |= {envelope: params for _, params, _, _, envelope in protocol.server_requests}
    modules = split_modules(protocol.units, attached, protocol.messages())
    module_of = {name: module for module, names in modules.items() for name in names}
    for name in templates.BASE_PUBLIC:
        module_of[name] = "_base"
    files = {
        f"{module}.py": render_module(names, protocol.units, module_of, runtime_version)
        for module, names in modules.items()
    }
    files["_base.py"] = _header(runtime_version) + templates.BASE_MODULE
    files["_index.py"] = render_index(module_of, runtime_version)
    files["__init__.py"], files["__init__.pyi"] = render_init(module_of, runtime_version)
    files["registry.py"] = render_registry(protocol, runtime_version)
    files["methods.py"] = render_methods(protocol, runtime_version)
    return dict(sorted(files.items()))


def dump_schema(codex_bin: Path, out_dir: Path) -> None:
    """Run the binary's schema export into ``out_dir``."""
    command = [str(codex_bin), "app-server", "generate-json-schema", "--out", str(out_dir)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise SchemaError(f"cannot run {codex_bin}: {error}") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SchemaError(f"{codex_bin} app-server generate-json-schema failed: {last}")


def write_tree(files: dict[str, str], target: Path) -> None:
    """Replace ``target`` with exactly ``files`` (stale modules from older schemas go away)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for relative, text in files.items():
        (target / relative).write_text(text, encoding="utf-8", newline="\n")


def generate_types(codex_bin: Path, runtime_version: str, target: Path = GENERATED_DIR) -> None:
    """Regenerate ``codex_app_server/generated/`` (or ``target``) from ``codex_bin``'s schema."""
    with tempfile.TemporaryDirectory(prefix="codex-schema-") as tmp:
        dump_schema(codex_bin, Path(tmp))
        files = render(read_schema(Path(tmp)), runtime_version)
    write_tree(files, target)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``sdk_codegen.py --codex-bin PATH --runtime-version V [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codex-bin", type=Path, required=True)
    parser.add_argument("--runtime-version", required=True)
    parser.add_argument("--out", type=Path, default=GENERATED_DIR)
    args = parser.parse_args(argv)
    try:
        generate_types(args.codex_bin, args.runtime_version, args.out)
    except SchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
