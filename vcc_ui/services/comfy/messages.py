"""Typed ComfyUI WebSocket messages and their parsers (docs/COMFYUI_PROTOCOL.md; frame layouts in protocol.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .protocol import FRAME_WORD, IMAGE_FORMATS, BinaryType, ImageType, MessageType


class MessageError(ValueError):
    """A frame that cannot be read as a ComfyUI message."""


@dataclass(kw_only=True, slots=True)
class ImageRef:
    """One image a node produced: the `/view` coordinates."""

    filename: str
    subfolder: str = ''
    type: str = 'output'


@dataclass(kw_only=True, slots=True)
class Message:
    """Base class of every message the client delivers."""


@dataclass(kw_only=True, slots=True)
class Status(Message):
    """Queue size broadcast; `sid` only in the first message of a socket."""

    queue_remaining: int
    sid: str | None = None


@dataclass(kw_only=True, slots=True)
class ExecutionStart(Message):
    """A prompt started running."""

    prompt_id: str
    timestamp: int | None = None


@dataclass(kw_only=True, slots=True)
class ExecutionCached(Message):
    """Nodes whose outputs came from the cache."""

    prompt_id: str
    nodes: list[str] = field(default_factory=list)
    timestamp: int | None = None


@dataclass(kw_only=True, slots=True)
class Executing(Message):
    """A node is about to run; `node=None` means the prompt is done, `prompt_id=None` is the reconnect form."""

    prompt_id: str | None = None
    node: str | None = None
    display_node: str | None = None


@dataclass(kw_only=True, slots=True)
class Progress(Message):
    """Step progress of one node."""

    prompt_id: str | None = None
    node: str | None = None
    value: int | float
    max: int | float


@dataclass(kw_only=True, slots=True)
class NodeProgress:
    """One node's entry in a progress_state snapshot."""

    value: int | float
    max: int | float
    state: str
    node_id: str | None = None
    display_node_id: str | None = None
    parent_node_id: str | None = None
    real_node_id: str | None = None


@dataclass(kw_only=True, slots=True)
class ProgressState(Message):
    """Snapshot of every non-pending node of a prompt."""

    prompt_id: str
    nodes: dict[str, NodeProgress] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class Executed(Message):
    """A node produced UI output (images and the like)."""

    prompt_id: str
    node: str
    display_node: str | None = None
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def images(self) -> list[ImageRef]:
        """Return the images listed in the output."""
        return image_refs(self.output.get('images'))


@dataclass(kw_only=True, slots=True)
class ExecutionSuccess(Message):
    """A prompt finished without error (history may not be written yet)."""

    prompt_id: str
    timestamp: int | None = None


@dataclass(kw_only=True, slots=True)
class ExecutionError(Message):
    """A node raised at run time."""

    prompt_id: str
    node_id: str | None = None
    node_type: str | None = None
    exception_message: str = ''
    exception_type: str = ''
    traceback: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    current_inputs: dict[str, Any] = field(default_factory=dict)
    current_outputs: list[str] = field(default_factory=list)
    timestamp: int | None = None


@dataclass(kw_only=True, slots=True)
class ExecutionInterrupted(Message):
    """A prompt was interrupted."""

    prompt_id: str
    node_id: str | None = None
    node_type: str | None = None
    executed: list[str] = field(default_factory=list)
    timestamp: int | None = None


@dataclass(kw_only=True, slots=True)
class FeatureFlags(Message):
    """The server's answer to feature negotiation."""

    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class UnknownMessage(Message):
    """A text message of a type this client does not know."""

    type: str
    data: object = None


@dataclass(kw_only=True, slots=True)
class PreviewImage(Message):
    """Legacy binary preview (type 1): no prompt or node id."""

    image_type: ImageType
    data: bytes


@dataclass(kw_only=True, slots=True)
class PreviewImageWithMetadata(Message):
    """Binary preview (type 4) that names its prompt and node."""

    prompt_id: str | None = None
    node_id: str | None = None
    display_node_id: str | None = None
    parent_node_id: str | None = None
    real_node_id: str | None = None
    image_type: ImageType
    data: bytes


@dataclass(kw_only=True, slots=True)
class ProgressText(Message):
    """Binary progress text (type 3) of a node."""

    node_id: str
    text: str


