"""Get a typed answer: name a pydantic model once, get an instance back.

``thread.run_parsed(prompt, Model)`` sends the model's strict JSON Schema as the turn's output
schema and validates the final message into an instance. With a handle,
``thread.turn(prompt, output_schema=Model).run_parsed()`` remembers the model. An answer that
does not fit raises ``StructuredOutputError`` (a ``CodexError``) with the validation errors and
the turn. ``parse_output(turn, Model)`` parses a ``Turn`` you already have.
"""

from __future__ import annotations

from codex_app_server import Codex, StructuredOutputError, parse_output
from pydantic import BaseModel


class Language(BaseModel):
    """One programming language, as the model must describe it."""

    name: str
    first_appeared: int
    # A default is fine: the strict schema sent still requires the field.
    typing: str = "unknown"


class Languages(BaseModel):
    """The answer's shape."""

    languages: list[Language]


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()
        handle = thread.turn("Name two programming languages.", output_schema=Languages)
        answer = handle.run_parsed()
        for language in answer.languages:
            print(f"{language.name} ({language.first_appeared}): {language.typing} typing")

        # The Turn is still there when you need more than the parsed answer.
        summary = handle.summary()
        same = parse_output(summary.turn, Languages) == answer
        print(
            f"turn {summary.turn.id} {summary.status}; parse_output gives the same answer: {same}"
        )

        # One call, the model named once; a reply that does not fit is a CodexError.
        try:
            newest = thread.run_parsed("And the newest language you know?", Language)
            print(f"newest: {newest.name}")
        except StructuredOutputError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors)
            print(f"the answer did not fit {exc.model.__name__}: {problems}")


if __name__ == "__main__":
    main()
