"""Send an image by URL together with text.

``ImageInput`` takes an image URL; a list mixes it with text (a plain ``str`` is text).
The pinned Codex accepts inline ``data:`` URLs and refuses remote ``https:`` ones with
``InvalidRequestError`` ("remote image URLs are not supported"): download the image yourself
and inline it, or save it and use ``LocalImageInput``. Usage::

    python examples/image_url.py              # a tiny built-in red square, as a data: URL
    python examples/image_url.py IMAGE_URL
"""

from __future__ import annotations

import sys

from codex_app_server import Codex, ImageInput, InvalidRequestError, TextInput, final_text

# A 2x2 red PNG, inline, so the example works without any file or download.
RED_SQUARE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR42mP4z8AARAwQCgAf7gP9Y167WwAAAABJRU5ErkJggg=="
)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else RED_SQUARE
    with Codex() as codex:
        thread = codex.thread_start()
        question = TextInput("What is the main colour of this image? One word.")
        try:
            turn = thread.run([question, ImageInput(url)])
        except InvalidRequestError as exc:
            # Checked before the turn starts: nothing was sent to the model.
            print(f"refused: {exc.message}")
            return
        print(final_text(turn))


if __name__ == "__main__":
    main()
