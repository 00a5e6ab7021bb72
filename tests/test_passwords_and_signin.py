"""Password policy, expiry, lockout and throttling, sessions (rotation, timeouts, one per person)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.accounts import check_new_password, store_password
from ocr_service.auth.models import LoginSession, User
from ocr_service.auth.network import Terminal
from ocr_service.auth.passwords import PasswordRejectedError, expiry_warning
from ocr_service.auth.policy import installation_policy
from ocr_service.auth.service import resolve_login_session, sha256_hex
from ocr_service.auth.signin import SignInError, sign_in
from ocr_service.config import Settings
from ocr_service.db.base import utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from tests.factories import PASSWORD, login, make_org, make_user

HERE = Terminal(ip="192.0.2.10", cert_subject=None)
STRONG = "Umbrella-7-Kettle-Quartz"


def _problems(db: Session, user: User, password: str, settings: Settings) -> str:
    with pytest.raises(PasswordRejectedError) as caught:
        check_new_password(db, user=user, password=password, policy=installation_policy(settings))
    return " ".join(caught.value.problems)


def test_each_password_rule_refuses_with_a_japanese_reason(db: Session, settings: Settings) -> None:
    """GIVEN the default policy WHEN short, blank, weak, common, username-containing or reused passwords
    are set THEN each is refused saying what to fix; a strong one passes."""
    user = make_user(db, make_org(db), username="tanaka-hanako")
    assert "12 文字以上" in _problems(db, user, "Short-1!", settings)
    assert "空白だけ" in _problems(db, user, " " * 12, settings)
    assert "推測されやすい" in _problems(db, user, "aaaaaaaaaaaa", settings)
    assert "よく使われる" in _problems(db, user, "password1234", settings)
    assert "ユーザー名" in _problems(db, user, "tanaka-hanako-Zebra-42", settings)
    assert "最近使った 5 個" in _problems(db, user, PASSWORD, settings)  # the current one
    check_new_password(db, user=user, password=STRONG, policy=installation_policy(settings))


def test_last_five_passwords_cannot_come_back(db: Session, settings: Settings) -> None:
    """GIVEN a user who changed the password five times WHEN any of the last 5 is set again THEN refused;
    the sixth-oldest is allowed (history keeps 5)."""
    user = make_user(db, make_org(db))
    policy = installation_policy(settings)
    used = [f"Lantern-{n}-Orchid-Velvet-{n * 7}" for n in range(6)]
    for password in used:
        store_password(db, user=user, password=password, policy=policy, now=utcnow())
    for recent in used[-5:]:
        with pytest.raises(PasswordRejectedError, match="最近使った"):
            check_new_password(db, user=user, password=recent, policy=policy)
    check_new_password(db, user=user, password=used[0], policy=policy)


def test_expiry_forces_a_change_and_warns_from_14_days(db: Session, settings: Settings) -> None:
    """GIVEN a password changed 80 days ago THEN login warns (10 days left) and works fully;
    at 91 days the session starts in the password-change stage. Time is injected."""
    user = make_user(db, make_org(db))
    now = utcnow()
    user.password_changed_at = now - timedelta(days=80)
    db.commit()
    signed = sign_in(
        db, settings=settings, username=user.username, password=PASSWORD, otp=None, terminal=HERE, now=now
    )
    assert (
        signed.stage == "full"
        and signed.password_warning is not None
        and "あと 10 日" in signed.password_warning
    )
    policy = installation_policy(settings)
    assert expiry_warning(changed_at=now - timedelta(days=75), policy=policy, now=now) is None
    later = now + timedelta(days=11)
    signed = sign_in(
        db, settings=settings, username=user.username, password=PASSWORD, otp=None, terminal=HERE, now=later
    )
    assert signed.stage == "password_change"


def test_first_login_forces_a_change_and_the_api_is_closed_until_then(
    client: TestClient, db: Session
) -> None:
    """GIVEN a new account (must change) WHEN it logs in THEN stage password_change, the API answers 403
    and screens redirect to the change page; after a valid change everything works and the old
    password no longer does."""
    user = make_user(db, make_org(db))
    user.must_change_password = True
    db.commit()
    response = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert response.json()["stage"] == "password_change"
    client.headers["x-csrf-token"] = client.cookies["ocr_csrf"]
    assert client.get("/api/v1/review/queue").json()["detail"]["code"] == "password_change_required"
    redirect = client.get("/review", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/account/password")
    weak = client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password1234"}
    )
    assert weak.status_code == 422 and "よく使われる" in weak.json()["detail"]["message"]
    ok = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": STRONG})
    assert ok.status_code == 200 and ok.json()["stage"] == "full"
    client.headers["x-csrf-token"] = client.cookies["ocr_csrf"]
    assert client.get("/api/v1/review/queue").status_code == 200
    assert (
        client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}).status_code
        == 401
    )


def test_five_failures_lock_the_account_without_revealing_it(client: TestClient, db: Session) -> None:
    """GIVEN a user WHEN 5 wrong passwords arrive THEN the account locks for 15 minutes: even the right
    password is refused with exactly the message an unknown user gets; lock and failures are audited."""
    user = make_user(db, make_org(db))
    db.commit()
    for _ in range(5):
        bad = client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": "wrong-password-x"}
        )
        assert bad.status_code == 401
    right = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    unknown = client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": PASSWORD})
    assert right.status_code == unknown.status_code == 401
    assert right.json() == unknown.json()
    set_scope(db, SYSTEM_SCOPE)
    db.expire_all()
    locked = db.get_one(User, user.id)
    assert locked.locked_until is not None
    minutes = (locked.locked_until - utcnow()).total_seconds() / 60
    assert 14 < minutes <= 15
    actions = [
        e.action
        for e in db.scalars(
            select(AuditEvent).where((AuditEvent.user_id == user.id) | (AuditEvent.object_id == str(user.id)))
        )
    ]
    assert actions.count("auth.login_failed") == 6 and "auth.account_locked" in actions


def test_lock_expires_by_itself(db: Session, settings: Settings) -> None:
    """GIVEN a lock that ended a minute ago WHEN the right password arrives THEN login works again."""
    user = make_user(db, make_org(db))
    user.locked_until = utcnow() - timedelta(minutes=1)
    user.failed_logins = 5
    db.commit()
    signed = sign_in(
        db, settings=settings, username=user.username, password=PASSWORD, otp=None, terminal=HERE
    )
    assert signed.stage == "full"


def test_one_address_is_throttled_after_many_failures(db: Session, settings: Settings) -> None:
    """GIVEN 20 failures from one address (spread over unknown names) THEN the next try from it is 429,
    audited, even with a right password; another address is unaffected."""
    user = make_user(db, make_org(db))
    db.commit()
    for n in range(settings.login_ip_max_failures):
        with pytest.raises(SignInError):
            sign_in(db, settings=settings, username=f"guess{n}", password="x" * 12, otp=None, terminal=HERE)
    with pytest.raises(SignInError) as caught:
        sign_in(db, settings=settings, username=user.username, password=PASSWORD, otp=None, terminal=HERE)
    assert caught.value.status == 429
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_throttled"))
    other = Terminal(ip="192.0.2.99", cert_subject=None)
    assert sign_in(db, settings=settings, username=user.username, password=PASSWORD, otp=None, terminal=other)


def test_sessions_rotate_time_out_and_are_one_per_person(
    client: TestClient, db: Session, settings: Settings
) -> None:
    """GIVEN a logged-in user THEN a second login ends the first session; idle 30 min or past the
    absolute lifetime ends a session; the session id changes at login."""
    user = make_user(db, make_org(db))
    db.commit()
    login(client, user)
    first = client.cookies["ocr_session"]
    login(client, user)
    second = client.cookies["ocr_session"]
    assert first != second
    set_scope(db, SYSTEM_SCOPE)
    assert db.get(LoginSession, sha256_hex(first)) is None
    idle = timedelta(minutes=settings.session_idle_minutes)
    now = utcnow()
    # Use within 30 minutes keeps it alive (and moves the idle clock); 31 idle minutes end it.
    assert resolve_login_session(db, raw_session_id=second, idle=idle, now=now + timedelta(minutes=29))
    assert resolve_login_session(db, raw_session_id=second, idle=idle, now=now + timedelta(minutes=58))
    assert (
        resolve_login_session(db, raw_session_id=second, idle=idle, now=now + timedelta(minutes=89)) is None
    )
    assert client.get("/api/v1/auth/me").status_code == 401  # deleted for good
    login(client, user)
    raw = client.cookies["ocr_session"]
    row = db.get_one(LoginSession, sha256_hex(raw))
    beyond = row.expires_at + timedelta(seconds=1)
    row.last_seen_at = beyond - timedelta(minutes=1)  # active, but past its lifetime
    db.commit()
    assert resolve_login_session(db, raw_session_id=raw, idle=idle, now=beyond) is None


def test_password_change_ends_every_other_session(
    client: TestClient, db: Session, settings: Settings
) -> None:
    """GIVEN a session elsewhere WHEN the user changes the password THEN that session is dead, the
    changing browser continues on a new session id."""
    user = make_user(db, make_org(db))
    db.commit()
    login(client, user)
    before = client.cookies["ocr_session"]
    response = client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": STRONG}
    )
    assert response.status_code == 200
    assert client.cookies["ocr_session"] != before
    set_scope(db, SYSTEM_SCOPE)
    assert db.get(LoginSession, sha256_hex(before)) is None
    client.headers["x-csrf-token"] = client.cookies["ocr_csrf"]
    assert client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        "/%5C127.0.0.1:8829/",
        "/\\evil.example/",
        "/%09/evil.example",
        "//evil.example",
        "https:evil.example",
        "https://evil.example/",
        "/\t/evil.example",
        "%2F%2Fevil.example",
        "/%0a/evil.example",
    ],
)
def test_next_never_leaves_the_origin(client: TestClient, payload: str) -> None:
    """GIVEN an open-redirect payload in ?next= THEN the login page sends the browser to a same-origin path."""
    from urllib.parse import quote

    page = client.get(f"/login?next={quote(payload, safe='%/:')}").text
    target = page.split('data-next="', 1)[1].split('"', 1)[0]
    assert (
        target.startswith("/") and not target.startswith("//") and "\\" not in target and "evil" not in target
    )
    assert (
        client.get(f"/login?next={quote('/review/documents/abc')}").text.count(
            'data-next="/review/documents/abc"'
        )
        == 1
    )


def test_guessing_the_current_password_on_the_change_form_locks_too(client: TestClient, db: Session) -> None:
    """GIVEN a session WHEN the change form gets 5 wrong current passwords THEN the account locks: the right
    one is refused there too, and the attempts are audited."""
    user = make_user(db, make_org(db))
    db.commit()
    login(client, user)
    for _ in range(5):
        wrong = client.post(
            "/api/v1/auth/password", json={"current_password": "nope-nope-nope", "new_password": STRONG}
        )
        assert wrong.status_code == 422
    right = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": STRONG})
    assert right.status_code == 422
    set_scope(db, SYSTEM_SCOPE)
    db.expire_all()
    assert db.get_one(User, user.id).locked_until is not None
    assert _count(db, "auth.password_recheck_failed") == 6


def _count(db: Session, action: str) -> int:
    return len(list(db.scalars(select(AuditEvent).where(AuditEvent.action == action))))
