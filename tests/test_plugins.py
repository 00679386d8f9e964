"""The plugin contract: every hook documented with its exact signature, tested, and per app."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import json
import re
from pathlib import Path

import click
import pytest
from flask import Blueprint, Flask

from perception import (
    Channel,
    Delivery,
    Histogram,
    ResponseSubmitted,
    Score,
    ScoringModel,
    SurveyTemplate,
    WaveOpened,
    create_app,
    hookimpl,
    hookspecs,
)
from perception.plugins import PluginError
from tests.conftest import open_core_wave, post_form

ROOT = Path(__file__).resolve().parents[1]


def documented_hooks() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    found = {}
    for name, args in re.findall(r"^### (perception_\w+)\(([^)]*)\)", text, flags=re.MULTILINE):
        found[name] = [arg.strip() for arg in args.split(",") if arg.strip()]
    return found


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    documented = documented_hooks()
    for name in hookspecs.hook_names():
        assert name in documented, f"{name} is not documented in docs/plugins.md"
        expected = list(inspect.signature(getattr(hookspecs, name)).parameters)
        assert documented[name] == expected, f"docs/plugins.md gives {name} the wrong arguments"
    assert set(documented) <= set(hookspecs.hook_names()), "docs/plugins.md documents a hook that does not exist"


def test_every_hook_has_a_test() -> None:
    tested = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        tested |= set(re.findall(r"^def test_hook_(perception_\w+)\(", path.read_text(), flags=re.MULTILINE))
    missing = set(hookspecs.hook_names()) - tested
    assert not missing, f"hooks without a test_hook_<name> test: {sorted(missing)}"


def test_builtin_plugins_come_through_the_entry_point_group() -> None:
    entry_points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="perception")}
    assert entry_points["scoring"] == "perception_plugins.scoring"
    assert entry_points["channels"] == "perception_plugins.channels"
    assert entry_points["survey_templates"] == "perception_plugins.survey_templates"
    assert entry_points["webhooks"] == "perception_plugins.webhooks"


def test_builtin_plugins_import_only_public_names() -> None:
    for path in (ROOT / "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("perception"):
                assert node.module == "perception", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("perception."), f"{path.name} imports {alias.name}"


class Events:
    """A plugin that remembers the events it is given."""

    def __init__(self) -> None:
        self.responses: list[ResponseSubmitted] = []
        self.waves: list[WaveOpened] = []

    @hookimpl
    def perception_response_submitted(self, event: ResponseSubmitted) -> None:
        self.responses.append(event)

    @hookimpl
    def perception_wave_opened(self, app: Flask, event: WaveOpened) -> None:
        assert app.name == "perception"
        self.waves.append(event)


class BottomBox(ScoringModel):
    name = "bottom2box"
    label = {"en": "Dissatisfied (% of 1-2)", "fr": "Insatisfaits (% de 1-2)"}
    unit = "%"
    scales = frozenset({"csat"})

    def score(self, histogram: Histogram) -> Score:
        n = sum(histogram.values())
        low = sum(count for value, count in histogram.items() if value <= 2)
        return Score(n=n, value=100 * low / n if n else None)


class ModelPlugin:
    @hookimpl
    def perception_register_scoring_models(self) -> list[ScoringModel]:
        return [BottomBox()]


def test_two_apps_do_not_share_plugins(tmp_path: Path) -> None:
    with_plugin = create_app({"INSTANCE_PATH": str(tmp_path / "a")}, plugins=[ModelPlugin()])
    without = create_app({"INSTANCE_PATH": str(tmp_path / "b")})
    assert "bottom2box" in with_plugin.extensions["perception"].registries.scoring_models
    assert "bottom2box" not in without.extensions["perception"].registries.scoring_models
    assert with_plugin.extensions["perception"].plugin_manager is not without.extensions["perception"].plugin_manager


def test_two_plugins_with_the_same_model_name_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="two plugins register a scoring model named 'bottom2box'"):
        create_app({"INSTANCE_PATH": str(tmp_path)}, plugins=[ModelPlugin(), ModelPlugin()])


def test_a_plugin_returning_the_wrong_type_is_named(tmp_path: Path) -> None:
    class Wrong:
        @hookimpl
        def perception_register_channels(self) -> list[object]:
            return ["not a channel"]

    with pytest.raises(PluginError, match="expected a Channel"):
        create_app({"INSTANCE_PATH": str(tmp_path)}, plugins=[Wrong()])


def test_hook_perception_register_scoring_models(app_config: dict) -> None:
    """A third-party model is chosen per item in the survey definition and scores the report."""
    from perception.db import session_scope
    from perception.surveys import parse_definition, store_definition
    from perception.waves import create_wave, open_wave

    app = create_app(app_config, plugins=[ModelPlugin()])
    registries = app.extensions["perception"].registries
    definition = {
        "slug": "bottom",
        "title": {"en": "Bottom box"},
        "items": [
            {
                "key": "sat",
                "dimension": "Satisfaction",
                "scale": "csat",
                "model": "bottom2box",
                "customer": {"en": "How satisfied are you?"},
                "employee": {"en": "How satisfied do you think customers are?"},
            },
        ],
    }
    with session_scope(app) as session:
        survey = store_definition(session, parse_definition(definition, registries.scoring_models))
        wave = create_wave(session, survey, "w1")
        open_wave(wave)
        token = wave.public_token
    client = app.test_client()
    for value in (1, 2, 5, 5, 4):
        assert post_form(client, f"/p/{token}", {"item_sat": value}).status_code == 302
    from tests.conftest import sign_in

    lead = sign_in(app, "lead")
    page = lead.get("/surveys/bottom/waves/w1/report").get_data(as_text=True)
    assert "Dissatisfied (% of 1-2)" in page
    assert "40.0%" in page  # 2 of 5 customers answered 1 or 2


def test_hook_perception_register_channels(tmp_path: Path) -> None:
    class Pigeon(Channel):
        name = "pigeon"
        label = {"en": "Carrier pigeon", "fr": "Pigeon voyageur"}
        address_kind = "loft"

        def deliver(self, delivery: Delivery) -> str:
            return f"sent {delivery.url} to {delivery.address}"

    class PigeonPlugin:
        @hookimpl
        def perception_register_channels(self) -> list[Channel]:
            return [Pigeon()]

    app = create_app({"INSTANCE_PATH": str(tmp_path)}, plugins=[PigeonPlugin()])
    channels = app.extensions["perception"].registries.channels
    assert {"link", "pigeon"} <= set(channels)  # beside the other built-in channels
    delivery = Delivery(
        url="https://x.example/r/abc",
        side="customer",
        language="fr",
        survey_title="Baromètre",
        address="loft 7",
    )
    assert channels["pigeon"].deliver(delivery) == "sent https://x.example/r/abc to loft 7"
    assert channels["link"].deliver(delivery) == "https://x.example/r/abc"


def test_hook_perception_register_blueprints(app: Flask, app_config: dict) -> None:
    extra = Blueprint("extra", __name__)

    @extra.route("/extra/hello")
    def hello() -> str:
        return "hello from a plugin"

    class PagePlugin:
        @hookimpl
        def perception_register_blueprints(self, app: Flask) -> list[Blueprint]:
            return [extra]

    with_page = create_app(app_config, plugins=[PagePlugin()])
    assert with_page.test_client().get("/extra/hello").get_data(as_text=True) == "hello from a plugin"
    assert app.test_client().get("/extra/hello").status_code == 404


def test_hook_perception_register_commands(tmp_path: Path) -> None:
    @click.command("greet")
    def greet() -> None:
        click.echo("bonjour")

    class CommandPlugin:
        @hookimpl
        def perception_register_commands(self, cli: click.Group) -> None:
            cli.add_command(greet)

    app = create_app({"INSTANCE_PATH": str(tmp_path)}, plugins=[CommandPlugin()])
    result = app.test_cli_runner().invoke(args=["greet"])
    assert result.output == "bonjour\n"
    for core_command in ("init", "demo", "serve", "users", "survey", "wave", "plugins"):
        assert core_command in app.cli.commands


def test_hook_perception_survey_templates(app_config: dict) -> None:
    definition = {
        "slug": "onboarding",
        "title": {"en": "Onboarding", "fr": "Accueil"},
        "items": [
            {
                "key": "easy",
                "dimension": "Time and Effort",
                "scale": "ces",
                "customer": {"en": "Getting started was easy."},
                "employee": {"en": "Customers would say getting started was easy."},
            }
        ],
    }

    class TemplatePlugin:
        @hookimpl
        def perception_survey_templates(self) -> list[SurveyTemplate]:
            return [SurveyTemplate(name="onboarding", label=definition["title"], definition=definition)]

    app = create_app(app_config, plugins=[TemplatePlugin()])
    from tests.conftest import sign_in

    lead = sign_in(app, "lead")
    assert 'value="onboarding"' in lead.get("/surveys/new").get_data(as_text=True)
    response = post_form(lead, "/surveys/new", {"template": "onboarding", "slug": "onboarding-2027"})
    assert response.status_code == 302
    assert "Getting started was easy." in lead.get("/surveys/onboarding-2027").get_data(as_text=True)


def test_hook_perception_response_submitted(app_config: dict) -> None:
    from perception.db import session_scope
    from perception.waves import find_survey, find_wave, issue_links

    events = Events()
    app = create_app(app_config, plugins=[events])
    open_core_wave(app)
    with session_scope(app) as session:
        wave = find_wave(session, find_survey(session, "core"), "w1")
        token = issue_links(session, wave, "employee", 1, 30)[0].token
    client = app.test_client()
    answers = {"item_recommend": 9, "item_satisfaction": 4, "item_effort": 6, "item_comment": "Fine"}
    assert post_form(client, f"/r/{token}", answers).status_code == 302
    assert len(events.responses) == 1
    event = events.responses[0]
    assert (event.survey_slug, event.wave_name, event.side) == ("core", "w1", "employee")
    assert event.answers == {"recommend": 9, "satisfaction": 4, "effort": 6, "comment": "Fine"}
    assert set(vars(event)) == {"survey_slug", "wave_name", "side", "submitted_on", "answers", "response_id"}
    assert event.response_id is None  # an employee response is never traceable


def test_hook_perception_wave_opened(app_config: dict) -> None:
    events = Events()
    app = create_app(app_config, plugins=[events])
    from tests.conftest import sign_in

    lead = sign_in(app, "lead")
    post_form(lead, "/surveys/new", {"template": "core", "slug": "core"}, token_from="/surveys/new")
    post_form(lead, "/surveys/core/waves", {"name": "2027-Q1", "kind": "cold"}, token_from="/surveys/core")
    assert events.waves == []
    response = post_form(lead, "/surveys/core/waves/2027-Q1/open", {}, token_from="/surveys/core/waves/2027-Q1")
    assert response.status_code == 302
    assert events.waves == [WaveOpened(survey_slug="core", wave_name="2027-Q1", kind="cold")]


def test_plugins_command_lists_every_plugin_and_what_it_provides(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)}, plugins=[ModelPlugin()])
    result = app.test_cli_runner().invoke(args=["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {plugin["module"]: plugin for plugin in json.loads(result.output)}
    scoring = plugins["perception_plugins.scoring"]
    assert scoring["builtin"] and scoring["scoring_models"] == [
        "ces",
        "csat",
        "enps",
        "mean",
        "nps",
        "thumbs_up",
        "top2box",
    ]
    assert scoring["distribution"].startswith("perception ")
    assert plugins["perception_plugins.channels"]["channels"] == ["link"]
    assert plugins["perception_plugins.survey_templates"]["survey_templates"] == [
        "core",
        "journey",
        "six-pillars",
    ]
    third_party = next(p for p in plugins.values() if p.get("scoring_models") == ["bottom2box"])
    assert not third_party["builtin"]
    assert third_party["hooks"] == ["perception_register_scoring_models"]
    text = app.test_cli_runner().invoke(args=["plugins"]).output
    assert "scoring models: ces, csat, enps, mean, nps, thumbs_up, top2box" in text


def test_hook_perception_wave_closed(app_config: dict) -> None:
    from perception import WaveClosed

    closed: list[WaveClosed] = []

    class Closed:
        @hookimpl
        def perception_wave_closed(self, app: Flask, event: WaveClosed) -> None:
            closed.append(event)

    app = create_app(app_config, plugins=[Closed()])
    from tests.conftest import sign_in

    lead = sign_in(app, "lead")
    post_form(lead, "/surveys/new", {"template": "core", "slug": "core"}, token_from="/surveys/new")
    post_form(lead, "/surveys/core/waves", {"name": "2027-Q1", "kind": "cold"}, token_from="/surveys/core")
    post_form(lead, "/surveys/core/waves/2027-Q1/open", {}, token_from="/surveys/core/waves/2027-Q1")
    assert closed == []
    response = post_form(lead, "/surveys/core/waves/2027-Q1/close", {}, token_from="/surveys/core/waves/2027-Q1")
    assert response.status_code == 302
    assert closed == [WaveClosed(survey_slug="core", wave_name="2027-Q1", kind="cold")]
    post_form(lead, "/surveys/core/waves/2027-Q1/open", {}, token_from="/surveys/core/waves/2027-Q1")
    assert app.test_cli_runner().invoke(args=["wave", "close", "core", "2027-Q1"]).exit_code == 0
    assert len(closed) == 2
