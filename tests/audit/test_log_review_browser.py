"""Acceptance 3: in real headless Chromium, the log review screen (ログ監査) flags an off-hours export
and a bulk view that the test produced over HTTP, and downloads the filtered CSV (CP932).

A live uvicorn server runs in a thread against the test PostgreSQL database with committed data
(emptied afterwards). Event times come from the audit clock, set to a Saturday night (JST).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ocr_service.api.app import create_app
from ocr_service.audit import service as audit_service
from ocr_service.config import Settings
from ocr_service.keys.service import Keys as KeyService
from ocr_service.keys.service import session_info
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import PASSWORD, make_form, make_org, make_user, use_csrf_token
from tests.helpers import make_confirmed_document, make_recognized_document
from tests.support.live_server import serve_in_thread, truncate_all
from tests.test_review_browser import CHROMEDRIVER, CHROMIUM, _screenshot
from tests.test_review_browser import browser as browser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium chromium-driver"
    ),
]
SATURDAY_NIGHT = datetime(2026, 11, 7, 14, 0, tzinfo=UTC)  # 2026-11-07 (土) 23:00 JST


@dataclass
class Live:
    url: str
    reviewer: str
    auditor: str
    documents: list[str]


@pytest.fixture()
def live(tmp_path: Path, pg_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=pg_url,
        storage_key="browser-key",
        audit_bulk_view_documents=3,
        audit_bulk_view_minutes=10,
    )
    store = LocalBlobStore(settings.resolved_storage_dir)
    factory = sessionmaker(
        bind=engine, expire_on_commit=False, info=session_info(KeyService.from_settings(settings))
    )
    with factory() as db:
        org = make_org(db, "東山市 市民課")
        reviewer = make_user(db, org, username="reviewer-night")
        auditor = make_user(db, org, role="auditor", username="privacy-officer")
        form = make_form(db, org, store)
        db.commit()
        documents = [
            make_recognized_document(
                db, user=reviewer, form=form, store=store, values={"name": f"山田{i}", "agree": True}
            ).id
            for i in range(3)
        ]
        make_confirmed_document(
            db, user=reviewer, form=form, store=store, values={"name": "佐藤", "agree": False}
        )
        db.commit()
    app = create_app(settings, session_factory=factory, store=store, enqueue=lambda _id: None)
    try:
        with serve_in_thread(app) as url:
            yield Live(url, reviewer.username, auditor.username, documents)
    finally:
        truncate_all(engine)


def _night_work(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer opens three documents within two minutes and exports the form, on Saturday night."""
    minute = iter(range(60))
    monkeypatch.setattr(audit_service, "clock", lambda: SATURDAY_NIGHT.replace(minute=next(minute)))
    with httpx.Client(base_url=live.url) as http:
        assert (
            http.post(
                "/api/v1/auth/login", json={"username": live.reviewer, "password": PASSWORD}
            ).status_code
            == 200
        )
        use_csrf_token(http)  # as the screens do: cookie-authenticated writes carry the CSRF token
        for document_id in live.documents:
            assert http.get(f"/api/v1/documents/{document_id}").status_code == 200
        export = http.post("/api/v1/forms/simple/export.csv")
        assert export.status_code == 200 and export.headers["x-export-rows"] == "1"
    monkeypatch.setattr(
        audit_service, "clock", lambda: datetime(2026, 11, 9, 1, 0, tzinfo=UTC)
    )  # Monday 10:00 JST


def test_log_review_flags_night_export_and_bulk_view_and_downloads_csv(
    live: Live, browser: WebDriver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GIVEN a reviewer who viewed 3 documents in 3 minutes and exported CSV on Saturday 23:00 JST
    WHEN the privacy officer (監査担当) opens ログ監査 THEN it shows an off-hours flag, a bulk-view flag whose
    link lists the three views, and an export flag; filtering to exports and downloading the CSV gives
    CP932 rows of the export only, marked 業務時間外 and データの出力."""
    _night_work(live, monkeypatch)
    driver = browser
    wait = WebDriverWait(driver, 15)
    driver.get(f"{live.url}/admin/audit")
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(live.auditor)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait.until(ec.title_contains("ログ監査"))
    flags = {f.get_attribute("data-kind"): f for f in driver.find_elements(By.CSS_SELECTOR, "#flags li")}
    assert {"off_hours", "bulk_view", "export"} <= set(flags), list(flags)
    assert live.reviewer in flags["off_hours"].text and "2026-11-07" in flags["off_hours"].text
    assert "3 件の文書を閲覧" in flags["bulk_view"].text
    assert "export.csv" in flags["export"].text
    _screenshot(driver, tmp_path, "log-review.png")

    flags["bulk_view"].find_element(By.TAG_NAME, "a").click()
    wait.until(lambda d: "seqs=" in d.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    assert len(rows) == 3 and all("document.view" in r.text for r in rows)

    driver.get(f"{live.url}/admin/audit")
    field = wait.until(ec.presence_of_element_located((By.NAME, "action")))
    field.send_keys("export.")
    driver.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()
    wait.until(lambda d: "action=export." in d.current_url)
    actions = [
        r.find_elements(By.TAG_NAME, "td")[3].text.split("\n")
        for r in driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    ]
    assert actions == [["CSV 出力", "export.csv"]]
    driver.find_element(By.ID, "csv-download").click()
    downloads = tmp_path / "downloads"
    deadline = time.monotonic() + 15
    while not list(downloads.glob("*.csv")) and time.monotonic() < deadline:
        time.sleep(0.1)
    (downloaded,) = list(downloads.glob("*.csv"))
    content = downloaded.read_bytes().decode("cp932")
    lines = content.split("\r\n")
    assert lines[0].startswith("連番,日時(JST)")
    body = [line for line in lines[1:] if line]
    assert len(body) == 1 and "export.csv" in body[0] and "2026-11-07 23:" in body[0]
    assert ",127.0.0.1," in body[0]  # the client address is recorded (the live server's loopback)
    assert "業務時間外の操作" in body[0] and "データの出力" in body[0]
