"""The workflow studio page: import, expose, validate, test run, save, and another tab seeing the new mode."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from nicegui.testing import User

from tests.fixtures import wait_for
from tests.samples import FIXTURES
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE
from vcc_ui.services.jobs import JobManager, JobView
from vcc_ui.services.studio import HISTORY
from vcc_ui.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.app_env(ADMIN_PASSWORD='correct horse battery staple', ADMIN_USER='boss')


@pytest.fixture(autouse=True)
def workflows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app reads (and the studio writes) a copy of the shipped workflows."""
    folder = tmp_path / 'workflows'
    shutil.copytree(ROOT / 'workflows', folder, ignore=shutil.ignore_patterns('README.md'))
    monkeypatch.setenv('WORKFLOWS_DIR', str(folder))
    return folder


async def open_studio(user: User, services: Services) -> None:
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    await wait_for(lambda: bool(services.studio.catalogues()))
    await user.open('/admin/studio')
    await user.should_see(marker='studio-empty')


def value_of(user: User, marker: str) -> object:
    return next(iter(user.find(marker=marker).elements)).value


def set_value(user: User, marker: str, value: object) -> None:
    next(iter(user.find(marker=marker).elements)).set_value(value)


async def test_import_expose_check_save_and_another_tab_sees_the_new_mode(
    user: User, services: Services, workflows: Path, create_user: Callable[[], User]
) -> None:
    other = create_user()  # a beta tester's tab on the Generate page
    await other.open('/')
    await other.should_see(marker='workflow-test_pattern')
    await other.should_not_see(marker='workflow-pattern_big')
    next(iter(other.find(marker='steps').elements)).set_value(33)  # what they set stays while other modes come

    await open_studio(user, services)
    user.find(marker='studio-paste').type((FIXTURES / 'workflows_ui' / 'special_nodes.json').read_text())
    user.find(marker='studio-import').click()
    await user.should_see(marker='studio-node-1')
    await user.should_see('is bypassed: its inputs pass through')  # what the conversion changed
    await user.should_not_see(marker='studio-node-25')  # the note is gone
    for name in ('width', 'height'):
        user.find(marker=f'studio-input-1-{name}').click()
        await user.should_see(marker=f'studio-input-1-{name}-as')
        assert value_of(user, f'studio-input-1-{name}-as') == name
    user.find(marker='studio-input-1-color').click()  # not a built-in name: a declared parameter
    await user.should_see(marker='studio-input-1-color-id')
    set_value(user, 'studio-output', '3')  # the preview fed by the muted node goes
    await user.should_not_see(marker='studio-node-24')
    set_value(user, 'studio-id', 'pattern_big')
    set_value(user, 'studio-title-en', 'Big pattern')
    set_value(user, 'studio-title-ko', '큰 패턴')
    set_value(user, 'studio-sizes', '1:1=96x96, wide=128x64')
    await user.should_see(marker='studio-check-ok')
    user.find(marker='studio-save').click()
    await user.should_see(marker='studio-diff')
    await user.should_see('+  "id": "pattern_big",')
    user.find(marker='studio-save-confirm').click()
    await user.should_see('Saved pattern_big.json')

    saved = json.loads((workflows / 'pattern_big.json').read_text(encoding='utf-8'))
    assert saved['bindings'] == {
        'width': [{'node': '1', 'input': 'width'}],
        'height': [{'node': '1', 'input': 'height'}],
    }
    assert list(saved['params']) == ['color'] and saved['params']['color']['targets'] == {'node': '1', 'input': 'color'}
    assert set(saved['graph']) == {'1', '2', '3'}
    assert services.registry.get('pattern_big') is not None
    await other.should_see(marker='workflow-pattern_big')  # the other tab follows without a reload
    assert next(iter(other.find(marker='steps').elements)).value == 33


async def test_a_shipped_workflow_opens_and_saves_back_keeping_the_old_file(
    user: User, services: Services, workflows: Path
) -> None:
    before = (workflows / 'sd15_txt2img.json').read_bytes()
    await open_studio(user, services)
    set_value(user, 'studio-open-select', 'sd15_txt2img')
    user.find(marker='studio-open').click()
    await user.should_see(marker='studio-node-3')
    assert value_of(user, 'studio-input-3-seed-as') == 'seed'
    assert value_of(user, 'studio-sizes') == '1:1=512x512, 3:2=768x512, 2:3=512x768, 16:9=912x512, 9:16=512x912'
    await user.should_see(marker='studio-check-ok')
    user.find(marker='studio-save').click()
    user.find(marker='studio-save-confirm').click()
    await user.should_see('Saved sd15_txt2img.json')
    assert [p.read_bytes() for p in (workflows / HISTORY).glob('sd15_txt2img.*.json')] == [before]
    assert json.loads((workflows / 'sd15_txt2img.json').read_bytes()) == json.loads(before)


