"""Manage threads: name, list, read, archive, unarchive and fork.

A thread is a stored conversation. Besides running turns on it you can give it a name, find
it again with ``thread_list``, read it back with its turns, archive it (it leaves the default
listing), bring it back, and fork it into a new thread that starts from the same history.
"""

from __future__ import annotations

from codex_app_server import Codex, final_text


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()
        thread.run("Suggest a name for a pet turtle.")
        thread.set_name("turtle names")

        stored = thread.read(include_turns=True)
        print(f"thread {stored.id} named {stored.name!r} has {len(stored.turns)} turn(s)")

        listed = codex.thread_list(limit=20, sort_key="updated_at")
        print("listed:", thread.id in [t.id for t in listed.data])

        codex.thread_archive(thread.id)
        listed = codex.thread_list(limit=20)
        archived = codex.thread_list(limit=20, archived=True)
        print(
            "after archive: listed:",
            thread.id in [t.id for t in listed.data],
            "archived:",
            thread.id in [t.id for t in archived.data],
        )

        restored = codex.thread_unarchive(thread.id)
        print(f"unarchived {restored.id}")

        # The fork carries the history, so it can build on the first answer; the original
        # thread is left unchanged.
        fork = codex.thread_fork(thread.id)
        turn = fork.run("Give me one more name in the same style.")
        print(f"forked {thread.id} into {fork.id}: {final_text(turn)}")
        print(f"original still has {len(thread.read(include_turns=True).turns)} turn(s)")


if __name__ == "__main__":
    main()
