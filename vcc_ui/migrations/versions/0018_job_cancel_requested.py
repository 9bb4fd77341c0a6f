"""A cancel asked for on any instance, kept on the job row until the dispatcher acts on it

Revision ID: 0018
Revises: 0021
Create Date: 2026-11-30 10:00:00.000000

With several instances (PostgreSQL + Redis) one of them dispatches; a cancel asked on another one is written here as
well as sent over the bus, so a change of dispatcher loses none.
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('job', sa.Column('cancel_requested', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('job') as batch:
        batch.drop_column('cancel_requested')
