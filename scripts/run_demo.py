"""Run examples/demo.py offline: a scripted model on 127.0.0.1 and a private CODEX_HOME.

Used by ``nox -s demo`` inside a fresh virtual environment where the built wheels are
installed, so it exercises exactly what ``pip install codex-app-server-sdk`` gives a user.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from codex_app_server.testing import (
    ScriptedModelServer,
    app_server_env,
    exec_command,
    message_deltas,
    response,
    write_codex_home,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def main() -> int:
    """Script the model, run the example, check what happened; return an exit code."""
    script = (
        response(
            message_deltas(["Hello! ", "Let me ", "run a command."]),
            exec_command("echo hello, world", justification="greet the world", escalated=True),
        ),
        response(message_deltas(["The shell ", "said hello."])),
    )
    with tempfile.TemporaryDirectory() as tmp, ScriptedModelServer(*script) as model:
        home = write_codex_home(Path(tmp) / "codex-home", model)
        print(f"demo: scripted model at {model.base_url}, CODEX_HOME={home}", flush=True)
        result = subprocess.run(
            [sys.executable, str(EXAMPLE)],
            cwd=tmp,
            env=app_server_env(home),
            timeout=120,
            check=False,
        )
        model.raise_for_failures()
        print(f"demo: the model received {len(model.requests)} request(s)", flush=True)
        if result.returncode != 0:
            return result.returncode
        # The approved command must have run and its output gone back to the model.
        outputs = model.requests[1].function_call_outputs if len(model.requests) == 2 else {}
        print(f"demo: the command's output went back to the model: {outputs}", flush=True)
        return 0 if any("hello, world" in output for output in outputs.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
