"""The gallery page: paging, filters, search, the lightbox, favourites and tags, trash, bulk actions, shares, quota."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.fixtures import wait_for
from tests.gallery import add_image
from vcc_ui.models import Image
from vcc_ui.pages.widgets.time_text import ZONE_KEY, zone_named
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageView, download_name

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


async def visit(user: User, services: Services, path: str = '/gallery') -> str:
    """Open a page and return the browser's anonymous user id."""
    await user.open(path)
    owner = services.identity.read(user.http_client.cookies.get('vcc_anon'))
    assert owner
    return owner


async def seed(services: Services, owner: str, count: int, **fields: object) -> list[Image]:
    """Save `count` generated images one minute apart (the last is the newest)."""
    return [
        await add_image(services.images, owner, created=T0 + timedelta(minutes=i), prompt=f'image number {i}', **fields)
        for i in range(count)
    ]


def shown(user: User) -> list[str]:
    """The ids of the tiles in the grid, in their order."""
    grid = user.find(marker='image-grid').elements.pop()
    return [tile.props['data-image-id'] for tile in grid.default_slot.children]


async def expect(user: User, ids: list[str]) -> None:
    """Wait (a bounded number of event-loop turns) until the grid shows exactly these ids, in this order."""
    for _ in range(500):
        if shown(user) == ids:
            return
        await asyncio.sleep(0.02)
    assert shown(user) == ids


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (a bounded number of event-loop turns) until an async check holds."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    assert await check()


async def row_of(services: Services, owner: str, image_id: str) -> ImageView:
    row = await services.images.get(owner, image_id)
    assert row is not None
    return row


def value_of(user: User, marker: str) -> ui.element:
    return user.find(marker=marker).elements.pop()


async def test_an_empty_gallery_says_so(user: User) -> None:
    await user.open('/gallery')
    await user.should_see('No images yet.')
    await user.should_not_see(marker='image-tile')


async def test_images_come_newest_first_and_the_next_page_loads_at_the_end(user: User, services: Services) -> None:
    owner = await visit(user, services)
    rows = await seed(services, owner, 50)
    await user.open('/gallery')
    await user.should_see('50 image(s)')
    newest_first = [row.id for row in reversed(rows)]
    await expect(user, newest_first[:48])
    user.find(marker='load-more').trigger('visible')  # the sentinel came into view
    await user.should_not_see(marker='load-more')
    await expect(user, newest_first)


async def test_others_images_never_show(user: User, services: Services) -> None:
    await visit(user, services)
    await seed(services, 'anon-' + 'f' * 32, 2)
    await user.open('/gallery')
    await user.should_see('No images yet.')


async def test_filters_narrow_the_grid_and_clearing_them_shows_all(user: User, services: Services) -> None:
    owner = await visit(user, services)
    fox = await add_image(
        services.images, owner, created=T0, prompt='a red fox in snow', aspect_ratio='3:2', workflow_id='test_pattern'
    )
    cat = await add_image(services.images, owner, created=T0 + timedelta(days=2), prompt='a black cat')
    owl = await add_image(services.images, owner, created=T0 + timedelta(days=4), prompt='an owl at night')
    await services.images.set_favorite(owner, cat.id, True)
    await services.images.set_tags(owner, owl.id, ['Night', 'birds'])
    await user.open('/gallery')
    await expect(user, [owl.id, cat.id, fox.id])

    value_of(user, 'filter-aspect').set_value('3:2')
    await user.should_see('1 image(s)')
    await expect(user, [fox.id])
    user.find(marker='filter-clear').click()
    await user.should_see('3 image(s)')

    value_of(user, 'filter-workflow').set_value('sd15_txt2img')
    await expect(user, [owl.id, cat.id])
    user.find(marker='filter-clear').click()

    value_of(user, 'filter-favorite').set_value(True)
    await expect(user, [cat.id])
    user.find(marker='filter-clear').click()

    user.find(marker='filter-tag').type('night')
    await expect(user, [owl.id])
    user.find(marker='filter-clear').click()

    value_of(user, 'filter-from').set_value((T0 + timedelta(days=1)).date().isoformat())
    value_of(user, 'filter-to').set_value((T0 + timedelta(days=3)).date().isoformat())
    await expect(user, [cat.id])
    user.find(marker='filter-clear').click()
    await user.should_see('3 image(s)')


async def test_the_prompt_search_finds_words_anywhere_and_says_when_nothing_matches(
    user: User, services: Services
) -> None:
    owner = await visit(user, services)
    fox = await add_image(services.images, owner, created=T0, prompt='A Red Fox in snow')
    await add_image(services.images, owner, created=T0 + timedelta(minutes=1), prompt='a black cat')
    await user.open('/gallery')
    user.find(marker='filter-search').type('red fox')
    await user.should_see('1 image(s)')
    await expect(user, [fox.id])
    user.find(marker='filter-search').clear().type('50% off')
    await user.should_see('No images match these filters.')


