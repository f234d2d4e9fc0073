"""The README's two commands bootstrap themselves from a fresh clone, with no nox anywhere.

A clean environment: a fresh ``git clone``, a ``PATH`` without nox, an empty ``HOME``, and
pip's configuration replaced by a local folder of wheels (no network: the wheels are nox and
its dependencies, repacked from this interpreter's own installation). Each command runs its
bootstrap and then nox with ``--list``, which only lists the sessions: the suite is not run
inside itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def repack(name: str, out: Path, seen: set[str]) -> None:
    """Write the installed distribution ``name`` and its dependencies to ``out`` as wheels."""
    key = canonicalize_name(name)
    if key in seen:
        return
    seen.add(key)
    dist = metadata.distribution(name)
    # A universal wheel lists one tag per Python (py2-none-any, py3-none-any): name them all.
    tags = [
        line.split(":", 1)[1].strip().split("-")
        for line in (dist.read_text("WHEEL") or "Tag: py3-none-any").splitlines()
        if line.startswith("Tag:")
    ]
    pythons = ".".join(sorted({python for python, _, _ in tags}))
    tag = f"{pythons}-{tags[0][1]}-{tags[0][2]}"
    wheel = out / f"{key.replace('-', '_')}-{dist.version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # console scripts (pip writes them anew) and byte code
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                archive.write(path, file.as_posix())
    for requirement in map(Requirement, dist.requires or []):
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            repack(requirement.name, out, seen)


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    wheels = tmp_path_factory.mktemp("wheelhouse")
    repack("nox", wheels, set())
    home = tmp_path_factory.mktemp("home")
    path = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not shutil.which("nox", path=entry)
    ]
    env = {
        "PATH": os.pathsep.join(path),
        "HOME": str(home),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
    }
    if sys.platform == "win32":
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)],
        check=True,
        capture_output=True,
    )
    return target


def dev(clone: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(clone / "scripts" / "dev.py"), *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_no_nox_is_reachable_in_the_clean_environment(clean_env: dict[str, str]) -> None:
    assert shutil.which("nox", path=clean_env["PATH"]) is None


def test_the_test_command_bootstraps_nox_and_selects_its_sessions(
    clone: Path, clean_env: dict[str, str]
) -> None:
    result = dev(clone, clean_env, "test", "--list")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dev.py: creating" in result.stdout
    selected = re.findall(r"^\* (\w+)", result.stdout, re.MULTILINE)
    assert selected == ["lint", "typecheck", "tests"]
    python = clone / ".nox" / ".dev-bootstrap" / ("Scripts" if os.name == "nt" else "bin")
    assert any(python.glob("python*"))


def test_the_demo_command_reuses_the_bootstrap_and_selects_demo(
    clone: Path, clean_env: dict[str, str]
) -> None:
    dev(clone, clean_env, "test", "--list")  # the environment exists after the first command
    result = dev(clone, clean_env, "demo", "--list")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dev.py: creating" not in result.stdout
    assert re.findall(r"^\* (\w+)", result.stdout, re.MULTILINE) == ["demo"]


def test_a_bad_command_says_how_to_call_it(clone: Path, clean_env: dict[str, str]) -> None:
    result = dev(clone, clean_env, "deploy")
    assert result.returncode == 2
    assert "usage: python3 scripts/dev.py {demo | test}" in result.stdout


def test_readme_and_ci_use_the_same_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 scripts/dev.py demo" in readme
    assert "python3 scripts/dev.py test" in readme
    assert "pip install nox" not in readme
    assert "python3 scripts/dev.py test" in (ROOT / ".ci" / "run").read_text()
