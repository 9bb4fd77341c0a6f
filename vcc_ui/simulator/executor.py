"""Prompt queue, history and the one-at-a-time executor of the ComfyUI simulator."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import heapq
import itertools
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from vcc_ui.services.comfy.protocol import MessageType

from . import images
from .catalogue import Catalogue, split_annotation
from .faults import Faults
from .hub import Hub
from .nodes import SAMPLERS, NodeContext, NodeError, run_node
from .promptlog import PromptLog

log = logging.getLogger(__name__)

MAX_HISTORY = 10000


class Interrupted(Exception):
    """The running prompt was interrupted."""


def now_ms() -> int:
    """Return the current time in ms like ComfyUI's timestamps."""
    return int(time.time() * 1000)


@dataclass(kw_only=True, slots=True)
class QueueState:
    """In-memory state that a real restart loses."""

    number: int = 0
    pending: list[tuple[Any, int, list[Any]]] = field(default_factory=list)
    running: list[Any] | None = None
    history: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, tuple[tuple[Any, ...], dict | None]] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=itertools.count)

    def remaining(self) -> int:
        """Return pending plus running like exec_info.queue_remaining."""
        return len(self.pending) + (1 if self.running is not None else 0)


@dataclass(kw_only=True, slots=True)
class _Run:
    """Bookkeeping of one prompt's execution."""

    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    order: list[str]
    signatures: dict[str, str]
    fail_node: str | None
    current: str | None = None
    messages: list[Any] = field(default_factory=list)
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ui_outputs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    new_cache: dict[str, tuple[tuple[Any, ...], dict | None]] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)


