"""Count requests, turns and tokens; trace them with OpenTelemetry when it is installed.

``Telemetry().instrument(codex)`` keeps plain counters. With the ``otel`` extra
(``pip install 'codex-app-server-sdk[otel]'``) it also records ``codex.request`` and
``codex.turn`` spans through the globally configured OpenTelemetry tracer provider.
"""

from __future__ import annotations

from codex_app_server import Codex, Telemetry, final_text


def main() -> None:
    telemetry = Telemetry()
    with Codex() as codex:
        telemetry.instrument(codex)
        thread = codex.thread_start()
        print(final_text(thread.run("Say hello.")))
    for name, value in telemetry.counters.snapshot().items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