async def test_the_lightbox_browses_with_buttons_keys_and_swipes(user: User, services: Services) -> None:
    owner = await visit(user, services)
    await seed(services, owner, 3)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()  # the lowest id: the first tile, the newest image
    await user.should_see(marker='gallery-lightbox')
    await user.should_see('image number 2')
    await user.should_see('1 / 3')
    await user.should_see('SD 1.5 text to image', marker='meta-meta_workflow')  # the card's name, not its id
    user.find(marker='lightbox-next').click()
    await user.should_see('image number 1')
    key = {
        'action': 'keydown',
        'repeat': False,
        'altKey': False,
        'ctrlKey': False,
        'metaKey': False,
        'shiftKey': False,
        'code': 'ArrowRight',
        'location': 0,
    }
    user.find(ui.keyboard).trigger('key', {**key, 'key': 'ArrowRight'})
    await user.should_see('image number 0')
    await user.should_see('3 / 3')
    user.find(ui.keyboard).trigger('key', {**key, 'key': 'ArrowRight'})  # the last one stays
    await user.should_see('3 / 3')
    user.find(marker='lightbox-image').trigger('pointerup', 120)  # a swipe to the right goes back
    await user.should_see('image number 1')
    user.find(marker='lightbox-prev').click()
    await user.should_see('image number 2')
    dialog = value_of(user, 'gallery-lightbox').parent_slot.parent
    assert isinstance(dialog, ui.dialog) and dialog.value
    user.find(ui.keyboard).trigger('key', {**key, 'key': 'Escape', 'code': 'Escape'})
    await eventually(lambda: _closed(dialog))


async def _closed(dialog: ui.dialog) -> bool:
    return not dialog.value


async def test_the_lightbox_loads_the_next_page_past_the_last_image_shown(user: User, services: Services) -> None:
    owner = await visit(user, services)
    rows = await seed(services, owner, 49)
    await user.open('/gallery')
    await user.should_see('49 image(s)')
    assert len(shown(user)) == 48
    user.find(marker='image-thumb').click()
    await user.should_see('1 / 49')  # the lightbox is built on its first open
    for _ in range(47):
        user.find(marker='lightbox-next').click()
    await user.should_see('48 / 49')
    user.find(marker='lightbox-next').click()
    await user.should_see('49 / 49')
    await user.should_see('image number 0')
    assert shown(user)[-1] == rows[0].id


async def test_delete_leaves_the_gallery_at_once_and_restore_from_the_trash_brings_it_back(
    user: User, services: Services
) -> None:
    owner = await visit(user, services)
    older, newer = await seed(services, owner, 2)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see('image number 1')
    user.find(marker='lightbox-delete').click()
    await user.should_see('1 image(s) moved to the trash.')
    await expect(user, [older.id])
    await user.should_see('image number 0')  # the lightbox shows the next one
    row = await services.images.get(owner, newer.id)
    assert row is not None and row.status == 'trash'

    user.find(marker='lightbox-close').click()
    value_of(user, 'gallery-view').set_value('trash')
    await expect(user, [newer.id])
    purge = (row.trashed_at + timedelta(days=services.settings.trash_retention_days)).date().isoformat()
    await user.should_see(marker='trash-dates')  # the tile draws them in the browser from its props
    assert (
        value_of(user, 'trash-dates').props['trash'] == f'Deleted {row.trashed_at.date().isoformat()}, removed {purge}'
    )
    await user.should_see(marker='trash-note')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-restore')
    user.find(marker='lightbox-restore').click()
    await user.should_see('1 image(s) restored.')
    await user.should_see('The trash is empty.')
    value_of(user, 'gallery-view').set_value('active')
    await expect(user, [newer.id, older.id])


async def test_bulk_select_deletes_restores_and_zips(user: User, services: Services) -> None:
    owner = await visit(user, services)
    rows = await seed(services, owner, 3)
    await user.open('/gallery')
    await user.should_not_see(marker='bulk-bar')
    await user.should_see(marker='image-select')
    boxes = sorted(user.find(marker='image-select').elements, key=lambda element: element.id)
    boxes[0].set_value(True)
    boxes[1].set_value(True)
    await user.should_see('2 selected')
    user.find(marker='bulk-zip').click()
    archive = zipfile.ZipFile(io.BytesIO((await user.download.next()).content))
    assert sorted(archive.namelist()) == sorted(download_name(row) for row in (rows[2], rows[1]))
    user.find(marker='bulk-delete').click()
    await user.should_see('2 image(s) moved to the trash.')
    await expect(user, [rows[0].id])
    await user.should_not_see(marker='bulk-bar')

    value_of(user, 'gallery-view').set_value('trash')
    await expect(user, [rows[2].id, rows[1].id])
    await user.should_see(marker='image-select')
    value_of(user, 'image-select').set_value(True)
    user.find(marker='bulk-select-all').click()
    await user.should_see('2 selected')
    user.find(marker='bulk-restore').click()
    await user.should_see('2 image(s) restored.')
    await expect(user, [])
    assert {r.status for r in (await services.images.page(owner)).items} == {'active'}


