"""Addresses that carry a row's id and a signature made with the secret key (unsubscribe, kiosk).

They need no stored secret, cannot be guessed, and a forged one finds nothing; the purpose is
signed too, so an address made for one use is worth nothing for another.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode

MAX_LENGTH = 64


def sign_id(secret_key: str, purpose: str, row_id: int) -> str:
    """``ID.SIGNATURE``: the id, and 128 bits of an HMAC-SHA256 of the purpose and the id."""
    digest = hmac.new(secret_key.encode(), f"{purpose}:{row_id}".encode(), hashlib.sha256).digest()
    return f"{row_id}.{urlsafe_b64encode(digest[:16]).decode().rstrip('=')}"


def signed_id(secret_key: str, purpose: str, token: str) -> int | None:
    """The id a token was signed for with this purpose, or None when the signature is wrong."""
    row_id, _, _ = (token or "").partition(".")
    if not row_id.isdigit() or len(token) > MAX_LENGTH:
        return None
    if not hmac.compare_digest(sign_id(secret_key, purpose, int(row_id)), token):
        return None
    return int(row_id)
