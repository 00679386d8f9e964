"""The tables. Alembic migrations in ``migrations/`` create them; keep both in step."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, MetaData, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

# Stable constraint names, so migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

ROLES: tuple[str, ...] = ("admin", "lead", "leader", "employee")
WAVE_KINDS: tuple[str, ...] = ("cold", "hot")
WAVE_STATES: tuple[str, ...] = ("draft", "open", "closed")


class Account(SQLModel, table=True):
    __table_args__ = (CheckConstraint("role IN ('admin', 'lead', 'leader', 'employee')", name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(default="", max_length=120)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    language: str = Field(default="en", max_length=2)
    active: bool = Field(default=True)
    created_at: datetime


class Survey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    title_en: str = Field(max_length=200)
    title_fr: str = Field(max_length=200)
    default_language: str = Field(default="en", max_length=2)
    created_at: datetime
    # The version later waves are bound to; it moves on when an answered item changes meaning.
    version: int = Field(default=1)
    # Moves on with every change to what respondents are shown (title, items, segment lists):
    # the server keeps each questionnaire between requests and rebuilds it when this differs.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Item(SQLModel, table=True):
    """One item of the versions ``first_version`` to ``last_version`` (None: still current).

    An answered item is never reworded or rescaled in place: it is retired and a new item with
    the same key starts at the next version, so past answers keep the meaning they were given under.
    """

    __table_args__ = (UniqueConstraint("survey_id", "key", "first_version", name="uq_item_survey_key_version"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=64)
    first_version: int = Field(default=1)
    last_version: int | None = None
    position: int
    dimension: str = Field(max_length=64)
    touchpoint: str | None = Field(default=None, max_length=64)
    scale: str = Field(max_length=16)
    model: str | None = Field(default=None, max_length=32)
    required: bool = Field(default=True)
    customer_en: str = Field(sa_column=Column(Text, nullable=False))
    customer_fr: str = Field(sa_column=Column(Text, nullable=False))
    employee_en: str = Field(sa_column=Column(Text, nullable=False))
    employee_fr: str = Field(sa_column=Column(Text, nullable=False))
    # A choice item's options, in order: [{"en": ..., "fr": ...}, ...]; answers store 1, 2, ...
    options: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # A score item may ask "why?" after the score: a verbatim kept beside the score.
    why: bool = Field(default=False)

    def wording(self, side: str, language: str) -> str:
        text = getattr(self, f"{side}_{language}", "") or ""
        return text or getattr(self, f"{side}_en") or getattr(self, f"{side}_fr")

    def option_labels(self, language: str) -> list[str]:
        """The options in the language asked, else in the other one."""
        other = "en" if language == "fr" else "fr"
        return [option.get(language) or option.get(other, "") for option in self.options or []]


class Wave(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("survey_id", "name", name="uq_wave_survey_name"),
        CheckConstraint("kind IN ('cold', 'hot')", name="kind"),
        CheckConstraint("state IN ('draft', 'open', 'closed')", name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=64)
    kind: str = Field(default="cold", max_length=8)
    state: str = Field(default="draft", max_length=8)
    opens_on: date | None = None
    closes_on: date | None = None
    public_token: str = Field(max_length=64, unique=True)
    # Looked up by this hash, so that finding a wave by its public link compares no clear token in SQL.
    public_token_hash: str = Field(max_length=64, unique=True)
    # The employees' public link (an intranet, a staff email): anyone with it answers the employee side.
    employee_public_token: str = Field(max_length=64, unique=True)
    employee_public_token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    # The survey version the wave asks; fixed once it has responses.
    version: int = Field(default=1)
    # A hot wave follows one touchpoint: it asks that touchpoint's items and those tied to none.
    touchpoint: str | None = Field(default=None, max_length=64)


class Invitation(SQLModel, table=True):
    """A one-time link. Only the hash of its token is kept; the token goes to the respondent."""

    __table_args__ = (CheckConstraint("side IN ('customer', 'employee')", name="side"),)

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True, ondelete="CASCADE")
    side: str = Field(max_length=8)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    expires_at: datetime
    used: bool = Field(default=False)


class Response(SQLModel, table=True):
    """One respondent's answers to a wave.

    An employee response holds no account, no invitation, no address and no time finer than
    the day: the check constraint keeps the invitation out even if code forgets.
    """

    __table_args__ = (
        CheckConstraint("side IN ('customer', 'employee')", name="side"),
        CheckConstraint("side = 'customer' OR (invitation_id IS NULL AND language IS NULL)", name="anonymous_employee"),
    )

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True, ondelete="CASCADE")
    side: str = Field(max_length=8)
    submitted_on: date
    language: str | None = Field(default=None, max_length=2)
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id", unique=True, ondelete="SET NULL")


class Answer(SQLModel, table=True):
    """One answer. It repeats its response's wave and side (which never change), so that a report
    counts answers from one index, in order, without joining responses or sorting.

    Its wave is a copy, not a foreign key: the answer goes with its response, and the response with
    its wave. The report's index starts with the item, so that it also finds an item's answers when
    the item is deleted: each answer written takes one index entry per item, not two."""

    __table_args__ = (
        UniqueConstraint("response_id", "item_id", name="uq_answer_response_item"),
        Index("ix_answer_item_wave_side_value", "item_id", "wave_id", "side", "value", "response_id"),
        # Written answers only (a small part of all answers): verbatims are counted and listed from it.
        Index(
            "ix_answer_written",
            "wave_id",
            "side",
            "item_id",
            sqlite_where=sql_text("text IS NOT NULL"),
            postgresql_where=sql_text("text IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Found through the unique constraint (response_id, item_id), which starts with it.
    response_id: int = Field(foreign_key="response.id", ondelete="CASCADE")
    item_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    wave_id: int
    side: str = Field(max_length=8)
    value: int | None = None
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SegmentAttribute(SQLModel, table=True):
    """An attribute a report can be cut by, declared per survey and side, with its allowed values."""

    __tablename__ = "segment_attribute"
    __table_args__ = (
        UniqueConstraint("survey_id", "side", "name", name="uq_segment_attribute_survey_side_name"),
        CheckConstraint("side IN ('customer', 'employee')", name="side"),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    side: str = Field(max_length=8)
    name: str = Field(max_length=64)
    position: int


class SegmentValue(SQLModel, table=True):
    __tablename__ = "segment_value"
    __table_args__ = (UniqueConstraint("attribute_id", "value", name="uq_segment_value_attribute_value"),)

    id: int | None = Field(default=None, primary_key=True)
    attribute_id: int = Field(foreign_key="segment_attribute.id", index=True, ondelete="CASCADE")
    value: str = Field(max_length=64)
    position: int


class ResponseSegment(SQLModel, table=True):
    """A response's value of one segment attribute: an attribute of the answer, never a person."""

    __tablename__ = "response_segment"

    response_id: int = Field(foreign_key="response.id", primary_key=True, ondelete="CASCADE")
    attribute_id: int = Field(foreign_key="segment_attribute.id", primary_key=True, ondelete="CASCADE")
    value_id: int = Field(foreign_key="segment_value.id", index=True, ondelete="CASCADE")


