"""Quickstart: start Codex, ask one question, print the answer.

``Codex()`` runs the ``codex`` binary from the installed ``codex-cli-bin`` package and uses
your usual Codex configuration (``CODEX_HOME``, ``~/.codex`` by default) for the model and
credentials. Run it with ``python examples/quickstart.py``.
"""

from __future__ import annotations

from codex_app_server import Codex, final_text


def main() -> None:
    # The context manager stops the app-server process even if the turn raises.
    with Codex() as codex:
        thread = codex.thread_start()
        turn = thread.run("In one sentence: what is a monorepo?")
        print(final_text(turn))


if __name__ == "__main__":
    main()
