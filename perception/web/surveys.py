"""Leads' and leaders' pages: surveys, waves, one-time links and the gap table."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import func, select
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from perception.accounts import role_required
from perception.audit import record
from perception.board_pack import board_pack_filename, board_pack_pdf
from perception.charts import (
    trend_svg,
)
from perception.db import get_session
from perception.exports import ExportRefused, export_responses
from perception.gap_watch import followed, set_followed
from perception.models import Response as SurveyResponse
from perception.models import Survey, Wave
from perception.report import (
    GapReport,
    TrendRow,
    breakdown,
    dimension_trend,
    gap_report,
    importance,
    latest_changes,
    recommendation_item,
    response_counts,
    trend,
)
from perception.scales import SCALES
from perception.segments import SegmentError, declared, parse_filter, resolve
from perception.signed_links import TamperedLink, sign_segments
from perception.surveys import (
    SurveyFileError,
    definition_of,
    dump_definition,
    items_of,
    parse_definition,
    store_definition,
)
from perception.tasks import emit
from perception.themes import choose_analyser, theme_report
from perception.types import SIDES, Delivery, WaveClosed, WaveOpened
from perception.verbatims import verbatim_counts, verbatim_page
from perception.waves import (
    WaveError,
    close_wave,
    create_wave,
    find_survey,
    find_wave,
    issue_links,
    link_counts,
    open_wave,
)
from perception.web.figures import (
    gap_chart,
    priority_chart_svg,
    trend_points,
    trend_text,
)
from perception.web.forms import ActionForm, LinkBatchForm, NewSurveyForm, WaveForm
from perception.web.helpers import current_locale

blueprint = Blueprint("surveys", __name__, url_prefix="/surveys")


def _registries() -> Any:
    return current_app.extensions["perception"].registries


def _survey_or_404(slug: str) -> Survey:
    survey = find_survey(get_session(), slug)
    if survey is None:
        abort(404)
    return survey


def _wave_or_404(survey: Survey, name: str) -> Wave:
    wave = find_wave(get_session(), survey, name)
    if wave is None:
        abort(404)
    return wave


def public_url(endpoint: str, **values: Any) -> str:
    base = current_app.config.get("BASE_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


@blueprint.route("/")
@role_required("lead", "leader")
def index() -> str:
    session = get_session()
    surveys = session.exec(select(Survey).order_by(Survey.created_at.desc())).all()  # type: ignore[attr-defined]
    waves = session.exec(select(Wave).order_by(Wave.created_at)).all()
    waves_by_survey: dict[int, list[Wave]] = {}
    for wave in waves:
        waves_by_survey.setdefault(wave.survey_id, []).append(wave)
    return render_template("surveys/index.html", surveys=surveys, waves=waves_by_survey)


@blueprint.route("/new", methods=["GET", "POST"])
@role_required("lead")
def new() -> str | WerkzeugResponse | tuple[str, int]:
    templates = _registries().survey_templates
    form = NewSurveyForm()
    language = current_locale()
    form.template.choices = [
        SelectChoice(name, template.label.get(language) or name) for name, template in sorted(templates.items())
    ]
    if form.validate_on_submit():
        template = templates[form.template.data]
        data = dict(template.definition)
        data["slug"] = form.slug.data
        title = dict(data.get("title") or {})
        if form.title_en.data:
            title["en"] = form.title_en.data
        if form.title_fr.data:
            title["fr"] = form.title_fr.data
        data["title"] = title
        session = get_session()
        try:
            survey = store_definition(session, parse_definition(data, _registries().scoring_models))
        except SurveyFileError as error:
            session.rollback()
            form.slug.errors = [*form.slug.errors, *error.problems]
            return render_template("surveys/new.html", form=form), 422
        record(session, current_user, "survey.create", survey.slug, {"template": form.template.data})
        session.commit()
        flash(_("Survey created from the template."), "info")
        return redirect(url_for("surveys.show", slug=survey.slug))
    status = 422 if form.is_submitted() else 200
    return render_template("surveys/new.html", form=form), status


@blueprint.route("/<slug>")
@role_required("lead", "leader")
def show(slug: str) -> str:
    session = get_session()
    survey = _survey_or_404(slug)
    waves = session.exec(select(Wave).where(Wave.survey_id == survey.id).order_by(Wave.created_at)).all()
    counts = dict(
        session.exec(
            select(SurveyResponse.wave_id, func.count())
            .join(Wave, Wave.id == SurveyResponse.wave_id)
            .where(Wave.survey_id == survey.id)
            .group_by(SurveyResponse.wave_id)
        ).all()
    )
    return render_template(
        "surveys/show.html",
        survey=survey,
        items=items_of(session, survey),
        waves=waves,
        counts=counts,
        wave_form=WaveForm(),
        models=_registries().scoring_models,
        scales=SCALES,
    )


@blueprint.route("/<slug>/export")
@role_required("lead")
def export(slug: str) -> Response:
    survey = _survey_or_404(slug)
    session = get_session()
    text = dump_definition(definition_of(session, survey))
    record(session, current_user, "survey.export", survey.slug)
    session.commit()
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{survey.slug}.yaml"'},
    )


@blueprint.route("/<slug>/waves", methods=["POST"])
@role_required("lead")
def create_wave_view(slug: str) -> str | WerkzeugResponse | tuple[str, int]:
    session = get_session()
    survey = _survey_or_404(slug)
    form = WaveForm()
    if form.validate_on_submit():
        try:
            wave = create_wave(
                session,
                survey,
                form.name.data or "",
                form.kind.data or "cold",
                form.opens_on.data,
                form.closes_on.data,
                form.touchpoint.data,
            )
        except WaveError as error:
            session.rollback()
            form.name.errors = [*form.name.errors, str(error)]
        else:
            record(session, current_user, "wave.create", f"{survey.slug} / {wave.name}", {"kind": wave.kind})
            session.commit()
            flash(_("Wave created. Open it when you are ready to collect answers."), "info")
            return redirect(url_for("surveys.wave", slug=survey.slug, name=wave.name))
    waves = session.exec(select(Wave).where(Wave.survey_id == survey.id)).all()
    return render_template(
        "surveys/show.html",
        survey=survey,
        items=items_of(session, survey),
        waves=waves,
        counts={},
        wave_form=form,
        models=_registries().scoring_models,
        scales=SCALES,
    ), 422


@blueprint.route("/<slug>/waves/<name>")
@role_required("lead")
def wave(slug: str, name: str) -> str:
    survey = _survey_or_404(slug)
    return _wave_page(survey, _wave_or_404(survey, name), LinkBatchForm())


def handed_out(survey: Survey, url: str, side: str) -> str:
    """The link as the web-link channel hands it to the lead."""
    channel = _registries().channels.get("link")
    if channel is None:
        return url
    delivery = Delivery(url=url, side=side, language=survey.default_language, survey_title=survey.title_en)
    return channel.deliver(delivery)


def _wave_page(survey: Survey, wave: Wave, link_form: LinkBatchForm) -> str:
    session = get_session()
    attributes = declared(session, survey, "customer")
    # A link for one group of customers: the values chosen on this page, signed into the link.
    chosen = {
        attribute.name: request.args[f"segment_{attribute.name}"]
        for attribute in attributes
        if request.args.get(f"segment_{attribute.name}")
    }
    group_link = None
    if chosen:
        try:
            signed = sign_segments(current_app.config["SECRET_KEY"], session, survey, wave, chosen)
        except TamperedLink as error:
            flash(str(error), "error")
        else:
            group_link = public_url("respond.public", token=wave.public_token, s=signed)
    return render_template(
        "surveys/wave.html",
        survey=survey,
        wave=wave,
        counts=response_counts(session, wave),
        links=link_counts(session, wave),
        public_link=handed_out(survey, public_url("respond.public", token=wave.public_token), "customer"),
        employee_link=handed_out(survey, public_url("respond.public", token=wave.employee_public_token), "employee"),
        link_form=link_form,
        action_form=ActionForm(),
        customer_segments=attributes,
        chosen=chosen,
        group_link=group_link,
        one_click_example=public_url("respond.public", token=wave.public_token, score=9),
    )


@blueprint.route("/<slug>/waves/<name>/<any(open, close):action>", methods=["POST"])
@role_required("lead")
def change_state(slug: str, name: str, action: str) -> WerkzeugResponse:
    session = get_session()
    survey = _survey_or_404(slug)
    wave = _wave_or_404(survey, name)
    try:
        (open_wave if action == "open" else close_wave)(wave)
    except WaveError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        record(session, current_user, f"wave.{action}", f"{survey.slug} / {wave.name}")
        session.commit()
        if action == "open":
            emit(
                current_app,
                "perception_wave_opened",
                WaveOpened(survey_slug=survey.slug, wave_name=wave.name, kind=wave.kind),
            )
            flash(_("The wave is open: links now accept answers."), "info")
        else:
            emit(
                current_app,
                "perception_wave_closed",
                WaveClosed(survey_slug=survey.slug, wave_name=wave.name, kind=wave.kind),
            )
            flash(_("The wave is closed: links no longer accept answers."), "info")
    return redirect(url_for("surveys.wave", slug=survey.slug, name=wave.name))


@blueprint.route("/<slug>/waves/<name>/links", methods=["POST"])
@role_required("lead")
def links(slug: str, name: str) -> str | Response | tuple[str, int]:
    """Make a batch of one-time links and hand them over as CSV, the only time they are shown."""
    session = get_session()
    survey = _survey_or_404(slug)
    wave = _wave_or_404(survey, name)
    form = LinkBatchForm()
    if not form.validate_on_submit():
        return _wave_page(survey, wave, form), 422
    try:
        issued = issue_links(session, wave, form.side.data or "", form.count.data or 0, current_app.config["LINK_DAYS"])
    except WaveError as error:
        session.rollback()
        flash(str(error), "error")
        return redirect(url_for("surveys.wave", slug=survey.slug, name=wave.name))
    record(
        session,
        current_user,
        "links.issue",
        f"{survey.slug} / {wave.name}",
        {"side": form.side.data, "count": len(issued)},
    )
    session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["side", "link", "expires_on"])
    for link in issued:
        url = handed_out(survey, public_url("respond.invitation", token=link.token), link.side)
        writer.writerow([link.side, url, link.expires_at.date().isoformat()])
    filename = f"{survey.slug}-{wave.name}-{form.side.data}-links.csv".replace(" ", "_")
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@blueprint.route("/<slug>/waves/<name>/report")
@role_required("lead", "leader")
def report(slug: str, name: str) -> tuple[str, int]:
    survey = _survey_or_404(slug)
    refusal = None
    try:
        report = _report_for(slug, name, request.args.getlist("segment"))
    except SegmentError as error:
        refusal = str(error)
        report = _report_for(slug, name, [])
    session = get_session()
    segments = {side: declared(session, survey, side) for side in SIDES}
    chosen = {(segment.side, segment.name): segment.value for segment in report.filters}
    wave_items = items_of(session, survey, report.wave)
    priorities = importance(session, report.wave, wave_items, report, report.filters)
    history = trend(session, survey, wave_items, _registries().scoring_models, report.threshold, until=report)
    earlier_waves = [point.wave for point in history[0].points] if history and len(history[0].points) > 1 else []
    language = current_locale()
    # The charts travel inside the page, so that the figures are computed once per look at it.
    charts = {
        "gaps": data_uri(gap_chart(report, language)),
        "priorities": data_uri(priority_chart_svg(report, priorities, language)) if priorities else None,
    }
    return render_template(
        "surveys/report.html", survey=survey, wave=report.wave, report=report, segments=segments,
        chosen=chosen, refusal=refusal, priorities=priorities, rows={row.item.key: row for row in report.rows},
        charts=charts, earlier_waves=earlier_waves, changes=latest_changes(history) if earlier_waves else [],
        trend_dimensions=dimension_trend(history) if earlier_waves else [],
        verbatim_counts=verbatim_counts(session, report.wave, report.filters, current_app.config["VERBATIM_THRESHOLD"]),
        follow_form=ActionForm(), followed=followed(session, current_user.id, survey),
    ), 422 if refusal else 200  # fmt: skip


@blueprint.route("/<slug>/waves/<name>/verbatims")
@role_required("lead", "leader")
def verbatims(slug: str, name: str) -> tuple[str, int]:
    """What respondents wrote, one side at a time, on the report's filters."""
    survey = _survey_or_404(slug)
    report = _requested_report(slug, name)
    session = get_session()
    side = request.args.get("side", "customer")
    if side not in SIDES:
        abort(400, "side must be customer or employee")
    items = items_of(session, survey)
    key = request.args.get("item") or None
    item = next((candidate for candidate in items if candidate.key == key), None)
    if key is not None and item is None:
        abort(404)
    page = request.args.get("page", 1, type=int) or 1
    shown = verbatim_page(
        session, report.wave, side, items, report.filters, current_app.config["VERBATIM_THRESHOLD"], page, item
    )
    written = [candidate for candidate in items if SCALES[candidate.scale].is_text or candidate.key == key]
    return render_template(
        "surveys/verbatims.html", survey=survey, wave=report.wave, report=report, side=side, shown=shown,
        item=item, items=written, threshold=current_app.config["VERBATIM_THRESHOLD"],
    ), 200  # fmt: skip


