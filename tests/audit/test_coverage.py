"""Acceptance 2: every route in the OpenAPI schema, every screen and every CLI command leaves an
audit event, for every role, refused calls included (401/403/404 and other refusals).

The route list comes from the running app, so a new route without an entry here fails the test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.main import get_command
from typer.testing import CliRunner

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import ApiToken, User
from ocr_service.auth.service import create_api_token
from ocr_service.cli.main import app as cli_app
from ocr_service.db.base import new_id
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Batch, FieldResult
from ocr_service.export.models import CharMapping, ExportRecord
from ocr_service.export.service import export_key_owner
from ocr_service.forms.editor import create_draft_from_form
from ocr_service.forms.service import layout_of
from ocr_service.forms.yaml_io import dump_layout_yaml
from ocr_service.keys.service import create_document_key
from ocr_service.storage.blobs import BlobStore
from tests.conftest import SAMPLE_FORM_DIR
from tests.factories import PASSWORD, _recovery_codes, login, make_form, make_org, make_user, pdf_bytes
from tests.helpers import make_recognized_document
from tests.test_batches import _unidentified_document

# (method, path template) -> the action a successful call records.
API_ACTIONS = {
    ("POST", "/api/v1/auth/login"): "auth.login",
    ("POST", "/api/v1/auth/logout"): "auth.logout",
    ("GET", "/api/v1/auth/me"): "auth.me",
    ("POST", "/api/v1/documents"): "document.upload",
    ("GET", "/api/v1/documents"): "document.list",
    ("GET", "/api/v1/documents/{document_id}"): "document.view",
    ("GET", "/api/v1/documents/{document_id}/pages/{page_no}/image"): "document.page_view",
    ("GET", "/api/v1/documents/{document_id}/fields/{field_result_id}/crop"): "document.crop_view",
    ("GET", "/api/v1/forms"): "form.list",
    ("POST", "/api/v1/forms/{form_code}/export.csv"): "export.csv",
    ("GET", "/api/v1/export/char-mappings"): "export.mapping_list",
    ("PUT", "/api/v1/export/char-mappings"): "export.mapping_set",
    ("DELETE", "/api/v1/export/char-mappings/{mapping_id}"): "export.mapping_delete",
    ("GET", "/api/v1/review/queue"): "review.queue_view",
    ("PATCH", "/api/v1/review/documents/{document_id}/fields/{field_result_id}"): "review.field_edit",
    ("POST", "/api/v1/review/documents/{document_id}/confirm"): "review.confirm",
    ("GET", "/api/v1/review/documents/{document_id}/blind-entry"): "review.blind_entry_view",
    ("POST", "/api/v1/review/documents/{document_id}/blind-entry"): "review.blind_entry",
    ("GET", "/api/v1/review/documents/{document_id}/arbitration"): "review.arbitration_view",
    ("POST", "/api/v1/review/documents/{document_id}/arbitration"): "review.arbitrate",
    ("POST", "/api/v1/documents/{document_id}/erase"): "document.erase",
    ("GET", "/api/v1/retention/certificates"): "retention.certificate_list",
    ("GET", "/api/v1/retention/certificates/{certificate_id}.json"): "retention.certificate_download",
    ("GET", "/api/v1/retention/certificates/{certificate_id}.pdf"): "retention.certificate_download",
    ("GET", "/api/v1/retention/public-key"): "retention.public_key_view",
    # Accounts and the admin console (issue 12).
    ("POST", "/api/v1/auth/password"): "auth.password_changed",
    ("POST", "/api/v1/auth/mfa/enrol"): "auth.mfa_enrol_started",
    ("POST", "/api/v1/auth/mfa/confirm"): "auth.mfa_enrolled",
    ("GET", "/api/v1/admin/orgs"): "admin.org_list",
    ("POST", "/api/v1/admin/orgs"): "org.created",
    ("GET", "/api/v1/admin/users"): "admin.user_list",
    ("POST", "/api/v1/admin/users"): "user.created",
    ("PUT", "/api/v1/admin/users/{user_id}/role"): "user.role_changed",
    ("POST", "/api/v1/admin/users/{user_id}/{action}"): "user.unlocked",
    ("GET", "/api/v1/admin/tokens"): "admin.token_list",
    ("POST", "/api/v1/admin/tokens"): "token.issued",
    ("POST", "/api/v1/admin/tokens/{token_id}/revoke"): "token.revoked",
    ("GET", "/api/v1/admin/orgs/{org_id}/policy"): "admin.policy_view",
    ("PUT", "/api/v1/admin/orgs/{org_id}/policy"): "org.policy_changed",
    ("PUT", "/api/v1/admin/forms/{form_code}/personal-data"): "form.personal_data_changed",
    ("GET", "/api/v1/review/outcomes"): "review.outcomes_view",
    # 様式エディタ (layout editor)
    ("GET", "/api/v1/admin/form-drafts"): "form_draft.list",
    ("POST", "/api/v1/admin/form-drafts"): "form_draft.create",
    ("POST", "/api/v1/admin/form-drafts/from-form"): "form_draft.open",
    ("GET", "/api/v1/admin/form-drafts/{draft_id}"): "form_draft.view",
    ("PUT", "/api/v1/admin/form-drafts/{draft_id}"): "form_draft.save",
    ("GET", "/api/v1/admin/form-drafts/{draft_id}/pages/{page}.png"): "form_draft.page_view",
    ("GET", "/api/v1/admin/form-drafts/{draft_id}/yaml"): "form_draft.export_yaml",
    ("POST", "/api/v1/admin/form-drafts/{draft_id}/yaml"): "form_draft.import_yaml",
    ("GET", "/api/v1/admin/form-drafts/{draft_id}/check.png"): "form_draft.check",
    ("POST", "/api/v1/admin/form-drafts/{draft_id}/trial"): "form_draft.trial",
    ("POST", "/api/v1/admin/form-drafts/{draft_id}/publish"): "form.publish",
    ("GET", "/api/v1/admin/forms"): "form.editor_list",
    ("GET", "/api/v1/admin/forms/{code}/versions"): "form.versions_view",
    ("GET", "/api/v1/admin/forms/{code}/diff"): "form.diff_view",
    # Scanner bridges: the heartbeat is for machine tokens only (each role calls it with its own token,
    # a new bridge name each time: a new bridge is registered; routine beats are not events).
    ("GET", "/api/v1/bridges"): "bridge.list_view",
    ("POST", "/api/v1/bridges/heartbeat"): "bridge.register",
    # Issue 10: batches, 次の文書, 様式不明 decisions, past exports.
    ("GET", "/api/v1/batches"): "batch.list",
    ("GET", "/api/v1/batches/{batch_id}"): "batch.view",
    ("POST", "/api/v1/review/next"): "review.next",
    ("POST", "/api/v1/review/documents/{document_id}/assign-form"): "document.assign_form",
    ("POST", "/api/v1/review/documents/{document_id}/exclude"): "document.exclude",
    ("POST", "/api/v1/review/documents/{document_id}/delete"): "document.delete",
    ("GET", "/api/v1/exports"): "export.list",
    ("GET", "/api/v1/exports/{export_id}/download"): "export.download",
}
# Query strings some operations need (a missing one is a refused 422, walked as such elsewhere).
QUERIES = {
    "/api/v1/admin/forms/{code}/diff": "?old=1&new=1",
    "/api/v1/admin/form-drafts/{draft_id}/trial": "?n=1",
}
SCREEN_ACTIONS = {
    "/review": "review.queue_view",
    "/review/documents/{document_id}": "document.view",
    "/review/documents/{document_id}/blind-entry": "review.blind_entry_view",
    "/review/documents/{document_id}/arbitration": "review.arbitration_view",
    "/admin/audit": "audit.review_view",
    "/admin/audit.csv": "audit.csv_download",
    "/admin/audit/usage?month=2026-11": "report.usage",
    "/admin/retention": "retention.certificates_view",
    "/admin": "admin.home_view",
    "/admin/orgs": "admin.org_list",
    "/admin/users": "admin.user_list",
    "/admin/tokens": "admin.token_list",
    "/admin/policies": "admin.policy_view",
    "/account/password": "account.password_view",
    "/account/mfa": "account.mfa_view",
    "/admin/forms": "form_editor.view",
    "/admin/forms/drafts/{draft_id}": "form_draft.view",
    "/admin/bridges": "bridge.list_view",
    "/upload": "document.upload_view",
    "/intake": "batch.list",
    "/exports": "export.list",
    "/review/next": "review.next",
}
# Each 様式不明 decision gets its own 様式不明 document, so the first allowed role really decides it
# (later roles meet a document already decided: a refused 409/404, audited as such).
DECISION_DOCUMENT = {
    "/api/v1/review/documents/{document_id}/assign-form": "assign_id",
    "/api/v1/review/documents/{document_id}/exclude": "exclude_id",
    "/api/v1/review/documents/{document_id}/delete": "delete_id",
}
# Pages anyone may load and that show no data: not audited (they would only record noise).
PUBLIC_SCREENS = {
    "/",
    "/login",
    "/healthz",
    "/readyz",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/docs/oauth2-redirect",
}
ROLES = ("anonymous", "operator", "reviewer", "admin", "sysadmin", "auditor", "foreign")


@dataclass
class World:
    users: dict[str, User]
    params: dict[str, str]
    tokens: dict[str, str]
    layout: dict[str, Any]
    layout_yaml: str

    def url(self, path: str) -> str:
        params = dict(self.params)
        if path in DECISION_DOCUMENT:
            params["document_id"] = self.params[DECISION_DOCUMENT[path]]
        return path.format(**params) + QUERIES.get(path, "")


@pytest.fixture()
def world(db: Session, store: BlobStore) -> World:
    org_a, org_b = make_org(db, "監査A課"), make_org(db, "監査B課")
    users = {
        role: make_user(db, org_a, role=role)
        for role in ("operator", "reviewer", "admin", "sysadmin", "auditor")
    }
    users["foreign"] = make_user(db, org_b, role="admin")  # probes A's objects from B
    # The target of the admin console's user and token actions (unlock, revoke: repeatable, harmless).
    target = make_user(db, org_a, role="operator")
    token = ApiToken(org_id=org_a.id, user_id=target.id, name="walk", token_sha256="0" * 64, expires_at=None)
    db.add(token)
    form = make_form(db, org_a, store)
    document = make_recognized_document(
        db, user=users["reviewer"], form=form, store=store, values={"name": "山田", "agree": True}
    )
    set_scope(db, SYSTEM_SCOPE)
    field = db.scalars(select(FieldResult).where(FieldResult.document_id == document.id)).first()
    assert field is not None
    mapping = CharMapping(org_id=org_a.id, source="髙", replacement="高", created_by=users["admin"].id)
    db.add(mapping)
    draft = create_draft_from_form(db, org_id=org_a.id, user_id=users["admin"].id, code="simple", store=store)
    tokens = {role: create_api_token(db, user=user, name=f"scanner-{role}") for role, user in users.items()}
    batch = Batch(
        org_id=org_a.id, uploaded_by=users["operator"].id, sha256="0" * 64, size_bytes=1, page_count=1
    )
    db.add(batch)
    export_id = new_id()
    export_key = create_document_key(db, document_id=export_key_owner(export_id))
    db.add(
        ExportRecord(
            id=export_id,
            org_id=org_a.id,
            form_code="simple",
            filename="simple.csv",
            media_type="text/csv",
            blob_key=store.put("氏名\r\n".encode(), dek=export_key),
            rows=0,
            created_by=users["reviewer"].id,
            detail={},
        )
    )
    decisions = {
        key: _unidentified_document(db, user=users["operator"], store=store).id
        for key in DECISION_DOCUMENT.values()
    }
    set_scope(db, SYSTEM_SCOPE)
    db.commit()
    params = {
        "document_id": document.id,
        "field_result_id": field.id,
        "page_no": "1",
        "form_code": "simple",
        "mapping_id": str(mapping.id),
        "certificate_id": "0" * 32,
        "user_id": str(target.id),
        "action": "unlock",
        "token_id": str(token.id),
        "org_id": str(org_a.id),
        "draft_id": draft.id,
        "page": "1",
        "code": "simple",
        "batch_id": batch.id,
        "export_id": export_id,
        **decisions,
    }
    layout_yaml = dump_layout_yaml(layout_of(form))
    return World(users, params, tokens, dict(draft.layout), layout_yaml)


def _routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, bool]]:
    """(path, in OpenAPI schema) of every route, through included routers."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route.include_in_schema


