"""Admin console API: users, tokens, organisations, policies; every action audited. CLI parity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import ApiToken, User
from ocr_service.cli.main import app as cli
from ocr_service.config import get_settings
from ocr_service.db.base import utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.orgs.service import get_or_create_organisation
from ocr_service.storage.blobs import BlobStore
from tests.factories import PASSWORD, login, make_org, make_user

STRONG = "Umbrella-7-Kettle-Quartz"


def _actions(db: Session) -> list[str]:
    set_scope(db, SYSTEM_SCOPE)
    return [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_admin_creates_resets_disables_and_unlocks_users(client: TestClient, db: Session) -> None:
    """GIVEN an admin WHEN creating a user THEN a one-time temporary password forces a change at first
    login; reset, disable, enable, unlock and MFA reset work and are audited."""
    org = make_org(db)
    admin = make_user(db, org, role="admin")
    db.commit()
    login(client, admin)
    created = client.post(
        "/api/v1/admin/users", json={"org_id": org.id, "username": "sato-ichiro", "role": "reviewer"}
    )
    assert created.status_code == 201
    temporary = created.json()["secret"]
    new_user = db.scalar(select(User).where(User.username == "sato-ichiro"))
    assert new_user is not None and new_user.must_change_password
    with TestClient(client.app) as other:
        first = other.post("/api/v1/auth/login", json={"username": "sato-ichiro", "password": temporary})
        assert first.json()["stage"] == "password_change"
    uid = new_user.id
    reset = client.post(f"/api/v1/admin/users/{uid}/reset-password")
    assert reset.status_code == 200 and reset.json()["secret"] != temporary
    assert client.post(f"/api/v1/admin/users/{uid}/disable").status_code == 200
    with TestClient(client.app) as other:
        refused = other.post(
            "/api/v1/auth/login", json={"username": "sato-ichiro", "password": reset.json()["secret"]}
        )
        assert refused.status_code == 401
    assert client.post(f"/api/v1/admin/users/{uid}/enable").status_code == 200
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    locked = db.get_one(User, uid)
    locked.failed_logins, locked.locked_until = 5, utcnow().replace(year=utcnow().year + 1)
    db.commit()
    listed = {u["username"]: u for u in client.get("/api/v1/admin/users").json()}
    assert listed["sato-ichiro"]["locked"] is True
    assert client.post(f"/api/v1/admin/users/{uid}/unlock").status_code == 200
    assert {u["username"]: u for u in client.get("/api/v1/admin/users").json()}["sato-ichiro"][
        "locked"
    ] is False
    assert client.post(f"/api/v1/admin/users/{uid}/reset-mfa").status_code == 200
    assert client.post(f"/api/v1/admin/users/{admin.id}/disable").status_code == 422  # not oneself
    actions = _actions(db)
    for action in (
        "user.created",
        "user.password_reset",
        "user.disabled",
        "user.enabled",
        "user.unlocked",
        "user.mfa_reset",
    ):
        assert action in actions, action


def test_weak_or_duplicate_user_input_gets_a_japanese_422(client: TestClient, db: Session) -> None:
    """GIVEN an admin WHEN creating a duplicate username, a bad name, or a sysadmin THEN 422 in Japanese."""
    org = make_org(db)
    admin = make_user(db, org, role="admin")
    db.commit()
    login(client, admin)
    duplicate = client.post("/api/v1/admin/users", json={"org_id": org.id, "username": admin.username})
    assert duplicate.status_code == 422 and "既に使われています" in duplicate.json()["detail"]["message"]
    bad = client.post("/api/v1/admin/users", json={"org_id": org.id, "username": "../../etc"})
    assert bad.status_code == 422
    escalate = client.post(
        "/api/v1/admin/users", json={"org_id": org.id, "username": "root-x", "role": "sysadmin"}
    )
    assert escalate.status_code == 422 and "システム管理者" in escalate.json()["detail"]["message"]


def test_tokens_are_shown_once_listed_with_last_use_and_revoked(client: TestClient, db: Session) -> None:
    """GIVEN an admin WHEN issuing a token THEN its value is returned once (only a hash stored), it works,
    the list shows its last use and expiry; once revoked it gets 401."""
    org = make_org(db)
    admin, scanner = make_user(db, org, role="admin"), make_user(db, org, role="operator")
    db.commit()
    login(client, admin)
    issued = client.post(
        "/api/v1/admin/tokens", json={"user_id": scanner.id, "name": "1階スキャナ", "expires_days": 30}
    )
    raw = issued.json()["secret"]
    set_scope(db, SYSTEM_SCOPE)
    assert raw not in {t.token_sha256 for t in db.scalars(select(ApiToken))}
    bearer = {"Authorization": f"Bearer {raw}"}
    with TestClient(client.app) as machine:
        assert machine.get("/api/v1/auth/me", headers=bearer).status_code == 200
        (row,) = [t for t in client.get("/api/v1/admin/tokens").json() if t["name"] == "1階スキャナ"]
        assert row["last_used_at"] is not None and row["expires_at"] is not None and row["revoked_at"] is None
        assert "1階スキャナ" in client.get("/admin/tokens").text
        assert client.post(f"/api/v1/admin/tokens/{row['id']}/revoke").status_code == 200
        assert machine.get("/api/v1/auth/me", headers=bearer).status_code == 401
    assert (
        client.post(
            "/api/v1/admin/tokens", json={"user_id": scanner.id, "name": "x", "expires_days": 0}
        ).status_code
        == 422
    )
    assert {"token.issued", "token.revoked"} <= set(_actions(db))


def test_expired_token_is_refused(client: TestClient, db: Session) -> None:
    """GIVEN a token past its expiry THEN 401."""
    from datetime import timedelta

    from ocr_service.auth.service import create_api_token

    user = make_user(db, make_org(db), role="operator")
    raw = create_api_token(db, user=user, name="old", expires_at=utcnow() - timedelta(seconds=1))
    db.commit()
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_policies_inherit_down_the_tree_and_are_validated(client: TestClient, db: Session) -> None:
    """GIVEN a department admin WHEN it sets 16 characters on the department THEN its group inherits it
    and a group user's 14-character password is refused; a bad CIDR is a Japanese 422."""
    set_scope(db, SYSTEM_SCOPE)
    dept = get_or_create_organisation(db, name="テスト部")
    group = get_or_create_organisation(db, name="テスト部 第一係", parent_name="テスト部", kind="group")
    admin = make_user(db, dept, role="admin")
    member = make_user(db, group)
    db.commit()
    login(client, admin)
    saved = client.put(
        f"/api/v1/admin/orgs/{dept.id}/policy", json={"password_min_length": 16, "allowed_networks": None}
    )
    assert saved.status_code == 200 and saved.json()["overrides"] == {"password_min_length": 16}
    assert (
        client.get(f"/api/v1/admin/orgs/{group.id}/policy").json()["effective"]["password_min_length"] == 16
    )
    bad = client.put(f"/api/v1/admin/orgs/{group.id}/policy", json={"allowed_networks": ["10.0.0.300/8"]})
    assert bad.status_code == 422 and "ネットワーク" in bad.json()["detail"]["message"]
    assert "org.policy_changed" in _actions(db)
    with TestClient(client.app) as other:
        login(other, member)
        short = other.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "Kettle-7-Quartz"}
        )
        assert short.status_code == 422 and "16 文字以上" in short.json()["detail"]["message"]
    assert "テスト部 第一係" in client.get("/admin/orgs").text


