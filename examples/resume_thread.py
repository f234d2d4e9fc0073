"""Resume an existing thread, possibly from another process.

Threads are stored by the app-server under ``CODEX_HOME``, so a thread started by one
``Codex()`` can be continued by a later one. Usage::

    python examples/resume_thread.py              # start a thread, then resume it
    python examples/resume_thread.py THREAD_ID    # continue a thread you already have
"""

from __future__ import annotations

import sys

from codex_app_server import Codex, final_text


def start_thread() -> str:
    """Start a thread in its own app-server, which stops when the block ends."""
    with Codex() as codex:
        thread = codex.thread_start()
        turn = thread.run("Remember this codename: BLUE HERON. Reply with 'noted'.")
        print(f"started thread {thread.id}: {final_text(turn)}")
        return thread.id


def main() -> None:
    thread_id = sys.argv[1] if len(sys.argv) > 1 else start_thread()
    # A fresh app-server: nothing of the first one survives except what it stored on disk.
    with Codex() as codex:
        thread = codex.thread_resume(thread_id)
        earlier = thread.read(include_turns=True)
        print(f"resumed thread {thread.id} with {len(earlier.turns)} earlier turn(s)")
        turn = thread.run("What was the codename?")
        print(final_text(turn))


if __name__ == "__main__":
    main()
