"""Steer a running turn with more input, and interrupt one that should stop.

``handle.steer(input)`` adds input to the turn in flight: the agent takes it into account
at once. ``handle.interrupt()`` asks the server to stop; the turn still ends with
``turn/completed``, status ``interrupted``. Both race with the turn finishing on its own, in
which case the server refuses them (a ``JsonRpcError``).
"""

from __future__ import annotations

from codex_app_server import Codex, JsonRpcError, TurnHandle, final_text


def first_delta(handle: TurnHandle) -> bool:
    """Consume events until the answer starts; ``False`` if the turn ended before that."""
    for event in handle.stream():
        if event.method == "item/agentMessage/delta":
            print(f"started answering: {event.params.delta!r}")
            return True
    return False


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()

        handle = thread.turn("Write a long essay about the sea.")
        if first_delta(handle):
            try:
                handle.steer("Change of plan: one sentence about lighthouses instead.")
                print("steered")
            except JsonRpcError as exc:
                print(f"too late to steer: {exc.message}")
        turn = handle.run()
        print(f"steered turn {turn.status.value}: {final_text(turn)}")

        handle = thread.turn("Count from one to a million, one number per line.")
        if first_delta(handle):
            handle.interrupt()
        turn = handle.run()
        print(f"second turn {turn.status.value}")


if __name__ == "__main__":
    main()
