"""Organisations and user accounts."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.auth.models import ROLES, User
from ocr_service.auth.passwords import password_problems
from ocr_service.auth.policy import AccountPolicy
from ocr_service.auth.service import hash_password
from ocr_service.orgs.models import Organisation

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,99}")


class OrgError(ValueError):
    pass


def get_or_create_organisation(
    db: Session, *, name: str, parent_name: str | None = None, kind: str = "department"
) -> Organisation:
    existing = db.scalar(select(Organisation).where(Organisation.name == name))
    if existing is not None:
        return existing
    parent_id = None
    if parent_name:
        parent = db.scalar(select(Organisation).where(Organisation.name == parent_name))
        if parent is None:
            raise OrgError(f"parent organisation '{parent_name}' does not exist")
        parent_id = parent.id
    org = Organisation(name=name, parent_id=parent_id, kind=kind)
    db.add(org)
    db.flush()
    return org


def create_user(
    db: Session,
    *,
    org: Organisation,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    must_change_password: bool = True,
    policy: AccountPolicy | None = None,
) -> User:
    """Create an account. With ``policy`` the password must pass it (people choosing one); a new
    account changes its password at first login unless ``must_change_password`` is False."""
    if role not in ROLES:
        raise OrgError(f"role must be one of {', '.join(ROLES)}")
    if not USERNAME_RE.fullmatch(username):
        raise OrgError("ユーザー名は英数字と . _ - @ の 3〜100 文字にしてください。")
    if len(password) < 12:
        raise OrgError("password must be at least 12 characters")
    if policy is not None:
        problems = password_problems(password, username=username, policy=policy, previous_hashes=[])
        if problems:
            raise OrgError(" ".join(problems))
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise OrgError(f"user '{username}' already exists")
    user = User(
        org_id=org.id,
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        must_change_password=must_change_password,
        recovery_codes=[],
    )
    db.add(user)
    db.flush()
    return user
