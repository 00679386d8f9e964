"""Hot and cold waves, friendly pages when a wave is not taking answers, links whose segment values
are signed, and one-click scores from an email or SMS."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from perception.db import session_scope
from perception.models import ResponseSegment, SegmentValue
from perception.surveys import items_of, parse_definition, store_definition
from perception.waves import WaveError, close_wave, create_wave, find_survey, find_wave, open_wave, today
from tests.conftest import post_form
from tests.test_item_types import MIXED

HOT: dict[str, Any] = copy.deepcopy(MIXED)
HOT["slug"] = "hot"
HOT["items"][1]["touchpoint"] = "delivery"
HOT["items"][2]["touchpoint"] = "shop"
HOT["segments"] = {"customer": {"region": ["North", "South"]}}


def _models(app: Flask) -> Any:
    return app.extensions["perception"].registries.scoring_models


@pytest.fixture
def hot(app: Flask) -> Flask:
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(HOT, _models(app)))
        open_wave(create_wave(session, survey, "after-delivery", kind="hot", touchpoint="delivery"))
    return app


def _token(app: Flask, wave: str = "after-delivery") -> str:
    with session_scope(app) as session:
        return find_wave(session, find_survey(session, "hot"), wave).public_token


def test_a_hot_wave_asks_its_touchpoint_and_the_general_items_on_one_page(hot: Flask) -> None:
    with session_scope(hot) as session:
        survey = find_survey(session, "hot")
        keys = [item.key for item in items_of(session, survey, find_wave(session, survey, "after-delivery"))]
    assert keys == ["recommend", "solved", "satisfaction", "comment"]
    page = hot.test_client().get(f"/p/{_token(hot)}").get_data(as_text=True)
    assert "Was your problem solved?" in page and "How did you reach us?" not in page
    assert 'class="hot"' in page


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "hot", "touchpoint": "delivery", "opens_on": today()}, "a hot wave is continuous: it has no dates"),
        ({"kind": "cold", "touchpoint": "delivery"}, "only a hot wave follows a touchpoint"),
        ({"opens_on": today(), "closes_on": today() - timedelta(days=1)}, "a wave cannot close before it opens"),
    ],
)
def test_a_wave_is_hot_or_cold_as_its_kind_says(hot: Flask, arguments: dict[str, Any], message: str) -> None:
    with session_scope(hot) as session, pytest.raises(WaveError, match=message):
        create_wave(session, find_survey(session, "hot"), "w2", **arguments)


def test_a_closed_or_not_yet_open_wave_answers_a_friendly_page(hot: Flask) -> None:
    client = hot.test_client()
    with session_scope(hot) as session:
        survey = find_survey(session, "hot")
        create_wave(session, survey, "draft")
        later = create_wave(session, survey, "later", opens_on=today() + timedelta(days=3))
        open_wave(later)
        close_wave(find_wave(session, survey, "after-delivery"))
        opens = later.opens_on
    page = client.get(f"/p/{_token(hot, 'later')}")
    assert page.status_code == 200
    assert "This survey is not open yet" in page.get_data(as_text=True)
    assert str(opens.year) in page.get_data(as_text=True)
    page = client.get(f"/p/{_token(hot, 'draft')}?lang=fr")
    assert page.status_code == 200 and "pas encore ouverte" in page.get_data(as_text=True)
    page = client.get(f"/p/{_token(hot)}")
    assert page.status_code == 200 and "This survey is closed" in page.get_data(as_text=True)
    assert 'name="item_' not in page.get_data(as_text=True)


def _group_link(lead: FlaskClient, region: str) -> str:
    page = lead.get(f"/surveys/hot/waves/after-delivery?segment_region={region}").get_data(as_text=True)
    start = page.index('id="group-link"') if 'id="group-link"' in page else -1
    assert start > 0, "no group link on the wave page"
    value = page[page.rindex('value="', 0, start) + 7 :]
    return value[: value.index('"')].replace("&amp;", "&").replace("http://localhost", "")


def _answers() -> dict[str, object]:
    return {"item_recommend": 8, "item_solved": 1, "item_satisfaction": 4}


def test_a_customer_link_carries_signed_segment_values_into_the_response(hot: Flask, lead: FlaskClient) -> None:
    link = _group_link(lead, "South")
    assert "South" not in link  # the value travels signed, not as a parameter one could edit
    respondent = hot.test_client()
    assert "Français" in respondent.get(link).get_data(as_text=True)
    assert post_form(respondent, link, _answers()).status_code == 302
    with session_scope(hot) as session:
        values = session.exec(
            select(SegmentValue.value).join(ResponseSegment, ResponseSegment.value_id == SegmentValue.id)
        ).all()
    assert values == ["South"]


def test_a_tampered_link_is_refused_with_a_friendly_page(hot: Flask, lead: FlaskClient) -> None:
    link = _group_link(lead, "North")
    signed = parse_qs(urlparse(link).query)["s"][0]
    payload, _, signature = signed.partition(".")
    # Change a leading character: the last one of base64 may carry only padding bits, so changing it can
    # leave the decoded bytes, and so the signature, as they were.
    forged = ("A" if payload[0] != "A" else "B") + payload[1:]
    bad_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    respondent = hot.test_client()
    for bad in (f"{forged}.{signature}", f"{payload}.{bad_signature}", "garbage"):
        page = respondent.get(f"/p/{_token(hot)}?s={bad}")
        assert page.status_code == 400
        assert "This link has been altered" in page.get_data(as_text=True)
        assert post_form(respondent, f"/p/{_token(hot)}?s={bad}", _answers(), token_from=link).status_code == 400
    with session_scope(hot) as session:
        survey = find_survey(session, "hot")
        other = create_wave(session, survey, "other", kind="hot", touchpoint="shop")
        open_wave(other)
        other_token = other.public_token
    moved = respondent.get(f"/p/{other_token}?s={signed}")
    assert moved.status_code == 400  # signed for another wave
    with session_scope(hot) as session:
        assert session.exec(select(ResponseSegment)).all() == []


def test_a_lead_cannot_sign_a_value_the_survey_does_not_declare(hot: Flask, lead: FlaskClient) -> None:
    page = lead.get("/surveys/hot/waves/after-delivery?segment_region=Atlantis").get_data(as_text=True)
    assert "has no value &#39;Atlantis&#39;" in page and 'id="group-link"' not in page


def test_a_forged_employee_segment_value_is_refused(app: Flask) -> None:
    data = copy.deepcopy(MIXED)
    data["segments"] = {"employee": {"department": ["Support", "Sales"]}}
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(data, _models(app)))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        from perception.waves import issue_links

        token = issue_links(session, wave, "employee", 1, 30)[0].token
    client = app.test_client()
    answers = {"item_recommend": 5, "item_solved": 0, "item_channel": 1, "item_satisfaction": 3}
    refused = post_form(client, f"/r/{token}", {**answers, "segment_department": "999"})
    assert refused.status_code == 422 and "Not a valid choice" in refused.get_data(as_text=True)
    assert post_form(client, f"/r/{token}", answers).status_code == 302


def test_a_one_click_score_opens_the_page_with_it_chosen_and_asks_why(hot: Flask) -> None:
    client = hot.test_client()
    page = client.get(f"/p/{_token(hot)}?score=7").get_data(as_text=True)
    assert 'name="item_recommend" value="7" checked' in page
    assert "you chose 7" in page
    assert 'name="why_recommend" rows="3" maxlength="5000" dir="auto" autofocus' in page
    french = client.get(f"/p/{_token(hot)}?score=7&lang=fr").get_data(as_text=True)
    assert "vous avez choisi 7" in french
    for ignored in ("11", "-1", "seven"):
        page = client.get(f"/p/{_token(hot)}?score={ignored}").get_data(as_text=True)
        assert not re.search(r'name="item_recommend" value="\d+" checked', page) and "you chose" not in page
    response = post_form(client, f"/p/{_token(hot)}?score=7", {**_answers(), "why_recommend": "Late by a day."})
    assert response.status_code == 302
