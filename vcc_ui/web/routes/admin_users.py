"""/api/v1/admin/users: every user with usage, quota and block state, changes to them, beta sign-out (admins only)."""

from __future__ import annotations

from fastapi import APIRouter

from vcc_ui.services.admin import ADMIN_API_PREFIX
from vcc_ui.services.admin_data import UserSummary
from vcc_ui.web.deps import AdminDep, ReadyDep, ServicesDep
from vcc_ui.web.errors import ServiceRoute
from vcc_ui.web.schemas import ItemsOut, RevokedOut, UserUpdate

router = APIRouter(prefix=ADMIN_API_PREFIX, tags=['admin'], dependencies=[AdminDep, ReadyDep], route_class=ServiceRoute)


@router.get('/users')
async def list_users(services: ServicesDep) -> ItemsOut[UserSummary]:
    """Every user with jobs, images, bytes, quota and block state."""
    return ItemsOut[UserSummary](items=await services.admin_data.users())


@router.patch('/users/{user_id}')
async def update_user(user_id: str, body: UserUpdate, services: ServicesDep) -> UserSummary:
    """Set a user's display name, block state or quota (null quota = the default)."""
    fields = body.model_dump(exclude_unset=True)
    if fields.get('blocked') is None:
        fields.pop('blocked', None)
    return await services.admin_data.update_user(user_id, **fields)


@router.post('/beta-sessions/revoke')
async def sign_out_beta_testers(services: ServicesDep) -> RevokedOut:
    """Sign out every beta tester: their cookies stop working and each must enter the password again."""
    return RevokedOut(revoked=services.gate.revoke_all())
