"""The schema on SQLite and PostgreSQL: migrations, pragmas, round trips."""

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text
from sqlmodel import select

from vcc_ui.db import make_engine, migrate, session
from vcc_ui.models import ComfyServer, Image, Job, User


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
