"""The words of an invitation, for every channel that writes one, in the respondent's language.

Channels (plugins) call these rather than writing their own, so that an invitation reads the same
by email and by SMS, and its French is kept with the rest of the catalog.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from perception.bidi import isolate_text
from perception.mail import render_mail
from perception.scales import SCALES
from perception.types import LANGUAGES, Delivery


def _language(delivery: Delivery) -> str:
    return delivery.language if delivery.language in LANGUAGES else "en"


def invitation_email(delivery: Delivery) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an invitation email (inside the application's context)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    language = _language(delivery)
    with force_locale(language):
        if delivery.reminder:
            subject = _("Reminder: your opinion on %(survey)s", survey=isolate_text(delivery.survey_title))
        else:
            subject = _("Your opinion on %(survey)s", survey=isolate_text(delivery.survey_title))
        expires_on = format_date(delivery.expires_at, format="long") if delivery.expires_at else ""
    text, html = render_mail(
        app,
        "mail/invitation",
        language,
        survey_title=delivery.survey_title,
        url=delivery.url,
        unsubscribe_url=delivery.unsubscribe_url,
        side=delivery.side,
        reminder=delivery.reminder,
        scores=one_click_links(delivery),
        one_click_question=delivery.one_click_question,
        one_click_ends=_one_click_ends(delivery, language),
        expires_on=expires_on,
    )
    return subject, text, html


def one_click_links(delivery: Delivery) -> list[tuple[int, str]]:
    """Each value of the first score item with the link that answers it (the page opens with it chosen)."""
    scale = SCALES.get(delivery.one_click_scale or "")
    if scale is None or not scale.is_score or delivery.side not in ("customer", "employee"):
        return []
    joiner = "&" if "?" in delivery.url else "?"
    return [(value, f"{delivery.url}{joiner}score={value}") for value in scale.values]


def _one_click_ends(delivery: Delivery, language: str) -> tuple[str, str] | None:
    scale = SCALES.get(delivery.one_click_scale or "")
    return scale.end_labels(language) if scale is not None else None


def invitation_sms(delivery: Delivery) -> str:
    """A text message: short, in GSM-7 letters where the language allows, with the link and how to stop."""
    language = _language(delivery)
    with force_locale(language):
        survey, url = delivery.survey_title, delivery.url
        if delivery.reminder:
            text = _("Reminder: %(survey)s, your opinion counts: %(url)s", survey=survey, url=url)
        else:
            text = _("%(survey)s: your opinion counts, 2 min: %(url)s", survey=survey, url=url)
        if delivery.unsubscribe_url:
            text += " " + _("Stop: %(url)s", url=delivery.unsubscribe_url)
    return text