@blueprint.route("/<slug>/waves/<name>/themes")
@role_required("lead", "leader")
def themes(slug: str, name: str) -> tuple[str, int]:
    """What customers talk about, how it goes with their scores, and what staff think they talk about."""
    survey = _survey_or_404(slug)
    wave = _wave_or_404(survey, name)
    session = get_session()
    try:
        wanted = [parse_filter(text) for text in request.args.getlist("segment") if text and not text.endswith("=")]
        filters = resolve(session, survey, wanted)
    except SegmentError as error:
        abort(400, str(error))
    threshold = current_app.config["VERBATIM_THRESHOLD"]
    analyser = choose_analyser(_registries().text_analysers, current_app.config["TEXT_ANALYSER"])
    found = theme_report(session, wave, items_of(session, survey, wave), filters, threshold, analyser)
    return render_template(
        "surveys/themes.html", survey=survey, wave=wave, filters=filters, found=found, threshold=threshold
    ), 200


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@blueprint.route("/<slug>/waves/<name>/groups")
@role_required("lead", "leader")
def groups(slug: str, name: str) -> tuple[str, int]:
    """Each group of one segment attribute beside the other side: the three-way picture."""
    session = get_session()
    survey = _survey_or_404(slug)
    wave = _wave_or_404(survey, name)
    side, _, attribute = (request.args.get("by") or "").partition(":")
    if side not in SIDES or not attribute:
        abort(400, "choose what to compare: ?by=employee:NAME or ?by=customer:NAME")
    try:
        result = breakdown(
            session, survey, wave, items_of(session, survey, wave), _registries().scoring_models,
            current_app.config["REPORTING_THRESHOLD"], side, attribute,
        )  # fmt: skip
    except SegmentError as error:
        abort(400, str(error))
    whole = _report_for(slug, name, [])
    return render_template(
        "surveys/groups.html", survey=survey, wave=wave, side=side, attribute=attribute, groups=result,
        whole=whole, label=attribute.replace("_", " ").capitalize(),
    ), 200  # fmt: skip


