"""Only the pin names the Codex runtime version; figures quoted from the generated code are fresh.

A bump (``update_sdk_artifacts.py bump V``) changes the pin, regenerates the models and rewrites
what is derived from them; these tests fail when a doc, example, test or benchmark still names a
literal Codex version or quotes a figure that the generated package no longer gives.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import update_sdk_artifacts as artifacts  # noqa: E402  (needs the sys.path entry above)

#: Codex releases are 0.1xx.y; a literal one anywhere below goes stale with the next bump.
CODEX_VERSION = re.compile(r"(?<![\w.])0\.1\d\d\.\d+(?![\w])")
#: Literal versions that are not the runtime's, each with why it may stay.
ALLOWED = {
    "0.100.0": "the fake server's deliberately outdated version (older than any pin)",
}
#: Versions of other distributions, recognised by the name written before them.
OTHER_DISTRIBUTION = re.compile(r"openai[-_]codex(?:-cli-bin)?[\s=`-]*(?:version\s*)?$", re.I)
SCANNED = (
    "README.md",
    "packages/codex-app-server-sdk/README.md",
    "packages/codex-cli-bin/README.md",
    "docs/**/*.md",
    "examples/**/*.py",
    "examples/**/*.md",
    "notebooks/**/*.ipynb",
    "tests/**/*.py",
    "benchmarks/**/*.py",
)


def stray_versions(text: str) -> list[str]:
    """The literal Codex versions in ``text`` that neither ALLOWED nor another name explains."""
    return [
        match.group(0)
        for match in CODEX_VERSION.finditer(text)
        if match.group(0) not in ALLOWED
        and not OTHER_DISTRIBUTION.search(text[max(0, match.start() - 40) : match.start()])
    ]


def test_nothing_but_the_pin_names_a_codex_version() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {version}"
        for pattern in SCANNED
        for path in sorted(ROOT.glob(pattern))
        if path.is_file() and path != Path(__file__).resolve()  # its samples below are on purpose
        for text in [path.read_text(encoding="utf-8")]
        for version in stray_versions(text)
    ]
    assert not found, (
        "literal Codex versions go stale with the next bump: say 'the pinned Codex' in prose, "
        "`V` in sample output, or derive it from RUNTIME_VERSION in code\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("observed with codex 0.169.0 today", ["0.169.0"]),
        ("`codex-cli 0.171.2`", ["0.171.2"]),
        ("the fake says 0.100.0", []),
        ("the official openai-codex 0.163.0 exports", []),
        ("pydantic 2.11.0 and python 3.10.4", []),
        ("version 10.169.0 of something else", []),
    ],
)
def test_the_version_scan_tells_a_codex_version_from_others(text: str, found: list[str]) -> None:
    assert stray_versions(text) == found


def test_figures_quoted_from_the_generated_package_are_fresh() -> None:
    fresh = artifacts.generated_figures()
    for doc in artifacts.FIGURE_DOCS:
        text = doc.read_text(encoding="utf-8")
        start = text.index(artifacts.FIGURES_BEGIN) + len(artifacts.FIGURES_BEGIN)
        quoted = text[start : text.index(artifacts.FIGURES_END)].strip()
        assert quoted == fresh, (
            f"{doc.relative_to(ROOT)} quotes stale figures; run update_sdk_artifacts.py bump "
            "(or update_figures()) to rewrite them"
        )


def test_the_benchmark_recording_comes_from_the_pinned_runtime() -> None:
    recording = json.loads((ROOT / "benchmarks" / "recorded.json").read_text(encoding="utf-8"))
    pinned = artifacts.read_runtime_version()
    assert recording["runtime_version"] == pinned
    assert f"/{pinned} " in recording["results"]["initialize"]["userAgent"]