async def test_favourite_and_tags_are_saved_from_the_lightbox(user: User, services: Services) -> None:
    owner = await visit(user, services)
    (row,) = await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-favorite')  # the lightbox is built on its first open
    user.find(marker='lightbox-favorite').click()
    await user.should_see(marker='image-favorite')
    await eventually(lambda: _favorite(services, owner, row.id))
    value_of(user, 'lightbox-tags').set_value(['Sunset', 'beach'])
    await eventually(lambda: _tags_are(services, owner, row.id, ['sunset', 'beach']))
    value_of(user, 'lightbox-tags').set_value(['bad,tag'])
    await user.should_see('That did not work: Tags are up to 32 characters')
    assert (await row_of(services, owner, row.id)).tags == ['sunset', 'beach']


async def _favorite(services: Services, owner: str, image_id: str) -> bool:
    return (await row_of(services, owner, image_id)).favorite


async def _tags_are(services: Services, owner: str, image_id: str, tags: list[str]) -> bool:
    return (await row_of(services, owner, image_id)).tags == tags


async def test_share_links_are_made_listed_and_revoked(user: User, services: Services) -> None:
    owner = await visit(user, services)
    (row,) = await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see('No links to this image yet.')
    value_of(user, 'share-expiry').set_value('7d')
    user.find(marker='share-create').click()
    await user.should_see('Share link made and copied.')
    await user.should_see(marker='share-state-active')
    (link,) = await services.shares.links(owner, row.id)
    assert link.expires_at - link.created_at == timedelta(days=7)
    user.find(marker='share-revoke').click()
    await user.should_see(marker='share-state-revoked')
    (link,) = await services.shares.links(owner, row.id)
    assert link.revoked_at is not None


async def test_generate_again_opens_generate_with_the_images_settings(user: User, services: Services) -> None:
    owner = await visit(user, services)
    row = await add_image(
        services.images,
        owner,
        created=T0,
        prompt='a lighthouse at dusk',
        aspect_ratio='3:2',
        workflow_id='sd15_txt2img',
    )
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-again')
    user.find(marker='lightbox-again').click()
    await user.should_see(marker='generate-form')
    assert user.back_history[-1] == f'/?from={row.id}'
    await eventually(lambda: _value_is(user, 'prompt', 'a lighthouse at dusk'))
    assert value_of(user, 'aspect').value == '3:2'
    assert value_of(user, 'seed-random').value is False and value_of(user, 'seed').value == row.seed


async def _value_is(user: User, marker: str, value: object) -> bool:
    return value_of(user, marker).value == value


async def test_use_as_input_copies_into_the_inputs_library(user: User, services: Services) -> None:
    owner = await visit(user, services)
    (row,) = await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-use-input')
    user.find(marker='lightbox-use-input').click()
    await user.should_see('Copied to your inputs library.')
    inputs = (await services.images.page(owner, kind='input')).items
    assert [(item.prompt, item.sha256) for item in inputs] == [(row.prompt, row.sha256)]
    await user.should_see(marker='generate-form')
    assert user.back_history[-1] == f'/?input={inputs[0].id}'
    await eventually(lambda: _shows_input(user, inputs[0].id))


async def _shows_input(user: User, image_id: str) -> bool:
    try:
        return image_id in (value_of(user, 'input-preview').props.get('src') or '')
    except AssertionError:  # not shown yet: the Generate page fills its slot in a task after it is built
        return False


@pytest.mark.app_env(QUOTA_MAX_IMAGES='1')
async def test_use_as_input_over_quota_is_refused_with_what_to_delete(user: User, services: Services) -> None:
    owner = await visit(user, services)
    await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='lightbox-use-input')
    user.find(marker='lightbox-use-input').click()
    await user.should_see('Storage quota reached: Your storage is full (1 of 1 images used). Delete at least 1 image')
    assert (await services.images.page(owner, kind='input')).total == 0


async def test_a_finished_job_puts_its_images_in_front_while_the_gallery_is_open(
    user: User, services: Services
) -> None:
    owner = await visit(user, services)
    (old,) = await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see('1 image(s)')
    view = await services.jobs.submit(owner, 'test_pattern', {'prompt': 'made while watching', 'batch_size': 2})
    await user.should_see('3 image(s)', retries=100)
    assert view.status == 'completed' and len(view.image_ids) == 2
    assert set(shown(user)[:2]) == set(view.image_ids) and shown(user)[2] == old.id


