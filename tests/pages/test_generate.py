"""The Generate page: workflow cards and modes, templates, the input slot, jobs from submit to result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from nicegui import ElementFilter, app, ui
from nicegui.testing import User

from tests.fixtures import wait_for
from tests.images import png_bytes
from vcc_ui.models import JobStatus
from vcc_ui.pages import generate
from vcc_ui.services import Services
from vcc_ui.services.job_form import unavailable, without_addresses
from vcc_ui.simulator import Simulator


def owner_of(user: User) -> str:
    """Return the anonymous id of the simulated browser."""
    return user.client.request.state.user


def value_of_text(user: User, marker: str) -> str:
    """Return the text of the one element with this marker."""
    return user.find(marker=marker).elements.pop().text


def value_of(user: User, marker: str) -> object:
    """Return the value of the one element with this marker."""
    return user.find(marker=marker).elements.pop().value


async def upload(user: User, data: bytes, name: str) -> None:
    """Hand a file to the input slot's uploader as the browser would."""
    uploader = user.find(ui.upload).elements.pop()
    await uploader.handle_uploads([ui.upload.SmallFileUpload(name, 'image/png', data)])


def stored_files(tmp_path: Path) -> list[Path]:
    """Return every file under the app's output folder."""
    return [p for p in (tmp_path / 'outputs').rglob('*') if p.is_file()]


async def test_img2img_tab_only_for_cards_that_link_an_edit_workflow(user: User) -> None:
    await user.open('/')
    await user.should_see(marker='workflow-sd15_txt2img')
    await user.should_see(marker='tab-img2img')
    user.find(marker='workflow-test_pattern').click()
    await user.should_not_see(marker='tab-img2img')
    await user.should_see(marker='tab-txt2img')
    await user.should_not_see(marker='workflow-sd15_img2img')  # a linked edit workflow gets no card of its own


async def test_switching_mode_switches_prompt_templates_and_hides_the_aspect_ratio(user: User) -> None:
    await user.open('/')
    assert (
        value_of(user, 'prompt') == 'a cozy cabin in a snowy forest at dusk, warm light in the windows, highly detailed'
    )
    await user.should_see('Portrait')
    await user.should_see(marker='aspect')
    await user.should_not_see(marker='input-slot')
    user.find(marker='tab-img2img').click()
    await user.should_see('Watercolor')
    await user.should_not_see('Portrait')
    assert value_of(user, 'prompt') == 'the same scene as a detailed oil painting, rich brush strokes'
    await user.should_not_see(marker='aspect')
    await user.should_not_see(marker='batch')
    await user.should_see(marker='input-slot')
    user.find(marker='tab-txt2img').click()
    await user.should_see('Portrait')
    await user.should_see(marker='aspect')


