"""api rate window

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_rate_window",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_token.id"], name=op.f("fk_api_rate_window_token_id_api_token"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_id", "minute", name=op.f("pk_api_rate_window")),
    )


def downgrade() -> None:
    op.drop_table("api_rate_window")