@dataclass(kw_only=True, slots=True)
class UnknownBinary(Message):
    """A binary frame of an event type this client does not know."""

    event_type: int
    data: bytes


@dataclass(kw_only=True, slots=True)
class PromptLost(Message):
    """Synthetic: the server forgot a prompt we were waiting for."""

    prompt_id: str
    reason: str


def image_refs(images: object) -> list[ImageRef]:
    """Return ImageRefs for a list of `{"filename","subfolder","type"}` dicts, skipping malformed entries."""
    if not isinstance(images, list):
        return []
    return [
        ImageRef(
            filename=item['filename'],
            subfolder=str(item.get('subfolder') or ''),
            type=str(item.get('type') or 'output'),
        )
        for item in images
        if isinstance(item, dict) and isinstance(item.get('filename'), str)
    ]


def _get(
    data: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    msg_type: str,
    *,
    required: bool = True,
    default: Any = None,
) -> Any:
    if key not in data:
        if required:
            raise MessageError(f'{msg_type} message lacks field {key!r}')
        return default
    value = data[key]
    if value is None and not required:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise MessageError(f'{msg_type} message field {key!r} has unexpected value {value!r}')
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_NUM = (int, float)
_OPT_STR = (str, type(None))


def _node_progress(raw: object) -> NodeProgress:
    if not isinstance(raw, dict):
        raise MessageError(f'progress_state node entry is not an object: {raw!r}')
    t = 'progress_state'
    return NodeProgress(
        value=_get(raw, 'value', _NUM, t),
        max=_get(raw, 'max', _NUM, t),
        state=_get(raw, 'state', str, t),
        node_id=_get(raw, 'node_id', str, t, required=False),
        display_node_id=_get(raw, 'display_node_id', str, t, required=False),
        parent_node_id=_get(raw, 'parent_node_id', str, t, required=False),
        real_node_id=_get(raw, 'real_node_id', str, t, required=False),
    )


def _parse_data(msg_type: MessageType, d: dict[str, Any]) -> Message:
    t = msg_type
    ts: dict[str, Any] = {'timestamp': _get(d, 'timestamp', _NUM, t, required=False)}
    if t == MessageType.STATUS:
        status = _get(d, 'status', dict, t)
        exec_info = _get(status, 'exec_info', dict, t)
        return Status(
            queue_remaining=_get(exec_info, 'queue_remaining', int, t), sid=_get(d, 'sid', str, t, required=False)
        )
    if t == MessageType.EXECUTION_START:
        return ExecutionStart(prompt_id=_get(d, 'prompt_id', str, t), **ts)
    if t == MessageType.EXECUTION_CACHED:
        return ExecutionCached(
            prompt_id=_get(d, 'prompt_id', str, t),
            nodes=[str(n) for n in _get(d, 'nodes', list, t, required=False, default=[])],
            **ts,
        )
    if t == MessageType.EXECUTING:
        return Executing(
            prompt_id=_get(d, 'prompt_id', str, t, required=False),
            node=_get(d, 'node', _OPT_STR, t),
            display_node=_get(d, 'display_node', str, t, required=False),
        )
    if t == MessageType.PROGRESS:
        return Progress(
            prompt_id=_get(d, 'prompt_id', str, t, required=False),
            node=_get(d, 'node', str, t, required=False),
            value=_get(d, 'value', _NUM, t),
            max=_get(d, 'max', _NUM, t),
        )
    if t == MessageType.PROGRESS_STATE:
        nodes = _get(d, 'nodes', dict, t)
        return ProgressState(
            prompt_id=_get(d, 'prompt_id', str, t), nodes={str(k): _node_progress(v) for k, v in nodes.items()}
        )
    if t == MessageType.EXECUTED:
        return Executed(
            prompt_id=_get(d, 'prompt_id', str, t),
            node=_get(d, 'node', str, t),
            display_node=_get(d, 'display_node', str, t, required=False),
            output=_get(d, 'output', dict, t, required=False, default={}),
        )
    if t == MessageType.EXECUTION_SUCCESS:
        return ExecutionSuccess(prompt_id=_get(d, 'prompt_id', str, t), **ts)
    if t == MessageType.EXECUTION_ERROR:
        return ExecutionError(
            prompt_id=_get(d, 'prompt_id', str, t),
            node_id=_get(d, 'node_id', str, t, required=False),
            node_type=_get(d, 'node_type', str, t, required=False),
            exception_message=_get(d, 'exception_message', str, t, required=False, default=''),
            exception_type=_get(d, 'exception_type', str, t, required=False, default=''),
            traceback=_get(d, 'traceback', list, t, required=False, default=[]),
            executed=_get(d, 'executed', list, t, required=False, default=[]),
            current_inputs=_get(d, 'current_inputs', dict, t, required=False, default={}),
            current_outputs=_get(d, 'current_outputs', list, t, required=False, default=[]),
            **ts,
        )
    if t == MessageType.EXECUTION_INTERRUPTED:
        return ExecutionInterrupted(
            prompt_id=_get(d, 'prompt_id', str, t),
            node_id=_get(d, 'node_id', str, t, required=False),
            node_type=_get(d, 'node_type', str, t, required=False),
            executed=_get(d, 'executed', list, t, required=False, default=[]),
            **ts,
        )
    if t == MessageType.FEATURE_FLAGS:
        return FeatureFlags(flags=dict(d))
    raise AssertionError(t)  # pragma: no cover


