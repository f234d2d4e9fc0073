"""The README's two commands, on a machine with only python3 (with venv), pip, node and npm.

    python3 scripts/dev.py demo     the main job (nox -s demo)
    python3 scripts/dev.py test     the tests (nox -s lint typecheck tests), what .ci/run runs

Each puts nox into a virtual environment of its own under ``.nox/`` (made once, reused while
the nox requirement is unchanged) and runs the sessions with it, so nothing is installed into
the system Python, which Debian and Ubuntu refuse (PEP 668, "externally-managed-environment").
Options after the command go to nox (``--list``, ``--reuse-venv=yes``); arguments after ``--``
go to the sessions: ``python3 scripts/dev.py test -- -k staging``. The standard library only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The nox sessions each command runs.
COMMANDS = {"demo": ["demo"], "test": ["lint", "typecheck", "tests"]}


def _nox_requirement() -> str:
    # pyproject.toml's dev list names the nox version once (tomllib is not in Python 3.10).
    found = re.search(r'^\s*"(nox\b[^"]*)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    return found.group(1) if found else "nox"


#: What the bootstrap environment installs; changing it remakes the environment.
NOX_REQUIREMENT = _nox_requirement()
BOOTSTRAP = ROOT / ".nox" / ".dev-bootstrap"


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment, on Windows and elsewhere."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def bootstrap(venv: Path = BOOTSTRAP) -> Path:
    """Make (or reuse) ``venv`` with nox installed; return its interpreter.

    Raises ``SystemExit`` with what to do when the environment cannot be made.
    """
    python = venv_python(venv)
    stamp = venv / "nox-requirement.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == NOX_REQUIREMENT:
        return python
    print(f"dev.py: creating {venv} with {NOX_REQUIREMENT}", flush=True)
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=False)
    if made.returncode != 0 or not python.exists():
        raise SystemExit(
            f"error: could not create a virtual environment with {sys.executable} -m venv; "
            "install Python's venv module (on Debian or Ubuntu: apt install python3-venv) "
            "and run this command again"
        )
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run([*pip, NOX_REQUIREMENT], check=False).returncode != 0:
        raise SystemExit(
            f"error: pip could not install {NOX_REQUIREMENT} into {venv}; check that pip "
            "can reach your package index (pip's own configuration decides which), then run "
            "this command again"
        )
    stamp.write_text(NOX_REQUIREMENT)
    return python


def nox_command(python: Path, command: str, args: Sequence[str]) -> list[str]:
    """The nox command line for ``command`` with the user's extra ``args``."""
    options, session_args = list(args), []
    if "--" in options:
        split = options.index("--")
        options, session_args = options[:split], options[split:]
    noxfile = str(ROOT / "noxfile.py")
    return [
        str(python),
        "-m",
        "nox",
        "-f",
        noxfile,
        "-s",
        *COMMANDS[command],
        *options,
        *session_args,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Bootstrap nox, then run the sessions of the command given in ``argv``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        names = " | ".join(COMMANDS)
        print(f"usage: python3 scripts/dev.py {{{names}}} [nox options] [-- session args]")
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    python = bootstrap()
    try:
        return subprocess.run(
            nox_command(python, args[0], args[1:]), cwd=ROOT, check=False
        ).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