async def test_a_reload_shows_the_last_workflow_and_mode_and_fills_the_form_once(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    await user.open('/')
    user.find(marker='workflow-sd15_txt2img').click()
    user.find(marker='tab-img2img').click()
    await user.should_see('Watercolor')
    filled: list[str] = []
    apply = generate.GeneratePage._apply_workflow
    monkeypatch.setattr(
        generate.GeneratePage, '_apply_workflow', lambda page: (filled.append(page.mode), apply(page))[1]
    )
    await user.open('/')
    await user.should_see('Watercolor')
    await user.should_not_see('Portrait')
    assert value_of(user, 'prompt') == 'the same scene as a detailed oil painting, rich brush strokes'
    await user.should_see(marker='input-slot')
    assert filled == ['img2img']  # built on the last mode, not on the first workflow and then again


async def test_the_uploader_and_strip_thumbnails_are_built_when_the_input_image_is_first_needed(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await user.open('/')
    await services.images.upload_input(owner_of(user), png_bytes(), 'old.png')
    pages_read: list[str] = []
    page = services.images.page

    async def counted(owner: str, **kwargs: object) -> object:
        pages_read.append(owner)
        return await page(owner, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services.images, 'page', counted)
    await user.open('/')
    await user.should_see(marker='prompt')
    assert not pages_read  # txt2img: the strip's recent images are not read
    uploads = [r for r in app.routes if f'/_nicegui/client/{user.client.id}/upload/' in getattr(r, 'path', '')]
    built = user.client.elements.values()
    assert not [e for e in built if isinstance(e, ui.upload)] and not uploads  # txt2img: no uploader, no route
    assert not [e for e in built if 'strip-thumb' in e._markers]
    user.find(marker='tab-img2img').click()
    await user.should_see(marker='input-upload')
    await user.should_see(marker='strip-thumb')  # the user's recent image, read when the strip first shows
    assert pages_read == [owner_of(user)]
    await upload(user, png_bytes(80, 60), 'cat.png')
    await user.should_see('cat.png')


async def test_a_template_fills_prompt_and_negative_prompt(user: User) -> None:
    await user.open('/')
    user.find(marker='template', content='Landscape').click()
    assert str(value_of(user, 'prompt')).startswith('wide landscape of misty mountains')
    assert value_of(user, 'negative') == 'blurry, lowres, oversaturated, watermark, text'


async def test_a_bad_upload_is_refused_clearly_and_nothing_is_stored(
    user: User, services: Services, tmp_path: Path
) -> None:
    await user.open('/')
    user.find(marker='tab-img2img').click()
    await upload(user, b'this is not an image at all', 'fake.png')
    await user.should_see('The file is not a readable PNG, JPEG or WEBP image')
    await user.should_not_see(marker='input-preview')
    assert stored_files(tmp_path) == []
    assert (await services.images.page(owner_of(user), kind='input')).total == 0


async def test_an_uploaded_image_becomes_the_input_and_clear_removes_it(user: User, services: Services) -> None:
    await user.open('/')
    user.find(marker='tab-img2img').click()
    await upload(user, png_bytes(80, 60), 'cat.png')
    await user.should_see(marker='input-preview')
    await user.should_see('cat.png')
    assert (await services.images.page(owner_of(user), kind='input')).total == 1
    user.find(marker='input-clear').click()
    await user.should_not_see(marker='input-preview')


async def test_a_job_goes_from_generate_through_progress_to_its_result(
    user: User, services: Services, sim: Simulator
) -> None:
    sim.faults.step_delay = 0.05
    await user.open('/')
    user.find(marker='generate').click()
    await user.should_see(marker='job-card')
    await wait_for(lambda: any(v.step >= 3 for v in services.jobs.jobs_of(owner_of(user))))
    live = user.find(marker='job-live').elements.pop()
    assert 0 < live.state['progress'] < 1  # the job feed keeps the live part's state, sent to the tabs, current
    await wait_for(lambda: all(v.finished for v in services.jobs.jobs_of(owner_of(user))))
    await user.should_see(marker='job-thumb', retries=20)
    await user.should_see('Done')
    await user.should_not_see(marker='job-live')
    view = services.jobs.jobs_of(owner_of(user))[0]
    assert view.status == JobStatus.COMPLETED and view.workflow_id == 'sd15_txt2img'
    user.find(marker='job-thumb').click()
    await user.should_see(marker='lightbox')
    assert value_of_text(user, 'meta-meta_workflow') == 'SD 1.5 text to image'  # the card's name, not its id


async def test_img2img_runs_the_linked_workflow_with_the_image_from_the_strip(user: User, services: Services) -> None:
    await user.open('/')
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.finished for v in services.jobs.jobs_of(owner_of(user))))
    user.find(marker='tab-img2img').click()
    await user.should_see(marker='strip-thumb', retries=20)
    user.find(marker='strip-thumb').click()  # the touch fallback of dragging a thumbnail onto the slot
    await user.should_see(marker='input-preview', retries=20)
    inputs = await services.images.page(owner_of(user), kind='input')
    assert inputs.total == 1  # the generated image was copied into the inputs library
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 2)
    edit = services.jobs.jobs_of(owner_of(user))[-1]
    assert edit.workflow_id == 'sd15_img2img'
    assert edit.params['input_image'] == inputs.items[0].id
    await wait_for(lambda: edit.finished)
    assert edit.status == JobStatus.COMPLETED, edit.error


async def test_img2img_without_an_input_image_says_so_and_queues_nothing(user: User, services: Services) -> None:
    await user.open('/')
    user.find(marker='tab-img2img').click()
    user.find(marker='generate').click()
    await user.should_see(marker='input-error')
    assert services.jobs.jobs_of(owner_of(user)) == []


async def test_cancel_stops_a_running_job(user: User, services: Services, sim: Simulator) -> None:
    sim.faults.step_delay = 0.2
    await user.open('/')
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.status == JobStatus.RUNNING for v in services.jobs.jobs_of(owner_of(user))))
    user.find(marker='job-cancel').click()
    await wait_for(lambda: all(v.status == JobStatus.CANCELLED for v in services.jobs.jobs_of(owner_of(user))))
    await user.should_see('Cancelled')
    await user.should_not_see(marker='job-cancel')