async def test_bad_input_says_why_and_changes_nothing(user: User, services: Services, workflows: Path) -> None:
    await open_studio(user, services)
    user.find(marker='studio-paste').type('{"nodes": [')
    user.find(marker='studio-import').click()
    await user.should_see('This is not valid JSON')
    await user.should_see(marker='studio-empty')
    user.find(marker='studio-paste').clear()
    user.find(marker='studio-paste').type(json.dumps(services.studio.open('test_pattern')['graph']))
    user.find(marker='studio-import').click()
    await user.should_see(marker='studio-node-1')
    await user.should_see(marker='studio-check-error')  # no id, no sizes yet: the reason is shown
    set_value(user, 'studio-sizes', '1:1=huge')
    sizes = next(iter(user.find(marker='studio-sizes').elements))
    assert sizes.props['error-message'] == 'Not accepted: "1:1=huge".'
    set_value(user, 'studio-id', '../escape')
    user.find(marker='studio-save').click()
    user.find(marker='studio-save-confirm').click()
    await user.should_see('Not accepted: "../escape".')
    assert {p.name for p in workflows.iterdir()} == {p.name for p in ROOT.joinpath('workflows').glob('*.json')}  # noqa: ASYNC240


async def test_a_test_run_shows_live_progress_and_its_result(user: User, services: Services, sim: Simulator) -> None:
    sim.faults.step_delay = 0.1  # 20 sampler steps: long enough to see the bar move
    await open_studio(user, services)
    set_value(user, 'studio-open-select', 'sd15_txt2img')
    user.find(marker='studio-open').click()
    await user.should_see(marker='studio-check-ok')
    seen: list[JobView] = []
    services.jobs.changed.subscribe(seen.append)
    user.find(marker='studio-test-run').click()
    await user.should_see(marker='job-card')
    await user.should_see(marker='job-live')  # live while it runs
    await wait_for(lambda: bool(seen) and seen[-1].finished, timeout=60)
    await user.should_see(marker='job-thumb')  # the result image
    job = seen[-1]
    assert job.workflow_id.startswith('studio-test-') and job.status == 'completed' and job.steps == 20
    assert job.server == next(iter(services.studio.catalogues()))
    assert all(not w.id.startswith('studio-test-') for w in services.registry.all())


async def test_a_test_run_is_refused_on_an_instance_that_does_not_dispatch(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JobManager, 'leading', property(lambda self: False))  # another instance holds the lead
    await open_studio(user, services)
    set_value(user, 'studio-open-select', 'sd15_txt2img')
    user.find(marker='studio-open').click()
    await user.should_see(marker='studio-check-ok')
    user.find(marker='studio-test-run').click()
    await user.should_see('This instance does not dispatch jobs')
    await user.should_not_see(marker='job-card')
    assert services.jobs.views == {}  # nothing queued that no instance could run
    assert all(not w.id.startswith('studio-test-') for w in services.registry.all())


