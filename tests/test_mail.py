"""Email goes through a real SMTP server on loopback; every way the server can fail says what happened."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask

from perception import create_app
from perception.mail import (
    MailError,
    MailNotConfigured,
    build_message,
    mail_connection,
    render_mail,
    send_mail,
)
from perception.settings import SettingsError
from tests.mailbox import Mailbox, self_signed_certificate, silent_server, start_mailbox


def mail_app(tmp_path: Path, **settings: object) -> Flask:
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance"), **settings})


def test_a_message_arrives_with_plain_text_and_html(tmp_path: Path, mailbox: Mailbox) -> None:
    app = mail_app(tmp_path, **mailbox.settings)
    message_id = send_mail(
        app,
        "ana@example.com",
        "Votre avis compte",
        "Bonjour Ana, répondez ici.",
        "<p>Bonjour <b>Ana</b>, répondez ici.</p>",
        headers={"List-Unsubscribe": "<https://survey.example.com/u/abc>"},
    )
    (message,) = mailbox.wait_for(1)
    assert message["Message-ID"] == message_id
    assert message["To"] == "ana@example.com"
    assert message["From"] == "Perception <surveys@example.com>"
    assert message["Subject"] == "Votre avis compte"
    assert message["List-Unsubscribe"] == "<https://survey.example.com/u/abc>"
    assert message.get_body(("plain",)).get_content().strip() == "Bonjour Ana, répondez ici."
    assert "<b>Ana</b>" in message.get_body(("html",)).get_content()


def test_a_batch_shares_one_connection(tmp_path: Path, mailbox: Mailbox) -> None:
    app = mail_app(tmp_path, **mailbox.settings)
    with mail_connection(app) as connection:
        for number in range(3):
            connection.send(build_message(app.config["SMTP_FROM"], f"c{number}@example.com", "Hello", "Text"))
    assert len(mailbox.wait_for(3)) == 3
    assert mailbox.connections() == 1


def test_the_invitation_reads_in_the_recipients_language(tmp_path: Path) -> None:
    app = mail_app(tmp_path)
    context = {
        "survey_title": "Acme",
        "url": "https://survey.example.com/r/tok",
        "unsubscribe_url": "https://survey.example.com/u/tok",
        "side": "customer",
        "reminder": False,
        "scores": [],
        "expires_on": "2027-01-31",
    }
    french_text, french_html = render_mail(app, "mail/invitation", "fr", **context)
    english_text, english_html = render_mail(app, "mail/invitation", "en", **context)
    assert "Se désabonner" in french_html and "Unsubscribe" in english_html
    assert "https://survey.example.com/r/tok" in french_text and "https://survey.example.com/u/tok" in english_text
    assert "Acme" in french_text and french_text != english_text
    assert 'lang="fr"' in french_html


def test_a_refused_recipient_is_a_permanent_failure_naming_the_address(tmp_path: Path) -> None:
    with start_mailbox(refused={"gone@example.com": 550, "busy@example.com": 450}) as box:
        app = mail_app(tmp_path, **box.settings)
        with pytest.raises(MailError, match=r"refused the recipient gone@example.com \(550") as refused:
            send_mail(app, "gone@example.com", "Hello", "Text")
        assert refused.value.permanent
        with pytest.raises(MailError, match=r"busy@example\.com") as later:
            send_mail(app, "busy@example.com", "Hello", "Text")
        assert not later.value.permanent
        with mail_connection(app) as connection:  # the connection stays usable after a refusal
            with pytest.raises(MailError):
                connection.send(build_message(app.config["SMTP_FROM"], "gone@example.com", "Hi", "Text"))
            connection.send(build_message(app.config["SMTP_FROM"], "ok@example.com", "Hi", "Text"))
        assert [message["To"] for message in box.wait_for(1)] == ["ok@example.com"]


def test_a_server_that_hangs_fails_after_the_timeout(tmp_path: Path) -> None:
    with silent_server() as (host, port):
        app = mail_app(
            tmp_path, SMTP_HOST=host, SMTP_PORT=port, SMTP_SECURITY="none", SMTP_FROM="s@example.com", SMTP_TIMEOUT=1
        )
        with pytest.raises(MailError, match=rf"the mail server at {host}:{port} did not answer within 1 s") as hung:
            send_mail(app, "ana@example.com", "Hello", "Text")
        assert not hung.value.permanent


def test_a_server_that_is_not_there_is_named(tmp_path: Path) -> None:
    with socket.socket() as unused:  # bound, never listening: connections to it are refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        app = mail_app(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none", SMTP_FROM="s@example.com")
        with pytest.raises(MailError, match=f"cannot reach the mail server at 127.0.0.1:{port}"):
            send_mail(app, "ana@example.com", "Hello", "Text")


def test_the_server_password_is_checked(tmp_path: Path) -> None:
    with start_mailbox(user="perception", password="s3cret") as box:
        send_mail(mail_app(tmp_path, **box.settings), "ana@example.com", "Hello", "Text")
        assert len(box.wait_for(1)) == 1
        wrong = mail_app(tmp_path, **{**box.settings, "SMTP_PASSWORD": "guess"})
        with pytest.raises(MailError, match="refused the user name or password") as refused:
            send_mail(wrong, "ana@example.com", "Hello", "Text")
        assert refused.value.permanent


def test_starttls_verifies_the_server_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = self_signed_certificate(tmp_path)
    with start_mailbox(user="perception", password="s3cret", certificate=certificate) as box:
        app = mail_app(tmp_path, **box.settings)
        with pytest.raises(MailError, match=r"TLS with the mail server at 127\.0\.0\.1") as untrusted:
            send_mail(app, "ana@example.com", "Hello", "Text")
        assert untrusted.value.permanent
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # how an operator trusts a private authority
        send_mail(app, "ana@example.com", "Hello", "Text")
        assert len(box.wait_for(1)) == 1
        plain = mail_app(tmp_path, **{**box.settings, "SMTP_SECURITY": "none"})
        with pytest.raises(MailError):  # the server insists on STARTTLS first
            send_mail(plain, "ana@example.com", "Hello", "Text")


def test_headers_cannot_be_smuggled_through_user_input() -> None:
    message = build_message("s@example.com", "ana@example.com", "Hello\r\nBcc: eve@example.com", "Text")
    assert message["Subject"] == "Hello Bcc: eve@example.com" and message["Bcc"] is None
    with pytest.raises(MailError, match="line break"):
        build_message("s@example.com", "ana@example.com", "Hi", "Text", headers={"X-Note": "a\nBcc: eve@example.com"})
    for address in ("ana", "ana@example", "ana@example.com\nBcc: eve@example.com", "Ana <ana@example.com>", ""):
        with pytest.raises(MailError, match="is not an email address"):
            build_message("s@example.com", address, "Hi", "Text")


def test_without_a_mail_server_sending_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(MailNotConfigured, match="set PERCEPTION_SMTP_HOST"):
        send_mail(mail_app(tmp_path), "ana@example.com", "Hello", "Text")


def test_the_port_follows_the_security_unless_set(tmp_path: Path) -> None:
    base = {"SMTP_HOST": "mail.example.com", "SMTP_FROM": "s@example.com"}
    assert mail_app(tmp_path, **base).config["SMTP_PORT"] == 587
    assert mail_app(tmp_path, **base, SMTP_SECURITY="tls").config["SMTP_PORT"] == 465
    assert mail_app(tmp_path, **base, SMTP_SECURITY="none").config["SMTP_PORT"] == 25
    assert mail_app(tmp_path, **base, SMTP_PORT="2525").config["SMTP_PORT"] == 2525


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SMTP_HOST": "mail.example.com"}, "set PERCEPTION_SMTP_FROM too"),
        ({"SMTP_HOST": "mail.example.com", "SMTP_FROM": "s@example.com", "SMTP_USER": "u"}, "go together"),
        ({"SMTP_SECURITY": "ssl"}, "PERCEPTION_SMTP_SECURITY must be one of none, starttls, tls"),
        ({"SMTP_PORT": "70000"}, "PERCEPTION_SMTP_PORT must be a port number"),
        ({"SMTP_HOST": "smtp://mail.example.com"}, "PERCEPTION_SMTP_HOST must be a host name"),
        ({"SMTP_HOST": "mail.example.com:587"}, "the port goes in PERCEPTION_SMTP_PORT"),
        ({"SMTP_FROM": "surveys"}, "PERCEPTION_SMTP_FROM must be an address"),
        ({"SMTP_TIMEOUT": "0"}, "PERCEPTION_SMTP_TIMEOUT must be more than 0"),
    ],
)
def test_a_bad_mail_setting_stops_the_start(tmp_path: Path, settings: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        mail_app(tmp_path, **settings)
