"""The dumbbell chart is a standalone SVG: served as an <img>, embedded by WeasyPrint in the PDF.

So it must be well-formed XML with its own size, carry its accessible name and summary, keep
text as text, reference nothing outside itself, and come out byte-identical for the same input.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from perception.charts import (
    ChartText,
    DumbbellRow,
    PriorityPoint,
    PriorityText,
    TrendSeriesPoint,
    TrendText,
    dumbbell_svg,
    priority_svg,
    trend_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

TEXT = ChartText(
    title="Customers and employees, item by item",
    description="Circles are customers' scores, diamonds are employees' estimates; two blind spots.",
    customers="Customers",
    employees="Employees",
    axis="Score, 0 to 100",
    verdicts={
        "blind_spot": "Blind spot",
        "hidden_strength": "Hidden strength",
        "aligned": "Aligned",
        "insufficient_data": "Insufficient data",
    },
    hidden="hidden (too few answers)",
)

ROWS = [
    DumbbellRow("recommend", 42.0, 71.0, (37.5, 46.8), (63.0, 78.0), "blind_spot", 320, 85),
    DumbbellRow("satisfaction", 68.0, 66.0, (64.0, 72.0), (60.0, 72.0), "aligned", 318, 84),
    DumbbellRow("effort", 74.0, 55.0, (70.0, 78.0), (48.0, 62.0), "hidden_strength", 290, 80),
    DumbbellRow("website", 61.0, 80.0, (50.0, 72.0), (70.0, 89.0), "insufficient_data", 22, 14),
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def points(root: ET.Element, side: str) -> int:
    group = root.find(f".//{SVG}g[@id='{side}-points']")
    return 0 if group is None else len(group.findall(f".//{SVG}use"))


def test_standalone_svg_with_size_title_and_description() -> None:
    svg = dumbbell_svg(ROWS, TEXT)
    root = parse(svg)

    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "760px"
    height = root.get("height")
    assert height is not None and re.fullmatch(r"\d+(\.\d+)?px", height)
    assert root.get("viewBox") == f"0 0 760 {height.removesuffix('px')}"
    # <title> and <desc> come first, so they are the image's accessible name and description.
    title, desc = list(root)[:2]
    assert (title.tag, title.text) == (f"{SVG}title", TEXT.title)
    assert (desc.tag, desc.text) == (f"{SVG}desc", TEXT.description)

    assert "<script" not in svg.lower()
    assert 'href="http' not in svg
    assert "<!DOCTYPE" not in svg
    for element in root.iter():
        for name in (XLINK_HREF, "href"):
            assert element.get(name, "#").startswith("#"), element.get(name)


def test_height_grows_with_the_rows() -> None:
    def height(rows: list[DumbbellRow]) -> float:
        return float(parse(dumbbell_svg(rows, TEXT)).get("height", "").removesuffix("px"))

    assert height(ROWS * 2) - height(ROWS) == pytest.approx(len(ROWS) * 34, abs=20)
    assert height([]) > 0  # an empty chart still renders


def test_row_and_verdict_labels_are_text_once_each() -> None:
    root = parse(dumbbell_svg(ROWS, TEXT))
    counted = Counter(texts(root))

    for row in ROWS:
        assert counted[row.label] == 1, row.label
        assert counted[TEXT.verdicts[row.verdict]] == 1, row.verdict
    assert counted["n = 320 / 85"] == 1
    assert counted[TEXT.customers] == counted[TEXT.employees] == 1  # the legend
    assert counted[TEXT.axis] == 1
    assert points(root, "customer") == points(root, "employee") == len(ROWS)


def test_identical_input_gives_identical_bytes() -> None:
    assert dumbbell_svg(ROWS, TEXT) == dumbbell_svg(ROWS, TEXT)


def test_hidden_side_shows_the_hidden_text_and_only_the_visible_point() -> None:
    rows = [
        DumbbellRow("delivery", 58.0, None, (52.0, 64.0), None, "insufficient_data", 140, None),
        DumbbellRow("billing", 81.0, 83.0, (77.0, 85.0), (78.0, 88.0), "aligned", 250, 60),
    ]
    root = parse(dumbbell_svg(rows, TEXT))
    shown = texts(root)

    assert shown.count(TEXT.hidden) == 1
    assert "n = 140 / –" in shown
    assert points(root, "customer") == 2
    assert points(root, "employee") == 1


def test_a_hidden_side_is_not_drawn_even_with_a_score() -> None:
    # The count is what says "hidden"; a score that slipped through must not be drawn.
    rows = [DumbbellRow("leak", 58.0, 12.0, None, (5.0, 20.0), "insufficient_data", 140, None)]
    root = parse(dumbbell_svg(rows, TEXT))

    assert points(root, "employee") == 0
    assert TEXT.hidden in texts(root)


def test_both_sides_hidden() -> None:
    rows = [DumbbellRow("complaints", None, None, None, None, "insufficient_data", None, None)]
    root = parse(dumbbell_svg(rows, TEXT))

    assert TEXT.hidden in texts(root)
    assert "n = – / –" in texts(root)
    assert points(root, "customer") == points(root, "employee") == 0


def test_special_characters_are_escaped() -> None:
    label = 'Billing <clarity> & "fairness" é'
    text = ChartText(
        title="Gaps <by item> & more",
        description='Summary with "quotes" & <angle brackets>, é',
        customers="Clients",
        employees="Employé·es & co",
        axis="Score, de 0 à 100",
        verdicts={**TEXT.verdicts, "aligned": "Alignés <=>"},
        hidden="masqué (trop peu de réponses)",
    )
    rows = [DumbbellRow(label, 81.0, 83.0, (77.0, 85.0), (78.0, 88.0), "aligned", 250, 60)]
    svg = dumbbell_svg(rows, text)
    root = parse(svg)  # would raise if anything were left unescaped

    assert "&lt;clarity&gt; &amp;" in svg
    assert "<clarity>" not in svg
    shown = texts(root)
    assert label in shown
    assert "Alignés <=>" in shown
    assert "Employé·es & co" in shown
    assert root.find(f"{SVG}title").text == text.title  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == text.description  # type: ignore[union-attr]


def test_dollar_signs_and_control_characters_stay_plain_text() -> None:
    # "$" would start matplotlib mathtext; a control character or line break would break the XML or the line.
    rows = [DumbbellRow("Price $10 vs $20\x07\nper month", 50.0, 60.0, None, None, "aligned", 30, 30)]
    root = parse(dumbbell_svg(rows, TEXT))

    assert "Price $10 vs $20 per month" in texts(root)


def test_long_labels_are_shortened_with_an_ellipsis() -> None:
    long = "Our customers would say: before they signed up, the company gave them clear information"
    root = parse(dumbbell_svg([DumbbellRow(long, 50.0, 60.0, None, None, "aligned", 30, 30)], TEXT))

    shortened = [shown for shown in texts(root) if shown.startswith("Our customers")]
    assert len(shortened) == 1
    assert shortened[0].endswith("…")
    assert len(shortened[0]) <= 48
    assert long.startswith(shortened[0].removesuffix("…"))


def test_unknown_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown verdict"):
        dumbbell_svg([DumbbellRow("x", 1.0, 2.0, None, None, "maybe", 3, 4)], TEXT)


def test_sixty_rows_all_render() -> None:
    verdicts = list(TEXT.verdicts)
    rows = [
        DumbbellRow(
            f"Item {i:02d} with a moderately long wording",
            float(20 + (i * 7) % 60),
            float(30 + (i * 11) % 60),
            (float(15 + (i * 7) % 60), float(25 + (i * 7) % 60)),
            (float(22 + (i * 11) % 60), float(38 + (i * 11) % 60)),
            verdicts[i % 4],
            100 + i,
            None if i % 9 == 0 else 50 + i,
        )
        for i in range(60)
    ]
    dumbbell_svg(ROWS, TEXT)  # the first call in a process pays for importing matplotlib and loading fonts

    svg = dumbbell_svg(rows, TEXT)
    assert len([shown for shown in texts(parse(svg)) if shown.startswith("Item ")]) == 60


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = "import sys, perception.charts; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- Priority map --------------------------------------------------------------------------------

PRIORITY_TEXT = PriorityText(
    title="Where to act first",
    description="Items that matter for recommendation and that staff overrate are top right.",
    x_axis="Importance for recommendation (r)",
    y_axis="Gap, staff − customers (points on 0-100)",
    quadrants={"fix_first": "Fix first", "keep": "Keep up", "watch": "Watch", "secondary": "Secondary"},
    verdicts=TEXT.verdicts,
)

PRIORITY_POINTS = [
    PriorityPoint("recommend", 0.71, 24.0, "blind_spot"),
    PriorityPoint("billing", 0.45, 18.0, "blind_spot"),
    PriorityPoint("satisfaction", 0.64, 3.0, "aligned"),
    PriorityPoint("effort", 0.52, -14.0, "hidden_strength"),
    PriorityPoint("website", 0.21, 12.0, "insufficient_data"),
    PriorityPoint("delivery", 0.33, -6.0, "aligned"),
]

VERDICT_COLOURS = {
    "blind_spot": "#b3261e",
    "hidden_strength": "#1b6e3a",
    "aligned": "#6b7280",
    "insufficient_data": "#b9bec7",
}


def markers(root: ET.Element, gid: str) -> list[ET.Element]:
    group = root.find(f".//{SVG}g[@id='{gid}']")
    return [] if group is None else group.findall(f".//{SVG}use")


def marker_shape(root: ET.Element, use: ET.Element) -> str:
    """The path data of the marker a <use> draws: its shape, whatever its position."""
    href = use.get(XLINK_HREF, "")
    path = root.find(f".//{SVG}path[@id='{href.removeprefix('#')}']")
    assert path is not None, href
    return path.get("d", "")


def style_of(element: ET.Element) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in element.get("style", "").split(";") if ":" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def assert_standalone(svg: str, width: str, height: str, title: str, description: str) -> ET.Element:
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == (width, height)
    assert root.get("viewBox") == f"0 0 {width.removesuffix('px')} {height.removesuffix('px')}"
    first, second = list(root)[:2]
    assert (first.tag, first.text) == (f"{SVG}title", title)
    assert (second.tag, second.text) == (f"{SVG}desc", description)
    assert "<script" not in svg.lower()
    assert "<!DOCTYPE" not in svg
    for element in root.iter():
        for name in (XLINK_HREF, "href"):
            assert element.get(name, "#").startswith("#"), element.get(name)
    return root


def test_priority_map_is_a_standalone_svg() -> None:
    svg = priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT)
    assert_standalone(svg, "760px", "480px", PRIORITY_TEXT.title, PRIORITY_TEXT.description)


def test_priority_map_labels_quadrants_axes_and_legend_are_text_once_each() -> None:
    counted = Counter(texts(parse(priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT))))

    for point in PRIORITY_POINTS:
        assert counted[point.label] == 1, point.label
    for quadrant in PRIORITY_TEXT.quadrants.values():
        assert counted[quadrant] == 1, quadrant
    for verdict in VERDICT_COLOURS:  # the legend: every verdict on the map, in words
        assert counted[PRIORITY_TEXT.verdicts[verdict]] == 1, verdict
    assert counted[PRIORITY_TEXT.x_axis] == counted[PRIORITY_TEXT.y_axis] == 1


def test_priority_map_legend_lists_only_the_verdicts_drawn() -> None:
    points = [PriorityPoint("recommend", 0.7, 20.0, "blind_spot"), PriorityPoint("price", 0.2, 1.0, "aligned")]
    shown = texts(parse(priority_svg(points, 0.45, PRIORITY_TEXT)))

    assert "Blind spot" in shown and "Aligned" in shown
    assert "Hidden strength" not in shown and "Insufficient data" not in shown


def test_priority_map_shape_and_colour_follow_the_verdict() -> None:
    root = parse(priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT))

    shapes = {}
    for verdict, colour in VERDICT_COLOURS.items():
        drawn = markers(root, f"priority-{verdict}")
        assert len(drawn) == sum(point.verdict == verdict for point in PRIORITY_POINTS), verdict
        shapes[verdict] = {marker_shape(root, use) for use in drawn}
        assert len(shapes[verdict]) == 1, verdict  # one shape per verdict
        style = style_of(drawn[0])
        if verdict == "insufficient_data":  # hollow: white inside, a grey ring
            assert (style["fill"], style["stroke"]) == ("#ffffff", colour)
        else:
            assert style["fill"] == colour, verdict
    # Without colour the verdicts still differ: triangles up and down, filled and hollow circles.
    assert len({shape for verdict_shapes in shapes.values() for shape in verdict_shapes}) >= 3
    assert shapes["blind_spot"] != shapes["hidden_strength"] != shapes["aligned"]
    assert style_of(markers(root, "priority-aligned")[0])["fill"] != "#ffffff"


def test_priority_map_tints_the_fix_first_quadrant() -> None:
    svg = priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT)
    assert "#fbeeed" in svg  # the light red behind the top right quadrant


def test_priority_map_labels_of_points_in_one_place_do_not_sit_on_each_other() -> None:
    points = [PriorityPoint(f"Twin {name}", 0.5, 10.0, "aligned") for name in "ABC"]
    root = parse(priority_svg(points, 0.4, PRIORITY_TEXT))

    placed = []
    for element in root.iter(f"{SVG}text"):
        if (element.text or "").startswith("Twin "):
            width = 6.5 * len(element.text or "")
            x, y = float(element.get("x", "0")), float(element.get("y", "0"))
            left = {"start": x, "middle": x - width / 2, "end": x - width}[style_of(element)["text-anchor"]]
            placed.append((left, y - 10, left + width, y + 2))
    assert len(placed) == 3
    for index, a in enumerate(placed):
        for b in placed[index + 1 :]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1]), (a, b)


def test_priority_map_is_deterministic() -> None:
    assert priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT) == priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT)


def test_priority_map_escapes_special_characters() -> None:
    label = 'Billing <clarity> & "fairness"'
    text = PriorityText(
        title="Priorités <par item> & plus",
        description='Résumé "entre guillemets" & <chevrons>',
        x_axis="Importance (r) & <poids>",
        y_axis='Écart "personnel − clients"',
        quadrants={**PRIORITY_TEXT.quadrants, "fix_first": "À corriger <d'abord> & vite"},
        verdicts={**PRIORITY_TEXT.verdicts, "blind_spot": "Angle mort <!>"},
    )
    svg = priority_svg([PriorityPoint(label, 0.6, 15.0, "blind_spot")], 0.3, text)
    root = parse(svg)  # would raise if anything were left unescaped

    assert "&lt;clarity&gt; &amp;" in svg
    assert "<clarity>" not in svg
    shown = texts(root)
    for expected in (label, text.x_axis, text.y_axis, text.quadrants["fix_first"], "Angle mort <!>"):
        assert expected in shown, expected
    assert root.find(f"{SVG}title").text == text.title  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == text.description  # type: ignore[union-attr]


def test_priority_map_leaves_out_points_without_numbers() -> None:
    points = [
        PriorityPoint("shown", 0.5, 10.0, "blind_spot"),
        PriorityPoint("no importance", math.nan, 10.0, "blind_spot"),
        PriorityPoint("no gap", 0.5, math.inf, "blind_spot"),
    ]
    root = parse(priority_svg(points, math.nan, PRIORITY_TEXT))

    assert len(markers(root, "priority-blind_spot")) == 1
    shown = texts(root)
    assert "shown" in shown
    assert "no importance" not in shown and "no gap" not in shown


def test_priority_map_without_points_still_renders() -> None:
    root = parse(priority_svg([], 0.4, PRIORITY_TEXT))
    assert "Fix first" in texts(root)
    assert not any(markers(root, f"priority-{verdict}") for verdict in VERDICT_COLOURS)


def test_priority_map_refuses_an_unknown_verdict() -> None:
    with pytest.raises(ValueError, match="unknown verdict"):
        priority_svg([PriorityPoint("x", 0.1, 2.0, "maybe")], 0.0, PRIORITY_TEXT)


def test_priority_map_of_thirty_points_labels_every_point() -> None:
    verdicts = list(VERDICT_COLOURS)
    points = [
        PriorityPoint(f"Item {i:02d}", -0.1 + (i * 37 % 80) / 100, float(i * 53 % 61 - 30), verdicts[i % 4])
        for i in range(30)
    ]
    priority_svg(PRIORITY_POINTS, 0.48, PRIORITY_TEXT)  # warm-up: importing matplotlib, loading fonts

    svg = priority_svg(points, 0.3, PRIORITY_TEXT)
    assert len([shown for shown in texts(parse(svg)) if shown.startswith("Item ")]) == 30


# --- Trend -----------------------------------------------------------------------------------------

TREND_TEXT = TrendText(
    title="Recommendation over time",
    description="Customers rose from 48 to 66 while employees fell from 70 to 61.",
    customers="Customers",
    employees="Employees",
    axis="Score, 0 to 100",
    significant="Significant change",
)

WAVES = [
    TrendSeriesPoint("2023 Q1", 48.0, 70.0, (43.0, 53.0), (62.0, 78.0), False, False),
    TrendSeriesPoint("2023 Q3", 51.0, 72.0, (46.0, 56.0), (64.0, 80.0), False, False),
    TrendSeriesPoint("2024 Q1", 58.0, None, (54.0, 62.0), None, True, True),  # employees hidden
    TrendSeriesPoint("2024 Q3", 60.0, 69.0, (56.0, 64.0), (61.0, 77.0), False, False),
    TrendSeriesPoint("2025 Q1", 66.0, 61.0, (62.0, 70.0), (54.0, 68.0), True, True),
]


def line_pieces(root: ET.Element, side: str) -> int:
    """How many separate runs the side's line is drawn in (one per "M" in its path)."""
    group = root.find(f".//{SVG}g[@id='{side}-line']")
    assert group is not None
    return sum(path.get("d", "").count("M") for path in group.iter(f"{SVG}path"))


