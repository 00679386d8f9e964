"""respondent speed: one index serves reports and item deletions; an answer's wave is its response's

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every answer written took an entry in two indexes per item: the item's own (for deleting an
    # item) and the report's (wave, side, item, value). One index starting with the item serves
    # both. A wave's deletion no longer needs its answers by wave: it removes its responses, and
    # they their answers; the answer's wave stays a copy of its response's, as written.
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_constraint("fk_answer_wave_id_wave", type_="foreignkey")
        batch_op.drop_index("ix_answer_wave_side_item_value")
        batch_op.drop_index("ix_answer_item_id")
        batch_op.create_index(
            "ix_answer_item_wave_side_value", ["item_id", "wave_id", "side", "value", "response_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_index("ix_answer_item_wave_side_value")
        batch_op.create_index("ix_answer_item_id", ["item_id"], unique=False)
        batch_op.create_index(
            "ix_answer_wave_side_item_value", ["wave_id", "side", "item_id", "value", "response_id"], unique=False
        )
        batch_op.create_foreign_key("fk_answer_wave_id_wave", "wave", ["wave_id"], ["id"], ondelete="CASCADE")
