"""One client serves many callers at once: each gets its own answers, nothing is crossed or lost.

The sync client is used from eight threads, the async one from eight tasks; every turn gets the
answer to its own prompt, every listing is whole, and no subscription is left behind.
"""

from __future__ import annotations

from _backend_async import gather
from codex_app_server import AsyncCodex, final_text
from codex_app_server.testing import ScriptedModelServer, message, response


async def test_one_client_used_by_eight_callers_at_once(
    async_codex: AsyncCodex, model_server: ScriptedModelServer
) -> None:
    model_server.enqueue(*(response(message(f"reply {i}")) for i in range(8)))
    catalogue = await async_codex.models()
    assert len([model for model in catalogue.data if model.is_default]) == 1

    async def work() -> str | None:
        thread = await async_codex.thread_start()
        assert await async_codex.models() == catalogue
        answer = final_text(await thread.run("hello", timeout=30))
        stored = await thread.read()
        assert stored.id == thread.id
        return answer

    answers = await gather(*[work] * 8)
    assert sorted(a or "" for a in answers) == sorted(f"reply {i}" for i in range(8))
    assert async_codex.client.connection.subscriber_count() == 0
