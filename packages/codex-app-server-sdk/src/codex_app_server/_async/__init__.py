"""The user API, the typed client and the pool, written once: these are the asyncio sources.

``scripts/unasync.py`` writes the blocking modules of ``codex_app_server._sync`` from them;
what differs between the faces is in the backend pair (``_backend_async``/``_backend_sync``).
Import the public names from :mod:`codex_app_server`.
"""
