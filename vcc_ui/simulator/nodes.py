"""Model-free implementations of the simulator's node classes."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from . import images
from .catalogue import split_annotation

SAMPLERS = ('KSampler', 'KSamplerAdvanced')
LETTERS = string.ascii_lowercase

ProgressHook = Callable[[int, int, Image.Image | None], Awaitable[None]]


class NodeError(Exception):
    """A node failed at run time (becomes execution_error)."""

    def __init__(self, exception_type: str, message: str) -> None:
        super().__init__(message)
        self.exception_type = exception_type
        self.message = message


@dataclass(kw_only=True, slots=True)
class NodeContext:
    """What a running node may use."""

    root: Path
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    step_delay: float
    progress: ProgressHook
    temp_prefix: str = field(default_factory=lambda: 'ComfyUI_temp_' + ''.join(random.choices(LETTERS, k=5)))


def _model(name: str) -> dict[str, Any]:
    return {'ckpt': name, 'loras': []}


def _with_lora(model: dict[str, Any], name: str, strength: float) -> dict[str, Any]:
    return {**model, 'loras': [*model.get('loras', []), (name, strength)]}


async def _sample(
    ctx: NodeContext, *, text: str, seed: int, latent: dict[str, Any], steps: int, denoise: float
) -> dict[str, Any]:
    width, height, batch = latent['width'], latent['height'], latent['batch']
    base = latent.get('images')

    def work() -> list[Image.Image]:
        rendered = [images.render(text, seed, width, height, i) for i in range(batch)]
        if base:
            return [images.blend(b, r, denoise) for b, r in zip(base, rendered, strict=False)]
        return rendered

    result = await asyncio.to_thread(work)
    for step in range(1, steps + 1):
        if ctx.step_delay > 0:
            await asyncio.sleep(ctx.step_delay)
        await ctx.progress(step, steps, result[0] if result else None)
    return {**latent, 'images': result}


def _resolve_input(root: Path, value: str) -> Path:
    name, kind = split_annotation(value)
    return root / (kind or 'input') / name


async def _save(ctx: NodeContext, pictures: list[Image.Image], prefix: str, kind: str) -> dict[str, Any]:
    base = (ctx.root / kind).resolve()
    folder = (base / prefix).parent.resolve()
    if not folder.is_relative_to(base):
        raise NodeError(
            'Exception',
            f'**** ERROR: Saving image outside the output folder is not allowed.\n'
            f' full_output_folder: {folder}\n         output_dir: {base}',
        )
    subfolder = folder.relative_to(base).as_posix()
    subfolder = '' if subfolder == '.' else subfolder
    metadata = {'prompt': ctx.prompt, **ctx.extra_data.get('extra_pnginfo', {})} if kind == 'output' else None
    names = await asyncio.to_thread(
        images.save_pngs, pictures, folder, Path(prefix).name, metadata=metadata, compress=4 if kind == 'output' else 1
    )
    return {'images': [{'filename': n, 'subfolder': subfolder, 'type': kind} for n in names]}


async def run_node(ctx: NodeContext, class_type: str, v: dict[str, Any]) -> tuple[tuple[Any, ...], dict | None]:
    """Run one node on resolved inputs and return (outputs, ui)."""
    match class_type:
        case 'CheckpointLoaderSimple':
            return (_model(v['ckpt_name']), _model(v['ckpt_name']), {'vae': v['ckpt_name']}), None
        case 'LoraLoader':
            return (
                _with_lora(v['model'], v['lora_name'], float(v['strength_model'])),
                _with_lora(v['clip'], v['lora_name'], float(v['strength_clip'])),
            ), None
        case 'LoraLoaderModelOnly':
            return (_with_lora(v['model'], v['lora_name'], float(v['strength_model'])),), None
        case 'CLIPTextEncode':
            return ({'text': str(v['text']), 'clip': v['clip']},), None
        case 'EmptyLatentImage':
            return ({'width': int(v['width']), 'height': int(v['height']), 'batch': int(v['batch_size'])},), None
        case 'KSampler':
            latent = await _sample(
                ctx,
                text=v['positive']['text'],
                seed=int(v['seed']),
                latent=v['latent_image'],
                steps=int(v['steps']),
                denoise=float(v['denoise']),
            )
            return (latent,), None
        case 'KSamplerAdvanced':
            total = max(0, min(int(v['end_at_step']), int(v['steps'])) - int(v['start_at_step']))
            latent = await _sample(
                ctx,
                text=v['positive']['text'],
                seed=int(v['noise_seed']),
                latent=v['latent_image'],
                steps=total,
                denoise=1.0,
            )
            return (latent,), None
        case 'VAEDecode':
            latent = v['samples']
            pictures = latent.get('images') or [images.gray(latent['width'], latent['height'])] * latent['batch']
            return (list(pictures),), None
        case 'VAEEncode':
            pictures = v['pixels']
            return (
                {
                    'width': pictures[0].width,
                    'height': pictures[0].height,
                    'batch': len(pictures),
                    'images': list(pictures),
                },
            ), None
        case 'LatentUpscale':
            latent = v['samples']
            width, height = int(v['width']) or latent['width'], int(v['height']) or latent['height']
            pictures = latent.get('images')
            if pictures:
                pictures = await asyncio.to_thread(
                    lambda: [images.scale(p, width, height, v['crop']) for p in pictures]
                )
            return ({**latent, 'width': width, 'height': height, 'images': pictures},), None
        case 'LoadImage':
            path = _resolve_input(ctx.root, v['image'])
            try:
                rgb, mask = await asyncio.to_thread(images.load, path)
            except UnidentifiedImageError as ex:
                raise NodeError('PIL.UnidentifiedImageError', f"cannot identify image file '{path}'\n") from ex
            except OSError as ex:
                raise NodeError(type(ex).__name__, f'{ex}\n') from ex
            return ([rgb], mask), None
        case 'ImageScale':
            return (
                await asyncio.to_thread(
                    lambda: [images.scale(p, int(v['width']), int(v['height']), v['crop']) for p in v['image']]
                ),
            ), None
        case 'ImageScaleBy':
            factor = float(v['scale_by'])
            return (
                await asyncio.to_thread(
                    lambda: [
                        images.scale(p, max(1, round(p.width * factor)), max(1, round(p.height * factor)))
                        for p in v['image']
                    ]
                ),
            ), None
        case 'ImageInvert':
            return (await asyncio.to_thread(lambda: [images.invert(p) for p in v['image']]),), None
        case 'EmptyImage':
            picture = await asyncio.to_thread(images.solid, int(v['width']), int(v['height']), int(v['color']))
            return ([picture] * int(v['batch_size']),), None
        case 'SolidMask':
            value = max(0, min(255, round(float(v['value']) * 255)))
            return (Image.new('L', (int(v['width']), int(v['height'])), value),), None
        case 'SaveImage':
            return (), await _save(ctx, v['images'], str(v['filename_prefix']), 'output')
        case 'PreviewImage':
            return (), await _save(ctx, v['images'], ctx.temp_prefix, 'temp')
    raise NodeError('NotImplementedError', f'{class_type} is not simulated')