def test_trend_is_a_standalone_svg() -> None:
    svg = trend_svg(WAVES, TREND_TEXT)
    assert_standalone(svg, "760px", "320px", TREND_TEXT.title, TREND_TEXT.description)


def test_trend_waves_legend_and_axis_are_text() -> None:
    counted = Counter(texts(parse(trend_svg(WAVES, TREND_TEXT))))

    for wave in WAVES:
        assert counted[wave.wave] == 1, wave.wave
    for label in (TREND_TEXT.customers, TREND_TEXT.employees, TREND_TEXT.significant, TREND_TEXT.axis):
        assert counted[label] == 1, label


def test_trend_draws_circles_for_customers_and_diamonds_for_employees() -> None:
    root = parse(trend_svg(WAVES, TREND_TEXT))

    customers, employees = markers(root, "customer-points"), markers(root, "employee-points")
    assert len(customers) == 5
    assert len(employees) == 4  # the hidden wave has no point
    assert {marker_shape(root, use) for use in customers}.isdisjoint({marker_shape(root, use) for use in employees})
    assert style_of(customers[0])["fill"] == "#1f5fbf"
    assert style_of(employees[0])["fill"] == "#1d2330"


def test_trend_hidden_wave_breaks_the_line_and_has_no_marker_or_ring() -> None:
    root = parse(trend_svg(WAVES, TREND_TEXT))

    assert line_pieces(root, "customer") == 1
    assert line_pieces(root, "employee") == 2  # broken at the hidden wave
    assert len(markers(root, "customer-changes")) == 2
    assert len(markers(root, "employee-changes")) == 1  # the change flagged on the hidden wave is not drawn


