"""The documentation site builds strictly: no broken link, no missing reference, no stray page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as ``nox -s docs`` builds it (``--strict``), into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def test_every_example_and_the_notebook_are_pages(site: Path) -> None:
    for example in sorted((ROOT / "examples").glob("*.py")):
        page = site / "examples" / example.stem / "index.html"
        assert page.is_file(), example.name
        # The page shows the file itself, not a copy that could go stale.
        first_code_line = next(
            line for line in example.read_text(encoding="utf-8").splitlines() if "import" in line
        )
        assert first_code_line.split()[-1] in page.read_text(encoding="utf-8")
    assert (site / "examples" / "index.html").is_file()
    assert "A walk through the Codex app-server SDK" in (
        site / "walkthrough" / "index.html"
    ).read_text(encoding="utf-8")


def test_repository_links_lead_to_site_pages(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="examples/"' in index
    assert 'href="walkthrough/"' in index
    assert "../examples/README.md" not in index


def test_the_api_reference_has_an_entry_for_every_public_name(site: Path) -> None:
    import codex_app_server
    import codex_app_server.testing

    page = (site / "api-reference" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([\w.]+)"', page))
    for module in (codex_app_server, codex_app_server.testing):
        missing = [name for name in module.__all__ if f"{module.__name__}.{name}" not in anchors]
        assert missing == [], f"{module.__name__}: no reference entry for {missing}"
    # The code's Sphinx roles become links to the entries they name, not literal text.
    assert ":class:" not in page
    assert 'href="#codex_app_server.CodexConfig"' in page


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s+([\w/.-]+\.md)$", config, re.MULTILINE))
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert sorted(pages - listed) == [], "docs pages missing from mkdocs.yml's nav"
