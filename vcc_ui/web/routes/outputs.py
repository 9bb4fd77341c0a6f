"""/outputs/*: the caller's own stored images and thumbnails."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from vcc_ui.services.storage import StorageError, check_rel
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ApiError, ServiceRoute
from vcc_ui.web.files import stored_file

router = APIRouter(tags=['outputs'], dependencies=[ReadyDep], route_class=ServiceRoute)


def servable(rel_path: str, owner: str | None = None) -> str:
    """Return `rel_path` when it names an image or thumbnail under users/ (of `owner` when given), else 404."""
    try:
        check_rel(rel_path)
    except StorageError as error:
        raise ApiError(404, 'not_found', 'No such file') from error
    if not rel_path.startswith(f'users/{owner}/' if owner else 'users/') or rel_path.endswith('.json'):
        raise ApiError(404, 'not_found', 'No such file')
    return rel_path


@router.get('/outputs/{rel_path:path}', include_in_schema=False)
async def output_file(rel_path: str, user: UserDep, services: ServicesDep) -> Response:
    """Serve one of the caller's files; other users' files answer 404."""
    return await stored_file(
        services.storage,
        servable(rel_path, user),
        headers={'Cache-Control': 'private, max-age=31536000, immutable'},
    )
