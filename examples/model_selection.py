"""Choose a model: list what the server offers, then start a thread with one of them.

``codex.models()`` returns the generated ``ModelListResponse`` (paged with ``cursor``). Each
entry says whether it is the default and which reasoning efforts it supports. Usage::

    python examples/model_selection.py            # the default model
    python examples/model_selection.py MODEL_ID
"""

from __future__ import annotations

import sys

from codex_app_server import Codex, final_text


def main() -> None:
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    with Codex() as codex:
        models = codex.models(limit=50).data
        for entry in models:
            efforts = ", ".join(o.reasoning_effort for o in entry.supported_reasoning_efforts)
            marker = "*" if entry.is_default else " "
            print(f"{marker} {entry.id:<20} {entry.display_name} (efforts: {efforts})")

        chosen = next((m for m in models if m.id == wanted or (not wanted and m.is_default)), None)
        if chosen is None:
            sys.exit(f"model {wanted!r} is not offered; pick one of the ids above")

        thread = codex.thread_start(model=chosen.model)
        # The lowest effort the model supports keeps this demo quick.
        effort = chosen.supported_reasoning_efforts[0].reasoning_effort
        turn = thread.run("Which model are you? One short sentence.", effort=effort)
        print(f"\nusing {chosen.model} at effort {effort}: {final_text(turn)}")


if __name__ == "__main__":
    main()