def test_trend_rings_are_listed_in_the_legend_only_when_drawn() -> None:
    quiet = [
        TrendSeriesPoint(w.wave, w.customer, w.employee, w.customer_ci, w.employee_ci, False, False) for w in WAVES
    ]
    root = parse(trend_svg(quiet, TREND_TEXT))

    assert TREND_TEXT.significant not in texts(root)
    assert not markers(root, "customer-changes") and not markers(root, "employee-changes")
    # A change flagged only on a hidden point draws nothing either.
    hidden_change = [TrendSeriesPoint("2024", None, None, None, None, True, True)]
    assert TREND_TEXT.significant not in texts(parse(trend_svg(hidden_change, TREND_TEXT)))


def test_trend_with_every_point_hidden_draws_no_marker() -> None:
    waves = [TrendSeriesPoint(f"W{i}", None, None, (10.0, 20.0), None, False, False) for i in range(3)]
    root = parse(trend_svg(waves, TREND_TEXT))

    assert not markers(root, "customer-points") and not markers(root, "employee-points")
    assert {"W0", "W1", "W2"} <= set(texts(root))
    assert parse(trend_svg([], TREND_TEXT)).get("height") == "320px"  # and no waves at all still renders


def test_trend_is_deterministic() -> None:
    assert trend_svg(WAVES, TREND_TEXT) == trend_svg(WAVES, TREND_TEXT)