@pytest.mark.app_env(MAX_PER_USER_QUEUE='0', MAX_PER_USER_CONCURRENT='1')
async def test_a_full_queue_gets_a_clear_message(user: User, services: Services, sim: Simulator) -> None:
    sim.faults.step_delay = 0.5
    await user.open('/')
    button = user.find(marker='generate').elements.pop()
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 1 and not button.props.get('loading'))
    user.find(marker='generate').click()
    await user.should_see(
        'You already have 1 job(s) running (limit 1). Wait for one to finish or cancel it.', retries=20
    )
    await user.should_see(marker='generate-message')
    assert len(services.jobs.jobs_of(owner_of(user))) == 1


@pytest.mark.app_env(MAX_PER_USER_QUEUE='1', MAX_PER_USER_CONCURRENT='1')
async def test_refusals_are_said_in_korean_with_their_figures(user: User, services: Services, sim: Simulator) -> None:
    user.http_client.headers['Accept-Language'] = 'ko-KR,ko;q=0.9'
    sim.faults.step_delay = 0.5
    await user.open('/')
    user.find(marker='seed-random').elements.pop().set_value(False)
    user.find(marker='seed').elements.pop().set_value(-5)
    user.find(marker='generate').click()
    await user.should_see('입력값을 확인하세요: 시드 값은 0 이상이어야 합니다.', retries=20)
    assert services.jobs.jobs_of(owner_of(user)) == []
    user.find(marker='seed').elements.pop().set_value(7)
    button = user.find(marker='generate').elements.pop()
    for count in (1, 2):
        user.find(marker='generate').click()
        await wait_for(
            lambda count=count: len(services.jobs.jobs_of(owner_of(user))) == count and not button.props.get('loading')
        )
    user.find(marker='generate').click()
    await user.should_see(
        '이미 작업 1개가 대기 중입니다 (최대). 작업이 끝나거나 취소한 뒤 다시 시도하세요.', retries=20
    )
    assert len(services.jobs.jobs_of(owner_of(user))) == 2


async def test_comfyui_down_is_caught_by_the_precheck_and_nothing_is_queued(
    user: User, services: Services, sim: Simulator
) -> None:
    await user.open('/')
    await sim.go_down()
    await wait_for(lambda: not any(e.health.reachable for e in services.pool.entries.values()))
    await user.should_see('New jobs are refused until a server is back.')  # the banner says what Generate does
    user.find(marker='generate').click()
    await user.should_see('No ComfyUI server is reachable right now, so nothing was queued.', retries=40)
    assert services.jobs.jobs_of(owner_of(user)) == []
    address = sim.url.removeprefix('http://')
    banner = ' '.join(label.text for label in user.find(marker='health-banner-text').elements)
    assert banner and address not in banner  # a beta user never sees the internal server address


async def test_a_job_started_elsewhere_appears_and_finished_jobs_survive_a_reload(
    user: User, services: Services
) -> None:
    await user.open('/')
    await user.should_see(marker='jobs-empty')
    view = await services.jobs.submit(owner_of(user), 'test_pattern', {'prompt': 'from another tab', 'seed': 7})
    await user.should_see('from another tab', retries=20)
    await wait_for(lambda: view.finished)
    await user.open('/')
    await user.should_see('from another tab', retries=20)
    await user.should_see(marker='job-thumb', retries=20)


async def test_two_users_do_not_see_each_others_jobs(create_user: Callable[[], User], services: Services) -> None:
    alice, bob = create_user(), create_user()
    await alice.open('/')
    await bob.open('/')
    assert owner_of(alice) != owner_of(bob)
    alice.find(marker='template', content='Product shot').click()
    alice.find(marker='generate').click()
    await alice.should_see(marker='job-card', retries=20)
    await wait_for(lambda: all(v.finished for v in services.jobs.jobs_of(owner_of(alice))))
    await bob.should_not_see(marker='job-card')
    await bob.open('/')
    await bob.should_not_see(marker='job-card')
    await bob.should_see(marker='jobs-empty')


