"""Best failures: stories of a customer's problem turned into an exceptional experience.

An employee writes one in four parts (problem, action, outcome, lesson), often from a resolved
alert; a lead reviews it, since naming customers is the author's responsibility, and publishes
it. Colleagues applaud once each and thank the people in it for one of the six pillars.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from perception.models import Account, Alert, Item, Story, StoryApplause, StoryPerson, StoryThanks, Wave
from perception.tasks import emit
from perception.types import StoryPublished

PILLARS: tuple[str, ...] = ("Integrity", "Resolution", "Expectations", "Time and Effort", "Personalisation", "Empathy")
PARTS: tuple[str, ...] = ("problem", "action", "outcome", "lesson")
MAX_TITLE_LENGTH = 200
MAX_PART_LENGTH = 5000
MAX_PEOPLE = 20


class StoryError(ValueError):
    """A story cannot be written or moved as asked; the message says why."""


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoryText:
    """What the author writes, checked."""

    title: str
    problem: str
    action: str
    outcome: str
    lesson: str
    touchpoint: str | None = None
    dimension: str | None = None
    alert_id: int | None = None
    people: tuple[int, ...] = ()


def check_text(text: StoryText, complete: bool) -> StoryText:
    """Trim and check; a story to be submitted needs every part, a draft only a title."""
    title = " ".join((text.title or "").split())
    if not title:
        raise StoryError("give the story a title")
    if len(title) > MAX_TITLE_LENGTH:
        raise StoryError(f"the title holds at most {MAX_TITLE_LENGTH} characters, this one {len(title)}")
    parts = {}
    for part in PARTS:
        value = (getattr(text, part) or "").strip()
        if len(value) > MAX_PART_LENGTH:
            raise StoryError(f"{part}: at most {MAX_PART_LENGTH} characters, this has {len(value)}")
        if complete and not value:
            raise StoryError(f"{part}: write this part before submitting the story")
        parts[part] = value
    if len(set(text.people)) > MAX_PEOPLE:
        raise StoryError(f"name at most {MAX_PEOPLE} colleagues")
    return StoryText(
        title=title,
        touchpoint=(text.touchpoint or "").strip()[:64] or None,
        dimension=(text.dimension or "").strip()[:64] or None,
        alert_id=text.alert_id,
        people=tuple(dict.fromkeys(text.people)),
        **parts,
    )


def write(session: Session, author_id: int, text: StoryText, story: Story | None = None, submit: bool = False) -> Story:
    """Create or change a story of the author's; submitting sends it to the leads for review."""
    if story is not None and story.state not in ("draft", "submitted"):
        raise StoryError("a published or archived story is not edited any more")
    text = check_text(text, complete=submit or (story is not None and story.state == "submitted"))
    if text.alert_id is not None:
        alert = session.get(Alert, text.alert_id)
        if alert is None:
            raise StoryError(f"there is no alert #{text.alert_id}")
    if text.people:
        known = set(session.exec(select(Account.id).where(Account.id.in_(text.people), Account.active.is_(True))))  # type: ignore[union-attr,attr-defined]
        if known != set(text.people):
            raise StoryError("a colleague named in the story has no active account")
    if story is None:
        story = Story(author_id=author_id, created_at=now_utc(), state="draft", title=text.title,
                      problem="", action="", outcome="", lesson="")  # fmt: skip
    for name in ("title", *PARTS, "touchpoint", "dimension", "alert_id"):
        setattr(story, name, getattr(text, name))
    if submit and story.state == "draft":
        story.state = "submitted"
        story.submitted_at = now_utc()
    session.add(story)
    session.flush()
    current = set(session.exec(select(StoryPerson.account_id).where(StoryPerson.story_id == story.id)))
    for account_id in current - set(text.people):
        session.delete(session.get(StoryPerson, (story.id, account_id)))
    session.add_all(StoryPerson(story_id=story.id, account_id=account_id) for account_id in set(text.people) - current)  # type: ignore[arg-type]
    return story


def publish(app: Flask, session: Session, story: Story, lead_id: int) -> None:
    """A lead publishes a submitted story; plugins hear of it on ``perception_story_published``."""
    if story.state != "submitted":
        raise StoryError(f"only a submitted story can be published; this one is {story.state}")
    check_text(_text_of(story), complete=True)
    story.state = "published"
    story.published_at = now_utc()
    story.published_by = lead_id
    session.add(story)
    session.commit()
    emit(
        app,
        "perception_story_published",
        StoryPublished(
            story_id=story.id,  # type: ignore[arg-type]
            title=story.title,
            touchpoint=story.touchpoint,
            dimension=story.dimension,
            alert_id=story.alert_id,
            published_at=story.published_at,
        ),
    )


def send_back(session: Session, story: Story) -> None:
    """A lead returns a submitted story to its author as a draft (to remove a customer's name, say)."""
    if story.state != "submitted":
        raise StoryError(f"only a submitted story can be sent back; this one is {story.state}")
    story.state = "draft"
    session.add(story)