def test_only_a_system_administrator_creates_organisations(client: TestClient, db: Session) -> None:
    """GIVEN an admin and a sysadmin WHEN each creates an organisation THEN the admin gets 403."""
    org = make_org(db)
    admin, sysadmin = make_user(db, org, role="admin"), make_user(db, org, role="sysadmin")
    db.commit()
    login(client, admin)
    body = {"name": "新しい課", "kind": "department"}
    assert client.post("/api/v1/admin/orgs", json=body).status_code == 403
    login(client, sysadmin)
    created = client.post("/api/v1/admin/orgs", json=body)
    assert created.status_code == 201
    child = client.post(
        "/api/v1/admin/orgs",
        json={"name": "新しい課 一係", "kind": "group", "parent_id": created.json()["id"]},
    )
    assert child.status_code == 201
    names = [o["name"] for o in client.get("/api/v1/admin/orgs").json()]
    assert names.index("新しい課") < names.index("新しい課 一係")
    assert "org.created" in _actions(db)


@pytest.fixture()
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI against its own embedded SQLite database (it commits, unlike the test transaction)."""
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OCR_DATABASE_URL", "")
    (tmp_path / "data").mkdir()
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["org", "create", "CLI課"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_cli_parity(cli_env: CliRunner) -> None:
    """GIVEN the CLI WHEN creating a user with a weak then a strong password, setting its password,
    disabling, unlocking, issuing, listing and revoking tokens THEN each works, weak passwords are refused."""
    run = cli_env.invoke
    weak = run(cli, ["user", "create", "cli-user", "--org", "CLI課", "--password", "password1234"])
    assert weak.exit_code == 1 and "よく使われる" in weak.output
    assert run(cli, ["user", "create", "cli-user", "--org", "CLI課", "--password", STRONG]).exit_code == 0
    assert run(cli, ["user", "passwd", "cli-user", "--password", STRONG]).exit_code == 1  # reuse
    assert run(cli, ["user", "passwd", "cli-user", "--password", "Orchid-9-Lantern-Velvet"]).exit_code == 0
    assert run(cli, ["user", "disable", "cli-user"]).exit_code == 0
    assert run(cli, ["user", "unlock", "cli-user"]).exit_code == 0
    token = run(cli, ["user", "token", "cli-user", "--name", "bridge", "--days", "10"])
    assert token.exit_code == 0 and token.output.startswith("ocrt_")
    listed = run(cli, ["token", "list"])
    assert '"name": "bridge"' in listed.output and token.output.strip() not in listed.output
    assert run(cli, ["token", "revoke", "1"]).exit_code == 0
    assert '"revoked_at": null' not in run(cli, ["token", "list"]).output
    assert run(cli, ["token", "revoke", "99"]).exit_code == 1


def test_an_admin_may_tighten_but_not_loosen_inherited_rules(client: TestClient, db: Session) -> None:
    """GIVEN a department requiring 16 characters and networks 10.1.0.0/16 WHEN its group's admin sets 12
    characters, drops MFA for admins, or allows 10.2.0.0/16 THEN 422 naming each; tightening (20 chars,
    10.1.5.0/24) is saved; a system administrator may loosen."""
    set_scope(db, SYSTEM_SCOPE)
    dept = get_or_create_organisation(db, name="厳格部")
    dept.policy = {"password_min_length": 16, "allowed_networks": ["10.1.0.0/16"]}
    group = get_or_create_organisation(db, name="厳格部 一係", parent_name="厳格部", kind="group")
    group_admin = make_user(db, group, role="admin")
    sysadmin = make_user(db, dept, role="sysadmin")
    db.commit()
    with TestClient(client.app, client=("10.1.5.9", 1000)) as inside:
        login(inside, group_admin)
        url = f"/api/v1/admin/orgs/{group.id}/policy"
        for body, label in (
            ({"password_min_length": 12}, "最小文字数"),
            ({"mfa_required_roles": ["sysadmin"]}, "二要素認証"),
            ({"allowed_networks": ["10.2.0.0/16"]}, "ネットワーク"),
            ({"password_max_age_days": 0}, "有効期限"),
        ):
            refused = inside.put(url, json=body)
            assert refused.status_code == 422 and label in refused.json()["detail"]["message"], body
        tight = inside.put(url, json={"password_min_length": 20, "allowed_networks": ["10.1.5.0/24"]})
        assert tight.status_code == 200
        login(inside, sysadmin)
        assert inside.put(url, json={"password_min_length": 12}).status_code == 200


def test_personal_data_flag_is_set_per_form_and_survives_new_versions(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a form WHEN the admin flags it as personal data THEN every version is flagged (audited), and a
    newly published version keeps the flag."""
    from ocr_service.forms.loader import LayoutSource
    from ocr_service.forms.models import FormDefinition
    from tests.factories import make_form, pdf_bytes, simple_layout

    org = make_org(db)
    admin = make_user(db, org, role="admin")
    make_form(db, org, store)
    db.commit()
    login(client, admin)
    assert (
        client.put("/api/v1/admin/forms/simple/personal-data", json={"personal_data": True}).status_code
        == 200
    )
    assert "含む" in client.get("/admin/policies").text
    base = simple_layout()
    changed = LayoutSource(layout=base.layout, template_pdf=pdf_bytes(text="v2"), origin=base.origin)
    newer = make_form(db, org, store, changed)
    assert newer.version == 2 and newer.personal_data
    set_scope(db, SYSTEM_SCOPE)
    assert all(
        f.personal_data for f in db.scalars(select(FormDefinition).where(FormDefinition.org_id == org.id))
    )
    assert "form.personal_data_changed" in _actions(db)


