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
    Setting("BASE_URL", _base_url, "Public address used in links sent to respondents; default the request's."),
    Setting("REPORTING_THRESHOLD", _int_at_least(2), "Smallest group a report shows (default 5)."),
    Setting(
        "VERBATIM_THRESHOLD", _int_at_least(2), "Fewest employee responses whose verbatims are shown (default 10)."
    ),
    Setting("LINK_DAYS", _int_at_least(1), "Days a one-time link stays valid (default 60)."),
    Setting("PLUGINS", _module_names, "Extra plugin modules to load, comma-separated (for plugins not installed)."),
)

DEFAULTS: Mapping[str, Any] = {
    "QUEUE_URL": "sqlite",
    "BASE_URL": "",
    "REPORTING_THRESHOLD": 5,
    "VERBATIM_THRESHOLD": 10,
    "LINK_DAYS": 60,
    "PLUGINS": (),
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
    return values


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
