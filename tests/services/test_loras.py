"""LoRA sync against the simulator (real files, the node's own handlers) and a fake Civitai."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from comfy_node.civitai import version_block
from comfy_node.contract import PING_PATH, VERSION, HashAnswer, PingAnswer, hash_path, parse_model, parse_version
from tests.comfy_node.test_contract import MODEL_ANSWER, VERSION_ANSWER
from tests.fake_civitai import FakeCivitai, fake_civitai
from tests.fixtures import free_port, make_settings, services, wait_for
from vcc_ui.models import CivitaiVersion
from vcc_ui.services import Services
from vcc_ui.services.comfy.protocol import lora_names
from vcc_ui.services.lora_filter import match_state
from vcc_ui.services.lora_meta import apply_model, apply_version, civitai_url
from vcc_ui.services.loras import LoraSyncStatus
from vcc_ui.simulator import Simulator

FILES = {
    'Zeta_Detail.safetensors': b'zeta' * 50,
    'style_a.safetensors': b'style' * 40,
    'sub/char_b.safetensors': b'char' * 30,
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_loras(sim_root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = sim_root / 'models' / 'loras' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclass
class Rig:
    sim: Simulator
    civitai: FakeCivitai
    services: Services
    server_id: int

    @property
    def status(self) -> LoraSyncStatus:
        return self.services.loras.status_of(self.server_id)

    async def sync(self, **kwargs: object) -> LoraSyncStatus:
        await self.services.loras.sync(self.server_id, **kwargs)
        return self.status


@asynccontextmanager
async def running_sim(tmp: Path, files: dict[str, bytes] = FILES, **kwargs: object) -> AsyncIterator[Simulator]:
    write_loras(tmp / 'sim', files)
    sim = Simulator(root=tmp / 'sim', lora_folder=True, **kwargs)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def app(tmp: Path, sim: Simulator, civitai: FakeCivitai) -> AsyncIterator[Rig]:
    settings = make_settings(tmp, sim.url, civitai_base_url=civitai.base_url, civitai_api_key='key-1')
    async with services(settings) as built:
        built.loras.civitai.backoff_base = 0.001
        yield Rig(sim, civitai, built, next(iter(built.pool.entries)))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with fake_civitai() as civitai, running_sim(tmp_path) as sim, app(tmp_path, sim, civitai) as built:
        civitai.add(sha(FILES['style_a.safetensors']), model_id=1, version_id=11, trained_words=['style a'])
        civitai.add(sha(FILES['sub/char_b.safetensors']), model_id=1, version_id=12, base_model='Pony')
        yield built


def hashed(sim: Simulator) -> int:
    assert sim.lora_files is not None
    return sim.lora_files.cache.stats['hashed']


async def test_full_sync_hashes_each_file_and_fetches_metadata_in_few_requests(rig: Rig) -> None:
    status = await rig.sync()
    assert (status.stage, status.error, status.node_installed) == ('done', '', True)
    assert (status.lora_count, status.matched) == (3, 2)
    assert hashed(rig.sim) == 3
    assert rig.civitai.requests == {'by_hash_batch': 1, 'model': 1, 'image': 2}
    assert rig.civitai.batch_sizes == [3]
    assert set(rig.civitai.authorizations) == {'Bearer key-1'}
    views = {v.name: v for v in await rig.services.loras.loras(rig.server_id)}
    assert sorted(views) == sorted(FILES)
    assert all(v.sha256 == sha(FILES[name]) for name, v in views.items())
    style = views['style_a.safetensors'].civitai
    assert style is not None and style.found and style.trained_words == ['style a']
    assert (style.tags, style.creator, style.base_model) == (
        ['style', 'watercolor', 'painting'],
        'brushworks',
        'SDXL 1.0',
    )
    assert style.preview_path and (rig.services.loras.preview_dir / style.preview_path).is_file()
    zeta = views['Zeta_Detail.safetensors'].civitai
    assert zeta is not None and not zeta.found


async def test_resync_with_nothing_changed_asks_nobody(rig: Rig) -> None:
    await rig.sync()
    assert rig.sim.lora_files is not None
    asked, total = rig.sim.lora_files.hash_requests, rig.civitai.total
    status = await rig.sync()
    assert (status.stage, status.lora_count, status.matched) == ('done', 3, 2)
    assert rig.sim.lora_files.hash_requests == asked
    assert rig.civitai.total == total


async def test_changed_file_is_hashed_and_looked_up_alone(rig: Rig) -> None:
    await rig.sync()
    changed = rig.sim.root / 'models' / 'loras' / 'Zeta_Detail.safetensors'
    changed.write_bytes(b'new content')
    rig.civitai.add(sha(b'new content'), model_id=2, version_id=21)
    rig.civitai.requests.clear()
    status = await rig.sync()
    assert status.stage == 'done' and status.matched == 3
    assert hashed(rig.sim) == 4
    assert rig.civitai.batch_sizes[-1] == 1
    assert rig.civitai.requests == {'by_hash_batch': 1, 'model': 1, 'image': 1}
    views = {v.name: v for v in await rig.services.loras.loras(rig.server_id)}
    assert views['Zeta_Detail.safetensors'].sha256 == sha(b'new content')


async def test_429_storm_is_ridden_out_and_a_longer_one_leaves_metadata_pending(rig: Rig) -> None:
    rig.civitai.faults = ['429', '429-wait', 'html', '500', '429']
    status = await rig.sync()
    assert status.stage == 'done' and status.matched == 2
    assert rig.civitai.requests['by_hash_batch'] == 6
    rig.services.loras.civitai.max_attempts = 3
    (rig.sim.root / 'models' / 'loras' / 'new.safetensors').write_bytes(b'new one')
    rig.civitai.faults = ['429'] * 3
    status = await rig.sync()
    assert (status.stage, status.metadata_note, status.pending, status.lora_count) == ('done', 'unreachable', 1, 4)
    asked = rig.sim.lora_files.hash_requests if rig.sim.lora_files else 0
    status = await rig.sync()
    assert (status.stage, status.metadata_note, status.pending, status.lora_count) == ('done', '', 0, 4)
    assert rig.sim.lora_files is not None and rig.sim.lora_files.hash_requests == asked  # hashes were kept


async def test_unreachable_civitai_saves_hashes_as_metadata_pending_and_retries_later(rig: Rig) -> None:
    loras = rig.services.loras
    loras.retry_first, loras.retry_max = 0.01, 0.02
    base_url, loras.civitai.base_url = loras.civitai.base_url, f'http://127.0.0.1:{free_port()}'
    loras.civitai.max_attempts = 2
    status = await rig.sync()
    assert (status.stage, status.error, status.metadata_note) == ('done', '', 'unreachable')
    assert (status.lora_count, status.hashed, status.matched, status.not_found, status.pending) == (3, 3, 0, 0, 3)
    views = await loras.loras(rig.server_id)
    assert [match_state(v) for v in views] == ['pending'] * 3
    asked = rig.sim.lora_files.hash_requests if rig.sim.lora_files else 0
    await wait_for(lambda: loras.civitai.requests['by_hash'] >= 4)  # the retry keeps trying by itself
    loras.civitai.base_url = base_url
    await wait_for(lambda: loras.status_of(rig.server_id).pending == 0)
    status = rig.status
    assert (status.stage, status.metadata_note, status.matched, status.not_found) == ('done', '', 2, 1)
    assert sorted(match_state(v) for v in await loras.loras(rig.server_id)) == ['matched', 'matched', 'unmatched']
    assert rig.sim.lora_files is not None and rig.sim.lora_files.hash_requests == asked  # no re-hashing


async def test_removed_node_keeps_old_hashes_marked_unverified(rig: Rig) -> None:
    status = await rig.sync()
    assert status.unverified == 0
    views = await rig.services.loras.loras(rig.server_id)
    assert all(v.hash_verified for v in views)
    await rig.sim.go_down(keep_state=True)
    rig.sim.node_installed = False
    await rig.sim.come_back()
    (rig.sim.root / 'models' / 'loras' / 'added.safetensors').write_bytes(b'added later')
    status = await rig.sync()
    assert (status.stage, status.node_installed, status.lora_count) == ('done', False, 4)
    assert (status.hashed, status.unverified, status.matched) == (3, 3, 2)
    views = {v.name: v for v in await rig.services.loras.loras(rig.server_id)}
    assert views['added.safetensors'].sha256 is None
    assert sorted(n for n, v in views.items() if v.sha256 and not v.hash_verified) == sorted(FILES)
    await rig.sim.go_down(keep_state=True)
    rig.sim.node_installed = True
    await rig.sim.come_back()
    status = await rig.sync()
    assert (status.hashed, status.unverified) == (4, 0)


async def test_server_without_node_lists_loras_and_says_so(tmp_path: Path) -> None:
    async with (
        fake_civitai() as civitai,
        running_sim(tmp_path, node_installed=False) as sim,
        app(tmp_path, sim, civitai) as rig,
    ):
        status = await rig.sync()
        assert (status.stage, status.node_installed, status.lora_count) == ('done', False, 3)
        views = await rig.services.loras.loras(rig.server_id)
        assert [v.name for v in views] == sorted(FILES) and all(v.sha256 is None for v in views)
        assert civitai.total == 0


async def test_sync_interrupted_by_restart_resumes_where_it_stopped(tmp_path: Path) -> None:
    files = {f'lora_{i:02}.safetensors': f'lora {i}'.encode() for i in range(24)}
    async with fake_civitai() as civitai, running_sim(tmp_path, files) as sim:
        assert sim.lora_files is not None
        sim.lora_files.hash_delay = 0.05
        async with app(tmp_path, sim, civitai) as rig:
            rig.services.loras.sync(rig.server_id)
            await wait_for(lambda: rig.status.stage == 'hashing' and rig.status.done >= 8)
        first = sim.lora_files.hash_requests
        assert first < len(files)
        sim.lora_files.hash_delay = 0.0
        async with app(tmp_path, sim, civitai) as rig:
            await wait_for(lambda: rig.status.stage == 'done')
            assert rig.status.lora_count == len(files)
        assert sim.lora_files.hash_requests <= len(files) + 4  # only the (at most 4) answers lost in flight again
        assert hashed(sim) == len(files)


async def test_sync_with_server_down_fails_and_resumes_when_back(rig: Rig) -> None:
    await rig.sim.go_down()
    status = await rig.sync()
    assert status.stage == 'error' and status.error.startswith('listing')
    await rig.sim.come_back()
    status = await rig.sync()
    assert status.stage == 'done' and status.matched == 2


async def test_node_routes_match_what_the_app_calls(tmp_path: Path) -> None:
    async with running_sim(tmp_path) as sim, httpx.AsyncClient(base_url=sim.url) as http:
        name = 'sub/char_b.safetensors'
        ping = PingAnswer.from_json((await http.get(PING_PATH)).json())
        assert ping is not None and ping.version == VERSION
        assert (await http.get('/api' + PING_PATH)).status_code == 200
        assert (await http.get(PING_PATH.removeprefix('/api'))).status_code == 404
        answer = HashAnswer.from_json((await http.get(hash_path(name))).json())
        assert answer is not None and (answer.filename, answer.sha256, answer.size) == (
            name,
            sha(FILES[name]),
            len(FILES[name]),
        )
        names = lora_names((await http.get('/object_info/LoraLoader')).json())
        assert names == ['Zeta_Detail.safetensors', 'style_a.safetensors', 'sub/char_b.safetensors']
        listed = (await http.get('/api/experiment/models/loras')).json()
        assert [item['name'] for item in listed] == names
        assert (await http.get(hash_path('../secret.safetensors'))).status_code in (400, 404)


def test_lora_names_reads_both_combo_spellings() -> None:
    v1 = {'LoraLoader': {'input': {'required': {'lora_name': [['a.safetensors', 'sub\\b.safetensors'], {}]}}}}
    v3 = {'LoraLoader': {'input': {'required': {'lora_name': ['COMBO', {'options': ['c.safetensors']}]}}}}
    assert lora_names(v1) == ['a.safetensors', 'sub\\b.safetensors']
    assert lora_names(v3) == ['c.safetensors']
    assert lora_names({}) == []


def test_the_app_and_the_node_read_a_civitai_answer_alike() -> None:
    version, model = parse_version(VERSION_ANSWER), parse_model(MODEL_ANSWER)
    row = CivitaiVersion(sha256='a' * 64)
    apply_version(row, version)
    apply_model(row, model)
    block = version_block(version, model, 'now')
    assert row.found and (row.model_id, row.version_id, row.base_model) == (
        block['model_id'],
        block['version_id'],
        block['base_model'],
    )
    assert (row.trained_words, row.image_urls, row.tags, row.creator, row.nsfw, civitai_url(row)) == (
        block['trigger_words'],
        block['thumbnail_urls'],
        block['tags'],
        block['creator'],
        block['nsfw'],
        block['url'],
    )


def test_demo_loras_are_deterministic(tmp_path: Path) -> None:
    first, second = (
        Simulator(root=tmp_path / 'a', lora_folder=True, demo_loras=True),
        Simulator(root=tmp_path / 'b', lora_folder=True, demo_loras=True),
    )
    assert (
        first.loras
        == second.loras
        == ['Zeta_Detail.safetensors', 'style_a.safetensors', os.path.join('sub', 'char_b.safetensors')]
    )
    for name in first.loras:
        assert (first.root / 'models' / 'loras' / name).read_bytes() == (
            second.root / 'models' / 'loras' / name
        ).read_bytes()
