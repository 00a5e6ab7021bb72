"""Administration commands: database, organisations, users, tokens, forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ocr_service.audit.service import audit, cli_principal
from ocr_service.auth.models import User
from ocr_service.auth.policy import effective_policy
from ocr_service.auth.service import create_api_token
from ocr_service.cli import accounts_cli, forms_tools
from ocr_service.cli.common import blob_store, fail, resolve_org, settings, system_session
from ocr_service.db.migrate import upgrade_database
from ocr_service.forms.loader import LayoutError, load_layout_file
from ocr_service.forms.service import list_latest_forms, publish_form_version
from ocr_service.orgs.demo import find_layout_files
from ocr_service.orgs.service import OrgError, create_user, get_or_create_organisation

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations (部署/グループ).", no_args_is_help=True)
user_app = typer.Typer(help="User accounts and API tokens.", no_args_is_help=True)
forms_app = typer.Typer(help="Form definitions (様式).", no_args_is_help=True)

forms_app.command("check")(forms_tools.forms_check)
user_app.command("passwd")(accounts_cli.user_passwd)
user_app.command("disable")(accounts_cli.user_disable)
user_app.command("enable")(accounts_cli.user_enable)
user_app.command("unlock")(accounts_cli.user_unlock)
user_app.command("reset-mfa")(accounts_cli.user_reset_mfa)
forms_app.command("test")(forms_tools.forms_test)
forms_app.command("propose")(forms_tools.forms_propose)

OrgOption = Annotated[str | None, typer.Option("--org", help="Organisation name (default: the only one)")]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    cfg = settings()
    upgrade_database(cfg.resolved_database_url)
    with system_session(cfg) as db:
        audit(db, cli_principal(), "db.upgrade", obj_type="database")
        db.commit()
    typer.echo("database is up to date")


@org_app.command("create")
def org_create(
    name: str,
    parent: Annotated[str | None, typer.Option(help="Parent department name")] = None,
    kind: Annotated[str, typer.Option(help="department or group")] = "department",
) -> None:
    """Create an organisation (idempotent)."""
    with system_session(settings()) as db:
        try:
            org = get_or_create_organisation(db, name=name, parent_name=parent, kind=kind)
        except OrgError as exc:
            fail(str(exc))
            return
        audit(
            db,
            cli_principal(),
            "org.create",
            obj_type="organisation",
            obj_id=str(org.id),
            org_id=org.id,
            detail={"name": org.name, "parent": parent, "kind": kind},
        )
        db.commit()
        typer.echo(f"organisation {org.id}: {org.name}")


@user_app.command("create")
def user_create(
    username: str,
    org: Annotated[str, typer.Option("--org", help="Organisation name")],
    role: Annotated[str, typer.Option(help="operator, reviewer, admin or sysadmin")] = "reviewer",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
    force_change: Annotated[
        bool, typer.Option("--force-change/--no-force-change", help="Change the password at first login")
    ] = True,
) -> None:
    """Create a user account in an organisation (the password must pass the policy)."""
    cfg = settings()
    with system_session(cfg) as db:
        target = resolve_org(db, org)
        try:
            user = create_user(
                db,
                org=target,
                username=username,
                password=password,
                role=role,
                must_change_password=force_change,
                policy=effective_policy(db, settings=cfg, org_id=target.id),
            )
        except OrgError as exc:
            fail(str(exc))
            return
        audit(
            db,
            cli_principal(),
            "user.create",
            obj_type="user",
            obj_id=str(user.id),
            org_id=user.org_id,
            detail={"username": user.username, "role": user.role},
        )
        db.commit()
        typer.echo(f"user {user.id}: {user.username} ({user.role})")


@user_app.command("token")
def user_token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "scanner",
    days: Annotated[int, typer.Option(min=1, max=730, help="Days until the token expires")] = 365,
) -> None:
    """Issue a bearer API token for a (machine) user; printed once."""
    from datetime import timedelta

    from sqlalchemy import select

    from ocr_service.db.base import utcnow

    with system_session(settings()) as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            fail(f"user '{username}' does not exist")
            return
        raw = create_api_token(db, user=user, name=name, expires_at=utcnow() + timedelta(days=days))
        audit(
            db,
            cli_principal(),
            "user.token_create",
            obj_type="user",
            obj_id=str(user.id),
            org_id=user.org_id,
            detail={"username": user.username, "name": name, "days": days},
        )
        db.commit()
        typer.echo(raw)


def _publish(paths: list[Path], org_name: str | None) -> None:
    cfg = settings()
    with system_session(cfg) as db:
        org = resolve_org(db, org_name)
        for path in paths:
            try:
                source = load_layout_file(path)
            except LayoutError as exc:
                fail(str(exc))
                return
            form = publish_form_version(db, org_id=org.id, source=source, store=blob_store(cfg))
            audit(
                db,
                cli_principal(),
                "form.publish",
                obj_type="form",
                obj_id=form.id,
                org_id=org.id,
                form_code=form.code,
                detail={"version": form.version, "title": form.title, "source": str(path)},
            )
            typer.echo(
                f"{form.code} v{form.version}: {form.title} ({len(source.layout.fields)} fields) → {org.name}"
            )
        db.commit()


@forms_app.command("load")
def forms_load(directory: Path, org: OrgOption = None) -> None:
    """Publish every form.yaml (or fields.json) layout found in DIR's sub-folders."""
    paths = find_layout_files(directory)
    if not paths:
        fail(f"{directory}: no */form.yaml or */fields.json found")
    _publish(paths, org)


@forms_app.command("import")
def forms_import(path: Path, org: OrgOption = None) -> None:
    """Publish one layout: a fields.json (eval format, template.pdf beside it), a form.yaml, or their folder."""
    _publish([path], org)


@forms_app.command("list")
def forms_list(org: OrgOption = None) -> None:
    """List the latest version of each form."""
    with system_session(settings()) as db:
        from ocr_service.db.scoping import SYSTEM_SCOPE, OrgScope, set_scope

        set_scope(db, OrgScope(resolve_org(db, org).id))
        rows = [{"code": f.code, "version": f.version, "title": f.title} for f in list_latest_forms(db)]
        set_scope(db, SYSTEM_SCOPE)
        audit(db, cli_principal(), "form.list", org_id=resolve_org(db, org).id, detail={"count": len(rows)})
        db.commit()
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
