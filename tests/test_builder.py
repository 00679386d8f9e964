"""The builder: a lead creates and edits a mirrored survey in the browser's forms, without JavaScript,
previews each side in each language, and moves surveys in and out as files."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import func, select

from perception.db import session_scope
from perception.models import Response
from perception.surveys import items_of, segments_of
from perception.waves import find_survey
from tests.conftest import csrf_token, open_core_wave


def _row(index: int, key: str, scale: str = "likert5", **extra: str) -> dict[str, str]:
    p = f"items-{index}-"
    row = {
        p + "key": key,
        p + "dimension": "Effort",
        p + "scale": scale,
        p + "required": "on",
        p + "customer_en": f"Customers: {key}?",
        p + "customer_fr": f"Clients : {key} ?",
        p + "employee_en": f"Staff: {key}?",
        p + "employee_fr": f"Salariés : {key} ?",
    }
    row.update({p + name: value for name, value in extra.items()})
    return row


def _post(lead: FlaskClient, path: str, rows: list[dict[str, str]], action: str = "save", **head: str) -> Any:
    data: dict[str, str] = {"csrf_token": csrf_token(lead, "/surveys/new"), "action": action, "count": str(len(rows))}
    data.update({"slug": "mirror", "title_en": "Mirror", "title_fr": "Miroir", "default_language": "en", **head})
    for row in rows:
        data.update(row)
    return lead.post(path, data=data)


def _keys(page: str) -> list[str]:
    return re.findall(r'name="items-\d+-key" value="([^"]*)"', page)


def test_a_lead_builds_a_survey_from_scratch(app: Flask, lead: FlaskClient) -> None:
    page = lead.get("/surveys/build?slug=mirror").get_data(as_text=True)
    assert _keys(page) == [""] and 'value="mirror"' in page
    rows = [
        _row(0, "ease"),
        _row(1, "recommend", "nps", why="on"),
        _row(2, "channel", "choice", options_en="Phone\nEmail", options_fr="Téléphone\nCourriel", required=""),
    ]
    added = _post(lead, "/surveys/build", rows, action="add").get_data(as_text=True)
    assert _keys(added) == ["ease", "recommend", "channel", ""]
    assert _keys(_post(lead, "/surveys/build", rows, action="up-1").get_data(as_text=True)) == [
        "recommend", "ease", "channel",
    ]  # fmt: skip
    assert _keys(_post(lead, "/surveys/build", rows, action="down-0").get_data(as_text=True)) == [
        "recommend", "ease", "channel",
    ]  # fmt: skip
    assert _keys(_post(lead, "/surveys/build", rows, action="remove-1").get_data(as_text=True)) == ["ease", "channel"]
    with session_scope(app) as session:
        assert find_survey(session, "mirror") is None  # nothing is stored before "Save"

    saved = _post(lead, "/surveys/build", rows)
    assert saved.status_code == 302 and saved.location.endswith("/surveys/mirror/edit")
    with session_scope(app) as session:
        items = items_of(session, find_survey(session, "mirror"))
        assert [(item.key, item.scale, item.required, item.why) for item in items] == [
            ("ease", "likert5", True, False),
            ("recommend", "nps", True, True),
            ("channel", "choice", False, False),
        ]
        assert items[2].options == [{"en": "Phone", "fr": "Téléphone"}, {"en": "Email", "fr": "Courriel"}]
    page = lead.get("/surveys/mirror/edit").get_data(as_text=True)
    assert _keys(page) == ["ease", "recommend", "channel"]
    assert "Customers: ease?" in page and "Salariés : ease ?" in page  # both sides, both languages


def test_the_builder_refuses_a_survey_with_clear_messages_and_keeps_what_was_typed(
    app: Flask, lead: FlaskClient
) -> None:
    rows = [_row(0, "ease"), _row(1, "ease", "stars"), _row(2, "third", customer_en="")]
    refused = _post(lead, "/surveys/build", rows)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "The survey was not saved" in page
    assert "item 2 (ease): key &#39;ease&#39; is used by an earlier item; keys must be unique" in page
    assert "item 2 (ease): scale &#39;stars&#39; is not one of" in page
    assert "item 3 (third): customer needs a wording in the default language (en)" in page
    assert 'href="#item-1"' in page and 'href="#item-2"' in page
    assert _keys(page) == ["ease", "ease", "third"]
    with session_scope(app) as session:
        assert find_survey(session, "mirror") is None


def test_editing_an_answered_survey_says_that_a_new_version_starts(app: Flask, lead: FlaskClient) -> None:
    open_core_wave(app)
    page = lead.get("/surveys/core/edit").get_data(as_text=True)
    form = dict(re.findall(r'name="(items-\d+-[a-z_]+)" value="([^"]*)"', page))
    form.update(re.findall(r'name="(items-\d+-[a-z_]+)"[^>]*>([^<]*)</textarea>', page))
    form.update(re.findall(r'<select id="(items-\d+-scale)"[\s\S]*?value="([a-z0-9]+)" selected', page))
    form.update({key.replace("-key", "-required"): "on" for key in list(form) if key.endswith("-key")})
    from tests.conftest import post_form

    respondent = app.test_client()
    with session_scope(app) as session:
        from perception.waves import find_wave

        token = find_wave(session, find_survey(session, "core"), "w1").public_token
    answers = {"item_recommend": 9, "item_satisfaction": 4, "item_effort": 6}
    assert post_form(respondent, f"/p/{token}", answers).status_code == 302
    form["items-0-customer_en"] = "How likely are you to recommend us to a friend?"
    rows = [{key: value for key, value in form.items()}]
    saved = _post(lead, "/surveys/core/edit", rows, **{"count": "4", "title_en": "Core", "title_fr": "Essentiel"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    page = lead.get(saved.location).get_data(as_text=True)
    assert "Saved as version 2" in page
    with session_scope(app) as session:
        assert session.exec(select(func.count(Response.id))).one() == 1


def test_the_preview_shows_each_side_in_each_language_and_records_nothing(app: Flask, lead: FlaskClient) -> None:
    open_core_wave(app)
    for side, language, wording in [
        ("customer", "en", "How likely are you to recommend our company"),
        ("customer", "fr", "Quelle est la probabilité que vous recommandiez"),
        ("employee", "en", "How likely do you think our customers are to recommend us"),
        ("employee", "fr", "Selon vous, dans quelle mesure nos clients recommanderaient-ils"),
    ]:
        page = lead.get(f"/surveys/core/preview/{side}?lang={language}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert wording in text and 'name="item_recommend"' in text
    path = "/surveys/core/preview/customer?lang=en"
    checked = lead.post(
        path,
        data={"csrf_token": csrf_token(lead, path), "item_recommend": 9, "item_satisfaction": 4, "item_effort": 6},
    )
    assert "in a wave, they would now be recorded" in checked.get_data(as_text=True)
    refused = lead.post(path, data={"csrf_token": csrf_token(lead, path), "item_recommend": 12})
    assert refused.status_code == 422 and "error-summary" in refused.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.exec(select(func.count(Response.id))).one() == 0


def test_a_survey_goes_out_to_a_file_and_back_in(app: Flask, lead: FlaskClient) -> None:
    import io

    open_core_wave(app)
    exported = lead.get("/surveys/core/export").get_data(as_text=True).replace("slug: core", "slug: core-copy")
    data = {"csrf_token": csrf_token(lead, "/surveys/new"), "file": (io.BytesIO(exported.encode()), "core.yaml")}
    imported = lead.post("/surveys/import", data=data, content_type="multipart/form-data")
    assert imported.status_code == 302 and imported.location.endswith("/surveys/core-copy/edit")
    bad = exported.replace("slug: core-copy", "slug: other").replace("scale: nps", "scale: stars")
    data = {"csrf_token": csrf_token(lead, "/surveys/new"), "file": (io.BytesIO(bad.encode()), "bad.yaml")}
    refused = lead.post("/surveys/import", data=data, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "scale &#39;stars&#39; is not one of" in refused.get_data(as_text=True)


def test_only_leads_build_surveys(app: Flask, leader: FlaskClient) -> None:
    assert leader.get("/surveys/build").status_code == 403
    open_core_wave(app)
    assert leader.get("/surveys/core/edit").status_code == 403
    assert leader.get("/surveys/core/preview/customer").status_code == 200


def test_a_lead_declares_segments_in_the_builder_and_staff_choose_them_from_lists(
    app: Flask, lead: FlaskClient
) -> None:
    rows = [_row(0, "ease")]
    staff = "department: Sales, Support\nsite: Paris, Lyon"
    refused = _post(lead, "/surveys/build", rows, segments_employee="department Sales\n" + staff)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Staff segments, line 1: write the attribute" in page and "site: Paris, Lyon</textarea>" in page
    twice = _post(lead, "/surveys/build", rows, segments_employee=staff + "\nsite: Nantes")
    assert "Staff segments, line 3: site is already declared." in twice.get_data(as_text=True)
    empty = _post(lead, "/surveys/build", rows, segments_customer="region:")
    assert "segments.customer.region must list its allowed values" in empty.get_data(as_text=True)
    with session_scope(app) as session:
        assert find_survey(session, "mirror") is None

    saved = _post(lead, "/surveys/build", rows, segments_employee=staff, segments_customer="region: North, South")
    assert saved.status_code == 302
    with session_scope(app) as session:
        assert segments_of(session, find_survey(session, "mirror")) == {
            "customer": {"region": ("North", "South")},
            "employee": {"department": ("Sales", "Support"), "site": ("Paris", "Lyon")},
        }
    assert f"{staff}</textarea>" in lead.get("/surveys/mirror/edit").get_data(as_text=True)
    preview = lead.get("/surveys/mirror/preview/employee?lang=en").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="segment_site"', preview) and ">\u2068Lyon\u2069</option>" in preview


def test_a_segment_value_that_answers_carry_cannot_be_removed_in_the_builder(app: Flask, lead: FlaskClient) -> None:
    from perception.models import SegmentValue
    from perception.waves import create_wave, issue_links, open_wave
    from tests.conftest import post_form

    staff = "department: Sales, Support"
    assert _post(lead, "/surveys/build", [_row(0, "ease")], segments_employee=staff).status_code == 302
    with session_scope(app) as session:
        wave = create_wave(session, find_survey(session, "mirror"), "w1")
        open_wave(wave)
        token = issue_links(session, wave, "employee", 1, 30)[0].token
        support = session.exec(select(SegmentValue.id).where(SegmentValue.value == "Support")).one()
    answered = post_form(app.test_client(), f"/r/{token}", {"item_ease": 4, "segment_department": str(support)})
    assert answered.status_code == 302

    refused = _post(lead, "/surveys/mirror/edit", [_row(0, "ease")], segments_employee="department: Sales")
    assert refused.status_code == 422
    assert "value &#39;Support&#39; is carried by responses; it cannot be removed" in refused.get_data(as_text=True)
    kept = _post(lead, "/surveys/mirror/edit", [_row(0, "ease")], segments_employee=staff + ", Finance")
    assert kept.status_code == 302
    with session_scope(app) as session:
        assert segments_of(session, find_survey(session, "mirror"))["employee"] == {
            "department": ("Sales", "Support", "Finance")
        }
