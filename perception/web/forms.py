"""The forms of the staff pages; respondent forms are built per survey in ``respond``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from perception.surveys import SLUG_PATTERN
from perception.waves import MAX_LINKS_PER_BATCH, NAME_PATTERN


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])


class NewSurveyForm(FlaskForm):
    template = SelectField(_l("Start from template"), validators=[DataRequired()])
    slug = StringField(
        _l("Short name (used in links and files)"),
        validators=[
            DataRequired(),
            Regexp(SLUG_PATTERN, message=_l("Lowercase letters, digits and dashes only.")),
        ],
    )
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=200)])
    title_fr = StringField(_l("Title in French"), validators=[Optional(), Length(max=200)])


class WaveForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(),
            Regexp(NAME_PATTERN, message=_l("Letters, digits, spaces, dots, dashes and underscores.")),
        ],
    )
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("cold", _l("Cold (barometer)")), SelectChoice("hot", _l("Hot (continuous)"))],
    )
    opens_on = DateField(_l("Opens on"), validators=[Optional()])
    closes_on = DateField(_l("Closes on"), validators=[Optional()])
    touchpoint = StringField(_l("Touchpoint (hot waves)"), validators=[Optional(), Length(max=64)])


class LinkBatchForm(FlaskForm):
    side = SelectField(
        _l("Side"),
        choices=[SelectChoice("customer", _l("Customers")), SelectChoice("employee", _l("Employees"))],
    )
    count = IntegerField(
        _l("Number of one-time links"),
        validators=[DataRequired(), NumberRange(min=1, max=MAX_LINKS_PER_BATCH)],
        default=50,
    )


class ActionForm(FlaskForm):
    """A button that changes state: only its CSRF token."""


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    scopes = SelectMultipleField(
        _l("Scopes"),
        choices=[
            SelectChoice("reports:read", _l("read reports")),
            SelectChoice("invitations:send", _l("send invitations")),
            SelectChoice("responses:import", _l("import responses")),
            SelectChoice("responses:export", _l("export responses")),
            SelectChoice("surveys:manage", _l("manage surveys")),
            SelectChoice("alerts:manage", _l("handle alerts")),
            SelectChoice("ideas:read", _l("read the ideas employees see")),
            SelectChoice("stories:read", _l("read published stories")),
        ],
        validators=[DataRequired(_l("Choose at least one scope."))],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class WebhookForm(FlaskForm):
    url = StringField(_l("Endpoint URL"), validators=[DataRequired(), Length(max=2000)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    events = SelectMultipleField(
        _l("Events"),
        validators=[DataRequired(_l("Choose at least one event."))],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class AccountForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("employee", _l("employee")),
            SelectChoice("lead", _l("lead")),
            SelectChoice("leader", _l("leader")),
            SelectChoice("admin", _l("admin")),
        ],
    )
    language = SelectField(_l("Language"), choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(min=10, max=1000, message=_l("At least 10 characters."))],
    )
