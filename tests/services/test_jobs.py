"""JobManager against real simulators over loopback and a real SQLite file."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque
from pathlib import Path

import pytest
from sqlmodel import select

from tests.fixtures import USER_A, USER_B, USER_C, make_settings, services, simulator, wait_for
from tests.images import png_bytes
from vcc_ui.db import session
from vcc_ui.models import Image, Job
from vcc_ui.services.comfy.messages import PreviewImageWithMetadata
from vcc_ui.services.jobs import SubmitError, live, manager

PROMPT = {'prompt': 'a red fox in the snow', 'seed': 7}


async def test_job_goes_from_submit_to_saved_image(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        seen: list[str] = []
        app.jobs.changed.subscribe(lambda view: seen.append(view.status))
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 3, 'aspect_ratio': '3:2'})
        await wait_for(lambda: 'completed' in seen or 'failed' in seen)
        assert view.status == 'completed', view.error
        assert len(view.image_ids) == 1
        assert {'dispatched', 'running', 'saving', 'completed'} <= set(seen)
        with session(app.engine) as db:
            image = db.get(Image, view.image_ids[0])
            row = db.get(Job, view.id)
        assert image is not None and row is not None and row.status == 'completed'
        assert (image.width, image.height) == (768, 512)
        assert image.owner == USER_A and image.prompt == PROMPT['prompt'] and image.seed == 7
        data = app.storage.read_bytes(image.rel_path)
        assert hashlib.sha256(data).hexdigest() == image.sha256
        sidecar = json.loads(app.storage.resolve(image.rel_path.replace('.png', '.json')).read_text())
        assert sidecar['job_id'] == view.id and sidecar['server'] == view.server
        assert image.rel_path.startswith(f'users/{USER_A}/')


async def test_live_previews_are_thinned_and_the_newest_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, 'PREVIEW_INTERVAL', 60.0)
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        latest: list[bytes] = []
        app.pool.add_listener(
            lambda _, message: latest.append(message.data) if isinstance(message, PreviewImageWithMetadata) else None
        )
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 20})
        await wait_for(lambda: view.step >= 6)
        assert len(latest) >= 5
        assert view.preview_seq == 1  # the first preview shows at once, later ones wait out the interval
        preview = app.jobs.preview(view.id)
        assert preview is not None and preview[1] == latest[-1]  # ... but the image served is always the newest


async def test_queue_limit_refuses_clearly(tmp_path: Path) -> None:
    async with (
        simulator(tmp_path, step_delay=0.2) as sim,
        services(make_settings(tmp_path, sim.url, max_per_user_queue=1)) as app,
    ):
        await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 20})
        await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        with pytest.raises(SubmitError) as refused:
            await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        assert refused.value.code == 'limit' and 'job waiting (the limit)' in refused.value.message
        await app.jobs.submit(USER_B, 'sd15_txt2img', PROMPT)  # other users are not affected


async def test_concurrency_limit_with_no_queue(tmp_path: Path) -> None:
    async with (
        simulator(tmp_path, step_delay=0.2) as sim,
        services(make_settings(tmp_path, sim.url, max_per_user_queue=0)) as app,
    ):
        await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 20})
        with pytest.raises(SubmitError, match='running'):
            await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)


async def test_fair_round_robin_between_three_users(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        # the blocker runs (10 steps, 0.5 s) until every job below is queued
        blocker = await app.jobs.submit(USER_C, 'sd15_txt2img', {'prompt': 'x', 'seed': 0, 'steps': 10})
        views = []
        for user in (USER_A, USER_A, USER_A, USER_B, USER_B, USER_C):
            views.append(await app.jobs.submit(user, 'test_pattern', {'prompt': 'x', 'seed': len(views) + 1}))
        await wait_for(lambda: all(v.finished for v in [blocker, *views]))
        order = sorted(views, key=lambda v: v.started_at)
        owners = [v.owner for v in order]
        assert owners == [USER_A, USER_B, USER_C, USER_A, USER_B, USER_A]
        within_a = [v for v in order if v.owner == USER_A]
        assert within_a == [v for v in views if v.owner == USER_A]  # FIFO within a user


async def test_a_full_server_is_not_asked_to_place_each_waiting_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with simulator(tmp_path, step_delay=0.02) as sim, services(make_settings(tmp_path, sim.url)) as app:
        picked: list[str] = []
        pick = app.pool.pick
        monkeypatch.setattr(
            app.pool, 'pick', lambda workflow_id, **kw: picked.append(workflow_id) or pick(workflow_id, **kw)
        )
        # the blocker holds the one slot while 20 users queue a job each: every submit wakes the dispatcher
        blocker = await app.jobs.submit(USER_C, 'sd15_txt2img', {'prompt': 'x', 'seed': 0, 'steps': 10})
        views = [
            await app.jobs.submit(f'anon-{user:032x}', 'test_pattern', {'prompt': 'x', 'seed': user})
            for user in range(20)
        ]
        await wait_for(lambda: all(v.finished for v in [blocker, *views]), timeout=30)
    assert all(v.status == 'completed' for v in views)
    assert len(picked) <= 2 * (len(views) + 1)  # one placement per job started, not one per waiting user per wake-up


async def test_positions_and_eta_of_queued_jobs(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.2) as sim, services(make_settings(tmp_path, sim.url)) as app:
        first = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 30})
        second = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        third = await app.jobs.submit(USER_B, 'sd15_txt2img', PROMPT)
        assert third.position == 1  # B has not been served yet, so B goes first: its own answer says so
        await wait_for(lambda: first.status == 'running')
        await wait_for(lambda: second.position == 2)  # A's second job moves back within REPOSITION_INTERVAL
        assert third.eta_seconds is not None and second.eta_seconds > third.eta_seconds
        await app.jobs.cancel(second.id)
        await app.jobs.cancel(third.id)
        await app.jobs.cancel(first.id)


async def test_positions_follow_each_dispatch_to_the_newest_order(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        blocker = await app.jobs.submit(USER_C, 'sd15_txt2img', {**PROMPT, 'steps': 4})
        # distinct seeds: the same graph again would come from the server's cache at once
        waiting = [
            await app.jobs.submit(USER_A, 'sd15_txt2img', {'prompt': 'x', 'seed': seed, 'steps': 8})
            for seed in range(3)
        ]
        assert [v.position for v in waiting] == [1, 2, 3]
        await wait_for(lambda: blocker.finished and waiting[0].status != 'queued')
        await wait_for(lambda: [v.position for v in waiting[1:]] == [1, 2])  # moved up, however soon after
        await wait_for(lambda: waiting[1].status != 'queued')
        await wait_for(lambda: waiting[2].position == 1)
        await wait_for(lambda: all(v.finished for v in waiting), timeout=30)


async def test_a_submit_works_out_its_own_position_without_walking_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, 'REPOSITION_INTERVAL', 60.0)  # no round of all positions after the first one
    async with simulator(tmp_path, step_delay=0.1) as sim, services(make_settings(tmp_path, sim.url)) as app:
        blocker = await app.jobs.submit(USER_C, 'sd15_txt2img', {**PROMPT, 'steps': 150})
        walks: list[int] = []
        estimate = app.jobs._queue.estimate
        monkeypatch.setattr(app.jobs._queue, 'estimate', lambda *a: walks.append(1) or estimate(*a))
        for index in range(12):  # user A three times, then users who were never served: each goes before A's later
            owner = USER_A if index < 3 else f'anon-{index:032x}'
            view = await app.jobs.submit(owner, 'test_pattern', {'prompt': 'x', 'seed': index})
            assert view.position == app.jobs._queue.order().index(view) + 1  # exact in its own answer
        assert len(walks) <= 1  # one round of every position, not one per submit
        await app.jobs.cancel(blocker.id)


async def test_positions_reach_the_newest_order_after_a_burst_of_submits(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.1) as sim, services(make_settings(tmp_path, sim.url)) as app:
        blocker = await app.jobs.submit(USER_C, 'sd15_txt2img', {**PROMPT, 'steps': 150})
        seen: dict[str, int] = {}
        app.jobs.changed.subscribe(lambda view: seen.__setitem__(view.id, view.position))
        views = [
            await app.jobs.submit(USER_A if index < 3 else f'anon-{index:032x}', 'test_pattern', {'seed': index})
            for index in range(12)
        ]
        order = app.jobs._queue.order()
        assert sorted(order, key=id) == sorted(views, key=id)
        expected = {view.id: place for place, view in enumerate(order, 1)}
        await wait_for(lambda: {v.id: v.position for v in views} == expected)
        await wait_for(lambda: {v.id: seen.get(v.id) for v in views} == expected)  # and each was told its last move
        assert [v.position for v in views[:3]] == [1, 11, 12]  # A's later jobs after every user not served yet
        await app.jobs.cancel(blocker.id)


async def test_running_eta_follows_the_jobs_own_pace(tmp_path: Path) -> None:
    delay, steps = 0.05, 60
    async with simulator(tmp_path, step_delay=delay) as sim, services(make_settings(tmp_path, sim.url)) as app:
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': steps})
        await wait_for(lambda: view.step >= 10)
        early = view.eta_seconds, view.step
        await wait_for(lambda: view.step >= 30)
        late = view.eta_seconds, view.step
        for eta, step in (early, late):  # seconds per step so far x steps to go, whatever earlier jobs took
            assert eta is not None and 0.3 * (steps - step) * delay <= eta <= 3 * (steps - step) * delay, (eta, step)
        assert late[0] < early[0]


async def test_cancel_queued_and_running(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.1) as sim, services(make_settings(tmp_path, sim.url)) as app:
        running = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 100})
        queued = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        await wait_for(lambda: running.step >= 2)
        assert await app.jobs.cancel(queued.id, owner=USER_B) is None  # not B's job
        await app.jobs.cancel(queued.id, owner=USER_A)
        assert queued.status == 'cancelled'
        await app.jobs.cancel(running.id, owner=USER_A)
        await wait_for(lambda: running.finished)
        assert running.status == 'cancelled'
        await wait_for(lambda: sim.running_prompt_id is None)
        assert running.step < 100 and not running.image_ids


async def test_timeout_interrupts_and_marks_timed_out(tmp_path: Path) -> None:
    async with (
        simulator(tmp_path, step_delay=0.1) as sim,
        services(make_settings(tmp_path, sim.url, job_timeout_seconds=0.5)) as app,
    ):
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 100})
        await wait_for(lambda: view.finished)
        assert view.status == 'timed_out' and 'Timed out after 0.5 s' in view.error
        await wait_for(lambda: sim.running_prompt_id is None)


async def test_comfyui_error_carries_node_and_message(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.fail_next = 1
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 2})
        await wait_for(lambda: view.finished)
        assert view.status == 'failed'
        assert 'KSampler (node 3)' in view.error and sim.faults.fail_message in view.error


async def test_ws_drop_mid_job_still_completes(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.drop_ws_after_steps = 3
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 10})
        await wait_for(lambda: view.finished, timeout=30)
        assert view.status == 'completed', view.error
        assert len(view.image_ids) == 1


async def test_restart_mid_job_saves_output_exactly_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, '')
    async with simulator(tmp_path, step_delay=0.05) as sim:
        settings = make_settings(tmp_path, sim.url)
        async with services(settings) as app:
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 20})
            await wait_for(lambda: view.step >= 2)
        # the app is down while ComfyUI finishes the prompt
        await wait_for(lambda: sim.running_prompt_id is None and len(sim.history_ids) == 1)
        for _ in range(2):  # a second restart must not save again
            async with services(settings) as app:
                await wait_for(lambda: (v := app.jobs.views.get(view.id)) is None or v.finished)
                restored = await app.jobs.get(view.id)
                assert restored is not None and restored.status == 'completed', restored and restored.error
        with session(app.engine) as db:
            images = db.exec(select(Image).where(Image.job_id == view.id)).all()
        assert len(images) == 1
        files = [p for p in (tmp_path / 'outputs').rglob('*.png')]
        assert len(files) == 1


async def test_job_forgotten_by_restarted_server_fails_clearly(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.1) as sim:
        settings = make_settings(tmp_path, sim.url)
        async with services(settings) as app:
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 100})
            await wait_for(lambda: view.step >= 1)
        await sim.go_down()
        await sim.come_back()
        async with services(settings) as app:
            await wait_for(lambda: app.jobs.views[view.id].finished)
            assert app.jobs.views[view.id].status == 'failed'
            assert 'no longer knows' in app.jobs.views[view.id].error


async def test_two_servers_spread_jobs_and_skip_a_down_one(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'one', step_delay=0.05) as one, simulator(tmp_path, 'two', step_delay=0.05) as two:
        async with services(make_settings(tmp_path, one.url, two.url)) as app:
            views = [await app.jobs.submit(user, 'sd15_txt2img', {**PROMPT, 'steps': 5}) for user in (USER_A, USER_B)]
            await wait_for(lambda: all(v.finished for v in views))
            assert {v.server for v in views} == {app.pool.entries[1].health.name, app.pool.entries[2].health.name}
            await two.go_down()
            await app.pool.check_all()
            later = [
                await app.jobs.submit(user, 'sd15_txt2img', {**PROMPT, 'steps': 1}) for user in (USER_A, USER_B, USER_C)
            ]
            await wait_for(lambda: all(v.finished for v in later))
            assert all(v.status == 'completed' for v in later)
            assert {v.server for v in later} == {app.pool.entries[1].health.name}


async def test_bad_input_is_refused_with_a_reason(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        cases = [
            ('nope', PROMPT, 'unknown_workflow'),
            ('sd15_txt2img', {'prompt': 'x', 'seed': 'abc'}, 'invalid_params'),
            ('sd15_txt2img', {'prompt': 'x' * 5000}, 'invalid_params'),
            ('sd15_txt2img', {'prompt': 'x', 'aspect_ratio': '7:3'}, 'invalid_params'),
            ('sd15_img2img', {'prompt': 'x', 'input_image': 'f' * 32}, 'invalid_params'),
            ('sd15_img2img', {'prompt': 'x'}, 'invalid_params'),
        ]
        for workflow_id, params, code in cases:
            with pytest.raises(SubmitError) as refused:
                await app.jobs.submit(USER_A, workflow_id, params)
            assert refused.value.code == code and refused.value.message
        with session(app.engine) as db:
            assert db.exec(select(Job)).all() == []


async def test_img2img_uploads_the_input_and_removes_it_afterwards(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        settings = make_settings(tmp_path, sim.url, comfy_input_dir=sim.root / 'input')
        async with services(settings) as app:
            stored = app.storage.save(owner=USER_A, kind='input', data=png_bytes(96, 64), meta={})
            await app.writer.write(
                lambda db: db.add(
                    Image(
                        id=stored.id,
                        owner=USER_A,
                        kind='input',
                        rel_path=stored.rel_path,
                        thumb_path=stored.thumb_rel,
                        mime=stored.mime,
                        bytes=stored.bytes,
                        width=96,
                        height=64,
                        sha256=stored.sha256,
                    )
                )
            )
            uploads: list[str] = []
            sim_input = sim.root / 'input'
            app.jobs.changed.subscribe(lambda v: uploads.extend(p.name for p in sim_input.iterdir()))
            view = await app.jobs.submit(
                USER_A, 'sd15_img2img', {'prompt': 'make it blue', 'steps': 2, 'input_image': stored.id}
            )
            await wait_for(lambda: view.finished)
            assert view.status == 'completed', view.error
            assert any(view.id in name for name in uploads)  # it was uploaded under the job's name
            await wait_for(lambda: not any(sim_input.iterdir()))  # and removed after the job
            with pytest.raises(SubmitError):  # another user cannot use A's input image
                await app.jobs.submit(USER_B, 'sd15_img2img', {'prompt': 'x', 'input_image': stored.id})


async def test_log_lines_follow_enqueue_start_progress_complete(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger='vcc_ui.jobs')
    async with (
        simulator(tmp_path, step_delay=0.02) as sim,
        services(make_settings(tmp_path, sim.url, progress_log_min_ms=0, progress_log_step=25)) as app,
    ):
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 20})
        await wait_for(lambda: any(r.getMessage() == 'job_complete' for r in caplog.records))
    events = [r.getMessage() for r in caplog.records if getattr(r, 'job_id', None) == view.id]
    assert events[0] == 'enqueue' and events[1] == 'job_start' and events[-1] == 'job_complete'
    progress = [r.percent for r in caplog.records if r.getMessage() == 'job_progress']
    assert progress == sorted(progress) and 2 <= len(progress) <= 4  # throttled to every 25 %


async def test_workflow_missing_a_checkpoint_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        sim.checkpoints.remove('sim_sd15.safetensors')
        async with services(make_settings(tmp_path, sim.url)) as app:
            reason = await app.pool.precheck('sd15_txt2img')
            assert reason is not None and 'sim_sd15.safetensors' in reason
            assert await app.pool.precheck('test_pattern') is None


async def test_the_pipeline_runs_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy import text

    from vcc_ui.db import make_engine

    admin = make_engine(postgres_url)
    with admin.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
        conn.execute(text('DROP DATABASE IF EXISTS pipeline'))
        conn.execute(text('CREATE DATABASE pipeline'))
    admin.dispose()
    url = postgres_url.rsplit('/', 1)[0] + '/pipeline'
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url, database_url=url)) as app:
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 2})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
        page = await app.images.page(USER_A)
        assert [i.id for i in page.items] == view.image_ids


async def test_a_job_with_a_lora_runs_and_an_unknown_lora_fails_clearly(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        good = await app.jobs.submit(USER_A, 'sd15_lora_txt2img', {**PROMPT, 'steps': 2, 'lora': 'style_a.safetensors'})
        await wait_for(lambda: good.finished)
        assert good.status == 'completed', good.error
        with pytest.raises(SubmitError, match=r'nope\.safetensors'):
            await app.jobs.submit(USER_A, 'sd15_lora_txt2img', {**PROMPT, 'lora': 'nope.safetensors'})


async def test_a_lora_job_goes_to_a_server_that_has_the_lora(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'one') as one, simulator(tmp_path, 'two') as two:
        one.loras[:] = ['only_here.safetensors']
        async with services(make_settings(tmp_path, one.url, two.url)) as app:
            views = [
                await app.jobs.submit(
                    user, 'sd15_lora_txt2img', {**PROMPT, 'steps': 1, 'lora': 'only_here.safetensors'}
                )
                for user in (USER_A, USER_B, USER_C)
            ]
            await wait_for(lambda: all(v.finished for v in views))
            assert {v.status for v in views} == {'completed'}
            assert {v.server for v in views} == {app.pool.entries[1].health.name}


async def test_finished_jobs_leave_nothing_behind(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.02) as sim:
        settings = make_settings(tmp_path, sim.url, progress_log_min_ms=0, progress_log_step=10)
        async with services(settings) as app:
            views = []
            for round_ in range(3):
                for user in (USER_A, USER_B, USER_C):
                    views.append(await app.jobs.submit(user, 'sd15_txt2img', {**PROMPT, 'steps': 4, 'seed': round_}))
            sim.faults.fail_next = 3
            for user in (USER_A, USER_B, USER_C):
                views.append(await app.jobs.submit(user, 'sd15_txt2img', {**PROMPT, 'steps': 4}))
            await wait_for(lambda: all(v.finished for v in views), timeout=60)
            for user in (USER_A, USER_B):
                running = await app.jobs.submit(user, 'sd15_txt2img', {**PROMPT, 'steps': 100})
                queued = await app.jobs.submit(user, 'sd15_txt2img', PROMPT)
                await wait_for(lambda r=running: r.step >= 30)  # far enough to have logged job_progress lines
                await app.jobs.cancel(queued.id)
                await app.jobs.cancel(running.id)
                views += [running, queued]
            await wait_for(lambda: all(v.finished for v in views))
            assert [v.status for v in views].count('completed') == 9
            assert [v.status for v in views].count('failed') == 3
            assert [v.status for v in views].count('cancelled') == 4
            assert _kept_about(app.jobs, {v.id for v in views}) == []
            assert [(e.health.inflight, e.jobs) for e in app.pool.entries.values()] == [(0, set())]


def _kept_about(engine: object, job_ids: set[str]) -> list[str]:
    """Where the job engine still keeps something about these jobs, the bounded list of finished views aside."""
    found: list[str] = []
    seen: set[int] = set()

    def about(value: object) -> bool:
        if isinstance(value, str):
            return value in job_ids
        if isinstance(value, tuple):
            return any(about(v) for v in value)
        return getattr(getattr(value, 'view', value), 'id', None) in job_ids  # a JobView or a record holding one

    def walk(value: object, path: str) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if about(key) or about(item):
                    found.append(f'{path}[{key!r}]')
                else:
                    walk(item, f'{path}[{key!r}]')
        elif isinstance(value, list | set | frozenset | tuple | deque):
            for item in value:
                if about(item):
                    found.append(f'{path} holds {item!r:.80}')
                else:
                    walk(item, path)
        elif type(value).__module__.startswith('vcc_ui.services.jobs') and hasattr(value, '__dict__'):
            for name, attr in vars(value).items():
                if name != 'views':
                    walk(attr, f'{path}.{name}')

    walk(engine, 'jobs')
    return found


async def test_the_timeout_counts_from_execution_start_not_from_dispatch(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.1) as sim:
        settings = make_settings(
            tmp_path, sim.url, server_max_inflight=2, job_timeout_seconds=3.0, max_per_user_concurrent=2
        )
        async with services(settings) as app:
            first = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 150})  # longer than 3 s
            second = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'seed': 8, 'steps': 3})
            await wait_for(lambda: first.status == 'running' and second.status == 'dispatched' and second.waiting)
            await wait_for(lambda: second.finished, timeout=30)  # waited in ComfyUI's queue its whole timeout
            assert (first.status, second.status) == ('timed_out', 'completed'), second.error
            assert not second.waiting


async def test_an_image_records_every_param_of_its_job_and_the_workflow_version(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        asked = {
            **PROMPT,
            'steps': 33,
            'aspect_ratio': '16:9',
            'lora': 'style_a.safetensors',
            'lora_strength': 0.7,
            'cfg': 9.5,
            'sampler': 'heun',
        }
        view = await app.jobs.submit(USER_A, 'sd15_lora_txt2img', asked)
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
        workflow = app.registry.get('sd15_lora_txt2img')
        assert workflow is not None
        expected = {
            **asked,
            'negative_prompt': '',
            'batch_size': 1,
            'scheduler': 'normal',  # a declared parameter's default is recorded too
            'workflow_id': 'sd15_lora_txt2img',
            'mode': 'txt2img',
            'workflow_version': workflow.version,
        }
        image = await app.images.get(USER_A, view.image_ids[0])
        assert image is not None and image.params == expected
        with session(app.engine) as db:
            row = db.get(Image, view.image_ids[0])
        assert row is not None and row.params == expected
        assert app.storage.read_sidecar(row.rel_path)['params'] == expected
        assert (
            len(workflow.version) == 12
            and workflow.version == hashlib.sha256(workflow.source.read_bytes()).hexdigest()[:12]
        )
