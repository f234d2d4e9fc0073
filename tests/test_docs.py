"""The docs match the code: every public name is in the API reference, and nothing else is.

docs/api-reference.md is generated from the code by mkdocstrings: one ``::: module.Name``
directive per public name, under the ``## `module``` section of its module, so its signatures
and text are the code's own (tests/test_docs_site.py builds it strictly). Code blocks in every
Markdown document may import only names that exist.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

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
DIRECTIVE = re.compile(r"^::: ([\w.]+)$", re.M)
IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(codex_app_server[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]+)"
    r"|import[ \t]+(codex_app_server[\w.]*))",
    re.M,
)


def documented() -> dict[str, list[str]]:
    """The names each module's section of the reference renders, in order."""
    found: dict[str, list[str]] = {module: [] for module in MODULES}
    for section in re.split(r"^(?=## )", REFERENCE.read_text(encoding="utf-8"), flags=re.M):
        heading = re.match(r"## `([\w.]+)`", section)
        if heading is None or heading.group(1) not in MODULES:
            continue
        module = heading.group(1)
        for target in DIRECTIVE.findall(section):
            owner, _, name = target.rpartition(".")
            assert owner == module, f"{target} is listed under {module}"
            found[module].append(name)
    return found


def test_every_public_name_is_documented_and_nothing_else() -> None:
    names = documented()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        listed = names[module_name]
        assert len(listed) == len(set(listed)), f"{module_name}: a name is documented twice"
        missing = sorted(set(module.__all__) - set(listed))
        stale = sorted(set(listed) - set(module.__all__))
        assert not missing, f"not in docs/api-reference.md under {module_name}: {missing}"
        assert not stale, f"docs/api-reference.md documents names {module_name} lacks: {stale}"


def test_the_reference_is_generated_from_the_code() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    # No hand-written signatures or member lists that could drift from the code.
    assert "```python" not in text
    assert not re.search(r"^### ", text, re.M)
    assert sum(len(names) for names in documented().values()) > 90


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