def test_role_change_ends_the_users_sessions(client: TestClient, db: Session) -> None:
    """GIVEN a logged-in reviewer WHEN an admin makes it an operator THEN its session ends at once (the
    new privilege starts with a new session), the change is audited; an admin cannot grant sysadmin."""
    org = make_org(db)
    admin, reviewer = make_user(db, org, role="admin"), make_user(db, org)
    db.commit()
    with TestClient(client.app) as other:
        login(other, reviewer)
        login(client, admin)
        assert (
            client.put(f"/api/v1/admin/users/{reviewer.id}/role", json={"role": "operator"}).status_code
            == 200
        )
        assert other.get("/api/v1/auth/me").status_code == 401
        login(other, reviewer)
        assert other.get("/api/v1/auth/me").json()["role"] == "operator"
    assert client.put(f"/api/v1/admin/users/{reviewer.id}/role", json={"role": "sysadmin"}).status_code == 422
    assert "user.role_changed" in _actions(db)


def test_console_home_lists_locked_users(client: TestClient, db: Session) -> None:
    """GIVEN a locked user WHEN the admin opens /admin THEN the summary names it."""
    org = make_org(db)
    admin, locked = make_user(db, org, role="admin"), make_user(db, org, username="locked-user")
    locked.locked_until = utcnow().replace(year=utcnow().year + 1)
    db.commit()
    login(client, admin)
    assert "locked-user" in client.get("/admin").text


