"""The registry's answers to the pages: what a card runs per mode, which card a workflow belongs to, the ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcc_ui.services.workflows import WorkflowRegistry

SHIPPED = Path(__file__).resolve().parents[2] / 'workflows'


@pytest.fixture(scope='module')
def registry() -> WorkflowRegistry:
    """A registry over the shipped workflows."""
    registry = WorkflowRegistry(SHIPPED)
    registry.load()
    return registry


def test_a_card_runs_its_linked_edit_workflow_only_in_img2img_mode(registry: WorkflowRegistry) -> None:
    txt2img, pattern = registry.get('sd15_txt2img'), registry.get('test_pattern')
    assert txt2img and pattern
    assert registry.for_mode(txt2img, 'img2img').id == 'sd15_img2img'
    assert registry.for_mode(txt2img, 'txt2img') is txt2img
    assert registry.for_mode(pattern, 'img2img') is pattern  # no linked edit workflow: the card's own


def test_the_card_of_a_workflow_is_its_own_or_the_one_linking_it(registry: WorkflowRegistry) -> None:
    assert (parent := registry.parent_of('sd15_img2img')) and parent.id == 'sd15_txt2img'
    assert (parent := registry.parent_of('test_pattern')) and parent.id == 'test_pattern'
    assert registry.parent_of('no_such_workflow') is None


def test_the_aspect_ratios_are_those_of_every_workflow_once_sorted(registry: WorkflowRegistry) -> None:
    assert registry.aspect_ratios() == ['16:9', '1:1', '2:3', '3:2', '9:16']
    assert WorkflowRegistry(SHIPPED / 'missing').aspect_ratios() == []
