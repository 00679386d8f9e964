"""The web pages. The core registers its blueprints through the same hook as any plugin."""

from __future__ import annotations

from flask import Blueprint, Flask

from perception.hookspecs import hookimpl


@hookimpl
def perception_register_blueprints(app: Flask) -> list[Blueprint]:
    from perception.web import (
        accounts,
        alerts,
        api,
        audit,
        auth,
        builder,
        home,
        ideas,
        notifications,
        respond,
        stories,
        surveys,
        webhooks,
    )

    return [
        auth.blueprint,
        home.blueprint,
        surveys.blueprint,
        respond.blueprint,
        accounts.blueprint,
        api.blueprint,
        audit.blueprint,
        alerts.blueprint,
        stories.blueprint,
        ideas.blueprint,
        notifications.blueprint,
        webhooks.blueprint,
        builder.blueprint,
    ]
