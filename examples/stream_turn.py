"""Stream a turn: show the agent's reasoning and answer as they arrive.

``thread.turn(...)`` starts a turn and returns a handle; ``handle.stream()`` yields that turn's
notifications as typed models, in order, ending with its ``turn/completed``. Every event has a
``method`` (the wire name) and typed ``params``.
"""

from __future__ import annotations

from codex_app_server import Codex, final_text


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()
        handle = thread.turn("Explain recursion to a five-year-old.", summary="concise")
        counts: dict[str, int] = {}
        for event in handle.stream():
            counts[event.method] = counts.get(event.method, 0) + 1
            if event.method == "item/reasoning/summaryTextDelta":
                print(f"[thinking] {event.params.delta}", flush=True)
            elif event.method == "item/agentMessage/delta":
                # Deltas are fragments of one message: print them without newlines.
                print(event.params.delta, end="", flush=True)
            elif event.method == "item/completed" and event.params.item.type == "commandExecution":
                print(f"\n[ran] {event.params.item.command}")
            elif event.method == "turn/completed":
                turn = event.params.turn
                print(f"\n[turn {turn.status.value}] final answer: {final_text(turn)!r}")
        print("events:", ", ".join(f"{method} x{n}" for method, n in counts.items()))


if __name__ == "__main__":
    main()
