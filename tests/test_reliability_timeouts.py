"""Every wait has a bound: the hand-written, asyncio-only part (the twins are in ``_async/``).

The async connection serves every request's deadline from one timer, so requests started in any
order must each time out on their own deadline, exactly once.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from _reliability import PROMPT, fake
from codex_app_server import AsyncCodexClient, RequestTimeoutError


async def test_concurrent_requests_each_time_out_on_their_own_deadline_async(
    tmp_path: Path,
) -> None:
    # One timer serves every request of a connection: a short timeout started after a long
    # one must still fire on time, and the long one later, each once.
    async with AsyncCodexClient(fake(tmp_path, "ok", request_timeout=60)) as client:
        started = time.monotonic()
        slow = asyncio.ensure_future(client.request("fake/never", timeout=1.5))
        await asyncio.sleep(0)
        fast = [asyncio.ensure_future(client.request("fake/never", timeout=t)) for t in (0.4, 0.2)]
        for task, bound in zip(fast[::-1], (0.2, 0.4), strict=True):
            with pytest.raises(RequestTimeoutError, match=re.escape(f"within {bound} s")):
                await task
            assert bound <= time.monotonic() - started < bound + PROMPT
        assert not slow.done()
        assert (await client.thread_start()).thread.id
        with pytest.raises(RequestTimeoutError, match=re.escape("within 1.5 s")):
            await slow
        assert 1.5 <= time.monotonic() - started < 1.5 + PROMPT
        assert client.connection.pending_requests() == 0
