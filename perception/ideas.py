"""The idea box: employees post ideas that address a gap, support them, compare them in pairs,
and leads follow them through, with an official answer at every change.

Anonymous ideas store no author at all, for anyone, admins included: the author of an anonymous
idea is not a follower of it either, so nothing that is later sent about it can point back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from rapidfuzz import fuzz, process, utils
from sqlalchemy import BigInteger, ColumnElement, Subquery, cast, delete, or_, update
from sqlmodel import Session, col, func, select

from perception.models import (
    IDEA_STATES,
    Idea,
    IdeaComparison,
    IdeaDecision,
    IdeaReport,
    IdeaSupport,
    Item,
    Notification,
    Survey,
)
from perception.ranking import Ranked, choose_pair, rank

# Supports and pairwise answers are taken while an idea waits for a decision.
OPEN_STATES: tuple[str, ...] = ("submitted", "under_review")
ORDERS: tuple[str, ...] = ("random", "newest", "supported")
TITLE_LENGTH = (5, 160)
BODY_LENGTH = (1, 10_000)
ANSWER_LENGTH = (3, 5_000)
REASON_LENGTH = (3, 1_000)
SIMILAR_CUTOFF = 70.0  # rapidfuzz WRatio, 0-100
PAGE_SIZE = 30
_RANDOM_MODULUS = 2_147_483_647  # a prime: id * seed mod it shuffles ids, the same way for one seed


class IdeaError(ValueError):
    """An idea cannot be posted, supported, compared, decided or reported as asked."""


@dataclass(frozen=True)
class Target:
    """What an idea addresses: an item, or a dimension or touchpoint, of one survey."""

    kind: str  # item, dimension, touchpoint
    survey_id: int
    item_id: int | None = None
    name: str | None = None

    @property
    def value(self) -> str:
        """The form value naming this target (``item:7``, ``dimension:2:Empathy``)."""
        if self.kind == "item":
            return f"item:{self.item_id}"
        return f"{self.kind}:{self.survey_id}:{self.name}"


@dataclass(frozen=True)
class TargetChoice:
    target: Target
    survey_title: str
    label: str


@dataclass(frozen=True)
class Listed:
    idea: Idea
    supports: int


def now() -> datetime:
    return datetime.now(UTC)


def _check_length(text: str, bounds: tuple[int, int], what: object) -> str:
    text = text.strip()
    low, high = bounds
    if len(text) < low:
        raise IdeaError(_l("The %(what)s needs at least %(count)d characters.", what=what, count=low))
    if len(text) > high:
        raise IdeaError(
            _l(
                "The %(what)s has %(length)d characters; at most %(count)d are kept.",
                what=what,
                length=len(text),
                count=high,
            )
        )
    return text


def target_choices(session: Session, language: str) -> list[TargetChoice]:
    """Every item, dimension and touchpoint of every survey, as an idea may address them."""
    choices: list[TargetChoice] = []
    surveys = session.exec(select(Survey).order_by(Survey.slug)).all()
    items = session.exec(select(Item).order_by(Item.survey_id, Item.position)).all()
    for survey in surveys:
        title = getattr(survey, f"title_{language}", "") or survey.title_en or survey.slug
        members = [item for item in items if item.survey_id == survey.id]
        for dimension in dict.fromkeys(item.dimension for item in members):
            choices.append(TargetChoice(Target("dimension", survey.id, name=dimension), title, dimension))  # type: ignore[arg-type]
        for touchpoint in dict.fromkeys(item.touchpoint for item in members if item.touchpoint):
            choices.append(TargetChoice(Target("touchpoint", survey.id, name=touchpoint), title, touchpoint))  # type: ignore[arg-type]
        for item in members:
            if item.model is not None:  # a verbatim has no gap for an idea to close
                choices.append(
                    TargetChoice(Target("item", survey.id, item_id=item.id), title, item.wording("customer", language))  # type: ignore[arg-type]
                )
    return choices


def parse_target(session: Session, value: str | None) -> Target | None:
    """The target a form value names, checked against the surveys; None for an empty value."""
    if not value:
        return None
    kind, _, rest = value.partition(":")
    if kind == "item":
        item = session.get(Item, int(rest)) if rest.isdigit() else None
        if item is None:
            raise IdeaError(_l("No survey item has the id %(id)s.", id=rest))
        return Target("item", item.survey_id, item_id=item.id)
    if kind in ("dimension", "touchpoint"):
        survey_id, _, name = rest.partition(":")
        column = Item.dimension if kind == "dimension" else Item.touchpoint
        found = (
            survey_id.isdigit()
            and session.exec(select(Item.id).where(Item.survey_id == int(survey_id), column == name)).first()
        )
        if not found:
            raise IdeaError(_l("No survey has a dimension or touchpoint named %(name)s.", name=name))
        return Target(kind, int(survey_id), name=name)
    raise IdeaError(_l("%(value)s names neither an item, a dimension nor a touchpoint.", value=value))


def post_idea(
    session: Session,
    author_id: int,
    title: str,
    body: str,
    target: Target | None = None,
    anonymous: bool = False,
) -> Idea:
    """Store a new idea. An anonymous one keeps no author: ``author_id`` is forgotten here."""
    idea = Idea(
        title=_check_length(title, TITLE_LENGTH, _l("title")),
        body=_check_length(body, BODY_LENGTH, _l("description")),
        author_id=None if anonymous else author_id,
        created_on=date.today(),
    )
    if target is not None:
        idea.survey_id = target.survey_id
        if target.kind == "item":
            item = session.get(Item, target.item_id)
            if item is None:
                raise IdeaError(_l("No survey item has the id %(id)s.", id=target.item_id))
            idea.item_id, idea.dimension, idea.touchpoint = item.id, item.dimension, item.touchpoint
        elif target.kind == "dimension":
            idea.dimension = target.name
        else:
            idea.touchpoint = target.name
    session.add(idea)
    session.flush()
    return idea


def similar_ideas(session: Session, title: str, limit: int = 5, exclude: int | None = None) -> list[tuple[Idea, float]]:
    """Visible ideas whose titles look like ``title``, closest first, so duplicates are seen before posting."""
    title = title.strip()
    if len(title) < 4:
        return []
    statement = select(Idea).where(Idea.moderation == "visible", Idea.state != "merged")
    if exclude is not None:
        statement = statement.where(Idea.id != exclude)
    ideas = {idea.id: idea for idea in session.exec(statement)}
    matches = process.extract(
        title,
        {idea_id: idea.title for idea_id, idea in ideas.items()},
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=SIMILAR_CUTOFF,
        limit=limit,
    )
    return [(ideas[key], score) for _title, score, key in matches]


def can_see(idea: Idea, is_lead: bool) -> bool:
    """Leads see every idea; others not those hidden by reports or removed by a lead."""
    return is_lead or idea.moderation == "visible"


def _visibility(is_lead: bool) -> ColumnElement[bool]:
    return Idea.moderation.in_(["visible", "pending", "removed"] if is_lead else ["visible"])  # type: ignore[attr-defined]


def _support_counts() -> Subquery:
    return select(IdeaSupport.idea_id, func.count().label("supports")).group_by(IdeaSupport.idea_id).subquery()


def browse(
    session: Session,
    is_lead: bool,
    seed: int,
    order: str = "random",
    dimension: str | None = None,
    state: str | None = None,
    page: int = 1,
) -> tuple[list[Listed], int]:
    """One page of ideas and the number of ideas the filters keep; counted and ordered in SQL.

    The random order is a fixed shuffle per ``seed`` (one per viewer), so that while voting is
    open early ideas do not win by position, and a viewer paging through sees each idea once.
    """
    counts = _support_counts()
    supports = func.coalesce(counts.c.supports, 0)
    statement = select(Idea, supports).outerjoin(counts, counts.c.idea_id == Idea.id).where(_visibility(is_lead))
    total = select(func.count()).select_from(Idea).where(_visibility(is_lead))
    conditions = []
    if dimension:
        conditions.append(Idea.dimension == dimension)
    if state:
        conditions.append(Idea.state == state)
    else:
        conditions.append(Idea.state != "merged")
    statement = statement.where(*conditions)
    total = total.where(*conditions)
    if order == "newest":
        statement = statement.order_by(col(Idea.id).desc())
    elif order == "supported":
        statement = statement.order_by(supports.desc(), col(Idea.id).desc())
    else:
        statement = statement.order_by((cast(Idea.id, BigInteger) * seed) % _RANDOM_MODULUS, Idea.id)
    page = max(page, 1)
    rows = session.exec(statement.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return [Listed(idea=idea, supports=count) for idea, count in rows], session.exec(total).one()


def new_seed(rng: random.Random | None = None) -> int:
    return (rng or random.SystemRandom()).randrange(1, _RANDOM_MODULUS)


def dimensions_in_use(session: Session) -> list[str]:
    return list(
        session.exec(select(Idea.dimension).where(Idea.dimension.is_not(None)).distinct().order_by(Idea.dimension))
    )  # type: ignore[union-attr,arg-type]


def support_count(session: Session, idea: Idea) -> int:
    return session.exec(select(func.count()).select_from(IdeaSupport).where(IdeaSupport.idea_id == idea.id)).one()


def supports(session: Session, idea: Idea, account_id: int) -> bool:
    return session.get(IdeaSupport, (idea.id, account_id)) is not None


def _check_open(idea: Idea) -> None:
    if idea.moderation != "visible":
        raise IdeaError(_l("This idea is hidden while moderators look at it: it takes no votes."))
    if idea.state not in OPEN_STATES:
        raise IdeaError(_l("Voting on this idea is closed: a lead has decided on it."))


def support(session: Session, idea: Idea, account_id: int) -> IdeaSupport:
    """One support per account and idea, while the idea waits for a decision."""
    _check_open(idea)
    if supports(session, idea, account_id):
        raise IdeaError(_l("You support this idea already."))
    row = IdeaSupport(idea_id=idea.id, account_id=account_id, created_at=now())  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    return row


def withdraw_support(session: Session, idea: Idea, account_id: int) -> None:
    row = session.get(IdeaSupport, (idea.id, account_id))
    if row is None:
        raise IdeaError(_l("You do not support this idea."))
    session.delete(row)
    session.flush()


# Pairwise comparisons.


def in_play(session: Session) -> list[int]:
    """The ideas pairwise voting is about: visible, waiting for a decision."""
    return list(
        session.exec(
            select(Idea.id).where(Idea.moderation == "visible", Idea.state.in_(OPEN_STATES)).order_by(Idea.id)  # type: ignore[attr-defined]
        )
    )


def _outcomes(session: Session) -> list[tuple[int, int, int]]:
    statement = select(IdeaComparison.winner_id, IdeaComparison.loser_id, func.count()).group_by(
        IdeaComparison.winner_id, IdeaComparison.loser_id
    )
    return [(winner, loser, count) for winner, loser, count in session.exec(statement)]


def ranking(session: Session) -> list[Ranked]:
    """The ideas in play ranked by Bradley-Terry on every answer between them, best first."""
    return rank(in_play(session), _outcomes(session))


def next_pair(session: Session, rng: random.Random) -> tuple[Idea, Idea] | None:
    """Two ideas to compare, those with few comparisons more often (catch-up sampling)."""
    ideas = in_play(session)
    comparisons = dict.fromkeys(ideas, 0)
    for winner, loser, count in _outcomes(session):
        for idea_id in (winner, loser):
            if idea_id in comparisons:
                comparisons[idea_id] += count
    pair = choose_pair(comparisons, rng)
    if pair is None:
        return None
    return session.get(Idea, pair[0]), session.get(Idea, pair[1])  # type: ignore[return-value]


def record_comparison(session: Session, winner: Idea, loser: Idea) -> IdeaComparison:
    if winner.id == loser.id:
        raise IdeaError(_l("An idea cannot be compared with itself."))
    for idea in (winner, loser):
        _check_open(idea)
    row = IdeaComparison(winner_id=winner.id, loser_id=loser.id, created_on=date.today())  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    return row


# Following through: decisions, merges, notifications.


def followers(session: Session, idea: Idea) -> list[int]:
    """Who hears of decisions on an idea: its author (never for an anonymous idea) and its supporters."""
    people = set(session.exec(select(IdeaSupport.account_id).where(IdeaSupport.idea_id == idea.id)))
    if idea.author_id is not None:
        people.add(idea.author_id)
    return sorted(people)


def _decide(session: Session, idea: Idea, lead_id: int, to_state: str, answer: str) -> IdeaDecision:
    decision = IdeaDecision(
        idea_id=idea.id,  # type: ignore[arg-type]
        lead_id=lead_id,
        from_state=idea.state,
        to_state=to_state,
        answer=_check_length(answer, ANSWER_LENGTH, _l("official answer")),
        created_at=now(),
    )
    recipients = followers(session, idea)
    idea.state = to_state
    session.add_all([idea, decision])
    session.flush()
    session.add_all(
        Notification(account_id=account_id, decision_id=decision.id, created_at=decision.created_at)  # type: ignore[arg-type]
        for account_id in recipients
    )
    session.flush()
    return decision


def change_state(session: Session, idea: Idea, lead_id: int, to_state: str, answer: str) -> IdeaDecision:
    """A lead's decision, with the official answer its followers are told."""
    if to_state not in IDEA_STATES:
        raise IdeaError(_l("%(state)s is not a state of an idea.", state=to_state))
    if to_state == "merged":
        raise IdeaError(_l("An idea is merged with the merge form, which names the idea it joins."))
    if idea.state == "merged":
        raise IdeaError(_l("This idea was merged into idea #%(id)s: decide on that one.", id=idea.merged_into_id))
    if to_state == idea.state:
        raise IdeaError(_l("The idea is in that state already."))
    return _decide(session, idea, lead_id, to_state, answer)


