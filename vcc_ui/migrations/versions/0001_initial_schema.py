"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 22:42:39.001487
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        'comfyserver',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('base_url', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('max_inflight', sa.Integer(), nullable=False),
        sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('simulated', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('base_url'),
    )
    op.create_table(
        'image',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('rel_path', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column('thumb_path', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
        sa.Column('mime', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('trashed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('prompt', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('negative_prompt', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('seed', sa.BigInteger(), nullable=True),
        sa.Column('aspect_ratio', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('server', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('original_filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('favorite', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('image', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_owner'), ['owner'], unique=False)
        batch_op.create_index('ix_image_owner_status_created', ['owner', 'status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_image_status'), ['status'], unique=False)

    op.create_table(
        'job',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('priority', sa.Float(), nullable=False),
        sa.Column('server_id', sa.Integer(), nullable=True),
        sa.Column('prompt_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('progress_value', sa.Float(), nullable=False),
        sa.Column('progress_max', sa.Float(), nullable=False),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('image_ids', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_owner'), ['owner'], unique=False)
        batch_op.create_index('ix_job_owner_status', ['owner', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_queued_at'), ['queued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_server_id'), ['server_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_status'), ['status'], unique=False)

    op.create_table(
        'user',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('quota_max_bytes', sa.BigInteger(), nullable=True),
        sa.Column('quota_max_images', sa.Integer(), nullable=True),
        sa.Column('blocked', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:

    op.drop_table('user')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_status'))
        batch_op.drop_index(batch_op.f('ix_job_server_id'))
        batch_op.drop_index(batch_op.f('ix_job_queued_at'))
        batch_op.drop_index('ix_job_owner_status')
        batch_op.drop_index(batch_op.f('ix_job_owner'))
        batch_op.drop_index(batch_op.f('ix_job_finished_at'))

    op.drop_table('job')
    with op.batch_alter_table('image', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_status'))
        batch_op.drop_index('ix_image_owner_status_created')
        batch_op.drop_index(batch_op.f('ix_image_owner'))
        batch_op.drop_index(batch_op.f('ix_image_job_id'))
        batch_op.drop_index(batch_op.f('ix_image_created_at'))

    op.drop_table('image')
    op.drop_table('comfyserver')
