"""Tune a single turn: model, reasoning effort and summary, cwd, sandbox, output schema.

Keyword arguments of ``thread.turn()``/``thread.run()`` are the fields of the ``turn/start``
request in snake_case (``sandbox_policy`` is sent as ``sandboxPolicy``). Values are plain
strings, numbers and dicts, validated against the generated models before they are sent.
Overrides of model, effort, cwd and sandbox stick for later turns of the thread. Usage::

    python examples/turn_parameters.py [MODEL]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from codex_app_server import Codex, final_text

# A JSON Schema for the final message; strict output needs every property listed as required
# and no additional properties.
FILE_SUMMARY = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
    },
    "required": ["files", "summary"],
    "additionalProperties": False,
}


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None  # None: keep the configured model
    with Codex() as codex:
        thread = codex.thread_start(developer_instructions="Be brief.")
        turn = thread.run(
            "List the files in the current directory and summarise them.",
            model=model,
            effort="low",
            summary="concise",
            cwd=str(Path.cwd()),
            sandbox_policy={"type": "readOnly", "network_access": False},
            approval_policy="never",
            output_schema=FILE_SUMMARY,
        )
        result = json.loads(final_text(turn) or "{}")
        print(f"files: {', '.join(result['files'])}")
        print(f"summary: {result['summary']}")
        print(f"thread model now: {thread.read().model}")


if __name__ == "__main__":
    main()
