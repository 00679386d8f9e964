"""Each role's home page; employees see the staff surveys open to them and answer there."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlmodel import select
from werkzeug.wrappers import Response as WerkzeugResponse

from perception.db import get_session
from perception.models import Survey, Wave, WaveParticipation
from perception.waves import accepts_answers
from perception.web.respond import answer_page

blueprint = Blueprint("home", __name__)


def open_staff_waves(account_id: int) -> list[tuple[Wave, Survey, bool]]:
    """The waves taking answers now, each with its survey and whether this account has answered it."""
    session = get_session()
    rows = session.exec(
        select(Wave, Survey)
        .join(Survey, Survey.id == Wave.survey_id)
        .where(Wave.state == "open")
        .order_by(Wave.created_at)
    ).all()
    answered = set(
        session.exec(select(WaveParticipation.wave_id).where(WaveParticipation.account_id == account_id)).all()
    )
    return [(wave, survey, wave.id in answered) for wave, survey in rows if accepts_answers(wave)]


@blueprint.route("/")
@login_required
def index() -> str | WerkzeugResponse:
    if current_user.has_role("lead", "leader"):
        return redirect(url_for("surveys.index"))
    return render_template("home/employee.html", waves=open_staff_waves(current_user.id))


@blueprint.route("/answer/<int:wave_id>", methods=["GET", "POST"])
@login_required
def answer(wave_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    """The staff side of a wave, answered while signed in: the account keeps only that it answered."""
    session = get_session()
    wave = session.get(Wave, wave_id)
    survey = session.get(Survey, wave.survey_id) if wave else None
    if wave is None or survey is None:
        abort(404)
    return answer_page(survey, wave, "employee", None, participant=current_user.id)
