"""Load benchmark: the real API and a real worker on PostgreSQL + Redis, under reviewers and a scanner bridge.

    .venv/bin/python benchmarks/load.py --reviewers 10 --seconds 120 \
        --out benchmarks/results/load_10_reviewers.json

What runs: a fresh PostgreSQL database (created and dropped here), ``ocr-service api``
(uvicorn, one process) and a Celery worker (``--worker-concurrency`` slots) as separate
processes, on the Redis of ``--redis-url`` with a queue of their own. The dev form set's
layouts are published for one organisation; ``--seed-docs`` scans are uploaded and read
before the clock starts, so reviewers have work from the first second.

During ``--seconds``:

* a bridge-like uploader POSTs one scan of the dev set every ``--upload-every`` seconds
  (API token, ``form_code`` of its layout), as the scanner bridge does;
* ``--reviewers`` reviewer threads, each with its own API token, loop over what a person does
  on the review screen, with ``--think`` seconds between actions: the queue, the document
  screen (HTML), the document's fields, a field crop, a field edit (optimistic lock: a 409
  from two reviewers editing one field is an expected answer, counted apart), and now and
  then a confirm (422 when flagged fields are left is expected too).

Reported: p50/p95 latency per review action, upload → reviewable time (created → processed,
for documents uploaded in the window), pages/min read in the window, errors (anything but
the expected answers, or a transport error), and peak RSS of the API and the worker (with
its pool children). Timings depend on what else runs on the machine: the JSON records the
core count and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocr_service.auth.service import create_api_token
from ocr_service.config import Settings
from ocr_service.db.base import make_session_factory
from ocr_service.db.migrate import upgrade_database
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, Page
from ocr_service.forms.service import publish_form_version
from ocr_service.orgs.service import create_user, get_or_create_organisation
from ocr_service.storage.blobs import blob_store_from_settings
from workers.pipeline.evaluate import load_form_set

ROOT = Path(__file__).resolve().parents[1]
# Answers a busy review floor produces by design: optimistic-lock and state conflicts (another reviewer
# edited or confirmed first), confirm blocked by flagged fields, and fields without a crop.
EXPECTED = {"edit": {200, 409}, "confirm": {200, 409, 422}, "screen": {200, 409}, "crop": {200, 404}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (a Celery worker's pool children)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.answers: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: list[str] = []

    def call(self, action: str, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            with self.lock:
                self.errors.append(f"{action}: {exc!r}")
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latency[action].append(elapsed)
            self.answers[action][response.status_code] += 1
            if response.status_code not in EXPECTED.get(action, {200, 201}):
                self.errors.append(f"{action}: {response.status_code} {response.text[:120]}")
        return response


def _reviewer(base: str, token: str, stop: threading.Event, rec: Recorder, think: float, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        while not stop.is_set():
            queue = rec.call("queue", client, "GET", "/api/v1/review/queue")
            items = [i for i in (queue.json() if queue is not None and queue.status_code == 200 else [])
                     if i["status"] == "recognized"]
            if not items:
                stop.wait(think)
                continue
            doc_id = rng.choice(items)["id"]
            for action, url in (("screen", f"/review/documents/{doc_id}"), ("detail", f"/api/v1/documents/{doc_id}")):
                stop.wait(think)
                response = rec.call(action, client, "GET", url)
            fields = response.json().get("fields", []) if response is not None and response.status_code == 200 else []
            if not fields:
                continue
            field = rng.choice(fields)
            stop.wait(think)
            rec.call("crop", client, "GET", f"/api/v1/documents/{doc_id}/fields/{field['id']}/crop")
            stop.wait(think)
            rec.call("edit", client, "PATCH", f"/api/v1/review/documents/{doc_id}/fields/{field['id']}",
                     json={"value": str(field["value"]), "version": field["version"]})
            if rng.random() < 0.15:
                stop.wait(think)
                rec.call("confirm", client, "POST", f"/api/v1/review/documents/{doc_id}/confirm")
            stop.wait(think)


def _upload_one(client: httpx.Client, rec: Recorder, scan: tuple[bytes, str], n: int, ids: list[str]) -> None:
    pdf, code = scan
    # A unique trailer comment per upload: the service answers a repeated file with its first document
    # (idempotent uploads, issue 14), and the load test wants every upload to be a new one.
    pdf += f"\n% load upload {n}\n".encode()
    response = rec.call("upload", client, "POST", "/api/v1/documents",
                        files={"file": (f"scan{n:04d}.pdf", pdf, "application/pdf")}, data={"form_code": code})
    if response is not None and response.status_code == 201:
        ids.append(response.json()["id"])


def _uploader(base: str, token: str, scans: list[tuple[bytes, str]], every: float, stop: threading.Event,
              rec: Recorder, ids: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        n = 0
        while not stop.is_set():
            _upload_one(client, rec, scans[n % len(scans)], n, ids)
            n += 1
            stop.wait(every)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--upload-every", type=float, default=8.0)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--seed-docs", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--set-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "forms" / "dev")
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default=os.environ.get("OCR_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.gettempdir()) / f"ocr-load-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    db_name = f"ocrbench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{db_name}"
    queue = f"ocr-load-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update({
        "OCR_ENVIRONMENT": "test", "OCR_DATA_DIR": str(workdir), "OCR_DATABASE_URL": db_url,
        "OCR_BROKER_URL": args.redis_url, "OCR_STORAGE_KEY": "load-benchmark-key", "OCR_QUEUE_NAME": queue,
        "OCR_WORKER_QUEUES": queue, "OCR_WORKER_CONCURRENCY": str(args.worker_concurrency),
    })
    settings = Settings(environment="test", data_dir=workdir, database_url=db_url, broker_url=args.redis_url,
                        storage_key="load-benchmark-key", queue_name=queue)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    engine = None
    try:
        upgrade_database(db_url)
        engine = create_engine(db_url)
        factory = make_session_factory(engine)
        layouts, by_scan = load_form_set(args.set_dir)
        store = blob_store_from_settings(settings)
        with factory() as db:
            set_scope(db, SYSTEM_SCOPE)
            org = get_or_create_organisation(db, name="負荷試験課")
            for source in layouts.values():
                publish_form_version(db, org_id=org.id, source=source, store=store)
            operator = create_user(db, org=org, username="bridge", password=password, role="operator")
            upload_token = create_api_token(db, user=operator, name="bridge")
            tokens = []
            for i in range(args.reviewers):
                user = create_user(db, org=org, username=f"reviewer{i}", password=password, role="reviewer")
                tokens.append(create_api_token(db, user=user, name="load"))
            db.commit()
        scans = [((args.set_dir / scan).read_bytes(), rows[0]["layout"]) for scan, rows in by_scan.items()
                 if len({r["layout"] for r in rows}) == 1]
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        logs = {name: (workdir / f"{name}.log").open("wb") for name in ("api", "worker")}
        procs["api"] = subprocess.Popen([sys.executable, "-m", "ocr_service.cli.main", "api", "--port", str(port)],
                                        cwd=ROOT, env=env, stdout=logs["api"], stderr=subprocess.STDOUT,
                                        start_new_session=True)
        procs["worker"] = subprocess.Popen([sys.executable, "-m", "ocr_service.cli.main", "worker"], cwd=ROOT,
                                           env=env, stdout=logs["worker"], stderr=subprocess.STDOUT,
                                           start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("API did not become ready")
            time.sleep(0.5)
        warm = Recorder()
        seed_ids: list[str] = []
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {upload_token}"}) as client:
            for i in range(args.seed_docs):
                _upload_one(client, warm, scans[i % len(scans)], i, seed_ids)
        if warm.errors:
            raise SystemExit(f"seeding failed: {warm.errors[:3]}")
        with factory() as db:
            set_scope(db, SYSTEM_SCOPE)
            wait_until = time.monotonic() + 600
            while time.monotonic() < wait_until:
                statuses = list(db.scalars(select(Document.status).where(Document.id.in_(seed_ids))))
                db.rollback()
                if statuses and all(s in ("recognized", "failed") for s in statuses):
                    break
                time.sleep(2)
        print(f"seeded {len(seed_ids)} documents; running {args.seconds:.0f} s", file=sys.stderr)

        rec, stop = Recorder(), threading.Event()
        ids: list[str] = []
        rss: dict[str, int] = {"api": 0, "worker": 0}
        load_avg = os.getloadavg()
        window_start = time.time()
        threads = [threading.Thread(target=_uploader, args=(base, upload_token, scans[args.seed_docs:] or scans,
                                                            args.upload_every, stop, rec, ids))]
        threads += [threading.Thread(target=_reviewer, args=(base, t, stop, rec, args.think, i))
                    for i, t in enumerate(tokens)]
        for thread in threads:
            thread.start()
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            for name, proc in procs.items():
                rss[name] = max(rss[name], _rss_kib(proc.pid))
            time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        window_end = time.time()

        from datetime import UTC, datetime

        t0, t1 = datetime.fromtimestamp(window_start, UTC), datetime.fromtimestamp(window_end, UTC)
        with factory() as db:
            set_scope(db, SYSTEM_SCOPE)
            pages_in_window = len(list(db.scalars(
                select(Page.id).where(Page.processed_at >= t0, Page.processed_at <= t1))))
            docs = list(db.scalars(select(Document).where(Document.id.in_(ids))))
            turnaround = [(d.processed_at - d.created_at) / timedelta(seconds=1) for d in docs
                          if d.processed_at is not None and d.status != "failed"]
            unfinished = sum(1 for d in docs if d.processed_at is None)
        minutes = (window_end - window_start) / 60.0
        actions = {
            action: {"n": len(values), "p50_ms": round(1000 * (_pct(values, 50) or 0), 1),
                     "p95_ms": round(1000 * (_pct(values, 95) or 0), 1),
                     "answers": dict(rec.answers[action])}
            for action, values in sorted(rec.latency.items())
        }
        result = {
            "reviewers": args.reviewers, "seconds": round(window_end - window_start, 1),
            "upload_every_s": args.upload_every, "think_s": args.think,
            "worker_concurrency": args.worker_concurrency,
            "actions": actions,
            "upload_to_reviewable_s": {"n": len(turnaround), "p50": _pct(turnaround, 50), "p95": _pct(turnaround, 95),
                                       "unfinished_at_end": unfinished},
            "pages_per_min": pages_in_window / minutes if minutes else 0.0,
            "errors": len(rec.errors), "error_samples": rec.errors[:10],
            "peak_rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()},
            "machine": {"cores": os.cpu_count(), "load_avg_at_start": load_avg,
                        "note": "shared 2-core machine: other sessions were running builds and tests"},
        }
        output = json.dumps(result, ensure_ascii=False, indent=1)
        print(output)
        if args.out:
            args.out.write_text(output + "\n", encoding="utf-8")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if engine is not None:
            engine.dispose()
        import redis

        redis.Redis.from_url(args.redis_url).delete(queue)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
