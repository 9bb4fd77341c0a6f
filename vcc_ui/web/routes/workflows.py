"""/api/v1/workflows: the workflows with their UI metadata and where each can run."""

from __future__ import annotations

from fastapi import APIRouter

from vcc_ui.web.deps import ReadyDep, ServicesDep
from vcc_ui.web.schemas import WorkflowOut, WorkflowProblemOut, WorkflowsOut

router = APIRouter(prefix='/api/v1', tags=['workflows'], dependencies=[ReadyDep])


@router.get('/workflows')
async def list_workflows(services: ServicesDep) -> WorkflowsOut:
    """The workflows with their UI metadata and availability per server."""
    registry = services.registry
    return WorkflowsOut(
        items=[WorkflowOut.of(w, registry.availability(w.id)) for w in registry.all()],
        problems=[WorkflowProblemOut.of(p) for p in registry.problems],
    )
