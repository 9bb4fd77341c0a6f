"""Answering with a stored file, whatever the backend: the local file, a presigned S3 redirect, or a stream."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Mapping

from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from vcc_ui.services.image_meta import ImageProblem
from vcc_ui.services.images import STORAGE_UNAVAILABLE
from vcc_ui.services.storage import Storage, StorageError, StorageUnavailable
from vcc_ui.web.errors import ApiError

log = logging.getLogger(__name__)


async def stored_file(
    storage: Storage,
    rel_path: str,
    *,
    media_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    disposition: str | None = None,
) -> Response:
    """Answer one stored file after the caller's access check; 404 when missing, 503 when the storage is down.

    Local files are sent as they are; S3 objects are streamed through the app, or with S3_PRESIGN_SECONDS > 0 the
    browser is redirected to a presigned GET URL that expires after that many seconds.
    """
    media = media_type or mimetypes.guess_type(rel_path)[0] or 'application/octet-stream'
    answer_headers = dict(headers or {})
    if disposition:
        answer_headers['Content-Disposition'] = disposition
    if (path := storage.local_path(rel_path)) is not None:
        return FileResponse(path, media_type=media, headers=answer_headers)
    try:
        if storage.presign_seconds > 0:
            if await asyncio.to_thread(storage.stat, rel_path) is None:
                raise ApiError(404, 'not_found', 'No such file')
            url = await asyncio.to_thread(storage.presigned_url, rel_path, media_type=media, disposition=disposition)
            if url is not None:
                cache = f'private, max-age={storage.presign_seconds // 2}'
                return RedirectResponse(url, status_code=307, headers={'Cache-Control': cache})
        size, chunks = await asyncio.to_thread(storage.open_chunks, rel_path)
    except StorageUnavailable as error:
        raise ImageProblem('unavailable', STORAGE_UNAVAILABLE) from error
    except StorageError as error:
        raise ApiError(404, 'not_found', 'No such file') from error
    answer_headers['Content-Length'] = str(size)
    return StreamingResponse(chunks, media_type=media, headers=answer_headers)
