"""The Generate form's declared parameters (controls, the Advanced fold, restoring them) and the upscale mode tab."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.fixtures import wait_for
from tests.images import png_bytes
from tests.pages.test_generate import owner_of, upload, value_of
from vcc_ui.models import JobStatus
from vcc_ui.services import Services
from vcc_ui.simulator import Simulator


def element(user: User, marker: str) -> ui.element:
    """Return the one element with this marker."""
    return user.find(marker=marker).elements.pop()


async def test_declared_params_get_controls_from_the_server_and_advanced_ones_fold_away(
    user: User, services: Services
) -> None:
    await user.open('/')
    await user.should_see(marker='params-advanced')
    fold = element(user, 'params-advanced')
    assert isinstance(fold, ui.expansion) and not fold.value  # folded by default
    cfg, sampler = element(user, 'param-cfg'), element(user, 'param-sampler')
    assert isinstance(cfg, ui.slider) and (cfg.props['min'], cfg.props['max'], cfg.props['step']) == (1.0, 20.0, 0.5)
    assert isinstance(sampler, ui.select) and sampler.value == 'euler'
    assert 'dpmpp_2m' in sampler.options and len(sampler.options) > 30  # the simulator's own list
    user.find(marker='tab-img2img').click()
    await user.should_see(marker='param-denoise')
    denoise = element(user, 'param-denoise')
    assert denoise.value == 0.6 and element(user, 'params-main').visible  # not advanced: shown unfolded
    denoise.set_value(0.35)
    element(user, 'param-sampler').set_value('heun')
    user.find(marker='tab-txt2img').click()
    element(user, 'param-cfg').set_value(9.5)
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 1)
    job = services.jobs.jobs_of(owner_of(user))[0]
    assert (job.params['cfg'], job.params['sampler'], job.params['scheduler']) == (9.5, 'euler', 'normal')
    await wait_for(lambda: job.finished)
    assert job.status == JobStatus.COMPLETED, job.error


async def test_the_test_pattern_card_has_an_upscale_tab_that_takes_an_image_and_a_factor(
    user: User, services: Services
) -> None:
    await user.open('/')
    user.find(marker='workflow-test_pattern').click()
    await user.should_see(marker='tab-upscale')
    await user.should_not_see(marker='tab-img2img')
    await user.should_see(marker='prompt')
    await user.should_see('Ctrl+Enter')
    user.find(marker='tab-upscale').click()
    await user.should_see(marker='input-slot')
    await user.should_not_see(marker='prompt')  # the upscale graph takes no prompt
    await user.should_not_see('Ctrl+Enter')  # no prompt to press Ctrl+Enter in
    await user.should_not_see(marker='aspect')
    await user.should_not_see(marker='seed-random')  # the graph takes no seed
    await user.should_not_see(marker='params-advanced')
    factor = element(user, 'param-factor')
    assert isinstance(factor, ui.slider) and factor.value == 2.0 and factor.props['max'] == 4.0
    assert element(user, 'param-upscale_method').value == 'bicubic'
    user.find(marker='generate').click()
    await user.should_see(marker='input-error')  # no image yet: nothing queued
    assert services.jobs.jobs_of(owner_of(user)) == []
    await upload(user, png_bytes(40, 30), 'small.png')
    await user.should_see(marker='input-preview', retries=20)
    factor.set_value(1.5)
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 1)
    job = services.jobs.jobs_of(owner_of(user))[0]
    assert job.workflow_id == 'upscale' and job.params['factor'] == 1.5
    await wait_for(lambda: job.finished)
    assert job.status == JobStatus.COMPLETED, job.error
    image = await services.images.get(owner_of(user), job.image_ids[0])
    assert image is not None and (image.width, image.height) == (60, 45)


async def test_generate_again_restores_declared_params_in_their_mode(user: User, services: Services) -> None:
    await user.open('/')
    stored = await services.images.upload_input(owner_of(user), png_bytes(64, 48), 'in.png')
    asked = {'prompt': 'a fox', 'steps': 2, 'input_image': stored.id, 'denoise': 0.25, 'cfg': 4.5, 'sampler': 'heun'}
    view = await services.jobs.submit(owner_of(user), 'sd15_img2img', asked)
    await wait_for(lambda: view.finished)
    assert view.status == JobStatus.COMPLETED, view.error
    await user.open(f'/?from={view.image_ids[0]}')
    await user.should_see(marker='param-denoise', retries=100)  # the form is filled by a task after the page is built
    await wait_for(lambda: value_of(user, 'param-denoise') == 0.25)
    assert (value_of(user, 'param-cfg'), value_of(user, 'param-sampler')) == (4.5, 'heun')
    assert value_of(user, 'mode-tabs') == 'img2img'
    await user.should_see(marker='input-preview', retries=100)  # the input image comes back last
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 2)
    again = services.jobs.jobs_of(owner_of(user))[-1]
    assert again.workflow_id == 'sd15_img2img'
    assert {k: again.params[k] for k in ('denoise', 'cfg', 'sampler', 'scheduler')} == {
        'denoise': 0.25,
        'cfg': 4.5,
        'sampler': 'heun',
        'scheduler': 'normal',
    }


async def test_a_refused_param_is_said_in_korean_with_its_label(user: User, services: Services) -> None:
    user.http_client.headers['Accept-Language'] = 'ko'
    await user.open('/')
    await user.should_see(marker='param-cfg')
    cfg = element(user, 'param-cfg')
    cfg.props['max'] = 100  # a control cannot go past its bounds; the service still says why
    cfg.set_value(30.0)
    user.find(marker='generate').click()
    await user.should_see('CFG 스케일 값은 20 이하여야 합니다.')
    assert services.jobs.jobs_of(owner_of(user)) == []


async def test_the_controls_follow_a_change_of_the_servers_catalogue_keeping_the_values(
    user: User, services: Services, sim: Simulator
) -> None:
    await user.open('/')
    await user.should_see(marker='param-sampler')
    element(user, 'param-sampler').set_value('heun')
    element(user, 'param-cfg').set_value(11.0)
    sim.catalogue.restrict('KSampler', 'sampler_name', ['euler', 'heun', 'lms'])
    for entry in services.pool.entries.values():
        entry.object_info = {}
    await services.pool.check_all()
    await wait_for(lambda: element(user, 'param-sampler').options == ['euler', 'heun', 'lms'])
    assert (value_of(user, 'param-sampler'), value_of(user, 'param-cfg')) == ('heun', 11.0)


async def test_the_lightbox_lists_declared_params_in_the_users_language_and_generate_again_keeps_them(
    user: User, services: Services
) -> None:
    user.http_client.headers['Accept-Language'] = 'ko'
    await user.open('/')
    asked = {'prompt': 'a fox', 'steps': 2, 'cfg': 4.5, 'sampler': 'heun'}
    view = await services.jobs.submit(owner_of(user), 'sd15_txt2img', asked)
    await wait_for(lambda: view.finished)
    assert view.status == JobStatus.COMPLETED, view.error
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='gallery-lightbox')
    await user.should_see('CFG 스케일')  # the declared label, in Korean
    assert element(user, 'meta-param-cfg').text == '4.5'
    assert (element(user, 'meta-param-sampler').text, element(user, 'meta-param-scheduler').text) == ('heun', 'normal')
    user.find(marker='lightbox-again').click()
    await user.should_see(marker='param-cfg', retries=100)
    await wait_for(lambda: value_of(user, 'param-cfg') == 4.5)
    assert value_of(user, 'param-sampler') == 'heun'
