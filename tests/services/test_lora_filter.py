"""The LoRA page's rules: search and filters, the choices they offer, match states, the server diff, base models."""

from __future__ import annotations

import pytest

from vcc_ui.models import CivitaiVersion
from vcc_ui.services.lora_filter import LoraFilter, filter_choices, match_state, uneven
from vcc_ui.services.lora_fit import lora_mismatch
from vcc_ui.services.loras import LoraView

STYLE = LoraView(
    server_id=1,
    name='styles\\watercolor.safetensors',
    sha256='a' * 64,
    size=10,
    civitai=CivitaiVersion(
        sha256='a' * 64,
        found=True,
        model_name='Soft Watercolor',
        version_name='v2',
        base_model='SD 1.5',
        trained_words=['wcstyle'],
        tags=['style', 'painting'],
    ),
)
DETAIL = LoraView(
    server_id=1,
    name='detail.safetensors',
    sha256='b' * 64,
    size=10,
    civitai=CivitaiVersion(sha256='b' * 64, found=True, model_name='Detailer', base_model='SDXL', tags=['tool']),
)
UNKNOWN = LoraView(
    server_id=1, name='mine.safetensors', sha256='c' * 64, size=10, civitai=CivitaiVersion(sha256='c' * 64)
)
PENDING = LoraView(server_id=1, name='pending.safetensors', sha256='d' * 64, size=10, civitai=None)
UNHASHED = LoraView(server_id=1, name='new.safetensors', sha256=None, size=10, civitai=None)
ALL_VIEWS = [STYLE, DETAIL, UNKNOWN, PENDING, UNHASHED]


def shown(lora_filter: LoraFilter) -> list[str]:
    return [view.name for view in ALL_VIEWS if lora_filter.admits(view)]


def test_no_filter_admits_every_lora() -> None:
    assert shown(LoraFilter()) == [view.name for view in ALL_VIEWS]


def test_the_search_looks_in_file_civitai_names_trigger_words_and_tags_ignoring_case() -> None:
    assert shown(LoraFilter(search='WATERCOLOR')) == [STYLE.name]
    assert shown(LoraFilter(search='v2')) == [STYLE.name]
    assert shown(LoraFilter(search='wcstyle')) == [STYLE.name]
    assert shown(LoraFilter(search='painting')) == [STYLE.name]
    assert shown(LoraFilter(search='mine')) == [UNKNOWN.name]
    assert shown(LoraFilter(search='nothing like it')) == []


def test_the_filters_narrow_by_match_base_model_and_tag_together() -> None:
    assert shown(LoraFilter(match='matched')) == [STYLE.name, DETAIL.name]
    assert shown(LoraFilter(match='unmatched')) == [UNKNOWN.name]
    assert shown(LoraFilter(match='pending')) == [PENDING.name]
    assert shown(LoraFilter(match='unhashed')) == [UNHASHED.name]
    assert shown(LoraFilter(base_model='SDXL')) == [DETAIL.name]
    assert shown(LoraFilter(tag='style')) == [STYLE.name]
    assert shown(LoraFilter(tag='style', base_model='SDXL')) == []
    assert shown(LoraFilter(match='unhashed', search='new')) == [UNHASHED.name]


def test_the_choices_are_the_base_models_and_tags_of_matched_loras_sorted() -> None:
    assert filter_choices(ALL_VIEWS) == (['SD 1.5', 'SDXL'], ['painting', 'style', 'tool'])
    assert filter_choices([UNKNOWN, UNHASHED]) == ([], [])


def test_a_lora_is_matched_unmatched_pending_until_civitai_answers_or_not_hashed_yet() -> None:
    assert [match_state(view) for view in ALL_VIEWS] == ['matched', 'matched', 'unmatched', 'pending', 'unhashed']


def test_the_diff_lists_by_name_the_loras_not_on_every_server() -> None:
    presence = {'b.safetensors': {1}, 'a.safetensors': {2}, 'both.safetensors': {1, 2}}
    assert uneven(presence, [1, 2]) == {'a.safetensors': {2}, 'b.safetensors': {1}}
    assert list(uneven(presence, [1, 2])) == ['a.safetensors', 'b.safetensors']
    assert uneven({'only.safetensors': {1}}, [1]) == {}


@pytest.mark.parametrize(
    ('workflow', 'lora', 'mismatch'),
    [
        ('SD 1.5', 'SDXL 1.0', True),
        ('SD 1.5', 'SD 1.4', False),
        ('SD 1.5', 'sd 1.5', False),
        ('SDXL 1.0', 'Pony', False),
        ('SDXL 1.0', 'Flux.1 D', True),
        ('SD 1.5', None, False),  # not on Civitai: nothing to warn about
        (None, 'SDXL 1.0', False),  # the workflow declares no base model
        ('SD 1.5', 'Some Future Model', True),
    ],
)
def test_a_lora_of_another_base_model_family_is_a_mismatch(
    workflow: str | None, lora: str | None, mismatch: bool
) -> None:
    assert lora_mismatch(workflow, lora) is mismatch
