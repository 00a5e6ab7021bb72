"""``ocr-service report usage``: write the usage report's PDF and CSV (temp file, then rename)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from ocr_service.audit.service import audit, cli_principal
from ocr_service.cli.common import fail, resolve_org, settings, system_session
from ocr_service.reports.render import usage_csv, usage_pdf
from ocr_service.reports.usage import ReportError, build_usage_report


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)


def write_usage_report(*, month: str, org_name: str, out_dir: Path) -> None:
    with system_session(settings()) as db:
        org = resolve_org(db, org_name)
        try:
            report = build_usage_report(db, org=org, month=month)
        except ReportError as exc:
            fail(str(exc))
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        # The organisation name is not a safe file name; its id is.
        stem = f"usage_org{org.id}_{re.sub(r'[^0-9-]', '', month)}"
        _write(out_dir / f"{stem}.pdf", usage_pdf(report))
        _write(out_dir / f"{stem}.csv", usage_csv(report))
        audit(
            db,
            cli_principal(),
            "report.usage",
            obj_type="organisation",
            obj_id=str(org.id),
            org_id=org.id,
            detail={"month": month, "documents": report.documents, "events": report.events},
        )
        db.commit()
    typer.echo(f"wrote {out_dir / stem}.pdf and .csv ({report.documents} documents, {report.events} events)")
