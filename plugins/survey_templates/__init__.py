"""Built-in survey templates: core, six-pillars and journey, as YAML files beside this one."""

from __future__ import annotations

from importlib import resources

import yaml

from perception import SurveyTemplate, hookimpl

TEMPLATE_FILES = ("core", "six-pillars", "journey")


@hookimpl
def perception_survey_templates() -> list[SurveyTemplate]:
    templates = []
    for name in TEMPLATE_FILES:
        text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        definition = yaml.safe_load(text)
        templates.append(SurveyTemplate(name=name, label=definition["title"], definition=definition))
    return templates
