"""Accounts, passwords and roles."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import UserMixin, current_user
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from perception.db import get_session
from perception.models import ROLES, Account

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


@cache
def _unknown_account_hash() -> str:
    """Checked when an email is unknown, so that a wrong email costs as long as a wrong password."""
    return generate_password_hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account cannot be created or changed as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


class SignedInAccount(UserMixin):
    """What Flask-Login keeps of an account during a request."""

    def __init__(self, account: Account) -> None:
        self.id = account.id
        self.email = account.email
        self.name = account.name
        self.role = account.role
        self.language = account.language

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def load_account(account_id: str) -> SignedInAccount | None:
    try:
        account = get_session().get(Account, int(account_id))
    except ValueError:
        return None
    if account is None or not account.active:
        return None
    return SignedInAccount(account)


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email) or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address")
    return email


MAX_PASSWORD_LENGTH = 1000
MIN_DISTINCT_CHARACTERS = 5
# Passwords long enough to pass the length rule that guessers try first (English and French lists).
COMMON_PASSWORDS: frozenset[str] = frozenset(
    {
        "0123456789", "1234567890", "0987654321", "9876543210", "12345678910", "123456789a",
        "1q2w3e4r5t", "1qaz2wsx3edc", "qwertyuiop", "azertyuiop", "qwerty1234", "qwerty12345",
        "qwerty123456", "azerty1234", "azerty12345", "azerty123456", "abcdefghij", "abc1234567",
        "password12", "password123", "password1234", "passw0rd123", "p@ssw0rd123", "motdepasse",
        "motdepasse1", "motdepasse12", "motdepasse123", "iloveyou12", "jetaime1234", "welcome123",
        "bienvenue1", "bienvenue12", "bienvenue123", "soleil1234", "changeme123", "letmein123",
        "admin12345", "admin123456", "administrator", "administrateur", "perception", "perception1",
        "perception123", "football123", "sunshine123", "princess123", "trustno1234",
    }
)  # fmt: skip


def check_password_rules(password: str, email: str = "") -> None:
    """Refuse the passwords guessed first: short, made of a few characters, common, or the email.

    Length matters more than character classes (NIST SP 800-63B), so there is no rule on digits or
    symbols; the message says which rule failed so that people fix it at once.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password has at most {MAX_PASSWORD_LENGTH} characters", field="password")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise AccountError(
            f"a password needs at least {MIN_DISTINCT_CHARACTERS} different characters", field="password"
        )
    if password.lower() in COMMON_PASSWORDS:
        raise AccountError("this password is among the most common ones; choose another", field="password")
    local = email.strip().lower().partition("@")[0]
    if len(local) >= 4 and local in password.lower():
        raise AccountError("a password must not contain the email address", field="password")


def create_account(
    session: Session, email: str, role: str, password: str, name: str = "", language: str = "en"
) -> Account:
    email = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if language not in ("en", "fr"):
        raise AccountError(f"language must be en or fr, not {language!r}")
    check_password_rules(password, email)
    if session.exec(select(Account).where(Account.email == email)).first() is not None:
        raise AccountError(f"an account for {email} exists already")
    account = Account(
        email=email,
        name=name.strip(),
        role=role,
        language=language,
        password_hash=generate_password_hash(password),
        created_at=datetime.now(UTC),
    )
    session.add(account)
    session.flush()
    return account


def set_password(account: Account, password: str) -> None:
    check_password_rules(password, account.email)
    account.password_hash = generate_password_hash(password)


def authenticate(session: Session, email: str, password: str) -> Account | None:
    """The active account with that email and password, or None; same work either way."""
    account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
    if account is None:
        check_password_hash(_unknown_account_hash(), password)
        return None
    if not check_password_hash(account.password_hash, password) or not account.active:
        return None
    return account


F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: str) -> Callable[[F], F]:
    """Let the view run only for signed-in accounts with one of ``roles`` (admins always)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from flask import current_app

                return current_app.login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