def _last_seq(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.max(AuditEvent.seq))) or 0)


def _new_events(db: Session, after: int) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)))


def _call(client: TestClient, method: str, url: str, path: str, user: User | None, world: World) -> Any:
    role = next((r for r, u in world.users.items() if u is user), "anonymous")
    if path == "/api/v1/bridges/heartbeat":
        token = world.tokens.get(role, "ocr_not-a-token")
        headers = {"Authorization": f"Bearer {token}"}
        return client.post(url, json={"name": f"scanner-{role}", "hostname": "scan-pc"}, headers=headers)
    if path == "/api/v1/admin/form-drafts" and method == "POST":
        return client.post(url, files={"file": ("blank.pdf", pdf_bytes(), "application/pdf")})
    if path == "/api/v1/admin/form-drafts/from-form":
        return client.post(url, data={"code": "simple"})
    if path == "/api/v1/admin/form-drafts/{draft_id}" and method == "PUT":
        return client.put(url, json={"layout": world.layout})
    if path == "/api/v1/admin/form-drafts/{draft_id}/yaml" and method == "POST":
        return client.post(url, content=world.layout_yaml.encode("utf-8"))
    if path == "/api/v1/auth/login":
        name = user.username if user else "nobody"
        body = {"username": name, "password": PASSWORD if user else "wrong"}
        codes = _recovery_codes.get(name)
        if codes:  # an account the login helper enrolled in TOTP signs in with a recovery code
            body["otp"] = codes.pop()
        return client.post(url, json=body)
    if path == "/api/v1/documents" and method == "POST":
        return client.post(
            url, files={"file": ("s.pdf", pdf_bytes(), "application/pdf")}, data={"form_code": "simple"}
        )
    if method == "PUT":
        return client.put(url, json={"source": "𠮷", "replacement": "吉"})
    if method == "PATCH":
        return client.patch(url, json={"value": "山田太郎", "version": 1})
    if method == "POST" and path.endswith(("blind-entry", "arbitration")):
        return client.post(url, json={"values": {}})
    if method == "POST" and path.endswith("assign-form"):
        return client.post(url, json={"form_code": "simple"})
    if method == "POST" and path.endswith(("exclude", "delete")):
        return client.post(url, json={"reason": "白紙の裏面"})
    return client.request(method, url, follow_redirects=False)


