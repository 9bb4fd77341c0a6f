"""Seed 003 rehearsal checklist, item by item, in Korean, in a real headless Chromium against the real app.

The app runs from its own folder with a `.env` there (item 8 changes it and restarts the app); ComfyUI is the
simulator as a separate process (item 6 stops it). Each item saves screenshots under tests/artifacts/rehearsal_*.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, DESKTOP, PASSWORD, PHONE, ROOT, free_port, stop_app
from tests.images import png_bytes

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

ADMIN_PASSWORD = 'rehearsal-admin-pw'
STEP_DELAY = '0.1'
JOB_TIMEOUT = 12  # seconds: item 5's long job times out, the others finish well within it


@dataclass
class Rehearsal:
    """The running app and simulator and where they keep their files."""

    data: Path
    sim_port: int
    app_port: int
    sim: subprocess.Popen | None = None
    app: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f'http://127.0.0.1:{self.app_port}'

    def write_env(self, **changes: str) -> None:
        """Write the app's .env (its only configuration: nothing comes from the environment)."""
        values = {
            'HOST': '127.0.0.1',
            'PORT': str(self.app_port),
            'BETA_PASSWORD': PASSWORD,
            'ADMIN_USER': 'admin',
            'ADMIN_PASSWORD': ADMIN_PASSWORD,
            'JOB_DB_PATH': str(self.data / 'db' / 'app.db'),
            'OUTPUT_DIR': str(self.data / 'outputs'),
            'LOG_TO_FILE': 'true',
            'LOG_FORMAT': 'json',
            'LOG_FILE_PATH': str(self.data / 'logs' / 'app.log'),
            'SECRET_KEY': 'rehearsal-secret',
            'COMFYUI_SERVERS': f'http://127.0.0.1:{self.sim_port}',
            'JOB_TIMEOUT_SECONDS': str(JOB_TIMEOUT),
            'MAX_PER_USER_QUEUE': '1',
            **changes,
        }
        (self.data / '.env').write_text(''.join(f'{k}={v}\n' for k, v in values.items()), encoding='utf-8')

    def start_sim(self) -> None:
        """Start ComfyUI (the simulator) on its fixed port and wait until it answers."""
        self.sim = _spawn(
            [
                sys.executable,
                '-m',
                'vcc_ui.simulator',
                '--port',
                str(self.sim_port),
                '--root',
                str(self.data / 'sim'),
                '--step-delay',
                STEP_DELAY,
            ],
            ROOT,
            self.data / 'sim.log',
        )
        _wait(lambda: httpx.get(f'http://127.0.0.1:{self.sim_port}/system_stats', timeout=2).status_code == 200)

    def start_app(self) -> None:
        """Start main.py from the data folder (so it reads that .env) and wait until /healthz answers 200."""
        self.app = _spawn([sys.executable, str(ROOT / 'main.py')], self.data, self.data / 'app.out')

        def ready() -> bool:
            with httpx.Client(base_url=self.url, timeout=3) as client:
                client.post('/beta-login', data={'password': PASSWORD})
                return client.get('/healthz').status_code == 200

        _wait(ready, 90)

    def log_events(self) -> list[dict]:
        """Every JSON line of the app's log file."""
        lines = (self.data / 'logs' / 'app.log').read_text(encoding='utf-8').splitlines()
        return [json.loads(line) for line in lines if line.startswith('{')]


