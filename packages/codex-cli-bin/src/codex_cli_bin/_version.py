"""Version of the vendored Codex runtime.

The checked-in value is a placeholder: ``scripts/update_sdk_artifacts.py stage-runtime`` overwrites
this file in the staged tree with the runtime version it vendors. The real pin lives in
``codex_app_server/_version.py``.
"""

__version__ = "0+unstaged"
