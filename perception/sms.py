"""Text messages: GSM-7 aware length, and the HTTP request to an SMS gateway, as the settings describe it.

Gateways differ in their URL, their authentication and the JSON they expect, so all three are
settings: ``PERCEPTION_SMS_URL``, ``PERCEPTION_SMS_AUTH_HEADER`` (``Authorization: Bearer KEY``) and
``PERCEPTION_SMS_BODY`` (a JSON object in which ``{to}``, ``{text}`` and ``{sender}`` are replaced
inside string values, so the message is always escaped properly)::

    {"messages": [{"destination": "{to}", "content": "{text}", "source": "{sender}"}]}

``PERCEPTION_SMS_BACKEND=console`` writes messages to the log instead, for development.

A message in the GSM-7 alphabet takes 160 characters per SMS (153 in a long message); one
character outside it (an emoji, a curly apostrophe, ``ê``) turns the whole message into UCS-2, 70
characters per SMS (67). Typographic punctuation is replaced by its plain form before counting,
so that a French invitation usually stays in GSM-7.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

logger = logging.getLogger("perception.sms")

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
PLAIN_FORMS = str.maketrans(
    {
        "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "«": '"', "»": '"', "\u2013": "-",
        "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u202f": " ", "œ": "oe", "Œ": "OE",
    }
)  # fmt: skip
MAX_SEGMENTS = 3
PLACEHOLDERS = ("{to}", "{text}", "{sender}")


class SmsError(RuntimeError):
    """A text message could not be sent. ``permanent``: the gateway refused it for good."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets in GSM-7 (an extended character counts two), characters in UCS-2
    segments: int


def plain(text: str) -> str:
    """The text with typographic punctuation in its plain form, so it can stay in GSM-7."""
    return text.translate(PLAIN_FORMS)


def sms_length(text: str) -> SmsLength:
    """How the text will be encoded and how many SMS it takes."""
    if all(character in GSM7_BASIC or character in GSM7_EXTENDED for character in text):
        units = sum(2 if character in GSM7_EXTENDED else 1 for character in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(character) > 0xFFFF else 1 for character in text)  # UTF-16 code units
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // part)
    return SmsLength(encoding, units, segments)


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, list):
        return [_fill(entry, values) for entry in template]
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    return template


def check_body_template(raw: str) -> str:
    """The template, if it is a JSON object that places the number and the text; ValueError otherwise."""
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object")
    for placeholder in ("{to}", "{text}"):
        if placeholder not in raw:
            raise ValueError(f"must place {placeholder} in a string value")
    return raw


@dataclass(frozen=True)
class SmsSettings:
    backend: str
    url: str
    auth_header: str
    body: str
    sender: str
    timeout: float

    @classmethod
    def of(cls, app: Flask) -> SmsSettings:
        config = app.config
        return cls(
            backend=config.get("SMS_BACKEND", "none"),
            url=config.get("SMS_URL", ""),
            auth_header=config.get("SMS_AUTH_HEADER", ""),
            body=config.get("SMS_BODY", DEFAULT_BODY),
            sender=config.get("SMS_SENDER", ""),
            timeout=float(config.get("SMS_TIMEOUT", 10.0)),
        )


DEFAULT_BODY = '{"to": "{to}", "text": "{text}", "from": "{sender}"}'


def send_sms(app: Flask, to: str, text: str) -> str:
    """Send one text message; return the gateway's message id (or "console"). Raises SmsError."""
    settings = SmsSettings.of(app)
    length = sms_length(text)
    if length.segments > MAX_SEGMENTS:
        raise SmsError(
            f"the message takes {length.segments} SMS ({length.units} {length.encoding} characters); "
            f"at most {MAX_SEGMENTS} are sent",
            permanent=True,
        )
    if settings.backend == "console":
        logger.info("SMS to %s (%s, %d SMS): %s", to, length.encoding, length.segments, text)
        return "console"
    if settings.backend != "http":
        raise SmsError("no SMS gateway is configured: set PERCEPTION_SMS_BACKEND (http or console)", permanent=True)
    body = json.dumps(_fill(json.loads(settings.body), {"to": to, "text": text, "sender": settings.sender}))
    request = urllib.request.Request(
        settings.url, data=body.encode("utf-8"), method="POST", headers={"Content-Type": "application/json"}
    )
    if settings.auth_header:
        name, _, value = settings.auth_header.partition(":")
        request.add_header(name.strip(), value.strip())
    where = urllib.request.urlparse(settings.url).netloc
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            reply = response.read(65536)
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode("utf-8", "replace").strip()
        permanent = 400 <= error.code < 500 and error.code not in (408, 429)
        raise SmsError(
            f"the SMS gateway at {where} answered {error.code} {error.reason}" + (f": {detail}" if detail else ""),
            permanent=permanent,
        ) from None
    except TimeoutError:
        raise SmsError(f"the SMS gateway at {where} did not answer within {settings.timeout:g} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError | socket.timeout):
            raise SmsError(f"the SMS gateway at {where} did not answer within {settings.timeout:g} s") from None
        raise SmsError(f"cannot reach the SMS gateway at {where}: {error.reason}") from None
    except OSError as error:
        raise SmsError(f"the connection to the SMS gateway at {where} failed: {error}") from None
    try:
        answer = json.loads(reply or b"{}")
    except json.JSONDecodeError:
        return "sent"
    if isinstance(answer, dict):
        for key in ("id", "message_id", "messageId", "sid"):
            if answer.get(key):
                return str(answer[key])
    return "sent"
