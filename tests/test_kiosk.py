"""A kiosk: a tablet on a counter where customers answer one after another, with the site fixed by a lead."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import func, select

from perception import create_app
from perception.db import session_scope
from perception.kiosk import KioskError, create_kiosk, kiosk_token, take_turn
from perception.models import (
    AuditEvent,
    CallbackRequest,
    Kiosk,
    Response,
    ResponseSegment,
    SegmentAttribute,
    SegmentValue,
    Wave,
)
from perception.surveys import parse_definition, store_definition
from perception.waves import close_wave, create_wave, open_wave
from tests.conftest import csrf_token, post_form, sign_in

DEFINITION = {
    "slug": "shop",
    "title": {"en": "Your visit", "fr": "Votre visite"},
    "default_language": "fr",
    "items": [
        {"key": "recommend", "dimension": "Integrity", "scale": "nps",
         "customer": {"en": "Would you recommend us?", "fr": "Nous recommanderiez-vous ?"},
         "employee": {"en": "Would customers recommend us?", "fr": "Les clients nous recommanderaient-ils ?"}},
        {"key": "comment", "dimension": "Empathy", "scale": "text", "required": False,
         "customer": {"en": "Anything to add?", "fr": "Autre chose ?"},
         "employee": {"en": "What would customers add?", "fr": "Qu'ajouteraient les clients ?"}},
    ],
    "segments": {"customer": {"site": ["Lyon", "Paris"], "touchpoint": ["counter", "delivery"]}},
}  # fmt: skip
SENDING = "/surveys/shop/waves/w1/sending"


@pytest.fixture
def shop(app_config: dict[str, object]) -> Iterator[Flask]:
    app = create_app({**app_config, "KIOSK_PER_MINUTE": 3})
    with session_scope(app) as session:
        survey = store_definition(
            session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models)
        )
        open_wave(create_wave(session, survey, "w1", kind="hot"))
    yield app
    app.extensions["perception"].engine.dispose()


def set_up(lead: FlaskClient, name: str = "Lyon, front desk", **segments: str) -> tuple[int, str]:
    """The lead sets a kiosk up on the sending page; returns its id and its address path."""
    fields = {f"segment_{key}": value for key, value in segments.items()}
    made = post_form(lead, "/surveys/shop/waves/w1/kiosks", {"name": name, **fields}, token_from=SENDING)
    assert made.status_code == 302, made.get_data(as_text=True)
    kiosk_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = lead.get(made.headers["Location"]).get_data(as_text=True)
    address = re.search(r'id="kiosk-address" class="wide" value="http://localhost(/k/[^"]+)"', page).group(1)
    return kiosk_id, address


def answer(tablet: FlaskClient, address: str, data: dict[str, object], lang: str = "fr"):  # type: ignore[no-untyped-def]
    form_path = f"{address}/answer?lang={lang}"
    return tablet.post(form_path, data={"csrf_token": csrf_token(tablet, form_path), **data})


def links_on(page: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]+)"', page)


def stored_segments(app: Flask) -> list[dict[str, str]]:
    with session_scope(app) as session:
        rows = session.exec(
            select(ResponseSegment.response_id, SegmentAttribute.name, SegmentValue.value)
            .join(SegmentAttribute, SegmentAttribute.id == ResponseSegment.attribute_id)
            .join(SegmentValue, SegmentValue.id == ResponseSegment.value_id)
        ).all()
        responses = session.exec(select(Response.id).order_by(Response.id)).all()
    return [{name: value for rid, name, value in rows if rid == response} for response in responses]


def test_a_lead_sets_up_a_kiosk_and_each_answer_carries_its_site_and_touchpoint(shop: Flask) -> None:
    lead = sign_in(shop, "lead")
    sending = lead.get(SENDING).get_data(as_text=True)
    assert "Kiosks" in sending and 'name="segment_site"' in sending and 'name="segment_touchpoint"' in sending
    kiosk_id, address = set_up(lead, site="Lyon", touchpoint="counter")
    assert re.fullmatch(rf"/k/{kiosk_id}\.[A-Za-z0-9_-]{{22}}", address)

    tablet = shop.test_client()
    start = tablet.get(f"{address}?lang=fr")
    page = start.get_data(as_text=True)
    assert start.status_code == 200 and start.headers["Cache-Control"] == "no-store"
    assert "Votre visite" in page and "Commencer" in page
    # Every link stays in the kiosk: nothing leads a customer to the staff's pages.
    for link in links_on(page):
        assert link.startswith((address, "/static/")), link

    form = tablet.get(f"{address}/answer?lang=fr")
    page = form.get_data(as_text=True)
    assert form.headers["Cache-Control"] == "no-store"
    assert 'autocomplete="off"' in page and "Nous recommanderiez-vous ?" in page
    assert "contact_how" not in page and "contact_address" not in page  # a shared tablet asks for nobody's address
    for link in links_on(page):
        assert link.startswith((address, "/static/")), link

    sent = answer(tablet, address, {"item_recommend": "9", "item_comment": "Très bon accueil"})
    assert sent.status_code == 303 and sent.headers["Location"].startswith(f"{address}/thanks")
    thanks = tablet.get(sent.headers["Location"])
    page = thanks.get_data(as_text=True)
    assert thanks.status_code == 200 and "Merci" in page
    assert f'data-kiosk-home="{address}?lang=fr"' in page and 'data-kiosk-idle="8"' in page
    assert f'<noscript><meta http-equiv="refresh" content="8;url={address}?lang=fr"></noscript>' in page

    assert stored_segments(shop) == [{"site": "Lyon", "touchpoint": "counter"}]
    with session_scope(shop) as session:
        response = session.exec(select(Response)).one()
        assert (response.side, response.invitation_id, response.language) == ("customer", None, "fr")
        assert session.get(Kiosk, kiosk_id).responses == 1
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "kiosk.create")).one()
        assert event.target == "shop / w1 / Lyon, front desk"
        assert json.loads(event.detail) == {"site": "Lyon", "touchpoint": "counter"}
    assert "Lyon, front desk" in lead.get(SENDING).get_data(as_text=True)


def test_a_kiosk_keeps_no_personal_data_even_when_sent_some(shop: Flask) -> None:
    _, address = set_up(sign_in(shop, "lead"), site="Paris")
    tablet = shop.test_client()
    sent = answer(
        tablet, address, {"item_recommend": "2", "contact_how": "email", "contact_address": "ana@example.com"}
    )
    assert sent.status_code == 303
    with session_scope(shop) as session:
        assert session.exec(select(func.count(CallbackRequest.response_id))).one() == 0
    assert stored_segments(shop) == [{"site": "Paris"}]


def test_the_respondent_cannot_choose_the_kiosks_segments(shop: Flask) -> None:
    _, address = set_up(sign_in(shop, "lead"), site="Lyon")
    tablet = shop.test_client()
    with session_scope(shop) as session:
        paris = session.exec(select(SegmentValue.id).where(SegmentValue.value == "Paris")).one()
    answer(tablet, address, {"item_recommend": "7", "segment_site": str(paris), "site": "Paris"})
    assert stored_segments(shop) == [{"site": "Lyon"}]


def test_a_forged_address_finds_no_kiosk_and_a_stopped_one_takes_no_more_answers(shop: Flask) -> None:
    lead = sign_in(shop, "lead")
    kiosk_id, address = set_up(lead)
    tablet = shop.test_client()
    signature = address.split(".", 1)[1]
    for forged in (f"/k/{kiosk_id + 1}.{signature}", f"{address[:-2]}{'AA' if not address.endswith('AA') else 'BB'}"):
        missing = tablet.get(forged)
        assert missing.status_code == 404 and "This kiosk is not set up" in missing.get_data(as_text=True)
        assert "Sign out" not in missing.get_data(as_text=True) and "/login" not in missing.get_data(as_text=True)

    stopped = post_form(lead, f"/surveys/shop/waves/w1/kiosks/{kiosk_id}/stop", {}, token_from=SENDING)
    assert stopped.status_code == 302
    gone = tablet.get(address)
    assert gone.status_code == 410 and "This kiosk is stopped" in gone.get_data(as_text=True)
    assert tablet.post(f"{address}/answer", data={"item_recommend": "9"}).status_code == 410
    with session_scope(shop) as session:
        assert session.exec(select(func.count(Response.id))).one() == 0
        assert session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all() == ["kiosk.create", "kiosk.stop"]


def test_a_kiosk_takes_at_most_its_responses_per_minute(shop: Flask) -> None:
    _, address = set_up(sign_in(shop, "lead"))
    tablet = shop.test_client()
    statuses = [answer(tablet, address, {"item_recommend": str(value)}).status_code for value in (5, 6, 7, 8)]
    assert statuses == [303, 303, 303, 429]  # KIOSK_PER_MINUTE is 3 here
    refused = answer(tablet, address, {"item_recommend": "9"})
    assert "One moment, please" in refused.get_data(as_text=True) or "Un instant" in refused.get_data(as_text=True)
    with session_scope(shop) as session:
        assert session.exec(select(func.count(Response.id))).one() == 3


def test_the_limit_counts_by_the_minute_and_holds_for_every_process(shop: Flask) -> None:
    with session_scope(shop) as session:
        kiosk = create_kiosk(session, session.exec(select(Wave)).one(), "Counter")
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    with session_scope(shop) as session:
        kiosk = session.get(Kiosk, kiosk.id)
        turns = [take_turn(session, kiosk, 2, start + timedelta(seconds=s)) for s in (0, 10, 20, 59)]
        assert turns == [True, True, False, False]
        assert take_turn(session, kiosk, 2, start + timedelta(seconds=61))  # a new minute
    # Another connection (another process) sees the same count.
    with session_scope(shop) as session:
        assert session.get(Kiosk, kiosk.id).window_count == 1
        assert session.get(Kiosk, kiosk.id).responses == 3


def test_segment_values_and_names_are_checked_when_setting_up(shop: Flask) -> None:
    lead = sign_in(shop, "lead")
    refused = post_form(
        lead, "/surveys/shop/waves/w1/kiosks", {"name": "Desk", "segment_site": "Marseille"}, token_from=SENDING
    )
    assert refused.status_code == 422 and "Not a valid choice" in refused.get_data(as_text=True)
    nameless = post_form(lead, "/surveys/shop/waves/w1/kiosks", {"name": " "}, token_from=SENDING)
    assert nameless.status_code == 422
    with session_scope(shop) as session:
        wave = session.exec(select(Wave)).one()
        with pytest.raises(KioskError, match="'Marseille' is not a value of site"):
            create_kiosk(session, wave, "Desk", {"site": "Marseille"})
        with pytest.raises(KioskError, match="no customer segment 'department'"):
            create_kiosk(session, wave, "Desk", {"department": "Sales"})
        assert session.exec(select(func.count(Kiosk.id))).one() == 0
    assert sign_in(shop, "leader").post("/surveys/shop/waves/w1/kiosks", data={"name": "x"}).status_code in (400, 403)


def test_a_kiosk_of_a_closed_wave_shows_a_notice_that_keeps_checking(shop: Flask) -> None:
    _, address = set_up(sign_in(shop, "lead"))
    with session_scope(shop) as session:
        close_wave(session.exec(select(Wave)).one())
    tablet = shop.test_client()
    for path in (f"{address}?lang=en", f"{address}/answer?lang=en"):
        page = tablet.get(path).get_data(as_text=True)
        assert "This survey is not open" in page
        assert 'data-kiosk-idle="60"' in page  # it reloads the start, which shows the form once the wave opens
    assert tablet.post(f"{address}/answer", data={"item_recommend": "9"}).status_code == 200
    with session_scope(shop) as session:
        assert session.exec(select(func.count(Response.id))).one() == 0


def test_the_start_screen_stays_put_and_other_pages_come_back_to_it(shop: Flask) -> None:
    _, address = set_up(sign_in(shop, "lead"))
    tablet = shop.test_client()
    assert 'data-kiosk-idle="0"' in tablet.get(f"{address}?lang=fr").get_data(as_text=True)
    english = tablet.get(f"{address}?lang=en").get_data(as_text=True)
    assert 'data-kiosk-idle="60"' in english and f'data-kiosk-home="{address}?lang=fr"' in english
    form = tablet.get(f"{address}/answer?lang=en").get_data(as_text=True)
    assert 'data-kiosk-idle="60"' in form
    assert f'<noscript><meta http-equiv="refresh" content="300;url={address}?lang=fr"></noscript>' in form


def test_launching_the_kiosk_on_the_lead_s_device_signs_the_lead_out(shop: Flask) -> None:
    lead = sign_in(shop, "lead")
    kiosk_id, address = set_up(lead)
    launched = post_form(lead, f"/surveys/shop/waves/w1/kiosks/{kiosk_id}/launch", {}, token_from=SENDING)
    assert launched.status_code == 302 and launched.headers["Location"] == f"{address}?lang=fr"
    assert lead.get(SENDING).status_code == 302  # to the sign-in page: the tablet holds no lead's session
    assert lead.get(launched.headers["Location"]).status_code == 200


def test_the_manifest_opens_the_kiosk_full_screen(shop: Flask) -> None:
    _, address = set_up(sign_in(shop, "lead"))
    manifest = shop.test_client().get(f"{address}/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json(force=True)
    assert body["display"] == "fullscreen" and body["start_url"] == f"{address}?lang=fr" and body["scope"] == address
    assert (body["dir"], body["lang"]) == ("auto", "en")  # the names' direction comes from their own text


def test_without_the_kiosk_channel_there_is_no_kiosk(shop: Flask) -> None:
    lead = sign_in(shop, "lead")
    _, address = set_up(lead)
    shop.extensions["perception"].registries.channels.pop("kiosk")
    assert shop.test_client().get(address).status_code == 404
    assert "Kiosks" not in lead.get(SENDING).get_data(as_text=True)


def test_the_kiosk_address_is_signed_with_the_secret_key() -> None:
    assert kiosk_token("one secret", 7) != kiosk_token("another secret", 7)
    assert kiosk_token("one secret", 7).startswith("7.")
    assert kiosk_token("one secret", 7) != kiosk_token("one secret", 8)
