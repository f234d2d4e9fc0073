"""A griffe extension for the documentation site: the code's docstrings as the reference shows them.

The package documents itself the Sphinx way, which reads well in ``help()`` and editors:
cross-references are roles (``:class:`~codex_app_server.CodexConfig```) and attributes are
documented by ``#:`` comments above them. mkdocstrings knows neither, so this extension
turns a role naming a public name (``codex_app_server.X`` or ``codex_app_server.testing.X``)
into a link to its entry, any other role into code, and ``#:`` comments into the attribute's
docstring. A link to a name that is not in the reference fails the strict build.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?P<role>class|func|meth|attr|data|mod|exc|obj):`(?P<short>~?)(?P<target>[^`]+)`"
)
PUBLIC = re.compile(r"codex_app_server(?:\.testing)?\.[A-Za-z_]\w*")
COMMENT = re.compile(r"^\s*#:\s?(.*)$")


def _reference(match: re.Match[str]) -> str:
    target = match["target"].lstrip(".")
    shown = target.rsplit(".", 1)[-1] if match["short"] else target
    if match["role"] in ("func", "meth"):
        shown += "()"
    # Modules have no entry of their own in the reference; public names do.
    if match["role"] != "mod" and PUBLIC.fullmatch(target):
        return f"[`{shown}`][{target}]"
    return f"`{shown}`"


@cache
def _source(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def markdown(docstring: str) -> str:
    """A docstring with its Sphinx roles as Markdown links or code."""
    return ROLE.sub(_reference, docstring)


class SphinxDocstrings(griffe.Extension):
    """Rewrite roles and pick up ``#:`` attribute comments (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called by griffe for every object it loads."""
        if obj.docstring is None and obj.is_attribute and obj.lineno is not None:
            comments: list[str] = []
            lines = _source(obj.filepath) if isinstance(obj.filepath, Path) else None
            index = obj.lineno - 2
            while lines is not None and index >= 0 and (found := COMMENT.match(lines[index])):
                comments.insert(0, found.group(1))
                index -= 1
            if comments:
                obj.docstring = griffe.Docstring("\n".join(comments), parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
