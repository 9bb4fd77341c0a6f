"""The schema on SQLite and PostgreSQL: migrations, pragmas, round trips."""

from datetime import UTC, datetime

from sqlalchemy import Engine, event, inspect, text
from sqlmodel import select

from vcc_ui.db import make_engine, migrate, session
from vcc_ui.models import ComfyServer, Image, Job, User
from vcc_ui.services.queries import owned_rows


def test_migrations_create_every_table_and_are_idempotent(engine: Engine) -> None:
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {'user', 'comfyserver', 'job', 'image', 'alembic_version'} <= tables


def test_rows_round_trip_with_json_and_aware_times(engine: Engine) -> None:
    queued = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with session(engine) as db:
        db.add(User(id='anon-0123456789abcdef'))
        db.add(ComfyServer(name='gpu-1', base_url='http://127.0.0.1:8188', client_id='vcc-abc'))
        db.add(
            Job(
                id='a' * 32,
                owner='anon-0123456789abcdef',
                workflow_id='sd15_txt2img',
                mode='txt2img',
                params={'prompt': '고양이', 'seed': 2**53 - 1},
                queued_at=queued,
                image_ids=['b' * 32],
            )
        )
        db.add(
            Image(
                id='b' * 32,
                owner='anon-0123456789abcdef',
                rel_path='users/x/a.png',
                mime='image/png',
                sha256='0' * 64,
                seed=2**53 - 1,
                tags=['cat'],
                bytes=5_000_000_000,
            )
        )
        db.commit()
    with session(engine) as db:
        job = db.exec(select(Job)).one()
        image = db.exec(select(Image)).one()
    assert job.params == {'prompt': '고양이', 'seed': 2**53 - 1}
    assert job.queued_at == queued and job.queued_at.tzinfo is not None
    assert image.seed == 2**53 - 1 and image.tags == ['cat'] and image.bytes == 5_000_000_000


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "sub" / "app.db"}')
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text('PRAGMA journal_mode')).scalar() == 'wal'
        assert conn.execute(text('PRAGMA busy_timeout')).scalar() == 5000
    engine.dispose()


def test_everyones_images_newest_first_and_the_totals_read_indexes_not_every_row(engine: Engine) -> None:
    indexes = {index['name']: index['column_names'] for index in inspect(engine).get_indexes('image')}
    assert indexes['ix_image_status_created'] == ['status', 'created_at']
    assert indexes['ix_image_owner_status_bytes'] == ['owner', 'status', 'bytes']
    if engine.dialect.name != 'sqlite':
        return
    listing = "SELECT id FROM image WHERE status = 'active' ORDER BY created_at DESC, id DESC LIMIT 49"
    totals = [
        'SELECT owner, status, count(*), sum(bytes) FROM image GROUP BY owner, status',
        "SELECT status, count(*), sum(bytes) FROM image WHERE owner = 'a' GROUP BY status",
    ]
    with engine.connect() as conn:
        plan = {
            q: ' '.join(row[-1] for row in conn.execute(text(f'EXPLAIN QUERY PLAN {q}'))) for q in [listing, *totals]
        }
    assert 'TEMP B-TREE FOR ORDER BY' not in plan[listing]  # the admin's page walks the index, sorts no whole table
    assert all('COVERING INDEX' in plan[q] for q in totals)  # the storage totals never read an image row


def test_images_by_id_are_read_through_the_primary_key_and_only_the_owners(engine: Engine) -> None:
    with session(engine) as db:
        for n in range(40):
            owner = 'anon-a' if n % 4 else 'anon-b'
            db.add(Image(id=f'{n:032x}', owner=owner, rel_path=f'u/{n}.png', mime='image/png', sha256=f'{n:064x}'))
        db.commit()
    statements: list[tuple[str, object]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        statements.append((statement, parameters))

    wanted = [f'{n:032x}' for n in (8, 9, 10, 1)]  # 8 is anon-b's
    event.listen(engine, 'before_cursor_execute', seen)
    try:
        with session(engine) as db:
            rows = owned_rows(db, 'anon-a', wanted)
    finally:
        event.remove(engine, 'before_cursor_execute', seen)
    assert {row.id for row in rows} == set(wanted[1:])  # anon-b's image is not anon-a's to read
    assert [row.created_at for row in rows] == sorted(row.created_at for row in rows)
    if engine.dialect.name != 'sqlite':
        return
    statement, parameters = next((s, p) for s, p in statements if 'FROM image' in s)
    with engine.connect() as conn:
        plan = ' '.join(row[-1] for row in conn.exec_driver_sql(f'EXPLAIN QUERY PLAN {statement}', parameters))
    assert 'sqlite_autoindex_image_1 (id=?)' in plan  # a few rows by key, not every image of the owner walked