def _trend_rows(survey: Survey) -> list[TrendRow]:
    session = get_session()
    models = _registries().scoring_models
    return trend(session, survey, items_of(session, survey), models, current_app.config["REPORTING_THRESHOLD"])


@blueprint.route("/<slug>/trend")
@role_required("lead", "leader")
def trend_view(slug: str) -> str:
    survey = _survey_or_404(slug)
    rows = _trend_rows(survey)
    waves = [point.wave for point in rows[0].points] if rows else []
    keys = [row.item.key for row in rows]
    chosen = request.args.get("item")
    if chosen not in keys:
        anchor = recommendation_item([row.item for row in rows])
        chosen = anchor.key if anchor else (keys[0] if keys else None)
    return render_template(
        "surveys/trend.html", survey=survey, rows=rows, waves=waves, chosen=chosen, dimensions=dimension_trend(rows)
    )


def _requested_report(slug: str, name: str) -> GapReport:
    """The report the request's segment filters ask for; a refused filter is a bad request."""
    try:
        return _report_for(slug, name, request.args.getlist("segment"))
    except SegmentError as error:
        abort(400, str(error))


def _report_for(slug: str, name: str, segment_args: list[str]) -> GapReport:
    """The wave's report, cut by ``side:name=value`` filters (empty values mean all)."""
    session = get_session()
    survey = _survey_or_404(slug)
    wave = _wave_or_404(survey, name)
    wanted = [parse_filter(text) for text in segment_args if text and not text.endswith("=")]
    return gap_report(
        session,
        survey,
        wave,
        items_of(session, survey, wave),
        _registries().scoring_models,
        current_app.config["REPORTING_THRESHOLD"],
        resolve(session, survey, wanted),
    )


