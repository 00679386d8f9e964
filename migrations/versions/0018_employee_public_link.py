"""a public link for each side of a wave: the employees' one

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:00:00.000000
"""

import hashlib
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN = sqlmodel.sql.sqltypes.AutoString(length=64)


def upgrade() -> None:
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.add_column(sa.Column("employee_public_token", TOKEN, nullable=True))
        batch_op.add_column(sa.Column("employee_public_token_hash", TOKEN, nullable=True))
    connection = op.get_bind()
    wave = sa.table("wave", sa.column("id", sa.Integer()), sa.column("employee_public_token", sa.String()),
                    sa.column("employee_public_token_hash", sa.String()))  # fmt: skip
    for (wave_id,) in connection.execute(sa.select(wave.c.id)).all():
        token = secrets.token_urlsafe(20)  # as perception.waves.new_token: 160 random bits
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        values = {"employee_public_token": token, "employee_public_token_hash": digest}
        connection.execute(sa.update(wave).where(wave.c.id == wave_id).values(**values))
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.alter_column("employee_public_token", existing_type=TOKEN, nullable=False)
        batch_op.alter_column("employee_public_token_hash", existing_type=TOKEN, nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_wave_employee_public_token"), ["employee_public_token"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_wave_employee_public_token_hash"), ["employee_public_token_hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_wave_employee_public_token_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_wave_employee_public_token"), type_="unique")
        batch_op.drop_column("employee_public_token_hash")
        batch_op.drop_column("employee_public_token")
