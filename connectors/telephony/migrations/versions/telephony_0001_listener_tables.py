"""The telephony package's tables: the listener's watermark, calls in flight, committed call legs, and the
click-to-call journal (first revision of the package's own Alembic branch ``telephony``).

Databases where the package created them itself before (``create_all`` on first use) keep them as they are.

Revision ID: telephony_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "telephony_0001"
down_revision = None
branch_labels = ("telephony",)
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "telephony_listener" not in existing:
        op.create_table(
            "telephony_listener",
            sa.Column("pbx", sa.String(64), primary_key=True),
            sa.Column("watermark", sa.Float),
            sa.Column("updated_at", sa.DateTime, nullable=False),
        )
    if "telephony_calls_in_flight" not in existing:
        op.create_table(
            "telephony_calls_in_flight",
            sa.Column("pbx", sa.String(64), primary_key=True),
            sa.Column("linkedid", sa.String(64), primary_key=True),
            sa.Column("state", sa.Text, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
        )
    if "telephony_call_legs" not in existing:
        op.create_table(
            "telephony_call_legs",
            sa.Column("pbx", sa.String(64), primary_key=True),
            sa.Column("uniqueid", sa.String(64), primary_key=True),
            sa.Column("linkedid", sa.String(64), nullable=False),
            sa.Column("committed_at", sa.DateTime, nullable=False),
        )
        op.create_index("ix_telephony_call_legs_committed_at", "telephony_call_legs", ["committed_at"])
    if "telephony_originates" not in existing:
        op.create_table(
            "telephony_originates",
            sa.Column("pbx", sa.String(64), primary_key=True),
            sa.Column("request_id", sa.String(64), primary_key=True),
            sa.Column("action_id", sa.String(128), nullable=False),
            sa.Column("extension", sa.String(32), nullable=False),
            sa.Column("number", sa.String(32), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("sent_at", sa.DateTime, nullable=False),
        )


def downgrade() -> None:
    for table in ("telephony_originates", "telephony_call_legs", "telephony_calls_in_flight", "telephony_listener"):
        op.drop_table(table)
