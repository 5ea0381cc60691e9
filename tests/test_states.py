"""Subscriber status transitions: every allowed and every forbidden move, spelled out."""

from __future__ import annotations

import pytest

from paperboy.errors import InputError
from paperboy.subscribers import Action, Status, allows, transition

P, A, Z, U, B = Status.PENDING, Status.ACTIVE, Status.PAUSED, Status.UNSUBSCRIBED, Status.BOUNCED

ALLOWED = {
    (P, Action.CONFIRM): A,
    (P, Action.SIGN_UP_AGAIN): P,
    (U, Action.SIGN_UP_AGAIN): P,
    (A, Action.PAUSE): Z,
    (Z, Action.PAUSE): Z,
    (A, Action.RESUME): A,
    (Z, Action.RESUME): A,
    (P, Action.UNSUBSCRIBE): U,
    (A, Action.UNSUBSCRIBE): U,
    (Z, Action.UNSUBSCRIBE): U,
    (U, Action.UNSUBSCRIBE): U,
    (B, Action.UNSUBSCRIBE): U,
    (U, Action.UNDO): A,
    **{(s, Action.BOUNCE): B for s in Status},  # the sender's bounce rule, whatever it was
}
FORBIDDEN = [(s, a) for s in Status for a in Action if (s, a) not in ALLOWED]


@pytest.mark.parametrize(("current", "action"), list(ALLOWED))
def test_an_allowed_move_lands_where_it_should(current: Status, action: Action) -> None:
    assert transition(current, action) == ALLOWED[current, action]


@pytest.mark.parametrize(("current", "action"), FORBIDDEN)
def test_a_forbidden_move_is_refused_with_one_sentence(current: Status, action: Action) -> None:
    with pytest.raises(InputError, match=f"who is {current} cannot") as caught:
        transition(current, action)
    assert caught.value.hint.startswith("allowed from: ")


def test_every_pair_is_either_allowed_or_forbidden() -> None:
    assert len(ALLOWED) + len(FORBIDDEN) == len(Status) * len(Action)
    assert len(FORBIDDEN) == 17


@pytest.mark.parametrize("current", list(Status))
def test_the_operator_may_pause_and_resume_from_any_status(current: Status) -> None:
    assert transition(current, Action.PAUSE, operator=True) == Z
    assert transition(current, Action.RESUME, operator=True) == A


@pytest.mark.parametrize("action", [Action.CONFIRM, Action.SIGN_UP_AGAIN, Action.UNDO])
def test_the_operator_gets_no_other_shortcut(action: Action) -> None:
    with pytest.raises(InputError):
        transition(Status.BOUNCED, action, operator=True)


@pytest.mark.parametrize(("current", "action"), [*ALLOWED, *FORBIDDEN])
def test_allows_says_what_transition_does(current: Status, action: Action) -> None:
    assert allows(current, action) is ((current, action) in ALLOWED)