async def test_progress_steps_update_20_visible_jobs_in_place_without_rebuilding(
    user: User, services: Services, sim: Simulator
) -> None:
    await user.open('/')
    owner = owner_of(user)
    for _ in range(19):
        done = await services.jobs.submit(owner, 'test_pattern', {'prompt': 'earlier', 'seed': 1})
        await wait_for(lambda done=done: done.finished)
    await wait_for(lambda: len_marked(user, 'job-thumb') == 8)  # the newest finished jobs are shown
    await user.should_see('Show 11 older jobs')  # ... the rest wait behind a button
    user.find(marker='jobs-more').click()
    await wait_for(lambda: len_marked(user, 'job-thumb') == 19)  # every finished card shows its result
    await user.should_not_see(marker='jobs-more')
    sim.faults.step_delay = 0.05
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.step >= 2 for v in services.jobs.jobs_of(owner)))
    panel = user.find(marker='jobs-panel').elements.pop()
    assert len(user.find(marker='job-card').elements) == 20
    live = next(iter(user.find(marker='job-live').elements))
    elements, step = {e.id for e in panel.descendants()}, live.state['step']
    await wait_for(lambda: any(v.step >= 8 for v in services.jobs.jobs_of(owner)))
    assert {e.id for e in panel.descendants()} == elements
    assert live.state['step'] > step


async def test_switching_the_language_keeps_what_was_typed(user: User) -> None:
    user.http_client.headers['Accept-Language'] = 'en'
    await user.open('/')
    user.find(marker='workflow-test_pattern').click()
    user.find(marker='prompt').clear().type('my own words')
    user.find(marker='seed-random').elements.pop().set_value(False)
    user.find(marker='seed').elements.pop().set_value(1234)
    user.find(marker='lang-switch').elements.pop().set_value('ko')
    await user.should_see('생성')
    assert value_of(user, 'prompt') == 'my own words'
    assert value_of(user, 'seed') == 1234 and value_of(user, 'seed-random') is False
    assert 'ring-2' in user.find(marker='workflow-test_pattern').elements.pop().classes


async def test_a_fixed_seed_must_be_given(user: User, services: Services) -> None:
    await user.open('/')
    user.find(marker='seed-random').elements.pop().set_value(False)
    user.find(marker='generate').click()
    await user.should_see('Enter a seed, or turn on random seed.')
    assert services.jobs.jobs_of(owner_of(user)) == []


@pytest.mark.app_env(SERVER_MAX_INFLIGHT='2', MAX_PER_USER_CONCURRENT='2')
async def test_a_job_waiting_in_comfyuis_own_queue_says_so(user: User, services: Services, sim: Simulator) -> None:
    sim.faults.step_delay = 0.3
    await user.open('/')
    button = user.find(marker='generate').elements.pop()
    for count in (1, 2):
        user.find(marker='generate').click()
        await wait_for(
            lambda count=count: len(services.jobs.jobs_of(owner_of(user))) == count and not button.props.get('loading')
        )
    await wait_for(lambda: any(v.waiting for v in services.jobs.jobs_of(owner_of(user))))
    await wait_for(lambda: any(live.state['waiting'] for live in user.find(marker='job-live').elements))
    live = next(live for live in user.find(marker='job-live').elements if live.state['waiting'])
    assert live.props['texts']['waiting'] == 'Waiting on the server (another job runs there first)'  # shown by it
    for view in services.jobs.jobs_of(owner_of(user)):
        await services.jobs.cancel(view.id)


async def test_generate_again_restores_every_param_of_the_image(user: User, services: Services) -> None:
    await user.open('/')
    asked = {
        'prompt': 'a fox at dawn',
        'seed': 9,
        'steps': 33,
        'aspect_ratio': '16:9',
        'lora': 'style_a.safetensors',
        'lora_strength': 0.7,
    }
    view = await services.jobs.submit(owner_of(user), 'sd15_lora_txt2img', asked)
    await wait_for(lambda: view.finished)
    assert view.status == JobStatus.COMPLETED, view.error
    await user.open(f'/?from={view.image_ids[0]}')
    await user.should_see(marker='lora-select')  # the form is filled by a task after the page is built
    await wait_for(lambda: value_of(user, 'lora-select') == 'style_a.safetensors')
    assert value_of(user, 'prompt') == 'a fox at dawn'
    assert (value_of(user, 'steps'), value_of(user, 'aspect'), value_of(user, 'seed')) == (33, '16:9', 9)
    assert value_of(user, 'seed-random') is False
    assert value_of(user, 'lora-strength') == 0.7
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 2)
    again = services.jobs.jobs_of(owner_of(user))[-1]
    assert (again.workflow_id, again.params) == ('sd15_lora_txt2img', view.params)


