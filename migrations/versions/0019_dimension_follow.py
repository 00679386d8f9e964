"""dimension follow: leads and leaders who hear about a dimension's widening gaps

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dimension_follow",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_dimension_follow_account_id_account"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_dimension_follow_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "survey_id", "dimension", name=op.f("pk_dimension_follow")),
    )


def downgrade() -> None:
    op.drop_table("dimension_follow")
