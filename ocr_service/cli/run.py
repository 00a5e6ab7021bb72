"""Service processes: the API, a worker, beat, and ``up`` which runs them all on the embedded default."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Annotated

import typer

from ocr_service.cli.common import blob_store, settings, system_session
from ocr_service.config import Settings


def _celery_argv(cfg: Settings, role: str) -> list[str]:
    base = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
    if role == "worker":
        return [
            *base,
            "worker",
            "--loglevel=INFO",
            "-Q",
            ",".join(cfg.resolved_worker_queues),
            f"--concurrency={cfg.worker_concurrency}",
        ]
    schedule = cfg.data_dir / "celerybeat-schedule"
    return [*base, "beat", "--loglevel=INFO", f"--schedule={schedule}"]


def api(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    from ocr_service.api.app import create_app

    cfg = settings()
    uvicorn.run(create_app(cfg), host=host or cfg.api_host, port=port or cfg.api_port, log_level="info")


def worker() -> None:
    """Run a Celery worker (OCR pipeline)."""
    raise typer.Exit(subprocess.call(_celery_argv(settings(), "worker")))


def beat() -> None:
    """Run Celery beat (re-sends lost tasks; later: retention)."""
    raise typer.Exit(subprocess.call(_celery_argv(settings(), "beat")))


def up(
    port: Annotated[int | None, typer.Option(help="API port")] = None,
) -> None:
    """Start everything on the embedded default: migrations, demo data, worker, beat and API."""
    from ocr_service.db.migrate import upgrade_database
    from ocr_service.orgs.demo import seed_demo

    cfg = settings()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(cfg.resolved_database_url)
    with system_session(cfg) as db:
        seed = seed_demo(db, store=blob_store(cfg), form_dir=cfg.form_definitions_dir)
    if cfg.is_embedded_broker:
        from workers.celery_app import declare_queues

        # Before the processes that share it start: they would race to create it.
        declare_queues(cfg)
    children = [subprocess.Popen(_celery_argv(cfg, "worker")), subprocess.Popen(_celery_argv(cfg, "beat"))]
    url = f"http://{cfg.api_host}:{port or cfg.api_port}"
    typer.secho(
        "\n".join(
            [
                "",
                f"OCR service is starting at {url}  (API docs: {url}/api/v1/docs)",
                f"review screens (確認画面): {url}/review   admin console (管理画面): {url}/admin",
                f"demo organisation: {seed.org_name}",
                f"demo users: {', '.join(seed.usernames)}  password: {seed.password}"
                "  (demo-admin enrols an authenticator app at first login)",
                f"forms: {', '.join(seed.forms) or 'none'}",
                f"data: {cfg.data_dir.resolve()}  broker: {cfg.resolved_broker_url}",
                "",
            ]
        ),
        fg=typer.colors.GREEN,
    )

    def _stop(*_args: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        api(host=None, port=port)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
