"""``ocr-service retention run|verify`` and ``ocr-service keys rotate|public-key``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from ocr_service.audit.service import audit, cli_principal
from ocr_service.cli.common import blob_store, fail, settings, system_session
from ocr_service.keys.service import Keys
from ocr_service.retention.service import retention_job, verify_certificate
from ocr_service.signing import key_id, public_key_pem

retention_app = typer.Typer(
    help="Automatic deletion (crypto-erase) and deletion certificates.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Encryption keys (envelope encryption) and the signing key.", no_args_is_help=True
)


def _record(action: str, **target: object) -> None:
    """Audit a command that has no session of its own (as ``cli:<OS user>``).

    ``keys rotate`` works on key files and may run before the database exists; then it says so.
    """
    try:
        with system_session(settings()) as db:
            audit(db, cli_principal(), action, **target)  # type: ignore[arg-type]
            db.commit()
    except (OperationalError, ProgrammingError) as exc:
        typer.secho(f"warning: not recorded in the audit log ({type(exc).__name__})", fg="yellow", err=True)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--now must be an ISO time such as 2026-01-31T09:00:00+09:00, not {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@retention_app.command("run")
def retention_run(
    now: Annotated[
        str | None, typer.Option("--now", help="Pretend it is this ISO time (see what a future run deletes)")
    ] = None,
) -> None:
    """Erase every document past its retention period (the same job beat runs) and issue certificates."""
    cfg = settings()
    with system_session(cfg) as db:
        result = retention_job(db, settings=cfg, store=blob_store(cfg), now=_parse_now(now), trigger="cli")
        audit(
            db,
            cli_principal(),
            "retention.run",
            detail={
                "erased": result.run.erased,
                "certificates": [c.id for c in result.run.certificates],
                "now": now,
            },
        )
        db.commit()
    payload = {
        "erased": result.run.erased,
        "certificates": [
            {"id": c.id, "org_id": c.org_id, "documents": c.document_count} for c in result.run.certificates
        ],
        "housekeeping": vars(result.housekeeping),
        "expired_exports": result.expired_exports,
    }
    if result.run.certificates:
        out_dir = cfg.data_dir / "certificates"
        out_dir.mkdir(parents=True, exist_ok=True)
        for certificate in result.run.certificates:
            (out_dir / f"{certificate.id}.json").write_text(certificate.document_json, encoding="utf-8")
        payload["certificate_dir"] = str(out_dir)
    typer.echo(json.dumps(payload, ensure_ascii=False))


@retention_app.command("verify")
def retention_verify(
    certificate: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Certificate JSON file")],
) -> None:
    """Check a certificate's signature (this installation's key) and its contents; exit 1 on any mismatch."""
    cfg = settings()
    try:
        document = json.loads(certificate.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"INVALID: not a JSON certificate ({exc})")
        return
    if not isinstance(document, dict):
        fail("INVALID: not a JSON certificate")
        return
    with system_session(cfg) as db:
        try:
            problems = verify_certificate(db, settings=cfg, document=document)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            problems = [f"malformed certificate ({type(exc).__name__})"]
    _record(
        "retention.certificate_verify",
        obj_type="deletion_certificate",
        obj_id=str(document.get("certificate", {}).get("certificate_id", ""))[:64]
        if isinstance(document.get("certificate"), dict)
        else "",
        detail={"file": certificate.name, "ok": not problems},
    )
    if problems:
        fail("INVALID:\n" + "\n".join(f"- {p}" for p in problems))
        return
    body = document["certificate"]
    typer.echo(f"OK: certificate {body['certificate_id']} ({len(body['documents'])} documents) verified")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under the current OCR_STORAGE_KEY (old keys in OCR_STORAGE_KEYS_OLD).

    Blobs and sealed text are not touched; afterwards the old keys are no longer needed."""
    keys = Keys.from_settings(settings())
    result = keys.rotate()
    _record(
        "keys.rotate",
        detail={"kek_id": keys.ring.current.key_id, "rewrapped": result.rewrapped},
    )
    typer.echo(
        json.dumps(
            {
                "kek_id": keys.ring.current.key_id,
                "rewrapped": result.rewrapped,
                "already_current": result.already_current,
            }
        )
    )


@keys_app.command("public-key")
def keys_public_key() -> None:
    """Print the installation's Ed25519 public key (PEM) that signs deletion certificates."""
    pem = public_key_pem(settings())
    typer.echo(pem.decode("ascii").strip())
    typer.echo(f"# key id {key_id(pem)}", err=True)


@retention_app.command("days")
def retention_days(
    org: Annotated[str, typer.Option("--org", help="Organisation name")],
    days: Annotated[
        int | None, typer.Option("--days", min=1, max=3650, help="Days after upload (omit: show)")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Follow OCR_RETENTION_DAYS again")] = False,
) -> None:
    """Show or set an organisation's own retention period (the queue countdown follows it)."""
    from ocr_service.cli.common import resolve_org

    cfg = settings()
    with system_session(cfg) as db:
        organisation = resolve_org(db, org)
        if days is not None or default:
            before = organisation.retention_days
            organisation.retention_days = None if default else days
            audit(
                db,
                cli_principal(),
                "retention.days_set",
                org_id=organisation.id,
                obj_type="organisation",
                obj_id=str(organisation.id),
                detail={"old": before, "new": organisation.retention_days},
            )
        else:
            audit(
                db,
                cli_principal(),
                "retention.days_view",
                org_id=organisation.id,
                obj_type="organisation",
                obj_id=str(organisation.id),
            )
        db.commit()
        own = organisation.retention_days
        typer.echo(
            f"{organisation.name}: {own or cfg.retention_days} days"
            + ("" if own else " (OCR_RETENTION_DAYS default)")
        )
