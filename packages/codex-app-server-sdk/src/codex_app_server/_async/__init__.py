"""The user API, the typed client and the pool, written once for both faces.

``_async/`` holds the hand-written asyncio sources; ``scripts/unasync.py`` writes the blocking
modules of ``_sync/`` from them. What differs between the faces is in the hand-written backend
pair (the two ``_backend_*`` modules). Import the public names from :mod:`codex_app_server`.
"""
