"""Stand-in programs and process control that work the same on POSIX and on Windows.

A stand-in for ``codex`` must be an executable file (``CodexConfig`` puts ``codex_bin`` first on
the command line, and no shell is involved). On POSIX that is a ``#!/bin/sh`` script that
``exec``s Python, so the stand-in *is* the process the SDK started. On Windows it is a real
``.exe`` built the way pip builds a console script: pip's launcher, a ``#!`` line naming this
interpreter, and a zip whose ``__main__.py`` runs the script. The launcher starts Python as its
child in a job object that ends with it, passes stdio, Ctrl-Break and the exit code through,
and is what every ``pip install``-ed command on Windows is, so the SDK meets the same kind of
program a user's ``codex`` wrapper would be. (A ``.cmd`` file would also start, but through
``cmd.exe``, which asks "Terminate batch job?" on Ctrl-Break and re-parses every argument.)
"""

from __future__ import annotations

import importlib.util
import io
import os
import platform
import shlex
import signal
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["kill_hard", "launcher", "python_program", "windows_exe"]


def launcher(path: Path, script: str | os.PathLike[str], *args: str) -> Path:
    """Write an executable at ``path`` (``path.exe`` on Windows) that runs the Python file
    ``script`` with this interpreter, ``args`` and then its own arguments; return the file."""
    if sys.platform == "win32":
        exe = path.with_name(path.name + ".exe")
        exe.write_bytes(windows_exe(_run_script(os.fspath(script), args)))
        return exe
    words = [sys.executable, os.fspath(script), *args]
    path.write_text(f'#!/bin/sh\nexec {shlex.join(words)} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


def _run_script(script: str, args: Sequence[str]) -> str:
    """``__main__.py`` that runs ``script`` as ``python script *args ...`` would."""
    return (
        "import os, runpy, sys\n"
        f"script = {script!r}\n"
        "sys.path[0] = os.path.dirname(script)\n"
        f"sys.argv = [script, *{list(args)!r}, *sys.argv[1:]]\n"
        "runpy.run_path(script, run_name='__main__')\n"
    )


def windows_exe(main: str, machine: str | None = None) -> bytes:
    """A Windows console program that runs the Python source ``main`` with this interpreter.

    pip's launcher for ``machine`` (default: this one), a ``#!`` line, then a zip holding
    ``__main__.py``: the launcher runs ``python <itself> ARGS``, and Python runs the zip.
    """
    arm = (machine or platform.machine()).upper() in ("ARM64", "AARCH64")
    spec = importlib.util.find_spec("pip._vendor.distlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("stand-in programs on Windows need pip (its launchers) installed")
    stub = Path(spec.origin).with_name("t64-arm.exe" if arm else "t64.exe").read_bytes()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("__main__.py", main)
    return stub + f'#!"{sys.executable}"\n'.encode() + archive.getvalue()


def python_program(path: Path, source: str) -> Path:
    """Write ``source`` as a Python script next to ``path`` and an executable at ``path`` that
    runs it with this interpreter; return the executable."""
    script = path.with_name(path.name + "-main.py")
    script.write_text(source, encoding="utf-8")
    return launcher(path, script)


def kill_hard(pid: int) -> int:
    """End process ``pid`` at once, as a crash would; return the exit code its parent sees.

    POSIX: SIGKILL, seen as ``-9``. Windows: ``os.kill`` with any other number is
    TerminateProcess, and that number becomes the exit code.
    """
    if sys.platform == "win32":
        os.kill(pid, signal.SIGTERM)
        return int(signal.SIGTERM)
    os.kill(pid, signal.SIGKILL)
    return -int(signal.SIGKILL)
