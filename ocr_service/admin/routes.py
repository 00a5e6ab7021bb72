"""Admin console JSON API (``/api/v1/admin``): the screens write through it, so do scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ocr_service.admin import service
from ocr_service.api.deps import AdminCtx, SysAdminCtx

router = APIRouter(prefix="/admin", tags=["admin"])


class OrgOut(BaseModel):
    id: int
    name: str
    parent_id: int | None
    kind: str
    depth: int


class OrgIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    parent_id: int | None = None
    kind: str = "department"


class UserOut(BaseModel):
    id: int
    org_id: int
    username: str
    display_name: str
    role: str
    is_active: bool
    locked: bool
    mfa_enabled: bool
    must_change_password: bool


class UserIn(BaseModel):
    org_id: int
    username: str = Field(min_length=3, max_length=100)
    role: str = "reviewer"
    display_name: str = Field(default="", max_length=200)


class SecretOut(BaseModel):
    """A value shown once (temporary password, token); the screen displays ``secret``."""

    secret: str
    notice: str
    message: str = ""


class DoneOut(BaseModel):
    message: str = "完了しました。"


class TokenOut(BaseModel):
    id: int
    org_id: int
    name: str
    username: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(BaseModel):
    user_id: int
    name: str = Field(min_length=1, max_length=100)
    expires_days: int = Field(default=365)


class PolicyOut(BaseModel):
    org_id: int
    overrides: dict[str, Any]
    effective: dict[str, Any]


class PersonalDataIn(BaseModel):
    personal_data: bool


def _user_out(user: Any) -> UserOut:
    return UserOut(
        id=user.id,
        org_id=user.org_id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        is_active=user.is_active,
        locked=service.is_locked(user),
        mfa_enabled=user.totp_secret is not None,
        must_change_password=user.must_change_password,
    )


@router.get("/orgs", response_model=list[OrgOut])
def list_orgs(ctx: AdminCtx) -> list[OrgOut]:
    ctx.record_view("admin.org_list")
    return [
        OrgOut(id=n.org.id, name=n.org.name, parent_id=n.org.parent_id, kind=n.org.kind, depth=n.depth)
        for n in service.org_tree(ctx.db, principal=ctx.principal)
    ]


@router.post("/orgs", response_model=OrgOut, status_code=status.HTTP_201_CREATED)
def create_org(body: OrgIn, ctx: SysAdminCtx) -> OrgOut:
    org = service.create_org(
        ctx.db, principal=ctx.principal, name=body.name, parent_id=body.parent_id, kind=body.kind
    )
    return OrgOut(id=org.id, name=org.name, parent_id=org.parent_id, kind=org.kind, depth=0)


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: AdminCtx) -> list[UserOut]:
    ctx.record_view("admin.user_list")
    return [_user_out(u) for u in service.list_users(ctx.db, principal=ctx.principal)]


@router.post("/users", response_model=SecretOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, ctx: AdminCtx) -> SecretOut:
    user, temporary = service.create_managed_user(
        ctx.db,
        principal=ctx.principal,
        org_id=body.org_id,
        username=body.username,
        role=body.role,
        display_name=body.display_name,
    )
    return SecretOut(
        secret=temporary,
        notice=f"{user.username} を作成しました。仮パスワード（一度だけ表示。初回ログインで変更が必要です）:",
    )


class RoleIn(BaseModel):
    role: str


@router.put("/users/{user_id}/role", response_model=DoneOut)
def change_role(user_id: int, body: RoleIn, ctx: AdminCtx) -> DoneOut:
    service.change_role(ctx.db, principal=ctx.principal, user_id=user_id, role=body.role)
    return DoneOut(message="役割を変更しました（次のログインから有効）。")


@router.post("/users/{user_id}/{action}", response_model=SecretOut | DoneOut)
def user_action(user_id: int, action: str, ctx: AdminCtx) -> SecretOut | DoneOut:
    temporary = service.user_action(ctx.db, principal=ctx.principal, user_id=user_id, action=action)
    if temporary is not None:
        return SecretOut(
            secret=temporary,
            notice="パスワードをリセットしました。仮パスワード（一度だけ表示。次のログインで変更が必要です）:",
        )
    return DoneOut()


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(ctx: AdminCtx) -> list[TokenOut]:
    ctx.record_view("admin.token_list")
    return [
        TokenOut(
            id=t.id,
            org_id=t.org_id,
            name=t.name,
            username=u.username,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
        for t, u in service.list_tokens(ctx.db, principal=ctx.principal)
    ]


@router.post("/tokens", response_model=SecretOut, status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenIn, ctx: AdminCtx) -> SecretOut:
    raw, expires_at = service.issue_token(
        ctx.db, principal=ctx.principal, user_id=body.user_id, name=body.name, expires_days=body.expires_days
    )
    return SecretOut(
        secret=raw,
        notice=f"トークンを発行しました（有効期限 {expires_at:%Y-%m-%d}）。この値は一度だけ表示されます:",
    )


@router.post("/tokens/{token_id}/revoke", response_model=DoneOut)
def revoke_token(token_id: int, ctx: AdminCtx) -> DoneOut:
    service.revoke_token(ctx.db, principal=ctx.principal, token_id=token_id)
    return DoneOut(message="トークンを失効させました。")


@router.get("/orgs/{org_id}/policy", response_model=PolicyOut)
def get_policy(org_id: int, ctx: AdminCtx) -> PolicyOut:
    view = service.policy_view(ctx.db, settings=ctx.runtime.settings, principal=ctx.principal, org_id=org_id)
    ctx.record_view("admin.policy_view", obj_type="organisation", obj_id=str(org_id))
    return PolicyOut(org_id=view.org.id, overrides=view.overrides, effective=view.effective.model_dump())


@router.put("/orgs/{org_id}/policy", response_model=PolicyOut)
def put_policy(org_id: int, body: dict[str, Any], ctx: AdminCtx) -> PolicyOut:
    view = service.set_policy(
        ctx.db, settings=ctx.runtime.settings, principal=ctx.principal, org_id=org_id, overrides=body
    )
    return PolicyOut(org_id=view.org.id, overrides=view.overrides, effective=view.effective.model_dump())


@router.put("/forms/{form_code}/personal-data", response_model=DoneOut)
def put_personal_data(form_code: str, body: PersonalDataIn, ctx: AdminCtx) -> DoneOut:
    service.set_form_personal_data(
        ctx.db, principal=ctx.principal, form_code=form_code, personal_data=body.personal_data
    )
    return DoneOut(message="保存しました。")


def install_admin_error_handlers(app: FastAPI) -> None:
    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=404, content={"detail": {"code": "not_found", "message": "見つかりません。"}}
        )

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, service.AdminActionError)
        code = 403 if exc.code == "forbidden" else 422
        return JSONResponse(status_code=code, content={"detail": {"code": exc.code, "message": exc.message}})

    app.add_exception_handler(service.AdminNotFoundError, not_found)
    app.add_exception_handler(service.AdminActionError, refused)