def test_log_review_sits_in_the_shell_for_admins_and_auditors_with_the_tamper_banner(
    client: TestClient, db: Session
) -> None:
    """GIVEN an admin and a 監査担当 of one organisation and a failed chain verification WHEN each opens
    the console THEN ログ監査 is in the admin's menu beside the account screens, the auditor's menu holds
    only ログ監査 (the other screens refuse it), and both see the red banner on the shell's screens."""
    from ocr_service.audit.operations import VERIFY_FAILED
    from ocr_service.audit.service import SYSTEM, audit

    org = make_org(db, "監査ナビ課")
    admin, auditor = make_user(db, org, role="admin"), make_user(db, org, role="auditor")
    audit(db, SYSTEM, VERIFY_FAILED, detail={"first_bad_seq": 1, "reason": "hash mismatch"})
    db.commit()

    login(client, admin)
    home = client.get("/admin")
    assert home.status_code == 200
    assert 'href="/admin/audit"' in home.text and 'href="/admin/users"' in home.text
    assert 'id="tamper-banner"' in home.text

    client.cookies.clear()
    login(client, auditor)
    page = client.get("/admin/audit")
    assert page.status_code == 200
    assert 'href="/admin/audit"' in page.text and 'href="/admin/users"' not in page.text
    assert 'id="tamper-banner"' in page.text
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin").status_code == 403
