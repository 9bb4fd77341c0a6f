"""A ComfyUI 0.3.64 simulator for tests, demos and the app without configured servers (`python -m vcc_ui.simulator`)."""

from .app import Simulator, start_bundled
from .faults import Faults

__all__ = ['Faults', 'Simulator', 'start_bundled']
