"""gallery share links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:21:48.786573
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        'sharelink',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('image_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sharelink_image_id'), ['image_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sharelink_owner'), ['owner'], unique=False)

    with op.batch_alter_table('image', schema=None) as batch_op:
        batch_op.create_index(
            'ix_image_owner_kind_status_created', ['owner', 'kind', 'status', 'created_at', 'id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('image', schema=None) as batch_op:
        batch_op.drop_index('ix_image_owner_kind_status_created')

    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sharelink_owner'))
        batch_op.drop_index(batch_op.f('ix_sharelink_image_id'))

    op.drop_table('sharelink')
