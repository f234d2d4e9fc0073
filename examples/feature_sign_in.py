"""Sign in from Python: an API key when one is given, a device code otherwise.

``Codex()`` refuses to start when its model provider needs an OpenAI sign-in that
``CODEX_HOME`` does not hold (``NotSignedInError`` says how to sign in). This script starts
with that check off, looks at the account, and signs in if needed: with ``OPENAI_API_KEY``
from the environment (stored in ``CODEX_HOME``, never printed), else with a ChatGPT device
code shown to the user. The sign-in is kept for later runs and other programs.
"""

from __future__ import annotations

import os

from codex_app_server import Codex, LoginFailedError


def main() -> None:
    with Codex(require_sign_in=False) as codex:
        state = codex.account()
        if not state.requires_openai_auth:
            print("The configured model provider needs no sign-in.")
            return
        if state.account is None:
            api_key = os.environ.get("OPENAI_API_KEY")
            try:
                if api_key:
                    codex.login_api_key(api_key)
                else:
                    handle = codex.login_chatgpt_device_code()
                    print(f"Open {handle.verification_url} and enter {handle.user_code}")
                    handle.wait(timeout=900)
            except LoginFailedError as exc:
                print(f"Could not sign in: {exc}")
                return
        account = codex.account().account
        print(f"Signed in with {getattr(account, 'type', 'an unknown method')}.")


if __name__ == "__main__":
    main()