@blueprint.route("/<slug>/waves/<name>/gaps.svg")
@role_required("lead", "leader")
def report_chart(slug: str, name: str) -> Response:
    """The dumbbell chart of the report, drawn on the server so that the page and the PDF show the same."""
    report = _requested_report(slug, name)
    return _svg(gap_chart(report, current_locale()))


def _svg(svg: str) -> Response:
    response = Response(svg, mimetype="image/svg+xml")
    # A chart styles its own shapes; nothing else may load or run in it.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@blueprint.route("/<slug>/waves/<name>/priorities.svg")
@role_required("lead", "leader")
def priority_chart(slug: str, name: str) -> Response:
    """Importance against gap: the quadrant of what to fix first."""
    report = _requested_report(slug, name)
    session = get_session()
    priorities = importance(session, report.wave, items_of(session, report.survey, report.wave), report, report.filters)
    return _svg(priority_chart_svg(report, priorities, current_locale()))


@blueprint.route("/<slug>/trend/<key>.svg")
@role_required("lead", "leader")
def trend_chart(slug: str, key: str) -> Response:
    rows = _trend_rows(_survey_or_404(slug))
    row = next((row for row in rows if row.item.key == key), None)
    if row is None:
        abort(404)
    language = current_locale()
    return _svg(trend_svg(trend_points(row), trend_text(row, language)))