def _check(events: list[AuditEvent], *, response: Any, expected: str, user: User | None, what: str) -> None:
    actor = user.username if user else "anonymous"
    mine = [e for e in events if e.actor == actor or (user is None and e.action == "auth.login_failed")]
    # A screen that redirects to its work (次の文書 → the document) succeeded; to the login page, refused.
    location = response.headers.get("location", "")
    if response.status_code < 300 or (response.status_code == 303 and not location.startswith("/login")):
        # A repeated identical upload is recognised as such (idempotent uploads) and audited so.
        # So is publishing a layout identical to the latest version (no new version).
        variants = (expected, f"{expected}_duplicate", f"{expected}_unchanged")
        assert any(e.action in variants for e in mine), (
            what,
            response.status_code,
            [e.action for e in events],
        )
    else:
        status = 401 if response.status_code == 303 else response.status_code
        refused = [e for e in mine if e.action == "request.refused" and e.detail["status"] == status]
        assert refused, (what, response.status_code, [(e.action, e.actor, e.detail) for e in events])


def test_every_api_route_and_screen_is_audited_for_every_role(
    client: TestClient, db: Session, world: World
) -> None:
    """GIVEN each role (and a user of another organisation) WHEN it calls every operation of the OpenAPI
    schema and every screen THEN each call leaves its event: the action when allowed, request.refused
    with the status when refused (a cross-organisation probe is a refused 404)."""
    schema = client.get("/api/v1/openapi.json").json()
    operations = {(m.upper(), p) for p, item in schema["paths"].items() for m in item}
    assert operations == set(API_ACTIONS), "classify new routes in API_ACTIONS"
    screens = {path for path, in_schema in _routes(client.app.routes) if not in_schema}  # type: ignore[attr-defined]
    assert screens - PUBLIC_SCREENS == {p.split("?")[0] for p in SCREEN_ACTIONS}, "classify new screens"
    calls = sorted(API_ACTIONS.items(), key=lambda kv: kv[0][1] == "/api/v1/auth/logout")
    seen_statuses: set[tuple[str, int]] = set()
    for role in ROLES:
        user = world.users.get(role)
        client.cookies.clear()
        if user is not None:
            login(client, user)
        for (method, path), expected in [*[((("GET", p), a)) for p, a in SCREEN_ACTIONS.items()], *calls]:
            if path == "/api/v1/auth/login":
                continue  # exercised below, it would replace the session
            url = world.url(path)
            before = _last_seq(db)
            response = _call(client, method, url, path, user, world)
            _check(
                _new_events(db, before),
                response=response,
                expected=expected,
                user=user,
                what=f"{role} {method} {path}",
            )
            seen_statuses.add((role, response.status_code))
        before = _last_seq(db)
        response = _call(client, "POST", "/api/v1/auth/login", "/api/v1/auth/login", user, world)
        expected = "auth.login" if user else "auth.login_failed"
        _check(_new_events(db, before), response=response, expected=expected, user=user, what=f"{role} login")
    # The walk really met allowed and refused calls of each kind.
    codes = {code for _role, code in seen_statuses}
    assert {200, 401, 403, 404} <= codes, codes
    assert ("foreign", 404) in seen_statuses and ("auditor", 403) in seen_statuses
    # Issue 10's decisions and downloads really happened (not only their refusals).
    done = set(db.scalars(select(AuditEvent.action).where(AuditEvent.action != "request.refused")))
    assert {
        "document.assign_form",
        "document.exclude",
        "document.delete",
        "export.download",
        "batch.view",
        "review.next",
    } <= done, done