async def test_a_missing_checkpoint_is_named_its_cards_marked_and_a_runnable_one_chosen(
    user: User, services: Services, sim: Simulator
) -> None:
    sim.catalogue.checkpoints.remove('sim_sd15.safetensors')
    for entry in services.pool.entries.values():
        entry.object_info = {}
    await services.pool.check_all()
    await user.open('/')
    await user.should_see(marker='unavailable-sd15_txt2img')
    await user.should_not_see(marker='unavailable-test_pattern')
    assert 'ring-2' in user.find(marker='workflow-test_pattern').elements.pop().classes
    user.find(marker='workflow-sd15_txt2img').click()
    reason = "This workflow cannot run now, so nothing can be queued: no checkpoint 'sim_sd15.safetensors'"
    await user.should_see(reason)
    user.find(marker='generate').click()
    await user.should_see(reason)
    assert services.jobs.jobs_of(owner_of(user)) == []


def test_job_errors_shown_to_users_carry_no_server_address() -> None:
    text = 'ComfyUI server 10.0.0.7:8188 stopped responding: Cannot connect to host http://10.0.0.7:8188/ws [refused]'
    assert without_addresses(text) == 'ComfyUI server … stopped responding: Cannot connect to host … [refused]'


async def test_a_typed_prompt_survives_a_mode_switch_a_card_click_and_a_reload(user: User) -> None:
    await user.open('/')
    user.find(marker='prompt').elements.pop().set_value('my own fox')
    user.find(marker='tab-img2img').click()
    assert value_of(user, 'prompt') == 'the same scene as a detailed oil painting, rich brush strokes'
    user.find(marker='prompt').elements.pop().set_value('my fox, edited')
    user.find(marker='tab-txt2img').click()
    assert value_of(user, 'prompt') == 'my own fox'
    user.find(marker='workflow-test_pattern').click()
    user.find(marker='workflow-sd15_txt2img').click()
    assert value_of(user, 'prompt') == 'my own fox'
    user.find(marker='tab-img2img').click()
    assert value_of(user, 'prompt') == 'my fox, edited'
    await user.open('/')
    await user.should_see(marker='prompt')
    assert value_of(user, 'prompt') == 'my fox, edited'  # the workflow and mode last used, with their draft


async def test_the_prompt_history_keeps_submitted_prompts_and_filters_them(user: User, services: Services) -> None:
    await user.open('/')
    button = user.find(marker='generate').elements.pop()
    for count, prompt in enumerate(('a red fox', 'a blue whale'), start=1):
        user.find(marker='prompt').elements.pop().set_value(prompt)
        user.find(marker='generate').click()
        await wait_for(
            lambda count=count: len(services.jobs.jobs_of(owner_of(user))) == count and not button.props.get('loading')
        )
    user.find(marker='prompt').elements.pop().set_value('')
    user.find(marker='prompt-history').click()
    await user.should_see(marker='history-item', content='a blue whale')
    user.find(marker='history-filter').elements.pop().set_value('fox')
    await user.should_not_see(marker='history-item', content='a blue whale')
    user.find(marker='history-item', content='a red fox').click()
    assert value_of(user, 'prompt') == 'a red fox'


async def test_a_finished_card_retries_with_the_same_params_and_links_the_gallery(
    user: User, services: Services, sim: Simulator
) -> None:
    sim.faults.step_delay = 0.1
    await user.open('/')
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.preview_seq for v in services.jobs.jobs_of(owner_of(user))))
    user.find(marker='job-live').trigger('zoom')  # a click on the preview the browser renders
    await user.should_see(marker='job-preview-full')  # the live preview full size, in place
    await wait_for(lambda: all(v.finished for v in services.jobs.jobs_of(owner_of(user))))
    await user.should_see(marker='job-gallery', retries=40)
    user.find(marker='job-retry').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 2)
    first, again = services.jobs.jobs_of(owner_of(user))
    assert (again.workflow_id, again.params) == (first.workflow_id, first.params)


async def test_a_finished_job_whose_images_were_deleted_says_deleted(user: User, services: Services) -> None:
    await user.open('/')
    owner = owner_of(user)
    view = await services.jobs.submit(owner, 'test_pattern', {'prompt': 'soon gone', 'seed': 7})
    await wait_for(lambda: view.finished)
    assert view.status == JobStatus.COMPLETED and view.image_ids
    await services.images.bulk_delete(owner, view.image_ids)
    await user.open('/')
    await user.should_see('soon gone', retries=20)
    await user.should_see(marker='job-deleted', retries=20)
    await user.should_see('The images of this job were deleted.')
    assert value_of_text(user, 'job-status') == 'Deleted'
    await user.should_not_see(marker='job-thumb')