class Executor:
    """Run queued prompts one at a time and emit the WS sequence ComfyUI 0.3.64 emits."""

    def __init__(
        self,
        *,
        root: Path,
        catalogue: Catalogue,
        hub: Hub,
        faults: Faults,
        preview_size: int,
        preview_method: str,
        prompt_log: PromptLog | None = None,
        seed: int | None = None,
    ) -> None:
        self.root = root
        self.catalogue = catalogue
        self.hub = hub
        self.faults = faults
        self.preview_size = preview_size
        self.preview_method = preview_method
        self.state = QueueState()
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.interrupted = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._steps_this_prompt = 0
        self.prompt_log = prompt_log
        self.rng = random.Random(seed)
        self.prompts_started = 0

    # queue -----------------------------------------------------------------------------------------------------

    def status_data(self) -> dict[str, Any]:
        """Return the data of a status message."""
        return {'status': {'exec_info': {'queue_remaining': self.state.remaining()}}}

    async def queue_updated(self) -> None:
        """Broadcast status like PromptServer.queue_updated."""
        await self.hub.send_json(MessageType.STATUS, self.status_data(), None)

    async def put(self, item: list[Any]) -> None:
        """Queue one item [number, prompt_id, prompt, extra_data, outputs]."""
        heapq.heappush(self.state.pending, (item[0], next(self.state.seq), item))
        self._wake.set()
        await self.queue_updated()

    def pending_items(self) -> list[list[Any]]:
        """Return pending items in raw heap order (as /queue does)."""
        return [entry[2] for entry in self.state.pending]

    async def delete(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts by id."""
        for prompt_id in prompt_ids:
            kept = [e for e in self.state.pending if e[2][1] != prompt_id]
            if len(kept) != len(self.state.pending):
                heapq.heapify(kept)
                self.state.pending = kept
                await self.queue_updated()

    async def clear(self) -> None:
        """Remove all pending prompts."""
        self.state.pending = []
        await self.queue_updated()

    def interrupt(self, prompt_id: str | None) -> None:
        """Set the interrupt flag (globally, or only if prompt_id is running)."""
        if prompt_id is None:
            self.interrupted = True
        elif self.state.running is not None and self.state.running[1] == prompt_id:
            self.interrupted = True
        else:
            log.info('Prompt %s is not currently running, skipping interrupt', prompt_id)

    # lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker task."""
        self._task = asyncio.create_task(self._worker(), name='comfy-sim-worker')

    async def stop(self) -> None:
        """Stop the worker task (the running prompt is lost)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.state.running = None
        self.client_id = None
        self.last_node_id = None

    def reset(self) -> None:
        """Forget queue, history, counter and cache like a restart."""
        self.state = QueueState()

    async def _worker(self) -> None:
        while True:
            if not self.state.pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            _, _, item = heapq.heappop(self.state.pending)
            self.state.running = item
            await self.queue_updated()
            try:
                await self._execute(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception('simulator failed to execute prompt %s', item[1])
                self.state.running = None

    # execution -------------------------------------------------------------------------------------------------

    async def _emit(self, event: MessageType, data: dict[str, Any], messages: list[Any] | None = None) -> None:
        if messages is not None:
            messages.append([event, data])
        if self.client_id is not None:
            await self.hub.send_json(event, data, self.client_id)

    def _order(self, prompt: dict[str, Any], outputs: list[str]) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()

        def visit(node_id: str) -> None:
            if node_id in seen:
                return
            seen.add(node_id)
            for value in prompt[node_id].get('inputs', {}).values():
                if isinstance(value, list) and len(value) == 2:
                    visit(str(value[0]))
            order.append(node_id)

        for out in outputs:
            visit(out)
        return order

    def _signature(self, prompt: dict[str, Any], node_id: str, memo: dict[str, str]) -> str:
        if node_id in memo:
            return memo[node_id]
        node = prompt[node_id]
        parts: dict[str, Any] = {}
        for name, value in sorted(node.get('inputs', {}).items()):
            if isinstance(value, list) and len(value) == 2:
                parts[name] = ['link', self._signature(prompt, str(value[0]), memo), value[1]]
            else:
                parts[name] = value
        if node['class_type'] == 'LoadImage':
            name, kind = split_annotation(str(node['inputs'].get('image', '')))
            path = self.root / (kind or 'input') / name
            stat = path.stat() if path.is_file() else None
            parts['__file__'] = [stat.st_mtime_ns, stat.st_size] if stat else None
        raw = json.dumps([node['class_type'], parts], sort_keys=True, default=str)
        memo[node_id] = hashlib.sha256(raw.encode()).hexdigest()
        return memo[node_id]

    async def _execute(self, item: list[Any]) -> None:
        number, prompt_id, prompt, extra_data, outputs = item
        self.client_id = extra_data.get('client_id')
        self.interrupted = False
        self._steps_this_prompt = 0
        order = self._order(prompt, outputs)
        memo: dict[str, str] = {}
        signatures = {node_id: self._signature(prompt, node_id, memo) for node_id in order}
        cached = [node_id for node_id in order if signatures[node_id] in self.state.cache]
        run = _Run(
            prompt_id=prompt_id,
            prompt=prompt,
            extra_data=extra_data,
            order=order,
            signatures=signatures,
            fail_node=self._pick_fail_node(prompt, order, cached),
        )
        await self._emit(MessageType.EXECUTION_START, {'prompt_id': prompt_id, 'timestamp': now_ms()}, run.messages)
        await self._emit(
            MessageType.EXECUTION_CACHED, {'nodes': cached, 'prompt_id': prompt_id, 'timestamp': now_ms()}, run.messages
        )
        await self._started(prompt_id)
        status_str, outcome = 'success', 'success'
        try:
            for node_id in order:
                run.current = node_id
                if node_id in cached:
                    await self._reuse_node(run, node_id)
                else:
                    await self._run_node(run, node_id)
            await self._emit(
                MessageType.EXECUTION_SUCCESS, {'prompt_id': prompt_id, 'timestamp': now_ms()}, run.messages
            )
        except Interrupted:
            status_str, outcome = 'error', 'interrupted'
            await self._report_interrupt(run)
        except NodeError as ex:
            status_str, outcome = 'error', 'error'
            await self._report_error(run, ex)
        if self.prompt_log is not None:
            self.prompt_log.finished(prompt_id, outcome, run.ui_outputs)
        self.state.cache = {**{s: v for s, v in self.state.cache.items() if s in signatures.values()}, **run.new_cache}
        self.state.history[prompt_id] = {
            'prompt': item,
            'outputs': run.ui_outputs,
            'status': {'status_str': status_str, 'completed': status_str == 'success', 'messages': run.messages},
            'meta': run.meta,
        }
        if status_str == 'success' and self.faults.lose_last_output > 0:
            self.faults.lose_last_output -= 1
            await asyncio.to_thread(self._lose_last_output, run.ui_outputs)
        while len(self.state.history) > MAX_HISTORY:
            self.state.history.pop(next(iter(self.state.history)))
        self.state.running = None
        client_id, self.client_id, self.last_node_id = self.client_id, None, None
        await self.queue_updated()
        if client_id is not None:
            await self.hub.send_json(MessageType.EXECUTING, {'node': None, 'prompt_id': prompt_id}, client_id)
        log.info('Prompt %s (number %s) finished: %s', prompt_id, number, status_str)

    async def _started(self, prompt_id: str) -> None:
        """Log the start and drop every socket after each `ws_drop_every`-th prompt started."""
        self.prompts_started += 1
        if self.prompt_log is not None:
            self.prompt_log.started(prompt_id)
        every = self.faults.ws_drop_every
        if every > 0 and self.prompts_started % every == 0:
            log.info('fault: dropping all websockets at the start of prompt %s', prompt_id)
            await self.hub.drop_all()

    def _lose_last_output(self, ui_outputs: dict[str, Any]) -> None:
        """Remove the last output file a prompt listed, as if the output folder had been cleaned."""
        files = [i for ui in ui_outputs.values() for i in ui.get('images', []) if i.get('type') == 'output']
        if files:
            last = files[-1]
            (self.root / 'output' / last.get('subfolder', '') / last['filename']).unlink(missing_ok=True)
            log.info('fault: removed output %s', last['filename'])

    async def _reuse_node(self, run: _Run, node_id: str) -> None:
        signature = run.signatures[node_id]
        run.values[node_id], ui = self.state.cache[signature]
        run.new_cache[signature] = (run.values[node_id], ui)
        run.executed.append(node_id)
        if ui is not None:
            await self._executed(run, node_id, ui)
            run.progress[node_id] = self._progress_entry(run.prompt_id, node_id, 1, 1, 'finished')
            await self._progress_state(run.prompt_id, run.progress)

    async def _run_node(self, run: _Run, node_id: str) -> None:
        if self.interrupted:
            raise Interrupted
        class_type = run.prompt[node_id]['class_type']
        run.progress[node_id] = self._progress_entry(run.prompt_id, node_id, 0.0, 1.0, 'running')
        await self._progress_state(run.prompt_id, run.progress)
        if self.client_id is not None:
            self.last_node_id = node_id
        await self._emit(MessageType.EXECUTING, {'node': node_id, 'display_node': node_id, 'prompt_id': run.prompt_id})
        if node_id == run.fail_node:
            raise NodeError('RuntimeError', self.faults.fail_message)
        inputs = self._resolve(run.prompt[node_id].get('inputs', {}), run.values)
        context = NodeContext(
            root=self.root,
            prompt=run.prompt,
            extra_data=run.extra_data,
            step_delay=self.faults.step_delay,
            progress=self._hook(run.prompt_id, node_id, class_type, run.progress),
        )
        run.values[node_id], ui = await run_node(context, class_type, inputs)
        run.new_cache[run.signatures[node_id]] = (run.values[node_id], ui)
        run.executed.append(node_id)
        if ui is not None:
            await self._executed(run, node_id, ui)
        entry = run.progress[node_id]
        run.progress[node_id] = {**entry, 'value': entry['max'], 'state': 'finished'}
        await self._progress_state(run.prompt_id, run.progress)

    async def _executed(self, run: _Run, node_id: str, ui: dict[str, Any]) -> None:
        run.ui_outputs[node_id], run.meta[node_id] = ui, self._meta(node_id)
        await self._emit(
            MessageType.EXECUTED, {'node': node_id, 'display_node': node_id, 'output': ui, 'prompt_id': run.prompt_id}
        )

    async def _report_interrupt(self, run: _Run) -> None:
        assert run.current is not None
        data = {
            'prompt_id': run.prompt_id,
            'node_id': run.current,
            'node_type': run.prompt[run.current]['class_type'],
            'executed': run.executed,
            'timestamp': now_ms(),
        }
        run.messages.append([MessageType.EXECUTION_INTERRUPTED, data])
        await self.hub.send_json(MessageType.EXECUTION_INTERRUPTED, data, self.client_id)

    async def _report_error(self, run: _Run, ex: NodeError) -> None:
        assert run.current is not None
        data = {
            'prompt_id': run.prompt_id,
            'node_id': run.current,
            'node_type': run.prompt[run.current]['class_type'],
            'executed': run.executed,
            'exception_message': ex.message,
            'exception_type': ex.exception_type,
            'traceback': [f'  File "vcc_ui/simulator/nodes.py", in run_node\n    {ex.exception_type}\n'],
            'current_inputs': self._current_inputs(run.prompt[run.current].get('inputs', {})),
            'current_outputs': list(reversed(run.order)),
            'timestamp': now_ms(),
        }
        await self._emit(MessageType.EXECUTION_ERROR, data, run.messages)

    def _pick_fail_node(self, prompt: dict[str, Any], order: list[str], cached: list[str]) -> str | None:
        if self.faults.fail_next <= 0 and self.faults.error_rate <= 0:
            return None
        runnable = [n for n in order if n not in cached]
        samplers = [n for n in runnable if prompt[n]['class_type'] in SAMPLERS]
        outputs = [n for n in runnable if self.catalogue.is_output(prompt[n]['class_type'])]
        candidates = samplers or outputs or runnable
        if not candidates:
            return None
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            return candidates[0]
        return candidates[0] if self.rng.random() < self.faults.error_rate else None

    @staticmethod
    def _meta(node_id: str) -> dict[str, Any]:
        return {'node_id': node_id, 'display_node': node_id, 'parent_node': None, 'real_node_id': node_id}

    @staticmethod
    def _progress_entry(prompt_id: str, node_id: str, value: float, maximum: float, state: str) -> dict[str, Any]:
        return {
            'value': value,
            'max': maximum,
            'state': state,
            'node_id': node_id,
            'prompt_id': prompt_id,
            'display_node_id': node_id,
            'parent_node_id': None,
            'real_node_id': node_id,
        }

    async def _progress_state(self, prompt_id: str, progress: dict[str, Any]) -> None:
        data = {'prompt_id': prompt_id, 'nodes': copy.deepcopy(progress)}
        await self.hub.send_json(MessageType.PROGRESS_STATE, data, self.client_id)

    @staticmethod
    def _resolve(inputs: dict[str, Any], values: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
        resolved = {}
        for name, value in inputs.items():
            if isinstance(value, list) and len(value) == 2:
                resolved[name] = values[str(value[0])][value[1]]
            elif isinstance(value, dict) and '__value__' in value:
                resolved[name] = value['__value__']
            else:
                resolved[name] = value
        return resolved

    @staticmethod
    def _current_inputs(inputs: dict[str, Any]) -> dict[str, list[Any]]:
        return {
            name: [value if isinstance(value, (int, float, str, bool)) else str(value)]
            for name, value in inputs.items()
            if not (isinstance(value, list) and len(value) == 2)
        }

    def _hook(self, prompt_id: str, node_id: str, class_type: str, progress: dict[str, Any]):
        async def hook(value: int, total: int, preview: Image.Image | None) -> None:
            if self.interrupted:
                raise Interrupted
            client_id = self.client_id
            progress[node_id] = self._progress_entry(prompt_id, node_id, value, total, 'running')
            await self._progress_state(prompt_id, progress)
            jpeg = None
            if preview is not None and self.preview_method != 'none':
                jpeg = await asyncio.to_thread(images.preview_jpeg, preview, value / max(total, 1), self.preview_size)
            with_metadata = client_id is not None and self.hub.supports_metadata(client_id)
            if jpeg is not None and with_metadata:
                metadata = {
                    'node_id': node_id,
                    'prompt_id': prompt_id,
                    'display_node_id': node_id,
                    'parent_node_id': None,
                    'real_node_id': node_id,
                    'image_type': 'image/jpeg',
                }
                await self.hub.send_preview_with_metadata(jpeg, metadata, client_id)
            await self.hub.send_json(
                MessageType.PROGRESS, {'value': value, 'max': total, 'prompt_id': prompt_id, 'node': node_id}, client_id
            )
            if jpeg is not None and not with_metadata:
                await self.hub.send_preview(jpeg, client_id)
            if class_type in SAMPLERS:
                self._steps_this_prompt += 1
                limit = self.faults.drop_ws_after_steps
                if limit is not None and self._steps_this_prompt >= limit:
                    self.faults.drop_ws_after_steps = None
                    log.info('fault: dropping all websockets after %s sampler steps', self._steps_this_prompt)
                    await self.hub.drop_all()

        return hook
