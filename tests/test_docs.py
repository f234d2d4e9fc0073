"""The docs match the code: every public name is in the API reference, and nothing else is.

docs/api-reference.md has one ``## `module``` section per public module and one ``### `Name```
heading per public name. A signature block under a heading and the ``- `member(...)``` bullets
that list a class's methods are checked against the code too, so a renamed parameter or a
removed method shows up here. Code blocks in every Markdown document may import only names
that exist.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "api-reference.md"
DOCUMENTS = sorted(
    [
        *ROOT.glob("*.md"),
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("packages/*/README.md"),
        *ROOT.glob("examples/*.md"),
    ]
)
MODULES = ("codex_app_server", "codex_app_server.testing") + (
    ("codex_app_server.ray",) if importlib.util.find_spec("ray") else ()
)

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
MEMBER = re.compile(r"^- `([^`]+)`", re.M)
IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(codex_app_server[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]+)"
    r"|import[ \t]+(codex_app_server[\w.]*))",
    re.M,
)


@dataclass
class Entry:
    """One ``### `Name``` section of the reference."""

    module: str
    name: str
    text: str


def reference_entries() -> list[Entry]:
    """Every documented name, with the text of its section."""
    entries: list[Entry] = []
    module = None
    for block in re.split(r"^(?=#{2,3} )", REFERENCE.read_text(encoding="utf-8"), flags=re.M):
        heading = re.match(r"(#{2,3}) `([\w.]+)`", block)
        if heading is None:
            if block.startswith("## "):
                module = None
            continue
        if heading.group(1) == "##":
            module = heading.group(2) if heading.group(2) in MODULES else None
        elif module is not None:
            entries.append(Entry(module, heading.group(2), block))
    return entries


def split_call(text: str) -> tuple[str, str]:
    """``("name", "(a, b=())")`` from ``name(a, b=()) -> R``; the signature is ``""`` if none."""
    name = re.match(r"(?:async )?(?:def |class )?(\w+)", text)
    if name is None:
        return "", ""
    rest, depth = text[name.end() :], 0
    if not rest.startswith("("):
        return name.group(1), ""
    for index, char in enumerate(rest):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(char, 0)
        if depth == 0:
            return name.group(1), rest[: index + 1]
    raise ValueError(f"unbalanced signature: {text!r}")


def parameters(signature: str) -> list[str]:
    """The parameter names, in order, of ``(a, *, b=1, **c)`` (annotations allowed)."""
    tree = ast.parse(f"def _{signature}: ...")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    args = function.args
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    names += [f"*{args.vararg.arg}"] if args.vararg else (["*"] if args.kwonlyargs else [])
    names += [a.arg for a in args.kwonlyargs]
    names += [f"**{args.kwarg.arg}"] if args.kwarg else []
    return names


def actual_parameters(obj: Any) -> list[str]:
    """The same list for a callable, without ``self``."""
    names: list[str] = []
    star = False
    for parameter in inspect.signature(obj).parameters.values():
        if parameter.name == "_ray_trace_ctx":
            continue  # Ray adds it to the methods of a class it makes an actor of
        if parameter.kind is parameter.VAR_POSITIONAL:
            names.append(f"*{parameter.name}")
            star = True
        elif parameter.kind is parameter.VAR_KEYWORD:
            names.append(f"**{parameter.name}")
        else:
            if parameter.kind is parameter.KEYWORD_ONLY and not star:
                names.append("*")
                star = True
            names.append(parameter.name)
    return names


def test_every_public_name_is_documented_and_nothing_else() -> None:
    entries = reference_entries()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        documented = [e.name for e in entries if e.module == module_name]
        assert len(documented) == len(set(documented)), f"{module_name}: a name is documented twice"
        missing = sorted(set(module.__all__) - set(documented))
        stale = sorted(set(documented) - set(module.__all__))
        assert not missing, f"not in docs/api-reference.md under {module_name}: {missing}"
        assert not stale, f"docs/api-reference.md documents names {module_name} lacks: {stale}"


def signature_cases() -> list[tuple[str, str, str]]:
    """(what, documented signature, module:name[.member]) for every checked signature."""
    cases = []
    for entry in reference_entries():
        fence = FENCE.search(entry.text)
        if fence is not None and fence.group(1) == "python":
            name, signature = split_call(fence.group(2).strip())
            if name == entry.name and signature:
                cases.append((entry.name, signature, f"{entry.module}:{entry.name}"))
        for member in MEMBER.finditer(entry.text):
            name, signature = split_call(member.group(1))
            target = f"{entry.module}:{entry.name}.{name}"
            cases.append((f"{entry.name}.{name}", signature, target))
    return cases


def resolve(target: str) -> Any:
    """The object ``module:Name.member`` names; an instance attribute resolves to ``None``."""
    module_name, _, path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in path.split("."):
        if not inspect.isclass(obj):
            obj = getattr(obj, part)
            continue
        try:
            obj = inspect.getattr_static(obj, part)
        except AttributeError:
            # Set in __init__ (``self.info = info``) or a dataclass field without a default.
            fields = getattr(obj, "__dataclass_fields__", {})
            if part not in fields and not re.search(
                rf"self\.{part}\b\s*[:=]", inspect.getsource(obj)
            ):
                raise
            obj = None
    return obj


@pytest.mark.parametrize(("what", "documented", "target"), signature_cases())
def test_documented_signatures_match_the_code(what: str, documented: str, target: str) -> None:
    try:
        obj = resolve(target)
    except AttributeError:
        pytest.fail(f"docs/api-reference.md describes {what}, which does not exist")
    if not documented:
        return  # an attribute or property: existing is all there is to check
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    actual = actual_parameters(obj)
    if actual[:1] == ["self"]:
        actual = actual[1:]
    assert parameters(documented) == actual, f"{what}{documented} in the reference"


def test_the_reference_checks_signatures() -> None:
    # Guard the parsing above: most documented callables carry a checked signature.
    checked = {what for what, documented, _ in signature_cases() if documented}
    assert {"Codex", "Thread.turn", "TurnHandle.run", "retry_on_overload"} <= checked
    assert {"ScriptedModelServer", "write_codex_home", "exec_command"} <= checked


def imports(document: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import of ``codex_app_server`` in a Python code block."""
    found: list[tuple[str, str | None]] = []
    for fence in FENCE.finditer(document.read_text(encoding="utf-8")):
        if fence.group(1) not in ("python", "py", "pycon"):
            continue
        for match in IMPORT.finditer(fence.group(2)):
            module, names, plain = match.groups()
            if plain:
                found.append((plain, None))
                continue
            for name in names.strip("()").split(","):
                name = name.split("#")[0].split(" as ")[0].strip()
                if name:
                    found.append((module, name))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_import_only_what_exists(document: Path) -> None:
    for module_name, name in imports(document):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            pytest.fail(f"{document.name} imports {module_name}, which does not exist")
        if name is not None and name != "*":
            assert hasattr(module, name), f"{document.name}: {module_name} has no {name}"


def test_the_import_check_sees_the_guides() -> None:
    guide = ROOT / "docs" / "getting-started.md"
    assert ("codex_app_server", "Codex") in imports(guide)
