"""API tokens: made by admins with scopes, kept only as hashes, revocable, last use shown."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlmodel import Session, select

from perception.models import ApiToken

SCOPES: dict[str, str] = {
    "reports:read": "read reports",
    "invitations:send": "send invitations",
    "responses:import": "import responses",
    "responses:export": "export responses",
    "surveys:manage": "manage surveys",
    "alerts:manage": "handle alerts",
    "ideas:read": "read the ideas employees see",
    "stories:read": "read published stories",
}
PREFIX = "pct_"


class TokenError(ValueError):
    """A token cannot be made as asked."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, scopes: list[str], created_by: int | None) -> tuple[ApiToken, str]:
    """Make a token; the clear token is returned once and never stored."""
    name = name.strip()
    if not 0 < len(name) <= 120:
        raise TokenError("a token needs a name of 1 to 120 characters")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
    clear = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=_hash(clear),
        scopes=" ".join(sorted(set(scopes))),
        created_at=datetime.now(UTC),
        created_by=created_by,
    )
    session.add(token)
    session.flush()
    return token, clear


def authenticate(session: Session, clear: str) -> ApiToken | None:
    """The live token for this clear text, or None. Looked up by hash: no comparison to time."""
    if not clear.startswith(PREFIX) or len(clear) > 100:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash(clear))).first()
    if token is None or token.revoked_at is not None:
        return None
    today = datetime.now(UTC).date()
    if token.last_used_on != today:  # written once a day at most, not on every call
        token.last_used_on = today
        session.commit()
    return token


def revoke(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)


def has_scope(token: ApiToken, scope: str) -> bool:
    return scope in token.scopes.split()
