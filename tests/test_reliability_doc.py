"""docs/reliability.md and the reliability tests stay in step: no dead reference, no uncited test.

The tests are split by guarantee: ``test_reliability_*.py`` here (hand-written) and in
``_async/`` (each also in ``_sync/``, generated under the same name, so one citation covers both
faces).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
DOCUMENT = TESTS.parent / "docs" / "reliability.md"


def reliability_tests() -> set[str]:
    """The name of every test function in the reliability files."""
    files = [*TESTS.glob("test_reliability_*.py"), *TESTS.glob("_async/test_reliability_*.py")]
    return {
        node.name
        for path in files
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test_")
    }


def test_every_guarantee_names_existing_tests_and_every_test_is_cited() -> None:
    cited = set(re.findall(r"`(test_\w+)`", DOCUMENT.read_text(encoding="utf-8")))
    here = reliability_tests()
    assert cited - here == set()
    assert {n for n in here if n not in cited and n.removesuffix("_async") not in cited} == set()
