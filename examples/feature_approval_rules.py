"""Decide approvals with declarative rules instead of code.

``ApprovalRules`` accepts commands that start with an allowed prefix (unless they chain or
redirect), declines file changes outside the given folders, and asks a callback about the
rest. Every decision is logged on the ``codex_app_server`` logger with the rule that made it;
this example prints those lines.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from codex_app_server import ApprovalRules, Codex, final_text


def ask(request: Any) -> bool:
    """The callback for what no rule settles; here: accept."""
    return True


def main() -> None:
    logging.basicConfig(stream=sys.stdout, format="%(message)s")
    logging.getLogger("codex_app_server").setLevel(logging.INFO)
    project = Path.cwd()
    rules = ApprovalRules(allow_commands=["touch"], deny_writes_outside=[project], ask=ask)
    with Codex(approval_handler=rules) as codex:
        thread = codex.thread_start()
        print(final_text(thread.run("Create started.txt, notes.txt and ../escape.txt.")))
    for name in ("started.txt", "notes.txt", "../escape.txt"):
        print(f"{name}: {'written' if (project / name).exists() else 'not written'}")


if __name__ == "__main__":
    main()
