"""/api/v1/tokens: the caller's personal API tokens: list, make (a browser session only) and revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vcc_ui.i18n import best_language, translate
from vcc_ui.services.tokens import TokenError
from vcc_ui.web.deps import ReadyDep, ServicesDep, TokenDep, UserDep
from vcc_ui.web.errors import STATUS_BY_CODE, ApiError, ServiceRoute
from vcc_ui.web.schemas import ItemsOut, TokenCreate, TokenCreatedOut, TokenOut

router = APIRouter(prefix='/api/v1', tags=['tokens'], dependencies=[ReadyDep], route_class=ServiceRoute)


def refused(error: TokenError, request: Request) -> ApiError:
    """The answer to a refused token request, in the caller's language."""
    lang = best_language(request.headers.get('accept-language'))
    return ApiError(STATUS_BY_CODE.get(error.code, 422), error.code, translate(error.reason, lang))


@router.get('/tokens')
async def list_tokens(user: UserDep, services: ServicesDep) -> ItemsOut[TokenOut]:
    """The caller's tokens that were not revoked, newest first (never their secrets)."""
    now = services.tokens.clock()
    return ItemsOut[TokenOut](items=[TokenOut.of(info, now) for info in await services.tokens.of(user)])


@router.post('/tokens', status_code=201)
async def create_token(
    body: TokenCreate, user: UserDep, token: TokenDep, services: ServicesDep, request: Request
) -> TokenCreatedOut:
    """Make a token that acts as the caller; its secret is in this answer only. Admin reach needs an admin session."""
    lang = best_language(request.headers.get('accept-language'))
    if token is not None:  # a leaked token must not be able to outlive its own expiry or revocation
        raise ApiError(403, 'token_by_token', translate('token_by_token', lang))
    if body.admin and not services.admin.is_admin(request.cookies):  # made by a signed-in admin
        raise ApiError(403, 'admin_required', translate('token_admin_only', lang), 'admin')
    try:
        info, secret = await services.tokens.create(user, body.name, days=body.expires_in_days, admin=body.admin)
    except TokenError as error:
        raise refused(error, request) from error
    return TokenCreatedOut(**TokenOut.of(info, services.tokens.clock()).model_dump(), token=secret)


@router.delete('/tokens/{token_id}')
async def revoke_token(token_id: str, user: UserDep, services: ServicesDep, request: Request) -> TokenOut:
    """Revoke one of the caller's tokens: it stops working at once."""
    try:
        info = await services.tokens.revoke(user, token_id)
    except TokenError as error:
        raise refused(error, request) from error
    return TokenOut.of(info, services.tokens.clock())
