"""A newer server's shapes: what does not fit a generated model is kept, not raised.

Here ``fit`` alone, on messages built in the test; the end-to-end test, where the stand-in server
sends such shapes to both faces, is ``_async/test_lenient.py`` and its generated sync twin.
"""

from __future__ import annotations

import pytest
from codex_app_server import unfit_parts
from codex_app_server._lenient import fit
from codex_app_server.generated import Turn, TurnCompletedServerNotification
from pydantic import ValidationError


def test_what_fits_has_no_unfit_parts_and_requests_stay_strict() -> None:
    from codex_app_server.generated import TurnStartParams

    turn = fit(Turn, {"id": "t", "items": [], "status": "completed"}, "test/method")
    assert unfit_parts(turn) == {}
    # Building a request is not decoding a newer server's message: a bad shape is an error.
    with pytest.raises(ValidationError):
        TurnStartParams.model_validate(
            {"threadId": "t", "input": [{"type": "text", "text": {"not": "text"}}]}
        )


def test_an_optional_field_that_does_not_fit_is_cut_out() -> None:
    message = {
        "method": "turn/completed",
        "params": {"threadId": "thr", "turn": {"id": "t", "items": [], "status": "completed"}},
    }
    message["params"]["turn"]["startedAt"] = ["not", "a", "number"]
    note = fit(TurnCompletedServerNotification, message, "test/optional")
    assert note.params.turn.id == "t"
    assert unfit_parts(note) == {"/params/turn/startedAt": ["not", "a", "number"]}


def test_a_required_field_that_does_not_fit_keeps_the_message_as_it_came() -> None:
    message = {
        "method": "turn/completed",
        "params": {
            "threadId": "thr",
            "turn": {"id": "t", "items": [], "status": "completed"},
            "extraThing": 1,
        },
    }
    message["params"]["turn"]["items"] = 5  # required, and not a list
    note = fit(TurnCompletedServerNotification, message, "test/required")
    assert isinstance(note, TurnCompletedServerNotification)
    assert note.params == message["params"]  # raw JSON: there is no typed form of it
    assert unfit_parts(note) == {"": message}
