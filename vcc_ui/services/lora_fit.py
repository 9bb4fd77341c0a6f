"""Whether a LoRA fits a workflow: the workflow's declared base model against the LoRA's Civitai base model."""

from __future__ import annotations

# Civitai base model names by family; LoRAs of one family load on any checkpoint of it
_FAMILIES = (
    ('sd1', ('sd 1.',)),
    ('sd2', ('sd 2.',)),
    ('sdxl', ('sdxl', 'pony', 'illustrious', 'noobai')),
    ('sd3', ('sd 3',)),
    ('flux', ('flux',)),
)


def base_family(base_model: str | None) -> str | None:
    """The family of a base model name ('SD 1.5' -> 'sd1', 'Pony' -> 'sdxl'); unknown names stand for themselves."""
    name = ' '.join((base_model or '').lower().split())
    if not name:
        return None
    return next((family for family, starts in _FAMILIES if name.startswith(starts)), name)


def lora_mismatch(workflow_base: str | None, lora_base: str | None) -> bool:
    """True when both base models are known and belong to different families (the LoRA will not work well)."""
    wanted, offered = base_family(workflow_base), base_family(lora_base)
    return wanted is not None and offered is not None and wanted != offered
