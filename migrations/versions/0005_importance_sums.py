"""importance sums kept per wave

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "importance_state",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("anchor_id", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("last_response_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["anchor_id"], ["item.id"], name=op.f("fk_importance_state_anchor_id_item"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_importance_state_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("wave_id", name=op.f("pk_importance_state")),
    )
    op.create_table(
        "importance_sums",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in ("n", "sx", "sy", "sxy", "sxx", "syy")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_importance_sums_item_id_item"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_importance_sums_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("wave_id", "item_id", name=op.f("pk_importance_sums")),
    )


def downgrade() -> None:
    op.drop_table("importance_sums")
    op.drop_table("importance_state")
