"""Share links without metadata; prompt full-text search

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-30 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strip_metadata', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.drop_column('strip_metadata')
