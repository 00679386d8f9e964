"""Leads import customers and employees from CSV, all lines or none; people can unsubscribe and be forgotten."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import func, select

from perception.contacts import (
    ContactError,
    contact_counts,
    import_contacts,
    normalise_phone,
    parse_mapping,
    unsubscribe_token,
)
from perception.db import session_scope
from perception.imports import ImportRefused
from perception.models import Contact, ContactSegment, Response
from perception.surveys import parse_definition, store_definition
from tests.conftest import csrf_token, post_form, sign_in

DEFINITION = {
    "slug": "bank",
    "title": {"en": "Bank"},
    "items": [{"key": "easy", "dimension": "Time and Effort", "scale": "ces",
               "customer": {"en": "Easy?"}, "employee": {"en": "Do customers find it easy?"}}],
    "segments": {
        "employee": {"department": ["Support", "Sales"]},
        "customer": {"region": ["North", "South"], "channel": ["Web", "Shop"]},
    },
}  # fmt: skip

GOOD = (
    "E-mail;Mobile;Langue;Region;Notes\n"
    "ana@example.com;+33 6 12 34 56 78;fr;north;VIP\n"
    "bob@example.com;;English;South;\n"
    ";0044 7700 900123;;;\n"
    "ANA@example.com;;;South;merged with line 2\n"
)
MAPPING = {"email": "E-mail", "phone": "Mobile", "language": "Langue", "segment:region": "Region"}


@pytest.fixture
def bank(app: Flask) -> None:
    with session_scope(app) as session:
        store_definition(session, parse_definition(DEFINITION, app.extensions["perception"].registries.scoring_models))


def contacts(app: Flask) -> dict[str, tuple[str | None, str, dict[str, str]]]:
    with session_scope(app) as session:
        found = {}
        for contact in session.exec(select(Contact)).all():
            segments = session.exec(select(ContactSegment).where(ContactSegment.contact_id == contact.id)).all()
            found[contact.email or contact.phone] = (
                contact.phone,
                contact.language,
                {segment.name: segment.value for segment in segments},
            )
        return found


def run_import(app: Flask, text: str | bytes, mapping=MAPPING, kind: str = "customer"):  # type: ignore[no-untyped-def]
    data = text.encode("utf-8") if isinstance(text, str) else text
    with session_scope(app) as session:
        return import_contacts(session, kind, data, mapping)


def test_a_lead_imports_customers_with_a_column_mapping(app: Flask, bank: None) -> None:
    summary = run_import(app, GOOD)
    assert (summary.created, summary.updated, summary.merged_lines) == (3, 0, 1)
    assert summary.ignored_columns == ("Notes",)
    assert contacts(app) == {
        "ana@example.com": ("+33612345678", "fr", {"region": "South"}),
        "bob@example.com": (None, "en", {"region": "South"}),
        "+447700900123": ("+447700900123", "en", {}),
    }


def test_importing_again_updates_people_instead_of_duplicating_them(app: Flask, bank: None) -> None:
    run_import(app, GOOD)
    summary = run_import(app, "email,phone,region\nbob@example.com,+33 7 00 00 00 01,North\nnew@example.com,,\n", None)
    assert (summary.created, summary.updated) == (1, 1)
    found = contacts(app)
    assert found["bob@example.com"] == ("+33700000001", "en", {"region": "North"})
    assert found["ana@example.com"] == ("+33612345678", "fr", {"region": "South"})
    assert len(found) == 4


def test_every_bad_line_is_named_and_nothing_is_stored(app: Flask, bank: None) -> None:
    text = (
        "E-mail;Mobile;Langue;Region\n"
        "ana@example.com;;fr;North\n"
        "not-an-address;;;\n"
        "bob@example.com;06 12 34 56 78;;\n"
        "carl@example.com;;de;\n"
        "dan@example.com;;;East\n"
        ";;;\n"
        "eve@example.com;;\n"
        ";;;North\n"
    )
    with pytest.raises(ImportRefused) as refused:
        run_import(app, text)
    assert refused.value.problems == [
        "line 3: 'not-an-address' is not an email address",
        "line 4: '06 12 34 56 78' is not a phone number in international form, like +33 6 12 34 56 78",
        "line 5: 'de' is not a language perception speaks (en or fr)",
        "line 6: 'East' is not a value of region (it has: North, South)",
        "line 8: 3 cells where the header names 4",
        "line 9: neither an email nor a phone number",
    ]
    assert contacts(app) == {}


def test_ten_thousand_bad_lines_are_all_reported(app: Flask, bank: None) -> None:
    lines = ["email,phone"] + [f"good{n}@example.com," for n in range(100)] + [f"bad{n},," for n in range(10_000)]
    with pytest.raises(ImportRefused) as refused:
        run_import(app, "\n".join(lines), None)
    assert len(refused.value.problems) == 10_000
    assert refused.value.problems[0] == "line 102: 3 cells where the header names 2"
    assert contacts(app) == {}


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(app: Flask, bank: None) -> None:
    with pytest.raises(ImportRefused, match="line 3: byte 0xe9 is not UTF-8"):
        run_import(app, "email\nana@example.com\nrené@example.com\n".encode("latin-1"), None)


@pytest.mark.parametrize(
    ("text", "mapping", "message"),
    [
        ("Mail;Region\nana@example.com;North\n", MAPPING, "line 1: no column 'E-mail' \\(for email\\)"),
        ("name,region\nAna,North\n", None, "line 1: no email or phone column"),
        ("email,city\nana@example.com,Paris\n", {"email": "email", "segment:city": "city"},
         "no survey declares the segment 'city'"),
        ("", None, "the file is empty"),
        ("email\n", None, "the file has a header but no contacts"),
    ],
)  # fmt: skip
def test_missing_columns_and_empty_files_are_refused(
    app: Flask, bank: None, text: str, mapping: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(ImportRefused, match=message):
        run_import(app, text, mapping)


def test_one_phone_cannot_belong_to_two_people(app: Flask, bank: None) -> None:
    text = "email,phone\nana@example.com,+33612345678\nbob@example.com,+33612345678\n"
    with pytest.raises(ImportRefused, match=re.escape("line 3: +33612345678 is also the phone of ana@example.com")):
        run_import(app, text, None)
    run_import(app, "email,phone\nana@example.com,+33612345678\n", None)
    with pytest.raises(ImportRefused, match="line 2: \\+33612345678 is the phone of a contact with another email"):
        run_import(app, "email,phone\nbob@example.com,+33612345678\n", None)


def test_employee_segments_are_checked_against_the_employee_side(app: Flask, bank: None) -> None:
    run_import(app, "email,department\nzoe@example.com,support\n", None, kind="employee")
    assert contacts(app)["zoe@example.com"][2] == {"department": "Support"}
    with pytest.raises(ImportRefused, match="no survey declares the segment 'region'"):
        run_import(
            app, "email,region\nyann@example.com,North\n", {"email": "email", "segment:region": "region"}, "employee"
        )


def test_phone_numbers_and_mappings_are_checked() -> None:
    assert normalise_phone("+1 (415) 555-0100") == normalise_phone("0014155550100") == "+14155550100"
    with pytest.raises(ContactError):
        normalise_phone("+0123456789")
    assert parse_mapping(["email = Courriel", "segment:region=Région"]) == {
        "email": "Courriel",
        "segment:region": "Région",
    }
    for bad in (["email"], ["name=Name"], ["email=A", "email=B"], ["segment:=X"]):
        with pytest.raises(ContactError):
            parse_mapping(bad)


def test_the_lead_imports_from_the_contacts_page_and_sees_every_bad_line(app: Flask, bank: None) -> None:
    import io

    lead = sign_in(app, "lead")
    page = lead.get("/contacts")
    assert page.status_code == 200
    token = csrf_token(lead, "/contacts")
    form = {"csrf_token": token, "kind": "customer", "survey": "bank", "language": "fr",
            "mapping": "email=E-mail\nphone=Mobile\nsegment:region=Region"}  # fmt: skip
    bad = lead.post(
        "/contacts/import",
        data={**form, "file": (io.BytesIO(b"E-mail,Mobile,Region\nana@example.com,,West\n"), "c.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "line 2: &#39;West&#39; is not a value of region" in bad.get_data(as_text=True)
    good = lead.post(
        "/contacts/import",
        data={**form, "file": (io.BytesIO(b"E-mail,Mobile,Region\nana@example.com,,North\n"), "c.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Imported 1 contacts: 1 new" in good.get_data(as_text=True)
    assert contacts(app) == {"ana@example.com": (None, "fr", {"region": "North"})}
    assert sign_in(app, "leader").get("/contacts").status_code == 403


def test_a_contact_unsubscribes_from_the_link_at_once(app: Flask, bank: None) -> None:
    run_import(app, GOOD)
    with session_scope(app) as session:
        ana = session.exec(select(Contact).where(Contact.email == "ana@example.com")).one()
    token = unsubscribe_token(app.config["SECRET_KEY"], ana.id)
    client = app.test_client()
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.get(Contact, ana.id).unsubscribed_at is None  # a mail scanner opening the link changes nothing
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})  # as a mail program posts it
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    with session_scope(app) as session:
        assert session.get(Contact, ana.id).unsubscribed_at is not None
        assert [row.unsubscribed for row in contact_counts(session)] == [1, 0]
    # Change a leading character of the signature: the last one of base64 may carry only padding bits, so
    # changing it could leave the decoded bytes, and so a signature checked on them, as they were.
    row_id, _, signature = token.partition(".")
    forged = f"{row_id}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert forged != token
    assert client.get(f"/u/{forged}").status_code == 404
    assert client.post(f"/u/{ana.id + 1}.{token.split('.')[1]}").status_code == 404


def test_forgetting_a_person_keeps_the_anonymous_counts(app: Flask, bank: None, core_wave: tuple[str, str]) -> None:
    from datetime import date

    from perception.models import Wave

    run_import(app, GOOD)
    with session_scope(app) as session:
        wave = session.exec(select(Wave)).first()
        session.add(Response(wave_id=wave.id, side="customer", submitted_on=date(2027, 1, 4), language="fr"))
    lead = sign_in(app, "lead")
    response = post_form(lead, "/contacts/forget", {"address": "ANA@example.com", "kind": ""}, token_from="/contacts")
    assert response.status_code == 302
    with session_scope(app) as session:
        assert session.exec(select(Contact).where(Contact.email == "ana@example.com")).first() is None
        assert session.exec(select(func.count(ContactSegment.contact_id))).one() == 1  # bob's only
        assert session.exec(select(func.count(Response.id))).one() == 1
    missing = post_form(lead, "/contacts/forget", {"address": "ana@example.com", "kind": ""}, token_from="/contacts")
    assert missing.status_code == 404


def test_the_contacts_commands_import_and_forget(app: Flask, bank: None, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text("Mail,Dept\nzoe@example.com,Sales\nzoe@example.com,Support\n", encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "contacts",
            "import",
            str(path),
            "--kind",
            "employee",
            "--map",
            "email=Mail",
            "--map",
            "segment:department=Dept",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "1 new, 0 updated, 1 duplicate lines merged" in result.output
    assert contacts(app)["zoe@example.com"][2] == {"department": "Support"}
    path.write_text("Mail\nnobody\n", encoding="utf-8")
    refused = runner.invoke(args=["contacts", "import", str(path), "--kind", "employee", "--map", "email=Mail"])
    assert refused.exit_code == 1 and "line 2: 'nobody' is not an email address" in refused.output
    forgotten = runner.invoke(args=["contacts", "forget", "zoe@example.com"])
    assert forgotten.exit_code == 0 and contacts(app) == {}


def test_imports_and_erasures_are_audited_with_counts_and_no_personal_data(app: Flask, bank: None) -> None:
    import io
    import json

    from perception.models import AuditEvent

    lead = sign_in(app, "lead")
    form = {"csrf_token": csrf_token(lead, "/contacts"), "kind": "customer", "survey": "bank", "language": "en",
            "mapping": "\n".join(f"{field}={column}" for field, column in MAPPING.items())}  # fmt: skip
    imported = lead.post(
        "/contacts/import",
        data={**form, "file": (io.BytesIO(GOOD.encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 302
    refused = lead.post(
        "/contacts/import",
        data={**form, "file": (io.BytesIO(b"E-mail\nnobody\n"), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422  # nothing imported, nothing logged
    forgotten = post_form(lead, "/contacts/forget", {"address": "ana@example.com", "kind": ""}, token_from="/contacts")
    assert forgotten.status_code == 302
    runner = app.test_cli_runner()
    assert runner.invoke(args=["contacts", "forget", "+447700900123"]).exit_code == 0

    with session_scope(app) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        logged = [(event.actor, event.action, event.target, json.loads(event.detail)) for event in events]
    assert logged[-3:] == [
        ("lead@example.com", "contacts.import", "customer contacts",
         {"created": 3, "updated": 0, "merged": 1, "survey": "bank"}),
        ("lead@example.com", "contacts.forget", "customer contact", {"count": 1}),
        (logged[-1][0], "contacts.forget", "customer contact", {"count": 1}),
    ]  # fmt: skip
    assert logged[-1][0].startswith("command line")
    everything = " ".join(f"{event.actor} {event.target} {event.detail}" for event in events)
    for personal in ("ana@", "bob@", "7700", "+44", "+33", "people.csv"):
        assert personal not in everything


def test_a_command_line_import_is_audited(app: Flask, bank: None, tmp_path: Path) -> None:
    from perception.models import AuditEvent

    path = tmp_path / "staff.csv"
    path.write_text("Mail,Dept\nzoe@example.com,Sales\nyan@example.com,Support\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=[
            "contacts",
            "import",
            str(path),
            "--kind",
            "employee",
            "--map",
            "email=Mail",
            "--map",
            "segment:department=Dept",
        ]
    )
    assert result.exit_code == 0, result.output
    with session_scope(app) as session:
        event = session.exec(select(AuditEvent)).one()
    assert (event.action, event.target, event.detail) == (
        "contacts.import", "employee contacts", '{"created": 2, "merged": 0, "updated": 0}'
    )  # fmt: skip
    assert event.actor.startswith("command line") and "zoe" not in event.detail
