"""Share links without metadata; prompt full-text search

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

# Per owner, kind and status image counts kept by triggers, so a gallery's total needs no COUNT over its rows.
COUNTS = """
CREATE TABLE imagecount (
    owner VARCHAR(64) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, kind, status)
)
"""
FILL_COUNTS = (
    'INSERT INTO imagecount (owner, kind, status, n) '
    'SELECT owner, kind, status, count(*) FROM image GROUP BY owner, kind, status'
)
ADD_ONE = """INSERT INTO imagecount (owner, kind, status, n) VALUES (NEW.owner, NEW.kind, NEW.status, 1)
    ON CONFLICT (owner, kind, status) DO UPDATE SET n = imagecount.n + 1"""
TAKE_ONE = 'UPDATE imagecount SET n = n - 1 WHERE owner = OLD.owner AND kind = OLD.kind AND status = OLD.status'

SQLITE_UP = [
    COUNTS,
    FILL_COUNTS,
    f'CREATE TRIGGER imagecount_ai AFTER INSERT ON image BEGIN {ADD_ONE}; END',
    f'CREATE TRIGGER imagecount_ad AFTER DELETE ON image BEGIN {TAKE_ONE}; END',
    f'CREATE TRIGGER imagecount_au AFTER UPDATE OF owner, kind, status ON image BEGIN {TAKE_ONE}; {ADD_ONE}; END',
    # the prompt's words, an external-content FTS5 index over image.prompt kept in step by triggers
    "CREATE VIRTUAL TABLE image_fts USING fts5(prompt, content='image', content_rowid='rowid', tokenize='unicode61')",
    "INSERT INTO image_fts (image_fts) VALUES ('rebuild')",
    'CREATE TRIGGER image_fts_ai AFTER INSERT ON image BEGIN '
    'INSERT INTO image_fts (rowid, prompt) VALUES (NEW.rowid, NEW.prompt); END',
    'CREATE TRIGGER image_fts_ad AFTER DELETE ON image BEGIN '
    "INSERT INTO image_fts (image_fts, rowid, prompt) VALUES ('delete', OLD.rowid, OLD.prompt); END",
    'CREATE TRIGGER image_fts_au AFTER UPDATE OF prompt ON image BEGIN '
    "INSERT INTO image_fts (image_fts, rowid, prompt) VALUES ('delete', OLD.rowid, OLD.prompt); "
    'INSERT INTO image_fts (rowid, prompt) VALUES (NEW.rowid, NEW.prompt); END',
]
SQLITE_DOWN = [
    'DROP TRIGGER IF EXISTS image_fts_au',
    'DROP TRIGGER IF EXISTS image_fts_ad',
    'DROP TRIGGER IF EXISTS image_fts_ai',
    'DROP TABLE IF EXISTS image_fts',
    'DROP TRIGGER IF EXISTS imagecount_au',
    'DROP TRIGGER IF EXISTS imagecount_ad',
    'DROP TRIGGER IF EXISTS imagecount_ai',
    'DROP TABLE IF EXISTS imagecount',
]
POSTGRES_UP = [
    COUNTS,
    FILL_COUNTS,
    f"""CREATE FUNCTION imagecount_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {TAKE_ONE};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {ADD_ONE};
    END IF;
    RETURN NULL;
END $$""",
    'CREATE TRIGGER imagecount_ai AFTER INSERT OR DELETE ON image FOR EACH ROW EXECUTE FUNCTION imagecount_change()',
    'CREATE TRIGGER imagecount_au AFTER UPDATE OF owner, kind, status ON image '
    'FOR EACH ROW EXECUTE FUNCTION imagecount_change()',
    # substring search of prompts (ILIKE) served by a trigram index
    'CREATE EXTENSION IF NOT EXISTS pg_trgm',
    'CREATE INDEX ix_image_prompt_trgm ON image USING gin (prompt gin_trgm_ops)',
]
POSTGRES_DOWN = [
    'DROP INDEX IF EXISTS ix_image_prompt_trgm',
    'DROP TRIGGER IF EXISTS imagecount_au ON image',
    'DROP TRIGGER IF EXISTS imagecount_ai ON image',
    'DROP FUNCTION IF EXISTS imagecount_change()',
    'DROP TABLE IF EXISTS imagecount',
]

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strip_metadata', sa.Boolean(), nullable=False, server_default=sa.true()))
    for statement in POSTGRES_UP if op.get_bind().dialect.name == 'postgresql' else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in POSTGRES_DOWN if op.get_bind().dialect.name == 'postgresql' else SQLITE_DOWN:
        op.execute(statement)
    with op.batch_alter_table('sharelink', schema=None) as batch_op:
        batch_op.drop_column('strip_metadata')
