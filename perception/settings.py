"""Settings come from ``PERCEPTION_*`` environment variables, then from ``create_app(config)``.

Each setting is checked when the application is built, so that a wrong value stops the
start with a message naming the variable, instead of failing later on a request.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PREFIX = "PERCEPTION_"


class SettingsError(ValueError):
    """A setting has a value the application cannot use."""


def _int_at_least(minimum: int) -> Callable[[str, Any], int]:
    def parse(name: str, raw: Any) -> int:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{PREFIX}{name} must be a whole number, not {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, not {value}")
        return value

    return parse


def _database_url(name: str, raw: Any) -> str:
    try:
        url = make_url(str(raw))
    except ArgumentError:
        raise SettingsError(
            f"{PREFIX}{name} is not a database URL: {raw!r} "
            "(expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(
            f"{PREFIX}{name} names a {url.get_backend_name()!r} database; perception runs on sqlite or postgresql"
        )
    return str(raw)


def _queue_url(name: str, raw: Any) -> str:
    value = str(raw)
    if value == "sqlite" or value.startswith(("redis://", "rediss://", "unix://")):
        return value
    raise SettingsError(f"{PREFIX}{name} must be 'sqlite' (the embedded queue) or a redis:// URL, not {value!r}")


def _text(name: str, raw: Any) -> str:
    return str(raw)


def _module_names(name: str, raw: Any) -> tuple[str, ...]:
    names = tuple(part.strip() for part in str(raw).split(",") if part.strip())
    for module in names:
        if not all(piece.isidentifier() for piece in module.split(".")):
            raise SettingsError(f"{PREFIX}{name}: {module!r} is not a Python module name")
    return names


def _base_url(name: str, raw: Any) -> str:
    value = str(raw).rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise SettingsError(f"{PREFIX}{name} must start with http:// or https://, not {value!r}")
    return value


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(name: str, raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(allowed)}, not {raw!r}")
        return value

    return parse


def _port(name: str, raw: Any) -> int:
    value = _int_at_least(1)(name, raw)
    if value > 65535:
        raise SettingsError(f"{PREFIX}{name} must be a port number from 1 to 65535, not {value}")
    return value


def _host(name: str, raw: Any) -> str:
    value = str(raw).strip()
    if any(character.isspace() or character in "/@" for character in value) or value.count(":") == 1:
        raise SettingsError(
            f"{PREFIX}{name} must be a host name or address alone (the port goes in {PREFIX}SMTP_PORT): {raw!r}"
        )
    return value


def _sender(name: str, raw: Any) -> str:
    from email.headerregistry import Address
    from email.utils import parseaddr

    value = str(raw).strip()
    display, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain or "." not in domain.strip(".") or any(c.isspace() for c in address):
        raise SettingsError(
            f"{PREFIX}{name} must be an address like surveys@example.com or 'Perception <surveys@example.com>', "
            f"not {raw!r}"
        )
    return str(Address(display_name=display, addr_spec=address)) if display else address


def _seconds(name: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 600:
        raise SettingsError(f"{PREFIX}{name} must be more than 0 and at most 600 seconds, not {value}")
    return value


def _url(name: str, raw: Any) -> str:
    value = str(raw).strip()
    if value and not value.startswith(("http://", "https://")):
        raise SettingsError(f"{PREFIX}{name} must start with http:// or https://, not {value!r}")
    return value


def _header(name: str, raw: Any) -> str:
    value = str(raw).strip()
    header, sep, content = value.partition(":")
    if value and (not sep or not header.strip() or not content.strip() or any(c in value for c in "\r\n")):
        raise SettingsError(f"{PREFIX}{name} must read 'Name: value', e.g. 'Authorization: Bearer KEY'")
    return value


def _sms_body(name: str, raw: Any) -> str:
    from perception.sms import check_body_template

    try:
        return check_body_template(str(raw))
    except ValueError as error:
        raise SettingsError(f"{PREFIX}{name} {error}") from None


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str, Any], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("INSTANCE_PATH", _text, "Folder for local state (database, secret key, queue)."),
    Setting("DATABASE_URL", _database_url, "SQLAlchemy URL; default a SQLite file in the instance folder."),
    Setting("SECRET_KEY", _text, "Signs sessions and links; generated once into the instance folder when unset."),
    Setting("QUEUE_URL", _queue_url, "'sqlite' (default: a file in the instance folder) or a redis:// URL."),
    Setting(
        "BASE_URL",
        _base_url,
        "Public address used in links handed to respondents; pages fall back to the request's, "
        "but invitations and reminders sent by email or SMS need it.",
    ),
    Setting("REPORTING_THRESHOLD", _int_at_least(2), "Smallest group a report shows (default 5)."),
    Setting(
        "VERBATIM_THRESHOLD", _int_at_least(2), "Fewest employee responses whose verbatims are shown (default 10)."
    ),
    Setting("TEXT_ANALYSER", _text, "Text analyser that finds themes in verbatims (default key-phrases)."),
    Setting("LINK_DAYS", _int_at_least(1), "Days a one-time link stays valid (default 60)."),
    Setting("ALERT_HOURS", _int_at_least(1), "Hours an alert's owner has to handle it (default 48)."),
    Setting("SIGN_IN_ATTEMPTS", _int_at_least(2), "Failed sign-ins that lock an email for a while (default 5)."),
    Setting(
        "LOCKOUT_MINUTES", _int_at_least(1), "Minutes failed sign-ins are counted over and a lock lasts (default 15)."
    ),
    Setting(
        "PROXY_COUNT",
        _int_at_least(0),
        "Reverse proxies in front that set X-Forwarded-For and -Proto; trusted to say the request came over TLS.",
    ),
    Setting("IDEA_REPORTS_TO_HIDE", _int_at_least(1), "Reports that hide an idea until a lead decides (default 3)."),
    Setting("API_RATE_LIMIT", _int_at_least(1), "Calls one API token may make per minute (default 600)."),
    Setting("PLUGINS", _module_names, "Extra plugin modules to load, comma-separated (for plugins not installed)."),
    Setting("SMTP_HOST", _host, "Mail server that sends invitations and notices; no email is sent when unset."),
    Setting("SMTP_PORT", _port, "Mail server port (default 25, 587 with starttls, 465 with tls)."),
    Setting("SMTP_SECURITY", _choice("none", "starttls", "tls"), "none, starttls or tls (default starttls)."),
    Setting("SMTP_USER", _text, "User name on the mail server, when it asks for one."),
    Setting("SMTP_PASSWORD", _text, "Password on the mail server, with PERCEPTION_SMTP_USER."),
    Setting("SMTP_FROM", _sender, "Sender of every message, e.g. 'Perception <surveys@example.com>'."),
    Setting("SMTP_TIMEOUT", _seconds, "Seconds to wait for the mail server before giving up (default 30)."),
    Setting("FREQUENCY_HOT_DAYS", _int_at_least(0), "Days before a hot wave may invite a contact again (90)."),
    Setting("FREQUENCY_COLD_DAYS", _int_at_least(0), "Days before a cold wave may invite a contact again (180)."),
    Setting("REMINDER_MAX", _int_at_least(0), "Most reminders one invitation gets (default 2)."),
    Setting("REMINDER_DAYS", _int_at_least(1), "Fewest days between a message and the next reminder (3)."),
    Setting("DISPATCH_BATCH", _int_at_least(1), "Messages sent per task, over one connection (default 100)."),
    Setting(
        "DISPATCH_STALE_SECONDS",
        _int_at_least(1),
        "Seconds after which a message left 'sending' by a stopped worker is marked failed, never resent (600).",
    ),
)

SETTINGS += (
    Setting("SMS_BACKEND", _choice("none", "console", "http"), "none (default), console (log only) or http."),
    Setting("SMS_URL", _url, "The SMS gateway's URL, posted a JSON body (with PERCEPTION_SMS_BACKEND=http)."),
    Setting("SMS_AUTH_HEADER", _header, "Header sent to the gateway, e.g. 'Authorization: Bearer KEY'."),
    Setting("SMS_BODY", _sms_body, "JSON body template with {to}, {text} and {sender} in string values."),
    Setting("SMS_SENDER", _text, "Sender name or number the gateway shows."),
    Setting("SMS_TIMEOUT", _seconds, "Seconds to wait for the gateway before giving up (default 10)."),
)

SETTINGS += (
    Setting(
        "KIOSK_IDLE_SECONDS", _int_at_least(10), "Seconds without a touch before a kiosk returns to its start (60)."
    ),
    Setting("KIOSK_THANKS_SECONDS", _int_at_least(2), "Seconds a kiosk shows its thank-you before the start (8)."),
    Setting("KIOSK_PER_MINUTE", _int_at_least(1), "Most responses one kiosk takes in a minute (default 6)."),
)

SMTP_DEFAULT_PORTS: Mapping[str, int] = {"none": 25, "starttls": 587, "tls": 465}

DEFAULTS: Mapping[str, Any] = {
    "QUEUE_URL": "sqlite",
    "BASE_URL": "",
    "REPORTING_THRESHOLD": 5,
    "VERBATIM_THRESHOLD": 10,
    "TEXT_ANALYSER": "key-phrases",
    "LINK_DAYS": 60,
    "ALERT_HOURS": 48,
    "SIGN_IN_ATTEMPTS": 5,
    "LOCKOUT_MINUTES": 15,
    "PROXY_COUNT": 0,
    "IDEA_REPORTS_TO_HIDE": 3,
    "PLUGINS": (),
    "API_RATE_LIMIT": 600,
    "SMTP_HOST": "",
    "SMTP_SECURITY": "starttls",
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "",
    "SMTP_TIMEOUT": 30.0,
    "FREQUENCY_HOT_DAYS": 90,
    "FREQUENCY_COLD_DAYS": 180,
    "REMINDER_MAX": 2,
    "REMINDER_DAYS": 3,
    "DISPATCH_BATCH": 100,
    "DISPATCH_STALE_SECONDS": 600,
    "SMS_BACKEND": "none",
    "SMS_URL": "",
    "SMS_AUTH_HEADER": "",
    "SMS_BODY": '{"to": "{to}", "text": "{text}", "from": "{sender}"}',
    "SMS_SENDER": "",
    "SMS_TIMEOUT": 10.0,
    "KIOSK_IDLE_SECONDS": 60,
    "KIOSK_THANKS_SECONDS": 8,
    "KIOSK_PER_MINUTE": 6,
}


def read_settings(environ: Mapping[str, str], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Settings from the environment, overridden by ``overrides`` (keys without the prefix)."""
    values: dict[str, Any] = dict(DEFAULTS)
    for setting in SETTINGS:
        if PREFIX + setting.name in environ:
            values[setting.name] = setting.parse(setting.name, environ[PREFIX + setting.name])
    known = {setting.name: setting for setting in SETTINGS}
    for key, raw in (overrides or {}).items():
        if key in known:
            values[key] = known[key].parse(key, raw)
        else:
            values[key] = raw
    _check_mail(values)
    _check_sms(values)
    return values


