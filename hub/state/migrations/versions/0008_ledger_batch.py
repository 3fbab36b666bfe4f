"""effect ledger: one entry per batch of creates to an idempotent target; the record log loses its run index

A batch of creates written by an upsert that cannot duplicate (a unique match key) records its intent as one
``hub_ledger_batch`` row instead of one ledger row per create; the batch's state commit removes it, and a run
killed in between is settled from it as before. ``ix_hub_record_log_run_id`` served no query and cost every
record-log insert an index entry.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LongText = sa.Text().with_variant(sa.Text(length=2**24 - 1), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "hub_ledger_batch",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("exchange", sa.String(64), nullable=False),
        sa.Column("run_id", Id, nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("intents", LongText, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_hub_ledger_batch_exchange", "hub_ledger_batch", ["exchange"])
    with op.batch_alter_table("hub_record_log") as batch_op:
        batch_op.drop_index("ix_hub_record_log_run_id")


def downgrade() -> None:
    with op.batch_alter_table("hub_record_log") as batch_op:
        batch_op.create_index("ix_hub_record_log_run_id", ["run_id"], unique=False)
    op.drop_index("ix_hub_ledger_batch_exchange", table_name="hub_ledger_batch")
    op.drop_table("hub_ledger_batch")
