"""The documentation site builds strictly: no broken link, no missing reference, no stray page."""

from __future__ import annotations

import os
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
