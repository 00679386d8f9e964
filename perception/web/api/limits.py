"""Rate limits per API token, counted in the database so that every app process shares them.

A fixed window of one minute: each call adds one to the token's row for the current window in
one atomic upsert, so that two processes (or two machines) counting at once never lose a call.
"""

from __future__ import annotations

import math
import time

from flask import Flask
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from perception.db import engine_of
from perception.models import ApiRateWindow

WINDOW_SECONDS = 60


def count_call(app: Flask, token_id: int, now: float | None = None) -> int | None:
    """Count one call of the token; return None when it is allowed, else the seconds to wait."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    limit = int(app.config["API_RATE_LIMIT"])
    engine = engine_of(app)
    table = ApiRateWindow.__table__
    insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(token_id=token_id, minute=window, calls=1)
        .on_conflict_do_update(index_elements=["token_id", "minute"], set_={"calls": table.c.calls + 1})
        .returning(table.c.calls)
    )
    with engine.begin() as connection:
        calls = connection.execute(statement).scalar_one()
        if calls == 1:  # a new window: the token's older ones are done with
            connection.execute(table.delete().where(table.c.token_id == token_id, table.c.minute < window))
    if calls <= limit:
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