def len_marked(user: User, marker: str) -> int:
    """How many visible elements carry this marker now (none is fine, where user.find raises)."""
    with user.client:
        return len(list(ElementFilter(marker=marker, only_visible=True, local_scope=False)))


async def test_older_history_waits_behind_the_button_and_its_images_come_in_one_query(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await user.open('/')
    owner = owner_of(user)
    views = []
    for n in range(10):
        view = await services.jobs.submit(owner, 'test_pattern', {'prompt': f'history {n}', 'seed': n})
        await wait_for(lambda view=view: view.finished)
        views.append(view)
    images = [i for view in reversed(views) for i in view.image_ids]  # the newest job's first
    first = user.find(marker='jobs-panel').elements.pop()
    await wait_for(lambda: len([e for e in first.descendants() if 'job-thumb' in e._markers]) == 10)  # all read
    lookups: list[list[str]] = []
    many = services.images.many

    async def counted(owner: str, image_ids: list[str]) -> dict:
        lookups.append(list(image_ids))
        return await many(owner, image_ids)

    async def one_by_one(owner: str, image_id: str) -> None:
        raise AssertionError('an image was read on its own')

    monkeypatch.setattr(services.images, 'many', counted)
    monkeypatch.setattr(services.images, 'get', one_by_one)
    await user.open('/')
    await wait_for(lambda: len_marked(user, 'job-thumb') == 8)  # the newest finished jobs are shown
    await user.should_see('Show 2 older jobs')
    panel = user.find(marker='jobs-panel').elements.pop()
    assert len([e for e in panel.descendants() if 'job-card' in e._markers]) == 8  # the older two are not built yet
    assert lookups == [images[:8]]  # one query for the cards built
    row = next(e for e in user.client.elements.values() if 'thumb-strip' in e._markers)
    assert not list(row)  # hidden in txt2img: its thumbnails are built when it first shows
    user.find(marker='tab-img2img').click()
    await wait_for(lambda: len(list(row)) >= len(images))
    assert [e.props['data-image-id'] for e in row][: len(images)] == images  # the strip shows them, newest first
    user.find(marker='jobs-more').click()
    await wait_for(lambda: len_marked(user, 'job-thumb') == 10)
    await user.should_not_see(marker='jobs-more')
    thumbs = [e.props['data-image-id'] for e in panel.descendants() if 'job-thumb' in e._markers]
    assert thumbs == images and lookups == [images[:8]]  # the strip's images were known already


async def test_a_health_round_that_changes_nothing_leaves_the_tab_alone(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """500 tabs re-marking every card for each of 50 servers every 5 s starved the app; only a shown change counts."""
    from vcc_ui.pages.generate import GeneratePage

    await user.open('/')
    await user.should_see(marker='generate-form')
    marked: list[GeneratePage] = []
    servers_changed = GeneratePage._servers_changed
    monkeypatch.setattr(GeneratePage, '_servers_changed', lambda page: (marked.append(page), servers_changed(page)))
    await services.pool.check_all()
    await services.pool.check_all()
    assert marked == []
    entry = next(iter(services.pool.entries.values()))
    await services.pool.set_enabled(entry.id, False)
    assert len(marked) == 1
    await user.should_see(marker='generate-form')


async def test_a_server_change_works_out_each_workflow_once_for_all_open_tabs(
    user: User, create_user: Callable[[], User], services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every tab marks its cards on a server change; what a workflow lacks is worked out once, not once per tab."""
    await user.open('/')
    await user.should_see(marker='generate-form')
    second = create_user()
    await second.open('/')
    await second.should_see(marker='generate-form')
    asked: list[str] = []
    reason = services.pool.unavailable_reason
    monkeypatch.setattr(services.pool, 'unavailable_reason', lambda w: (asked.append(w), reason(w))[1])
    entry = next(iter(services.pool.entries.values()))
    await services.pool.update_server(entry.id, name='renamed')
    assert asked and len(asked) == len(set(asked))
    asked.clear()
    assert unavailable(services.pool, 'sd15_txt2img') == unavailable(services.pool, 'sd15_txt2img')
    assert asked == ['sd15_txt2img', 'sd15_txt2img']  # outside a change: worked out every time, never stale
