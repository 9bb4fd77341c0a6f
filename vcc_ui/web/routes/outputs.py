"""/outputs/*: the caller's own stored images and thumbnails."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from vcc_ui.services.storage import StorageError
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ApiError

router = APIRouter(tags=['outputs'], dependencies=[ReadyDep])


@router.get('/outputs/{rel_path:path}', include_in_schema=False)
async def output_file(rel_path: str, user: UserDep, services: ServicesDep) -> FileResponse:
    """Serve one of the caller's files; other users' files answer 404."""
    if not rel_path.startswith(f'users/{user}/'):
        raise ApiError(404, 'not_found', 'No such file')
    try:
        path = services.storage.resolve(rel_path)
    except StorageError as error:
        raise ApiError(404, 'not_found', 'No such file') from error
    if not path.is_file() or path.suffix == '.json':
        raise ApiError(404, 'not_found', 'No such file')
    return FileResponse(path, headers={'Cache-Control': 'private, max-age=31536000, immutable'})
