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
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["VERDICT_STYLES", "ChartText", "DumbbellRow", "dumbbell_svg"]


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
        figure = _dumbbell_figure(rows, text)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", dpi=72, metadata=_NO_METADATA)
    return _finish_svg(buffer.getvalue(), text.title, text.description)


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
    legend = figure.legend(
        handles,
        [_clean(text.customers), _clean(text.employees)],
        loc="center left",
        bbox_to_anchor=(PLOT_LEFT / WIDTH, 1 - 18 / height),
        ncol=2,
        frameon=False,
        fontsize=FONT_SIZE,
        handletextpad=0.3,
        columnspacing=1.6,
        borderaxespad=0,
        borderpad=0,
    )
    for legend_text in legend.get_texts():
        legend_text.set_parse_math(False)
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


def _width_measure(size: float, italic: bool = False) -> Callable[[str], float]:
    """A function giving the width in px of one line of text, as DejaVu Sans draws it at ``size``.

    DejaVu Sans is the widest of the fonts the SVG names, so text that fits by this measure still
    fits when the viewer substitutes another one.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(family=MEASURE_FONT, size=size, style="italic" if italic else "normal")
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