class ApiToken(SQLModel, table=True):
    """A bearer token for the API. Only its hash is kept; the token is shown once, when made."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    token_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=200)  # space-separated, e.g. "reports:read responses:import"
    created_at: datetime
    created_by: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    last_used_on: date | None = None
    revoked_at: datetime | None = None


# Importance sums (comparison engine): what the key-driver correlation needs, kept per wave so that
# a dashboard reads them and adds only the responses that came since.


class ImportanceState(SQLModel, table=True):
    """Which customer responses of a wave the stored sums cover: those up to ``last_response_id``,
    ``responses`` of them, correlated with the recommendation item ``anchor_id``."""

    __tablename__ = "importance_state"

    wave_id: int = Field(foreign_key="wave.id", primary_key=True, ondelete="CASCADE")
    anchor_id: int = Field(foreign_key="item.id", ondelete="CASCADE")
    responses: int
    last_response_id: int


class ImportanceSums(SQLModel, table=True):
    """Sums over a wave's customers who answered both an item (x) and the recommendation item (y)."""

    __tablename__ = "importance_sums"

    wave_id: int = Field(foreign_key="wave.id", primary_key=True, ondelete="CASCADE")
    item_id: int = Field(foreign_key="item.id", primary_key=True, ondelete="CASCADE")
    n: int = Field(sa_type=BigInteger)
    sx: int = Field(sa_type=BigInteger)
    sy: int = Field(sa_type=BigInteger)
    sxy: int = Field(sa_type=BigInteger)
    sxx: int = Field(sa_type=BigInteger)
    syy: int = Field(sa_type=BigInteger)


