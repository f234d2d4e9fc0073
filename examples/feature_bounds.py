"""Bound a turn: wall-clock time, silence, and the thread's token budget.

Hitting a bound interrupts the turn and raises the ``BoundExceededError`` subclass naming it
(``TurnTimeLimitError``, ``TurnInactivityError``, ``TokenBudgetExceededError``); its message
and ``exc.turn`` say how the turn ended (usage is reported after a reply, so a turn can reach
its token budget just as it completes). The thread stays usable. Each single request is
bounded by ``CodexConfig.request_timeout``.
"""

from __future__ import annotations

from codex_app_server import BoundExceededError, Codex, TurnBounds, final_text

BOUNDS = TurnBounds(wall_clock=120, inactivity=30, token_budget=1_000)


def main() -> None:
    with Codex() as codex:
        thread = codex.thread_start()
        for prompt in ("Summarise the README in one line.", "Now rewrite the whole project."):
            try:
                print(final_text(thread.run(prompt, bounds=BOUNDS)))
            except BoundExceededError as exc:
                status = exc.turn.status.value if exc.turn else "unconfirmed"
                print(f"stopped by {exc.bound}: {exc}")
                print(f"turn status: {status}")


if __name__ == "__main__":
    main()
