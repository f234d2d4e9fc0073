"""MkDocs hooks: the runnable examples and the notebook become pages of the documentation site.

The Markdown in ``docs/`` links them where they live in the repository (``../examples/...``,
``../notebooks/...``), which reads right on a code host; on the site those links lead to the
pages written here from the very same files, so the site never shows a stale copy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"

#: Repository links in docs/ pages, and where they lead on the site.
_LINKS = (
    (re.compile(r"\]\(\.\./examples/(?:README\.md)?\)"), "](examples/index.md)"),
    (re.compile(r"\]\(\.\./examples/([\w-]+)\.py\)"), r"](examples/\1.md)"),
    (re.compile(r"\]\(\.\./notebooks/walkthrough\.ipynb\)"), "](walkthrough.md)"),
)


def _example_page(path: Path) -> str:
    return f"# `{path.name}`\n\n```python\n{path.read_text(encoding='utf-8').rstrip()}\n```\n"


def _examples_index() -> str:
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"\]\(([\w-]+)\.py\)", r"](\1.md)", text)
    return re.sub(r"\]\(\.\./docs/([\w/-]+\.md)\)", r"](../\1)", text)


def _notebook_page() -> str:
    # An .ipynb file is JSON: cells with a type and their source as a list of lines.
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(source)
        elif cell["cell_type"] == "code":
            parts.append(f"```python\n{source}\n```")
    return "\n\n".join(parts) + "\n"


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    """Add a page per example, the examples' index and the rendered notebook."""
    pages = {"examples/index.md": _examples_index(), "walkthrough.md": _notebook_page()}
    for path in sorted(EXAMPLES.glob("*.py")):
        pages[f"examples/{path.stem}.md"] = _example_page(path)
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, **_: Any) -> str:
    """Point repository links to examples and the notebook at their pages on the site."""
    for pattern, replacement in _LINKS:
        markdown = pattern.sub(replacement, markdown)
    return markdown
