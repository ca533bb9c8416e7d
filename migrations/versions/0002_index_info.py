"""Index facts: the embedding model's fingerprint (``kb_index_info``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The catalog's engine creates missing tables itself (create_all), so a database opened by
    # a newer release before this migration ran may have the table already.
    if "kb_index_info" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table('kb_index_info',
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('kb_index_info')
