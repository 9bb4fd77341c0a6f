"""The admin dashboard and log page with two users and an admin, driven with the `user` fixture."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from nicegui import ElementFilter, background_tasks, ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from tests.fixtures import wait_for
from vcc_ui.services import Services
from vcc_ui.services.jobs import JobView
from vcc_ui.simulator import Simulator

ADMIN_PASSWORD = 'dashboard-admin-pw'
PROMPT = {'prompt': 'a paper boat on a pond', 'seed': 5, 'steps': 30}
pytestmark = pytest.mark.app_env(ADMIN_PASSWORD=ADMIN_PASSWORD, ADMIN_USER='boss')


async def log_in_admin(user: User, path: str = '/admin') -> None:
    answer = await user.http_client.post(
        '/admin/login', data={'user': 'boss', 'password': ADMIN_PASSWORD, 'next': path}
    )
    await user.open(answer.headers['location'])


async def visitor(create_user: Callable[[], User]) -> str:
    """A browser that opened the app; returns its anonymous id."""
    browser = create_user()
    await browser.open('/')
    return browser.client.request.state.user


def rows(user: User) -> dict[str, ui.element]:
    """The dashboard's job rows by job id."""
    return {row.props['data-job-id']: row for row in marked(user, 'admin-job')}


def inside(user: User, row: ui.element, marker: str) -> ui.element:
    """The one element with `marker` in a row."""
    with user.client:
        [element] = list(ElementFilter(marker=marker, local_scope=False).within(instance=row))
    return element


def marked(user: User, marker: str) -> list[ui.element]:
    """Every element with this marker now (none is fine)."""
    with user.client:
        return list(ElementFilter(marker=marker, local_scope=False))


def click(user: User, element: ui.element) -> None:
    UserInteraction(user, {element}, None).click()


async def test_the_admin_sees_every_users_jobs_live_cancels_one_and_moves_one_to_the_front(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator
) -> None:
    sim.faults.step_delay = 0.05
    alice, bob = await visitor(create_user), await visitor(create_user)
    await log_in_admin(user)
    await user.should_see(marker='admin-dashboard')
    await user.should_see(marker='admin-no-jobs')

    a1 = await services.jobs.submit(alice, 'sd15_txt2img', PROMPT)
    await wait_for(lambda: a1.status == 'running')
    a2 = await services.jobs.submit(alice, 'sd15_txt2img', PROMPT)
    b1 = await services.jobs.submit(bob, 'sd15_txt2img', PROMPT)
    b2 = await services.jobs.submit(bob, 'sd15_txt2img', PROMPT)
    await wait_for(lambda: set(rows(user)) == {a1.id, a2.id, b1.id, b2.id})  # arrived without a reload
    await user.should_not_see(marker='admin-no-jobs')
    groups = {g.props['data-group'].strip('"') for g in user.find(marker='admin-job-group').elements}
    assert groups == {alice, bob}
    # fair turns: bob's first job before alice's second (hers moves back within REPOSITION_INTERVAL of bob's submit)
    await wait_for(lambda: [b1.position, a2.position, b2.position] == [1, 2, 3])
    assert inside(user, rows(user)[b2.id], 'admin-job-position').text == '#3'

    click(user, inside(user, rows(user)[b2.id], 'admin-job-front'))
    await wait_for(lambda: b2.position == 1)
    assert inside(user, rows(user)[b2.id], 'admin-job-position').text == '#1'
    await user.should_see('Moved to the front')
    await user.should_see(marker='counter-queued-value', content='3')

    click(user, inside(user, rows(user)[a1.id], 'admin-job-cancel'))  # the running one: interrupted on ComfyUI
    await user.should_see(marker='cancel-dialog')
    user.find(marker='cancel-keep').click()  # a second thought: nothing happens
    with user.client:
        assert not any(dialog.value for dialog in ElementFilter(kind=ui.dialog, local_scope=False))
    assert a1.status == 'running'
    click(user, inside(user, rows(user)[a1.id], 'admin-job-cancel'))
    user.find(marker='cancel-confirm').click()
    await wait_for(lambda: a1.status == 'cancelled')
    await wait_for(lambda: b2.status in ('dispatched', 'running'))  # the job moved to the front runs next
    row = rows(user)[a1.id]
    assert inside(user, row, 'admin-job-status').text == 'Cancelled'
    assert not inside(user, row, 'admin-job-cancel').visible

    user.find(marker='group-toggle').elements.pop().set_value('server')
    await wait_for(
        lambda: (
            {g.props['data-group'].strip('"') for g in user.find(marker='admin-job-group').elements}
            == {'', sim_name(services)}
        )
    )
    assert set(rows(user)) == {a1.id, a2.id, b1.id, b2.id}


