"""A small interactive chat: read prompts from stdin until EOF, stream each answer.

Every prompt is a turn on one thread, so the conversation has memory. Try it with
``python examples/chat_cli.py`` (Ctrl-D to quit, Ctrl-C interrupts the current answer), or
pipe prompts in: ``printf 'hi\\nand again\\n' | python examples/chat_cli.py``.
"""

from __future__ import annotations

from codex_app_server import Codex, TurnHandle


def stream_answer(handle: TurnHandle) -> None:
    """Print the answer of a running turn as it arrives."""
    streamed: set[str] = set()
    for event in handle.stream():
        if event.method == "item/agentMessage/delta":
            streamed.add(event.params.item_id)
            print(event.params.delta, end="", flush=True)
        elif event.method == "item/completed" and event.params.item.type == "agentMessage":
            # A message can also arrive whole, without deltas.
            if event.params.item.id not in streamed:
                print(event.params.item.text, end="", flush=True)
        elif event.method == "turn/completed" and event.params.turn.error is not None:
            print(f"[turn {event.params.turn.status.value}: {event.params.turn.error.message}]")
    print()


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()
        while True:
            try:
                prompt = input("you> ")
            except EOFError:
                break
            if not prompt.strip():
                continue
            print("codex> ", end="", flush=True)
            try:
                stream_answer(thread.turn(prompt))
            except KeyboardInterrupt:
                # The SDK has already interrupted the turn; keep chatting.
                print("\n[interrupted]")
    print("bye")


if __name__ == "__main__":
    main()
