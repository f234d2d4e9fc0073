"""What a user reads when a call reaches a client its owner closed.

The server stopped because it was told to, so the error says who closed it and what to do, and
carries no exit code or stderr; the rest of what a user reads on failures is tests/test_errors.py.
"""

from __future__ import annotations

import pytest
from codex_app_server import AsyncCodex, CodexConfig, TransportClosedError

pytestmark = pytest.mark.real_binary


async def test_calls_after_close_say_the_owner_closed_the_client(
    codex_config: CodexConfig,
) -> None:
    async with AsyncCodex(codex_config) as codex:
        thread = await codex.thread_start()
    with pytest.raises(TransportClosedError) as on_thread:
        await thread.run("hello")
    with pytest.raises(TransportClosedError) as on_client:
        await codex.thread_start()
    for error in (on_thread.value, on_client.value):
        text = str(error)
        assert text.startswith("the client was closed by its owner")
        assert "start a new client" in text
        # The server stopped because it was told to: its exit code and stderr say nothing more.
        assert "exit code" not in text
        assert "stderr" not in text
        assert error.exit_code is None
        assert error.stderr_tail == ""
