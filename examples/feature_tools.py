"""Give the model a Python function to call: an in-process tool.

``@tool`` reads the function's type hints (or the pydantic model it takes) into a JSON Schema
and its docstring into the description. ``thread_start(tools=[...])`` declares the tools to
the app-server as dynamic tools, an experimental protocol feature, hence
``experimental_api=True``. When the model calls one, the SDK runs the function and sends its
return value back; an exception becomes a failed tool call the model can read.
"""

from __future__ import annotations

from codex_app_server import Codex, final_text, tool


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    count = len(text.split())
    print(f"[word_count] {text!r} -> {count}")
    return count


def main() -> None:
    with Codex(experimental_api=True) as codex:
        thread = codex.thread_start(tools=[word_count])
        turn = thread.run("How many words are in 'the quick brown fox'? Use word_count.")
        print(final_text(turn))


if __name__ == "__main__":
    main()
