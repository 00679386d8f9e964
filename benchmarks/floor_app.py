"""The stack's floor for `respondent_floor.py`: the least a Flask + WTForms answer endpoint does.

A page with a form of nine radio questions and a comment; a POST validated with its CSRF token,
one row inserted, a redirect. Served by gunicorn: `gunicorn floor_app:app`, with the database in
``FLOOR_DATABASE_URL``.
"""

from __future__ import annotations

import os

from flask import Flask, redirect, render_template_string
from flask_wtf import FlaskForm
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, event, insert
from sqlalchemy.exc import DBAPIError
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

QUESTIONS = 9
metadata = MetaData()
answers = Table(
    "floor_answer",
    metadata,
    Column("id", Integer, primary_key=True),
    *(Column(f"q{number}", Integer, nullable=False) for number in range(1, QUESTIONS + 1)),
    Column("comment", Text),
)

engine = create_engine(os.environ["FLOOR_DATABASE_URL"])
if engine.dialect.name == "sqlite":

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
        # The same settings as perception's own engine (perception/db.py).
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA synchronous=NORMAL")


try:
    metadata.create_all(engine)
except DBAPIError:  # gunicorn's workers start together: another one made the table at the same moment
    metadata.create_all(engine)


class AnswerForm(FlaskForm):
    comment = TextAreaField("Anything to add?", validators=[Optional(), Length(max=5000)])


for number in range(1, QUESTIONS + 1):
    setattr(
        AnswerForm,
        f"q{number}",
        RadioField(f"Question {number}", choices=[(str(v), str(v)) for v in range(1, 6)], validators=[InputRequired()]),
    )

PAGE = """<!doctype html><form method="post">{{ form.csrf_token }}
{% for field in form if field.name != 'csrf_token' %}{{ field.label }} {{ field() }}{% endfor %}
<button>Send</button></form>"""

app = Flask(__name__)
app.config.update(SECRET_KEY=os.environ.get("PERCEPTION_SECRET_KEY", "floor"), WTF_CSRF_TIME_LIMIT=None)


@app.route("/", methods=["GET", "POST"])
def answer():  # type: ignore[no-untyped-def]
    form = AnswerForm()
    if form.validate_on_submit():
        row = {f"q{number}": int(form[f"q{number}"].data) for number in range(1, QUESTIONS + 1)}
        with engine.begin() as connection:
            connection.execute(insert(answers).values(**row, comment=form.comment.data))
        return redirect("/thanks")
    return render_template_string(PAGE, form=form), 422 if form.is_submitted() else 200
