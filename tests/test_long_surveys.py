"""Long cold surveys come in pages with the progress shown, and the same link resumes where it was left;
a hot survey stays on one screen."""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import Flask
from sqlmodel import select

from perception.db import session_scope
from perception.models import Answer, Invitation, SurveyDraft
from perception.surveys import parse_definition, store_definition
from perception.waves import create_wave, issue_links, open_wave
from tests.conftest import post_form
from tests.test_item_types import MIXED

LONG: dict[str, Any] = copy.deepcopy(MIXED)
LONG["slug"] = "long"
LONG["items"] += [
    {**copy.deepcopy(MIXED["items"][3]), "key": f"extra{number}", "touchpoint": "delivery"} for number in range(3)
]  # eight items: two pages of five and three

FIRST_PAGE = {"item_recommend": 7, "why_recommend": "Quite good.", "item_solved": 1, "item_channel": 2,
              "item_satisfaction": 4, "item_comment": "Nothing else."}  # fmt: skip
SECOND_PAGE = {"item_extra0": 5, "item_extra1": 4, "item_extra2": 3}


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', page))


def test_a_long_survey_is_answered_in_pages_and_resumed_from_the_same_link(app: Flask) -> None:
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(LONG, app.extensions["perception"].registries.scoring_models)
        )
        wave = create_wave(session, survey, "q1")
        open_wave(wave)
        token = issue_links(session, wave, "customer", 1, 30)[0].token
    link = f"/r/{token}"
    first = app.test_client()
    page = first.get(link).get_data(as_text=True)
    assert "Page 1 of 2" in page and 'name="item_extra0"' not in page and 'name="item_recommend"' in page
    assert "come back with the same link" in page

    refused = post_form(first, link, {"move": "next", "page": "0", "item_recommend": 7})
    assert refused.status_code == 422 and "Page 1 of 2" in refused.get_data(as_text=True)

    moved = post_form(first, link, {"move": "next", "page": "0", **FIRST_PAGE})
    assert moved.status_code == 200
    page = moved.get_data(as_text=True)
    assert "Page 2 of 2" in page and 'name="item_extra0"' in page
    assert _hidden(page)["why_recommend"] == "Quite good." and _hidden(page)["item_channel"] == "2"

    # Left here; the same link, later, on another device, opens the second page with the answers so far.
    later = app.test_client()
    page = later.get(link).get_data(as_text=True)
    assert "Page 2 of 2" in page and _hidden(page)["item_recommend"] == "7"
    back = post_form(later, link, {"move": "back", "page": "1", **FIRST_PAGE, **SECOND_PAGE})
    assert "Page 1 of 2" in back.get_data(as_text=True) and 'value="7" checked' in back.get_data(as_text=True)

    sent = post_form(later, link, {"page": "1", **FIRST_PAGE, **SECOND_PAGE})
    assert sent.status_code == 302
    with session_scope(app) as session:
        assert session.exec(select(SurveyDraft)).all() == []  # the draft goes when the answers are sent
        assert len(session.exec(select(Answer)).all()) == 8  # the "why" sits beside its score
        assert session.exec(select(Invitation.used)).one() is True


def test_a_draft_cannot_be_traced_to_its_invitation(app: Flask) -> None:
    from perception.drafts import draft_key

    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(LONG, app.extensions["perception"].registries.scoring_models)
        )
        wave = create_wave(session, survey, "q1")
        open_wave(wave)
        token = issue_links(session, wave, "employee", 1, 30)[0].token
    client = app.test_client()
    assert post_form(client, f"/r/{token}", {"move": "next", "page": "0", **FIRST_PAGE}).status_code == 200
    with session_scope(app) as session:
        [draft] = session.exec(select(SurveyDraft)).all()
        invitation = session.exec(select(Invitation)).one()
        assert draft.key == draft_key(token) != invitation.token_hash
        assert set(SurveyDraft.model_fields) == {"key", "wave_id", "data", "page", "saved_on"}


def test_a_hot_survey_fits_one_screen(app: Flask) -> None:
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(LONG, app.extensions["perception"].registries.scoring_models)
        )
        wave = create_wave(session, survey, "after", kind="hot", touchpoint="delivery")
        open_wave(wave)
        public = wave.public_token
    page = app.test_client().get(f"/p/{public}").get_data(as_text=True)
    assert "Page 1" not in page and 'name="item_extra2"' in page and 'name="move"' not in page