# --- Audit log of administrative actions (perception/audit.py) ---


class AuditEvent(SQLModel, table=True):
    """One administrative action: who, what, on what, when. Rows are only ever added."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str = Field(max_length=254, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))


# Closed loop and best failures (alerts on unhappy customers, callback consent, stories).

ALERT_STATUSES: tuple[str, ...] = ("open", "in_progress", "resolved", "closed_without_contact")
ALERT_KINDS: tuple[str, ...] = ("answer", "gap")
STORY_STATES: tuple[str, ...] = ("draft", "submitted", "published", "archived")


class CallbackRequest(SQLModel, table=True):
    """A customer's consent to be contacted about their answers, and how. Customer responses only."""

    __tablename__ = "callback_request"
    __table_args__ = (CheckConstraint("how IN ('email', 'phone')", name="how"),)

    response_id: int = Field(foreign_key="response.id", primary_key=True, ondelete="CASCADE")
    how: str = Field(max_length=8)
    address: str = Field(max_length=254)


class AlertRule(SQLModel, table=True):
    """A lead's rule for one item: answers at or below ``at_most`` open an alert (None: never).

    Items without a rule follow their scale's default (NPS detractor, CES 1-2, CSAT 1)."""

    __tablename__ = "alert_rule"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", unique=True, ondelete="CASCADE")
    at_most: int | None = None
    owner_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")


class Alert(SQLModel, table=True):
    """A case opened by an unhappy customer's answer, or by a gap that widened between two waves."""

    __table_args__ = (
        CheckConstraint("kind IN ('answer', 'gap')", name="kind"),
        CheckConstraint("status IN ('open', 'in_progress', 'resolved', 'closed_without_contact')", name="status"),
        UniqueConstraint("response_id", "item_id", name="uq_alert_response_item"),
        Index("ix_alert_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="answer", max_length=8)
    survey_id: int = Field(foreign_key="survey.id", index=True, ondelete="CASCADE")
    wave_id: int = Field(foreign_key="wave.id", ondelete="CASCADE")
    item_id: int | None = Field(default=None, foreign_key="item.id", ondelete="CASCADE")
    response_id: int | None = Field(default=None, foreign_key="response.id", ondelete="CASCADE")
    value: int | None = None
    verbatim: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    touchpoint: str | None = Field(default=None, max_length=64)
    dimension: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=300)
    gap_before: float | None = None
    gap_now: float | None = None
    status: str = Field(default="open", max_length=24)
    owner_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    opened_at: datetime
    due_at: datetime
    closed_at: datetime | None = None
    minutes_to_close: int | None = None
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    customer_kept: bool | None = None


class DimensionFollow(SQLModel, table=True):
    """A lead or leader who wants to hear when a gap of this dimension widens or a blind spot appears."""

    __tablename__ = "dimension_follow"

    account_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    survey_id: int = Field(foreign_key="survey.id", primary_key=True, ondelete="CASCADE")
    dimension: str = Field(primary_key=True, max_length=64)


# --- Reaching people: contacts (issue 4) ---


class Contact(SQLModel, table=True):
    """A customer or an employee the company may invite. Forgetting one deletes this row and its
    segments; responses, which never point here, keep the aggregates whole."""

    __table_args__ = (
        CheckConstraint("kind IN ('customer', 'employee')", name="kind"),
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="address"),
        UniqueConstraint("kind", "email", name="uq_contact_kind_email"),
        UniqueConstraint("kind", "phone", name="uq_contact_kind_phone"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=16)  # E.164
    language: str = Field(default="en", max_length=2)
    created_at: datetime
    unsubscribed_at: datetime | None = None
    last_invited_at: datetime | None = None  # the contact-frequency rule counts from here


class ContactSegment(SQLModel, table=True):
    """A contact's value of a segment attribute, by name: surveys declare the attributes they use."""

    __tablename__ = "contact_segment"

    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=64)


