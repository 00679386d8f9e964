"""Server-side SVG charts for the gap report.

The same SVG string is served as a separate URL for an ``<img>`` in the web page and embedded in
the PDF that WeasyPrint makes, so it has to stand on its own: no JavaScript, no external
references, explicit ``width``/``height``/``viewBox``, and a ``<title>`` and ``<desc>`` that
give it an accessible name and a text summary. Text stays ``<text>`` (``svg.fonttype`` "none")
so that it is selectable, searchable and translated words are not turned into outlines, and the
hash salt is fixed so that one report always renders to the same bytes (cacheable, diffable,
testable).

matplotlib is imported inside the functions: it is heavy (fonts, numpy, a font cache on first
use), and most requests and CLI commands never draw a chart. Only ``Figure`` and the SVG canvas
are used, never ``pyplot``, so no global figure registry or GUI backend is involved.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "VERDICT_STYLES",
    "ChartText",
    "DumbbellRow",
    "PriorityPoint",
    "PriorityText",
    "TrendSeriesPoint",
    "TrendText",
    "dumbbell_svg",
    "priority_svg",
    "trend_svg",
]


@dataclass(frozen=True)
class DumbbellRow:
    """One survey item: both sides' scores on a common 0-100 scale and the verdict on their gap.

    A side is hidden (too few answers to show without risking anonymity) when its count is
    None, as in the report, where a suppressed side has neither score nor count: its point and
    interval are then never drawn, whatever the score field holds. A visible side without a
    score (nothing to score yet) just has no point.
    """

    label: str  # the item key or a short wording, already in the reader's language
    customer: float | None  # score rescaled to 0-100, None when hidden
    employee: float | None
    customer_ci: tuple[float, float] | None  # 95% interval, 0-100
    employee_ci: tuple[float, float] | None
    verdict: str  # blind_spot | hidden_strength | aligned | insufficient_data
    customer_n: int | None  # None when hidden
    employee_n: int | None


@dataclass(frozen=True)
class ChartText:
    """Every word the chart shows, already translated: the chart itself knows no language."""

    title: str  # the SVG <title>: the accessible name of the image
    description: str  # the SVG <desc>: a one-paragraph text summary of what the chart shows
    customers: str  # legend label, e.g. "Customers" / "Clients"
    employees: str
    axis: str  # x axis label, e.g. "Score, 0 to 100"
    verdicts: Mapping[str, str]  # verdict -> label in the reader's language
    hidden: str  # e.g. "hidden (too few answers)"


@dataclass(frozen=True)
class PriorityPoint:
    """One survey item on the priority map: how much it matters to customers, and how far apart the sides are."""

    label: str  # short item label, already in the reader's language
    importance: float  # correlation r of the item with the recommendation question, -1..1
    gap: float  # employees' score minus customers' score, in points on the 0-100 scale
    verdict: str  # blind_spot | hidden_strength | aligned | insufficient_data


@dataclass(frozen=True)
class PriorityText:
    """Every word the priority map shows, already translated."""

    title: str  # the SVG <title>
    description: str  # the SVG <desc>
    x_axis: str  # e.g. "Importance for recommendation (r)"
    y_axis: str  # e.g. "Gap, staff minus customers (points on 0-100)"
    # fix_first (important, staff overrate: top right), keep (important, bottom right),
    # watch (less important, staff overrate: top left), secondary (bottom left)
    quadrants: Mapping[str, str]
    verdicts: Mapping[str, str]  # verdict -> label in the reader's language


@dataclass(frozen=True)
class TrendSeriesPoint:
    """One wave of one item (or of the overall score): both sides on 0-100, a side being None when hidden."""

    wave: str  # the wave's short name, e.g. "2024 Q3"
    customer: float | None  # 0-100, None when hidden or not asked
    employee: float | None
    customer_ci: tuple[float, float] | None  # 95% interval, 0-100
    employee_ci: tuple[float, float] | None
    customer_change: bool  # significant change since the previous wave
    employee_change: bool


@dataclass(frozen=True)
class TrendText:
    """Every word the trend chart shows, already translated."""

    title: str  # the SVG <title>
    description: str  # the SVG <desc>
    customers: str  # legend label
    employees: str
    axis: str  # y axis label, e.g. "Score, 0 to 100"
    significant: str  # legend label of the ring that marks a significant change, e.g. "significant change"


@dataclass(frozen=True)
class _VerdictStyle:
    line: str
    text: str
    dashed: bool


# The report's palette (perception.css: --over, --under, --muted). Colour is never the only cue:
# every row also names its verdict in words.
VERDICT_STYLES: Mapping[str, _VerdictStyle] = {
    "blind_spot": _VerdictStyle(line="#b3261e", text="#b3261e", dashed=False),
    "hidden_strength": _VerdictStyle(line="#1b6e3a", text="#1b6e3a", dashed=False),
    "aligned": _VerdictStyle(line="#6b7280", text="#5a6272", dashed=False),
    "insufficient_data": _VerdictStyle(line="#b9bec7", text="#5a6272", dashed=True),
}

# Geometry in px. The figure is drawn at 72 dpi, where one matplotlib point is one SVG user unit,
# and the size attributes are rewritten from "pt" to "px", so these numbers, the font sizes and
# the line widths below are all CSS pixels in the final image.
WIDTH = 760
ROW_HEIGHT = 34
LABEL_LEFT = 10  # left edge of the item labels
PLOT_LEFT = 316  # the 0-100 axis runs from here...
PLOT_RIGHT = 604  # ...to here
VERDICT_LEFT = 620  # verdict label and counts
RIGHT_PAD = 8
TOP = 40  # room for the legend
TOP_TICKS = 18  # extra room when the axis is repeated above a long chart
BOTTOM = 46  # tick labels and axis title
MAX_LABEL_CHARS = 48
TOP_AXIS_FROM_ROWS = 11  # from this many rows the scale is also shown on top

INK = "#1d2330"
MUTED = "#5a6272"
GRID = "#e3e6ec"
STRIPE = "#f4f6f9"
CUSTOMER_COLOUR = "#1f5fbf"  # the report's accent blue
EMPLOYEE_COLOUR = "#1d2330"  # ink
# Text is measured with DejaVu Sans (matplotlib's own font, so always there) and the SVG asks for
# it first; the fallbacks are narrower, so text that fits in DejaVu fits in them too. matplotlib
# is only told about DejaVu (it warns about every listed font it cannot find); the full CSS list
# is written into the SVG afterwards.
MEASURE_FONT = "DejaVu Sans"
CSS_FONTS = "'DejaVu Sans', Verdana, 'Liberation Sans', Arial, Helvetica, sans-serif"
FONT_SIZE = 11
SMALL_FONT_SIZE = 10

# rcParams are process-wide; rc_context changes and restores them, so two threads drawing at once
# (a threaded server) could see each other's settings or restore the wrong ones.
_RENDER_LOCK = threading.Lock()
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")  # not allowed in XML 1.0, or line breaks
# matplotlib's RDF block would carry a timestamp (breaking determinism) and its version; drop it all.
_NO_METADATA: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}
_SVG_OPEN_TAG = re.compile(r"<svg\b[^>]*>")


def dumbbell_svg(rows: Sequence[DumbbellRow], text: ChartText) -> str:
    """Draw one dumbbell per item: customers' and employees' scores joined by a line in the verdict's colour.

    Rows are drawn top to bottom in the order given (the caller decides: survey order, or
    largest gap first). Returns a standalone SVG document as a string, 760 px wide and about
    34 px high per row, identical for identical input.
    """
    for row in rows:
        if row.verdict not in VERDICT_STYLES:
            raise ValueError(f"unknown verdict {row.verdict!r} for {row.label!r}")

    return _render(lambda: _dumbbell_figure(rows, text), text.title, text.description)


def _render(draw: Callable[[], Figure], title: str, description: str) -> str:
    """Build a figure with ``draw`` under the charts' fixed settings and return it as finished SVG.

    Every chart goes through here: the same fonts, the same hash salt (so marker and clip ids, and
    thus the bytes, never change), no metadata, and the same <title>/<desc> treatment.
    """
    import matplotlib

    rc = {
        "svg.fonttype": "none",
        "svg.hashsalt": "perception-charts",
        "font.family": "sans-serif",
        "font.sans-serif": [MEASURE_FONT],
        "font.size": FONT_SIZE,
        "text.color": INK,
        "axes.unicode_minus": False,
        "text.usetex": False,
        "path.simplify": False,
    }
    with _RENDER_LOCK, matplotlib.rc_context(rc):
        figure = draw()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", dpi=72, metadata=_NO_METADATA)
    return _finish_svg(buffer.getvalue(), title, description)


def _dumbbell_figure(rows: Sequence[DumbbellRow], text: ChartText) -> Figure:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    count = len(rows)
    top_axis = count >= TOP_AXIS_FROM_ROWS
    top = TOP + (TOP_TICKS if top_axis else 0)
    plot_height = max(count, 1) * ROW_HEIGHT
    height = top + plot_height + BOTTOM

    figure = Figure(figsize=(WIDTH / 72, height / 72), dpi=72, facecolor="white")
    FigureCanvasSVG(figure)
    ax = figure.add_axes((PLOT_LEFT / WIDTH, BOTTOM / height, (PLOT_RIGHT - PLOT_LEFT) / WIDTH, plot_height / height))
    _style_axes(ax, count, top_axis, text.axis)

    # x in figure fractions (fixed columns), y in rows: for the labels left and right of the plot.
    columns = blended_transform_factory(figure.transFigure, ax.transData)
    plot_width = PLOT_RIGHT - PLOT_LEFT
    width_of = _width_measure(FONT_SIZE)
    label_room = PLOT_LEFT - LABEL_LEFT - 14
    verdict_room = WIDTH - VERDICT_LEFT - RIGHT_PAD

    segments: list[list[tuple[float, float]]] = []
    segment_colours: list[str] = []
    segment_styles: list[Any] = []
    points: dict[str, list[tuple[float, int, tuple[float, float] | None]]] = {"customer": [], "employee": []}

    for y, row in enumerate(rows):
        style = VERDICT_STYLES[row.verdict]
        if y % 2 == 0:  # zebra stripes across the whole width, so the eye can follow a row to its verdict
            ax.axhspan(
                y - 0.5,
                y + 0.5,
                xmin=-(PLOT_LEFT - 4) / plot_width,
                xmax=(WIDTH - 4 - PLOT_LEFT) / plot_width,
                facecolor=STRIPE,
                edgecolor="none",
                zorder=0.1,
                clip_on=False,
            )
        ax.text(
            LABEL_LEFT / WIDTH,
            y,
            _fit(row.label, MAX_LABEL_CHARS, label_room, width_of),
            transform=columns,
            ha="left",
            va="center",
            color=INK,
            parse_math=False,
        )
        verdict_label = text.verdicts.get(row.verdict, row.verdict)
        ax.text(
            VERDICT_LEFT / WIDTH,
            y - 0.19,
            _fit(verdict_label, MAX_LABEL_CHARS, verdict_room, width_of),
            transform=columns,
            ha="left",
            va="center",
            color=style.text,
            fontweight="bold" if row.verdict in ("blind_spot", "hidden_strength") else "normal",
            parse_math=False,
        )
        ax.text(
            VERDICT_LEFT / WIDTH,
            y + 0.23,
            f"n = {_count(row.customer_n)} / {_count(row.employee_n)}",
            transform=columns,
            ha="left",
            va="center",
            color=MUTED,
            fontsize=SMALL_FONT_SIZE,
            parse_math=False,
        )

        customer = _visible(row.customer, row.customer_n)
        employee = _visible(row.employee, row.employee_n)
        if customer is not None:
            points["customer"].append((customer, y, row.customer_ci))
        if employee is not None:
            points["employee"].append((employee, y, row.employee_ci))
        if customer is not None and employee is not None:
            segments.append([(customer, y), (employee, y)])
            segment_colours.append(style.line)
            segment_styles.append((0, (3.0, 2.0)) if style.dashed else "solid")
        if row.customer_n is None or row.employee_n is None:
            _hidden_note(ax, y, row, customer, employee, text.hidden)

    if segments:
        ax.add_collection(
            LineCollection(
                segments, colors=segment_colours, linestyles=segment_styles, linewidths=3.0, capstyle="butt", zorder=3
            ),
            autolim=False,
        )
    for side, colour, marker, size in (
        ("customer", CUSTOMER_COLOUR, "o", 9.0),
        ("employee", EMPLOYEE_COLOUR, "D", 7.0),  # a diamond looks bigger than a circle of the same size
    ):
        _draw_side(ax, side, points[side], colour, marker, size)

    handles = [
        Line2D([], [], color=CUSTOMER_COLOUR, marker="o", markersize=9.0, markeredgecolor="white", linestyle="none"),
        Line2D([], [], color=EMPLOYEE_COLOUR, marker="D", markersize=7.0, markeredgecolor="white", linestyle="none"),
    ]
    _legend(figure, handles, [text.customers, text.employees], height, PLOT_LEFT)
    return figure


def _style_axes(ax: Axes, count: int, top_axis: bool, axis_label: str) -> None:
    """A quiet frame: light vertical grid, no box, the 0-100 scale below (and above a long chart)."""
    ax.set_xlim(0, 100)
    ax.set_ylim(max(count, 1) - 0.5, -0.5)  # inverted: the first row on top
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_yticks([])
    ax.set_facecolor("none")
    ax.set_axisbelow(True)
    ax.grid(axis="x", color=GRID, linewidth=1.0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color("#b9bec7")
    ax.tick_params(
        axis="x",
        colors=MUTED,
        labelcolor=MUTED,
        labelsize=SMALL_FONT_SIZE,
        length=3,
        top=top_axis,
        labeltop=top_axis,
    )
    ax.set_xlabel(_clean(axis_label), color=MUTED, fontsize=SMALL_FONT_SIZE, labelpad=6, parse_math=False)


def _draw_side(
    ax: Axes,
    side: str,
    points: list[tuple[float, int, tuple[float, float] | None]],
    colour: str,
    marker: str,
    size: float,
) -> None:
    """One side's points and their 95% intervals, in a few artists whatever the number of rows.

    The points' group gets a stable id (``customer-points``, ``employee-points``) so that tests
    can count what is drawn.
    """
    if not points:
        return
    with_ci = [(x, y, ci) for x, y, ci in points if ci is not None]
    if with_ci:
        xs = [_clamp(x) for x, _, _ in with_ci]
        below = [max(0.0, x - _clamp(ci[0])) for x, (_, _, ci) in zip(xs, with_ci, strict=True)]
        above = [max(0.0, _clamp(ci[1]) - x) for x, (_, _, ci) in zip(xs, with_ci, strict=True)]
        ax.errorbar(
            xs,
            [y for _, y, _ in with_ci],
            xerr=[below, above],
            fmt="none",
            ecolor=colour,
            elinewidth=1.1,
            capsize=2.5,
            capthick=1.1,
            alpha=0.75,
            zorder=2,
            clip_on=False,
        )
    ax.plot(
        [_clamp(x) for x, _, _ in points],
        [y for _, y, _ in points],
        linestyle="none",
        marker=marker,
        markersize=size,
        color=colour,
        markeredgecolor="white",
        markeredgewidth=1.0,
        zorder=4,
        clip_on=False,
        gid=f"{side}-points",
    )


def _hidden_note(
    ax: Axes, y: int, row: DumbbellRow, customer: float | None, employee: float | None, hidden: str
) -> None:
    """Say in words that a side is hidden: beside the point that is shown, or mid-scale if neither is.

    The note goes on whichever side of the shown point and its interval has more room, and is
    shortened to that room, so that it never runs into the labels or the verdict column.
    """
    from matplotlib.transforms import offset_copy

    plot_width = PLOT_RIGHT - PLOT_LEFT
    gap = 8.0
    shown, ci = (customer, row.customer_ci) if customer is not None else (employee, row.employee_ci)
    if shown is None:
        anchor, shift, align, room = 50.0, 0.0, "center", plot_width - 2 * gap
    else:
        low, high = (min(shown, _clamp(ci[0])), max(shown, _clamp(ci[1]))) if ci else (shown, shown)
        # px from the point (or the end of its interval) to each edge of the plot, less the marker
        room_left, room_right = low / 100 * plot_width - 2 * gap, (100 - high) / 100 * plot_width - 2 * gap
        if room_right >= room_left:
            anchor, shift, align, room = high, gap, "left", room_right
        else:
            anchor, shift, align, room = low, -gap, "right", room_left
    ax.text(
        anchor,
        y,
        _fit(hidden, MAX_LABEL_CHARS, max(room, 0.0), _width_measure(SMALL_FONT_SIZE, italic=True)),
        transform=offset_copy(ax.transData, fig=ax.figure, x=shift, y=0, units="points"),
        ha=align,
        va="center",
        color=MUTED,
        fontsize=SMALL_FONT_SIZE,
        fontstyle="italic",
        parse_math=False,
        zorder=5,
    )


# --- Priority map -------------------------------------------------------------------------------

PRIORITY_HEIGHT = 480
PRIORITY_LEFT = 74  # room for the signed tick labels and the rotated axis title
PRIORITY_RIGHT = 18
PRIORITY_TOP = 44  # the legend
PRIORITY_BOTTOM = 50  # tick labels and axis title
PRIORITY_LABEL_CHARS = 36
PRIORITY_LABEL_WIDTH = 200  # px, the longest a point's label may get
FIX_FIRST_TINT = "#fbeeed"  # the blind-spot red, very light
CROSSHAIR = "#9aa1ad"
FRAME = "#d3d7df"
# Each verdict has its own shape, so the map reads without colour: (marker, size, hollow).
PRIORITY_MARKERS: Mapping[str, tuple[str, float, bool]] = {
    "blind_spot": ("^", 11.0, False),  # staff overrate: points up
    "hidden_strength": ("v", 11.0, False),  # staff underrate: points down
    "aligned": ("o", 8.5, False),
    "insufficient_data": ("o", 8.5, True),
}
QUADRANTS = ("fix_first", "keep", "watch", "secondary")
# Where a label may go relative to its point, in order of preference: (dx, dy, ha, va), px, y up.
_LABEL_SPOTS: tuple[tuple[float, float, str, str], ...] = (
    (8.0, 0.0, "left", "center"),
    (-8.0, 0.0, "right", "center"),
    (0.0, 8.0, "center", "bottom"),
    (0.0, -8.0, "center", "top"),
    (6.0, 6.0, "left", "bottom"),
    (6.0, -6.0, "left", "top"),
    (-6.0, 6.0, "right", "bottom"),
    (-6.0, -6.0, "right", "top"),
    (8.0, 13.0, "left", "center"),
    (8.0, -13.0, "left", "center"),
    (-8.0, 13.0, "right", "center"),
    (-8.0, -13.0, "right", "center"),
)
_MARKER_BOX = 6.0  # half the side of the box a marker is taken to fill, px
_LABEL_HEIGHT = 12.0  # px a one-line label at the small size is taken to fill

_Box = tuple[float, float, float, float]  # left, bottom, right, top in px from the plot's lower left


def priority_svg(points: Sequence[PriorityPoint], median_importance: float, text: PriorityText) -> str:
    """Draw the importance-performance map: importance for recommendation across, the gap up.

    A vertical line at ``median_importance`` and a horizontal one at no gap split the map into
    four quadrants, named in their corners: important items that staff rate higher than
    customers do (top right, tinted) are the ones to fix first. Each point's shape and colour
    give its verdict (▲ blind spot, ▼ hidden strength, ● aligned, ○ insufficient data) and it
    carries its label. The crosshair sits in the middle of the map, so the quadrants are equal.
    Points whose importance or gap is not a finite number are left out. Returns a standalone
    SVG document, 760 by 480 px, identical for identical input.
    """
    for point in points:
        if point.verdict not in VERDICT_STYLES:
            raise ValueError(f"unknown verdict {point.verdict!r} for {point.label!r}")
    return _render(lambda: _priority_figure(points, median_importance, text), text.title, text.description)


def _priority_figure(points: Sequence[PriorityPoint], median_importance: float, text: PriorityText) -> Figure:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    from matplotlib.transforms import offset_copy

    drawable = [
        (point, x, y)
        for point in points
        if (x := _finite(point.importance)) is not None and (y := _finite(point.gap)) is not None
    ]
    centre = _finite(median_importance)
    if centre is None:
        centre = _median([x for _, x, _ in drawable]) if drawable else 0.0
    x_low, x_high = _importance_range(centre, [x for _, x, _ in drawable])
    y_half = _gap_half_range([y for _, _, y in drawable])

    height = PRIORITY_HEIGHT
    plot_width = WIDTH - PRIORITY_LEFT - PRIORITY_RIGHT
    plot_height = height - PRIORITY_TOP - PRIORITY_BOTTOM
    figure = Figure(figsize=(WIDTH / 72, height / 72), dpi=72, facecolor="white")
    FigureCanvasSVG(figure)
    ax = figure.add_axes((PRIORITY_LEFT / WIDTH, PRIORITY_BOTTOM / height, plot_width / WIDTH, plot_height / height))
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(-y_half, y_half)
    ax.set_facecolor("none")
    ax.set_axisbelow(True)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _number(value)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _number(value, signed=True)))
    ax.grid(color=GRID, linewidth=0.8)
    for spine in ax.spines.values():
        spine.set_color(FRAME)
    ax.tick_params(colors=FRAME, labelcolor=MUTED, labelsize=SMALL_FONT_SIZE, length=3)
    width_of_axis = _width_measure(SMALL_FONT_SIZE)
    ax.set_xlabel(
        _fit(text.x_axis, 90, plot_width, width_of_axis),
        color=MUTED,
        fontsize=SMALL_FONT_SIZE,
        labelpad=6,
        parse_math=False,
    )
    ax.set_ylabel(
        _fit(text.y_axis, 90, plot_height, width_of_axis),
        color=MUTED,
        fontsize=SMALL_FONT_SIZE,
        labelpad=6,
        parse_math=False,
    )

    # The quadrant to fix first, lightly tinted, under the crosshair.
    ax.add_patch(
        Rectangle((centre, 0.0), x_high - centre, y_half, facecolor=FIX_FIRST_TINT, edgecolor="none", zorder=0.2)
    )
    ax.axvline(centre, color=CROSSHAIR, linewidth=1.0, linestyle=(0, (4.0, 3.0)), zorder=1)
    ax.axhline(0.0, color=CROSSHAIR, linewidth=1.0, zorder=1)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x - x_low) / (x_high - x_low) * plot_width, (y + y_half) / (2 * y_half) * plot_height

    obstacles = _quadrant_labels(ax, text.quadrants, to_px(centre, 0.0)[0], plot_width, plot_height)

    # Markers: one artist per verdict (with a stable id, ``priority-<verdict>``), in a fixed order.
    placed = [(point, *to_px(_between(x, x_low, x_high), _between(y, -y_half, y_half))) for point, x, y in drawable]
    for verdict, (marker, size, hollow) in PRIORITY_MARKERS.items():
        mine = [(px, py) for point, px, py in placed if point.verdict == verdict]
        if not mine:
            continue
        colour = VERDICT_STYLES[verdict].line
        ax.plot(
            [x_low + px / plot_width * (x_high - x_low) for px, _ in mine],
            [-y_half + py / plot_height * 2 * y_half for _, py in mine],
            linestyle="none",
            marker=marker,
            markersize=size,
            color=colour,
            markerfacecolor="white" if hollow else colour,
            markeredgecolor=colour if hollow else "white",
            markeredgewidth=1.6 if hollow else 0.8,
            zorder=4,
            clip_on=False,
            gid=f"priority-{verdict}",
        )

    # Labels: each beside its point, where it covers no marker, no other label and no quadrant name if it can.
    width_of = _width_measure(SMALL_FONT_SIZE)
    obstacles += [(px - _MARKER_BOX, py - _MARKER_BOX, px + _MARKER_BOX, py + _MARKER_BOX) for _, px, py in placed]
    for point, px, py in placed:
        label = _fit(point.label, PRIORITY_LABEL_CHARS, PRIORITY_LABEL_WIDTH, width_of)
        dx, dy, ha, va = _label_spot(px, py, width_of(label), obstacles, plot_width, plot_height)
        ax.text(
            px / plot_width,
            py / plot_height,
            label,
            transform=offset_copy(ax.transAxes, fig=figure, x=dx, y=dy, units="points"),
            ha=ha,
            va=va,
            color=VERDICT_STYLES[point.verdict].text,
            fontsize=SMALL_FONT_SIZE,
            parse_math=False,
            zorder=5,
            clip_on=False,
        )
        obstacles.append(_text_box(px + dx, py + dy, width_of(label), ha, va))

    present = [verdict for verdict in PRIORITY_MARKERS if any(point.verdict == verdict for point, _, _ in placed)]
    if present:
        handles = []
        for verdict in present:
            marker, size, hollow = PRIORITY_MARKERS[verdict]
            colour = VERDICT_STYLES[verdict].line
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker=marker,
                    markersize=size,
                    color=colour,
                    markerfacecolor="white" if hollow else colour,
                    markeredgecolor=colour if hollow else "white",
                    markeredgewidth=1.6 if hollow else 0.8,
                )
            )
        _legend(figure, handles, [text.verdicts.get(verdict, verdict) for verdict in present], height, PRIORITY_LEFT)
    return figure


def _quadrant_labels(
    ax: Axes, quadrants: Mapping[str, str], centre_px: float, plot_width: float, plot_height: float
) -> list[_Box]:
    """Name each quadrant in its outer corner; return the boxes the names fill, for the point labels to avoid."""
    from matplotlib.transforms import offset_copy

    width_of = _width_measure(SMALL_FONT_SIZE, bold=True)
    pad = 7.0
    boxes: list[_Box] = []
    for key in QUADRANTS:
        if not quadrants.get(key):
            continue
        right = key in ("fix_first", "keep")
        top = key in ("fix_first", "watch")
        room = (plot_width - centre_px if right else centre_px) - 2 * pad
        label = _fit(quadrants[key], 60, max(room, 0.0), width_of)
        x, ha, dx = (1.0, "right", -pad) if right else (0.0, "left", pad)
        y, va, dy = (1.0, "top", -pad + 1) if top else (0.0, "bottom", pad - 1)
        ax.text(
            x,
            y,
            label,
            transform=offset_copy(ax.transAxes, fig=ax.figure, x=dx, y=dy, units="points"),
            ha=ha,
            va=va,
            color=VERDICT_STYLES["blind_spot"].text if key == "fix_first" else MUTED,
            fontsize=SMALL_FONT_SIZE,
            fontweight="bold",
            parse_math=False,
            zorder=3,
        )
        boxes.append(_text_box(x * plot_width + dx, y * plot_height + dy, width_of(label), ha, va))
    return boxes


def _label_spot(
    px: float, py: float, width: float, obstacles: Sequence[_Box], plot_width: float, plot_height: float
) -> tuple[float, float, str, str]:
    """The first spot beside the point whose label overlaps nothing and stays in the plot, else the least bad one."""
    best: tuple[float, int] | None = None
    for index, (dx, dy, ha, va) in enumerate(_LABEL_SPOTS):
        box = _text_box(px + dx, py + dy, width, ha, va)
        outside = _area(box) - _overlap(box, (0.0, 0.0, plot_width + PRIORITY_RIGHT - 2, plot_height))
        cost = sum(_overlap(box, obstacle) for obstacle in obstacles) + 4 * outside
        if cost <= 0:
            return _LABEL_SPOTS[index]
        if best is None or cost < best[0]:
            best = (cost, index)
    assert best is not None
    return _LABEL_SPOTS[best[1]]


def _text_box(x: float, y: float, width: float, ha: str, va: str) -> _Box:
    left = x - {"left": 0.0, "center": width / 2, "right": width}[ha]
    bottom = y - {"bottom": 0.0, "center": _LABEL_HEIGHT / 2, "top": _LABEL_HEIGHT}[va]
    return left, bottom, left + width, bottom + _LABEL_HEIGHT


def _overlap(a: _Box, b: _Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _area(box: _Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _importance_range(centre: float, values: Sequence[float]) -> tuple[float, float]:
    """An x range centred on the median (equal quadrants) that holds every point, kept near -1..1."""
    spread = max((abs(value - centre) for value in values), default=0.0)
    half = max(0.1, math.ceil((spread * 1.1 + 0.03) * 20) / 20)
    return max(-1.05, centre - half), min(1.05, centre + half)


def _gap_half_range(values: Sequence[float]) -> float:
    """Half the y range, symmetric about no gap, in steps of 5 points: at least 10, at most 105."""
    spread = max((abs(value) for value in values), default=0.0)
    return float(min(105, max(10, math.ceil(spread * 1.12 / 5) * 5)))


def _number(value: float, signed: bool = False) -> str:
    """A tick label: few decimals, a true minus sign, and a plus sign on the gap axis."""
    value = round(value, 6) + 0.0  # no "-0"
    shown = f"{value:+g}" if signed and value else f"{value:g}"
    return shown.replace("-", "−")


# --- Trend ---------------------------------------------------------------------------------------

TREND_HEIGHT = 320
TREND_LEFT = 64
TREND_RIGHT = 18
TREND_TOP = 44  # the legend
TREND_BOTTOM = 34  # the wave names
TREND_DODGE = 4.0  # px customers are moved left and employees right, so equal scores stay apart
WAVE_LABEL_CHARS = 40
WAVE_LABEL_WIDTH = 140


def trend_svg(points: Sequence[TrendSeriesPoint], text: TrendText) -> str:
    """Draw customers' and employees' scores across waves, oldest first, with their 95% intervals.

    Customers are a solid blue line with circles, employees a dashed dark line with diamonds; a
    ring around a point marks a significant change since the previous wave. A hidden side (None)
    has no point, interval or ring, and its line breaks there. Returns a standalone SVG
    document, 760 by 320 px, identical for identical input.
    """
    return _render(lambda: _trend_figure(points, text), text.title, text.description)


def _trend_figure(points: Sequence[TrendSeriesPoint], text: TrendText) -> Figure:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory, offset_copy

    count = len(points)
    height = TREND_HEIGHT
    plot_width = WIDTH - TREND_LEFT - TREND_RIGHT
    plot_height = height - TREND_TOP - TREND_BOTTOM
    figure = Figure(figsize=(WIDTH / 72, height / 72), dpi=72, facecolor="white")
    FigureCanvasSVG(figure)
    ax = figure.add_axes((TREND_LEFT / WIDTH, TREND_BOTTOM / height, plot_width / WIDTH, plot_height / height))
    ax.set_xlim(-0.5, max(count, 1) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_xticks(range(count))
    ax.set_xticklabels([])
    ax.set_facecolor("none")
    ax.set_axisbelow(True)
    ax.grid(axis="y", color=GRID, linewidth=1.0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color("#b9bec7")
    ax.tick_params(colors="#b9bec7", labelcolor=MUTED, labelsize=SMALL_FONT_SIZE, length=3)
    ax.tick_params(axis="y", length=0, pad=6)
    ax.set_ylabel(
        _fit(text.axis, 90, plot_height, _width_measure(SMALL_FONT_SIZE)),
        color=MUTED,
        fontsize=SMALL_FONT_SIZE,
        labelpad=8,
        parse_math=False,
    )

    # Wave names under their ticks; when they would run into each other, every few, counted back from the latest.
    width_of = _width_measure(SMALL_FONT_SIZE)
    column = plot_width / max(count, 1)
    room = max(WAVE_LABEL_WIDTH, column - 12)  # a few waves may have long names; many are cut short and thinned
    names = [_fit(point.wave, WAVE_LABEL_CHARS, room, width_of) for point in points]
    step = max(1, math.ceil((max((width_of(name) for name in names), default=0.0) + 10) / column))
    below = offset_copy(blended_transform_factory(ax.transData, ax.transAxes), fig=figure, x=0, y=-8, units="points")
    for index, name in enumerate(names):
        if (count - 1 - index) % step == 0:
            ax.text(
                index,
                0,
                name,
                transform=below,
                ha="center",
                va="top",
                color=MUTED,
                fontsize=SMALL_FONT_SIZE,
                parse_math=False,
            )

    sides = (
        ("customer", CUSTOMER_COLOUR, "o", 8.0, "solid", -TREND_DODGE),
        ("employee", EMPLOYEE_COLOUR, "D", 6.5, (0, (5.0, 3.0)), TREND_DODGE),
    )
    for side, colour, marker, size, line_style, shift in sides:
        shifted = offset_copy(ax.transData, fig=figure, x=shift, y=0, units="points")
        values = [_visible_score(getattr(point, side)) for point in points]
        shown = [(index, value) for index, value in enumerate(values) if value is not None]
        # One line, with NaN where a wave is hidden: matplotlib breaks the line there.
        ax.plot(
            range(count),
            [math.nan if value is None else value for value in values],
            color=colour,
            linewidth=2.0,
            linestyle=line_style,
            solid_capstyle="round",
            zorder=3,
            transform=shifted,
            gid=f"{side}-line",
        )
        with_ci = [
            (index, value, ci) for index, value in shown if (ci := getattr(points[index], f"{side}_ci")) is not None
        ]
        if with_ci:
            ax.errorbar(
                [index for index, _, _ in with_ci],
                [value for _, value, _ in with_ci],
                yerr=[
                    [max(0.0, value - _clamp(ci[0])) for _, value, ci in with_ci],
                    [max(0.0, _clamp(ci[1]) - value) for _, value, ci in with_ci],
                ],
                fmt="none",
                ecolor=colour,
                elinewidth=1.1,
                capsize=3.0,
                capthick=1.1,
                alpha=0.6,
                zorder=2,
                clip_on=False,
                transform=shifted,
            )
        if shown:
            ax.plot(
                [index for index, _ in shown],
                [value for _, value in shown],
                linestyle="none",
                marker=marker,
                markersize=size,
                color=colour,
                markeredgecolor="white",
                markeredgewidth=1.0,
                zorder=4,
                clip_on=False,
                transform=shifted,
                gid=f"{side}-points",
            )
        changed = [(index, value) for index, value in shown if getattr(points[index], f"{side}_change")]
        if changed:
            ax.plot(
                [index for index, _ in changed],
                [value for _, value in changed],
                linestyle="none",
                marker="o",
                markersize=17.0,
                markerfacecolor="none",
                markeredgecolor=colour,
                markeredgewidth=1.4,
                zorder=4,
                clip_on=False,
                transform=shifted,
                gid=f"{side}-changes",
            )

    handles: list[Any] = [
        Line2D([], [], color=CUSTOMER_COLOUR, linewidth=2.0, marker="o", markersize=8.0, markeredgecolor="white"),
        Line2D(
            [],
            [],
            color=EMPLOYEE_COLOUR,
            linewidth=2.0,
            linestyle=(0, (5.0, 3.0)),
            marker="D",
            markersize=6.5,
            markeredgecolor="white",
        ),
    ]
    labels = [text.customers, text.employees]
    if any(
        (point.customer_change and _visible_score(point.customer) is not None)
        or (point.employee_change and _visible_score(point.employee) is not None)
        for point in points
    ):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=13.0,
                markerfacecolor="none",
                markeredgecolor=MUTED,
                markeredgewidth=1.4,
            )
        )
        labels.append(text.significant)
    _legend(figure, handles, labels, height, TREND_LEFT, handlelength=2.6)
    return figure


def _legend(
    figure: Figure, handles: Sequence[Any], labels: Sequence[str], height: float, left: float, handlelength: float = 1.2
) -> None:
    """One line of legend above the plot, starting at its left edge; labels stay plain text."""
    legend = figure.legend(
        handles,
        [_clean(label) for label in labels],
        loc="center left",
        bbox_to_anchor=(left / WIDTH, 1 - 18 / height),
        ncol=len(handles),
        frameon=False,
        fontsize=FONT_SIZE,
        handlelength=handlelength,
        handletextpad=0.5,
        columnspacing=1.8,
        borderaxespad=0,
        borderpad=0,
    )
    for legend_text in legend.get_texts():
        legend_text.set_parse_math(False)


def _visible_score(score: float | None) -> float | None:
    value = _finite(score)
    return None if value is None else _clamp(value)


def _finite(value: float | None) -> float | None:
    """The value as a float, or None when it is missing or not a finite number."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _between(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _visible(score: float | None, n: int | None) -> float | None:
    """The score to draw, or None: a hidden side (no count) is never drawn."""
    if n is None or score is None:
        return None
    return float(score)


