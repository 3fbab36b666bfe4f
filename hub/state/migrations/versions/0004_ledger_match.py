"""effect ledger: what finds an intended write's object again (match values, target key); run warnings and
records out of scope

A write whose batch state was lost in a kill is settled by the next run: it looks the object up by the match
values (or the target key) kept with the intent. The run log counts lossy conversions (warnings) and known
records that left the source's scope (not deletions).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_effect_ledger") as batch_op:
        batch_op.add_column(sa.Column("match_values", sa.Text(), nullable=True))
    op.create_index("ix_hub_effect_ledger_source", "hub_effect_ledger", ["exchange", "source_key"])
    with op.batch_alter_table("hub_run") as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("out_of_scope", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("hub_run") as batch_op:
        batch_op.drop_column("out_of_scope")
        batch_op.drop_column("warnings")
    op.drop_index("ix_hub_effect_ledger_source", table_name="hub_effect_ledger")
    with op.batch_alter_table("hub_effect_ledger") as batch_op:
        batch_op.drop_column("match_values")