# --- Reaching people: invitations to contacts and their dispatch (issue 4) ---

DISPATCH_PURPOSES: tuple[str, ...] = ("invite", "remind")
DISPATCH_STATES: tuple[str, ...] = ("pending", "sending", "sent", "failed", "skipped")


class ContactInvitation(SQLModel, table=True):
    """Which contact a one-time link went to, through which channel. The token is derived from the
    salt with the secret key, so a reminder can send the same link again; only its hash is stored
    on the invitation. An employee's response never points at the invitation, so this says who
    was invited and whether the link was used, never what they answered."""

    __tablename__ = "contact_invitation"

    invitation_id: int = Field(foreign_key="invitation.id", primary_key=True, ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True, ondelete="SET NULL")
    channel: str = Field(max_length=32)
    salt: str = Field(max_length=32)
    reminders_sent: int = Field(default=0)
    last_sent_at: datetime | None = None  # the invitation or its latest reminder


class InvitationSegment(SQLModel, table=True):
    """A customer invitation's segment value (touchpoint, region...), given to its response."""

    __tablename__ = "invitation_segment"

    invitation_id: int = Field(foreign_key="invitation.id", primary_key=True, ondelete="CASCADE")
    attribute_id: int = Field(foreign_key="segment_attribute.id", primary_key=True, ondelete="CASCADE")
    value_id: int = Field(foreign_key="segment_value.id", ondelete="CASCADE")


class Dispatch(SQLModel, table=True):
    """One sending of a wave's invitations or reminders through one channel."""

    __table_args__ = (
        CheckConstraint("purpose IN ('invite', 'remind')", name="purpose"),
        CheckConstraint("side IN ('customer', 'employee')", name="side"),
    )

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True, ondelete="CASCADE")
    side: str = Field(max_length=8)
    channel: str = Field(max_length=32)
    purpose: str = Field(default="invite", max_length=8)
    sample: str = Field(default="", max_length=64)  # how the contacts were chosen, e.g. "25%"
    created_at: datetime
    created_by: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")


