"""docs/migrating.md: its table covers the official SDK's public names, and its program runs.

The official SDK, ``openai-codex`` 0.163.0, is installed here only: with ``pip install
--no-deps --target`` into the runtime cache (``$CODEX_SDK_CACHE_DIR`` or the user cache
directory), once, and its ``__all__`` is read from the source without importing it. If it
cannot be installed the test fails; only when no package index answers at all does it skip,
saying so.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import codex_app_server
import pytest
from _runtime_fixture import ROOT, artifacts
from codex_app_server.testing import ScriptedModelServer, app_server_env, message, response

# The fixture that fails, naming the fix, when the installed runtime is missing.
from test_examples import runtime_installed  # noqa: F401

GUIDE = ROOT / "docs" / "migrating.md"
OFFICIAL = "openai-codex==0.163.0"

#: What pip prints when it cannot reach any index (then the check cannot run here).
OFFLINE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Network is unreachable|No route to host|ProxyError|Max retries exceeded"
)
#: A row of the table: the official name, then this SDK's.
ROW = re.compile(r"^\| `([\w.]+)` \| ([^|]+) \|", re.M)
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def official_all() -> list[str]:
    """``openai_codex.__all__``, read from the installed source."""
    target = artifacts.cache_root() / "openai-codex-0.163.0"
    init = target / "openai_codex" / "__init__.py"
    if not init.exists():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile"]
        command += ["--disable-pip-version-check", "--timeout", "30", "--target", str(partial)]
        result = subprocess.run(
            [*command, OFFICIAL], capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode != 0:
            output = result.stdout + result.stderr
            reachable_error = OFFLINE.search(output)
            if reachable_error and "Successfully" not in output:
                pytest.skip(f"no package index is reachable to fetch {OFFICIAL}: {output[-300:]}")
            pytest.fail(f"could not install {OFFICIAL}:\n{output[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            names: list[str] = ast.literal_eval(node.value)
            return names
    pytest.fail(f"{init} has no literal __all__")


def table() -> dict[str, str]:
    """The migration table: official name -> this SDK's column."""
    rows = dict(ROW.findall(GUIDE.read_text(encoding="utf-8")))
    rows.pop("openai_codex", None)  # the header
    return rows


@pytest.mark.slow  # installs the official package (once; later runs reuse the cache)
def test_the_table_lists_every_official_name_and_nothing_else() -> None:
    names = official_all()
    assert len(names) == 37
    rows = table()
    assert sorted(set(names) - rows.keys()) == [], "official names missing from the table"
    assert sorted(rows.keys() - set(names)) == [], "table rows that are no official name"


def test_every_counterpart_exists() -> None:
    referenced = [
        name
        for column in table().values()
        for name in re.findall(r"`codex_app_server\.(\w+)`", column)
    ]
    assert len(referenced) >= 36
    missing = [name for name in referenced if name not in codex_app_server.__all__]
    assert missing == []


@pytest.mark.usefixtures("runtime_installed")
def test_the_after_program_runs(
    model_server: ScriptedModelServer, codex_home: Path, codex_workdir: Path
) -> None:
    after = FENCE.findall(GUIDE.read_text(encoding="utf-8"))[-1]
    assert "from codex_app_server import" in after
    script = codex_workdir.parent / "after.py"
    script.write_text(after, encoding="utf-8")
    model_server.enqueue(
        response(message("A Python SDK.")), response(message("The description holds."))
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=codex_workdir,
        env=app_server_env(codex_home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["A Python SDK. completed", "The description holds."]
    review = model_server.requests[1]
    (output,) = [i for i in review.input if i.get("type") == "function_call_output"]
    assert (output["name"], output["output"]) == ("describer", "A Python SDK.")


def test_the_official_error_names_catch_this_sdks_errors(codex: codex_app_server.Codex) -> None:
    with pytest.raises(codex_app_server.CodexRpcError) as caught:
        codex.thread_read("00000000-0000-0000-0000-000000000000")
    assert isinstance(caught.value, codex_app_server.JsonRpcError)
    assert caught.value.code == caught.value.CODE  # the specific subclass, caught by the base
    assert codex_app_server.InternalRpcError is codex_app_server.InternalError
