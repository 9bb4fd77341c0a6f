"""ImageIndex.as_input: which image a job gets when the user picks one of theirs as its input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.fixtures import USER_A, USER_B
from tests.gallery import add_image, image_index
from vcc_ui.services.images import ImageIndex, ImageNotFound

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def index(engine: Engine, tmp_path: Path) -> AsyncIterator[ImageIndex]:
    async with image_index(engine, tmp_path) as built:
        yield built


async def test_an_input_is_used_as_it_is_and_a_generated_image_is_copied_first(index: ImageIndex) -> None:
    upload = await add_image(index, USER_A, created=DAY1, kind='input')
    generated = await add_image(index, USER_A, created=DAY1, prompt='castle')
    same = await index.as_input(USER_A, upload.id)
    assert same is not None and same.id == upload.id
    copy = await index.as_input(USER_A, generated.id)
    assert copy is not None and copy.id != generated.id and copy.kind == 'input' and copy.prompt == 'castle'
    assert (await index.page(USER_A, kind='input')).total == 2


async def test_unknown_other_users_and_trashed_generated_images_are_no_input(index: ImageIndex) -> None:
    generated = await add_image(index, USER_A, created=DAY1)
    assert await index.as_input(USER_B, generated.id) is None
    assert await index.as_input(USER_A, 'f' * 32) is None
    await index.delete(USER_A, generated.id)
    with pytest.raises(ImageNotFound):
        await index.as_input(USER_A, generated.id)
