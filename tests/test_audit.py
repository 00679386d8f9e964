"""The audit log: admins can see who changed accounts, tokens, surveys and waves, and who took data out."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import select

from perception.audit import AuditFilter, events, record
from perception.db import session_scope
from perception.models import AuditEvent
from tests.conftest import PASSWORD, make_account, open_core_wave, post_form, sign_in


def _actions(app: Flask) -> list[tuple[str, str, str]]:
    with session_scope(app) as session:
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(row.actor, row.action, row.target) for row in rows]


def test_an_admin_creating_and_switching_off_an_account_is_logged(app: Flask) -> None:
    admin = sign_in(app, "admin")
    response = post_form(
        admin,
        "/accounts/",
        {"email": "new.lead@example.com", "name": "New", "role": "lead", "language": "fr", "password": PASSWORD},
    )
    assert response.status_code == 302
    with session_scope(app) as session:
        from perception.models import Account

        account_id = session.exec(select(Account.id).where(Account.email == "new.lead@example.com")).one()
    post_form(admin, f"/accounts/{account_id}/active", {}, token_from="/accounts/")
    assert _actions(app) == [
        ("admin@example.com", "account.create", "new.lead@example.com"),
        ("admin@example.com", "account.disable", "new.lead@example.com"),
    ]
    page = admin.get("/audit/?action=account.disable")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "account.disable" in text and "new.lead@example.com" in text
    assert '<span class="chip">account.create</span>' not in text


def test_api_tokens_made_and_revoked_are_logged(app: Flask) -> None:
    admin = sign_in(app, "admin")
    made = post_form(admin, "/accounts/tokens", {"name": "Helpdesk", "scopes": ["reports:read"]})
    assert made.status_code == 201
    with session_scope(app) as session:
        from perception.models import ApiToken

        token_id = session.exec(select(ApiToken.id)).one()
    post_form(admin, f"/accounts/tokens/{token_id}/revoke", {}, token_from="/accounts/tokens")
    post_form(admin, f"/accounts/tokens/{token_id}/revoke", {}, token_from="/accounts/tokens")
    assert [action for _, action, _ in _actions(app)] == ["token.create", "token.revoke"]


def test_opening_and_closing_a_wave_is_logged_and_a_refused_change_is_not(app: Flask) -> None:
    lead = sign_in(app, "lead")
    slug, name = open_core_wave(app)
    wave_page = f"/surveys/{slug}/waves/{name}"
    post_form(lead, f"{wave_page}/close", {}, token_from=wave_page)
    post_form(lead, f"{wave_page}/close", {}, token_from=wave_page)  # closed already: refused
    post_form(lead, f"{wave_page}/open", {}, token_from=wave_page)
    assert _actions(app) == [
        ("lead@example.com", "wave.close", "core / w1"),
        ("lead@example.com", "wave.open", "core / w1"),
    ]


def test_a_responses_export_is_logged_with_who_took_it(app: Flask) -> None:
    lead = sign_in(app, "lead")
    slug, name = open_core_wave(app)
    response = lead.get(f"/surveys/{slug}/waves/{name}/customer.csv")
    assert response.status_code == 200
    assert _actions(app) == [("lead@example.com", "responses.export", "core / w1")]


def test_the_command_line_is_logged_as_such(app: Flask, tmp_path: Path) -> None:
    import yaml

    registries = app.extensions["perception"].registries
    definition = dict(registries.survey_templates["core"].definition, slug="imported")
    survey_file = tmp_path / "survey.yaml"
    survey_file.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["survey", "import", str(survey_file)]).exit_code == 0
    assert runner.invoke(args=["wave", "create", "imported", "q1"]).exit_code == 0
    assert runner.invoke(args=["wave", "open", "imported", "q1"]).exit_code == 0
    logged = _actions(app)
    assert [action for _, action, _ in logged] == ["survey.import", "wave.create", "wave.open"]
    assert all(actor.startswith("command line") for actor, _, _ in logged)


def test_only_admins_read_the_log(app: Flask) -> None:
    for role in ("lead", "leader", "employee"):
        assert sign_in(app, role).get("/audit/").status_code == 403
    assert app.test_client().get("/audit/").status_code == 302


def test_the_log_escapes_what_users_typed_and_filters_by_who_and_date(app: Flask) -> None:
    hostile = '<script>alert("x")</script>'
    with session_scope(app) as session:
        record(session, "someone@example.com", "survey.create", hostile, {"note": hostile})
        record(session, "other@example.com", "survey.create", "plain")
    admin = sign_in(app, "admin")
    page = admin.get("/audit/?actor=SOMEONE").get_data(as_text=True)
    assert hostile not in page and "&lt;script&gt;" in page
    assert "other@example.com" not in page
    assert "plain" in admin.get("/audit/?until=9999-12-31&since=2000-01-01").get_data(as_text=True)
    assert admin.get("/audit/?since=yesterday").status_code == 422
    assert admin.get("/audit/?action=no.such").status_code == 422
    assert "plain" not in admin.get("/audit/?actor=%25").get_data(as_text=True)


def test_the_log_pages_from_newest_to_oldest(app: Flask) -> None:
    with session_scope(app) as session:
        for number in range(105):
            record(session, "someone@example.com", "wave.open", f"survey / wave {number:03d}")
    make_account(app, "admin")
    admin = sign_in(app, "admin")
    first = admin.get("/audit/").get_data(as_text=True)
    assert "wave 104" in first and "wave 004" not in first
    with session_scope(app) as session:
        oldest_shown = events(session, AuditFilter(), 100)[-1].id
    second = admin.get(f"/audit/?before={oldest_shown}").get_data(as_text=True)
    assert "wave 004" in second and "wave 104" not in second


def test_an_action_must_be_dotted_words(app: Flask) -> None:
    with session_scope(app) as session, pytest.raises(ValueError, match="dotted"):
        record(session, None, "Delete everything", "x")
