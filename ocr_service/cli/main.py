"""``ocr-service`` command line. Sub-command names are a stable interface for other tools."""

from __future__ import annotations

import logging

import typer

from ocr_service.cli import accounts_cli, admin, audit_cmds, calibrate, models, ocr, retention, run

app = typer.Typer(help="Offline AI-OCR for Japanese municipal forms.", no_args_is_help=True)
app.command("up")(run.up)
app.command("api")(run.api)
app.command("worker")(run.worker)
app.command("beat")(run.beat)
app.command("process")(ocr.process)
app.command("calibrate")(calibrate.calibrate)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.org_app, name="org")
app.add_typer(admin.user_app, name="user")
app.add_typer(admin.forms_app, name="forms")
app.add_typer(accounts_cli.token_app, name="token")
app.add_typer(ocr.eval_app, name="eval")
app.add_typer(models.models_app, name="models")
app.add_typer(audit_cmds.audit_app, name="audit")
app.add_typer(audit_cmds.report_app, name="report")
app.add_typer(retention.retention_app, name="retention")
app.add_typer(retention.keys_app, name="keys")


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level to stderr"),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


if __name__ == "__main__":
    app()
