"""Share links: /api/v1/images/{id}/shares and /api/v1/shares for their owner, /s/{token} for anyone holding one."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vcc_ui.i18n import best_language, translate
from vcc_ui.services.image_meta import ImageNotFound, ImageProblem
from vcc_ui.services.images import STORAGE_UNAVAILABLE
from vcc_ui.services.shares import SHARE_PATH, ShareGone, share_title
from vcc_ui.services.storage import StorageUnavailable
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ServiceRoute
from vcc_ui.web.files import stored_file
from vcc_ui.web.routes.images import IMAGE_KINDS, owned
from vcc_ui.web.schemas import ItemsOut, ShareBody, ShareOut

router = APIRouter(tags=['shares'], dependencies=[ReadyDep], route_class=ServiceRoute)

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
{meta}
<style>
body {{ margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center;
  justify-content: center; gap: 1rem; background: #0f172a; color: #e2e8f0;
  font-family: system-ui, -apple-system, 'Noto Sans KR', sans-serif; padding: 1rem; box-sizing: border-box; }}
img {{ max-width: 100%; max-height: 85vh; border-radius: 8px; object-fit: contain; }}
h1 {{ font-size: 1.1rem; font-weight: 500; margin: 0; max-width: 60rem; text-align: center; overflow-wrap: anywhere; }}
p {{ margin: 0; color: #94a3b8; text-align: center; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


@router.post('/api/v1/images/{image_id}/shares', status_code=201)
async def create_share(image_id: str, user: UserDep, services: ServicesDep, body: ShareBody | None = None) -> ShareOut:
    """Make an expiring link to one of the caller's images (without its embedded metadata unless asked)."""
    shares = services.shares
    body = body or ShareBody()
    return ShareOut.of(shares, await shares.create(user, image_id, body.expires, strip_metadata=body.strip_metadata))


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
async def shared_page(token: str, request: Request, services: ServicesDep) -> HTMLResponse:
    """The page of a shared image, with open-graph tags; a friendly page (404 unknown, 410 expired) otherwise."""
    lang = best_language(request.headers.get('accept-language'))
    try:
        _, row = await services.shares.resolve_link(token)
    except (ImageNotFound, ShareGone) as error:
        return problem_page(error, lang)
    workflow = services.registry.title(row.workflow_id, lang) if row.workflow_id else None
    title = share_title(row, workflow) or translate('share_page_shared', lang)
    image_path = f'{SHARE_PATH}{token}/image'
    image_url = str(request.base_url).rstrip('/') + image_path
    tags = {
        'og:title': title,
        'og:type': 'website',
        'og:description': translate('share_page_description', lang),
        'og:image': image_url,
        'og:image:width': str(row.width),
        'og:image:height': str(row.height),
        'og:image:alt': title,
    }
    meta = '\n'.join(f'<meta property="{key}" content="{escape(value)}">' for key, value in tags.items())
    meta += '\n<meta name="twitter:card" content="summary_large_image">'
    body = (
        f'<img src="{escape(image_path)}" alt="{escape(title)}" width="{row.width}" height="{row.height}">\n'
        f'<h1>{escape(title)}</h1>'
    )
    page = PAGE.format(lang=lang, title=escape(title), meta=meta, body=body)
    return HTMLResponse(page, headers={'Cache-Control': 'private, no-store'})


@router.get(SHARE_PATH + '{token}/image', include_in_schema=False)
async def shared_image(token: str, services: ServicesDep) -> Response:
    """The shared file itself (by default a copy without embedded metadata); 404 unknown, 410 expired or revoked."""
    link, row = await services.shares.resolve_link(token)
    try:
        rel_path = await services.shares.file(link, row)
    except StorageUnavailable as error:
        raise ImageProblem('unavailable', STORAGE_UNAVAILABLE) from error
    return await stored_file(
        services.storage, rel_path, media_type=row.mime, headers={'Cache-Control': 'private, no-store'}
    )


def problem_page(error: ImageNotFound | ShareGone, lang: str) -> HTMLResponse:
    """A friendly page saying why a share link shows nothing, in the visitor's language."""
    if isinstance(error, ShareGone):
        until = f'{error.until:%Y-%m-%d %H:%M}' if error.until else ''
        text, status = translate(f'share_page_{error.reason}', lang, time=until), 410
    else:
        text, status = translate('share_page_unknown', lang), 404
    body = f'<h1>{escape(text)}</h1>\n<p>{escape(translate("share_page_ask", lang))}</p>'
    page = PAGE.format(lang=lang, title=escape(text), meta='', body=body)
    return HTMLResponse(page, status_code=status, headers={'Cache-Control': 'no-store'})
