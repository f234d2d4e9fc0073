"""``python -m codex_app_server``: the command line (see :mod:`codex_app_server.cli`)."""

from .cli import main

raise SystemExit(main())
