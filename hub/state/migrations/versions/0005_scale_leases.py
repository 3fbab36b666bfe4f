"""hub_leases (one holder at a time: run lock, AMI listener), the run log's host and pid, and inbox positions in
commit order (hub_inbox.position, hub_inbox_stream)

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
    op.create_table(
        "hub_inbox_stream",
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream"),
    )
    # events stored before this migration keep their id as their position (checkpoints are ids): their order
    # is the id order it always was, and the counters go on from there
    with op.batch_alter_table("hub_inbox") as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    op.execute("UPDATE hub_inbox SET position = id")
    op.execute("INSERT INTO hub_inbox_stream (stream, last_position) SELECT stream, MAX(id) FROM hub_inbox "
               "GROUP BY stream")
    with op.batch_alter_table("hub_inbox") as batch_op:
        batch_op.alter_column("position", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint("uq_hub_inbox_position", ["stream", "position"])


def downgrade() -> None:
    with op.batch_alter_table("hub_inbox") as batch_op:
        batch_op.drop_constraint("uq_hub_inbox_position", type_="unique")
        batch_op.drop_column("position")
    op.drop_table("hub_inbox_stream")
    with op.batch_alter_table("hub_run") as batch_op:
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
    op.drop_table("hub_leases")
