"""The README's examples work as written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from perception import create_app, hookimpl
from perception.surveys import parse_definition

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def code_block(after: str, language: str) -> str:
    start = README.index(after)
    return re.search(rf"```{language}\n(.*?)```", README[start:], flags=re.DOTALL).group(1)


def test_the_readme_plugin_example_registers_and_scores(tmp_path: Path) -> None:
    namespace: dict = {}
    exec(code_block("A scoring model in ten lines", "python"), namespace)
    assert namespace["perception_register_scoring_models"].__dict__  # marked as a hook implementation

    class Plugin:
        @hookimpl
        def perception_register_scoring_models(self):  # type: ignore[no-untyped-def]
            return namespace["perception_register_scoring_models"]()

    app = create_app({"INSTANCE_PATH": str(tmp_path)}, plugins=[Plugin()])
    model = app.extensions["perception"].registries.scoring_models["bottom2box"]
    assert model.score({1: 1, 2: 1, 5: 2}).value == 50.0


def test_the_readme_survey_file_is_valid(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    definition = parse_definition(
        yaml.safe_load(code_block("## Survey files", "yaml")), app.extensions["perception"].registries.scoring_models
    )
    assert [item.key for item in definition.items] == ["effort", "channel"]


def test_the_readme_documents_every_setting() -> None:
    from perception.settings import PREFIX, SETTINGS

    for setting in SETTINGS:
        assert f"`{PREFIX}{setting.name}`" in README, setting.name
