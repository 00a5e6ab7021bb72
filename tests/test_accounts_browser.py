"""Account controls in real headless Chromium (Debian's chromium + chromedriver, via Selenium):
forced first-login password change, TOTP enrolment from the on-screen QR code and login with a
code, lockout and unlock by an admin in the console, issuing and revoking a machine token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import httpx
import numpy as np
import pyotp
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.auth import mfa
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.keys.service import Keys as KeyService
from ocr_service.keys.service import session_info
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import PASSWORD, make_org, make_user
from tests.support.live_server import serve_in_thread, truncate_all
from tests.test_review_browser import CHROMEDRIVER, CHROMIUM, _screenshot, browser  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium chromium-driver"
    ),
]
NEW_PASSWORD = "Umbrella-7-Kettle-Quartz"
ADMIN_SECRET = pyotp.random_base32()


@dataclass
class Server:
    url: str
    factory: sessionmaker[Session]
    settings: Settings
    org_id: int


@pytest.fixture()
def server(tmp_path: Path, pg_url: str, engine: Engine) -> Iterator[Server]:
    settings = Settings(
        environment="test", data_dir=tmp_path / "data", database_url=pg_url, storage_key="browser-key"
    )
    store = LocalBlobStore(settings.resolved_storage_dir)
    factory = sessionmaker(
        bind=engine, expire_on_commit=False, info=session_info(KeyService.from_settings(settings))
    )
    with factory() as db:
        org = make_org(db, "東山市 市民課")
        db.commit()
        org_id = org.id
    app = create_app(settings, session_factory=factory, store=store, enqueue=lambda _id: None)
    try:
        with serve_in_thread(app) as url:
            yield Server(url, factory, settings, org_id)
    finally:
        truncate_all(engine)


def _user(server: Server, role: str, username: str, *, must_change: bool = False, totp: bool = False) -> None:
    with server.factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        user = make_user(db, db.get_one(Organisation, server.org_id), role=role, username=username)
        user.must_change_password = must_change
        if totp:
            user.totp_secret = mfa.seal(
                secret_key=server.settings.secret_key.get_secret_value(), plaintext=ADMIN_SECRET
            )
        db.commit()


def _sign_in(
    driver: WebDriver, wait: WebDriverWait[WebDriver], url: str, username: str, password: str
) -> None:
    driver.delete_all_cookies()
    driver.get(url)
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)


def _admin_sign_in(driver: WebDriver, wait: WebDriverWait[WebDriver], server: Server, code: str) -> None:
    _sign_in(driver, wait, f"{server.url}/login?next=/admin", "kanri", PASSWORD)
    otp = wait.until(ec.visibility_of_element_located((By.ID, "otp")))
    otp.send_keys(code + Keys.ENTER)
    wait.until(ec.title_contains("管理画面"))


def test_first_login_forces_a_password_change(server: Server, browser: WebDriver) -> None:  # noqa: F811
    """GIVEN a new account WHEN it signs in THEN the change screen comes first; a weak password is refused
    with the reason in Japanese; a strong one leads on to the review queue."""
    _user(server, "reviewer", "shinjin", must_change=True)
    wait = WebDriverWait(browser, 15)
    _sign_in(browser, wait, f"{server.url}/review", "shinjin", PASSWORD)
    wait.until(ec.title_contains("パスワード変更"))
    assert "初めてのログイン" in browser.page_source
    browser.find_element(By.ID, "current_password").send_keys(PASSWORD)
    browser.find_element(By.ID, "new_password").send_keys("password1234")
    browser.find_element(By.ID, "new_password_again").send_keys("password1234" + Keys.ENTER)
    result = browser.find_element(By.CSS_SELECTOR, "#password-form .result")
    wait.until(lambda _d: "よく使われる" in result.text)
    for field in ("new_password", "new_password_again"):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(NEW_PASSWORD)
    browser.find_element(By.ID, "new_password_again").send_keys(Keys.ENTER)
    wait.until(ec.title_contains("確認キュー"))
    # The browser went on with a rotated session: an API call from the page works.
    assert (
        browser.execute_script(
            "return fetch('/api/v1/auth/me', {credentials: 'same-origin'}).then(r => r.status)"
        )
        == 200
    )
    # The API docs render from packaged assets under a CSP that allows scripts from this origin only,
    # so they work with no network (LGWAN).
    browser.get(f"{server.url}/api/v1/docs")
    wait.until(lambda d: "OCR Service" in d.find_element(By.CSS_SELECTOR, "#swagger-ui").text)
    logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert not [e for e in logged if e["level"] == "SEVERE" and e["source"] != "network"], logged


def test_mfa_enrolment_from_the_qr_code_and_login_with_totp(server: Server, browser: WebDriver) -> None:  # noqa: F811
    """GIVEN an admin without MFA WHEN signing in THEN the enrolment screen shows a QR code drawn by the
    server; the test decodes it, enters the computed code, sees 10 recovery codes, reaches the console;
    then a new login asks for the code and accepts a computed one."""
    _user(server, "admin", "kanri-new")
    wait = WebDriverWait(browser, 15)
    _sign_in(browser, wait, f"{server.url}/login?next=/admin", "kanri-new", PASSWORD)
    wait.until(ec.title_contains("二要素認証"))
    png = browser.find_element(By.CSS_SELECTOR, "#mfa-qr svg").screenshot_as_png
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    uri, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert uri.startswith("otpauth://totp/"), uri
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    totp = pyotp.TOTP(secret)
    browser.find_element(By.ID, "mfa-code").send_keys(totp.now() + Keys.ENTER)
    codes = wait.until(ec.visibility_of_element_located((By.ID, "issued-secret")))
    assert len(codes.text.split()) == 10
    browser.find_element(By.CSS_SELECTOR, "#mfa-continue a").click()
    wait.until(ec.title_contains("管理画面"))

    _sign_in(browser, wait, f"{server.url}/login?next=/admin", "kanri-new", PASSWORD)
    otp = wait.until(ec.visibility_of_element_located((By.ID, "otp")))
    # The enrolment used this step's code; the next step's is within the accepted drift.
    otp.send_keys(totp.at(time.time() + 30) + Keys.ENTER)
    wait.until(ec.title_contains("管理画面"))


def test_lockout_unlock_and_token_revocation_in_the_console(
    server: Server,
    browser: WebDriver,  # noqa: F811
    tmp_path: Path,
) -> None:
    """GIVEN a reviewer and an enrolled admin WHEN the reviewer's password is wrong 5 times THEN even the
    right one is refused; the admin unlocks the account in the console and it signs in. The admin issues
    a machine token (shown once), which works, then revokes it: 401."""
    _user(server, "reviewer", "kakunin")
    _user(server, "operator", "scanner-1f")
    _user(server, "admin", "kanri", totp=True)
    wait = WebDriverWait(browser, 15)
    for _ in range(5):
        _sign_in(browser, wait, f"{server.url}/login", "kakunin", "wrong-password-123")
        wait.until(lambda d: "正しくありません" in d.find_element(By.ID, "login-error").text)
    _sign_in(browser, wait, f"{server.url}/login", "kakunin", PASSWORD)
    wait.until(lambda d: "正しくありません" in d.find_element(By.ID, "login-error").text)

    totp = pyotp.TOTP(ADMIN_SECRET)
    _admin_sign_in(browser, wait, server, totp.now())
    browser.get(f"{server.url}/admin/users")
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-username='kakunin']")
    assert "ロック中" in row.text
    _screenshot(browser, tmp_path, "admin-users.png")
    row.find_element(By.CSS_SELECTOR, "button[data-action='unlock']").send_keys(Keys.ENTER)
    wait.until(
        lambda d: "ロック中" not in d.find_element(By.CSS_SELECTOR, "tr[data-username='kakunin'] .state").text
    )

    browser.get(f"{server.url}/admin/tokens")
    form = browser.find_element(By.ID, "issue-token")
    for option in form.find_elements(By.CSS_SELECTOR, "#token-user option"):
        if option.text.startswith("scanner-1f"):
            option.click()
    browser.find_element(By.ID, "token-name").send_keys("1階スキャナ")
    browser.find_element(By.ID, "token-days").send_keys(Keys.ENTER)
    raw = wait.until(ec.visibility_of_element_located((By.ID, "issued-secret"))).text.strip()
    assert raw.startswith("ocrt_")
    bearer = {"Authorization": f"Bearer {raw}"}
    assert httpx.get(f"{server.url}/api/v1/auth/me", headers=bearer).status_code == 200
    browser.get(f"{server.url}/admin/tokens")
    token_row = browser.find_element(By.CSS_SELECTOR, "tr[data-name='1階スキャナ']")
    assert "未使用" not in token_row.text  # the last use is shown
    token_row.find_element(By.CSS_SELECTOR, "button[data-action='revoke']").click()
    wait.until(ec.alert_is_present()).accept()
    wait.until(lambda d: "失効" in d.find_element(By.CSS_SELECTOR, "tr[data-name='1階スキャナ'] .state").text)
    assert httpx.get(f"{server.url}/api/v1/auth/me", headers=bearer).status_code == 401

    _sign_in(browser, wait, f"{server.url}/review", "kakunin", PASSWORD)
    wait.until(ec.title_contains("確認キュー"))
    # No screen needed anything the CSP forbids (inline script, foreign origins).
    logged = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert not [e for e in logged if "Content Security Policy" in e["message"]]
