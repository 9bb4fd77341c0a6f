"""Run the ComfyUI simulator on its own: `python -m vcc_ui.simulator --port 8188`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import tempfile
from pathlib import Path

from .app import Simulator

log = logging.getLogger(__name__)


async def serve(root: Path, *, host: str, port: int, step_delay: float) -> None:
    """Serve until cancelled or SIGTERM, with the demo LoRA files under root."""
    simulator = Simulator(root=root, host=host, port=port, lora_folder=True, demo_loras=True)
    simulator.faults.step_delay = step_delay
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    with contextlib.ExitStack() as stack:
        root = args.root or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='vcc-comfy-sim-')))
        log.info('simulator files in %s', root)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(root, host=args.host, port=args.port, step_delay=args.step_delay))


if __name__ == '__main__':
    main()
