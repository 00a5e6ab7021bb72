"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: database, broker, storage).

``/healthz`` is ``async`` and touches nothing, so it answers from the event loop even when
every thread is busy. ``/readyz`` runs each probe in a thread with a short timeout; a load
balancer takes a replica out of rotation while it answers 503. Failure details go to the
log, not to the (unauthenticated) caller.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.deps import Probe, Runtime
from ocr_service.config import Settings
from ocr_service.storage.blobs import BlobStore

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0


def default_probes(settings: Settings, *, session_factory: sessionmaker[Session], store: BlobStore) -> dict[str, Probe]:
    def database() -> None:
        with session_factory() as db:
            db.execute(text("SELECT 1"))

    def broker() -> None:
        from kombu.connection import Connection

        with Connection(settings.resolved_broker_url, connect_timeout=PROBE_TIMEOUT_S) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_S)

    def storage() -> None:
        objects: Any = getattr(store, "objects", None)
        if objects is not None and hasattr(objects, "check"):
            objects.check()

    return {"database": database, "broker": broker, "storage": storage}


async def _run_probe(name: str, probe: Probe) -> bool:
    try:
        await asyncio.wait_for(asyncio.to_thread(probe), timeout=PROBE_TIMEOUT_S)
    except Exception as exc:
        logger.warning("readiness probe %s failed: %r", name, exc)
        return False
    return True


def install_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        runtime: Runtime = app.state.runtime
        names = list(runtime.probes)
        results = await asyncio.gather(*(_run_probe(n, runtime.probes[n]) for n in names))
        checks = {n: ("ok" if ok else "fail") for n, ok in zip(names, results, strict=True)}
        ready = all(results)
        return JSONResponse(
            status_code=200 if ready else 503,
            content={"status": "ready" if ready else "not_ready", "checks": checks},
            headers={"Cache-Control": "no-store"},
        )
