"""Waves through the API: list a survey's waves, create one, open and close it."""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import current_app, g, url_for
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from perception.audit import record
from perception.db import get_session
from perception.models import Survey, Wave
from perception.report import response_counts
from perception.tasks import emit
from perception.types import WaveClosed, WaveOpened
from perception.waves import WaveError, close_wave, create_wave, find_wave, open_wave
from perception.web.api.base import ApiProblem, PageQuery, decode_cursor, operation, page, page_of
from perception.web.api.surveys import survey_or_404


class WaveSummary(BaseModel):
    """A wave: one run of a survey in a time window."""

    survey: str
    name: str
    kind: Literal["cold", "hot"] = Field(description="cold: a barometer; hot: right after an interaction.")
    state: Literal["draft", "open", "closed"]
    opens_on: date | None
    closes_on: date | None
    responses: dict[str, int] = Field(description="Responses per side.")


class NewWave(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")
    kind: Literal["cold", "hot"] = "cold"
    opens_on: date | None = None
    closes_on: date | None = None


def wave_json(survey: Survey, wave: Wave) -> WaveSummary:
    return WaveSummary(
        survey=survey.slug, name=wave.name, kind=wave.kind, state=wave.state,
        opens_on=wave.opens_on, closes_on=wave.closes_on, responses=response_counts(get_session(), wave),
    )  # fmt: skip


def wave_or_404(survey: Survey, name: str) -> Wave:
    wave = find_wave(get_session(), survey, name)
    if wave is None:
        raise ApiProblem(404, f"Survey {survey.slug!r} has no wave {name!r}.")
    return wave


@operation(
    "GET", "/surveys/<slug>/waves", summary="List a survey's waves", tag="waves", scope="reports:read",
    paginated=True, response=page_of(WaveSummary),
)  # fmt: skip
def list_waves(slug: str, query: PageQuery) -> dict:
    survey = survey_or_404(slug)
    after = decode_cursor(f"waves:{survey.slug}", query.cursor)
    statement = select(Wave).where(Wave.survey_id == survey.id).order_by(Wave.id).limit(query.limit + 1)
    if after is not None:
        statement = statement.where(Wave.id > int(after))
    rows, cursor = page(f"waves:{survey.slug}", list(get_session().exec(statement).all()), query.limit,
                        lambda wave: wave.id)  # fmt: skip
    return {"data": [wave_json(survey, wave).model_dump(mode="json") for wave in rows], "next_cursor": cursor}


@operation(
    "GET",
    "/surveys/<slug>/waves/<name>",
    summary="Read a wave",
    tag="waves",
    scope="reports:read",
    response=WaveSummary,
)
def read_wave(slug: str, name: str) -> WaveSummary:
    survey = survey_or_404(slug)
    return wave_json(survey, wave_or_404(survey, name))


@operation(
    "POST", "/surveys/<slug>/waves", summary="Create a wave (as a draft)", tag="waves", scope="surveys:manage",
    body=NewWave, response=WaveSummary, status=201, extra_statuses=(409,),
)  # fmt: skip
def new_wave(slug: str, body: NewWave):  # type: ignore[no-untyped-def]
    survey = survey_or_404(slug)
    session = get_session()
    try:
        wave = create_wave(session, survey, body.name, body.kind, body.opens_on, body.closes_on)
    except WaveError as error:
        session.rollback()
        status = 409 if find_wave(session, survey, body.name.strip()) else 422
        raise ApiProblem(status, str(error), errors=[{"field": "body", "message": str(error)}]) from None
    record(session, g.api_token, "wave.create", f"{survey.slug} / {wave.name}", {"kind": wave.kind, "via": "api"})
    session.commit()
    return wave_json(survey, wave), {"Location": url_for("api.read_wave", slug=survey.slug, name=wave.name)}


@operation(
    "POST", "/surveys/<slug>/waves/<name>/open", summary="Open a wave for answers", tag="waves",
    scope="surveys:manage", response=WaveSummary, extra_statuses=(409,),
)  # fmt: skip
def open_(slug: str, name: str) -> WaveSummary:
    return _change_state(slug, name, "open")


@operation(
    "POST", "/surveys/<slug>/waves/<name>/close", summary="Close a wave: its links stop accepting answers",
    tag="waves", scope="surveys:manage", response=WaveSummary, extra_statuses=(409,),
)  # fmt: skip
def close(slug: str, name: str) -> WaveSummary:
    return _change_state(slug, name, "close")


def _change_state(slug: str, name: str, action: Literal["open", "close"]) -> WaveSummary:
    """Open or close a wave, audit it and tell the plugins once it is committed; 409 when refused."""
    survey = survey_or_404(slug)
    wave = wave_or_404(survey, name)
    session = get_session()
    try:
        (open_wave if action == "open" else close_wave)(wave)
    except WaveError as error:
        session.rollback()
        raise ApiProblem(409, str(error)) from None
    record(session, g.api_token, f"wave.{action}", f"{survey.slug} / {wave.name}", {"via": "api"})
    session.commit()
    event_type = WaveOpened if action == "open" else WaveClosed
    hook = "perception_wave_opened" if action == "open" else "perception_wave_closed"
    emit(current_app, hook, event_type(survey_slug=survey.slug, wave_name=wave.name, kind=wave.kind))
    return wave_json(survey, wave)