def test_trend_escapes_special_characters() -> None:
    text = TrendText(
        title="Tendance <recommandation> & co",
        description='Résumé "entre guillemets" & <chevrons>',
        customers="Clients & <prospects>",
        employees='Employé·es "internes"',
        axis="Score, de 0 à 100",
        significant="Changement <significatif>",
    )
    waves = [
        TrendSeriesPoint('Vague <1> & "a"', 40.0, 50.0, None, None, False, False),
        TrendSeriesPoint("Price $10 vs $20", 45.0, 52.0, None, None, True, False),
    ]
    svg = trend_svg(waves, text)
    root = parse(svg)

    assert "&lt;1&gt; &amp;" in svg
    assert "<1>" not in svg
    shown = texts(root)
    for expected in ('Vague <1> & "a"', "Price $10 vs $20", text.customers, text.employees, text.significant):
        assert expected in shown, expected
    assert root.find(f"{SVG}title").text == text.title  # type: ignore[union-attr]


def test_trend_of_thirty_waves_names_the_latest() -> None:
    waves = [
        TrendSeriesPoint(
            f"Wave {i + 1}",
            float(30 + i * 7 % 40),
            None if i % 7 == 3 else float(50 + i * 11 % 40),
            (float(25 + i * 7 % 40), float(35 + i * 7 % 40)),
            (float(40 + i * 11 % 40), float(60 + i * 11 % 40)),
            i % 5 == 0,
            i % 6 == 0,
        )
        for i in range(30)
    ]
    trend_svg(WAVES, TREND_TEXT)  # warm-up

    svg = trend_svg(waves, TREND_TEXT)
    root = parse(svg)
    assert len(markers(root, "customer-points")) == 30
    assert len(markers(root, "employee-points")) == 30 - 4
    assert "Wave 30" in texts(root)  # names are thinned when they would collide, but the latest stays


def test_priority_map_shortens_long_labels_with_an_ellipsis() -> None:
    long = "Before signing up, the company gave clear information about prices and terms"
    root = parse(priority_svg([PriorityPoint(long, 0.5, 5.0, "aligned")], 0.4, PRIORITY_TEXT))

    shortened = [shown for shown in texts(root) if shown.startswith("Before")]
    assert len(shortened) == 1
    assert shortened[0].endswith("…") and len(shortened[0]) <= 36
    assert long.startswith(shortened[0].removesuffix("…"))
