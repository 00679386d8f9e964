"""The forms of the idea box and of notifications."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from perception.ideas import ANSWER_LENGTH, BODY_LENGTH, REASON_LENGTH, TITLE_LENGTH

DECIDED_STATES = ("submitted", "under_review", "accepted", "in_progress", "implemented", "declined")


class IdeaForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(_l("Give the idea a title.")),
            Length(min=TITLE_LENGTH[0], max=TITLE_LENGTH[1], message=_l("Between 5 and 160 characters.")),
        ],
    )
    body = TextAreaField(
        _l("Description"),
        validators=[
            DataRequired(_l("Describe the idea.")),
            Length(max=BODY_LENGTH[1], message=_l("At most 10,000 characters.")),
        ],
    )
    target = SelectField(_l("What it addresses (optional)"), validators=[Optional()], validate_choice=False)
    anonymous = BooleanField(_l("Post anonymously: no one, not even an administrator, can learn it is mine"))


class DecisionForm(FlaskForm):
    state = SelectField(_l("New state"), choices=[])
    answer = TextAreaField(
        _l("Official answer"),
        validators=[
            DataRequired(_l("Every decision comes with an official answer.")),
            Length(min=ANSWER_LENGTH[0], max=ANSWER_LENGTH[1], message=_l("Between 3 and 5,000 characters.")),
        ],
    )


class MergeForm(FlaskForm):
    into = IntegerField(
        _l("Number of the idea to keep"),
        validators=[DataRequired(_l("Give the number of the idea to keep.")), NumberRange(min=1)],
    )
    answer = TextAreaField(
        _l("Official answer"),
        validators=[
            DataRequired(_l("Every decision comes with an official answer.")),
            Length(min=ANSWER_LENGTH[0], max=ANSWER_LENGTH[1], message=_l("Between 3 and 5,000 characters.")),
        ],
    )


class ReportForm(FlaskForm):
    reason = TextAreaField(
        _l("Why should moderators look at this idea?"),
        validators=[
            DataRequired(_l("Say why you report the idea.")),
            Length(min=REASON_LENGTH[0], max=REASON_LENGTH[1], message=_l("Between 3 and 1,000 characters.")),
        ],
    )


class NotificationSettingsForm(FlaskForm):
    email = BooleanField(_l("Also tell me by email"))


def state_choices(labels: dict[str, object], current: str) -> list[SelectChoice]:
    return [SelectChoice(state, str(labels[state])) for state in DECIDED_STATES if state != current]
