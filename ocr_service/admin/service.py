"""Admin console services. An admin manages only its organisation's subtree; a system administrator
(``sysadmin``) manages every organisation. A target outside the caller's subtree is reported exactly
like a missing one. Every change leaves an audit event."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth import accounts
from ocr_service.auth.models import ROLES, ApiToken, User
from ocr_service.auth.policy import (
    AccountPolicy,
    effective_policy,
    installation_policy,
    loosened,
    validate_overrides,
)
from ocr_service.auth.service import Principal, as_aware, create_api_token, end_user_sessions
from ocr_service.config import Settings
from ocr_service.db.base import utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, get_scope, set_scope
from ocr_service.forms.models import FormDefinition
from ocr_service.orgs.models import Organisation
from ocr_service.orgs.service import OrgError, create_user, get_or_create_organisation

MAX_TOKEN_DAYS = 730


class AdminNotFoundError(LookupError):
    """Missing, or outside the caller's subtree: the caller cannot tell which."""


class AdminActionError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@contextmanager
def system_scope(db: Session) -> Iterator[Session]:
    """Read or write rows of several organisations of the caller's subtree, then restore the scope."""
    previous = get_scope(db)
    set_scope(db, SYSTEM_SCOPE)
    try:
        yield db
    finally:
        if previous is None:
            db.info.pop("org_scope", None)
        else:
            set_scope(db, previous)


