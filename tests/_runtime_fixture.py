"""Stand-in Codex packages for the fast staging tests, and helpers to run the maintainer tool.

A stand-in package has the released layout (``codex-package.json``, ``bin/codex``, helpers and
the voice runtime that staging must leave out) with a tiny shell script as the binary: on
``--version`` it reports a version, otherwise it prints its arguments and PATH and exits 7.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "update_sdk_artifacts.py"
if str(SCRIPT.parent) not in sys.path:
    sys.path.insert(0, str(SCRIPT.parent))

import update_sdk_artifacts as artifacts  # noqa: E402  (needs the sys.path entry above)
from _portable import windows_exe  # noqa: E402

VERSION = artifacts.read_runtime_version()
STAND_IN_EXIT = 7


def stand_in_script(reported_version: str) -> str:
    """Return the shell script used as a stand-in ``codex`` binary."""
    return (
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "codex-cli {reported_version}"; exit 0; fi\n'
        'echo "args: $*"\n'
        'echo "PATH=$PATH"\n'
        f"exit {STAND_IN_EXIT}\n"
    )


def stand_in_program(reported_version: str) -> str:
    """The same stand-in in Python, for a Windows host, where a shell script cannot run."""
    return (
        "import os, sys\n"
        f"if sys.argv[1:2] == ['--version']:\n    print('codex-cli {reported_version}')\n"
        "    sys.exit(0)\n"
        "print('args: ' + ' '.join(sys.argv[1:]))\n"
        "print('PATH=' + os.environ['PATH'])\n"
        f"sys.exit({STAND_IN_EXIT})\n"
    )


def make_package(
    root: Path,
    platform: str,
    version: str = VERSION,
    reported_version: str | None = None,
) -> Path:
    """Write an unpacked stand-in package (``vendor/<target>/``) under ``root``; return it."""
    plat = artifacts.platform_named(platform)
    exe = ".exe" if plat.is_windows else ""
    vendor = root / plat.target
    script = stand_in_script(reported_version or version)
    executables = [plat.entrypoint, f"bin/codex-code-mode-host{exe}", f"codex-path/rg{exe}"]
    if platform.startswith("linux"):
        executables.append("codex-resources/bwrap")
    executables.append("codex-resources/voice/bin/codex-voice-host")
    for relative in executables:
        path = vendor / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if plat.is_windows and sys.platform == "win32":
            path.write_bytes(windows_exe(stand_in_program(reported_version or version)))
        else:
            path.write_text(script, encoding="utf-8")
        path.chmod(0o755)
    (vendor / "codex-resources/voice/manifest.json").write_text("{}\n", encoding="utf-8")
    manifest = {
        "layoutVersion": 1,
        "version": version,
        "target": plat.target,
        "variant": "codex",
        "entrypoint": plat.entrypoint,
        "resourcesDir": "codex-resources",
        "pathDir": "codex-path",
    }
    (vendor / "codex-package.json").write_text(json.dumps(manifest), encoding="utf-8")
    return vendor


def run_tool(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/update_sdk_artifacts.py`` with ``args`` in a subprocess."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def build_wheel(project: Path, outdir: Path) -> Path:
    """Build ``project`` with ``python -m build --wheel`` into ``outdir``; return the wheel."""
    before = set(outdir.glob("*.whl")) if outdir.is_dir() else set()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(outdir),
            str(project),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = set(outdir.glob("*.whl")) - before
    return wheel


def zip_mode(wheel: Path, name: str) -> int:
    """Return the permission bits recorded in the wheel for the member ``name``."""
    with zipfile.ZipFile(wheel) as archive:
        return (archive.getinfo(name).external_attr >> 16) & 0o777
