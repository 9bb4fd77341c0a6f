"""Mark the server rows that come from COMFYUI_SERVERS / COMFYUI_SERVER in .env

Revision ID: 0010
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('comfyserver') as batch:
        batch.add_column(sa.Column('from_env', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('comfyserver') as batch:
        batch.drop_column('from_env')
