"""The idea box through the API (`ideas:read`): the ideas employees see, as they see them.

Only ideas visible to every employee are listed (none hidden by reports or removed by a lead). An
anonymous idea has no author to give: none is stored. Otherwise the author is named as the idea's
page names them, and supporters and the leads who decided are never named.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from perception.db import get_session
from perception.ideas import can_see, decisions
from perception.models import Account, Idea, IdeaSupport, Item, Survey
from perception.web.api.base import ApiProblem, PageQuery, decode_cursor, operation, page, page_of

IdeaState = Literal["submitted", "under_review", "accepted", "in_progress", "implemented", "declined", "merged"]


class IdeaSummary(BaseModel):
    """An employee's suggestion, and what it addresses."""

    id: int
    title: str
    body: str = Field(description="Markdown, as the author wrote it.")
    state: IdeaState
    author: str | None = Field(description="As employees see it (name, or email); null for an anonymous idea.")
    survey: str | None = Field(description="The slug of the survey whose gap it addresses.")
    item: str | None = Field(description="The key of the item it addresses.")
    dimension: str | None
    touchpoint: str | None
    supports: int = Field(description="How many colleagues support it.")
    merged_into: int | None = Field(description="For a merged idea, the idea it was merged into.")
    created_on: date


class Decision(BaseModel):
    """A lead's change of the idea's state, with the official answer its followers received."""

    from_state: IdeaState
    to_state: IdeaState
    answer: str = Field(description="Markdown.")
    decided_at: datetime


class IdeaDetail(IdeaSummary):
    decisions: list[Decision] = Field(description="Oldest first.")


class IdeaQuery(PageQuery):
    state: IdeaState | None = Field(default=None, description="Only ideas in this state; merged ones only when asked.")
    dimension: str | None = Field(default=None, max_length=64, description="Only ideas addressing this dimension.")
    touchpoint: str | None = Field(default=None, max_length=64, description="Only ideas addressing this touchpoint.")


def _summary(idea: Idea, model: type[IdeaSummary] = IdeaSummary, **extra: object) -> IdeaSummary:
    session = get_session()
    author = session.get(Account, idea.author_id) if idea.author_id else None
    survey = session.get(Survey, idea.survey_id) if idea.survey_id else None
    item = session.get(Item, idea.item_id) if idea.item_id else None
    supports = session.exec(select(func.count()).select_from(IdeaSupport).where(IdeaSupport.idea_id == idea.id)).one()
    return model(
        id=idea.id or 0, title=idea.title, body=idea.body, state=idea.state,  # type: ignore[arg-type]
        author=(author.name or author.email) if author else None, survey=survey.slug if survey else None,
        item=item.key if item else None, dimension=idea.dimension, touchpoint=idea.touchpoint, supports=supports,
        merged_into=idea.merged_into_id, created_on=idea.created_on, **extra,
    )  # fmt: skip


@operation(
    "GET", "/ideas", summary="List ideas", tag="ideas", scope="ideas:read",
    query=IdeaQuery, response=page_of(IdeaSummary),
    description="Newest first; the ideas every employee sees (merged ones only with `state=merged`).",
)  # fmt: skip
def list_ideas(query: IdeaQuery) -> dict:
    after = decode_cursor("ideas", query.cursor)
    statement = select(Idea).where(Idea.moderation == "visible").order_by(col(Idea.id).desc()).limit(query.limit + 1)
    statement = statement.where(Idea.state == query.state if query.state else Idea.state != "merged")
    if query.dimension is not None:
        statement = statement.where(Idea.dimension == query.dimension)
    if query.touchpoint is not None:
        statement = statement.where(Idea.touchpoint == query.touchpoint)
    if after is not None:
        statement = statement.where(col(Idea.id) < int(after))
    rows, cursor = page("ideas", list(get_session().exec(statement).all()), query.limit, lambda idea: idea.id)
    return {"data": [_summary(idea).model_dump(mode="json") for idea in rows], "next_cursor": cursor}


@operation(
    "GET", "/ideas/<int:idea_id>", summary="Read an idea", tag="ideas", scope="ideas:read",
    response=IdeaDetail, description="With the official answers leads gave, oldest first.",
)  # fmt: skip
def read_idea(idea_id: int) -> IdeaSummary:
    session = get_session()
    idea = session.get(Idea, idea_id)
    if idea is None or not can_see(idea, is_lead=False):
        raise ApiProblem(404, f"There is no idea {idea_id}.")
    answers = [
        Decision(from_state=decision.from_state, to_state=decision.to_state, answer=decision.answer,  # type: ignore[arg-type]
                 decided_at=decision.created_at)
        for decision in decisions(session, idea)
    ]  # fmt: skip
    return _summary(idea, IdeaDetail, decisions=answers)
