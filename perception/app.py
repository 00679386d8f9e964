"""The application factory."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from flask import Flask, render_template, request, session
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from huey import Huey
from sqlalchemy import Engine

from perception import (
    db,
    questionnaire,  # noqa: F401  (its flush listener moves survey revisions on)
)
from perception.paths import resource_dir
from perception.plugins import Registries, make_plugin_manager
from perception.security import init_security
from perception.settings import SettingsError, load_or_create_secret_key, read_settings
from perception.tasks import make_queue
from perception.types import LANGUAGES


@dataclass
class PerceptionState:
    """Everything one application owns: nothing of it lives at module level."""

    plugin_manager: pluggy.PluginManager
    registries: Registries
    engine: Engine
    queue: Huey | None = None
    dispatch_event: Any = None
    deliver_webhook: Any = None
    # Each process's copy of the questionnaires respondents answer (perception.questionnaire).
    questionnaires: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    # ...and of the waves and surveys of the public links they answer (perception.waves).
    public_links: dict[str, Any] = field(default_factory=dict)
    database_ready: bool = False


def create_app(config: Mapping[str, Any] | None = None, plugins: Iterable[object] = ()) -> Flask:
    """Build an application: settings, plugins, database, queue, web, in that order.

    ``config`` overrides the ``PERCEPTION_*`` environment variables (keys without the
    prefix); ``plugins`` are registered after the installed ones (tests use it).
    """
    settings = read_settings(os.environ, config)
    instance_path = Path(settings.get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    app = Flask(
        "perception",
        instance_path=str(instance_path),
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("static")),
    )
    try:
        instance_path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(f"cannot create the instance folder {instance_path}: {error}") from None

    app.config.update(settings)
    app.config["INSTANCE_PATH"] = str(instance_path)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{instance_path / 'perception.db'}")
    app.config["SECRET_KEY"] = settings.get("SECRET_KEY") or load_or_create_secret_key(instance_path)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        BABEL_TRANSLATION_DIRECTORIES=str(resource_dir("translations")),
        BABEL_DEFAULT_LOCALE="en",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )

    pm = make_plugin_manager(plugins, app.config["PLUGINS"])
    state = PerceptionState(
        plugin_manager=pm,
        registries=Registries.collect(pm),
        engine=db.make_engine(app.config["DATABASE_URL"]),
    )
    app.extensions["perception"] = state
    state.queue = make_queue(app, create_tables=not app.config.get("QUEUE_TABLES_MADE", False))

    csrf = _init_web(app)
    for blueprints in pm.hook.perception_register_blueprints(app=app):
        for blueprint in blueprints or ():
            app.register_blueprint(blueprint)
    # Respondent forms check their own token, so that an expired page is answered on the form.
    csrf.exempt(app.blueprints["respond"])
    # The API (the core's and plugins' operations) authenticates each call with a bearer token,
    # never with the session cookie.
    for blueprint in list(app.blueprints.values()):
        if (blueprint.url_prefix or "").startswith("/api/"):
            csrf.exempt(blueprint)
    pm.hook.perception_register_commands(cli=app.cli)
    return app


def select_locale() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    # Only a session that holds an account has a language of its own. An anonymous respondent's
    # request never loads the account machinery, which would also rewrite its session cookie.
    if "_user_id" in session and current_user.is_authenticated:
        return current_user.language
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _init_web(app: Flask) -> CSRFProtect:
    from perception.accounts import load_account
    from perception.web import helpers

    csrf = CSRFProtect(app)
    Babel(app, locale_selector=select_locale)
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.user_loader(load_account)
    app.teardown_appcontext(db.close_session)
    helpers.register(app)

    @app.errorhandler(403)
    def _forbidden(error):  # type: ignore[no-untyped-def]
        from perception.web.api.base import api_error, wants_problem

        if wants_problem():
            return api_error(error)
        return render_template(
            "error.html", title=_("Not allowed"), message=_("Your role does not give access to this page.")
        ), 403

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _not_found(error):  # type: ignore[no-untyped-def]
        from perception.web.api.base import api_error, wants_problem

        if wants_problem():  # the API answers in problem details, even where no route matched
            return api_error(error)
        if error.code == 405:
            return error
        return render_template(
            "error.html", title=_("Page not found"), message=_("There is nothing at this address.")
        ), 404

    @app.errorhandler(CSRFError)
    def _csrf_failed(error):  # type: ignore[no-untyped-def]
        return render_template(
            "error.html",
            title=_("The form expired"),
            message=_("Please go back, reload the page and try again."),
        ), 400

    @app.before_request
    def _refuse_unstorable_text():  # type: ignore[no-untyped-def]
        # A NUL character fits in no PostgreSQL text: refused here, for every form and address,
        # with the field named, instead of failing when it is stored.
        fields = (*request.args.items(multi=True), *request.form.items(multi=True))
        where = next((name for name, value in fields if "\x00" in value or "\x00" in name), None)
        if where is None:
            return None
        from perception.web.api.base import problem, wants_problem

        if wants_problem():
            return problem(400, f"{where}: a NUL character cannot be stored")
        return render_template(
            "error.html",
            title=_("This form cannot be kept"),
            message=_(
                "The field %(field)s holds a NUL character, which cannot be stored. "
                "Please remove it and send the form again.",
                field=where.replace("\x00", ""),
            ),
        ), 400

    @app.before_request
    def _require_migrated_database():  # type: ignore[no-untyped-def]
        if request.endpoint == "static":
            return None
        try:
            db.check_ready(app)
        except db.DatabaseNotReady as error:
            return render_template("not_ready.html", message=str(error)), 503
        return None

    init_security(app)

    return csrf