def parse_text(raw: str) -> Message:
    """Parse one text frame; raise MessageError when it is not a well-formed message."""
    try:
        obj = json.loads(raw)
    except (ValueError, TypeError) as error:
        raise MessageError(f'text frame is not JSON: {str(raw)[:80]!r}') from error
    if not isinstance(obj, dict) or not isinstance(obj.get('type'), str):
        raise MessageError(f'text frame is not a {{"type", "data"}} object: {str(raw)[:80]!r}')
    data = obj.get('data')
    try:
        msg_type = MessageType(obj['type'])
    except ValueError:
        return UnknownMessage(type=obj['type'], data=data)
    if not isinstance(data, dict):
        raise MessageError(f'{msg_type} message has no data object')
    return _parse_data(msg_type, data)


def _u32(raw: bytes, offset: int, what: str) -> int:
    if len(raw) < offset + 4:
        raise MessageError(f'binary frame truncated: {len(raw)} bytes, no room for {what}')
    return FRAME_WORD.unpack_from(raw, offset)[0]


def parse_binary(raw: bytes) -> Message:
    """Parse one binary frame; raise MessageError when it is truncated or malformed."""
    raw = bytes(raw)
    event_type = _u32(raw, 0, 'the event type')
    if event_type == BinaryType.PREVIEW_IMAGE:
        fmt = _u32(raw, 4, 'the image format')
        if fmt not in IMAGE_FORMATS:
            raise MessageError(f'preview frame has unknown image format {fmt}')
        return PreviewImage(image_type=IMAGE_FORMATS[fmt], data=raw[8:])
    if event_type == BinaryType.TEXT:
        length = _u32(raw, 4, 'the node id length')
        if len(raw) < 8 + length:
            raise MessageError(f'progress text frame truncated: node id needs {length} bytes')
        try:
            return ProgressText(node_id=raw[8 : 8 + length].decode(), text=raw[8 + length :].decode())
        except UnicodeDecodeError as error:
            raise MessageError(f'progress text frame is not UTF-8: {error}') from error
    if event_type == BinaryType.PREVIEW_IMAGE_WITH_METADATA:
        length = _u32(raw, 4, 'the metadata length')
        if len(raw) < 8 + length:
            raise MessageError(f'preview frame truncated: metadata needs {length} bytes')
        try:
            meta = json.loads(raw[8 : 8 + length])
        except ValueError as error:
            raise MessageError('preview frame metadata is not JSON') from error
        if not isinstance(meta, dict):
            raise MessageError('preview frame metadata is not an object')
        t = 'preview'
        image_type = _get(meta, 'image_type', str, t)
        if image_type not in IMAGE_FORMATS.values():
            raise MessageError(f'preview frame has unknown image_type {image_type!r}')
        return PreviewImageWithMetadata(
            prompt_id=_get(meta, 'prompt_id', str, t, required=False),
            node_id=_get(meta, 'node_id', str, t, required=False),
            display_node_id=_get(meta, 'display_node_id', str, t, required=False),
            parent_node_id=_get(meta, 'parent_node_id', str, t, required=False),
            real_node_id=_get(meta, 'real_node_id', str, t, required=False),
            image_type=image_type,
            data=raw[8 + length :],
        )
    return UnknownBinary(event_type=event_type, data=raw[4:])
