"""codex_cli_bin as a user gets it: a wheel installed with pip into a fresh virtual environment."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _runtime_fixture import (
    ROOT,
    STAND_IN_EXIT,
    VERSION,
    artifacts,
    build_wheel,
    make_package,
    run_tool,
)

pytestmark = pytest.mark.slow


class Venv:
    """A fresh virtual environment with one runtime wheel installed from a file."""

    def __init__(self, root: Path, wheel: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        scripts = root / ("Scripts" if sys.platform == "win32" else "bin")
        self.python = scripts / ("python.exe" if sys.platform == "win32" else "python")
        subprocess.run(
            [str(self.python), "-m", "pip", "install", "--quiet", "--no-index", str(wheel)],
            check=True,
        )
        self.package = Path(self.run("-c", "import codex_cli_bin as c; print(c.package_dir())"))

    def run(self, *args: str) -> str:
        """Run the venv's python with ``args``; return stripped stdout (must succeed)."""
        return subprocess.run(
            [str(self.python), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    def codex(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m codex_cli_bin ARGS`` in the venv."""
        return subprocess.run(
            [str(self.python), "-m", "codex_cli_bin", *args],
            capture_output=True,
            text=True,
            check=False,
        )


def _staged_wheel(tmp: Path, source: Path) -> Path:
    staged = tmp / "staged"
    result = run_tool("stage-runtime", staged, source, "--runtime-version", VERSION)
    assert result.returncode == 0, result.stderr
    return build_wheel(staged, tmp / "dist")


def _provided_wheel(root: Path) -> Path | None:
    """The runtime wheel ``nox -s tests`` built (``CODEX_RUNTIME_WHEEL``), alone in a folder.

    Building the ~150 MB wheel takes about a minute; the session has built this very wheel
    from the same binary and staging code, so the tests check that one instead of a second.
    """
    provided = os.environ.get("CODEX_RUNTIME_WHEEL")
    if not provided:
        return None
    dist = root / "provided"
    dist.mkdir()
    # A hard link costs nothing; verify() reads every file of the folder it is given.
    wheel = dist / Path(provided).name
    try:
        os.link(provided, wheel)
    except OSError:
        shutil.copyfile(provided, wheel)
    return wheel


@pytest.fixture(scope="module")
def real_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """This machine's runtime wheel, built from the released binary, installed in a venv."""
    root = tmp_path_factory.mktemp("real")
    wheel = _provided_wheel(root)
    if wheel is None:
        wheel = _staged_wheel(root, artifacts.fetch_runtime(VERSION, artifacts.host_platform()))
    assert artifacts.verify(wheel.parent) == []
    tag = artifacts.platform_named(artifacts.host_platform()).wheel_tag
    assert wheel.name == f"codex_cli_bin-{VERSION}-{tag}.whl"
    return Venv(root / "venv", wheel)


@pytest.fixture(scope="module")
def stand_in_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """This machine's wheel staged from the stand-in script, installed in a venv."""
    root = tmp_path_factory.mktemp("stand-in")
    package = make_package(root / "package", artifacts.host_platform())
    return Venv(root / "venv", _staged_wheel(root, package))


@pytest.mark.real_binary
def test_installed_files_are_executable(real_venv: Venv) -> None:
    manifest = json.loads((real_venv.package / "codex-package.json").read_text("utf-8"))
    assert manifest["version"] == VERSION
    package = real_venv.package
    executables = [*(package / "bin").iterdir(), *(package / "codex-path").iterdir()]
    if sys.platform.startswith("linux"):
        executables.append(package / "codex-resources" / "bwrap")
        assert package / "bin" / "codex-code-mode-host" in executables
    assert package / manifest["entrypoint"] in executables
    if sys.platform != "win32":
        for path in executables:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o111 == 0o111, f"{path} has mode {mode:o}"
    assert not (real_venv.package / "codex-resources" / "voice").exists()


@pytest.mark.real_binary
def test_codex_version_through_the_module(real_venv: Venv) -> None:
    result = real_venv.codex("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"codex-cli {VERSION}"


@pytest.mark.real_binary
def test_generate_json_schema_through_the_module(real_venv: Venv, tmp_path: Path) -> None:
    result = real_venv.codex("app-server", "generate-json-schema", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    bundle = json.loads((tmp_path / "codex_app_server_protocol.v2.schemas.json").read_text())
    assert "ClientRequest" in bundle["definitions"]


@pytest.mark.real_binary
def test_public_paths_point_into_the_installed_package(real_venv: Venv) -> None:
    code = (
        "import codex_cli_bin as c, json; print(json.dumps([str(c.bin_path()), "
        "str(c.path_dir()), c.__version__, c.manifest()['target']]))"
    )
    binary, path_dir, version, target = json.loads(real_venv.run("-c", code))
    plat = artifacts.platform_named(artifacts.host_platform())
    assert Path(binary) == real_venv.package / plat.entrypoint
    assert (Path(path_dir) / ("rg.exe" if plat.is_windows else "rg")).is_file()
    assert (version, target) == (VERSION, plat.target)


@pytest.mark.real_binary
def test_a_failing_command_passes_its_exit_code_through(real_venv: Venv) -> None:
    binary = real_venv.package / artifacts.platform_named(artifacts.host_platform()).entrypoint
    direct = subprocess.run(
        [str(binary), "--no-such-flag"], capture_output=True, text=True, check=False
    )
    assert direct.returncode != 0
    assert real_venv.codex("--no-such-flag").returncode == direct.returncode


def test_module_passes_arguments_exit_code_and_path(stand_in_venv: Venv) -> None:
    result = stand_in_venv.codex("exec", "two words")
    assert result.returncode == STAND_IN_EXIT
    lines = result.stdout.splitlines()
    assert lines[0] == "args: exec two words"
    assert lines[1].startswith(f"PATH={stand_in_venv.package / 'codex-path'}{os.pathsep}")


def test_missing_runtime_files_raise_a_clear_error() -> None:
    # The checked-in template has the Python code but none of the vendored files.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "packages" / "codex-cli-bin" / "src")}
    code = (
        "import codex_cli_bin as c\n"
        "try:\n"
        "    c.bin_path()\n"
        "except FileNotFoundError as e:\n"
        "    print(type(e).__name__, e.filename)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.startswith("RuntimeFilesMissingError ")
    assert out.strip().endswith("codex-package.json")

    result = subprocess.run(
        [sys.executable, "-m", "codex_cli_bin", "--version"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 1
    assert "codex-package.json is missing; reinstall this platform's wheel" in result.stderr
    assert "pip install --force-reinstall codex-cli-bin==" in result.stderr