def merge(session: Session, duplicate: Idea, kept: Idea, lead_id: int, answer: str) -> IdeaDecision:
    """Merge a duplicate into the idea kept: its supporters support the kept idea (once each),
    and the duplicate's followers are told where the conversation goes on."""
    if duplicate.id == kept.id:
        raise IdeaError(_l("An idea cannot be merged into itself."))
    if duplicate.state == "merged":
        raise IdeaError(_l("This idea was merged already, into idea #%(id)s.", id=duplicate.merged_into_id))
    if kept.state == "merged":
        raise IdeaError(
            _l(
                "Idea #%(kept)s was itself merged into idea #%(id)s: merge into that one.",
                kept=kept.id,
                id=kept.merged_into_id,
            )
        )
    decision = _decide(session, duplicate, lead_id, "merged", answer)
    duplicate.merged_into_id = kept.id
    already = select(IdeaSupport.account_id).where(IdeaSupport.idea_id == kept.id)
    session.exec(  # type: ignore[call-overload]
        update(IdeaSupport)
        .where(IdeaSupport.idea_id == duplicate.id, IdeaSupport.account_id.not_in(already))  # type: ignore[attr-defined]
        .values(idea_id=kept.id)
    )
    session.exec(delete(IdeaSupport).where(IdeaSupport.idea_id == duplicate.id))  # type: ignore[call-overload]
    session.add(duplicate)
    session.flush()
    return decision