def sim_name(services: Services) -> str:
    return next(iter(services.pool.entries.values())).health.name


async def test_health_banner_and_who_is_connected(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator
) -> None:
    alice = await visitor(create_user)
    await log_in_admin(user)
    await user.should_see(marker='admin-health')
    await user.should_see(content='OK: every check passes')
    await user.should_see(marker='check-db-value', content=' ms')
    await user.should_see(marker='check-server-state', content='reachable')
    visitors = [v for v in services.presence.list() if v.user == alice]
    assert len(visitors) == 1 and visitors[0].path == '/' and not visitors[0].admin
    await user.should_see(marker='visitor-user', content=alice)
    assert any(v.admin and v.path == '/admin' for v in services.presence.list())

    await sim.go_down()
    await user.should_see(content='FAIL: no ComfyUI server is reachable', retries=200)  # the 5 s health loop
    await user.should_see(marker='check-server-state', content='not reachable')
    await sim.come_back()
    user.find(marker='health-refresh').click()
    await user.should_see(content='OK: every check passes', retries=200)


async def test_dashboards_opened_together_share_one_health_run_and_the_refresh_button_runs_one_anew(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each dashboard opened ran every check itself (a storage probe with an fsync, a database write, a request to
    # every server), into the next page's build
    probes: list[float] = []
    writable = services.health.storage.writable
    monkeypatch.setattr(services.health.storage, 'writable', lambda: (probes.append(time.monotonic()), writable())[1])
    await log_in_admin(user)
    await user.should_see(marker='check-db-value', content=' ms')
    for _ in range(3):  # three more dashboards, their browsers never connect
        assert (await user.http_client.get('/admin')).status_code == 200
    await wait_for(lambda: not [t for t in background_tasks.running_tasks if t.get_name() == 'admin-health'])
    assert len(probes) == 1
    user.find(marker='health-refresh').click()
    await wait_for(lambda: len(probes) == 2)
    await user.should_see(content='OK: every check passes')


async def test_a_new_tab_adds_one_row_to_who_is_connected_and_a_closed_one_removes_its_row(
    user: User, services: Services
) -> None:
    await log_in_admin(user)
    await user.should_see(marker='visitor')
    before = {row.id for row in marked(user, 'visitor')}
    services.presence.connected('bench-tab', user='visitor-x', path='/gallery', since=time.time() + 60)
    await wait_for(lambda: len(marked(user, 'visitor')) == len(before) + 1)
    rows = marked(user, 'visitor')
    assert {row.id for row in rows[:-1]} == before  # the rows there stay: nothing is rebuilt
    texts = [label.text for label in rows[-1].descendants() if isinstance(label, ui.label)]
    assert 'visitor-x' in texts and '/gallery' in texts  # the newest tab is listed last, with its page
    assert marked(user, 'connected-count')[0].text == str(len(before) + 1)
    services.presence.moved('bench-tab', '/inputs')
    await wait_for(lambda: '/inputs' in [label.text for label in rows[-1].descendants() if isinstance(label, ui.label)])
    services.presence.disconnected('bench-tab')
    await wait_for(lambda: {row.id for row in marked(user, 'visitor')} == before)
    assert marked(user, 'connected-count')[0].text == str(len(before))


@pytest.mark.app_env(ADMIN_PASSWORD=ADMIN_PASSWORD, ADMIN_USER='boss', LOG_TO_FILE='true', LOG_FORMAT='json')
async def test_the_log_page_filters_by_job_id_and_level(
    user: User, create_user: Callable[[], User], services: Services
) -> None:
    alice = await visitor(create_user)
    done: list[JobView] = [await services.jobs.submit(alice, 'sd15_txt2img', {**PROMPT, 'steps': 2}) for _ in range(2)]
    await wait_for(lambda: all(view.finished for view in done))
    wanted = done[0].id
    await log_in_admin(user, '/admin/logs')
    await user.should_see(marker='log-text', content='job_complete')
    user.find(marker='logs-job').type(wanted).trigger('keydown.enter')
    await user.should_see(marker='logs-source', content='line(s)')
    await wait_for(lambda: all(wanted in e.text for e in user.find(marker='log-text').elements))
    texts = [e.text for e in sorted(user.find(marker='log-text').elements, key=lambda e: e.id)]  # page order
    events = [text.split(' ', 1)[0] for text in texts]
    assert events[:2] == ['enqueue', 'job_start'] and events[-1] == 'job_complete', events  # the runbook's order
    assert set(events[2:-1]) == {'job_progress'}, events
    assert not any(done[1].id in t for t in texts)
    user.find(marker='logs-level').elements.pop().set_value('WARNING')
    await user.should_see(marker='logs-empty')
    user.find(marker='logs-job').elements.pop().set_value('')
    user.find(marker='logs-refresh').click()
    await wait_for(lambda: bool(marked(user, 'log-line')))
    assert {line.props['data-level'] for line in marked(user, 'log-line')} <= {'WARNING', 'ERROR', 'CRITICAL'}
    assert any('BETA_PASSWORD is not set' in label.text for label in marked(user, 'log-text'))


async def test_the_admin_preview_route_serves_any_users_preview_to_admins_only(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator
) -> None:
    sim.faults.step_delay = 0.05
    alice = await visitor(create_user)
    job = await services.jobs.submit(alice, 'sd15_txt2img', PROMPT)
    await wait_for(lambda: job.preview_seq > 0)
    route = f'/api/v1/admin/jobs/{job.id}/preview'
    assert (await user.http_client.get(route)).status_code == 401
    assert (await user.http_client.get(f'/api/v1/jobs/{job.id}/preview')).status_code == 404  # not the owner
    await log_in_admin(user)
    await user.should_see(marker='admin-dashboard')
    answer = await user.http_client.get(route)
    assert answer.status_code == 200 and answer.headers['content-type'].startswith('image/')
    assert (await user.http_client.get('/api/v1/admin/jobs/nope/preview')).status_code == 404
    stats = (await user.http_client.get('/api/v1/admin/stats')).json()
    assert stats['running'] == 1 and len(stats['jobs_per_hour']) == 24


async def test_a_finished_jobs_preview_gives_way_to_its_result_or_goes(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator
) -> None:
    sim.faults.step_delay = 0.05
    alice = await visitor(create_user)
    await log_in_admin(user)
    await user.should_see(marker='admin-dashboard')
    done = await services.jobs.submit(alice, 'sd15_txt2img', {**PROMPT, 'steps': 12})
    gone = await services.jobs.submit(alice, 'sd15_txt2img', {**PROMPT, 'steps': 150})
    await wait_for(lambda: done.id in rows(user))
    preview = inside(user, rows(user)[done.id], 'admin-job-preview')
    await wait_for(lambda: '/preview?v=' in preview.props['src'] and preview.visible)  # the live frame
    await wait_for(lambda: done.status == 'completed')
    await wait_for(lambda: '/api/v1/admin/outputs/' in preview.props['src'])  # the result replaced the last frame
    assert preview.visible

    await wait_for(lambda: gone.preview_seq > 0)
    await services.jobs.cancel(gone.id)
    await wait_for(lambda: gone.finished)
    await wait_for(lambda: not inside(user, rows(user)[gone.id], 'admin-job-preview').visible)
    assert '/preview' not in inside(user, rows(user)[gone.id], 'admin-job-preview').props['src']


async def test_a_tester_names_themselves_and_the_dashboard_shows_the_nickname(
    user: User, create_user: Callable[[], User], services: Services
) -> None:
    tester = create_user()
    tester.http_client.headers['Accept-Language'] = 'ko-KR,ko;q=0.9'
    await tester.open('/')
    anon = tester.client.request.state.user
    tester.find(marker='nickname-button').click()
    await tester.should_see(marker='nickname-dialog')
    tester.find(marker='nickname-input').type('anon-' + '0' * 16)
    tester.find(marker='nickname-save').click()
    await wait_for(lambda: 'error' in marked(tester, 'nickname-input')[0].props)
    assert marked(tester, 'nickname-input')[0].props['error-message'] == '닉네임은 익명 ID처럼 보일 수 없습니다.'
    assert services.users.label(anon) == anon  # nothing changed
    tester.find(marker='nickname-input').clear().type('  민지  ')
    tester.find(marker='nickname-save').click()
    await tester.should_see('닉네임을 저장했습니다')
    await tester.should_see(marker='nickname-button', content='민지')
    assert services.users.label(anon) == '민지'

    await services.jobs.submit(anon, 'sd15_txt2img', {**PROMPT, 'steps': 2})
    await log_in_admin(user)
    await user.should_see(marker='admin-group-title', content='민지')
    await user.should_see(marker='visitor-user', content='민지')
    assert anon not in {e.text for e in marked(user, 'admin-group-title')}


def shown(user: User) -> set[str]:
    """The ids of the job rows on the current page (and passing the filters)."""
    return {job_id for job_id, row in rows(user).items() if row.visible}


async def test_the_job_list_is_paged_and_filtered_by_status_user_server_and_workflow(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator
) -> None:
    sim.faults.step_delay = 0.2
    alice, bob = await visitor(create_user), await visitor(create_user)
    views = [await services.jobs.submit(owner, 'sd15_txt2img', PROMPT) for owner in (alice, bob) * 9]
    await log_in_admin(user)
    await wait_for(lambda: len(rows(user)) == 18)
    await wait_for(lambda: len(shown(user)) == 15)  # one page
    assert user.find(marker='job-pager').elements.pop().visible
    await user.should_see(marker='job-count', content='18 of 18 jobs match')
    running = {v.id for v in views if v.status in ('dispatched', 'running')}
    assert running and running <= shown(user)  # running jobs come first

    user.find(marker='job-pager').elements.pop().set_value(2)
    await wait_for(lambda: len(shown(user)) == 3)
    user.find(marker='filter-user').elements.pop().set_value(alice)
    await wait_for(lambda: len(shown(user)) == 9)
    assert {v.id for v in views if v.owner == alice} == shown(user)
    assert not marked(user, 'job-pager')[0].visible
    user.find(marker='filter-status').elements.pop().set_value('queued')
    await wait_for(lambda: shown(user) == {v.id for v in views if v.owner == alice and v.status == 'queued'})
    user.find(marker='filter-workflow').elements.pop().set_value('sd15_txt2img')
    user.find(marker='filter-status').elements.pop().set_value('cancelled')
    await user.should_see(marker='admin-no-jobs')
    assert shown(user) == set()

    for view in views:
        await services.jobs.cancel(view.id)
    await wait_for(lambda: shown(user) == {v.id for v in views if v.owner == alice})  # live: now cancelled
    user.find(marker='filter-user').elements.pop().set_value('')
    user.find(marker='filter-server').elements.pop().set_value(sim_name(services))
    await wait_for(lambda: shown(user) == {v.id for v in views if v.server})
