"""hub_leases (one holder at a time: run lock, AMI listener) and the run log's host and pid

Revision ID: 0005_scale
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005_scale"
down_revision = "0003"
branch_labels = None
depends_on = None

PreciseTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "hub_leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", PreciseTime, nullable=False),
        sa.Column("acquired_at", PreciseTime, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("hub_run") as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_run") as batch_op:
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
    op.drop_table("hub_leases")
