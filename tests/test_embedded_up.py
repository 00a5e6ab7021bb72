"""`ocr-service up` on the embedded default: SQLite, local files, SQLite broker, no external server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ocr_service.orgs.demo import DEMO_PASSWORD
from tests.factories import sample_source, use_csrf_token
from tests.support.live_server import free_port
from tests.support.render import render_filled_pdf, sample_values_for

pytestmark = pytest.mark.slow


@pytest.fixture()
def up_server(tmp_path: Path) -> Iterator[str]:
    """`ocr-service up` (API, worker and beat) in its own process group, started inside the try so the
    finally always stops the whole group, whatever fails in the test or in this fixture."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env.update({"OCR_DATA_DIR": str(tmp_path / "var"), "OCR_API_PORT": str(port)})
    proc: subprocess.Popen[bytes] | None = None
    with (tmp_path / "up.log").open("wb") as log:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ocr_service.cli.main", "up"],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            if proc is not None:
                _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group, then SIGKILL whatever is left of it (a worker or beat that outlived `up`)."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.5)  # children of the group may still be exiting: the next round kills them


def test_up_serves_the_demo_and_recognises_an_upload(tmp_path: Path, up_server: str) -> None:
    """GIVEN a fresh data folder WHEN `ocr-service up` runs THEN the demo user can upload a filled
    sample form and download a CSV holding the recognised values, with no external server."""
    source = sample_source()
    values = sample_values_for(source.layout)
    pdf = render_filled_pdf(
        template_pdf=source.template_pdf, layout=source.layout, values=values, rotate_deg=-0.8
    )
    with httpx.Client(base_url=up_server, timeout=10) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        login = client.post(
            "/api/v1/auth/login", json={"username": "demo-operator", "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200
        use_csrf_token(client)
        upload = client.post("/api/v1/documents", files={"file": ("scan.pdf", pdf, "application/pdf")})
        assert upload.status_code == 201, upload.text
        client.post("/api/v1/auth/login", json={"username": "demo-reviewer", "password": DEMO_PASSWORD})
        use_csrf_token(client)
        doc_id = upload.json()["id"]
        deadline = time.monotonic() + 90
        status = "queued"
        while time.monotonic() < deadline and status in ("queued", "processing"):
            time.sleep(1)
            status = client.get(f"/api/v1/documents/{doc_id}").json()["status"]
        assert status == "recognized", (tmp_path / "up.log").read_text(errors="replace")[-3000:]
        fields = client.get(f"/api/v1/documents/{doc_id}").json()["fields"]
        read = {f["field_name"]: f["value"] for f in fields}
        for name in ("postal_code", "phone", "child_name"):
            assert read[name] == values[name], name
        # The reviewer corrects whatever OCR misread and accepts the rest (SQLite path of the review
        # workflow; confirm needs every flagged field seen), then confirms.
        for field in fields:
            truth = values[field["field_name"]]
            expected = ("1" if truth else "0") if isinstance(truth, bool) else truth
            edit = client.patch(
                f"/api/v1/review/documents/{doc_id}/fields/{field['id']}",
                json={"value": expected, "version": field["version"]},
            )
            assert edit.status_code == 200, edit.text
        confirm = client.post(f"/api/v1/review/documents/{doc_id}/confirm")
        assert confirm.status_code == 200, confirm.text
        csv_text = client.post("/api/v1/forms/nyuyoji_kenshin/export.csv").content.decode("cp932")
        row = csv_text.split("\r\n")[1].split(",")
        assert row[0] == doc_id
        for name in ("postal_code", "phone", "child_name"):
            assert values[name] in row, name
        assert client.get(f"/api/v1/documents/{doc_id}").json()["status"] == "exported"
        # The review screens render on the embedded SQLite database too.
        assert "出力済" in client.get("/review").text
        assert client.get(f"/review/documents/{doc_id}").status_code == 200
