"""Survey definitions as files: the templates round-trip, and a bad file is refused whole, with where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from flask import Flask
from sqlmodel import func, select

from perception.db import session_scope
from perception.models import Item, Survey
from perception.surveys import SurveyFileError, read_definition

MINIMAL = """\
slug: mini
title: {en: Mini, fr: Mini}
default_language: en
items:
  - key: recommend
    dimension: Loyalty
    scale: nps
    customer: {en: "Would you recommend us?", fr: "Nous recommanderiez-vous ?"}
    employee: {en: "Would customers recommend us?", fr: "Nos clients nous recommanderaient-ils ?"}
"""


@pytest.fixture
def models(tmp_path: Path) -> dict:
    from perception import create_app

    return create_app({"INSTANCE_PATH": str(tmp_path)}).extensions["perception"].registries.scoring_models


@pytest.mark.parametrize("name", ["core", "six-pillars", "journey"])
def test_each_builtin_template_is_a_valid_bilingual_survey(name: str, models: dict, tmp_path: Path) -> None:
    from perception import create_app

    templates = create_app({"INSTANCE_PATH": str(tmp_path)}).extensions["perception"].registries.survey_templates
    definition = read_definition(yaml.safe_dump(dict(templates[name].definition)), models)
    for item in definition.items:
        for side in (item.customer, item.employee):
            assert side.get("en") and side.get("fr"), f"{name}: {item.key} lacks a wording"


def test_six_pillars_covers_the_six_pillars_with_two_or_three_items_each(models: dict, tmp_path: Path) -> None:
    from perception import create_app

    templates = create_app({"INSTANCE_PATH": str(tmp_path)}).extensions["perception"].registries.survey_templates
    items = templates["six-pillars"].definition["items"]
    pillars = ["Integrity", "Resolution", "Expectations", "Time and Effort", "Personalisation", "Empathy"]
    for pillar in pillars:
        assert 2 <= sum(item["dimension"] == pillar for item in items) <= 3, pillar


def test_journey_has_one_item_per_touchpoint(tmp_path: Path) -> None:
    from perception import create_app

    templates = create_app({"INSTANCE_PATH": str(tmp_path)}).extensions["perception"].registries.survey_templates
    touchpoints = [
        item.get("touchpoint") for item in templates["journey"].definition["items"] if item.get("touchpoint")
    ]
    assert touchpoints == [
        "pre-sale",
        "website",
        "delivery",
        "first-use",
        "first-support-call",
        "invoice",
        "renewal",
    ]


def test_json_is_read_as_well_as_yaml(models: dict) -> None:
    as_json = json.dumps(yaml.safe_load(MINIMAL))
    assert read_definition(as_json, models) == read_definition(MINIMAL, models)


def test_default_models_follow_the_scale(models: dict) -> None:
    text = MINIMAL.replace("scale: nps", "scale: likert5")
    assert read_definition(text, models).items[0].model == "mean"
    assert read_definition(MINIMAL, models).items[0].model == "nps"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace("scale: nps", "scale: stars"),
            "line 5, item 1 (recommend): scale 'stars' is not one of",
        ),
        (
            lambda t: t.replace("scale: nps", "scale: nps\n    model: magic"),
            "scoring model 'magic' is not registered",
        ),
        (
            lambda t: t.replace("scale: nps", "scale: nps\n    model: csat"),
            "scoring model 'csat' cannot score a nps scale",
        ),
        (lambda t: t.replace("slug: mini", "slug: Mini Survey!"), "slug 'Mini Survey!' must be"),
        (
            lambda t: t.replace('customer: {en: "Would you recommend us?", ', "customer: {"),
            "customer needs a wording in the default language (en)",
        ),
        (
            lambda t: t.replace("default_language: en", "default_language: de"),
            "default_language must be en or fr",
        ),
        (
            lambda t: t + t[t.index("  - key") :],
            "line 10, item 2 (recommend): key 'recommend' is used by an earlier item",
        ),
        (lambda t: t.replace("items:", "colour: blue\nitems:"), "unknown top-level keys ['colour']"),
        (lambda t: t.replace("    dimension: Loyalty\n", ""), "dimension must be a name"),
        (
            lambda t: t.replace("    dimension: Loyalty\n", "    dimension: Loyalty\n    wieght: 2\n"),
            "unknown keys ['wieght']",
        ),
        (lambda t: t.replace("items:", "items: []\nold_items:"), "items must be a non-empty list"),
        (lambda t: t.replace("customer: {", "customer: {es: Hola, "), "unknown languages ['es']"),
        (
            lambda t: t.replace("title: {en: Mini, fr: Mini}", "title: {en: Mini, fr: [Mini"),
            "line 3, column 17",
        ),
        (lambda t: "- just\n- a list\n", "must hold a mapping"),
        (
            lambda t: t.replace("scale: nps", "scale: text\n    model: nps"),
            "a text item has no scoring model",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_where_and_why(change, message: str, models: dict) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SurveyFileError) as refused:
        read_definition(change(MINIMAL), models)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems


def test_every_fault_is_listed_not_just_the_first(models: dict) -> None:
    broken = MINIMAL.replace("scale: nps", "scale: stars").replace("dimension: Loyalty", "dimension: ''")
    with pytest.raises(SurveyFileError) as refused:
        read_definition(broken, models)
    assert len(refused.value.problems) == 2


def count_surveys(app: Flask) -> tuple[int, int]:
    with session_scope(app) as session:
        return session.exec(select(func.count(Survey.id))).one(), session.exec(select(func.count(Item.id))).one()


def test_cli_import_and_export_round_trip(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    source = tmp_path / "mini.yaml"
    source.write_text(MINIMAL, encoding="utf-8")
    result = runner.invoke(args=["survey", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "Imported survey 'mini' with 1 items" in result.output
    exported = runner.invoke(args=["survey", "export", "mini"])
    assert exported.exit_code == 0
    assert yaml.safe_load(exported.output) == {
        **yaml.safe_load(MINIMAL),
        "items": [{**yaml.safe_load(MINIMAL)["items"][0], "model": "nps"}],
    }
    again = runner.invoke(args=["survey", "import", str(source)])
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_cli_refuses_a_bad_file_whole_and_stores_nothing(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    good_then_bad = MINIMAL + MINIMAL[MINIMAL.index("  - key") :].replace("recommend", "effort").replace("nps", "ces7")
    bad.write_text(good_then_bad, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["survey", "import", str(bad)])
    assert result.exit_code == 1
    assert "refused, nothing was stored" in result.output
    assert "item 2 (effort): scale 'ces7'" in result.output
    assert count_surveys(app) == (0, 0)


def test_every_template_round_trips_through_the_database(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    templates = app.extensions["perception"].registries.survey_templates
    for name, template in templates.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(dict(template.definition), allow_unicode=True), encoding="utf-8")
        assert runner.invoke(args=["survey", "import", str(path)]).exit_code == 0
        exported = yaml.safe_load(runner.invoke(args=["survey", "export", name]).output)
        models = app.extensions["perception"].registries.scoring_models
        assert read_definition(yaml.safe_dump(exported), models) == read_definition(path.read_text(), models)
