"""``python -m codex_cli_bin ARGS``: run the vendored Codex binary with ARGS."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import NoReturn

from . import RuntimeFilesMissingError, bin_path, path_dir


def main() -> NoReturn:
    """Become the binary, run with this process's arguments, so its exit status is ours."""
    try:
        binary = str(bin_path())
        helpers = str(path_dir())
    except RuntimeFilesMissingError as error:
        sys.exit(f"codex_cli_bin: {error}")
    env = dict(os.environ)
    # The npm launcher puts the helper tools (rg) first on PATH; do the same so the CLI
    # behaves identically whichever way it was installed.
    env["PATH"] = os.pathsep.join(p for p in (helpers, env.get("PATH", "")) if p)
    argv = [binary, *sys.argv[1:]]
    if sys.platform == "win32":
        # os.execv on Windows spawns the child and returns exit code 0 at once, so the
        # caller would lose the real status; wait for the child instead.
        sys.exit(subprocess.run(argv, env=env, check=False).returncode)
    os.execve(binary, argv, env)


if __name__ == "__main__":
    main()
