"""dead letters: why and by whom one was discarded

An operator discards a dead letter with a reason (from the Airflow UI's dead-letters page or
``hub dead-letters discard --reason``); the reason and the person stay with the letter.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_dead_letter") as batch_op:
        batch_op.add_column(sa.Column("discard_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("discarded_by", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_dead_letter") as batch_op:
        batch_op.drop_column("discarded_by")
        batch_op.drop_column("discard_reason")
