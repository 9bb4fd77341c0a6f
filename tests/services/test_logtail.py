"""LogTail: the newest lines of the JSON log and its rotated files, filtered by job id and level."""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path

from vcc_ui.logs import JsonFormatter
from vcc_ui.services import logtail
from vcc_ui.services.logtail import LogTail, parse

JOB = 'f' * 32


def write_lines(path: Path, count: int, *, start: int = 0, level: str = 'INFO', job_id: str | None = None) -> None:
    """Append `count` JSON lines numbered from `start`."""
    with path.open('a', encoding='utf-8') as out:
        for n in range(start, start + count):
            entry = {'time': f'2025-01-01T00:00:{n % 60:02d}', 'level': level, 'logger': 'test', 'event': f'line {n}'}
            if job_id:
                entry['job_id'] = job_id
            out.write(json.dumps(entry) + '\n')


async def test_tail_returns_the_newest_lines_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / 'app.log'
    write_lines(path, 5000)
    entries = await LogTail(path).tail(3)
    assert [e.event for e in entries] == ['line 4997', 'line 4998', 'line 4999']
    assert entries[0].level == 'INFO' and entries[0].logger == 'test'


async def test_tail_reads_only_the_end_of_a_big_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / 'app.log'
    write_lines(path, 50_000)  # several MB
    reads: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> object:
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read
        handle.read = lambda size=-1: reads.append(size) or real_read(size)  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(Path, 'open', counting_open)
    entries = await LogTail(path).tail(10)
    assert len(entries) == 10
    assert sum(reads) <= logtail.BLOCK  # one block from the end, not the whole file


async def test_filters_by_job_id_and_minimum_level_across_rotated_files(tmp_path: Path) -> None:
    path = tmp_path / 'app.log'
    write_lines(path.with_name('app.log.2'), 3, start=0, job_id=JOB)
    write_lines(path.with_name('app.log.1'), 3, start=100, level='WARNING')
    write_lines(path.with_name('app.log.1'), 2, start=200, level='ERROR', job_id=JOB)
    write_lines(path, 4, start=300)
    write_lines(path, 1, start=400, job_id=JOB)
    tail = LogTail(path, backups=2)
    assert [e.event for e in await tail.tail(10, job_id=JOB)] == [
        'line 0',
        'line 1',
        'line 2',
        'line 200',
        'line 201',
        'line 400',
    ]
    assert all(e.job_id == JOB for e in await tail.tail(10, job_id=JOB))
    assert [e.event for e in await tail.tail(10, level='warning')] == [
        'line 100',
        'line 101',
        'line 102',
        'line 200',
        'line 201',
    ]
    assert [e.event for e in await tail.tail(10, job_id=JOB, level='ERROR')] == ['line 200', 'line 201']
    assert [e.event for e in await tail.tail(2, job_id=JOB)] == ['line 201', 'line 400']
    assert await LogTail(path, backups=0).tail(10, job_id=JOB) == (await tail.tail(1, job_id=JOB))


async def test_reads_what_the_apps_rotating_json_handler_writes(tmp_path: Path) -> None:
    path = tmp_path / 'logs' / 'app.log'
    path.parent.mkdir()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2000, backupCount=3, encoding='utf-8')
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger('vcc_ui.test_logtail')
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for n in range(40):
            logger.warning('job_error', extra={'job_id': f'{n:032x}', 'error': 'ComfyUI 서버가 응답하지 않음'})
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert path.with_name('app.log.1').exists()  # it rotated
    tail = LogTail(path, backups=3)
    wanted = f'{30:032x}'
    [entry] = await tail.tail(5, job_id=wanted)
    assert entry.event == 'job_error' and entry.level == 'WARNING' and entry.job_id == wanted
    assert entry.fields['error'] == 'ComfyUI 서버가 응답하지 않음'
    assert [e.job_id for e in await tail.tail(2)] == [f'{38:032x}', f'{39:032x}']


def test_non_json_lines_are_kept_as_text() -> None:
    text = parse('2025-01-01 10:00:00,123 ERROR vcc_ui.jobs: job 42 failed')
    assert (text.level, text.logger, text.event) == ('ERROR', 'vcc_ui.jobs', 'job 42 failed')
    other = parse('Traceback (most recent call last):')
    assert other.level == '' and other.event == 'Traceback (most recent call last):'


async def test_a_missing_log_file_gives_no_lines(tmp_path: Path) -> None:
    assert await LogTail(tmp_path / 'nothing.log', backups=3).tail(10) == []


def test_the_app_log_keeps_our_events_but_not_every_comfyui_request(tmp_path: Path) -> None:
    from tests.fixtures import make_settings
    from vcc_ui.logs import configure_logging

    log_file = tmp_path / 'logs' / 'app.log'
    root, httpx_logger = logging.getLogger(), logging.getLogger('httpx')
    before = list(root.handlers), root.level, httpx_logger.level
    configure_logging(make_settings(tmp_path, log_to_file=True, log_file_path=str(log_file), log_format='json'))
    try:
        logging.getLogger('httpx').info('HTTP Request: GET http://127.0.0.1:8188/system_stats "HTTP/1.1 200 OK"')
        logging.getLogger('vcc_ui.services.jobs').info('job_enqueue')
        for handler in root.handlers:
            handler.flush()
        events = [json.loads(line)['event'] for line in log_file.read_text().splitlines()]
    finally:
        for handler in list(root.handlers):
            if handler not in before[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(before[1])
        httpx_logger.setLevel(before[2])
    assert events == ['job_enqueue']
