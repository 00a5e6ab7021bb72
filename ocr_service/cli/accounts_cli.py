"""``user passwd|disable|enable|unlock|reset-mfa`` and ``token list|revoke``: the admin console's
account actions for the command line, each audited (``via: cli``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.auth import accounts
from ocr_service.auth.models import ApiToken, User
from ocr_service.auth.passwords import PasswordRejectedError
from ocr_service.auth.policy import effective_policy
from ocr_service.auth.service import end_user_sessions
from ocr_service.cli.common import cli_audit, fail, settings, system_session
from ocr_service.db.base import utcnow

token_app = typer.Typer(help="Machine (bearer) tokens.", no_args_is_help=True)


def _user(db: Session, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        fail(f"user '{username}' does not exist")
        raise typer.Exit(1)
    return user


def user_passwd(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
    force_change: Annotated[
        bool, typer.Option("--force-change/--no-force-change", help="Change it again at the next login")
    ] = True,
) -> None:
    """Set a user's password (policy-checked); ends the user's sessions and clears a lockout."""
    cfg = settings()
    with system_session(cfg) as db:
        user = _user(db, username)
        policy = effective_policy(db, settings=cfg, org_id=user.org_id)
        try:
            accounts.check_new_password(db, user=user, password=password, policy=policy)
        except PasswordRejectedError as exc:
            fail(" ".join(exc.problems))
            return
        accounts.store_password(db, user=user, password=password, policy=policy, now=utcnow())
        user.must_change_password = force_change
        user.failed_logins = 0
        user.locked_until = None
        end_user_sessions(db, user_id=user.id)
        cli_audit(db, "user.password_reset", org_id=user.org_id, obj="user", oid=user.id, username=username)
        db.commit()
        typer.echo(
            f"password of {username} changed" + (" (must change at next login)" if force_change else "")
        )


def _simple(username: str, action: str) -> None:
    with system_session(settings()) as db:
        user = _user(db, username)
        if action == "disable":
            user.is_active = False
            end_user_sessions(db, user_id=user.id)
        elif action == "enable":
            user.is_active = True
        elif action == "unlock":
            user.failed_logins = 0
            user.locked_until = None
        elif action == "reset-mfa":
            user.totp_secret = None
            user.totp_pending = None
            user.totp_last_step = 0
            user.recovery_codes = []
            end_user_sessions(db, user_id=user.id)
        event = {"disable": "user.disabled", "enable": "user.enabled", "unlock": "user.unlocked"}
        cli_audit(
            db,
            event.get(action, "user.mfa_reset"),
            org_id=user.org_id,
            obj="user",
            oid=user.id,
            username=username,
        )
        db.commit()
        typer.echo(f"{username}: {action} done")


def user_disable(username: str) -> None:
    """Disable an account (its sessions end at once; its tokens stop working)."""
    _simple(username, "disable")


def user_enable(username: str) -> None:
    """Enable a disabled account again."""
    _simple(username, "enable")


def user_unlock(username: str) -> None:
    """Clear a lockout after too many failed logins."""
    _simple(username, "unlock")


def user_reset_mfa(username: str) -> None:
    """Remove the user's authenticator (the next login enrols again where MFA is required)."""
    _simple(username, "reset-mfa")


@token_app.command("list")
def token_list(
    username: Annotated[str | None, typer.Option("--user", help="Only this user's tokens")] = None,
) -> None:
    """List tokens (never their values): id, name, user, expiry, last use, revocation."""
    with system_session(settings()) as db:
        query = select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
        if username:
            query = query.where(User.username == username)
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "user": u.username,
                "org_id": t.org_id,
                "created_at": t.created_at.isoformat(),
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t, u in db.execute(query).all()
        ]
        cli_audit(db, "token.list", org_id=None, obj="api_token", oid="", user=username or "", count=len(rows))
        db.commit()
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by id (``token list``); it is refused from then on."""
    with system_session(settings()) as db:
        token = db.get(ApiToken, token_id)
        if token is None:
            fail(f"token {token_id} does not exist")
            return
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            cli_audit(
                db, "token.revoked", org_id=token.org_id, obj="api_token", oid=token.id, name=token.name
            )
            db.commit()
        typer.echo(f"token {token_id} ({token.name}) revoked")
