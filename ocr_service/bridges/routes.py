"""Bridge heartbeat (machine token) and the administrators' list of bridges (JSON and screen)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ocr_service.api.deps import AdminCtx, MachineCtx, RequestContext
from ocr_service.bridges import service
from ocr_service.bridges.schemas import BridgeOut, HeartbeatIn
from ocr_service.review.pages import templates

router = APIRouter(prefix="/bridges", tags=["bridges"])
pages = APIRouter(include_in_schema=False)


@router.post("/heartbeat", response_model=BridgeOut)
def heartbeat(beat: HeartbeatIn, ctx: MachineCtx) -> BridgeOut:
    bridge = service.record_heartbeat(ctx.db, principal=ctx.principal, beat=beat)
    return BridgeOut.model_validate(bridge)


def _audited_list(ctx: RequestContext) -> list[BridgeOut]:
    rows = service.list_bridges(ctx.db)
    ctx.record_view("bridge.list_view", detail={"count": len(rows)})
    return rows


@router.get("", response_model=list[BridgeOut])
def list_bridges(ctx: AdminCtx) -> list[BridgeOut]:
    return _audited_list(ctx)


@pages.get("/admin/bridges", response_class=HTMLResponse)
def bridges_page(request: Request, ctx: AdminCtx) -> Response:
    rows = _audited_list(ctx)
    return templates.TemplateResponse(
        request, "admin/bridges.html", {"rows": rows, "principal": ctx.principal}
    )