def decisions(session: Session, idea: Idea) -> Sequence[IdeaDecision]:
    return session.exec(
        select(IdeaDecision).where(IdeaDecision.idea_id == idea.id).order_by(IdeaDecision.created_at, IdeaDecision.id)
    ).all()


# Moderation.


def report_idea(session: Session, idea: Idea, account_id: int, reason: str, threshold: int) -> IdeaReport:
    """Report an idea to the moderators; at ``threshold`` open reports it is hidden until a lead decides."""
    reason = _check_length(reason, REASON_LENGTH, _l("reason"))
    if idea.moderation == "removed":
        raise IdeaError(_l("This idea was removed already."))
    if session.exec(
        select(IdeaReport.id).where(IdeaReport.idea_id == idea.id, IdeaReport.account_id == account_id)
    ).first():
        raise IdeaError(_l("You reported this idea already."))
    report = IdeaReport(idea_id=idea.id, account_id=account_id, reason=reason, created_at=now())  # type: ignore[arg-type]
    session.add(report)
    session.flush()
    open_reports = session.exec(
        select(func.count()).select_from(IdeaReport).where(IdeaReport.idea_id == idea.id, IdeaReport.settled == False)  # noqa: E712
    ).one()
    if open_reports >= threshold and idea.moderation == "visible":
        idea.moderation = "pending"
        session.add(idea)
        session.flush()
    return report


def open_reports(session: Session, idea: Idea) -> Sequence[IdeaReport]:
    return session.exec(
        select(IdeaReport)
        .where(IdeaReport.idea_id == idea.id, IdeaReport.settled == False)  # noqa: E712
        .order_by(IdeaReport.id)
    ).all()


def moderate(session: Session, idea: Idea, keep: bool) -> None:
    """A lead's ruling on the reports: the idea shows again, or stays removed; either way the
    reports so far are settled, and only new ones can hide it again."""
    session.exec(update(IdeaReport).where(IdeaReport.idea_id == idea.id).values(settled=True))  # type: ignore[call-overload]
    idea.moderation = "visible" if keep else "removed"
    session.add(idea)
    session.flush()


def awaiting_moderation(session: Session) -> Sequence[Idea]:
    """Ideas hidden by reports, or visible with open reports: what leads have to look at."""
    reported = select(IdeaReport.idea_id).where(IdeaReport.settled == False)  # noqa: E712
    return session.exec(
        select(Idea).where(or_(Idea.moderation == "pending", Idea.id.in_(reported))).order_by(Idea.id)  # type: ignore[union-attr]
    ).all()
