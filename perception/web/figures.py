"""Reports turned into what the charts draw, in the reader's language: the same for page and PDF."""

from __future__ import annotations

from flask_babel import gettext as _

from perception.charts import (
    ChartText,
    DumbbellRow,
    PriorityPoint,
    PriorityText,
    TrendSeriesPoint,
    TrendText,
    dumbbell_svg,
    priority_svg,
)
from perception.report import (
    VERDICTS,
    GapReport,
    Importance,
    SideFigures,
    TrendRow,
    importance_threshold,
    rescale,
    rescaled_interval,
    rescaled_score,
)
from perception.web.helpers import VERDICT_LABELS


def chart_rows(report: GapReport, language: str) -> list[DumbbellRow]:
    return [
        DumbbellRow(
            label=row.item.wording("customer", language),
            customer=rescaled_score(row, "customer"),
            employee=rescaled_score(row, "employee"),
            customer_ci=rescaled_interval(row, "customer"),
            employee_ci=rescaled_interval(row, "employee"),
            verdict=row.verdict,
            customer_n=row.customer.n,
            employee_n=row.employee.n,
        )
        for row in report.rows
    ]


def chart_text(report: GapReport) -> ChartText:
    counts = {verdict: len([row for row in report.rows if row.verdict == verdict]) for verdict in VERDICTS}
    return ChartText(
        title=_("Perception gaps, wave %(name)s", name=report.wave.name),
        description=_(
            "Customer and employee score of each item on 0 to 100, with 95%% intervals: "
            "%(blind)d blind spots, %(hidden)d hidden strengths, %(aligned)d aligned, %(few)d with too few answers.",
            blind=counts["blind_spot"],
            hidden=counts["hidden_strength"],
            aligned=counts["aligned"],
            few=counts["insufficient_data"],
        ),
        customers=_("Customers"),
        employees=_("Employees"),
        axis=_("Score, 0 to 100"),
        verdicts={verdict: str(VERDICT_LABELS[verdict]).capitalize() for verdict in VERDICTS},
        hidden=_("hidden (too few answers)"),
    )


def priority_points(report: GapReport, priorities: list[Importance], language: str) -> list[PriorityPoint]:
    rows = {row.item.key: row for row in report.rows}
    points = []
    for entry in priorities:
        row = rows[entry.item_key]
        employee, customer = rescaled_score(row, "employee"), rescaled_score(row, "customer")
        if employee is None or customer is None:
            continue
        points.append(PriorityPoint(row.item.wording("customer", language), entry.r, employee - customer, row.verdict))
    return points


def priority_text() -> PriorityText:
    return PriorityText(
        title=_("What to fix first"),
        description=_(
            "Each item placed by its importance for customers' recommendation (across) and by its gap, "
            "staff minus customers (up: staff more optimistic). Top right: important items staff overrate."
        ),
        x_axis=_("Importance for recommendation (r)"),
        y_axis=_("Gap, staff − customers (points on 0-100)"),
        quadrants={"fix_first": _("Fix first"), "keep": _("Keep"), "watch": _("Watch"), "secondary": _("Secondary")},
        verdicts={verdict: str(VERDICT_LABELS[verdict]).capitalize() for verdict in VERDICTS},
    )


def gap_chart(report: GapReport, language: str) -> str:
    """The dumbbell chart of a report's gaps, as SVG."""
    return dumbbell_svg(chart_rows(report, language), chart_text(report))


def priority_chart_svg(report: GapReport, priorities: list[Importance], language: str) -> str:
    """Importance against gap, split where an item starts to count as important, as SVG."""
    points = priority_points(report, priorities, language)
    return priority_svg(points, importance_threshold([entry.r for entry in priorities]), priority_text())


def trend_points(row: TrendRow) -> list[TrendSeriesPoint]:
    def scaled(figures: SideFigures) -> tuple[float | None, tuple[float, float] | None]:
        if figures.suppressed or figures.score is None or figures.score.value is None:
            return None, None
        ci95 = figures.score.ci95
        interval = (rescale(row.model, row.item, ci95[0]), rescale(row.model, row.item, ci95[1])) if ci95 else None
        return rescale(row.model, row.item, figures.score.value), interval

    points = []
    for point in row.points:
        customer, customer_ci = scaled(point.customer)
        employee, employee_ci = scaled(point.employee)
        points.append(
            TrendSeriesPoint(
                wave=point.wave.name, customer=customer, employee=employee, customer_ci=customer_ci,
                employee_ci=employee_ci, customer_change=point.customer_change is not None,
                employee_change=point.employee_change is not None,
            )
        )  # fmt: skip
    return points


def trend_text(row: TrendRow, language: str) -> TrendText:
    return TrendText(
        title=row.item.wording("customer", language),
        description=_("Customer and employee score of this item in each wave, on 0 to 100, with 95%% intervals."),
        customers=_("Customers"),
        employees=_("Employees"),
        axis=_("Score, 0 to 100"),
        significant=_("significant change"),
    )
