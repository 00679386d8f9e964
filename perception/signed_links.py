"""Customer links that carry segment values, signed so that a respondent cannot alter them.

A lead (or a channel plugin) makes a link for a group of customers: ``/p/TOKEN?s=...`` where
``s`` holds the wave and the segment values, signed with the application's secret key. The
respondent's page reads them back; a link whose signature does not match, that names another wave
or a value the survey does not declare, is refused whole.
"""

from __future__ import annotations

from collections.abc import Mapping

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session

from perception.models import Survey, Wave
from perception.segments import declared

SALT = "perception.customer-segments"
MAX_LENGTH = 2000


class TamperedLink(ValueError):
    """The signed part of a link was altered, moved to another wave, or names unknown values."""


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def check_values(session: Session, survey: Survey, values: Mapping[str, str]) -> dict[int, int]:
    """Customer segment values (attribute name to value) as attribute id to value id; refuses unknown ones."""
    attributes = {attribute.name: attribute for attribute in declared(session, survey, "customer")}
    chosen: dict[int, int] = {}
    for name, value in values.items():
        attribute = attributes.get(name)
        if attribute is None:
            known = ", ".join(attributes) or "none"
            raise TamperedLink(f"survey {survey.slug!r} has no customer segment {name!r} (it has: {known})")
        ids = {text: value_id for value_id, text in attribute.values}
        if value not in ids:
            raise TamperedLink(f"customer:{name} has no value {value!r} (it has: {', '.join(ids)})")
        chosen[attribute.id] = ids[value]
    return chosen


def sign_segments(secret_key: str, session: Session, survey: Survey, wave: Wave, values: Mapping[str, str]) -> str:
    """The signed ``s`` parameter for a link to ``wave`` carrying these customer segment values."""
    check_values(session, survey, values)
    return str(_serializer(secret_key).dumps({"w": wave.id, "v": dict(sorted(values.items()))}))


def read_segments(secret_key: str, session: Session, survey: Survey, wave: Wave, signed: str) -> dict[int, int]:
    """The segment values a signed link carries, as attribute id to value id."""
    if len(signed) > MAX_LENGTH:
        raise TamperedLink("the link's segment part is too long")
    try:
        data = _serializer(secret_key).loads(signed)
    except BadSignature:
        raise TamperedLink("the link's segment part does not match its signature") from None
    if not isinstance(data, dict) or data.get("w") != wave.id or not isinstance(data.get("v"), dict):
        raise TamperedLink("the link's segment part was made for another wave")
    values = data["v"]
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in values.items()):
        raise TamperedLink("the link's segment part is not a set of names and values")
    return check_values(session, survey, values)
