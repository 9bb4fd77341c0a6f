"""Three instances behind nginx on PostgreSQL + Redis (`make cluster`'s launcher): one is SIGKILLed under load.

50 users submit 4 jobs each through nginx, spread over the instances by its sticky cookie; a Chromium tab (switched
to English, a draft typed) follows its own job. The instance serving that tab is killed mid-way. Then: every job
completed (0 lost), one image and one file per job (0 duplicated), no prompt posted twice and at most
SERVER_MAX_INFLIGHT prompts on the server and one per user at any moment (from the simulator's prompt log), and the
tab came back through nginx on another instance with the same anonymous id, language and draft and saw its job end.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

from deploy.cluster import Cluster, ClusterError
from tests.e2e.conftest import DESKTOP, screenshot
from vcc_ui.simulator.promptlog import read_prompt_log

pytestmark = pytest.mark.e2e

PASSWORD = 'cluster-beta'
USERS, JOBS_EACH = 50, 4
MAX_INFLIGHT = 2
CARD = '[data-job-id]'
DRAFT = 'a lighthouse that survives a failover'


@pytest.fixture(scope='module')
def cluster() -> Iterator[Cluster]:
    """PostgreSQL, Redis, (SeaweedFS when the app has S3 storage), one simulator, three instances and nginx."""
    running = Cluster(
        step_delay=0.04,
        max_inflight=MAX_INFLIGHT,
        env={
            'BETA_PASSWORD': PASSWORD,
            'LOG_TO_FILE': 'false',
            'MAX_PER_USER_QUEUE': str(JOBS_EACH),
            'MAX_PER_USER_CONCURRENT': '1',
            'MAX_QUEUED_PER_SOURCE': '0',  # every user comes from 127.0.0.1 through nginx
            'MAX_NEW_IDS_PER_SOURCE': '0',
        },
    )
    try:
        running.start()
    except ClusterError as error:
        pytest.skip(f'the cluster could not be started: {error}')
    yield running
    running.stop()


def open_tab(browser, cluster: Cluster):
    """A Korean browser logged in through nginx, switched to English (the choice lives in app.storage.user)."""
    context = browser.new_context(viewport=DESKTOP, base_url=cluster.url, locale='ko-KR')
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto('/')
    page.wait_for_url('**/beta-login**')
    page.fill('input[type=password]', PASSWORD)
    page.keyboard.press('Enter')
    page.wait_for_selector('[data-role=generate]')
    page.wait_for_function('window.socket && window.socket.connected')
    page.get_by_role('button', name='EN', exact=True).click()
    # the switch reloads the page: while it loads there may be no document element yet
    page.wait_for_function("document.documentElement && document.documentElement.lang === 'en'")
    page.wait_for_selector('[data-role=generate]')
    page.wait_for_function('window.socket && window.socket.connected')
    return context, page


def stored_in_redis(cluster: Cluster, needle: str) -> bool:
    """Whether some NiceGUI user storage in Redis holds `needle`."""
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        return any(needle.encode() in (client.get(key) or b'') for key in client.scan_iter('nicegui:user-*'))
    finally:
        client.close()


def upstream_of(cluster: Cluster, route: str) -> int:
    """The index of the instance nginx sent the latest request of this `vcc_route` to."""
    found = re.findall(rf'upstream=127\.0\.0\.1:(\d+) route={re.escape(route)}$', cluster.access_log.read_text(), re.M)
    assert found, f'no request with route {route} in the access log'
    return cluster.instance_ports.index(int(found[-1]))


def submit_four(cluster: Cluster, n: int) -> tuple[str, list[str]]:
    """One user: log in through nginx and submit JOBS_EACH jobs; its anonymous id, instance route and job ids."""
    with httpx.Client(base_url=cluster.url, timeout=30) as http:
        assert http.post('/beta-login', data={'password': PASSWORD}).status_code in (200, 303)
        ids = []
        for k in range(JOBS_EACH):
            params = {'prompt': f'user {n} job {k}', 'seed': n * 10 + k, 'steps': 4}
            answer = http.post('/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': params})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()['id'])
        return http.cookies['vcc_route'], ids


def rows(cluster: Cluster, sql: str) -> list:
    """Rows of a query on the cluster's database."""
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def wait_until(check, seconds: float, what: str) -> None:
    """Poll `check()` until true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f'gave up waiting: {what}'
        time.sleep(0.5)


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def test_an_instance_killed_under_load_loses_no_job_and_its_tab_comes_back_elsewhere(
    cluster: Cluster, browser, request: pytest.FixtureRequest
) -> None:
    context, page = open_tab(browser, cluster)

    with ThreadPoolExecutor(10) as pool:
        users = list(pool.map(lambda n: submit_four(cluster, n), range(USERS)))
    jobs = [job for _, ids in users for job in ids]
    served = Counter(upstream_of(cluster, route) for route, _ in users)
    assert len(served) == cluster.instances, f'nginx did not spread the users: {served}'
    wait_until(
        lambda: rows(cluster, "SELECT count(*) FROM job WHERE status = 'completed'")[0][0] >= len(jobs) // 4,
        180,
        'a quarter of the jobs done',
    )

    page.get_by_label('Steps').fill('150')  # long enough to be running when its instance dies
    page.click('[data-role=generate]')
    card = page.locator(CARD).first
    job_id = card.get_attribute('data-job-id')
    page.wait_for_function(
        f'Number(document.querySelector(\'[data-job-id="{job_id}"] [role=progressbar]\')'
        "?.getAttribute('aria-valuenow')) > 0"
    )
    page.get_by_label('Prompt').first.fill(DRAFT)  # the draft of the next job, kept in app.storage.user
    wait_until(lambda: stored_in_redis(cluster, DRAFT), 30, 'the draft in Redis')
    cookies = {c['name']: c['value'] for c in context.cookies()}
    victim = upstream_of(cluster, cookies['vcc_route'])
    screenshot(page, 'cluster_before_kill')
    cluster.kill_instance(victim, signal.SIGKILL)
    request.addfinalizer(lambda: cluster.start_instance(victim))  # the module's other tests get three again

    try:
        wait_until(
            lambda: page.locator(f'[data-job-id="{job_id}"] [data-role=job-thumb]').count() > 0,
            180,
            'the tab of the killed instance sees its job finish on another instance',
        )
    finally:
        screenshot(page, 'cluster_failover_tab')
    assert page.evaluate('document.documentElement.lang') == 'en'
    assert page.get_by_label('Prompt').first.input_value() == DRAFT
    after = {c['name']: c['value'] for c in context.cookies()}
    assert after['vcc_anon'] == cookies['vcc_anon']
    assert upstream_of(cluster, cookies['vcc_route']) != victim
    context.close()

    every = [*jobs, job_id]
    unfinished = (
        "SELECT count(*) FROM job WHERE finished_at IS NULL OR status NOT IN ('completed','failed','cancelled')"
    )
    wait_until(lambda: rows(cluster, unfinished)[0][0] == 0, 300, 'every job finished')
    statuses = Counter(status for (status,) in rows(cluster, 'SELECT status FROM job'))
    assert statuses == {'completed': len(every)}, f'lost or failed jobs: {statuses}'

    images = rows(cluster, "SELECT job_id, rel_path FROM image WHERE kind = 'generated'")
    per_job = Counter(job for job, _ in images)
    assert set(per_job) == set(every) and set(per_job.values()) == {1}, 'an output is missing or duplicated'
    if not cluster.s3_url:
        files = [p for p in cluster.output_dir.rglob('*.png') if p.parts[-6:-5] != ('cache',)]
        assert sorted(str(p.relative_to(cluster.output_dir)) for p in files) == sorted(path for _, path in images)

    log = read_prompt_log(cluster.prompt_log)
    received = Counter(e['prompt_id'] for e in log if e['event'] == 'received' and e['accepted'])
    assert received and max(received.values()) == 1, 'a prompt was posted twice'
    prompt_of = dict(rows(cluster, 'SELECT prompt_id, owner FROM job WHERE prompt_id IS NOT NULL'))
    sent = {e['prompt_id']: e['time'] for e in log if e['event'] == 'received' and e['accepted']}
    ended = {e['prompt_id']: e['time'] for e in log if e['event'] == 'finished'}
    spans = {pid: (start, ended.get(pid, float('inf'))) for pid, start in sent.items()}
    assert most_at_once(list(spans.values())) <= MAX_INFLIGHT, 'SERVER_MAX_INFLIGHT exceeded'
    by_owner: dict[str, list[tuple[float, float]]] = {}
    for pid, span in spans.items():
        by_owner.setdefault(prompt_of.get(pid, pid), []).append(span)
    assert max(most_at_once(s) for s in by_owner.values()) <= 1, 'MAX_PER_USER_CONCURRENT exceeded'


def test_a_tab_whose_instance_dies_reloads_on_another_with_its_id_language_and_draft(cluster: Cluster, browser) -> None:
    context, page = open_tab(browser, cluster)
    draft = 'a draft kept in Redis'
    page.get_by_label('Prompt').first.fill(draft)
    wait_until(lambda: stored_in_redis(cluster, draft), 10, 'the draft in Redis')
    cookies = {c['name']: c['value'] for c in context.cookies()}
    victim = upstream_of(cluster, cookies['vcc_route'])
    page.evaluate('window.vccBeforeKill = true')
    cluster.kill_instance(victim, signal.SIGKILL)
    try:
        page.wait_for_function('!window.vccBeforeKill && window.socket && window.socket.connected', timeout=60_000)
        page.wait_for_selector('[data-role=generate]')
        assert page.evaluate('document.documentElement.lang') == 'en'
        assert page.get_by_label('Prompt').first.input_value() == draft
        assert {c['name']: c['value'] for c in context.cookies()}['vcc_anon'] == cookies['vcc_anon']
        assert upstream_of(cluster, cookies['vcc_route']) != victim
    finally:
        screenshot(page, 'cluster_tab_after_failover')
        context.close()
        cluster.start_instance(victim)


def test_every_instance_accepts_the_cookies_another_one_signed(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=10) as http:
        assert http.post('/beta-login', data={'password': PASSWORD}).status_code in (200, 303)
        assert http.get('/api/v1/workflows').status_code == 200
        cookies = dict(http.cookies)
    for index in range(cluster.instances):
        direct = httpx.get(f'{cluster.instance_url(index)}/api/v1/workflows', cookies=cookies, timeout=10)
        assert direct.status_code == 200, f'instance {index + 1} refused the beta cookie another one signed'
        assert 'vcc_anon' not in direct.cookies, f'instance {index + 1} did not read the anonymous id'
