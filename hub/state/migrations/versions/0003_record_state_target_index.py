"""record_state (exchange, target_key) index: which source record a target object belongs to

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hub_record_state_target", "hub_record_state", ["exchange", "target_key"])


def downgrade() -> None:
    op.drop_index("ix_hub_record_state_target", table_name="hub_record_state")
