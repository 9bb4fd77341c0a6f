"""Prompt search index scoped by owner

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 09:00:00.000000

The SQLite FTS5 index of prompts gains an `owner` column (the owner id as one hex token), so a search matches
`owner:<hex> AND prompt:"<words>"*` and walks only that owner's rows. The index is contentless (it keeps only the
words): rows without a prompt are left out and the triggers hand it the words to drop. PostgreSQL keeps its trigram
index (migration 0007); nothing changes there.
"""

from alembic import op

INDEX = "CREATE VIRTUAL TABLE image_fts USING fts5(prompt, owner, content='', tokenize='unicode61')"
FILL = (
    'INSERT INTO image_fts (rowid, prompt, owner) SELECT rowid, prompt, hex(owner) FROM image WHERE prompt IS NOT NULL'
)
ADD = (
    'INSERT INTO image_fts (rowid, prompt, owner) SELECT NEW.rowid, NEW.prompt, hex(NEW.owner) '
    'WHERE NEW.prompt IS NOT NULL'
)
DROP = (
    "INSERT INTO image_fts (image_fts, rowid, prompt, owner) SELECT 'delete', OLD.rowid, OLD.prompt, hex(OLD.owner) "
    'WHERE OLD.prompt IS NOT NULL'
)
TRIGGERS = ('image_fts_au', 'image_fts_ad', 'image_fts_ai')

UP = [
    *(f'DROP TRIGGER IF EXISTS {name}' for name in TRIGGERS),
    'DROP TABLE IF EXISTS image_fts',
    INDEX,
    FILL,
    f'CREATE TRIGGER image_fts_ai AFTER INSERT ON image BEGIN {ADD}; END',
    f'CREATE TRIGGER image_fts_ad AFTER DELETE ON image BEGIN {DROP}; END',
    f'CREATE TRIGGER image_fts_au AFTER UPDATE OF prompt, owner ON image BEGIN {DROP}; {ADD}; END',
]
# back to migration 0007's index: an external-content index over image.prompt alone
DOWN = [
    *(f'DROP TRIGGER IF EXISTS {name}' for name in TRIGGERS),
    'DROP TABLE IF EXISTS image_fts',
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

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for statement in UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for statement in DOWN:
            op.execute(statement)
