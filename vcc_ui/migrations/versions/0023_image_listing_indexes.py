"""Indexes for everyone's images newest first and for image totals

Revision ID: 0023
Revises: 0018
Create Date: 2026-11-30 16:10:00.000000

The admin's all-images page lists every user's active (or trashed) images newest first: with only the status index
the database sorted all of them for each page (15 ms at 10,000 images). `(status, created_at)` walks them in order.
The storage totals (the gallery's usage line, the admin's user list, the quota in a submit) sum each owner's bytes per
status: `(owner, status, bytes)` answers that from the index alone, without reading every image row.
"""

from alembic import op

revision = '0023'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_image_status_created', 'image', ['status', 'created_at'])
    op.create_index('ix_image_owner_status_bytes', 'image', ['owner', 'status', 'bytes'])


def downgrade() -> None:
    op.drop_index('ix_image_owner_status_bytes', table_name='image')
    op.drop_index('ix_image_status_created', table_name='image')
