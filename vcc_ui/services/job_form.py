"""What the Generate form holds, what a submit still needs, and the job params it makes for a workflow."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.servers import ServerPool
from vcc_ui.services.workflows import GenerateParams, Workflow

ADDRESS = re.compile(
    r'\b(?:https?|wss?)://[^\s\'"<>]+|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\blocalhost(?::\d+)?\b'
    r'|\[[0-9a-fA-F:]+\](?::\d+)?',
)
Missing = Literal['prompt', 'seed', 'input_image']


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why a workflow cannot run now: no ComfyUI server is reachable, or the reachable ones lack what it needs."""

    down: bool
    reason: str = ''  # what the servers lack, without server names or addresses


def unavailable(pool: ServerPool, workflow_id: str) -> Unavailable | None:
    """Return why no server can run the workflow now, or None when one can (once for all tabs a change reaches)."""
    return pool.shared(('unavailable', workflow_id), lambda: _unavailable(pool, workflow_id))


def _unavailable(pool: ServerPool, workflow_id: str) -> Unavailable | None:
    usable = [e for e in pool.entries.values() if e.usable]
    if not usable:
        return Unavailable(down=True)
    if pool.unavailable_reason(workflow_id) is None:
        return None
    reasons = pool.registry.availability(workflow_id)
    unique = dict.fromkeys(reasons.get(e.health.name) or '' for e in usable)
    return Unavailable(down=False, reason='; '.join(r for r in unique if r) or 'the workflow is not loaded')


def form_catalogue(pool: ServerPool, workflow_id: str) -> dict[str, Any] | None:
    """The /object_info the Generate form's controls follow: the first server that can run the workflow, else any."""
    return pool.shared(('catalogue', workflow_id), lambda: _form_catalogue(pool, workflow_id))


def _form_catalogue(pool: ServerPool, workflow_id: str) -> dict[str, Any] | None:
    able = pool.catalogues(workflow_id)
    known = able or [e.object_info for e in pool.lora_servers(workflow_id) if e.object_info]
    return known[0] if known else None


@dataclass(kw_only=True, slots=True)
class JobForm:
    """The form's values as the controls hold them (None where a control is empty)."""

    prompt: str = ''
    negative_prompt: str = ''
    random_seed: bool = True
    seed: float | None = None
    aspect_ratio: str | None = None
    batch_size: int | None = None
    steps: float | None = None
    input_image: str | None = None
    lora: str | None = None
    lora_strength: float | None = None
    declared: dict[str, Any] = field(default_factory=dict)  # the workflow's declared parameters, by id

    def missing(self, workflow: Workflow) -> Missing | None:
        """Return the first thing a job of this workflow still needs from the user, or None."""
        if workflow.shows_prompt and not self.prompt.strip():
            return 'prompt'
        if workflow.accepts('seed') and not self.random_seed and self.seed is None:
            return 'seed'
        if workflow.needs_input_image and self.input_image is None:
            return 'input_image'
        return None

    def params(self, workflow: Workflow) -> dict[str, Any]:
        """Return the job params for this workflow: only what it takes, a seed only when one is fixed."""
        params: dict[str, Any] = {'prompt': self.prompt, 'negative_prompt': self.negative_prompt}
        if not workflow.shows_prompt:
            params = {}
        if workflow.accepts('seed') and not self.random_seed and self.seed is not None:
            params['seed'] = int(self.seed)
        if workflow.aspect_ratios and self.aspect_ratio:
            params['aspect_ratio'] = self.aspect_ratio
        if workflow.max_batch > 1:
            params['batch_size'] = int(self.batch_size or 1)
        if workflow.accepts('steps') and self.steps:
            params['steps'] = int(self.steps)
        if workflow.needs_input_image:
            params['input_image'] = self.input_image
        if workflow.accepts('lora'):
            params['lora'] = self.lora or None
            params['lora_strength'] = self.lora_strength
        params |= {pid: value for pid, value in self.declared.items() if pid in workflow.params}
        return params


RECORD_ONLY = ('workflow_id', 'mode', 'workflow_version')  # recorded beside the params, not params themselves


def recorded_params(image: ImageView) -> dict[str, Any]:
    """Return the job params an image was made with (older images recorded only prompts, seed and aspect)."""
    if image.params:
        return {k: v for k, v in image.params.items() if k not in RECORD_ONLY}
    known = {
        'prompt': image.prompt,
        'negative_prompt': image.negative_prompt,
        'seed': image.seed,
        'aspect_ratio': image.aspect_ratio,
    }
    return {k: v for k, v in known.items() if v is not None}


def remix(
    image: ImageView, overrides: dict[str, Any], workflow_id: str | None = None, *, declared: Collection[str] = ()
) -> tuple[str, dict[str, Any]]:
    """Return the workflow and params that make an image again, with `overrides` over its recorded params.

    Recorded values of parameters the workflow does not declare (`declared`: another workflow's, or one since
    removed from its file) are left out; overrides are kept as given, so a wrong one is still refused.
    """
    recorded = {k: v for k, v in recorded_params(image).items() if k in GenerateParams.model_fields or k in declared}
    return workflow_id or image.workflow_id or '', {**recorded, **overrides}


def without_addresses(text: str) -> str:
    """Return text with server URLs and host:port addresses replaced by '…' (what users other than admins see)."""
    return ADDRESS.sub('…', text)


HISTORY_SIZE = 50


def remember_prompt(history: list[str], prompt: str) -> list[str]:
    """Return the prompt history with `prompt` first (once) and at most HISTORY_SIZE entries."""
    prompt = prompt.strip()
    if not prompt:
        return history[:HISTORY_SIZE]
    return [prompt, *(p for p in history if p != prompt)][:HISTORY_SIZE]
