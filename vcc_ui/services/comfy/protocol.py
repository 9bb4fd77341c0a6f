"""The ComfyUI wire contract: endpoint paths, WebSocket message and binary frame types, /object_info reading."""

from __future__ import annotations

import json
import struct
from enum import IntEnum, StrEnum
from typing import Any, Literal
from urllib.parse import quote

# endpoints ---------------------------------------------------------------------------------------------------------

API_PREFIX = '/api'  # every route below also answers under /api
WS_PATH = '/ws'
PROMPT_PATH = '/prompt'
QUEUE_PATH = '/queue'
INTERRUPT_PATH = '/interrupt'
FREE_PATH = '/free'
HISTORY_PATH = '/history'
HISTORY_ITEM_PATH = '/history/{prompt_id}'
VIEW_PATH = '/view'
UPLOAD_IMAGE_PATH = '/upload/image'
OBJECT_INFO_PATH = '/object_info'
OBJECT_INFO_NODE_PATH = '/object_info/{node_class}'
SYSTEM_STATS_PATH = '/system_stats'
FEATURES_PATH = '/features'
MODELS_PATH = '/models'
MODELS_FOLDER_PATH = '/models/{folder}'
EMBEDDINGS_PATH = '/embeddings'
EXTENSIONS_PATH = '/extensions'
EXPERIMENT_LORAS_PATH = '/experiment/models/loras'
INTERNAL_FOLDER_PATHS_PATH = '/internal/folder_paths'  # internal routes have no /api alias
INTERNAL_FILES_PATH = '/internal/files/{directory_type}'


def ws_path(client_id: str) -> str:
    """Return the WebSocket path that registers a client id."""
    return f'{WS_PATH}?clientId={quote(client_id, safe="")}'


def history_path(prompt_id: str) -> str:
    """Return the path of one prompt's history entry."""
    return HISTORY_ITEM_PATH.format(prompt_id=quote(prompt_id, safe=''))


def object_info_path(node_class: str | None = None) -> str:
    """Return the path of every node definition, or of one node class."""
    if node_class is None:
        return OBJECT_INFO_PATH
    return OBJECT_INFO_NODE_PATH.format(node_class=quote(node_class, safe=''))


# WebSocket messages ------------------------------------------------------------------------------------------------


class MessageType(StrEnum):
    """The `type` of a text frame `{"type", "data"}`."""

    STATUS = 'status'
    EXECUTION_START = 'execution_start'
    EXECUTION_CACHED = 'execution_cached'
    EXECUTING = 'executing'
    PROGRESS = 'progress'
    PROGRESS_STATE = 'progress_state'
    EXECUTED = 'executed'
    EXECUTION_SUCCESS = 'execution_success'
    EXECUTION_ERROR = 'execution_error'
    EXECUTION_INTERRUPTED = 'execution_interrupted'
    FEATURE_FLAGS = 'feature_flags'


SUPPORTS_PREVIEW_METADATA = 'supports_preview_metadata'  # the feature flag that asks for type-4 previews


class BinaryType(IntEnum):
    """The big-endian u32 event type that opens a binary frame."""

    PREVIEW_IMAGE = 1  # u32 image format, then the image
    UNENCODED_PREVIEW_IMAGE = 2
    TEXT = 3  # u32 node id length, the node id, then UTF-8 text
    PREVIEW_IMAGE_WITH_METADATA = 4  # u32 metadata length, JSON metadata, then the image


ImageType = Literal['image/jpeg', 'image/png']
IMAGE_FORMATS: dict[int, ImageType] = {1: 'image/jpeg', 2: 'image/png'}  # the u32 of a type-1 preview
FRAME_WORD = struct.Struct('>I')


def preview_frame(image: bytes, image_type: ImageType = 'image/jpeg') -> bytes:
    """Return a legacy type-1 preview frame (no prompt or node id)."""
    image_format = next(number for number, name in IMAGE_FORMATS.items() if name == image_type)
    return FRAME_WORD.pack(BinaryType.PREVIEW_IMAGE) + FRAME_WORD.pack(image_format) + image


def preview_frame_with_metadata(image: bytes, metadata: dict[str, Any]) -> bytes:
    """Return a type-4 preview frame; metadata names image_type, prompt_id and node_id."""
    header = json.dumps(metadata).encode()
    return FRAME_WORD.pack(BinaryType.PREVIEW_IMAGE_WITH_METADATA) + FRAME_WORD.pack(len(header)) + header + image


# /object_info ------------------------------------------------------------------------------------------------------

LORA_LOADER = 'LoraLoader'
LORA_INPUT = 'lora_name'
COMBO = 'COMBO'


def required_inputs(info: dict[str, Any]) -> dict[str, Any]:
    """Return a node definition's required input specs by name."""
    inputs = info.get('input')
    required = inputs.get('required') if isinstance(inputs, dict) else None
    return required if isinstance(required, dict) else {}


def node_inputs(info: dict[str, Any]) -> dict[str, Any]:
    """Return a node definition's required and optional input specs by name."""
    inputs = info.get('input')
    optional = inputs.get('optional') if isinstance(inputs, dict) else None
    return {**required_inputs(info), **(optional if isinstance(optional, dict) else {})}


def node_outputs(info: dict[str, Any]) -> list[Any]:
    """Return a node definition's output types."""
    outputs = info.get('output')
    return outputs if isinstance(outputs, list) else []


def input_spec(object_info: dict[str, Any], node_class: str, input_name: str) -> list[Any] | None:
    """Return the spec `[type or options, {config}]` of one node input, or None when the server lacks it."""
    info = object_info.get(node_class)
    spec = node_inputs(info).get(input_name) if isinstance(info, dict) else None
    return spec if isinstance(spec, list) and spec else None


def is_combo(spec: list[Any]) -> bool:
    """Tell whether an input spec is a choice list, in either spelling."""
    return bool(spec) and (isinstance(spec[0], list) or spec[0] == COMBO)


def combo_options(spec: list[Any]) -> list[Any] | None:
    """Return the choices of a combo spec: old `[[choices], {...}]` or newer `["COMBO", {"options": [...]}]`."""
    if not spec:
        return None
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == COMBO and len(spec) > 1 and isinstance(spec[1], dict):
        options = spec[1].get('options')
        return options if isinstance(options, list) else None
    return None


def set_combo_options(spec: list[Any], options: list[Any]) -> None:
    """Replace the choices of a combo spec in place, keeping its spelling."""
    if spec and spec[0] == COMBO:
        if len(spec) < 2 or not isinstance(spec[1], dict):
            spec[1:] = [{}]
        spec[1]['options'] = options
    else:
        spec[0] = options


def combo_values(object_info: dict[str, Any], node_class: str, input_name: str) -> list[str] | None:
    """Return the choices a server offers for one combo input, or None when it has no such combo."""
    spec = input_spec(object_info, node_class, input_name)
    options = combo_options(spec) if spec is not None else None
    return [str(option) for option in options] if options is not None else None


def lora_names(object_info: dict[str, Any]) -> list[str]:
    """Return the LoRA names a server lists, as its LoraLoader spells them (empty when it has none)."""
    return combo_values(object_info, LORA_LOADER, LORA_INPUT) or []


def unified(name: str) -> str:
    """Return a model file name with '/' as separator (Windows servers list names with '\\')."""
    return name.replace('\\', '/')
