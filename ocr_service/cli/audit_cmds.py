"""``ocr-service audit verify|checkpoint`` and ``ocr-service report usage``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ocr_service.audit.operations import run_checkpoint, run_verify
from ocr_service.audit.service import cli_principal
from ocr_service.cli.common import settings
from ocr_service.db.base import make_engine, make_session_factory

audit_app = typer.Typer(
    help="Audit log (操作履歴): verify the hash chain, sign checkpoints.", no_args_is_help=True
)
report_app = typer.Typer(help="Reports (利用状況報告).", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Walk the audit chain and every checkpoint; exit 1 and name the first bad event if tampered."""
    cfg = settings()
    engine = make_engine(cfg.resolved_database_url)
    try:
        report = run_verify(make_session_factory(engine), settings=cfg, principal=cli_principal())
    finally:
        engine.dispose()
    problems = sorted(report.problems, key=lambda p: p.seq)
    if as_json:
        out = {
            "ok": report.ok,
            "events": report.events,
            "checkpoints": report.checkpoints,
            "first_bad_seq": report.first_bad_seq,
            "problems": [{"seq": p.seq, "reason": p.reason} for p in problems],
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
    elif report.ok:
        typer.echo(f"OK: {report.events} events, {report.checkpoints} signed checkpoint(s) verified")
    else:
        typer.secho(f"TAMPERED: first bad event is seq {report.first_bad_seq}", fg=typer.colors.RED, err=True)
        for problem in problems:
            typer.echo(f"  seq {problem.seq}: {problem.reason}", err=True)
    if not report.ok:
        raise typer.Exit(code=1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the current chain head with the installation key (beat does this periodically)."""
    cfg = settings()
    engine = make_engine(cfg.resolved_database_url)
    try:
        detail = run_checkpoint(make_session_factory(engine), settings=cfg, principal=cli_principal())
    finally:
        engine.dispose()
    typer.echo(f"checkpoint: seq {detail['seq']} hash {detail['hash']} key {detail['key_id']}")


@report_app.command("usage")
def report_usage(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    org: Annotated[str, typer.Option("--org", help="Organisation name")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PDF and CSV")] = Path("."),
) -> None:
    """Write the usage report (利用状況報告) of an organisation for a month as PDF and CSV."""
    from ocr_service.cli.report_cmd import write_usage_report

    write_usage_report(month=month, org_name=org, out_dir=out_dir)
