"""The ops CLI on S3-backed storage (a real SeaweedFS): reindex, thumbnails, quota, purge, backup/restore, migrate."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fixtures import USER_A, USER_B, make_settings
from tests.postgres import free_port
from tests.s3 import S3Server
from tests.test_cli import DAY1, rows_of, run, seed
from vcc_ui.services.storage import Storage, open_storage
from vcc_ui.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, s3_server: S3Server) -> Settings:
    return make_settings(tmp_path, **s3_server.settings(s3_server.new_bucket()))


def objects(s3_server: S3Server, settings: Settings) -> dict[str, str]:
    """Every object under the app's prefix: key without the prefix -> sha256 of its content."""
    bucket, prefix = settings.storage_url.removeprefix('s3://').split('/', 1)
    client = s3_server.client()
    found = {}
    for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix + '/').get('Contents', []):
        body = client.get_object(Bucket=bucket, Key=item['Key'])['Body'].read()
        found[item['Key'].removeprefix(prefix + '/')] = hashlib.sha256(body).hexdigest()
    return found


def test_backup_reset_restore_round_trip_on_s3(
    settings: Settings, s3_server: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inside = seed(settings, (USER_A, DAY1), (USER_B, DAY1 + timedelta(days=9)), tags={0: ['kept']})
    before, files = rows_of(settings), objects(s3_server, settings)
    assert len(files) == 6 and not Path(settings.output_dir, 'users').exists()
    archive = tmp_path / 'backup.tar'
    code, out = run(settings, 'backup', '--from', '2025-03-01', '--to', '2025-03-01', str(archive), capsys=capsys)
    assert code == 0 and '1 image(s), 3 file(s)' in out
    code, out = run(settings, 'reset', '--yes', capsys=capsys)
    assert code == 0 and 'outputs removed' in out
    assert rows_of(settings) == {} and objects(s3_server, settings) == {}
    code, out = run(settings, 'restore', str(archive), capsys=capsys)
    assert code == 0 and 'restored 1 image row(s) and 3 file(s)' in out
    assert rows_of(settings)[inside[0].id].model_dump() == before[inside[0].id].model_dump()
    restored = objects(s3_server, settings)
    assert restored == {k: v for k, v in files.items() if k.startswith(inside[0].rel_path.rsplit('/', 1)[0])}
    assert restored[inside[0].rel_path] == inside[0].sha256
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_reindex_thumbnails_quota_and_purge_on_s3(settings: Settings, capsys: pytest.CaptureFixture) -> None:
    kept, old = seed(settings, (USER_A, DAY1), (USER_B, DAY1), trash_days_ago={1: 40})
    storage: Storage = open_storage(settings)
    storage.remove(kept.rel_path.replace('.png', '.json'))
    storage.remove(kept.thumb_path)
    code, out = run(settings, 'reindex', capsys=capsys)
    assert code == 1 and 'missing sidecars: 1' in out and 'missing thumbnails: 1' in out
    assert run(settings, 'reindex', '--fix', capsys=capsys)[0] == 0
    assert storage.read_sidecar(kept.rel_path)['sha256'] == kept.sha256 and storage.exists(kept.thumb_path)
    storage.remove(kept.thumb_path)
    code, out = run(settings, 'thumbnails', capsys=capsys)
    assert code == 0 and 'thumbnails made: 1, failed: 0' in out and storage.exists(kept.thumb_path)
    code, out = run(settings, 'quota-report', '--json', capsys=capsys)
    assert code == 0 and f'"{USER_A}"' in out
    code, out = run(settings, 'purge-trash', capsys=capsys)
    assert code == 0 and 'purged 1 image(s)' in out
    assert not storage.exists(old.rel_path) and not storage.exists(old.thumb_path) and storage.exists(kept.rel_path)
    assert set(rows_of(settings)) == {kept.id}
    assert run(settings, 'reindex', capsys=capsys)[0] == 0


def test_migrate_storage_copies_verifies_resumes_and_finds_a_damaged_object(
    tmp_path: Path, s3_server: S3Server, capsys: pytest.CaptureFixture
) -> None:
    local = make_settings(tmp_path)
    rows = seed(local, (USER_A, DAY1), (USER_B, DAY1), (USER_A, DAY1 + timedelta(days=1)))
    leftover = Path(local.output_dir) / rows[0].rel_path.rsplit('/', 1)[0] / '.x.png.abc.tmp'
    leftover.write_bytes(b'partial')  # a killed local write is not migrated
    bucket = f'vcc-migrate-{free_port()}'
    remote = local.model_copy(update=s3_server.settings(bucket))
    code, out = run(remote, 'migrate-storage', capsys=capsys)
    assert code == 0 and f'created the bucket {bucket}' in out and 'copied 9 file(s)' in out and '0 failed' in out
    local_files = {
        p.relative_to(local.output_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in Path(local.output_dir, 'users').rglob('*')
        if p.is_file() and not p.name.endswith('.tmp')
    }
    assert objects(s3_server, remote) == local_files
    code, out = run(remote, 'migrate-storage', capsys=capsys)
    assert code == 0 and 'copied 0 file(s)' in out and '9 already there with the same sha256' in out

    storage = open_storage(remote)
    storage.write_file(rows[1].rel_path, b'\x89PNG damaged in transit')
    storage.remove(rows[2].thumb_path)  # an interrupted run: one object never arrived
    code, out = run(remote, 'migrate-storage', capsys=capsys)
    assert code == 0 and 'copied 2 file(s)' in out and '1 damaged in the target and copied again' in out
    assert f'replaced: {rows[1].rel_path}' in out
    assert objects(s3_server, remote) == local_files
    assert rows_of(remote) == rows_of(local)  # same keys: the rows need no change
    assert run(remote, 'reindex', capsys=capsys)[0] == 0


def test_migrate_storage_refuses_without_s3_and_stops_when_s3_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    local = make_settings(tmp_path)
    code, out = run(local, 'migrate-storage', capsys=capsys)
    assert code == 2 and 'STORAGE_URL must be s3://' in out
    seed(local, (USER_A, DAY1))
    endpoint = f'http://127.0.0.1:{free_port()}'  # nobody listens there; keys given, so boto3 asks no metadata service
    down = local.model_copy(
        update={
            'storage_url': 's3://vcc-down/app',
            's3_endpoint_url': endpoint,
            's3_access_key_id': 'k',
            's3_secret_access_key': 's',
        }
    )
    code, out = run(down, 'migrate-storage', capsys=capsys)
    assert code == 1 and 'S3 is unavailable' in out and 'run the command again' in out