async def test_a_combo_with_choices_and_a_float_with_default_and_step_reach_the_generate_form(
    user: User, services: Services, workflows: Path, create_user: Callable[[], User]
) -> None:
    await open_studio(user, services)
    set_value(user, 'studio-open-select', 'sd15_txt2img')
    user.find(marker='studio-open').click()
    await user.should_see(marker='studio-input-3-cfg-id')
    for name in ('cfg', 'sampler_name'):  # expose them afresh: off, then on as declared parameters
        user.find(marker=f'studio-input-3-{name}').click()
        await user.should_not_see(marker=f'studio-input-3-{name}-as')
        user.find(marker=f'studio-input-3-{name}').click()
        await user.should_see(marker=f'studio-input-3-{name}-default')
    set_value(user, 'studio-input-3-cfg-default', 6.5)
    set_value(user, 'studio-input-3-cfg-step', 0.5)
    set_value(user, 'studio-input-3-cfg-max', 12)
    set_value(user, 'studio-input-3-cfg-control', 'slider')
    set_value(user, 'studio-input-3-sampler_name-en', 'Sampler')
    set_value(user, 'studio-input-3-sampler_name-ko', '샘플러')
    set_value(user, 'studio-input-3-sampler_name-choices', ['euler', 'heun', 'lms'])
    set_value(user, 'studio-input-3-sampler_name-default', 'heun')
    set_value(user, 'studio-input-3-sampler_name-advanced', True)
    set_value(user, 'studio-id', 'sd15_tuned')
    set_value(user, 'studio-related', 'img2img=sd15_img2img, upscale=upscale')
    await user.should_see(marker='studio-check-ok')
    user.find(marker='studio-save').click()
    user.find(marker='studio-save-confirm').click()
    await user.should_see('Saved sd15_tuned.json')

    saved = json.loads((workflows / 'sd15_tuned.json').read_text(encoding='utf-8'))
    assert saved['params']['cfg'] == {
        'targets': {'node': '3', 'input': 'cfg'},
        'label': {'en': 'Cfg', 'ko': 'cfg'},
        'default': 6.5,
        'step': 0.5,
        'max': 12.0,
        'control': 'slider',
    }
    assert saved['params']['sampler_name'] == {
        'targets': {'node': '3', 'input': 'sampler_name'},
        'label': {'en': 'Sampler', 'ko': '샘플러'},
        'choices': ['euler', 'heun', 'lms'],
        'default': 'heun',
        'advanced': True,
    }
    assert saved['ui']['related'] == {'img2img': 'sd15_img2img', 'upscale': 'upscale'}

    other = create_user()
    other.http_client.headers['Accept-Language'] = 'ko'
    await other.open('/')
    other.find(marker='workflow-sd15_tuned').click()
    await other.should_see(marker='param-sampler_name')
    await other.should_see('샘플러')
    await other.should_see(marker='tab-upscale')
    cfg = next(iter(other.find(marker='param-cfg').elements))
    sampler = next(iter(other.find(marker='param-sampler_name').elements))
    assert (cfg.value, cfg.props['step'], cfg.props['max']) == (6.5, 0.5, 12.0)
    assert sampler.options == ['euler', 'heun', 'lms'] and sampler.value == 'heun'


async def test_a_free_mode_with_labels_saves_loads_and_becomes_a_tab_of_the_card_linking_it(
    user: User, services: Services, workflows: Path, create_user: Callable[[], User]
) -> None:
    await open_studio(user, services)
    set_value(user, 'studio-open-select', 'upscale')
    user.find(marker='studio-open').click()
    await user.should_see(marker='studio-node-1')
    assert (value_of(user, 'studio-mode'), value_of(user, 'studio-mode-label-ko')) == ('upscale', '업스케일')
    set_value(user, 'studio-id', 'enlarge')
    set_value(user, 'studio-mode', 'enlarge')
    set_value(user, 'studio-mode-label-en', 'Enlarge')
    set_value(user, 'studio-mode-label-ko', '확대')
    await user.should_see(marker='studio-check-ok')
    user.find(marker='studio-save').click()
    user.find(marker='studio-save-confirm').click()
    await user.should_see('Saved enlarge.json')
    set_value(user, 'studio-open-select', 'test_pattern')
    user.find(marker='studio-open').click()
    await user.should_see(marker='studio-node-1')
    assert value_of(user, 'studio-related') == 'upscale=upscale'
    set_value(user, 'studio-related', 'upscale=upscale, enlarge=enlarge')
    await user.should_see(marker='studio-check-ok')
    user.find(marker='studio-save').click()
    user.find(marker='studio-save-confirm').click()
    await user.should_see('Saved test_pattern.json')

    set_value(user, 'studio-open-select', 'enlarge')  # loads back as saved
    user.find(marker='studio-open').click()
    await wait_for(lambda: value_of(user, 'studio-mode') == 'enlarge')
    assert (value_of(user, 'studio-mode-label-en'), value_of(user, 'studio-mode-label-ko')) == ('Enlarge', '확대')
    saved = json.loads((workflows / 'enlarge.json').read_text(encoding='utf-8'))
    assert (saved['mode'], saved['mode_label']) == ('enlarge', {'en': 'Enlarge', 'ko': '확대'})

    other = create_user()
    other.http_client.headers['Accept-Language'] = 'ko'
    await other.open('/')
    other.find(marker='workflow-test_pattern').click()
    await other.should_see(marker='tab-enlarge')
    await other.should_see('확대')
    other.find(marker='tab-enlarge').click()
    await other.should_see(marker='param-factor')
