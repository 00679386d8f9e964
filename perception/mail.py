"""Email: HTML and plain text in the reader's language, through the SMTP server of the settings.

One message, from any feature (a request, a command or a task)::

    from perception.mail import render_mail, send_mail

    text, html = render_mail(app, "mail/idea_answered", "fr", idea=idea)  # templates/mail/idea_answered.txt, .html
    send_mail(app, "ana@example.com", subject, text, html)

Many messages (a wave's invitations) share one connection, so the server sees one login per batch::

    with mail_connection(app) as connection:
        for message in messages:
            connection.send(message)  # built with build_message()

Every failure is a ``MailError`` that says what happened and where, and whether trying again later
can help (``permanent`` is True when the server refused for good, e.g. an unknown recipient). A
server that does not answer fails after ``PERCEPTION_SMTP_TIMEOUT`` seconds instead of hanging the
caller.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import Flask, render_template
from flask_babel import force_locale

from perception.types import LANGUAGES

MAX_SUBJECT_LENGTH = 250


class MailError(RuntimeError):
    """A message could not be sent. ``permanent``: the server refused it for good; retrying won't help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailNotConfigured(MailError):
    """No mail server is set (``PERCEPTION_SMTP_HOST``)."""

    def __init__(self) -> None:
        super().__init__(
            "no mail server is configured: set PERCEPTION_SMTP_HOST and PERCEPTION_SMTP_FROM", permanent=True
        )


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    security: str
    user: str
    password: str
    sender: str
    timeout: float

    @classmethod
    def of(cls, app: Flask) -> MailSettings:
        config = app.config
        return cls(
            host=config.get("SMTP_HOST", ""),
            port=int(config.get("SMTP_PORT", 25)),
            security=config.get("SMTP_SECURITY", "starttls"),
            user=config.get("SMTP_USER", ""),
            password=config.get("SMTP_PASSWORD", ""),
            sender=config.get("SMTP_FROM", ""),
            timeout=float(config.get("SMTP_TIMEOUT", 30.0)),
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def mail_configured(app: Flask) -> bool:
    """True when the settings name a mail server, so features can offer email or say why not."""
    return bool(app.config.get("SMTP_HOST"))


def check_address(address: str) -> str:
    """The address alone (``ana@example.com``), or MailError saying why it cannot receive mail."""
    value = (address or "").strip()
    _, parsed = parseaddr(value)
    local, _, domain = parsed.rpartition("@")
    if (
        not local
        or not domain
        or parsed != value
        or "." not in domain.strip(".")
        or any(character.isspace() or ord(character) < 32 for character in value)
        or len(value) > 254
    ):
        raise MailError(f"{address!r} is not an email address", permanent=True)
    return value


def build_message(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A message with a plain-text body and, when given, an HTML alternative.

    Header values may not hold line breaks: a subject or header made from user input cannot add
    headers of its own.
    """
    recipient = check_address(to)
    subject = " ".join(subject.split())
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise MailError(f"a subject needs 1 to {MAX_SUBJECT_LENGTH} characters", permanent=True)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        if any(character in str(value) for character in "\r\n") or any(character in name for character in ":\r\n "):
            raise MailError(f"header {name!r} has a line break or a bad name", permanent=True)
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def render_mail(app: Flask, name: str, language: str, **context: Any) -> tuple[str, str]:
    """The plain text and HTML of ``templates/NAME.txt`` and ``NAME.html``, translated into ``language``.

    Works inside or outside a request: a task sends in the recipient's language, not the sender's.
    """
    if language not in LANGUAGES:
        language = "en"
    with app.app_context(), force_locale(language):
        return render_template(f"{name}.txt", **context), render_template(f"{name}.html", **context)


def _describe(error: smtplib.SMTPResponseException) -> str:
    reply = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
    return f"{error.smtp_code} {' '.join(str(reply).split())}"


def _timed_out(error: BaseException) -> bool:
    """smtplib reports a read that timed out as a dropped connection; the cause tells them apart."""
    return isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError)


class MailConnection:
    """One connection to the mail server, opened on the first message and reused for the next ones.

    After a failure that leaves the connection unusable (a timeout, a dropped connection) it is
    closed, and the next message opens a new one.
    """

    def __init__(self, settings: MailSettings) -> None:
        if not settings.host:
            raise MailNotConfigured()
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        try:
            if settings.security == "tls":
                smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            try:
                if settings.security == "starttls":
                    smtp.starttls(context=context)
                if settings.user:
                    smtp.login(settings.user, settings.password)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPNotSupportedError:
            raise MailError(
                f"the mail server at {settings.where} does not offer STARTTLS; "
                "set PERCEPTION_SMTP_SECURITY to tls or none",
                permanent=True,
            ) from None
        except smtplib.SMTPAuthenticationError as error:
            raise MailError(
                f"the mail server at {settings.where} refused the user name or password ({_describe(error)})",
                permanent=True,
            ) from None
        except smtplib.SMTPResponseException as error:
            raise MailError(
                f"the mail server at {settings.where} refused the connection ({_describe(error)})",
                permanent=False,
            ) from None
        except ssl.SSLError as error:
            raise MailError(f"TLS with the mail server at {settings.where} failed: {error}", permanent=True) from None
        except (OSError, smtplib.SMTPException) as error:
            if _timed_out(error):
                raise MailError(
                    f"the mail server at {settings.where} did not answer within {settings.timeout:g} s"
                ) from None
            raise MailError(f"cannot reach the mail server at {settings.where}: {error}") from None
        return smtp

    def send(self, message: EmailMessage) -> str:
        """Send one message; its Message-ID is returned. Raises MailError."""
        settings = self.settings
        recipient = str(message["To"])
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise MailError(
                f"the mail server at {settings.where} refused the recipient {recipient} "
                f"({code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply})",
                permanent=code >= 500,
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            self._reset()
            raise MailError(
                f"the mail server at {settings.where} refused the message to {recipient} ({_describe(error)})",
                permanent=error.smtp_code >= 500,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            if _timed_out(error):
                raise MailError(
                    f"the mail server at {settings.where} did not answer within {settings.timeout:g} s "
                    f"while sending to {recipient}"
                ) from None
            raise MailError(
                f"the connection to the mail server at {settings.where} failed while sending to {recipient}: {error}"
            ) from None
        return str(message["Message-ID"])

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            self._drop()


@contextmanager
def mail_connection(app: Flask) -> Iterator[MailConnection]:
    """One connection for a batch of messages, closed at the end of the block."""
    connection = MailConnection(MailSettings.of(app))
    try:
        yield connection
    finally:
        connection.close()


def send_mail(
    app: Flask,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Send one message now (plain text, and HTML when given); return its Message-ID.

    Raises MailError with what went wrong; MailNotConfigured when no server is set. Send from a
    task when a request should not wait for the mail server.
    """
    settings = MailSettings.of(app)
    if not settings.host:
        raise MailNotConfigured()
    message = build_message(settings.sender, to, subject, text, html, headers)
    with mail_connection(app) as connection:
        return connection.send(message)
