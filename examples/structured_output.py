"""Get a typed answer: a pydantic model as the output schema, validated on the way back.

``output_schema=`` accepts a pydantic model class (or a JSON Schema dict); the model is asked
to answer in that shape, and ``handle.run_parsed(Model)`` validates the final message into
an instance. ``parse_output(turn, Model)`` does the same for a ``Turn`` you already have.
"""

from __future__ import annotations

from codex_app_server import Codex, parse_output
from pydantic import BaseModel, ConfigDict


class Language(BaseModel):
    """One programming language, as the model must describe it."""

    # Strict structured output needs "additionalProperties": false in the schema.
    model_config = ConfigDict(extra="forbid")

    name: str
    first_appeared: int
    typing: str


class Languages(BaseModel):
    """The answer's shape."""

    model_config = ConfigDict(extra="forbid")

    languages: list[Language]


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()
        handle = thread.turn("Name three programming languages.", output_schema=Languages)
        answer = handle.run_parsed(Languages)
        for language in answer.languages:
            print(f"{language.name} ({language.first_appeared}): {language.typing} typing")

        # The Turn is still there when you need more than the parsed answer.
        turn = handle.run()
        same = parse_output(turn, Languages) == answer
        print(f"turn {turn.id} {turn.status.value}; parse_output gives the same answer: {same}")


if __name__ == "__main__":
    main()
