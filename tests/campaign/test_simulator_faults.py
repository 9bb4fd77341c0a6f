"""The simulator's campaign knobs: random execution errors, socket drops per prompt, slow answers, the prompt log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.services.test_simulator import CLIENT, recv, sampler_graph, submit, until_done, wait_history, ws_url
from vcc_ui.simulator import Simulator
from vcc_ui.simulator.__main__ import main as simulator_main
from vcc_ui.simulator.promptlog import read_prompt_log


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """A started simulator that logs its prompts to a file."""
    simulator = Simulator(root=tmp_path / 'comfy', prompt_log=tmp_path / 'prompts.jsonl', seed=7)
    simulator.faults.step_delay = 0.0
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the simulator."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


async def test_error_rate_fails_that_share_of_prompts(sim: Simulator, http: httpx.AsyncClient) -> None:
    await http.post('/sim/faults', json={'error_rate': 1.0})
    failing = await submit(http, {'prompt': sampler_graph(seed=1), 'client_id': CLIENT})
    assert (await wait_history(http, failing))['status']['status_str'] == 'error'
    await http.post('/sim/faults', json={'error_rate': 0.0})
    fine = await submit(http, {'prompt': sampler_graph(seed=2), 'client_id': CLIENT})
    assert (await wait_history(http, fine))['status']['status_str'] == 'success'
    sim.faults.error_rate = 0.5
    statuses = [
        (await wait_history(http, await submit(http, {'prompt': sampler_graph(seed=10 + i)})))['status']['status_str']
        for i in range(40)
    ]
    assert 0 < statuses.count('error') < 40


async def test_prompt_log_records_received_started_and_finished(
    sim: Simulator, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    prompt_id = await submit(http, {'prompt': sampler_graph(seed=3), 'client_id': CLIENT})
    await wait_history(http, prompt_id)
    bad = await http.post('/prompt', json={'prompt': {'1': {'class_type': 'Nope', 'inputs': {}}}, 'prompt_id': 'x'})
    assert bad.status_code == 400
    entries = read_prompt_log(tmp_path / 'prompts.jsonl')
    assert [(e['event'], e['prompt_id']) for e in entries] == [
        ('received', prompt_id),
        ('started', prompt_id),
        ('finished', prompt_id),
        ('received', 'x'),
    ]
    assert entries[0]['client_id'] == CLIENT and entries[0]['accepted'] and not entries[3]['accepted']
    assert entries[2]['status'] == 'success' and len(entries[2]['files']) == 1
    assert (await http.get('/sim/prompts')).json()['entries'] == entries


async def test_prompt_log_is_off_by_default(tmp_path: Path) -> None:
    plain = Simulator(root=tmp_path / 'plain')
    await plain.start()
    try:
        async with httpx.AsyncClient(base_url=plain.url) as client:
            assert (await client.get('/sim/prompts')).status_code == 404
    finally:
        await plain.stop()


async def test_ws_drop_every_aborts_sockets_when_a_prompt_starts(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.faults.ws_drop_every = 2
    async with websockets.connect(ws_url(sim)) as ws:
        await recv(ws)
        first = await submit(http, {'prompt': sampler_graph(seed=4), 'client_id': CLIENT})
        assert 'execution_success' in [kind for kind, _ in await until_done(ws, first)]
        await submit(http, {'prompt': sampler_graph(seed=5), 'client_id': CLIENT})
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await recv(ws)


async def test_slow_ms_delays_answers_but_not_the_control_routes(sim: Simulator, http: httpx.AsyncClient) -> None:
    await http.post('/sim/faults', json={'slow_ms': 5000})
    with pytest.raises(httpx.ReadTimeout):
        await http.get('/system_stats', timeout=0.3)
    assert (await http.get('/sim/faults', timeout=2)).json()['slow_ms'] == 5000
    sim.faults.slow_ms = 0
    assert (await http.get('/system_stats')).status_code == 200


def test_cli_refuses_bad_knob_values() -> None:
    with pytest.raises(SystemExit):
        simulator_main(['--error-rate', '1.5'])
    with pytest.raises(SystemExit):
        simulator_main(['--slow-ms', '-1'])