def managed_org_ids(db: Session, *, principal: Principal) -> set[int]:
    orgs = list(db.scalars(select(Organisation)))
    if principal.role == "sysadmin":
        return {o.id for o in orgs}
    children: dict[int | None, list[int]] = {}
    for org in orgs:
        children.setdefault(org.parent_id, []).append(org.id)
    found, todo = set(), [principal.org_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


@dataclass(frozen=True)
class OrgNode:
    org: Organisation
    depth: int


def org_tree(db: Session, *, principal: Principal) -> list[OrgNode]:
    """The caller's organisations in tree order (部署 > グループ), with their depth."""
    allowed = managed_org_ids(db, principal=principal)
    orgs = [o for o in db.scalars(select(Organisation).order_by(Organisation.name)) if o.id in allowed]
    by_parent: dict[int | None, list[Organisation]] = {}
    for org in orgs:
        parent = org.parent_id if org.parent_id in allowed else None
        by_parent.setdefault(parent, []).append(org)
    out: list[OrgNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for org in by_parent.get(parent, []):
            out.append(OrgNode(org=org, depth=depth))
            walk(org.id, depth + 1)

    walk(None, 0)
    return out


def managed_org(db: Session, *, principal: Principal, org_id: int) -> Organisation:
    org = db.get(Organisation, org_id)
    if org is None or org.id not in managed_org_ids(db, principal=principal):
        raise AdminNotFoundError(org_id)
    return org


def managed_user(db: Session, *, principal: Principal, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None or user.org_id not in managed_org_ids(db, principal=principal):
        raise AdminNotFoundError(user_id)
    if user.role == "sysadmin" and principal.role != "sysadmin":
        raise AdminNotFoundError(user_id)
    return user


def list_users(db: Session, *, principal: Principal) -> list[User]:
    allowed = managed_org_ids(db, principal=principal)
    query = select(User).where(User.org_id.in_(allowed)).order_by(User.org_id, User.username)
    if principal.role != "sysadmin":
        query = query.where(User.role != "sysadmin")  # only a system administrator manages those
    return list(db.scalars(query))


def _audit(
    db: Session, principal: Principal, action: str, *, org_id: int, obj: str, oid: Any, **detail: Any
) -> None:
    audit(db, principal, action, obj_type=obj, obj_id=str(oid), org_id=org_id, detail=detail)


def _check_role(principal: Principal, role: str) -> None:
    if role not in ROLES:
        raise AdminActionError("bad_role", "役割の指定が正しくありません。")
    if role == "sysadmin" and principal.role != "sysadmin":
        raise AdminActionError("bad_role", "システム管理者を作成できるのはシステム管理者だけです。")


def create_managed_user(
    db: Session, *, principal: Principal, org_id: int, username: str, role: str, display_name: str
) -> tuple[User, str]:
    """A new account with a one-time temporary password (changed at first login)."""
    org = managed_org(db, principal=principal, org_id=org_id)
    _check_role(principal, role)
    temporary = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    try:
        user = create_user(
            db, org=org, username=username, password=temporary, role=role, display_name=display_name
        )
    except OrgError as exc:
        message = str(exc)
        if "already exists" in message:
            message = "そのユーザー名は既に使われています。"
        raise AdminActionError("bad_user", message) from exc
    _audit(
        db, principal, "user.created", org_id=org.id, obj="user", oid=user.id, username=username, role=role
    )
    db.commit()
    return user, temporary


def user_action(db: Session, *, principal: Principal, user_id: int, action: str) -> str | None:
    """disable / enable / unlock / reset-password (returns the temporary password) / reset-mfa."""
    user = managed_user(db, principal=principal, user_id=user_id)
    if user.id == principal.user_id and action in ("disable", "reset-mfa", "reset-password"):
        raise AdminActionError("self", "自分自身のアカウントにはこの操作はできません。")
    result: str | None = None
    if action == "disable":
        accounts.admin_set_active(db, actor_id=principal.user_id, user=user, active=False)
    elif action == "enable":
        accounts.admin_set_active(db, actor_id=principal.user_id, user=user, active=True)
    elif action == "unlock":
        accounts.admin_unlock(db, actor_id=principal.user_id, user=user)
    elif action == "reset-password":
        result = accounts.admin_reset_password(db, actor_id=principal.user_id, user=user)
    elif action == "reset-mfa":
        accounts.admin_reset_mfa(db, actor_id=principal.user_id, user=user)
    else:
        raise AdminActionError("bad_action", "不明な操作です。")
    db.commit()
    return result


def change_role(db: Session, *, principal: Principal, user_id: int, role: str) -> User:
    """A new role takes effect at the user's next login: its sessions end now (privilege change)."""
    user = managed_user(db, principal=principal, user_id=user_id)
    _check_role(principal, role)
    if user.id == principal.user_id:
        raise AdminActionError("self", "自分自身の役割は変更できません。")
    before, user.role = user.role, role
    end_user_sessions(db, user_id=user.id)
    _audit(
        db,
        principal,
        "user.role_changed",
        org_id=user.org_id,
        obj="user",
        oid=user.id,
        before=before,
        after=role,
    )
    db.commit()
    return user


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and as_aware(user.locked_until) > (now or utcnow())


# ---- machine tokens -------------------------------------------------------------------------------


def list_tokens(db: Session, *, principal: Principal) -> list[tuple[ApiToken, User]]:
    allowed = managed_org_ids(db, principal=principal)
    with system_scope(db):
        rows = db.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.org_id.in_(allowed))
            .order_by(ApiToken.created_at.desc())
        ).all()
    return [(t, u) for t, u in rows]


def issue_token(
    db: Session, *, principal: Principal, user_id: int, name: str, expires_days: int
) -> tuple[str, datetime]:
    if not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise AdminActionError("bad_expiry", f"有効期限は 1〜{MAX_TOKEN_DAYS} 日で指定してください。")
    user = managed_user(db, principal=principal, user_id=user_id)
    expires_at = utcnow() + timedelta(days=expires_days)
    with system_scope(db):
        raw = create_api_token(db, user=user, name=name, expires_at=expires_at)
        db.flush()
        _audit(
            db,
            principal,
            "token.issued",
            org_id=user.org_id,
            obj="api_token",
            oid=name,
            user=user.username,
            expires_days=expires_days,
        )
        db.commit()
    return raw, expires_at


def revoke_token(db: Session, *, principal: Principal, token_id: int) -> ApiToken:
    allowed = managed_org_ids(db, principal=principal)
    with system_scope(db):
        token = db.get(ApiToken, token_id)
        if token is None or token.org_id not in allowed:
            raise AdminNotFoundError(token_id)
        already = token.revoked_at is not None
        if not already:
            token.revoked_at = utcnow()
        # Also a repeated revoke: every admin action leaves its event.
        _audit(
            db,
            principal,
            "token.revoked",
            org_id=token.org_id,
            obj="api_token",
            oid=token.id,
            name=token.name,
            already_revoked=already,
        )
        db.commit()
    return token


# ---- organisations and policies -------------------------------------------------------------------


def create_org(
    db: Session, *, principal: Principal, name: str, parent_id: int | None, kind: str
) -> Organisation:
    if principal.role != "sysadmin":
        raise AdminActionError("forbidden", "組織を作成できるのはシステム管理者だけです。")
    if kind not in ("department", "group"):
        raise AdminActionError("bad_kind", "種別は部署（department）かグループ（group）です。")
    if db.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise AdminActionError("exists", "同じ名前の組織が既にあります。")
    parent = managed_org(db, principal=principal, org_id=parent_id) if parent_id else None
    org = get_or_create_organisation(db, name=name, parent_name=parent.name if parent else None, kind=kind)
    _audit(
        db,
        principal,
        "org.created",
        org_id=org.id,
        obj="organisation",
        oid=org.id,
        name=name,
        parent=parent_id,
    )
    db.commit()
    return org


@dataclass(frozen=True)
class PolicyView:
    org: Organisation
    overrides: dict[str, Any]
    effective: AccountPolicy
    inherited: AccountPolicy


def policy_view(db: Session, *, settings: Settings, principal: Principal, org_id: int) -> PolicyView:
    org = managed_org(db, principal=principal, org_id=org_id)
    inherited = (
        effective_policy(db, settings=settings, org_id=org.parent_id)
        if org.parent_id
        else installation_policy(settings)
    )
    return PolicyView(
        org=org,
        overrides=dict(org.policy or {}),
        effective=effective_policy(db, settings=settings, org_id=org.id),
        inherited=inherited,
    )


def set_policy(
    db: Session, *, settings: Settings, principal: Principal, org_id: int, overrides: dict[str, Any]
) -> PolicyView:
    """Replace the organisation's overrides; keys given as None (or empty lists) inherit again."""
    view = policy_view(db, settings=settings, principal=principal, org_id=org_id)
    wanted = {k: v for k, v in overrides.items() if v is not None and v != []}
    try:
        checked = validate_overrides(wanted, base=view.inherited)
    except ValueError as exc:
        raise AdminActionError("bad_policy", str(exc)) from exc
    weaker = loosened(checked, inherited=view.inherited) if principal.role != "sysadmin" else []
    if weaker:
        raise AdminActionError(
            "policy_loosened",
            f"上位の組織の設定より緩くはできません（{'、'.join(weaker)}）。緩める必要があればシステム管理者に依頼してください。",
        )
    view.org.policy = checked
    _audit(
        db,
        principal,
        "org.policy_changed",
        org_id=view.org.id,
        obj="organisation",
        oid=view.org.id,
        before=view.overrides,
        after=checked,
    )
    db.commit()
    return policy_view(db, settings=settings, principal=principal, org_id=org_id)


def set_form_personal_data(db: Session, *, principal: Principal, form_code: str, personal_data: bool) -> int:
    """Flag every version of one of the caller's own organisation's forms (org-scoped session)."""
    forms = list(db.scalars(select(FormDefinition).where(FormDefinition.code == form_code)))
    if not forms:
        raise AdminNotFoundError(form_code)
    for form in forms:
        form.personal_data = personal_data
    _audit(
        db,
        principal,
        "form.personal_data_changed",
        org_id=principal.org_id,
        obj="form",
        oid=form_code,
        personal_data=personal_data,
    )
    db.commit()
    return len(forms)
