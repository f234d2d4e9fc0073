"""Check the setup from code: the same checks as ``python -m codex_app_server doctor``.

``diagnose()`` returns one ``Check`` per finding (binary, version, schema, CODEX_HOME,
app-server start, sign-in state, sandbox), each ``ok``, ``warn`` or ``fail``.
"""

from __future__ import annotations

from codex_app_server.doctor import diagnose


def main() -> int:
    checks = diagnose()
    problems = [check for check in checks if check.status != "ok"]
    for check in problems:
        print(f"{check.status}: {check.name}: {check.detail}")
    print(f"{len(checks) - len(problems)} of {len(checks)} checks passed")
    return 1 if any(check.status == "fail" for check in problems) else 0


if __name__ == "__main__":
    raise SystemExit(main())
