"""Queue depth per 10 s bucket (peak queued and running), kept across restarts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 08:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'queuedepth',
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('queued', sa.Integer(), nullable=False),
        sa.Column('running', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('at'),
    )


def downgrade() -> None:
    op.drop_table('queuedepth')