def archive(session: Session, story: Story) -> None:
    if story.state == "archived":
        raise StoryError("this story is archived already")
    story.state = "archived"
    session.add(story)


def _text_of(story: Story) -> StoryText:
    return StoryText(story.title, story.problem, story.action, story.outcome, story.lesson)


def applaud(session: Session, story: Story, account_id: int) -> bool:
    """Applaud a published story; False when this colleague has applauded it already."""
    if story.state != "published":
        raise StoryError("only a published story can be applauded")
    if session.get(StoryApplause, (story.id, account_id)) is not None:
        return False
    session.add(StoryApplause(story_id=story.id, account_id=account_id, at=now_utc()))  # type: ignore[arg-type]
    try:
        session.flush()
    except IntegrityError:  # a double click, two requests at once
        session.rollback()
        return False
    return True


def thank(session: Session, story: Story, from_id: int, to_id: int, pillar: str) -> None:
    """Thank someone named in a published story for one of the six pillars; once per person and colleague."""
    if story.state != "published":
        raise StoryError("only a published story can carry thanks")
    if pillar not in PILLARS:
        raise StoryError(f"thank for one of the six pillars ({', '.join(PILLARS)}), not {pillar!r}")
    if session.get(StoryPerson, (story.id, to_id)) is None:
        raise StoryError("thank a colleague the story names")
    if from_id == to_id:
        raise StoryError("thank a colleague, not yourself")
    exists = session.exec(
        select(StoryThanks.id).where(
            StoryThanks.story_id == story.id, StoryThanks.from_id == from_id, StoryThanks.to_id == to_id
        )
    ).first()
    if exists is not None:
        raise StoryError("you have thanked this colleague for this story already")
    session.add(StoryThanks(story_id=story.id, from_id=from_id, to_id=to_id, pillar=pillar, at=now_utc()))  # type: ignore[arg-type]


# Reading


def applause_counts(session: Session, story_ids: Iterable[int]) -> dict[int, int]:
    ids = list(story_ids)
    if not ids:
        return {}
    statement = (
        select(StoryApplause.story_id, func.count())
        .where(StoryApplause.story_id.in_(ids))  # type: ignore[attr-defined]
        .group_by(StoryApplause.story_id)
    )
    return dict(session.exec(statement).all())  # type: ignore[arg-type]


def thanks_of(session: Session, story: Story) -> list[tuple[Account, str, int]]:
    """Per person thanked and pillar, how many colleagues said thanks."""
    statement = (
        select(Account, StoryThanks.pillar, func.count())
        .join(Account, Account.id == StoryThanks.to_id)
        .where(StoryThanks.story_id == story.id)
        .group_by(Account.id, StoryThanks.pillar)
        .order_by(Account.name, StoryThanks.pillar)
    )
    return [(account, pillar, count) for account, pillar, count in session.exec(statement)]


def people_of(session: Session, story: Story) -> list[Account]:
    statement = (
        select(Account)
        .join(StoryPerson, StoryPerson.account_id == Account.id)
        .where(StoryPerson.story_id == story.id)
        .order_by(Account.name, Account.email)
    )
    return list(session.exec(statement).all())


def published(session: Session, limit: int = 50, before: datetime | None = None) -> list[Story]:
    statement = select(Story).where(Story.state == "published")
    if before is not None:
        statement = statement.where(Story.published_at < before)  # type: ignore[operator]
    return list(session.exec(statement.order_by(Story.published_at.desc()).limit(limit)).all())  # type: ignore[union-attr]


def vocabulary(session: Session) -> tuple[list[str], list[str]]:
    """The touchpoints and dimensions the surveys use, for the story form's lists (the six pillars always)."""
    touchpoints = sorted(
        value
        for value in session.exec(select(Item.touchpoint).distinct())
        if value  # type: ignore[call-overload]
    )
    dimensions = sorted(set(PILLARS) | {value for value in session.exec(select(Item.dimension).distinct())})  # type: ignore[call-overload]
    return touchpoints, dimensions


def period_of(wave: Wave, today: date | None = None) -> tuple[datetime, datetime]:
    """The days a wave covers: from its opening (or creation) to its closing day (or today)."""
    today = today or now_utc().date()
    created = wave.created_at.date() if wave.created_at else today
    start = wave.opens_on or created
    end = wave.closes_on or today
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end, time.max, tzinfo=UTC)


def stories_by_dimension(session: Session, wave: Wave, dimensions: Sequence[str]) -> dict[str | None, list[Story]]:
    """Stories published while the wave ran, by the report's dimension they touch (None: any other)."""
    start, end = period_of(wave)
    statement = (
        select(Story)
        .where(Story.state == "published", Story.published_at >= start, Story.published_at <= end)  # type: ignore[operator]
        .order_by(Story.published_at)
    )
    grouped: dict[str | None, list[Story]] = {}
    for story in session.exec(statement):
        key = story.dimension if story.dimension in dimensions else None
        grouped.setdefault(key, []).append(story)
    return grouped