# CLI commands that touch no organisation data (they start services, read local files or models).
CLI_NOT_AUDITED = {
    "up": "starts the services (their actions are audited)",
    "api": "starts the API",
    "worker": "starts a worker",
    "beat": "starts beat (its jobs are audited: audit.checkpoint, audit.verify)",
    "forms check": "validates a local layout file",
    "forms test": "synthetic sheets only, no scans",
    "eval lines": "evaluation data, no organisation data",
    "eval forms": "evaluation data, no organisation data",
    "models list": "model files",
    "models export": "model files",
    "models import": "model files",
    "keys public-key": "prints the public key, which is public",
    "calibrate": "recognition calibration on evaluation data",
    "forms propose": "proposes field boxes for a local blank form file",
}


def _cli_commands() -> set[str]:
    root = get_command(cli_app)
    names: set[str] = set()
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            names.update(f"{name} {child}" for child in sub)
        else:
            names.add(name)
    return names


@pytest.fixture()
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from ocr_service.config import get_settings

    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OCR_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        yield tmp_path
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_every_cli_command_is_audited_with_the_os_user(cli_env: Path) -> None:
    """GIVEN an embedded (SQLite) installation WHEN each data command runs THEN it leaves its event,
    attributed to cli:<OS user>; every other command is listed with the reason it is not audited."""
    import getpass

    from ocr_service.config import get_settings
    from ocr_service.db.base import make_engine

    runner = CliRunner()
    out = cli_env / "reports"
    bogus = cli_env / "not-a-certificate.json"
    bogus.write_text("{}", encoding="utf-8")
    steps: list[tuple[list[str], str]] = [
        (["db", "upgrade"], "db.upgrade"),
        (["org", "create", "監査テスト課"], "org.create"),
        (
            [
                "user",
                "create",
                "cli-user",
                "--org",
                "監査テスト課",
                "--role",
                "admin",
                "--password",
                PASSWORD,
            ],
            "user.create",
        ),
        (["user", "token", "cli-user", "--name", "scanner"], "user.token_create"),
        (
            ["user", "passwd", "cli-user", "--password", "Kq7#vLm2-Tz9wPx!rB", "--no-force-change"],
            "user.password_reset",
        ),
        (["user", "disable", "cli-user"], "user.disabled"),
        (["user", "enable", "cli-user"], "user.enabled"),
        (["user", "unlock", "cli-user"], "user.unlocked"),
        (["user", "reset-mfa", "cli-user"], "user.mfa_reset"),
        (["token", "list"], "token.list"),
        (["token", "revoke", "1"], "token.revoked"),
        (["forms", "import", str(SAMPLE_FORM_DIR), "--org", "監査テスト課"], "form.publish"),
        (["forms", "load", str(SAMPLE_FORM_DIR.parent), "--org", "監査テスト課"], "form.publish"),
        (["forms", "list", "--org", "監査テスト課"], "form.list"),
        # A local run with the organisation's form reads a scan outside the service (loads the OCR model).
        (
            [
                "process",
                str(SAMPLE_FORM_DIR / "template.pdf"),
                "--form",
                "nyuyoji_kenshin",
                "--org",
                "監査テスト課",
            ],
            "document.process_local",
        ),
        (["retention", "days", "--org", "監査テスト課"], "retention.days_view"),
        (["retention", "days", "--org", "監査テスト課", "--days", "7"], "retention.days_set"),
        (["retention", "run"], "retention.run"),
        (["retention", "verify", str(bogus)], "retention.certificate_verify"),
        (["keys", "rotate"], "keys.rotate"),
        (["audit", "checkpoint"], "audit.checkpoint"),
        (["audit", "verify"], "audit.verify"),
        (
            ["report", "usage", "--month", "2026-11", "--org", "監査テスト課", "--out", str(out)],
            "report.usage",
        ),
    ]
    covered = {
        " ".join(args[:2])
        if args[0] in ("db", "org", "user", "token", "forms", "audit", "report", "retention", "keys")
        else args[0]
        for args, _ in steps
    }
    assert _cli_commands() == covered | set(CLI_NOT_AUDITED), "classify new CLI commands"
    engine = make_engine(get_settings().resolved_database_url)
    try:
        for args, expected in steps:
            before = 0
            if args[0] != "db":  # before the first upgrade there is no database yet
                with engine.connect() as conn:
                    before = int(conn.scalar(select(func.max(AuditEvent.seq))) or 0)
            result = runner.invoke(cli_app, args)
            # A refused certificate exits 1 and is audited all the same.
            assert result.exit_code == (1 if args[:2] == ["retention", "verify"] else 0), (
                args,
                result.output,
            )
            with engine.connect() as conn:
                rows = conn.execute(
                    select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.seq > before)
                ).all()
            assert (expected, f"cli:{getpass.getuser()}") in [tuple(r) for r in rows], (args, rows)
    finally:
        engine.dispose()
    assert (out / "usage_org1_2026-11.pdf").read_bytes().startswith(b"%PDF")
