"""hub_search_index: business values (normalized) and referenced keys of the records runs wrote, for hub trace

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hub_search_index",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("exchange", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("target_key", sa.String(length=255), nullable=True),
        sa.Column("run_id", Id, nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exchange", "source_key", "kind", "value", name="uq_hub_search_index_entry"),
    )
    op.create_index("ix_hub_search_index_value", "hub_search_index", ["kind", "value"])
    op.create_index("ix_hub_search_index_at", "hub_search_index", ["at"])


def downgrade() -> None:
    op.drop_index("ix_hub_search_index_at", table_name="hub_search_index")
    op.drop_index("ix_hub_search_index_value", table_name="hub_search_index")
    op.drop_table("hub_search_index")
