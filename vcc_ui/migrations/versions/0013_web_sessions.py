"""websession: the live admin and beta sessions, so logging out or an admin action can revoke a cookie

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-10 10:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'websession',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_websession_kind'), 'websession', ['kind'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_websession_kind'), table_name='websession')
    op.drop_table('websession')