def _clamp(value: float) -> float:
    return min(100.0, max(0.0, float(value)))


def _count(n: int | None) -> str:
    return "–" if n is None else str(n)


def _clean(value: str) -> str:
    """One line of text that XML can hold: control characters and line breaks become spaces."""
    return " ".join(_CONTROL_CHARACTERS.sub(" ", value).split())


def _width_measure(size: float, italic: bool = False, bold: bool = False) -> Callable[[str], float]:
    """A function giving the width in px of one line of text, as DejaVu Sans draws it at ``size``.

    DejaVu Sans is the widest of the fonts the SVG names, so text that fits by this measure still
    fits when the viewer substitutes another one.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(
        family=MEASURE_FONT, size=size, style="italic" if italic else "normal", weight="bold" if bold else "normal"
    )
    measure = TextToPath()
    return lambda value: measure.get_text_width_height_descent(value, font, ismath=False)[0]


def _fit(value: str, max_chars: int, max_width: float, width_of: Callable[[str], float]) -> str:
    """One clean line of at most ``max_chars`` characters and ``max_width`` px, with "…" if shortened.

    Long labels are cut rather than wrapped, so that each label stays one <text> element (one
    searchable string) and every row keeps the same height.
    """
    value = _clean(value)
    if len(value) > max_chars:
        value = _shorten(value, max_chars - 1) + "…"
    while len(value) > 1 and width_of(value) > max_width:
        kept = value.removesuffix("…")
        value = _shorten(kept, len(kept) - 1) + "…"
    return value


def _shorten(value: str, length: int) -> str:
    """The first ``length`` characters at most, ending at a word boundary unless that loses too much."""
    cut = value[:length].rstrip()
    if length < len(value) and not value[length].isspace():
        space = cut.rfind(" ")
        if space >= max(1, len(cut) - 12):  # drop the broken word, not half the label
            cut = cut[:space]
    return cut.rstrip(" ,;:-–—")


def _finish_svg(svg: str, title: str, description: str) -> str:
    """Size in CSS px, no DTD reference, and a <title> and <desc> as the first children of <svg>."""
    svg = re.sub(r'<!DOCTYPE svg PUBLIC "[^"]*"\s*"[^"]*">\s*', "", svg, count=1)
    svg = svg.replace(f"font-family: '{MEASURE_FONT}', sans-serif", f"font-family: {CSS_FONTS}")
    opening = _SVG_OPEN_TAG.search(svg)
    if opening is None:  # pragma: no cover - matplotlib always writes one
        raise RuntimeError("matplotlib produced no <svg> element")
    tag = re.sub(r'(width|height)="([0-9.]+)pt"', r'\1="\2px"', opening.group(0))
    tag = tag.replace("<svg ", '<svg role="img" ', 1)
    accessible = f"\n <title>{escape(_clean(title))}</title>\n <desc>{escape(_clean(description))}</desc>"
    return svg[: opening.start()] + tag + accessible + svg[opening.end() :]
