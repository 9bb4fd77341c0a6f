"""Internals of the ComfyUI simulator (entry point: vcc_ui.services.comfy.simulator)."""
