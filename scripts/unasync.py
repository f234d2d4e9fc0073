"""Write the synchronous modules from their asyncio sources: async is the one source.

Each ``.py`` file of a source folder in ``PAIRS`` is rewritten into its target folder: ``async``
and ``await`` dropped, then every entry of ``SUBSTITUTIONS`` applied, then formatted with the
project's ruff settings. The output starts with a line naming its source; it is never edited by
hand (``nox -s lint`` runs ``--check``).

    python scripts/unasync.py            # write the sync files
    python scripts/unasync.py --check    # exit 1 if a sync file differs from what would be
                                         # written, has no source, a substitution is unused,
                                         # or a source breaks a phrase of one across lines

What cannot be written once for both (the sync wait room versus the loop, Ctrl-C versus
cancellation, eager versus lazy start) lives in the hand-written backend pair, which the sources
import under a name that a substitution swaps.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "packages/codex-app-server-sdk/src/codex_app_server"

#: (async source folder, sync target folder), relative to the repository root.
PAIRS: list[tuple[str, str]] = [
    # The package: the user API, the typed client, the pool, sign-in, retry, tools.
    (f"{PACKAGE}/_async", f"{PACKAGE}/_sync"),
]

#: Applied in order after the keywords. A key made of word characters matches whole
#: identifiers only (``AsyncCodex`` does not touch ``AsyncCodexPool``'s tail); any other key
#: is replaced as exact text (docstring phrases that differ between the two faces).
SUBSTITUTIONS: dict[str, str] = {
    # -- the package (codex_app_server/_async -> _sync) --
    # The backend pair: every I/O difference between the faces is behind this one name.
    "_backend_async": "_backend_sync",
    # The connections and their inboxes (hand-written in _connection.py).
    "AsyncConnection": "Connection",
    "AsyncInbox": "Inbox",
    # The public names of the two faces.
    "AsyncCodex": "Codex",
    "AsyncThread": "Thread",
    "AsyncTurnHandle": "TurnHandle",
    "AsyncCodexClient": "CodexClient",
    "AsyncCodexPool": "CodexPool",
    "AsyncApprovalHandler": "ApprovalHandler",
    "AsyncChatgptLoginHandle": "ChatgptLoginHandle",
    "AsyncDeviceCodeLoginHandle": "DeviceCodeLoginHandle",
    "_AsyncLogin": "_Login",
    "retry_on_overload_async": "retry_on_overload",
    "AsyncRequestMethods": "SyncRequestMethods",
    # Protocols and types.
    "AsyncIterator": "Iterator",
    "Awaitable[T]": "T",
    "Awaitable[dict[str, Any]]": "dict[str, Any]",
    "Awaitable, ": "",
    # Docstring wording that differs between the faces.
    "started on first use": "started and initialized by the constructor",
    "cancelling the task": "Ctrl-C",
    "plain or ``async`` functions": "plain functions",
}

#: The keywords, each as (pattern, replacement).
_KEYWORDS = [
    (re.compile(r"\basync def\b"), "def"),
    (re.compile(r"\basync with\b"), "with"),
    (re.compile(r"\basync for\b"), "for"),
    (re.compile(r"\bawait "), ""),
]

#: The first line of a written file; ``source`` is relative to the files folder.
HEADER = "# Generated from {source} by scripts/unasync.py: edit that file instead.\n"


def _pattern(key: str) -> re.Pattern[str]:
    if re.fullmatch(r"\w+", key):
        return re.compile(rf"(?<!\w){re.escape(key)}(?!\w)")
    return re.compile(re.escape(key))


# The test twins: written once against the async API in tests/_async, generated into
# tests/_sync. Their concurrency goes through the hand-written tests/_backend_async.py, swapped
# for tests/_backend_sync.py. The public names repeat the package's entries on purpose: a dict
# keeps one entry per key, so the two groups merge without conflict.
PAIRS.append(("tests/_async", "tests/_sync"))
SUBSTITUTIONS.update(
    {
        "_backend_async": "_backend_sync",
        "async_codex": "codex",  # the pytest plugin's fixtures
        "AsyncCodex": "Codex",
        "AsyncCodexClient": "CodexClient",
    }
)


_COMPILED = [(key, _pattern(key), value) for key, value in SUBSTITUTIONS.items()]


def unasync_text(text: str, used: Counter[str]) -> str:
    """``text`` with the keywords dropped and every substitution applied (counted in ``used``)."""
    for pattern, replacement in _KEYWORDS:
        text = pattern.sub(replacement, text)
    for key, pattern, value in _COMPILED:
        text, count = pattern.subn(value.replace("\\", "\\\\"), text)
        used[key] += count
    return text


#: The ruff runs that leave a written file as the project keeps its sources: the imports
#: sorted (renamed names no longer sort as they did), then formatted.
_RUFF = (("check", "--select", "I", "--fix", "--quiet"), ("format",))


def _formatted(text: str, filename: Path, root: Path) -> str:
    """``text`` as ``ruff`` leaves it under the project's settings (imports sorted, formatted)."""
    for command in _RUFF:
        try:
            done = subprocess.run(
                ["ruff", *command, "--stdin-filename", str(filename), "-"],
                input=text,
                capture_output=True,
                text=True,
                cwd=root,
                check=False,
            )
        except FileNotFoundError:
            sys.exit("error: ruff is not on PATH; install the dev extra (or run nox -s lint)")
        if done.returncode != 0:
            sys.exit(f"error: ruff could not format the output for {filename}:\n{done.stderr}")
        text = done.stdout
    return text


