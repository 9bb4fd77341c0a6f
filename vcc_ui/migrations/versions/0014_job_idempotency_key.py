"""Store the client's Idempotency-Key on the job row, so a retried submit returns the first job

Revision ID: 0014
Revises: 0015
Create Date: 2026-12-05 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('job', sa.Column('idempotency_key', sa.String(length=128), nullable=True))
    op.create_index('ix_job_owner_idempotency_key', 'job', ['owner', 'idempotency_key'])


def downgrade() -> None:
    op.drop_index('ix_job_owner_idempotency_key', table_name='job')
    with op.batch_alter_table('job') as batch:
        batch.drop_column('idempotency_key')
