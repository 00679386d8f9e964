"""The hooks a plugin can implement. Every hook is documented in ``docs/plugins.md``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint, Flask

    from perception.types import (
        AlertOpened,
        Channel,
        IdeaStateChanged,
        ResponseSubmitted,
        ScoringModel,
        StoryPublished,
        SurveyTemplate,
        TextAnalyser,
        WaveClosed,
        WaveOpened,
    )

hookspec = pluggy.HookspecMarker("perception")
hookimpl = pluggy.HookimplMarker("perception")


@hookspec
def perception_register_scoring_models() -> list[ScoringModel]:
    """Return scoring models (instances of ``perception.ScoringModel``)."""


@hookspec
def perception_register_channels() -> list[Channel]:
    """Return channels (instances of ``perception.Channel``)."""


@hookspec
def perception_register_blueprints(app: Flask) -> list[Blueprint]:
    """Return Flask blueprints to register on the application."""


@hookspec
def perception_register_commands(cli: click.Group) -> None:
    """Add commands to the ``perception`` command-line group."""


@hookspec
def perception_survey_templates() -> list[SurveyTemplate]:
    """Return survey templates leads can start a survey from."""


@hookspec
def perception_response_submitted(app: Flask, event: ResponseSubmitted) -> None:
    """React to a response once it is stored (runs on the task queue)."""


@hookspec
def perception_wave_opened(app: Flask, event: WaveOpened) -> None:
    """React to a wave being opened (runs on the task queue)."""


@hookspec
def perception_alert_opened(app: Flask, event: AlertOpened) -> None:
    """React to an alert being opened: notify its owner, post it elsewhere (runs on the task queue)."""


@hookspec
def perception_story_published(app: Flask, event: StoryPublished) -> None:
    """React to a best-failure story being published (runs on the task queue)."""


@hookspec
def perception_wave_closed(app: Flask, event: WaveClosed) -> None:
    """React to a wave being closed (runs on the task queue)."""


@hookspec
def perception_idea_state_changed(app: Flask, event: IdeaStateChanged) -> None:
    """React to a lead's decision on an idea, once committed (runs on the task queue)."""


@hookspec
def perception_register_text_analysers() -> list[TextAnalyser]:
    """Return text analysers (instances of ``perception.TextAnalyser``) that find themes in verbatims."""


def hook_names() -> list[str]:
    """The names of every hook, for documentation and tests."""
    return sorted(name for name in globals() if name.startswith("perception_"))
