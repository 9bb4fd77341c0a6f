"""The ops CLI on a real SQLite file and real files: reindex, thumbnails, quota report, purge, backup/restore, reset."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from tests.gallery import add_image, image_index
from vcc_ui import cli
from vcc_ui.db import make_engine, migrate, session
from vcc_ui.models import Image
from vcc_ui.settings import Settings

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
STORAGE_SETTINGS = ('storage_url', 's3_endpoint_url', 's3_region', 's3_access_key_id', 's3_secret_access_key')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def seed(
    settings: Settings,
    *specs: tuple[str, datetime],
    trash_days_ago: dict[int, float] | None = None,
    tags: dict[int, list[str]] | None = None,
) -> list[Image]:
    """Save and index one image per (owner, created) spec; optionally trash some (days ago) and tag some."""
    engine = make_engine(settings.db_url)
    migrate(engine)
    where = {name: getattr(settings, name) for name in STORAGE_SETTINGS}

    async def run() -> list[Image]:
        async with image_index(engine, Path(settings.output_dir).parent, **where) as index:
            rows = [
                await add_image(index, owner, created=created, prompt=f'prompt {i}')
                for i, (owner, created) in enumerate(specs)
            ]
            for i, names in (tags or {}).items():
                await index.set_tags(rows[i].owner, rows[i].id, names)
            for i, days in (trash_days_ago or {}).items():
                await index.delete(rows[i].owner, rows[i].id)
                when = datetime.now(UTC) - timedelta(days=days)
                await index.writer.write(lambda db, r=rows[i], w=when: setattr(db.get(Image, r.id), 'trashed_at', w))
                sidecar = index.storage.read_sidecar(rows[i].rel_path)
                index.storage.write_sidecar(rows[i].rel_path, {**sidecar, 'trashed_at': when.isoformat()})
            return rows

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()


def rows_of(settings: Settings) -> dict[str, Image]:
    engine = make_engine(settings.db_url)
    try:
        with session(engine) as db:
            return {r.id: r for r in db.exec(select(Image)).all()}
    finally:
        engine.dispose()


def run(settings: Settings, *argv: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = cli.main(list(argv), settings=settings)
    return code, capsys.readouterr().out


def path_of(settings: Settings, rel: str) -> Path:
    return Path(settings.output_dir) / rel


def test_reindex_reports_consistent_index(settings: Settings, capsys) -> None:
    seed(settings, (USER_A, DAY1), (USER_B, DAY1))
    code, out = run(settings, 'reindex', capsys=capsys)
    assert code == 0 and 'all consistent' in out


def test_reindex_restores_a_deleted_row_from_its_sidecar(settings: Settings, capsys) -> None:
    row = seed(settings, (USER_A, DAY1), tags={0: ['kept']})[0]
    engine = make_engine(settings.db_url)
    with session(engine) as db:
        db.delete(db.get(Image, row.id))
        db.commit()
    engine.dispose()
    code, out = run(settings, 'reindex', capsys=capsys)
    assert code == 1 and 'files without rows: 1' in out and row.rel_path in out
    assert row.id not in rows_of(settings)
    assert run(settings, 'reindex', '--fix', capsys=capsys)[0] == 0
    back = rows_of(settings)[row.id]
    assert (back.owner, back.prompt, back.tags, back.sha256, back.created_at) == (
        USER_A,
        'prompt 0',
        ['kept'],
        row.sha256,
        row.created_at,
    )
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_reindex_drops_rows_whose_file_was_deleted(settings: Settings, capsys) -> None:
    gone, kept = seed(settings, (USER_A, DAY1), (USER_A, DAY1))
    path_of(settings, gone.rel_path).unlink()
    code, out = run(settings, 'reindex', capsys=capsys)
    assert code == 1 and 'rows without files: 1' in out and gone.id in out
    run(settings, 'reindex', '--fix', capsys=capsys)
    assert set(rows_of(settings)) == {kept.id}
    assert not path_of(settings, gone.thumb_path).exists()
    assert not path_of(settings, gone.rel_path.replace('.png', '.json')).exists()
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_reindex_rewrites_a_corrupt_sidecar_from_the_row(settings: Settings, capsys) -> None:
    row = seed(settings, (USER_A, DAY1), tags={0: ['blue']})[0]
    sidecar = path_of(settings, row.rel_path.replace('.png', '.json'))
    sidecar.write_text('{"id": "half a sidec', encoding='utf-8')
    code, out = run(settings, 'reindex', capsys=capsys)
    assert code == 1 and 'corrupt sidecars: 1' in out
    run(settings, 'reindex', '--fix', capsys=capsys)
    meta = json.loads(sidecar.read_text(encoding='utf-8'))
    assert meta['id'] == row.id and meta['tags'] == ['blue'] and meta['sha256'] == row.sha256
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_reindex_finishes_an_interrupted_delete_and_adopts_bare_files(settings: Settings, capsys) -> None:
    row, bare = seed(settings, (USER_A, DAY1), (USER_B, DAY1))
    sidecar = path_of(settings, row.rel_path.replace('.png', '.json'))
    meta = json.loads(sidecar.read_text(encoding='utf-8'))
    sidecar.write_text(json.dumps({**meta, 'status': 'trash', 'trashed_at': DAY1.isoformat()}), encoding='utf-8')
    engine = make_engine(settings.db_url)
    with session(engine) as db:  # a file with neither row nor sidecar nor thumbnail
        db.delete(db.get(Image, bare.id))
        db.commit()
    engine.dispose()
    path_of(settings, bare.rel_path.replace('.png', '.json')).unlink()
    path_of(settings, bare.thumb_path).unlink()
    (path_of(settings, row.rel_path).parent / '.x.png.123.tmp').write_bytes(b'partial')
    code, out = run(settings, 'reindex', capsys=capsys)
    assert code == 1 and 'mismatched rows: 1' in out and 'missing sidecars: 1' in out and 'temp files: 1' in out
    run(settings, 'reindex', '--fix', capsys=capsys)
    rows = rows_of(settings)
    assert rows[row.id].status == 'trash' and rows[row.id].trashed_at == DAY1
    adopted = rows[bare.id]
    assert (adopted.owner, adopted.kind, adopted.sha256, adopted.created_at.date()) == (
        USER_B,
        'generated',
        bare.sha256,
        DAY1.date(),
    )
    assert path_of(settings, adopted.thumb_path).is_file()
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_thumbnails_regenerates_missing_ones(settings: Settings, capsys) -> None:
    row, other = seed(settings, (USER_A, DAY1), (USER_A, DAY1))
    path_of(settings, row.thumb_path).unlink()
    code, out = run(settings, 'thumbnails', capsys=capsys)
    assert code == 0 and 'thumbnails made: 1' in out and path_of(settings, row.thumb_path).is_file()
    assert 'thumbnails made: 2' in run(settings, 'thumbnails', '--all', capsys=capsys)[1]
    assert other.id in rows_of(settings)


def test_quota_report_lists_usage_per_user(settings: Settings, capsys) -> None:
    seed(settings, (USER_A, DAY1), (USER_A, DAY1), (USER_B, DAY1), trash_days_ago={1: 1})
    settings.quota_max_images = 1
    report = {r['owner']: r for r in json.loads(run(settings, 'quota-report', '--json', capsys=capsys)[1])}
    assert (report[USER_A]['images'], report[USER_A]['trash_images'], report[USER_A]['over']) == (1, 1, False)
    assert report[USER_B]['images'] == 1 and report[USER_B]['bytes'] > 0
    assert USER_A in run(settings, 'quota-report', capsys=capsys)[1]


def test_purge_trash_by_date(settings: Settings, capsys) -> None:
    old, recent, active = seed(settings, (USER_A, DAY1), (USER_A, DAY1), (USER_B, DAY1), trash_days_ago={0: 40, 1: 5})
    code, out = run(settings, 'purge-trash', capsys=capsys)
    assert code == 0 and 'purged 1 image(s)' in out
    assert set(rows_of(settings)) == {recent.id, active.id}
    assert not path_of(settings, old.rel_path).exists() and not path_of(settings, old.thumb_path).exists()
    assert 'purged 1 image(s)' in run(settings, 'purge-trash', '--older-than-days', '2', capsys=capsys)[1]
    assert set(rows_of(settings)) == {active.id}
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_backup_reset_restore_round_trip(settings: Settings, tmp_path: Path, capsys) -> None:
    inside = seed(
        settings,
        (USER_A, DAY1),
        (USER_B, DAY1 + timedelta(days=1)),
        (USER_A, DAY1 + timedelta(days=9)),
        tags={0: ['kept']},
        trash_days_ago={1: 2},
    )
    before = rows_of(settings)
    archive = tmp_path / 'backup.tar'
    code, out = run(settings, 'backup', '--from', '2025-03-01', '--to', '2025-03-02', str(archive), capsys=capsys)
    assert code == 0 and '2 image(s)' in out
    assert run(settings, 'reset', '--yes', capsys=capsys)[0] == 0
    assert rows_of(settings) == {} and not (Path(settings.output_dir) / 'users').exists()
    code, out = run(settings, 'restore', str(archive), capsys=capsys)
    assert code == 0 and 'restored 2 image row(s) and 6 file(s)' in out
    after = rows_of(settings)
    assert set(after) == {inside[0].id, inside[1].id}
    for image_id, row in after.items():
        assert row.model_dump() == before[image_id].model_dump()
        assert hashlib.sha256(path_of(settings, row.rel_path).read_bytes()).hexdigest() == before[image_id].sha256
        assert path_of(settings, row.thumb_path).is_file()
    assert after[inside[1].id].status == 'trash' and after[inside[0].id].tags == ['kept']
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_restore_refuses_a_damaged_archive_and_changes_nothing(settings: Settings, tmp_path: Path, capsys) -> None:
    row = seed(settings, (USER_A, DAY1))[0]
    archive = tmp_path / 'backup.tar'
    run(settings, 'backup', '--from', '2025-03-01', '--to', '2025-03-01', str(archive), capsys=capsys)
    damaged = tmp_path / 'damaged.tar'
    with tarfile.open(archive) as src, tarfile.open(damaged, 'w') as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == f'files/{row.rel_path}':
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(member, io.BytesIO(data))
    run(settings, 'reset', '--yes', capsys=capsys)
    code, out = run(settings, 'restore', str(damaged), capsys=capsys)
    assert code == 1 and 'sha256 mismatch' in out and 'nothing changed' in out
    assert rows_of(settings) == {} and not (Path(settings.output_dir) / 'users').exists()
    assert run(settings, 'restore', str(tmp_path / 'missing.tar'), capsys=capsys)[0] == 1


def test_reset_asks_for_confirmation(settings: Settings, capsys) -> None:
    row = seed(settings, (USER_A, DAY1))[0]
    args = cli.build_parser().parse_args(['reset'])
    assert cli.cmd_reset(settings, args, ask=lambda prompt: 'no') == 1
    assert row.id in rows_of(settings)
    assert cli.cmd_reset(settings, args, ask=lambda prompt: 'reset') == 0
    assert rows_of(settings) == {}


def test_module_runs_from_the_command_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        'OUTPUT_DIR': str(tmp_path / 'out'),
        'JOB_DB_PATH': str(tmp_path / 'db' / 'app.db'),
        'LOG_TO_FILE': 'false',
        'DATABASE_URL': '',
    }
    done = subprocess.run(
        [sys.executable, '-m', 'vcc_ui.cli', 'reindex'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0 and 'all consistent' in done.stdout, done.stderr
    bad = subprocess.run(
        [sys.executable, '-m', 'vcc_ui.cli', 'backup', '--from', 'soon', '--to', '2025-01-01', 'x'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert bad.returncode == 2 and 'not a date' in bad.stderr


def test_reindex_finds_generated_images_consistent(tmp_path: Path, capsys) -> None:
    async def generate() -> Settings:
        async with simulator(tmp_path) as sim:
            made = make_settings(tmp_path, sim.url)
            async with services(made) as app:
                view = await app.jobs.submit(USER_A, 'test_pattern', {'prompt': 'x', 'seed': 1, 'batch_size': 2})
                await wait_for(lambda: view.finished)
                assert view.status == 'completed' and len(view.image_ids) == 2, view.error
            return made

    made = asyncio.run(generate())
    code, out = run(made, 'reindex', capsys=capsys)
    assert code == 0 and 'all consistent' in out, out
