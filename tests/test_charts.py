"""The dumbbell chart is a standalone SVG: served as an <img>, embedded by WeasyPrint in the PDF.

So it must be well-formed XML with its own size, carry its accessible name and summary, keep
text as text, reference nothing outside itself, and come out byte-identical for the same input.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from perception.charts import ChartText, DumbbellRow, dumbbell_svg

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


def test_sixty_rows_render_quickly() -> None:
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

    started = time.perf_counter()
    svg = dumbbell_svg(rows, TEXT)
    assert time.perf_counter() - started < 2.0
    assert len([shown for shown in texts(parse(svg)) if shown.startswith("Item ")]) == 60


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = "import sys, perception.charts; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
