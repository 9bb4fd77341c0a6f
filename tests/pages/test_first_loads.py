"""A page's first answer carries its first content; nothing of its build is left running after it (first_loads.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nicegui import Client, background_tasks
from nicegui.testing import User

from tests.fixtures import wait_for
from tests.gallery import add_image
from vcc_ui.pages import first_loads
from vcc_ui.services import Services

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


async def owner(user: User, services: Services) -> str:
    """Open the gallery once and return the browser's anonymous user id."""
    await user.open('/gallery')
    found = services.identity.read(user.http_client.cookies.get('vcc_anon'))
    assert found
    return found


def built_after(before: set[str]) -> list[Client]:
    """The clients made since `before` (the pages the GETs built)."""
    return [client for i, client in Client.instances.items() if i not in before]


async def test_the_first_answer_carries_the_grid_the_history_and_their_images(user: User, services: Services) -> None:
    me = await owner(user, services)
    images = [
        await add_image(services.images, me, created=T0 + timedelta(minutes=n), prompt=f'picture {n}') for n in range(3)
    ]
    jobs = []
    for n in range(2):
        view = await services.jobs.submit(me, 'test_pattern', {'prompt': f'history {n}', 'seed': n})
        await wait_for(lambda view=view: view.finished)
        jobs.append(view)
    before = set(Client.instances)
    gallery = (await user.http_client.get('/gallery')).text
    for image in images:  # the grid's first page, in the HTML (it had come over the socket after the answer)
        assert f'"data-image-id":"{image.id}"' in gallery
    generate = (await user.http_client.get('/')).text
    for view in jobs:  # the history's cards and their thumbnails
        assert f'"data-job-id":"{view.id}"' in generate
        assert all(f'"data-image-id":"{i}"' in generate for i in view.image_ids)
    pages = built_after(before)
    assert len(pages) == 2 and all(first_loads.KEY not in page.storage for page in pages)  # later loads: background
    assert not [t for t in background_tasks.running_tasks if t.get_name() in {'jobs-history', 'jobs-images'}]


async def test_a_load_that_does_not_end_holds_the_answer_no_longer_than_the_cap(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = await owner(user, services)
    image = await add_image(services.images, me, created=T0, prompt='late')
    release = asyncio.Event()
    page = services.images.page

    async def stuck(*args: object, **kwargs: object) -> object:
        await release.wait()
        return await page(*args, **kwargs)

    monkeypatch.setattr(first_loads, 'CAP_SECONDS', 0.2)
    monkeypatch.setattr(services.images, 'page', stuck)
    before = set(Client.instances)
    answer = await user.http_client.get('/gallery')
    assert answer.status_code == 200 and image.id not in answer.text  # the page, without what did not come
    (built,) = built_after(before)
    release.set()  # the load ends later and fills the page as before (over the socket, once it connects)
    await wait_for(lambda: any(e.props.get('data-image-id') == image.id for e in built.elements.values()))
