"""sign-in throttling; waves found by the hash of their public token

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:15:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    connection = op.get_bind()
    wave = sa.table("wave", sa.column("id", sa.Integer()), sa.column("public_token", sa.String()),
                    sa.column("public_token_hash", sa.String()))  # fmt: skip
    for wave_id, token in connection.execute(sa.select(wave.c.id, wave.c.public_token)).all():
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        connection.execute(sa.update(wave).where(wave.c.id == wave_id).values(public_token_hash=digest))
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.alter_column("public_token_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)  # fmt: skip
        batch_op.create_unique_constraint(batch_op.f("uq_wave_public_token_hash"), ["public_token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("wave", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_wave_public_token_hash"), type_="unique")
        batch_op.drop_column("public_token_hash")
    op.drop_table("sign_in_throttle")
