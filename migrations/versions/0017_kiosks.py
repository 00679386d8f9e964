"""kiosks: a tablet on a counter answering a wave, with its fixed segment values

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("stopped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["account.id"], name=op.f("fk_kiosk_created_by_account"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"], name=op.f("fk_kiosk_wave_id_wave"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk")),
    )
    with op.batch_alter_table("kiosk", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_wave_id"), ["wave_id"], unique=False)
    op.create_table(
        "kiosk_segment",
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("attribute_id", sa.Integer(), nullable=False),
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attribute_id"],
            ["segment_attribute.id"],
            name=op.f("fk_kiosk_segment_attribute_id_segment_attribute"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosk.id"], name=op.f("fk_kiosk_segment_kiosk_id_kiosk"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["value_id"], ["segment_value.id"], name=op.f("fk_kiosk_segment_value_id_segment_value"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kiosk_id", "attribute_id", name=op.f("pk_kiosk_segment")),
    )


def downgrade() -> None:
    op.drop_table("kiosk_segment")
    with op.batch_alter_table("kiosk", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_wave_id"))
    op.drop_table("kiosk")