class DispatchItem(SQLModel, table=True):
    """One message to send: claimed (``sending``) before it goes, marked ``sent`` after, so that a
    crash in between never sends it twice. Skipped contacts are rows too, with their reason."""

    __tablename__ = "dispatch_item"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name="state"),
        Index("ix_dispatch_item_dispatch_state", "dispatch_id", "state"),
        Index("ix_dispatch_item_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dispatch_id: int = Field(foreign_key="dispatch.id", ondelete="CASCADE")
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id", index=True, ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True, ondelete="SET NULL")
    state: str = Field(default="pending", max_length=8)
    reason: str | None = Field(default=None, max_length=16)  # why skipped: recent, unsubscribed, answered...
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    error: str | None = Field(default=None, max_length=500)


# --- Sign-in throttling (perception/throttle.py) ---


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins counted per key (a hashed email, a hashed address), shared by every process."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(max_length=80, primary_key=True)
    failures: int = Field(default=0)
    window_started_at: datetime
    locked_until: datetime | None = None


class Story(SQLModel, table=True):
    """A best failure: a customer's problem turned into an exceptional experience by someone's initiative."""

    __table_args__ = (
        CheckConstraint("state IN ('draft', 'submitted', 'published', 'archived')", name="state"),
        Index("ix_story_state_published_at", "state", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(default=None, foreign_key="account.id", index=True, ondelete="SET NULL")
    title: str = Field(max_length=200)
    problem: str = Field(sa_column=Column(Text, nullable=False))
    action: str = Field(sa_column=Column(Text, nullable=False))
    outcome: str = Field(sa_column=Column(Text, nullable=False))
    lesson: str = Field(sa_column=Column(Text, nullable=False))
    alert_id: int | None = Field(default=None, foreign_key="alert.id", ondelete="SET NULL")
    touchpoint: str | None = Field(default=None, max_length=64)
    dimension: str | None = Field(default=None, max_length=64)
    state: str = Field(default="draft", max_length=16)
    created_at: datetime
    submitted_at: datetime | None = None
    published_at: datetime | None = None
    published_by: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")


class StoryPerson(SQLModel, table=True):
    """A colleague the author names in the story, whom readers can thank."""

    __tablename__ = "story_person"

    story_id: int = Field(foreign_key="story.id", primary_key=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")


class StoryApplause(SQLModel, table=True):
    """One colleague's applause for a story: once each."""

    __tablename__ = "story_applause"

    story_id: int = Field(foreign_key="story.id", primary_key=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    at: datetime


class StoryThanks(SQLModel, table=True):
    """A colleague thanks someone in a story for one of the six pillars (recognition)."""

    __tablename__ = "story_thanks"
    __table_args__ = (UniqueConstraint("story_id", "from_id", "to_id", name="uq_story_thanks_story_from_to"),)

    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="story.id", index=True, ondelete="CASCADE")
    from_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    to_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    pillar: str = Field(max_length=32)
    at: datetime


# The idea box: ideas, their supports and pairwise comparisons, leads' decisions, reports, and the
# notifications that tell authors and supporters what became of an idea.

IDEA_STATES: tuple[str, ...] = (
    "submitted",
    "under_review",
    "accepted",
    "in_progress",
    "implemented",
    "declined",
    "merged",
)
IDEA_MODERATION: tuple[str, ...] = ("visible", "pending", "removed")


class Idea(SQLModel, table=True):
    """An employee's suggestion. An anonymous idea has no author, and its day is its only time."""

    __table_args__ = (
        CheckConstraint(
            "state IN ('submitted', 'under_review', 'accepted', 'in_progress', 'implemented', 'declined', 'merged')",
            name="state",
        ),
        CheckConstraint("moderation IN ('visible', 'pending', 'removed')", name="moderation"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=160)
    body: str = Field(sa_column=Column(Text, nullable=False))
    author_id: int | None = Field(default=None, foreign_key="account.id", index=True, ondelete="SET NULL")
    survey_id: int | None = Field(default=None, foreign_key="survey.id", index=True, ondelete="SET NULL")
    item_id: int | None = Field(default=None, foreign_key="item.id", index=True, ondelete="SET NULL")
    dimension: str | None = Field(default=None, max_length=64, index=True)
    touchpoint: str | None = Field(default=None, max_length=64)
    state: str = Field(default="submitted", max_length=16, index=True)
    moderation: str = Field(default="visible", max_length=8)
    merged_into_id: int | None = Field(default=None, foreign_key="idea.id", ondelete="SET NULL")
    created_on: date


class IdeaSupport(SQLModel, table=True):
    __tablename__ = "idea_support"

    idea_id: int = Field(foreign_key="idea.id", primary_key=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime


class IdeaComparison(SQLModel, table=True):
    """One answer to "which of these two ideas would help customers more?"; it names no voter."""

    __tablename__ = "idea_comparison"
    __table_args__ = (CheckConstraint("winner_id <> loser_id", name="two_ideas"),)

    id: int | None = Field(default=None, primary_key=True)
    winner_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    loser_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    created_on: date


class IdeaDecision(SQLModel, table=True):
    """A lead's change of an idea's state, with the official answer given to its followers."""

    __tablename__ = "idea_decision"

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    lead_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    from_state: str = Field(max_length=16)
    to_state: str = Field(max_length=16)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class IdeaReport(SQLModel, table=True):
    """A report of an idea to the moderators; one per account and idea."""

    __tablename__ = "idea_report"
    __table_args__ = (UniqueConstraint("idea_id", "account_id", name="uq_idea_report_idea_account"),)

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    settled: bool = Field(default=False)


class Notification(SQLModel, table=True):
    """A decision on an idea an account follows (as its author or a supporter): shown in the app,
    and emailed when the account accepts it."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    decision_id: int = Field(foreign_key="idea_decision.id", index=True, ondelete="CASCADE")
    created_at: datetime
    read_at: datetime | None = None
    emailed_at: datetime | None = None


class NotificationSetting(SQLModel, table=True):
    """Whether an account accepts notifications by email (in the app they always show)."""

    __tablename__ = "notification_setting"

    account_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    email: bool = Field(default=False)


# Integration API: rate limits per token, shared by every app process


class ApiRateWindow(SQLModel, table=True):
    """Calls one API token made in one minute (minutes since the epoch)."""

    __tablename__ = "api_rate_window"

    token_id: int = Field(foreign_key="api_token.id", primary_key=True, ondelete="CASCADE")
    minute: int = Field(primary_key=True, sa_type=BigInteger)
    calls: int


# Webhooks: endpoints admins register, and the log of each delivery


class WebhookEndpoint(SQLModel, table=True):
    """Where events are posted. The secret signs each delivery, so it is kept (admins only see it)."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    events: str = Field(max_length=500)  # space-separated event types
    secret: str = Field(max_length=100)
    active: bool = Field(default=True)
    created_at: datetime
    created_by: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")


class WebhookDelivery(SQLModel, table=True):
    """One event sent to one endpoint: its body, its attempts and the endpoint's last answer."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True, ondelete="CASCADE")
    event_type: str = Field(max_length=64)
    message_id: str = Field(max_length=64, unique=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    created_at: datetime
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error: str | None = Field(default=None, max_length=500)


# --- Kiosks: a tablet on a counter answering a wave's customer side (issue 4) ---


class Kiosk(SQLModel, table=True):
    """A tablet a lead set up to collect customers' answers to one wave, with segment values fixed.

    It keeps no person: no address, no device, no time of any answer. The window counts the
    responses of the current minute, updated in one statement, so every process shares the limit.
    """

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    created_at: datetime
    created_by: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    stopped_at: datetime | None = None
    responses: int = Field(default=0)
    window_started_at: datetime | None = None
    window_count: int = Field(default=0)


class KioskSegment(SQLModel, table=True):
    """A kiosk's fixed value of one customer segment (the site, the touchpoint), given to each response."""

    __tablename__ = "kiosk_segment"

    kiosk_id: int = Field(foreign_key="kiosk.id", primary_key=True, ondelete="CASCADE")
    attribute_id: int = Field(foreign_key="segment_attribute.id", primary_key=True, ondelete="CASCADE")
    value_id: int = Field(foreign_key="segment_value.id", ondelete="CASCADE")


# Staff surveys answered while signed in (questionnaires): only THAT an account answered a wave.


class WaveParticipation(SQLModel, table=True):
    """An account answered this wave, so it cannot answer it twice; nothing says which response is its.

    No id, no time: on SQLite the table has no rowid either, so not even the order rows were written
    in can be matched with the order of responses.
    """

    __tablename__ = "wave_participation"
    __table_args__ = ({"sqlite_with_rowid": False},)

    wave_id: int = Field(foreign_key="wave.id", primary_key=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")


# Long surveys left half-way (questionnaires): a draft found again only through the respondent's link.


class SurveyDraft(SQLModel, table=True):
    """Answers so far to a long survey, kept so that the same link resumes it; deleted when sent.

    ``key`` is a hash of the one-time link made differently from the invitation's, so that without
    the link itself no one can tell which invitation (and so which person) a draft belongs to.
    """

    __tablename__ = "survey_draft"

    key: str = Field(max_length=64, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True, ondelete="CASCADE")
    data: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    page: int = Field(default=0)
    saved_on: date


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as what it tells (a response stored), and handed
    to the plugins by the queue's consumer, which drains this table in batches.

    ``claimed_by`` and ``claimed_at`` are a drainer's lease: an event it claimed and did not finish
    (the process died) is claimed again once the lease is old.
    """

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    hook: str = Field(max_length=64)
    payload: bytes
    created_at: datetime
    # The customer response the event tells of, put into the event when it is handed over: the
    # statement that writes a response and its event learns the response's id only as it runs.
    response_id: int | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
