"""The inputs page: uploads by picker or drop, clear bilingual refusals, quota, control images, delete and restore."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.gallery import add_image
from tests.images import jpeg_bytes, png_bytes, webp_bytes
from tests.pages.test_gallery import expect, shown, visit
from tests.services.test_images import bomb_png
from vcc_ui.services import Services

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


async def upload(user: User, data: bytes, name: str, mime: str = 'image/png') -> None:
    """Hand a file to the page's uploader as the browser would after a drop or a pick."""
    uploader = user.find(ui.upload).elements.pop()
    await uploader.handle_uploads([ui.upload.SmallFileUpload(name, mime, data)])


async def test_uploads_of_each_accepted_type_join_the_library(user: User, services: Services) -> None:
    owner = await visit(user, services, '/inputs')
    await user.should_see('No input images yet.')
    await upload(user, png_bytes(40, 30), 'cat.png')
    await user.should_see('cat.png added to your inputs.')
    await upload(user, jpeg_bytes(), 'dog.jpg', 'image/jpeg')
    await upload(user, webp_bytes(), 'owl.webp', 'image/webp')
    await user.should_see('3 image(s)')
    rows = (await services.images.page(owner, kind='input')).items
    assert sorted(row.original_filename for row in rows) == ['cat.png', 'dog.jpg', 'owl.webp']
    await expect(user, [row.id for row in rows])
    await user.should_not_see(marker='inputs-message')


@pytest.mark.parametrize(
    ('data', 'message'),
    [
        (b'this is not an image at all', 'fake.png: not a readable PNG, JPEG or WEBP image.'),
        (b'GIF89a' + b'\0' * 64, 'fake.png: not a readable PNG, JPEG or WEBP image.'),
        (bomb_png(), 'fake.png: the image has too many pixels to be processed safely.'),
    ],
    ids=['text', 'gif', 'bomb'],
)
async def test_bad_uploads_are_refused_with_their_reason(
    user: User, services: Services, data: bytes, message: str
) -> None:
    owner = await visit(user, services, '/inputs')
    await upload(user, data, 'fake.png')
    await user.should_see(message)
    assert (await services.images.page(owner, kind='input')).total == 0


@pytest.mark.app_env(CONTROLS_MAX_BYTES='2000')
async def test_a_too_large_upload_is_refused_in_korean_too(user: User, services: Services) -> None:
    user.http_client.headers['Accept-Language'] = 'ko'
    owner = await visit(user, services, '/inputs')
    await upload(user, png_bytes(400, 400, color=(1, 2, 3, 4)) + b'\0' * 4000, 'big.png')
    await user.should_see('big.png: 파일이 너무 큽니다')
    assert (await services.images.page(owner, kind='input')).total == 0


@pytest.mark.app_env(QUOTA_MAX_IMAGES='1')
async def test_an_upload_over_quota_is_refused_with_what_to_delete(user: User, services: Services) -> None:
    owner = await visit(user, services, '/inputs')
    await upload(user, png_bytes(), 'one.png')
    await user.should_see('one.png added to your inputs.')
    await upload(user, png_bytes(color=(7, 7, 7)), 'two.png')
    await user.should_see(
        'Storage quota reached: Your storage is full (1 of 1 images used). '
        'Delete at least 1 image from your gallery or inputs to continue.'
    )
    assert (await services.images.page(owner, kind='input')).total == 1


async def test_control_images_are_listed_and_the_kind_switch_narrows(user: User, services: Services) -> None:
    owner = await visit(user, services, '/inputs')
    control = await add_image(services.images, owner, created=T0, kind='control')
    generated = await add_image(services.images, owner, created=T0, kind='generated')
    upload_row = await services.images.upload_input(owner, png_bytes(), 'mine.png')
    await user.open('/inputs')
    await expect(user, [upload_row.id, control.id])
    assert generated.id not in shown(user)
    user.find(marker='inputs-kind').elements.pop().set_value('control')
    await expect(user, [control.id])
    user.find(marker='inputs-kind').elements.pop().set_value('input')
    await expect(user, [upload_row.id])


async def test_delete_and_restore_an_input(user: User, services: Services) -> None:
    owner = await visit(user, services, '/inputs')
    row = await services.images.upload_input(owner, png_bytes(), 'mine.png')
    await user.open('/inputs')
    await user.should_see(marker='input-delete')
    user.find(marker='input-delete').click()
    await user.should_see('1 image(s) moved to the trash.')
    await user.should_see('No input images yet.')
    assert (await services.images.get(owner, row.id)).status == 'trash'
    user.find(marker='inputs-view').elements.pop().set_value('trash')
    await expect(user, [row.id])
    await user.should_see(marker='trash-dates')
    user.find(marker='input-restore').click()
    await user.should_see('1 image(s) restored.')
    await expect(user, [])
    assert (await services.images.get(owner, row.id)).status == 'active'


async def test_a_click_opens_the_image_in_the_lightbox(user: User, services: Services) -> None:
    owner = await visit(user, services, '/inputs')
    await services.images.upload_input(owner, png_bytes(), 'mine.png')
    await user.open('/inputs')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-image')


async def test_the_inputs_lightbox_uses_an_input_on_generate(user: User, services: Services) -> None:
    owner = await visit(user, services, '/inputs')
    image = await add_image(services.images, owner, created=T0, kind='input')
    await user.open('/inputs')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-use-input')
    user.find(marker='lightbox-use-input').click()
    await user.should_see(marker='generate-form')
    assert user.back_history[-1] == f'/?input={image.id}'
    assert (await services.images.page(owner, kind='input')).total == 1
