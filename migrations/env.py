"""Alembic environment: runs with the engine of the application that called it."""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

import perception.models
from perception.models import metadata

target_metadata = metadata
assert perception.models  # every table is defined by importing the models module


def run_migrations() -> None:
    config = context.config
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
