"""Issue 6 figures: re-sync of 30,000 unchanged LoRAs, and Civitai requests for 1,000 new LoRAs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.bench.conftest import report
from tests.fake_civitai import fake_civitai
from tests.fixtures import make_settings, services
from tests.services.test_loras import sha, write_loras
from vcc_ui.simulator import Simulator

pytestmark = pytest.mark.bench

MANY = 30_000
NEW = 1_000
MODELS = 40


async def test_resync_of_30000_unchanged_loras(tmp_path: Path) -> None:
    write_loras(tmp_path / 'sim', {f'd{i % 100:02}/lora_{i:05}.safetensors': b'%d' % i for i in range(MANY)})
    sim = Simulator(root=tmp_path / 'sim', lora_folder=True)
    await sim.start()
    try:
        async with (
            fake_civitai() as civitai,
            services(make_settings(tmp_path, sim.url, civitai_base_url=civitai.base_url)) as app,
        ):
            server_id = next(iter(app.pool.entries))
            started = time.perf_counter()
            await app.loras.sync(server_id)
            first = time.perf_counter() - started
            assert sim.lora_files is not None
            asked, calls = sim.lora_files.hash_requests, civitai.total
            started = time.perf_counter()
            await app.loras.sync(server_id)
            again = time.perf_counter() - started
            status = app.loras.status_of(server_id)
            assert status.stage == 'done' and status.lora_count == MANY
            assert sim.lora_files.hash_requests == asked and civitai.total == calls
            report(
                'LoRA re-sync, 30,000 unchanged files (goal < 30 s)',
                first_sync_s=f'{first:.1f}',
                resync_s=f'{again:.2f}',
                hash_requests_on_resync=sim.lora_files.hash_requests - asked,
                civitai_requests_on_resync=civitai.total - calls,
            )
    finally:
        await sim.stop()


async def test_civitai_requests_for_1000_new_loras(tmp_path: Path) -> None:
    files = {f'new_{i:04}.safetensors': b'new %d' % i for i in range(NEW)}
    write_loras(tmp_path / 'sim', files)
    sim = Simulator(root=tmp_path / 'sim', lora_folder=True)
    await sim.start()
    try:
        async with fake_civitai() as civitai:
            for i, data in enumerate(files.values()):
                if i % 5:  # four in five are on Civitai, spread over MODELS models
                    civitai.add(sha(data), model_id=1000 + i % MODELS, version_id=5000 + i)
            async with services(make_settings(tmp_path, sim.url, civitai_base_url=civitai.base_url)) as app:
                server_id = next(iter(app.pool.entries))
                started = time.perf_counter()
                await app.loras.sync(server_id)
                took = time.perf_counter() - started
            api = civitai.requests['by_hash_batch'] + civitai.requests['by_hash'] + civitai.requests['model']
            assert api <= 10 + len(civitai.models)
            report(
                'Civitai requests for 1,000 new LoRAs (goal <= 10 + one per distinct model)',
                distinct_models=len(civitai.models),
                batch_requests=civitai.requests['by_hash_batch'],
                model_requests=civitai.requests['model'],
                api_requests=api,
                preview_downloads=civitai.requests['image'],
                sync_s=f'{took:.1f}',
            )
    finally:
        await sim.stop()
