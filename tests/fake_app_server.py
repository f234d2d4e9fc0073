"""A stand-in app-server for what the real one cannot be made to do on purpose.

Run as ``python fake_app_server.py MODE``. It speaks just enough of the protocol on stdio:
``initialize`` is answered (with the user agent the mode asks for), then the mode plays out.
"""

from __future__ import annotations

import json
import sys


def send(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def initialize_reply(request_id: object, version: str) -> dict[str, object]:
    return {
        "id": request_id,
        "result": {
            "userAgent": f"codex_app_server_sdk/{version} (Test; x86_64) fake",
            "codexHome": "/nonexistent",
            "platformFamily": "unix",
            "platformOs": "linux",
        },
    }


def main(mode: str) -> None:
    for line in sys.stdin:
        message = json.loads(line)
        method = message.get("method")
        if method == "initialize":
            send(initialize_reply(message["id"], "0.100.0" if mode == "old" else "0.169.0"))
        elif "id" in message and method is not None:
            send({"id": message["id"], "error": {"code": -32601, "message": "fake"}})


if __name__ == "__main__":
    main(sys.argv[1])
