"""Admin servers API: malformed and hostile server URLs answer a clear 422 and change nothing (issue 11)."""

from __future__ import annotations

import pytest
from nicegui import app
from nicegui.testing import User

from tests.pages.conftest import app_env, sim  # noqa: F401 (the page tests' app configuration)
from vcc_ui.services.admin import ADMIN_API_PREFIX

PASSWORD = 's3cret-admin'
AUTH = ('admin', PASSWORD)
pytestmark = pytest.mark.app_env(ADMIN_PASSWORD=PASSWORD)


async def test_a_bad_server_url_answers_422_and_is_not_saved(user: User) -> None:
    http = user.http_client
    before = [(s['id'], s['url']) for s in (await http.get(f'{ADMIN_API_PREFIX}/servers', auth=AUTH)).json()['items']]
    for url in ['http://127.0.0.1:9/\u0010x', 'ftp://127.0.0.1:9', 'http://127.0.0.1:99999', 'http://']:
        answer = await http.post(f'{ADMIN_API_PREFIX}/servers', json={'name': 'bad', 'url': url}, auth=AUTH)
        assert answer.status_code == 422, (url, answer.text)
        assert 'not a ComfyUI address' in answer.text
        moved = await http.put(f'{ADMIN_API_PREFIX}/servers/{before[0][0]}', json={'url': url}, auth=AUTH)
        assert moved.status_code == 422, (url, moved.text)
    after = (await http.get(f'{ADMIN_API_PREFIX}/servers', auth=AUTH)).json()['items']
    assert [(s['id'], s['url']) for s in after] == before
    assert app.state.services.pool.skipped == {}
