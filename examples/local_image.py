"""Send an image file from disk together with text.

``LocalImageInput`` takes a path; the app-server reads the file and sends it to the model,
so the path must be readable by the app-server (it runs on this machine). Usage::

    python examples/local_image.py                  # writes and sends a tiny sample image
    python examples/local_image.py screenshot.png
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

from codex_app_server import Codex, LocalImageInput, final_text

# A 2x2 red PNG, used when no path is given.
SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR42mP4z8AARAwQCgAf7gP9Y167WwAAAABJRU5ErkJggg=="
)


def describe(path: Path) -> None:
    """Ask Codex about the image at ``path``."""
    with Codex() as codex:
        thread = codex.thread_start()
        turn = thread.run(["Describe this image in one short sentence.", LocalImageInput(path)])
        print(f"{path.name}: {final_text(turn)}")


def main() -> None:
    if len(sys.argv) > 1:
        describe(Path(sys.argv[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder, "red-square.png")
        sample.write_bytes(SAMPLE_PNG)
        describe(sample)


if __name__ == "__main__":
    main()
