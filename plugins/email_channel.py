"""The email channel: an invitation in HTML and plain text, through the configured SMTP server.

A batch of invitations shares one connection to the server. Every message carries the link to
unsubscribe, in its text and in the ``List-Unsubscribe`` headers that mail programs show as a button
(one click, RFC 8058).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app

from perception import (
    Channel,
    Delivery,
    DeliveryError,
    MailError,
    build_message,
    hookimpl,
    invitation_email,
    mail_configured,
    mail_connection,
)


class Email(Channel):
    name = "email"
    label = {"en": "Email", "fr": "E-mail"}
    address_kind = "email"

    def deliver(self, delivery: Delivery) -> str:
        with self.batch() as send:
            return send(delivery)

    @contextmanager
    def batch(self) -> Iterator[Callable[[Delivery], str]]:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if not mail_configured(app):

            def refuse(_delivery: Delivery) -> str:
                raise DeliveryError("no mail server is configured: set PERCEPTION_SMTP_HOST", permanent=True)

            yield refuse
            return
        with mail_connection(app) as connection:

            def send(delivery: Delivery) -> str:
                if not delivery.address:
                    raise DeliveryError("the contact has no email address", permanent=True)
                subject, text, html = invitation_email(delivery)
                headers = {}
                if delivery.unsubscribe_url:
                    headers = {
                        "List-Unsubscribe": f"<{delivery.unsubscribe_url}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    }
                try:
                    message = build_message(app.config["SMTP_FROM"], delivery.address, subject, text, html, headers)
                    return connection.send(message)
                except MailError as error:
                    raise DeliveryError(str(error), permanent=error.permanent) from None

            yield send


@hookimpl
def perception_register_channels() -> list[Channel]:
    return [Email()]
