"""Tests written once against the async API; ``scripts/unasync.py`` writes their sync twins.

Each ``test_*.py`` here is the source of the file of the same name in ``tests/_sync/``, which
is generated (never edit it). Concurrency goes through ``_backend_async`` (threads in the sync
twin, through ``_backend_sync``); a test that cannot be written once stays hand-written in
``tests/``.
"""
