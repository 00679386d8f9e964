"""Webhooks: perception's events, sent signed to the endpoints admins register.

A plugin like any other: it listens to the event hooks and decides what each event says to the
outside. An employee-side response says only which survey, wave and day: no answers, no
verbatims, nothing a receiver could use to tell who answered.
"""

from __future__ import annotations

from flask import Flask

from perception import (
    AlertOpened,
    IdeaStateChanged,
    ResponseSubmitted,
    StoryPublished,
    WaveClosed,
    WaveOpened,
    hookimpl,
    send_webhook_event,
)


@hookimpl
def perception_response_submitted(app: Flask, event: ResponseSubmitted) -> None:
    data: dict[str, object] = {
        "survey": event.survey_slug,
        "wave": event.wave_name,
        "side": event.side,
        "submitted_on": event.submitted_on.isoformat(),
    }
    if event.side == "customer":
        data["answers"] = dict(event.answers)
    send_webhook_event(app, "response.submitted", data)


@hookimpl
def perception_wave_opened(app: Flask, event: WaveOpened) -> None:
    send_webhook_event(app, "wave.opened", {"survey": event.survey_slug, "wave": event.wave_name, "kind": event.kind})


@hookimpl
def perception_wave_closed(app: Flask, event: WaveClosed) -> None:
    send_webhook_event(app, "wave.closed", {"survey": event.survey_slug, "wave": event.wave_name, "kind": event.kind})


@hookimpl
def perception_alert_opened(app: Flask, event: AlertOpened) -> None:
    send_webhook_event(
        app,
        "alert.opened",
        {
            "alert": event.alert_id,
            "kind": event.kind,
            "survey": event.survey_slug,
            "wave": event.wave_name,
            "item": event.item_key,
            "value": event.value,
            "touchpoint": event.touchpoint,
            "dimension": event.dimension,
            "reason": event.reason,
            "opened_at": event.opened_at.isoformat(),
            "due_at": event.due_at.isoformat(),
        },
    )


@hookimpl
def perception_story_published(app: Flask, event: StoryPublished) -> None:
    send_webhook_event(
        app,
        "story.published",
        {
            "story": event.story_id,
            "title": event.title,
            "touchpoint": event.touchpoint,
            "dimension": event.dimension,
            "alert": event.alert_id,
            "published_at": event.published_at.isoformat(),
        },
    )


@hookimpl
def perception_idea_state_changed(app: Flask, event: IdeaStateChanged) -> None:
    send_webhook_event(
        app,
        "idea.state_changed",
        {
            "idea": event.idea_id,
            "title": event.title,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "answer": event.answer,
            "decided_on": event.decided_on.isoformat(),
            "merged_into": event.merged_into,
        },
    )
