"""The Generate page's LoRA picker: shown for LoRA workflows, trigger words into the prompt, a job with a LoRA."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from nicegui import ElementFilter
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from tests.fake_civitai import fake_civitai
from tests.fixtures import wait_for
from vcc_ui.models import JobStatus
from vcc_ui.pages.widgets.lora_picker import merge_triggers
from vcc_ui.services import Services
from vcc_ui.simulator.loras import DEMO_LORAS, demo_bytes

STYLE = 'style_a.safetensors'


def owner_of(user: User) -> str:
    return user.client.request.state.user


def element(user: User, marker: str) -> Any:
    return user.find(marker=marker).elements.pop()


async def open_lora_workflow(user: User, services: Services) -> None:
    await services.ready.wait()
    await wait_for(lambda: all(e.object_info for e in services.pool.entries.values()))
    await user.open('/')
    user.find(marker='workflow-sd15_lora_txt2img').click()
    await user.should_see(marker='lora-picker')


def test_trigger_words_are_appended_once_comma_separated() -> None:
    assert merge_triggers('a cat', ['demo style', 'ink']) == 'a cat, demo style, ink'
    assert merge_triggers('a cat, Demo Style', ['demo style', 'ink', 'ink']) == 'a cat, Demo Style, ink'
    assert merge_triggers('a cat, ', ['ink']) == 'a cat, ink'
    assert merge_triggers('', ['ink', ' ']) == 'ink'
    assert merge_triggers('a cat', []) == 'a cat'


async def test_the_picker_shows_only_for_workflows_that_take_a_lora(user: User, services: Services) -> None:
    await services.ready.wait()
    await user.open('/')
    user.find(marker='workflow-sd15_txt2img').click()
    await user.should_not_see(marker='lora-picker')
    assert not [e for e in user.client.elements.values() if 'lora-select' in e._markers]  # built when first needed
    user.find(marker='workflow-sd15_lora_txt2img').click()
    await user.should_see(marker='lora-picker')
    await user.should_see(marker='lora-select')
    user.find(marker='workflow-test_pattern').click()
    await user.should_not_see(marker='lora-picker')


async def test_without_a_sync_the_servers_lora_names_are_offered(user: User, services: Services) -> None:
    await open_lora_workflow(user, services)
    select = element(user, 'lora-select')
    await wait_for(lambda: len(select.options) == 1 + len(DEMO_LORAS))
    assert set(select.options) == {'', *DEMO_LORAS}


@pytest.mark.bundled_simulator
async def test_a_lora_adds_its_trigger_words_and_a_job_with_it_completes(user: User, services: Services) -> None:
    await services.ready.wait()
    server_id = next(iter(services.pool.entries))
    async with fake_civitai() as civitai:
        civitai.add(
            hashlib.sha256(demo_bytes(STYLE, DEMO_LORAS[STYLE])).hexdigest(),
            model_id=5,
            version_id=51,
            trained_words=['demo style', 'ink'],
        )
        services.loras.civitai.base_url = civitai.base_url
        await services.loras.sync(server_id)
    assert services.loras.status_of(server_id).stage == 'done'
    await open_lora_workflow(user, services)
    select = element(user, 'lora-select')
    await wait_for(lambda: STYLE in select.options)
    assert select.options[STYLE] != STYLE  # the Civitai name is shown
    prompt = element(user, 'prompt')
    prompt.set_value('a lighthouse')
    select.set_value(STYLE)
    assert prompt.value == 'a lighthouse, demo style, ink'
    await user.should_see('Trigger words added to the prompt')
    select.set_value('')
    select.set_value(STYLE)
    assert prompt.value == 'a lighthouse, demo style, ink'
    element(user, 'lora-strength').set_value(0.5)
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.finished for v in services.jobs.jobs_of(owner_of(user))))
    view = services.jobs.jobs_of(owner_of(user))[0]
    assert view.status == JobStatus.COMPLETED, view.error
    assert view.workflow_id == 'sd15_lora_txt2img'
    assert view.params['lora'] == STYLE and view.params['lora_strength'] == 0.5
    assert view.params['prompt'] == 'a lighthouse, demo style, ink'


async def test_a_job_without_a_lora_bypasses_the_loader_and_completes(user: User, services: Services) -> None:
    await open_lora_workflow(user, services)
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.finished for v in services.jobs.jobs_of(owner_of(user))))
    view = services.jobs.jobs_of(owner_of(user))[0]
    assert view.status == JobStatus.COMPLETED, view.error
    assert view.params.get('lora') is None


async def test_workflows_without_a_lora_submit_no_lora_params(user: User, services: Services) -> None:
    await services.ready.wait()
    await user.open('/')
    user.find(marker='workflow-sd15_txt2img').click()
    user.find(marker='generate').click()
    await wait_for(lambda: len(services.jobs.jobs_of(owner_of(user))) == 1)
    view = services.jobs.jobs_of(owner_of(user))[0]
    assert 'lora' not in view.params and 'lora_strength' not in view.params


@pytest.mark.bundled_simulator
async def test_the_picker_shows_preview_triggers_and_warns_about_another_base_model(
    user: User, services: Services
) -> None:
    await services.ready.wait()
    server_id = next(iter(services.pool.entries))
    async with fake_civitai() as civitai:
        for name, base, words in [(STYLE, 'SDXL 1.0', ['demo style']), ('Zeta_Detail.safetensors', 'SD 1.5', ['zeta'])]:
            civitai.add(
                hashlib.sha256(demo_bytes(name, DEMO_LORAS[name])).hexdigest(),
                model_id=len(name),
                version_id=len(name) * 10,
                trained_words=words,
                base_model=base,
            )
        services.loras.civitai.base_url = civitai.base_url
        await services.loras.sync(server_id)
    await open_lora_workflow(user, services)
    select = element(user, 'lora-select')
    await wait_for(lambda: STYLE in select.options)
    assert select.options[STYLE].startswith('⚠')  # an SDXL LoRA offered to an SD 1.5 workflow
    assert not select.options['Zeta_Detail.safetensors'].startswith('⚠')

    user.find(marker='lora-browse').click()  # before choosing: every LoRA with its help
    await user.should_see(marker='lora-browser')
    await user.should_see(marker='lora-trigger', content='zeta')
    await user.should_see('Made for SDXL 1.0; this workflow uses SD 1.5: results may be poor.')
    await user.should_see(marker='lora-base', content='SD 1.5')
    [style_row] = [r for r in user.find(marker='lora-option').elements if STYLE in r.props['data-lora']]
    with user.client:
        [choose] = ElementFilter(marker='lora-choose', local_scope=False).within(instance=style_row)
    UserInteraction(user, {choose}, None).click()
    await wait_for(lambda: select.value == STYLE)
    await user.should_see(marker='lora-trigger', content='demo style')
    with user.client:  # still said under the select once chosen
        assert list(ElementFilter(marker='lora-warning', local_scope=False).within(marker='lora-chosen'))
