"""The review screens in real headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

A live uvicorn server runs in a thread against the test PostgreSQL database with committed
data (emptied afterwards). Documents are seeded from a rendered filled form rather than by
running OCR, so the test stays fast. Set OCR_TEST_SCREENSHOT_DIR=docs to refresh the README's
screenshots.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pdf2image import convert_from_bytes
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
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
from ocr_service.db.base import new_id
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.processing import ensure_pages, save_page_reading
from ocr_service.documents.sealing import seal_document_name
from ocr_service.documents.status import DocumentStatus
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.keys.service import Keys as KeyService
from ocr_service.keys.service import create_document_key, session_info
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import (
    PASSWORD,
    make_form,
    make_org,
    make_user,
    pdf_bytes,
    sample_source,
    use_csrf_token,
)
from tests.helpers import plain_value
from tests.support.live_server import serve_in_thread, truncate_all
from tests.support.render import render_filled_pdf, sample_values_for
from workers.pipeline.types import FieldReading, PageReading

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium chromium-driver"
    ),
]
DPI = 100
# Flagged fields (confidence below 0.8) and what the recogniser "read"; child_name is misread.
FLAGGED = {"entry_date": 0.62, "child_name": 0.41, "phone": 0.7, "q1_yes": 0.55}
MISREAD = {"child_name": "山田太朗"}


def twenty_field_source() -> LayoutSource:
    """The shipped 乳幼児健康診査 問診票 cut to its first 20 fields: a real layout of the size to measure."""
    sample = sample_source()
    layout = FormLayout.model_validate(
        {
            **sample.layout.model_dump(),
            "code": "kenshin20",
            "fields": sample.layout.model_dump()["fields"][:20],
            # The sample's cross-field rules name fields beyond the first 20.
            "cross_field_rules": [],
        }
    )
    return LayoutSource(layout=layout, template_pdf=sample.template_pdf, origin=sample.origin)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def seed_document(
    db: Session, *, source: LayoutSource, user_id: int, org_id: int, form_id: str, store: LocalBlobStore
) -> Document:
    """A recognised document with page image, crops and field results, as the worker would leave it."""
    values = {
        k: v
        for k, v in sample_values_for(sample_source().layout).items()
        if k in {f.name for f in source.layout.fields}
    }
    pdf = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, dpi=DPI)
    (page_image,) = convert_from_bytes(pdf, dpi=DPI)
    page_image = page_image.convert("L")
    document_id = new_id()
    dek = create_document_key(db, document_id=document_id)
    document = Document(
        id=document_id,
        org_id=org_id,
        form_id=form_id,
        uploaded_by=user_id,
        original_filename_sealed=seal_document_name(db, document_id=document_id, name="kenshin_0001.pdf"),
        sha256="0" * 64,
        size_bytes=len(pdf),
        page_count=1,
        blob_key=store.put(pdf, dek=dek),
        status=DocumentStatus.PROCESSING,
    )
    db.add(document)
    db.flush()
    (page,) = ensure_pages(db, document=document, layout_pages=1)
    readings = []
    scale = DPI / 72
    for spec in source.layout.fields:
        x0, y0, x1, y1 = (round(v * scale) for v in spec.box)
        crop = page_image.crop((max(0, x0 - 4), max(0, y0 - 4), x1 + 4, y1 + 4))
        confidence = FLAGGED.get(spec.name, 0.97)
        readings.append(
            FieldReading(
                name=spec.name,
                value=MISREAD.get(spec.name, values[spec.name]),
                confidence=confidence,
                crop_png=_png(crop),
                status="low_confidence" if confidence < 0.8 else "ok",
                reason="読取の確信度が低い" if confidence < 0.8 else None,
            )
        )
    reading = PageReading(page_no=1, status="ok", inliers=200, residual_px=1.0, fields=readings)
    save_page_reading(db, page=page, reading=reading, page_png=_png(page_image), store=store)
    document.status = "recognized"
    db.commit()
    return document


@dataclass
class Live:
    url: str
    factory: sessionmaker[Session]
    document_id: str
    username: str
    org_id: int


@pytest.fixture()
def live(tmp_path: Path, pg_url: str, engine: Engine) -> Iterator[Live]:
    settings = Settings(
        environment="test", data_dir=tmp_path / "data", database_url=pg_url, storage_key="browser-key"
    )
    store = LocalBlobStore(settings.resolved_storage_dir)
    factory = sessionmaker(
        bind=engine, expire_on_commit=False, info=session_info(KeyService.from_settings(settings))
    )
    with factory() as db:
        org = make_org(db, "東山市 健康推進課")
        user = make_user(db, org, username="reviewer-browser")
        source = twenty_field_source()
        form = make_form(db, org, store, source)
        db.commit()
        set_scope(db, SYSTEM_SCOPE)
        document = seed_document(
            db, source=source, user_id=user.id, org_id=org.id, form_id=form.id, store=store
        )
        # Queue context for the screenshot: one still being read.
        second_id = new_id()
        second_dek = create_document_key(db, document_id=second_id)
        db.add(
            Document(
                id=second_id,
                org_id=org.id,
                form_id=form.id,
                uploaded_by=user.id,
                original_filename_sealed=seal_document_name(
                    db, document_id=second_id, name="kenshin_0002.pdf"
                ),
                sha256="1" * 64,
                size_bytes=1,
                page_count=1,
                blob_key=store.put(pdf_bytes(), dek=second_dek),
                status=DocumentStatus.PROCESSING,
            )
        )
        db.commit()
        live = Live("", factory, document.id, user.username, org.id)
    app = create_app(settings, session_factory=factory, store=store, enqueue=lambda _id: None)
    try:
        with serve_in_thread(app) as url:
            live.url = url
            yield live
    finally:
        truncate_all(engine)


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)  # Debian's browser: Selenium Manager never downloads one
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        "--lang=ja-JP",
        "--disable-gpu",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: WebDriver, tmp_path: Path, name: str) -> None:
    target = Path(os.environ.get("OCR_TEST_SCREENSHOT_DIR", str(tmp_path / "shots")))
    target.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(target / name))


def test_keyboard_review_confirm_and_cp932_export(live: Live, browser: WebDriver, tmp_path: Path) -> None:
    """GIVEN a recognised 20-field form with 4 flagged fields, one of them misread
    WHEN the reviewer logs in, opens the queue and the document, corrects the misread field and
    confirms using only the keyboard, then exports the form's CSV from the queue
    THEN the downloaded bytes are CP932 with CRLF and hold the corrected value, the document is 出力済,
    and the review took 5 key presses plus the 4 corrected characters."""
    driver = browser
    wait = WebDriverWait(driver, 15)
    keystrokes = 0

    def press(*keys: str) -> None:
        nonlocal keystrokes
        for key in keys:
            ActionChains(driver).send_keys(key).perform()
            keystrokes += 1

    def active_id() -> str:
        return str(driver.switch_to.active_element.get_attribute("id"))

    driver.get(f"{live.url}/review")
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(live.username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait.until(ec.title_contains("確認キュー"))
    assert "あと 5 日" in driver.page_source
    _screenshot(driver, tmp_path, "review-queue-kenshin.png")
    # The oldest document to review has focus: Enter opens it (not counted: navigation, not review).
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(ec.presence_of_element_located((By.ID, "review")))

    with live.factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        ids = {
            r.field_name: r.id
            for r in db.scalars(select(FieldResult).where(FieldResult.document_id == live.document_id))
        }
    wait.until(lambda _d: active_id() == f"f-{ids['entry_date']}")
    rows = driver.find_elements(By.CSS_SELECTOR, "#flagged-rows .row")
    assert [r.get_attribute("data-field") for r in rows] == ["entry_date", "child_name", "phone", "q1_yes"]
    assert not driver.find_element(By.ID, "auto-rows").get_attribute("open")

    # The shortcuts work (not counted: looking around is optional).
    chord = ActionChains(driver)
    chord.key_down(Keys.ALT).send_keys("i").key_up(Keys.ALT).send_keys("+").perform()
    assert active_id() == "viewer"
    assert "scale(1.25)" in str(driver.find_element(By.ID, "canvas").get_attribute("style"))
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    assert active_id() == f"f-{ids['entry_date']}"
    ActionChains(driver).key_down(Keys.ALT).send_keys("a").key_up(Keys.ALT).perform()
    assert driver.find_element(By.ID, "auto-rows").get_attribute("open") is not None
    assert active_id() == f"f-{ids['child_furigana']}"
    ActionChains(driver).key_down(Keys.ALT).send_keys("a").key_up(Keys.ALT).perform()
    assert active_id() == f"f-{ids['entry_date']}"

    press(Keys.ENTER)  # 記入日 is right
    wait.until(lambda _d: active_id() == f"f-{ids['child_name']}")
    press(*"山田太郎")  # the misread name is selected on focus, so typing replaces it
    _screenshot(driver, tmp_path, "review-document-kenshin.png")
    press(Keys.ENTER)
    wait.until(lambda _d: active_id() == f"f-{ids['phone']}")
    press(Keys.ENTER)
    wait.until(lambda _d: active_id() == f"f-{ids['q1_yes']}")
    press(Keys.ENTER)
    wait.until(lambda _d: active_id() == "confirm")
    press(Keys.ENTER)
    wait.until(ec.title_contains("確認キュー"))  # no other document waits: back to the queue
    assert keystrokes == 5 + len("山田太郎") == 9

    button = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.export[data-form='kenshin20']")))
    button.click()
    deadline = time.monotonic() + 15
    files: list[Path] = []
    while time.monotonic() < deadline and not files:
        files = list((tmp_path / "downloads").glob("*.csv"))
        time.sleep(0.2)
    assert files, "no CSV was downloaded"
    data = files[0].read_bytes()
    content = data.decode("cp932")
    assert content.endswith("\r\n") and "\n" not in content.replace("\r\n", "")
    header, row, _end = content.split("\r\n")
    assert header.split(",")[:4] == ["文書ID", "記入日", "ふりがな", "氏名"]
    assert row.split(",")[:4] == [live.document_id, "2025/05/12", "やまだたろう", "山田太郎"]
    with live.factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        assert db.get_one(Document, live.document_id).status == DocumentStatus.EXPORTED


def test_stale_edit_in_the_browser_shows_the_other_reviewers_value(live: Live, browser: WebDriver) -> None:
    """GIVEN the document screen open in the browser WHEN another reviewer saves 氏名 first (API)
    and the browser user then types a different name and presses Enter
    THEN the screen shows the conflict message with the other value, and the database keeps that value."""
    with live.factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        other = make_user(db, db.get_one(Organisation, live.org_id))
        field = db.scalars(
            select(FieldResult).where(
                FieldResult.document_id == live.document_id, FieldResult.field_name == "child_name"
            )
        ).one()
        db.commit()
    driver = browser
    wait = WebDriverWait(driver, 15)
    driver.get(f"{live.url}/login?next=/review/documents/{live.document_id}")
    driver.find_element(By.ID, "username").send_keys(live.username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait.until(ec.presence_of_element_located((By.ID, "review")))

    with httpx.Client(base_url=live.url) as api:
        assert api.post(
            "/api/v1/auth/login", json={"username": other.username, "password": PASSWORD}
        ).is_success
        use_csrf_token(api)
        saved = api.patch(
            f"/api/v1/review/documents/{live.document_id}/fields/{field.id}",
            json={"value": "山田次郎", "version": 1},
        )
        assert saved.status_code == 200

    name_input = driver.find_element(By.ID, f"f-{field.id}")
    name_input.click()
    ActionChains(driver).send_keys("山田太郎", Keys.ENTER).perform()
    row = driver.find_element(By.CSS_SELECTOR, f".row[data-id='{field.id}']")
    wait.until(lambda _d: "conflict" in str(row.get_attribute("class")))
    assert name_input.get_attribute("value") == "山田次郎"
    assert "他の担当者" in row.text and "山田次郎" in row.text
    with live.factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        assert plain_value(db, db.get_one(FieldResult, field.id)) == "山田次郎"
