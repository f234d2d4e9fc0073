"""Run turns to completion and read what they return.

``thread.run(...)`` waits for the turn to finish and returns the generated ``Turn`` model:
its ``id``, ``status``, ``items`` (everything the agent did) and ``error``. Turns on the same
thread share the conversation, so the second question can refer to the first answer.
"""

from __future__ import annotations

from codex_app_server import Codex, final_text


def main() -> None:
    with Codex() as codex:
        print(f"connected to {codex.metadata.user_agent}")
        # Developer instructions apply to every turn of this thread.
        thread = codex.thread_start(developer_instructions="Answer in at most two sentences.")
        print(f"thread {thread.id}")

        for prompt in ("Name a prime number greater than 10.", "Now double it."):
            turn = thread.run(prompt, timeout=300)
            kinds = [item.type for item in turn.items]
            print(f"\n> {prompt}")
            print(f"turn {turn.id}: status={turn.status.value}, items={kinds}")
            print(final_text(turn))


if __name__ == "__main__":
    main()
