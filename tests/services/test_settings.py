"""Settings: the runbook's names and defaults, server lists, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vcc_ui.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_runbook_defaults() -> None:
    s = Settings(_env_file=None)
    assert (s.max_per_user_queue, s.max_per_user_concurrent, s.job_timeout_seconds) == (3, 1, 180)
    assert (s.comfy_http_connect_timeout, s.comfy_http_read_timeout) == (3, 10)
    assert (s.comfy_ws_connect_timeout, s.comfy_ws_idle_timeout) == (5, 120)
    assert s.healthz_disk_min_free_mb == 1024 and s.controls_max_bytes == 10_485_760
    assert (s.log_level, s.log_format, s.log_to_file, str(s.log_file_path)) == ('INFO', 'json', True, 'logs/app.log')
    assert (s.log_max_bytes, s.log_backup_count) == (1_048_576, 3)
    assert (s.progress_log_step, s.progress_log_min_ms, s.progress_log_level) == (20, 1000, 'info')
    assert str(s.job_db_path) == 'db/app_data.db' and s.db_url == 'sqlite:///db/app_data.db'
    assert (s.host, s.port, s.server_max_inflight) == ('127.0.0.1', 8000, 1)
    assert s.server_urls == []


def test_server_lists_merge_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('COMFYUI_SERVERS', 'http://gpu1:8188/, gpu2:8188')
    monkeypatch.setenv('COMFYUI_SERVER', '127.0.0.1:8188')
    assert Settings(_env_file=None).server_urls == ['http://gpu1:8188', 'http://gpu2:8188', 'http://127.0.0.1:8188']


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / '.env').write_text('MAX_PER_USER_QUEUE=5\nLOG_LEVEL=debug\n')
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.max_per_user_queue == 5 and s.log_level == 'DEBUG'


@pytest.mark.parametrize(
    ('name', 'value'),
    [
        ('MAX_PER_USER_QUEUE', 'abc'),
        ('PORT', '70000'),
        ('JOB_TIMEOUT_SECONDS', '-1'),
        ('LOG_FORMAT', 'xml'),
        ('COMFYUI_SERVERS', 'ws://x:1'),
    ],
)
def test_invalid_value_stops_with_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        load_settings(_env_file=None)
    message = str(stopped.value.code)
    assert message.startswith(f'Invalid setting {name}:') and '\n' not in message


def test_start_up_prints_only_that_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / 'main.py')],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={'PATH': '/usr/bin:/bin', 'MAX_PER_USER_QUEUE': 'lots', 'PYTHONPATH': str(ROOT)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        'Invalid setting MAX_PER_USER_QUEUE: Input should be a valid integer, unable to parse string as an integer '
        "(got 'lots')"
    ]


def test_redis_without_secret_key_stops_naming_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('REDIS_URL', 'redis://127.0.0.1:6379/0')
    monkeypatch.delenv('SECRET_KEY', raising=False)
    with pytest.raises(SystemExit) as stopped:
        load_settings(_env_file=None)
    message = str(stopped.value.code)
    assert message.startswith('Invalid setting SECRET_KEY:') and 'REDIS_URL' in message and '\n' not in message
    monkeypatch.setenv('SECRET_KEY', 'shared-by-every-instance')
    assert load_settings(_env_file=None).secret_key == 'shared-by-every-instance'
