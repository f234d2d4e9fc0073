"""The native Codex CLI, vendored for one platform.

The wheel carries the released Codex package layout (``codex-package.json``, ``bin/codex``, the
helper binaries) inside this package directory; these functions say where those files are.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

from ._version import __version__

__all__ = [
    "RuntimeFilesMissingError",
    "__version__",
    "bin_path",
    "manifest",
    "package_dir",
    "path_dir",
]

_MANIFEST_NAME = "codex-package.json"


class RuntimeFilesMissingError(FileNotFoundError):
    """A file of the vendored Codex runtime is not installed where the package expects it."""

    def __init__(self, path: Path) -> None:
        message = (
            f"the Codex runtime file {path} is missing; reinstall this platform's wheel with "
            f"`pip install --force-reinstall codex-cli-bin=={__version__}` "
            "(a source tree or sdist of codex-cli-bin carries no binary)"
        )
        super().__init__(errno.ENOENT, message, str(path))

    def __str__(self) -> str:
        """Return the message alone, without OSError's ``[Errno 2]`` prefix."""
        return str(self.strerror)


def package_dir() -> Path:
    """Return the installed ``codex_cli_bin`` directory, the root of the vendored layout."""
    return Path(__file__).resolve().parent


def manifest() -> dict[str, Any]:
    """Return the parsed ``codex-package.json`` (version, target, entrypoint, directories).

    Raises:
        RuntimeFilesMissingError: the manifest is not installed.
    """
    path = package_dir() / _MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuntimeFilesMissingError(path) from None
    data: dict[str, Any] = json.loads(text)
    return data


def bin_path() -> Path:
    """Return the Codex entrypoint (``bin/codex``, or ``bin/codex.exe`` on Windows).

    Raises:
        RuntimeFilesMissingError: the manifest or the binary is not installed.
    """
    path = package_dir() / str(manifest()["entrypoint"])
    if not path.is_file():
        raise RuntimeFilesMissingError(path)
    return path


def path_dir() -> Path:
    """Return the directory of helper tools (``codex-path``, holding ``rg``) to prepend to PATH.

    Raises:
        RuntimeFilesMissingError: the manifest is not installed.
    """
    return package_dir() / str(manifest()["pathDir"])