async def test_the_lightbox_download_is_named_from_date_workflow_and_prompt(user: User, services: Services) -> None:
    owner = await visit(user, services)
    (row,) = await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see('1 / 1')
    button = value_of(user, 'lightbox-download')
    assert button.props['href'] == f'/api/v1/images/{row.id}/download'
    assert button.props['download'] == f'{T0:%Y%m%d-%H%M%S}_sd15_txt2img_image-number-0.png'


async def test_a_share_is_made_without_metadata_unless_unticked(user: User, services: Services) -> None:
    owner = await visit(user, services)
    (row,) = await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()
    await user.should_see(marker='share-strip')
    assert value_of(user, 'share-strip').value is True
    user.find(marker='share-create').click()
    await user.should_see(marker='share-state-active')
    value_of(user, 'share-strip').set_value(False)
    user.find(marker='share-create').click()
    await eventually(lambda: _links_made(services, owner, row.id, 2))
    links = await services.shares.links(owner, row.id)
    assert sorted(link.strip_metadata for link in links) == [False, True]


async def _links_made(services: Services, owner: str, image_id: str, count: int) -> bool:
    return len(await services.shares.links(owner, image_id)) == count


@pytest.mark.app_env(QUOTA_MAX_IMAGES='10', QUOTA_MAX_BYTES='1048576')
async def test_the_gallery_shows_the_users_quota_use(user: User, services: Services) -> None:
    owner = await visit(user, services)
    rows = await seed(services, owner, 3)
    used = sum(row.bytes for row in rows)
    await user.open('/gallery')
    await user.should_see(f'Your storage: 3 of 10 images · {used} bytes of 1.0 MB')
    user.find(marker='image-thumb').click()
    await user.should_see('1 / 3')
    user.find(marker='lightbox-delete').click()
    await user.should_see('Your storage: 2 of 10 images')


@pytest.mark.parametrize(
    ('answer', 'created'),
    [('Asia/Seoul', '2025-05-01 21:00:00 KST'), ('../../etc/passwd', '2025-05-01 12:00:00 UTC'), (None, None)],
)
async def test_the_lightbox_shows_times_in_the_browsers_zone_and_utc_labelled_until_known(
    user: User, services: Services, answer: str | None, created: str | None
) -> None:
    if answer is not None:  # None: the browser never answers, the time stays UTC and says so
        user.javascript_rules[re.compile(re.escape('Intl.DateTimeFormat().resolvedOptions().timeZone'))] = lambda _: (
            answer
        )
    owner = await visit(user, services)
    await seed(services, owner, 1)
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    if zone_named(answer) is not None:  # the tab learns its zone once connected: a lightbox opened before shows UTC
        await wait_for(lambda: user.client.storage.get(ZONE_KEY) == answer)
    user.find(marker='image-thumb').click()
    await user.should_see(created or '2025-05-01 12:00:00 UTC', marker='meta-meta_created')


async def test_an_img2img_result_opens_a_before_after_view_of_its_input(user: User, services: Services) -> None:
    owner = await visit(user, services)
    source = await add_image(services.images, owner, created=T0, kind='input', prompt='', color=(10, 200, 10))
    plain, result = await seed(services, owner, 2)
    await services.images.writer.write(partial(_set_params, image_id=result.id, params={'input_image': source.id}))
    await user.open('/gallery')
    await user.should_see(marker='image-thumb')
    user.find(marker='image-thumb').click()  # the newest: the img2img result
    await user.should_see('image number 1')
    await user.should_see(marker='lightbox-compare')
    await user.should_not_see(marker='compare-view')
    user.find(marker='lightbox-compare').click()
    await user.should_see(marker='compare-slider')
    before, after = value_of(user, 'compare-before'), value_of(user, 'compare-after')
    assert before.props['src'] == (await row_of(services, owner, source.id)).url
    assert after.props['src'] == (await row_of(services, owner, result.id)).url
    assert value_of(user, 'compare-side-before').props['src'] == before.props['src']
    divider = value_of(user, 'compare-divider')
    assert divider.props['role'] == 'slider' and divider.props['tabindex'] == '0'
    user.find(marker='lightbox-compare').click()  # back to the result alone
    await user.should_not_see(marker='compare-view')
    user.find(marker='lightbox-next').click()  # a text-to-image result has no input: no compare button
    await user.should_see('image number 0')
    await user.should_not_see(marker='lightbox-compare')
    await user.should_not_see(marker='compare-view')
    assert plain.id != result.id


def _set_params(db: object, *, image_id: str, params: dict) -> None:
    row = db.get(Image, image_id)  # type: ignore[attr-defined]
    row.params = params
    db.add(row)  # type: ignore[attr-defined]