def render(root: Path) -> tuple[dict[Path, str], Counter[str]]:
    """Every sync file's text by its path, and how often each substitution was used."""
    used: Counter[str] = Counter()
    outputs: dict[Path, str] = {}
    for source_dir, target_dir in PAIRS:
        for source in sorted((root / source_dir).glob("*.py")):
            target = root / target_dir / source.name
            text = unasync_text(source.read_text(encoding="utf-8"), used)
            header = HEADER.format(source=Path(os.path.relpath(source, target.parent)).as_posix())
            outputs[target] = _formatted(header + text, target.relative_to(root), root)
    return outputs, used


def problems(root: Path) -> list[str]:
    """What ``--check`` fails on: stale or orphaned sync files, unused substitutions, and
    substitution phrases broken across lines in a source."""
    outputs, used = render(root)
    found = []
    for target, text in outputs.items():
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            state = "is missing" if current is None else "differs from its source"
            found.append(f"{target.relative_to(root).as_posix()} {state}")
    for _, target_dir in PAIRS:
        for orphan in sorted((root / target_dir).glob("*.py")):
            if orphan not in outputs:
                found.append(f"{orphan.relative_to(root).as_posix()} has no async source")
    found += [f"substitution {key!r} is never used" for key in SUBSTITUTIONS if not used[key]]
    return found + _split_phrases(root)


def _split_phrases(root: Path) -> list[str]:
    """Phrases of ``SUBSTITUTIONS`` that a source breaks across lines, where they would be
    left as they are (a docstring reflowed around one reads right in one face only)."""
    found = []
    for key in (key for key in SUBSTITUTIONS if " " in key):
        split = re.compile(r"\s+#?\s*".join(map(re.escape, key.split())))
        for source_dir, _ in PAIRS:
            for source in sorted((root / source_dir).glob("*.py")):
                text = source.read_text(encoding="utf-8")
                if any("\n" in match.group() for match in split.finditer(text)):
                    where = source.relative_to(root).as_posix()
                    found.append(f"{where} breaks {key!r} across lines: keep it on one line")
    return found


def main(argv: list[str] | None = None) -> int:
    """Write (or, with ``--check``, verify) every generated sync file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (for tests)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if args.check:
        found = problems(root)
        for problem in found:
            print(f"error: {problem}", file=sys.stderr)
        if found:
            print("edit the async source (or SUBSTITUTIONS), then run python scripts/unasync.py")
        return 1 if found else 0
    outputs, _ = render(root)
    for target, text in outputs.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(root).as_posix()}")
    for _, target_dir in PAIRS:
        for orphan in sorted((root / target_dir).glob("*.py")):
            generated = orphan.read_text(encoding="utf-8").startswith(HEADER[:12])
            if orphan not in outputs and generated:
                orphan.unlink()
                print(f"removed {orphan.relative_to(root).as_posix()} (its source is gone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
