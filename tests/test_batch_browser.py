"""A real scanner batch end to end in headless Chromium: upload screen → split → keyboard review on the
aligned page → both forms' CSVs hold every field of every page.

The server runs in a thread (uvicorn) against the test PostgreSQL database with committed data,
emptied afterwards; the worker's ingest runs in the test itself when the upload is queued (same code
as the Celery task, with a stand-in recogniser so the test does not depend on model accuracy).
Set OCR_TEST_SCREENSHOT_DIR=docs to refresh the README's screenshots.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import open_field_results
from ocr_service.documents.status import DocumentStatus
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.keys.service import Keys as KeyService
from ocr_service.keys.service import session_info
from ocr_service.review.service import is_flagged
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import PASSWORD, make_form, make_org, make_user, use_csrf_token
from tests.pipeline.conftest import (
    FIELDS,
    SECOND_FIELDS,
    make_second_template_pdf,
    make_template_pdf,
    make_unknown_template_pdf,
)
from tests.support.backs import render_blank_back_pdf
from tests.support.live_server import serve_in_thread, truncate_all
from tests.support.render import render_filled_multi_pdf, render_filled_pdf
from tests.test_review_browser import CHROMEDRIVER, CHROMIUM, _screenshot, browser  # noqa: F401
from workers.ingest import run_ingest
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.page import PagePipeline
from workers.pipeline.recognizer import TextResult
from workers.runtime import WorkerRuntime

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium chromium-driver"
    ),
]
DPI = 150
READ = {"text": "山田花子", "katakana": "ヤマダハナコ", "postal": "1234567", "phone": "0312345678"}


class _StandIn:
    """Reads every text crop as the value written for its type; names come back unsure (to review)."""

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        out = []
        for charset in charsets:
            value = READ.get(charset or "text", "1")
            confidence = 0.5 if charset == "text" else 0.995
            out.append(TextResult(value, [confidence] * len(value), confidence))
        return out


def _sources() -> tuple[LayoutSource, LayoutSource]:
    first = FormLayout.model_validate({"code": "juminhyo_test", "title": "住民票請求", "fields": FIELDS})
    second = FormLayout.model_validate({"code": "monshin_test", "title": "問診票", "fields": SECOND_FIELDS})
    return (
        LayoutSource(layout=first, template_pdf=make_template_pdf(), origin=Path("a")),
        LayoutSource(layout=second, template_pdf=make_second_template_pdf(), origin=Path("b")),
    )


def mixed_batch_pdf() -> bytes:
    """問診票, its blank back, 住民票請求 upside down, and a page of a form nobody registered."""
    first, second = _sources()
    return render_filled_multi_pdf(
        [
            render_filled_pdf(
                template_pdf=second.template_pdf,
                layout=second.layout,
                values={"kana": "ヤマダハナコ", "era": "昭和", "consent": True},
                dpi=DPI,
            ),
            render_blank_back_pdf(template_pdf=second.template_pdf, dpi=DPI),
            render_filled_pdf(
                template_pdf=first.template_pdf,
                layout=first.layout,
                values={"name": "山田花子", "postal": "1234567", "agree": True, "phone": "0312345678"},
                dpi=DPI,
                upside_down=True,
            ),
            render_filled_pdf(
                template_pdf=make_unknown_template_pdf(), layout=first.layout, values={}, dpi=DPI
            ),
        ]
    )


@dataclass
class Live:
    url: str
    factory: sessionmaker[Session]
    operator: str
    reviewer: str
    queued: list[str] = field(default_factory=list)
    runtime: WorkerRuntime | None = None


@pytest.fixture()
def live(tmp_path: Path, pg_url: str, engine: Engine) -> Iterator[Live]:
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=pg_url,
        storage_key="batch-key",
        raster_dpi=DPI,
    )
    store = LocalBlobStore(settings.resolved_storage_dir)
    factory = sessionmaker(
        bind=engine, expire_on_commit=False, info=session_info(KeyService.from_settings(settings))
    )
    with factory() as db:
        org = make_org(db, "東山市 市民課")
        operator = make_user(db, org, role="operator", username="scan-room")
        reviewer = make_user(db, org, username="reviewer-batch")
        for source in _sources():
            make_form(db, org, store, source)
        db.commit()
        live = Live("", factory, operator.username, reviewer.username)
    runtime = WorkerRuntime(
        settings=settings, session_factory=factory, store=store, pipeline=PagePipeline(_StandIn(), dpi=DPI)
    )
    app = create_app(settings, session_factory=factory, store=store, enqueue=live.queued.append)
    try:
        with serve_in_thread(app) as url:
            live.url = url
            live.runtime = runtime
            yield live
    finally:
        truncate_all(engine)


def _login(driver: WebDriver, wait: WebDriverWait[WebDriver], url: str, username: str, title: str) -> None:
    driver.get(f"{url}/login")
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait.until(ec.title_contains(title))


def test_mixed_batch_upload_split_keyboard_review_and_lossless_export(
    live: Live,
    browser: WebDriver,  # noqa: F811
    tmp_path: Path,
) -> None:
    """GIVEN a 4-page PDF (問診票, its blank back, 住民票請求 upside down, an unregistered form)
    WHEN the operator uploads it without a form code on the upload screen and the worker reads it
    THEN 受付状況 lists the batch as 3 documents; the queue shows one document per form instance under its
    form and the unknown page as 様式不明; each form document is reviewed keyboard-only on the aligned page
    (boxes drawn over the aligned image) and confirmed; the two CSVs together hold every field of every page."""
    driver = browser
    wait = WebDriverWait(driver, 20)
    pdf_path = tmp_path / "scan_batch_0014.pdf"
    pdf_path.write_bytes(mixed_batch_pdf())

    _login(driver, wait, live.url, live.operator, "アップロード")
    driver.find_element(By.ID, "upload-files").send_keys(str(pdf_path))
    wait.until(lambda d: "受け付けました" in d.find_element(By.ID, "upload-list").text)
    _screenshot(driver, tmp_path, "upload.png")
    assert len(live.queued) == 1
    assert live.runtime is not None
    assert run_ingest(document_id=live.queued[0], runtime=live.runtime) == "recognized"
    driver.get(f"{live.url}/intake")
    intake = driver.find_element(By.CSS_SELECTOR, "table.intake").text
    assert (
        "scan_batch_0014.pdf" in intake
        and "問診票" in intake
        and "住民票請求" in intake
        and "様式不明" in intake
    )
    assert "山田花子" not in driver.page_source  # an operator sees statuses, never values

    _login(driver, wait, live.url, live.reviewer, "確認キュー")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.docs tbody tr")
    listed = sorted(
        (r.find_elements(By.TAG_NAME, "td")[1].text, r.find_elements(By.TAG_NAME, "td")[3].text) for r in rows
    )
    assert [form for form, _status in listed] == ["住民票請求", "問診票", "（様式未定）"]
    assert "様式不明" in listed[2][1]
    _screenshot(driver, tmp_path, "review-queue.png")

    # Keyboard only: Enter on 次の文書, Enter on every flagged field, Enter on 確認済にする, which
    # opens the next document waiting; after the last one the queue says nothing is left.
    reviewed: list[str] = []
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    for _ in range(2):
        wait.until(
            lambda d: (
                d.find_elements(By.ID, "review")
                and d.find_element(By.ID, "review").get_attribute("data-document") not in reviewed
            )
        )
        root = driver.find_element(By.ID, "review")
        document_id = str(root.get_attribute("data-document"))
        images = driver.find_elements(By.CSS_SELECTOR, "#canvas img")
        assert images and all("view=aligned" in str(i.get_attribute("src")) for i in images)
        wait.until(
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('#canvas img')].every(i => i.complete && i.naturalWidth > 0)"
            )
        )
        assert driver.find_elements(By.CSS_SELECTOR, "#canvas .box")
        if "住民票請求" in driver.title:
            _screenshot(
                driver, tmp_path, "review-document.png"
            )  # the upside-down page, upright, boxes on ink
        for _press in range(12):
            if driver.switch_to.active_element.get_attribute("id") == "confirm":
                break
            ActionChains(driver).send_keys(Keys.ENTER).perform()
            time.sleep(0.3)
        assert driver.switch_to.active_element.get_attribute("id") == "confirm"
        ActionChains(driver).send_keys(Keys.ENTER).perform()
        wait.until(ec.staleness_of(root))
        reviewed.append(document_id)
    wait.until(ec.title_contains("確認キュー"))
    assert "確認を待っている文書はありません" in driver.page_source

    with live.factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        documents = list(db.scalars(select(Document).order_by(Document.page_from)))
        assert [(d.page_from, d.page_to, d.status) for d in documents] == [
            (1, 2, DocumentStatus.CONFIRMED),
            (3, 3, DocumentStatus.CONFIRMED),
            (4, 4, DocumentStatus.UNIDENTIFIED),
        ]
        assert sorted(reviewed) == sorted(d.id for d in documents[:2])
        results = open_field_results(
            db, db.scalars(select(FieldResult).join(Page).where(Page.form_id.is_not(None)))
        )
        flagged = [r for r in results if is_flagged(r, threshold=Settings().confidence_threshold)]
        assert flagged and all(r.reviewed_by is not None for r in flagged)  # every flagged field was seen

    with httpx.Client(base_url=live.url) as api:
        assert api.post(
            "/api/v1/auth/login", json={"username": live.reviewer, "password": PASSWORD}
        ).is_success
        use_csrf_token(api)  # a cookie-authenticated POST carries the session's CSRF token
        exported: dict[str, dict[str, str]] = {}
        for code in ("juminhyo_test", "monshin_test"):
            response = api.post(f"/api/v1/forms/{code}/export.csv?encoding=utf-8&extra=pages")
            assert response.status_code == 200, response.text
            table = list(csv.DictReader(io.StringIO(response.text)))
            assert len(table) == 1
            exported[table[0]["文書ID"]] = table[0]
    by_label = {spec["name"]: spec["label"] for spec in [*FIELDS, *SECOND_FIELDS]}
    for result in results:
        row = exported[result.document_id]
        cell = row[by_label[result.field_name]]
        assert cell == result.value, (result.field_name, cell, result.value)
    assert exported[documents[0].id]["ページ"] == "1-2" and exported[documents[1].id]["ページ"] == "3"
