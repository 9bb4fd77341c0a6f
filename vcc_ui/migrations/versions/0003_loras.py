"""LoRA files per server, Civitai versions, LoRA sync state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:42:12.334768
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'civitaiversion',
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('found', sa.Boolean(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=True),
        sa.Column('model_id', sa.Integer(), nullable=True),
        sa.Column('model_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column('version_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column('base_model', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('trained_words', sa.JSON(), nullable=False),
        sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('model_description', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('creator', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('nsfw', sa.Boolean(), nullable=False),
        sa.Column('image_urls', sa.JSON(), nullable=False),
        sa.Column('preview_path', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('model_fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('sha256'),
    )
    with op.batch_alter_table('civitaiversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_civitaiversion_model_id'), ['model_id'], unique=False)

    op.create_table(
        'lorafile',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('server_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('mtime', sa.Float(), nullable=False),
        sa.Column('hashed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('lorafile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lorafile_server_id'), ['server_id'], unique=False)
        batch_op.create_index('ix_lorafile_server_name', ['server_id', 'name'], unique=True)
        batch_op.create_index(batch_op.f('ix_lorafile_sha256'), ['sha256'], unique=False)

    op.create_table(
        'lorasyncstate',
        sa.Column('server_id', sa.Integer(), nullable=False),
        sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('node_installed', sa.Boolean(), nullable=True),
        sa.Column('node_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('lora_count', sa.Integer(), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('server_id'),
    )


def downgrade() -> None:
    op.drop_table('lorasyncstate')
    with op.batch_alter_table('lorafile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lorafile_sha256'))
        batch_op.drop_index('ix_lorafile_server_name')
        batch_op.drop_index(batch_op.f('ix_lorafile_server_id'))

    op.drop_table('lorafile')
    with op.batch_alter_table('civitaiversion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_civitaiversion_model_id'))

    op.drop_table('civitaiversion')
