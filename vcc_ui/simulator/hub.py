"""WebSocket client table of the ComfyUI simulator (mirrors PromptServer.sockets and its quirks)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from vcc_ui.services.comfy.protocol import (
    SUPPORTS_PREVIEW_METADATA,
    MessageType,
    preview_frame,
    preview_frame_with_metadata,
)

log = logging.getLogger(__name__)


class Hub:
    """Keep sid -> socket like ComfyUI: a newer socket replaces an older one, the older one's close deletes it."""

    def __init__(self) -> None:
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.metadata: dict[str, dict[str, Any]] = {}
        self.open: dict[web.WebSocketResponse, web.Request] = {}

    def supports_metadata(self, sid: str | None) -> bool:
        """Tell whether the socket registered for sid negotiated preview metadata."""
        if sid is None:
            return False
        return bool(self.metadata.get(sid, {}).get('feature_flags', {}).get(SUPPORTS_PREVIEW_METADATA))

    async def send_json(self, event: MessageType, data: dict[str, Any], sid: str | None) -> None:
        """Send a text message to sid, or broadcast when sid is None; drop it when sid has no socket."""
        text = json.dumps({'type': event, 'data': data})
        for ws in self._targets(sid):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError) as ex:
                log.debug('dropping %s for a closing socket: %s', event, ex)

    async def send_bytes(self, payload: bytes, sid: str | None) -> None:
        """Send a binary frame to sid, or broadcast when sid is None."""
        for ws in self._targets(sid):
            try:
                await ws.send_bytes(payload)
            except (ConnectionError, RuntimeError) as ex:
                log.debug('dropping binary frame for a closing socket: %s', ex)

    async def send_preview(self, jpeg: bytes, sid: str | None) -> None:
        """Send a legacy type-1 preview frame."""
        await self.send_bytes(preview_frame(jpeg), sid)

    async def send_preview_with_metadata(self, jpeg: bytes, metadata: dict[str, Any], sid: str | None) -> None:
        """Send a type-4 preview frame with its JSON metadata."""
        await self.send_bytes(preview_frame_with_metadata(jpeg, metadata), sid)

    def _targets(self, sid: str | None) -> list[web.WebSocketResponse]:
        if sid is None:
            return list(self.sockets.values())
        ws = self.sockets.get(sid)
        return [ws] if ws is not None else []

    async def drop_all(self) -> None:
        """Abort every open socket's connection without a close handshake."""
        for ws, request in list(self.open.items()):
            transport = request.transport
            if transport is not None:
                transport.abort()
            else:
                await ws.close()
        self.open.clear()
