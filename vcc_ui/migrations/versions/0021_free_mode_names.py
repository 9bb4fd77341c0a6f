"""Free mode names: job.mode and image.mode take up to 32 characters

Revision ID: 0021
Revises: 0017
Create Date: 2026-11-30 10:30:00.000000

A workflow's mode is now any name matching ^[a-z0-9][a-z0-9_-]{0,31}$ (e.g. "upscale"). SQLite does not enforce a
VARCHAR length, and rebuilding `image` there would drop the prompt-search triggers (migration 0016), so only
PostgreSQL widens the columns.
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0017'
branch_labels = None
depends_on = None

COLUMNS = (('job', False), ('image', True))


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, nullable in COLUMNS:
            op.alter_column(table, 'mode', type_=sa.String(32), existing_type=sa.String(16), existing_nullable=nullable)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, nullable in COLUMNS:
            op.alter_column(table, 'mode', type_=sa.String(16), existing_type=sa.String(32), existing_nullable=nullable)
