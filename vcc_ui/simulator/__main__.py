"""Run the ComfyUI simulator on its own: `python -m vcc_ui.simulator --port 8188`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import tempfile
from pathlib import Path

from .app import Simulator
from .faults import Faults

log = logging.getLogger(__name__)


async def serve(
    root: Path, *, host: str, port: int, faults: Faults, prompt_log: Path | None = None, seed: int | None = None
) -> None:
    """Serve until cancelled or SIGTERM, with the demo LoRA files under root and the given fault knobs."""
    simulator = Simulator(
        root=root, host=host, port=port, lora_folder=True, demo_loras=True, prompt_log=prompt_log, seed=seed
    )
    for knob in dataclasses.fields(Faults):
        setattr(simulator.faults, knob.name, getattr(faults, knob.name))
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' event loop
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await simulator.start()
    try:
        await stopped.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the simulator until Ctrl+C; its files live in a temporary folder unless --root names one."""
    parser = argparse.ArgumentParser(prog='python -m vcc_ui.simulator', description='ComfyUI 0.3.64 simulator')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8188)
    parser.add_argument('--root', type=Path, help='folder for inputs, outputs and models (default: a temporary one)')
    parser.add_argument('--step-delay', type=float, default=0.05)
    parser.add_argument('--error-rate', type=float, default=0.0, help='share of prompts that fail (0..1)')
    parser.add_argument('--ws-drop-every', type=int, default=0, help='drop all sockets every N prompts started')
    parser.add_argument('--slow-ms', type=int, default=0, help='delay every HTTP answer by this many ms')
    parser.add_argument('--seed', type=int, help='seed of the random faults (default: unseeded)')
    parser.add_argument('--prompt-log', type=Path, help='append each received and finished prompt to this file')
    args = parser.parse_args(argv)
    if not 0 <= args.error_rate <= 1 or args.ws_drop_every < 0 or args.slow_ms < 0:
        parser.error('--error-rate must be within 0..1; --ws-drop-every and --slow-ms must not be negative')
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    faults = Faults(
        step_delay=args.step_delay, error_rate=args.error_rate, ws_drop_every=args.ws_drop_every, slow_ms=args.slow_ms
    )
    with contextlib.ExitStack() as stack:
        root = args.root or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='vcc-comfy-sim-')))
        log.info('simulator files in %s', root)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                serve(root, host=args.host, port=args.port, faults=faults, prompt_log=args.prompt_log, seed=args.seed)
            )


if __name__ == '__main__':
    main()