def _spawn(command: list[str], cwd: Path, output: Path) -> subprocess.Popen:
    keys = ('PYTEST', 'NICEGUI', 'MAX_PER_USER', 'COMFYUI', 'BETA_', 'ADMIN_', 'LOG_', 'JOB_', 'PORT', 'HOST')
    env = {k: v for k, v in os.environ.items() if not k.startswith(keys)}
    env['PYTHONPATH'] = str(ROOT)
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=output.open('ab'), stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(ready, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError('did not come up in time')


@pytest.fixture
def rehearsal(tmp_path: Path) -> Iterator[Rehearsal]:
    """ComfyUI (simulator) and the app, each its own process; stopped afterwards."""
    setup = Rehearsal(data=tmp_path, sim_port=free_port(), app_port=free_port())
    setup.write_env()
    setup.start_sim()
    setup.start_app()
    yield setup
    for process in (setup.app, setup.sim):
        if process is not None:
            stop_app(process)


def shot(page, item: int, name: str) -> None:
    """Save a full-page screenshot of a checklist item."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f'rehearsal_{item}_{name}.png'), full_page=True)


def step(item: int, title: str) -> None:
    """Name the checklist item being checked (in the test log)."""
    log.warning('rehearsal item %d: %s', item, title)


def beta_login(page) -> None:
    """Open the app in Korean through the beta gate."""
    page.goto('/')
    page.wait_for_url('**/beta-login**')
    page.fill('input[type=password]', PASSWORD)
    page.keyboard.press('Enter')
    page.wait_for_selector('[data-role=generate]')


def admin_login(page, path: str = '/admin') -> None:
    """Log the admin in (the page is already past the beta gate)."""
    page.goto(f'/admin/login?next={path}')
    page.get_by_label('사용자').fill('admin')
    page.get_by_label('비밀번호').fill(ADMIN_PASSWORD)
    page.keyboard.press('Enter')


@contextmanager
def api_client(url: str) -> Iterator[httpx.Client]:
    """A script user past the beta gate."""
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post('/beta-login', data={'password': PASSWORD})
        yield client


def test_seed_003_rehearsal_checklist_in_korean(rehearsal: Rehearsal, browser) -> None:
    context = browser.new_context(viewport=DESKTOP, base_url=rehearsal.url, locale='ko-KR')
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    beta_login(page)
    assert page.evaluate('document.documentElement.lang') == 'ko'

    step(1, 'Img2Img 탭 표시 (편집 워크플로우가 연결된 경우)')
    page.get_by_text('인물 사진').first.wait_for()  # the txt2img templates are shown first
    page.locator('[data-role=tab-img2img]').wait_for()
    shot(page, 1, 'img2img_tab')

    step(3, 'Txt2Img/Img2Img 전환 시 프롬프트/템플릿 즉시 전환')
    page.click('[data-role=tab-img2img]')
    page.get_by_text('수채화').first.wait_for()  # the edit workflow's templates, without a reload
    assert page.get_by_text('인물 사진').count() == 0
    shot(page, 3, 'switched_to_img2img')

    step(2, '입력 이미지 드래그앤드롭/업로드 등록 -> 미리보기 표시')
    upload = ARTIFACTS / 'rehearsal_input.png'
    upload.write_bytes(png_bytes(96, 64))
    page.locator('[data-role=input-slot] input[type=file]').set_input_files(str(upload))
    preview = page.locator('[data-role=input-preview]')
    preview.wait_for()
    assert '/inputs/' in (preview.get_attribute('src') or '')
    shot(page, 2, 'input_preview')
    page.locator('.q-tab').first.click()  # back to Txt2Img
    page.get_by_text('인물 사진').first.wait_for()

    step(4, '/healthz OK -> 관리자 배너 OK')
    with api_client(rehearsal.url) as script:
        health = script.get('/healthz')
        assert health.status_code == 200, health.text
    admin = context.new_page()
    admin_login(admin)
    admin.wait_for_selector('[data-health=ok]')
    admin.get_by_text('OK: 모든 점검 정상').wait_for()
    shot(admin, 4, 'admin_health_ok')

    step(5, '2-3명 동시 생성: 대기/ETA/취소/타임아웃/완료')
    with api_client(rehearsal.url) as second, api_client(rehearsal.url) as third:
        long = second.post(
            '/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': '긴 작업', 'steps': 150}}
        )
        assert long.status_code == 201, long.text
        page.get_by_label('프롬프트').first.fill('비 오는 밤의 전차')
        page.click('[data-role=generate]')
        card = page.locator('[data-job-id]').first
        card.get_by_text('대기 순서').wait_for()  # waiting, with its place and ETA
        card.get_by_text('남음').wait_for()
        mine = card.get_attribute('data-job-id')
        queued = third.post('/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': '취소할 작업'}})
        assert queued.status_code == 201, queued.text
        admin.locator(f'[data-job-id="{queued.json()["id"]}"]').wait_for()
        shot(page, 5, 'waiting_with_eta')
        shot(admin, 5, 'admin_three_users')
        assert third.post(f'/api/v1/jobs/{queued.json()["id"]}/cancel').status_code == 200
        _wait(lambda: third.get(f'/api/v1/jobs/{queued.json()["id"]}').json()['status'] == 'cancelled', 20)
        _wait(lambda: second.get(f'/api/v1/jobs/{long.json()["id"]}').json()['status'] == 'timed_out', JOB_TIMEOUT + 20)
        card.locator('[data-role=job-thumb]').first.wait_for(timeout=60_000)  # then mine runs and completes
        card.get_by_text('완료').first.wait_for()
        admin.locator(f'[data-job-id="{long.json()["id"]}"]').get_by_text('시간 초과').wait_for()
        admin.locator(f'[data-job-id="{queued.json()["id"]}"]').get_by_text('취소됨').wait_for()
        shot(page, 5, 'completed')
        shot(admin, 5, 'admin_cancelled_timed_out_done')

    step(9, '로그: enqueue -> job_start -> job_progress(steps) -> job_complete 순서')
    events = [e['event'] for e in rehearsal.log_events() if e.get('job_id') == mine]
    assert events[0] == 'enqueue' and events[1] == 'job_start' and events[-1] == 'job_complete', events
    assert set(events[2:-1]) == {'job_progress'} and len(events) > 3, events
    admin.goto('/admin/logs')
    admin.get_by_text('job_complete').first.wait_for()
    shot(admin, 9, 'log_page')

    step(6, 'ComfyUI 중지: 사용자 사전 차단, 작업 오류, 관리자 FAIL')
    page.get_by_label('프롬프트').first.fill('멈출 작업')
    page.get_by_label('스텝').fill('150')
    page.click('[data-role=generate]')
    running = page.locator('[data-job-id]').first
    running.get_by_text('생성 중').wait_for()
    os.killpg(rehearsal.sim.pid, signal.SIGKILL)  # ComfyUI's process dies
    rehearsal.sim.wait(timeout=10)
    # the job ends in error: failed once its server stayed gone (SERVER_LOSS_GRACE), or timed out before that
    running.get_by_text(re.compile('실패|시간 초과')).first.wait_for(timeout=120_000)
    admin.goto('/admin')
    admin.get_by_text('FAIL').first.wait_for(timeout=30_000)
    shot(admin, 6, 'admin_fail')
    page.click('[data-role=generate]')
    page.get_by_text('작업을 등록하지 않았습니다').first.wait_for()  # refused up front: nothing queued
    shot(page, 6, 'refused_up_front')
    rehearsal.start_sim()
    admin.get_by_text('OK: 모든 점검 정상').wait_for(timeout=60_000)

    step(7, '삭제/복원/정리(sweep) 동작, 삭제됨 표시')
    admin.goto('/admin/images')
    delete = admin.locator('button:has(i:text-is("delete"))')
    restore = admin.locator('button:has(i:text-is("restore_from_trash"))')
    delete.first.wait_for()
    tiles = delete.count()
    delete.first.click()
    admin.wait_for_function(
        f'[...document.querySelectorAll("button i")].filter(i => i.textContent === "delete").length === {tiles - 1}'
    )
    admin.get_by_text('휴지통', exact=True).first.click()  # the trash view: the tile is labelled as deleted
    restore.first.wait_for()
    shot(admin, 7, 'deleted_label')
    restore.first.click()
    restore.first.wait_for(state='detached')
    admin.get_by_text('보관 중', exact=True).click()
    admin.wait_for_function(
        f'[...document.querySelectorAll("button i")].filter(i => i.textContent === "delete").length === {tiles}'
    )
    shot(admin, 7, 'restored')
    delete.first.click()  # the sweep: trash it again and purge the trash now
    admin.wait_for_function(
        f'[...document.querySelectorAll("button i")].filter(i => i.textContent === "delete").length === {tiles - 1}'
    )
    admin.get_by_role('button', name='휴지통 비우기').click()
    admin.get_by_label('휴지통에 들어간 지 (일) 이상').fill('0')
    admin.get_by_text('지 0일이 넘은 이미지 파일 1개').wait_for()  # the count follows the typing, focus still there
    shot(admin, 7, 'purge_dialog')
    admin.get_by_role('button', name='영구 삭제').click()
    admin.get_by_text('영구 삭제했습니다').first.wait_for()
    shot(admin, 7, 'purged')

    step(8, '.env 변경 후 재시작 -> 설정 적용')
    with api_client(rehearsal.url) as script:
        slow = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': '설정 확인', 'steps': 150}}
        assert script.post('/api/v1/jobs', json=slow).status_code == 201  # runs
        assert script.post('/api/v1/jobs', json=slow).status_code == 201  # waits: the one place
        assert script.post('/api/v1/jobs', json=slow).status_code == 429  # MAX_PER_USER_QUEUE=1
        cookies = dict(script.cookies)
    stop_app(rehearsal.app)
    rehearsal.write_env(MAX_PER_USER_QUEUE='3')
    rehearsal.start_app()
    with httpx.Client(base_url=rehearsal.url, timeout=10, cookies=cookies) as script:
        answer = script.post('/api/v1/jobs', json=slow)
        assert answer.status_code == 201, answer.text  # the same user now has room for 3
    page.close()  # the old tabs reload themselves when the new process answers: open fresh ones
    admin.close()
    admin = context.new_page()
    admin.goto('/admin')  # the admin session outlives the restart (signed with the same secret)
    admin.wait_for_selector('[data-health=ok]', timeout=60_000)
    shot(admin, 8, 'after_restart')
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto('/')
    phone.wait_for_selector('[data-role=generate]')
    shot(phone, 8, 'phone_after_restart')
    assert not [e for e in errors if 'ResizeObserver' not in e], errors
    context.close()
