"""What changed between two generated model trees: the protocol summary of a runtime bump.

``snapshot(folder)`` reads a ``generated/`` folder without importing it (``ast`` only): the
methods of the registry, every model's fields with their annotations, every alias, and the
public names. ``summarize`` turns two snapshots into the Markdown that the bump prints and
writes into CHANGELOG.md. ``api_breaks`` asks griffe (a dev dependency, imported only there)
which public names broke between two source trees.

    python scripts/protocol_diff.py OLD_GENERATED NEW_GENERATED
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: The registry tables whose keys are the protocol's methods, and how the summary names them.
TABLES = {
    "CLIENT_REQUESTS": "client requests",
    "SERVER_NOTIFICATIONS": "server notifications",
    "SERVER_REQUESTS": "server requests",
}


@dataclass
class Snapshot:
    """The protocol as one generated tree has it."""

    runtime: str
    methods: dict[str, set[str]] = field(default_factory=dict)
    #: Class name -> {field: annotation}; an alias maps to {"=": its value}.
    models: dict[str, dict[str, str]] = field(default_factory=dict)
    public: set[str] = field(default_factory=set)


def snapshot(generated: Path) -> Snapshot:
    """Read the registry, the models and the public names of a ``generated/`` folder."""
    init = (generated / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^GENERATED_FROM_RUNTIME = "([^"]+)"$', init, re.MULTILINE)
    result = Snapshot(found.group(1) if found else "?")
    registry = ast.parse((generated / "registry.py").read_text(encoding="utf-8"))
    for node in registry.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id in TABLES
            and isinstance(node.value, ast.Dict)
        ):
            result.methods[node.target.id] = {
                key.value
                for key in node.value.keys
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            }
    for module in sorted(set(generated.glob("_*.py")) - {generated / "_index.py"}):
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                result.models[node.name] = {
                    item.target.id: ast.unparse(item.annotation)
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                } | {
                    f"{target.id} =": ast.unparse(item.value)
                    for item in node.body
                    if isinstance(item, ast.Assign)
                    for target in item.targets
                    if isinstance(target, ast.Name) and target.id != "model_config"
                }
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                result.models[node.target.id] = {"=": ast.unparse(node.value)}
    index = ast.parse((generated / "_index.py").read_text(encoding="utf-8"))
    for node in index.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict):
            result.public = {
                key.value
                for key in node.value.keys
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            }
    return result


def _changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    if "=" in old or "=" in new:
        return [] if old == new else ["definition changed"]
    changes = [f"`{name}` added" for name in sorted(new.keys() - old.keys())]
    changes += [f"`{name}` removed" for name in sorted(old.keys() - new.keys())]
    changes += [
        f"`{name}`: `{old[name]}` -> `{new[name]}`"
        for name in sorted(old.keys() & new.keys())
        if old[name] != new[name]
    ]
    return changes


def summarize(old: Snapshot, new: Snapshot, breaks: list[str] | None = None) -> str:
    """The Markdown summary of what changed from ``old`` to ``new``."""
    lines = [f"Codex runtime {old.runtime} -> {new.runtime}."]
    for table, label in TABLES.items():
        before, after = old.methods.get(table, set()), new.methods.get(table, set())
        added, removed = sorted(after - before), sorted(before - after)
        counts = f"{len(before)} -> {len(after)}" if before != after else f"{len(after)}"
        lines.append(f"- {label.capitalize()} ({counts}):" if added or removed else "")
        if not (added or removed):
            lines[-1] = f"- {label.capitalize()}: unchanged ({counts})."
            continue
        lines += [f"  - added `{method}`" for method in added]
        lines += [f"  - removed `{method}`" for method in removed]
    added = sorted(new.public - old.public)
    removed = sorted(old.public - new.public)
    lines.append(f"- Public names: {len(old.public)} -> {len(new.public)}.")
    if added:
        lines.append("  - added: " + ", ".join(f"`{name}`" for name in added))
    if removed:
        lines.append("  - removed: " + ", ".join(f"`{name}`" for name in removed))
    changed = {
        name: changes
        for name in sorted(old.models.keys() & new.models.keys())
        if (changes := _changes(old.models[name], new.models[name]))
    }
    lines.append(f"- Models changed: {len(changed)}." if changed else "- Models changed: none.")
    lines += [f"  - `{name}`: {'; '.join(changes)}" for name, changes in changed.items()]
    if breaks is not None:
        lines.append(f"- Public API breaks (griffe): {len(breaks)}." if breaks else "")
        if not breaks:
            lines[-1] = "- Public API breaks (griffe): none."
        lines += [f"  - {line}" for line in breaks]
    return "\n".join(lines)


def api_breaks(old_src: Path, new_src: Path, package: str = "codex_app_server") -> list[str]:
    """Breaking changes of ``package``'s public API from ``old_src`` to ``new_src`` (griffe).

    Each is one line: ``<object>: <what broke>``. Needs griffe (a dev dependency).
    """
    try:
        import griffe  # a dev tool: the bump and CI have it, the SDK does not need it
    except ImportError:
        raise RuntimeError(
            "griffe is not installed: pip install griffe (a dev dependency)"
        ) from None

    old = griffe.load(package, search_paths=[str(old_src)], allow_inspection=False)
    new = griffe.load(package, search_paths=[str(new_src)], allow_inspection=False)
    found = []
    for breakage in griffe.find_breaking_changes(old, new):
        text = breakage.explain()  # one line per breakage
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # no colours in a changelog
        found.append(text.split(": ", 1)[1] if ": " in text else text)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    """Print the summary between two generated folders."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: protocol_diff.py OLD_GENERATED NEW_GENERATED", file=sys.stderr)
        return 2
    print(summarize(snapshot(Path(args[0])), snapshot(Path(args[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
