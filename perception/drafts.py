"""Drafts of long surveys: the answers so far, found again only through the respondent's link."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sqlmodel import Session

from perception.models import SurveyDraft, Wave
from perception.waves import today

MAX_DRAFT_FIELDS = 500


def draft_key(token: str) -> str:
    """A hash of the link unlike the invitation's (sha256 of the token alone): the two cannot be matched."""
    return hashlib.sha256(f"perception draft:{token}".encode()).hexdigest()


def load_draft(session: Session, key: str, wave: Wave) -> SurveyDraft | None:
    draft = session.get(SurveyDraft, key)
    return draft if draft is not None and draft.wave_id == wave.id else None


def save_draft(session: Session, key: str, wave: Wave, data: Mapping[str, str], page: int) -> None:
    """Keep the answers so far (field name to value) and the page reached. Committed."""
    kept = {name: value for name, value in list(data.items())[:MAX_DRAFT_FIELDS] if isinstance(value, str)}
    draft = session.get(SurveyDraft, key) or SurveyDraft(key=key, wave_id=wave.id, data={}, saved_on=today())
    draft.data, draft.page, draft.saved_on = kept, page, today()
    session.add(draft)
    session.commit()


def drop_draft(session: Session, key: str) -> None:
    draft = session.get(SurveyDraft, key)
    if draft is not None:
        session.delete(draft)
        session.commit()
