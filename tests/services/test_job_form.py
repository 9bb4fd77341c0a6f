"""The Generate form's decisions: what a submit still needs and the job params it makes per workflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcc_ui.services.job_form import JobForm
from vcc_ui.services.workflows import GenerateParams, WorkflowRegistry

SHIPPED = Path(__file__).resolve().parents[2] / 'workflows'
IMAGE_ID = '0123456789abcdef0123456789abcdef'


@pytest.fixture(scope='module')
def registry() -> WorkflowRegistry:
    """A registry over the shipped workflows."""
    registry = WorkflowRegistry(SHIPPED)
    registry.load()
    return registry


def full_form(**changes: object) -> JobForm:
    """A form with every control filled."""
    values: dict = {
        'prompt': 'a fox',
        'negative_prompt': 'blurry',
        'random_seed': False,
        'seed': 7.0,
        'aspect_ratio': '3:2',
        'batch_size': 2,
        'steps': 25.0,
        'input_image': IMAGE_ID,
        'lora': 'style_a.safetensors',
        'lora_strength': 0.8,
    }
    return JobForm(**{**values, **changes})


def test_a_submit_needs_a_prompt_then_a_fixed_seed_then_an_input_image(registry: WorkflowRegistry) -> None:
    txt2img, img2img = registry.get('sd15_txt2img'), registry.get('sd15_img2img')
    assert txt2img and img2img
    assert full_form(prompt='  \n', seed=None, input_image=None).missing(img2img) == 'prompt'
    assert full_form(seed=None, input_image=None).missing(img2img) == 'seed'
    assert full_form(random_seed=True, seed=None, input_image=None).missing(img2img) == 'input_image'
    assert full_form(input_image=None).missing(txt2img) is None
    assert full_form().missing(img2img) is None


def test_params_carry_only_what_the_workflow_takes(registry: WorkflowRegistry) -> None:
    txt2img, img2img, lora, pattern = (
        registry.get(w) for w in ('sd15_txt2img', 'sd15_img2img', 'sd15_lora_txt2img', 'test_pattern')
    )
    assert txt2img and img2img and lora and pattern
    assert full_form().params(txt2img) == {
        'prompt': 'a fox',
        'negative_prompt': 'blurry',
        'seed': 7,
        'aspect_ratio': '3:2',
        'batch_size': 2,
        'steps': 25,
    }
    assert full_form().params(img2img) == {
        'prompt': 'a fox',
        'negative_prompt': 'blurry',
        'seed': 7,
        'steps': 25,
        'input_image': IMAGE_ID,
    }
    assert full_form(lora='').params(lora) == {
        **full_form().params(txt2img),
        'lora': None,
        'lora_strength': 0.8,
    }
    assert 'steps' not in full_form().params(pattern)
    for workflow in (txt2img, img2img, lora, pattern):
        workflow.check(GenerateParams(**full_form().params(workflow)))  # the service takes what the form makes


def test_a_random_seed_empty_settings_and_no_input_leave_their_params_to_the_workflow(
    registry: WorkflowRegistry,
) -> None:
    txt2img, img2img = registry.get('sd15_txt2img'), registry.get('sd15_img2img')
    assert txt2img and img2img
    form = JobForm(prompt='a fox', random_seed=True, seed=3.0, aspect_ratio=None, batch_size=None, steps=None)
    assert form.params(txt2img) == {'prompt': 'a fox', 'negative_prompt': '', 'batch_size': 1}
    assert form.params(img2img) == {'prompt': 'a fox', 'negative_prompt': '', 'input_image': None}


def test_an_upscale_form_needs_only_its_image_and_sends_its_declared_params(registry: WorkflowRegistry) -> None:
    upscale, img2img = registry.get('upscale'), registry.get('sd15_img2img')
    assert upscale and img2img
    empty = JobForm(prompt='', random_seed=False, seed=None, declared={'factor': 3.0, 'cfg': 9.0})
    assert empty.missing(upscale) == 'input_image'  # no prompt and no seed: the graph takes neither
    filled = JobForm(prompt='', random_seed=False, seed=5.0, input_image=IMAGE_ID, declared={'factor': 3.0, 'cfg': 9})
    assert filled.missing(upscale) is None
    assert filled.params(upscale) == {'input_image': IMAGE_ID, 'factor': 3.0}  # only what it declares
    assert upscale.check(GenerateParams(**filled.params(upscale))).model_extra == {
        'factor': 3.0,
        'upscale_method': 'bicubic',
    }
    assert full_form(declared={'denoise': 0.3}).params(img2img)['denoise'] == 0.3
