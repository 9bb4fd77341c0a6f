"""Admin services: servers changed at runtime (drain, remove, test), blocking, the admin session and cross-user data."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from tests.images import png_bytes
from vcc_ui.models import Job, JobStatus
from vcc_ui.services import auth as auth_module
from vcc_ui.services.admin import AdminAuth
from vcc_ui.services.admin_data import ServerJob
from vcc_ui.services.auth import LoginThrottle
from vcc_ui.services.image_meta import ImageProblem
from vcc_ui.services.jobs import SubmitError
from vcc_ui.services.servers import ServerProblem

PROMPT = {'prompt': 'a lighthouse', 'seed': 1, 'steps': 4}


async def test_disabling_a_server_drains_it(tmp_path) -> None:
    async with (
        simulator(tmp_path, 'a', step_delay=0.1) as a,
        simulator(tmp_path, 'b') as b,
        services(make_settings(tmp_path, a.url)) as app,
    ):
        first = next(iter(app.pool.entries.values()))
        running = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        await wait_for(lambda: running.status == JobStatus.RUNNING)
        await app.pool.set_enabled(first.id, False)
        with pytest.raises(ServerProblem, match='still runs 1 job'):
            await app.pool.remove_server(first.id)
        second = await app.pool.add_server(name='b', url=b.url)
        waiting = await app.jobs.submit(USER_B, 'sd15_txt2img', PROMPT)
        await wait_for(lambda: running.finished and waiting.finished)
        assert running.status == JobStatus.COMPLETED and running.server == first.health.name
        assert waiting.status == JobStatus.COMPLETED and waiting.server == 'b'  # nothing new went to the drained one
        await app.pool.check_all()
        assert not first.client.state.connected and first.client._http is None  # drained, so its client stopped
        await app.pool.remove_server(first.id)
        assert list(app.pool.entries) == [second.id]
        history = await app.admin_data.server_history(first.id)
        assert [j.id for j in history] == [running.id] and history[0].duration is not None


async def test_server_changes_are_checked_and_stored(tmp_path) -> None:
    async with simulator(tmp_path, 'a') as a, simulator(tmp_path, 'b') as b:
        settings = make_settings(tmp_path, a.url)
        async with services(settings) as app:
            with pytest.raises(ServerProblem, match='is already server'):
                await app.pool.add_server(name='again', url=a.url + '/')
            with pytest.raises(ServerProblem, match='not a ComfyUI address'):
                await app.pool.add_server(name='bad', url='ftp://x')
            added = await app.pool.add_server(name='b', url=b.url, max_inflight=2)
            await app.pool.update_server(added.id, name='gpu-b', max_inflight=3)
            assert (added.health.name, added.health.max_inflight) == ('gpu-b', 3)
            assert app.registry.is_available('sd15_txt2img', 'gpu-b')
            await app.pool.set_enabled(added.id, False)
        async with services(settings) as app:  # stored in the DB
            stored = app.pool.entries[added.id]
            assert (stored.row.name, stored.row.max_inflight, stored.health.enabled) == ('gpu-b', 3, False)


async def test_a_connection_test_reports_version_devices_or_the_error(tmp_path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        good = await app.pool.test_connection(sim.url)
        assert good['reachable'] and good['devices'] and good['error'] is None
        bad = await app.pool.test_connection('http://127.0.0.1:9')
        assert not bad['reachable'] and 'cannot connect' in bad['error']
        assert not (await app.pool.test_connection('not a url at all'))['reachable']


async def test_a_blocked_user_cannot_submit_or_upload(tmp_path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        await app.images.upload_input(USER_A, png_bytes(), 'a.png')
        await app.admin_data.update_user(USER_A, blocked=True, display_name='  Lee  ')
        with pytest.raises(SubmitError, match='blocked') as refused:
            await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        assert refused.value.code == 'blocked'
        with pytest.raises(ImageProblem, match='blocked'):
            await app.images.upload_input(USER_A, png_bytes(), 'b.png')
        await app.jobs.submit(USER_B, 'sd15_txt2img', PROMPT)  # others are not affected
        users = {u.id: u for u in await app.admin_data.users()}
        assert users[USER_A].display_name == 'Lee' and users[USER_A].images == 1 and users[USER_B].jobs == 1
        await app.admin_data.update_user(USER_A, blocked=False)
        await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)


async def test_a_submit_refused_for_several_reasons_names_them_in_order(tmp_path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        await app.images.upload_input(USER_A, png_bytes(), 'a.png')
        await app.admin_data.update_user(USER_A, blocked=True, quota_max_images=1)  # blocked and at the quota
        with pytest.raises(SubmitError) as refused:
            await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        assert refused.value.code == 'blocked'
        await app.admin_data.update_user(USER_A, blocked=False)
        with pytest.raises(SubmitError) as refused:
            await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        assert refused.value.code == 'quota'


async def test_admin_credentials_sessions_and_basic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_module, 'WRONG_PASSWORD_DELAY', 0.0)
    auth = AdminAuth('boss', 'pw', 'secret', limiter=LoginThrottle(2, 60.0, probe_interval=20.0))
    assert auth.check('boss', 'pw') and not auth.check('boss', 'PW') and not auth.check('admin', 'pw')
    cookie = auth.cookie_value()
    assert auth.is_session(cookie) and not auth.is_session(cookie + 'x')
    auth.log_out(cookie)
    assert not auth.is_session(cookie)  # revoked server-side
    cookie = auth.cookie_value()
    assert not AdminAuth('boss', 'new password', 'secret', sessions=auth.sessions).is_session(
        cookie
    )  # a password change logs everyone out
    assert not AdminAuth('boss', '', 'secret').check('boss', '')  # no password, no admin
    header = 'Basic ' + base64.b64encode(b'boss:pw').decode()
    assert (await auth.basic(header, '1.2.3.4')).ok
    assert await auth.basic(None, '1.2.3.4') is None
    for _ in range(3):  # the budget, then the one check per interval
        assert not (await auth.basic('Basic ' + base64.b64encode(b'boss:no').decode(), '1.2.3.4')).ok
    assert (await auth.basic(header, '1.2.3.4')).retry_after > 0  # limited per client
    assert (await auth.basic(header, '5.6.7.8')).ok


def test_a_server_history_item_is_typed_and_serializes_as_the_api_always_did() -> None:
    queued = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    job = Job(
        id='j' * 32,
        owner=USER_A,
        workflow_id='sd15_txt2img',
        mode='txt2img',
        status=JobStatus.COMPLETED,
        queued_at=queued,
        started_at=queued + timedelta(seconds=1),
        finished_at=queued + timedelta(seconds=4, microseconds=500_000),
    )
    item = ServerJob.of(job)
    assert item.duration == 3.5 and item.queued_at == queued
    assert item.model_dump(mode='json') == {
        'id': 'j' * 32,
        'owner': USER_A,
        'workflow_id': 'sd15_txt2img',
        'status': 'completed',
        'queued_at': queued.isoformat(),
        'started_at': (queued + timedelta(seconds=1)).isoformat(),
        'finished_at': (queued + timedelta(seconds=4, microseconds=500_000)).isoformat(),
        'duration': 3.5,
        'error': None,
    }
    assert list(item.model_dump(mode='json'))[-2:] == ['duration', 'error']
    assert ServerJob.of(Job(id='k' * 32, owner=USER_A, workflow_id='x', mode='txt2img')).duration is None


async def test_users_show_their_job_counts_and_time_on_the_gpu(tmp_path) -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def ran(n: int, owner: str, status: JobStatus, seconds: float | None) -> Job:
        return Job(
            id=f'{n:032x}',
            owner=owner,
            workflow_id='sd15_txt2img',
            mode='txt2img',
            params={},
            status=status,
            queued_at=start,
            started_at=None if seconds is None else start,
            finished_at=start + timedelta(seconds=seconds or 1),
        )

    rows = [
        ran(1, USER_A, JobStatus.COMPLETED, 12.5),
        ran(2, USER_A, JobStatus.FAILED, 3.0),  # it ran before it failed: its time counts
        ran(3, USER_A, JobStatus.CANCELLED, None),  # cancelled while queued: no time on a GPU
        ran(4, USER_B, JobStatus.COMPLETED, 40.0),
    ]
    async with services(make_settings(tmp_path)) as app:
        await app.writer.write(lambda db: db.add_all(rows))
        users = {u.id: u for u in await app.admin_data.users()}
        assert (users[USER_A].jobs, users[USER_A].jobs_done, users[USER_A].gpu_seconds) == (3, 1, 15.5)
        assert (users[USER_B].jobs, users[USER_B].jobs_done, users[USER_B].gpu_seconds) == (1, 1, 40.0)
