"""Share links: /api/v1/images/{id}/shares and /api/v1/shares for their owner, /s/{token} for anyone holding one."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from vcc_ui.services.shares import SHARE_PATH
from vcc_ui.services.storage import StorageError
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ApiError, ServiceRoute
from vcc_ui.web.routes.images import IMAGE_KINDS, owned
from vcc_ui.web.schemas import ItemsOut, ShareBody, ShareOut

GONE_MESSAGE = 'The shared image is no longer available.'

router = APIRouter(tags=['shares'], dependencies=[ReadyDep], route_class=ServiceRoute)


@router.post('/api/v1/images/{image_id}/shares', status_code=201)
async def create_share(image_id: str, user: UserDep, services: ServicesDep, body: ShareBody | None = None) -> ShareOut:
    """Make an expiring link to one of the caller's images."""
    shares = services.shares
    return ShareOut.of(shares, await shares.create(user, image_id, (body or ShareBody()).expires))


@router.get('/api/v1/images/{image_id}/shares')
async def image_shares(image_id: str, user: UserDep, services: ServicesDep) -> ItemsOut[ShareOut]:
    """The caller's links to one image."""
    await owned(services, user, image_id, IMAGE_KINDS['all'])
    shares = services.shares
    return ItemsOut[ShareOut](items=[ShareOut.of(shares, link) for link in await shares.links(user, image_id)])


@router.get('/api/v1/shares')
async def list_shares(user: UserDep, services: ServicesDep) -> ItemsOut[ShareOut]:
    """All the caller's share links."""
    shares = services.shares
    return ItemsOut[ShareOut](items=[ShareOut.of(shares, link) for link in await shares.links(user)])


@router.post('/api/v1/shares/{link_id}/revoke')
async def revoke_share(link_id: str, user: UserDep, services: ServicesDep) -> ShareOut:
    """Turn off one of the caller's share links."""
    shares = services.shares
    return ShareOut.of(shares, await shares.revoke(user, link_id))


@router.get(SHARE_PATH + '{token}', include_in_schema=False)
async def shared_image(token: str, services: ServicesDep) -> Response:
    """The shared image itself, for anyone holding a valid link; 404 unknown, 410 expired or revoked."""
    row = await services.shares.resolve(token)
    try:
        path = services.storage.resolve(row.rel_path)
    except StorageError as error:
        raise ApiError(410, 'gone', GONE_MESSAGE) from error
    if not path.is_file():
        raise ApiError(410, 'gone', GONE_MESSAGE)
    return FileResponse(path, media_type=row.mime, headers={'Cache-Control': 'private, no-store'})