@blueprint.route("/<slug>/waves/<name>/<any(customer, employee):side>.csv")
@role_required("lead")
def export_wave(slug: str, name: str, side: str) -> Response:
    """One side's responses as CSV; employees' as anonymous as in reports."""
    survey = _survey_or_404(slug)
    wave = _wave_or_404(survey, name)
    config = current_app.config
    session = get_session()
    try:
        text = export_responses(
            session, survey, wave, side, config["REPORTING_THRESHOLD"], config["VERBATIM_THRESHOLD"]
        )
    except ExportRefused as error:
        abort(409, str(error))
    record(session, current_user, "responses.export", f"{survey.slug} / {wave.name}", {"side": side})
    session.commit()
    filename = f"{survey.slug}-{wave.name}-{side}-responses.csv".replace(" ", "_")
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blueprint.route("/<slug>/waves/<name>/report.pdf")
@role_required("lead", "leader")
def board_pack(slug: str, name: str) -> Response:
    """The board pack: the same report, laid out for print, with the same chart."""
    report = _requested_report(slug, name)
    language = current_locale()
    session = get_session()
    priorities = importance(session, report.wave, items_of(session, report.survey, report.wave), report, report.filters)
    priority_map = priority_chart_svg(report, priorities, language) if priorities else None
    pdf = board_pack_pdf(report, gap_chart(report, language), language, priority_map)
    record(session, current_user, "report.export", f"{report.survey.slug} / {report.wave.name}", {"format": "pdf"})
    session.commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{board_pack_filename(report)}"'},
    )


@blueprint.route("/<slug>/following", methods=["POST"])
@role_required("lead", "leader")
def following(slug: str) -> Response:
    """The dimensions of the survey the reader follows: told by email when their gaps widen."""
    survey = _survey_or_404(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    dimensions = request.form.getlist("dimension")
    known = {item.dimension for item in items_of(session, survey) if item.dimension}
    unknown = sorted(set(dimensions) - known)
    if unknown:
        abort(400, f"the survey has no dimension named {unknown[0]!r}")
    set_followed(session, current_user.id, survey, dimensions)
    session.commit()
    if dimensions:
        flash(_("When a wave closes, you will be told by email if a gap of the dimensions you follow widened."), "info")
    else:
        flash(_("You follow no dimension of this survey."), "info")
    wave = find_wave(session, survey, request.form.get("wave", ""))
    if wave is None:
        return redirect(url_for("surveys.show", slug=survey.slug))
    return redirect(url_for("surveys.report", slug=survey.slug, name=wave.name) + "#following")
