"""Handle what can go wrong: a missing binary, failed turns, refused requests, overload.

- ``CodexNotFoundError``: no ``codex`` executable (raised by the constructor).
- ``TurnFailedError``: the turn ended with status ``failed`` (for example the model API
  returned an error); its message ends with the cause (``(internalServerError, HTTP 500)``),
  and ``exc.turn`` and ``exc.error`` are the generated models.
- ``JsonRpcError`` subclasses: the server refused a request (``InvalidRequestError``,
  ``InvalidParamsError``, ``ServerBusyError``, ...), with ``code``, ``message`` and ``data``.
- ``retry_on_overload`` retries only ``ServerBusyError`` (``is_retryable_error`` is the same
  test): the server did not start that work, so repeating the call cannot do anything twice.
"""

from __future__ import annotations

from codex_app_server import (
    Codex,
    CodexNotFoundError,
    InvalidRequestError,
    JsonRpcError,
    RequestTimeoutError,
    TurnFailedError,
    final_text,
    retry_on_overload,
)


def main() -> None:
    try:
        Codex(codex_bin="no-such-dir/codex")
    except CodexNotFoundError as exc:
        print(f"CodexNotFoundError: {exc}")

    with Codex() as codex:
        thread = retry_on_overload(codex.thread_start, attempts=5, initial_delay=0.5)
        for prompt in ("Summarise the Zen of Python in one line.", "Try again, briefly."):
            try:
                turn = thread.run(prompt, timeout=300)
                print(f"answer: {final_text(turn)}")
            except TurnFailedError as exc:
                print(f"TurnFailedError: {exc}")
                # The failure belongs to the turn: the thread reports it and stays usable.
                print(f"thread status: {thread.read().status.type}")
            except RequestTimeoutError as exc:
                # run(timeout=...) has already interrupted the turn on the server.
                print(f"RequestTimeoutError: {exc}")

        try:
            codex.thread_resume("not-a-thread-id")
        except InvalidRequestError as exc:
            print(f"InvalidRequestError {exc.code} from {exc.method}: {exc.message}")
        except JsonRpcError as exc:  # any other error reply, should the server change
            print(f"{type(exc).__name__} {exc.code}: {exc.message}")


if __name__ == "__main__":
    main()
