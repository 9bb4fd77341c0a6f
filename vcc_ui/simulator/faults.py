"""Fault switches of the ComfyUI simulator: slow steps, failures, dropped sockets, refused requests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True, slots=True)
class Faults:
    """Knobs that make the simulator slow or misbehave."""

    step_delay: float = 0.05
    fail_next: int = 0
    fail_message: str = 'Simulated sampler failure (fault injection)'
    drop_ws_after_steps: int | None = None
    refuse: bool = False
    http_errors: dict[str, int] = field(default_factory=dict)  # path -> how many next requests answer 500
    error_rate: float = 0.0  # share of prompts that fail at their sampler (or output node), drawn per prompt
    ws_drop_every: int = 0  # abort every socket after each Nth prompt started (0 = never)
    slow_ms: int = 0  # delay every HTTP answer (not /ws, not /sim/) by this many milliseconds
    # each next POST /prompt is queued, then answered 500 ('500') or its connection dropped ('drop')
    accept_then_fail: list[str] = field(default_factory=list)
    lose_last_output: int = 0  # the next N finished prompts have their last output file removed from output/
