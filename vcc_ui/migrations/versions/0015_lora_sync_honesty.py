"""LoRA sync honesty: why Civitai metadata is pending, which hashes the node vouched for in the latest sync

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-08 10:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lorafile') as batch:
        batch.add_column(sa.Column('hash_verified', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text('UPDATE lorafile SET hash_verified = (sha256 IS NOT NULL)'))  # hashed by the node
    with op.batch_alter_table('lorasyncstate') as batch:
        batch.add_column(sa.Column('metadata_note', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch.add_column(sa.Column('metadata_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('lorasyncstate') as batch:
        batch.drop_column('metadata_error')
        batch.drop_column('metadata_note')
    with op.batch_alter_table('lorafile') as batch:
        batch.drop_column('hash_verified')