def _check_sms(values: dict[str, Any]) -> None:
    if values["SMS_BACKEND"] == "http" and not values["SMS_URL"]:
        raise SettingsError(f"{PREFIX}SMS_BACKEND is http: set {PREFIX}SMS_URL, the gateway's address")


def _check_mail(values: dict[str, Any]) -> None:
    """The mail settings that only make sense together, checked together."""
    if not values.get("SMTP_PORT"):
        values["SMTP_PORT"] = SMTP_DEFAULT_PORTS[values["SMTP_SECURITY"]]
    if not values["SMTP_HOST"]:
        return
    if not values["SMTP_FROM"]:
        raise SettingsError(f"{PREFIX}SMTP_HOST is set: set {PREFIX}SMTP_FROM too, the address messages come from")
    if bool(values["SMTP_USER"]) != bool(values["SMTP_PASSWORD"]):
        raise SettingsError(f"{PREFIX}SMTP_USER and {PREFIX}SMTP_PASSWORD go together: set both or neither")


def load_or_create_secret_key(instance_path: Path) -> str:
    """The instance's secret key, created once with the file readable by its owner only."""
    path = instance_path / "secret_key"
    if path.exists() and path.stat().st_size:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise SettingsError(f"{path} holds a key too short to be safe; delete it to make a new one")
        return key
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load_or_create_secret_key(instance_path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
