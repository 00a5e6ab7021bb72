"""様式エディタ API: proposals to a draft, YAML round trip, no-op publish, Japanese field errors, audit."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.yaml_io import dump_layout_yaml, load_layout_yaml
from tests.factories import login, make_org, make_user
from tests.support.blank_forms import setai_ichiran


def _admin_with_draft(client: TestClient, db: Session) -> dict[str, Any]:
    org = make_org(db, "市民課")
    admin = make_user(db, org, role="admin")
    db.commit()
    login(client, admin)
    pdf, _truth = setai_ichiran()
    response = client.post(
        "/api/v1/admin/form-drafts", files={"file": ("setai_ichiran.pdf", pdf, "application/pdf")}
    )
    assert response.status_code == 200, response.text
    draft: dict[str, Any] = response.json()
    return draft


def _accept_all(client: TestClient, draft: dict[str, Any]) -> dict[str, Any]:
    layout = dict(draft["layout"], fields=draft["proposals"])
    response = client.put(
        f"/api/v1/admin/form-drafts/{draft['id']}", json={"layout": layout, "proposals": []}
    )
    assert response.status_code == 200, response.text
    saved: dict[str, Any] = response.json()
    return saved


def test_upload_proposes_fields_and_accepting_them_saves_a_valid_layout(
    client: TestClient, db: Session
) -> None:
    """GIVEN a blank table form WHEN uploaded THEN its cells come back as proposals; accepting all saves them."""
    draft = _admin_with_draft(client, db)
    assert draft["code"] == "setai_ichiran"
    assert len(draft["proposals"]) == 19
    assert {p["type"] for p in draft["proposals"]} >= {"postal", "katakana", "date", "phone", "text"}
    saved = _accept_all(client, draft)
    assert len(saved["layout"]["fields"]) == 19 and saved["proposals"] == []
    listed = client.get("/api/v1/admin/form-drafts").json()
    assert [(d["id"], d["fields"], d["proposals"]) for d in listed] == [(draft["id"], 19, 0)]
    page = client.get(f"/api/v1/admin/form-drafts/{draft['id']}/pages/1.png")
    assert page.headers["content-type"] == "image/png"
    assert client.get(f"/admin/forms/drafts/{draft['id']}").status_code == 200


def test_yaml_round_trip_is_byte_stable(client: TestClient, db: Session) -> None:
    """GIVEN a saved draft WHEN exported, re-imported and exported again THEN the YAML bytes are identical."""
    draft = _admin_with_draft(client, db)
    _accept_all(client, draft)
    first = client.get(f"/api/v1/admin/form-drafts/{draft['id']}/yaml")
    assert first.status_code == 200
    layout = load_layout_yaml(first.text)
    assert isinstance(layout, FormLayout) and len(layout.fields) == 19
    assert dump_layout_yaml(layout) == first.text
    imported = client.post(
        f"/api/v1/admin/form-drafts/{draft['id']}/yaml", content=first.text.encode("utf-8")
    )
    assert imported.status_code == 200, imported.text
    second = client.get(f"/api/v1/admin/form-drafts/{draft['id']}/yaml")
    assert second.content == first.content


def test_publishing_twice_unchanged_is_a_no_op_and_a_change_makes_version_two(
    client: TestClient, db: Session
) -> None:
    """GIVEN a published draft WHEN published again unchanged THEN same version; after a box edit THEN v2 and a diff."""
    draft = _admin_with_draft(client, db)
    saved = _accept_all(client, draft)
    url = f"/api/v1/admin/form-drafts/{draft['id']}/publish"
    first = client.post(url).json()
    assert first == {**first, "version": 1, "created": True}
    again = client.post(url).json()
    assert again["version"] == 1 and again["created"] is False
    layout = saved["layout"]
    moved = dict(layout["fields"][0], box=[v + 1 for v in layout["fields"][0]["box"]])
    layout = dict(layout, fields=[moved, *layout["fields"][1:]])
    assert client.put(f"/api/v1/admin/form-drafts/{draft['id']}", json={"layout": layout}).status_code == 200
    assert client.post(url).json()["version"] == 2
    versions = client.get("/api/v1/admin/forms/setai_ichiran/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    diff = client.get("/api/v1/admin/forms/setai_ichiran/diff", params={"old": 1, "new": 2}).json()
    assert [(c["field"], c["change"]) for c in diff["changes"]] == [(moved["name"], "moved")]
    actions = set(db.scalars(select(AuditEvent.action)))
    assert {"form_draft.create", "form_draft.save", "form.publish"} <= actions


def test_an_invalid_edit_is_refused_naming_the_field_in_japanese(client: TestClient, db: Session) -> None:
    """GIVEN an accepted layout WHEN one box is made inside-out THEN 422 naming that field by its label, in Japanese."""
    draft = _admin_with_draft(client, db)
    layout = _accept_all(client, draft)["layout"]
    broken = dict(layout["fields"][2], box=[300, 200, 100, 220])
    response = client.put(
        f"/api/v1/admin/form-drafts/{draft['id']}",
        json={"layout": dict(layout, fields=[*layout["fields"][:2], broken, *layout["fields"][3:]])},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["errors"][0]["field"] == broken["name"]
    assert f"項目「{broken['label']}」" in detail["message"] and "枠の座標" in detail["message"]
    # Nothing was lost: the stored draft still has the valid layout.
    assert client.get(f"/api/v1/admin/form-drafts/{draft['id']}").json()["layout"] == layout


def test_admins_of_another_organisation_cannot_see_or_edit_the_draft(client: TestClient, db: Session) -> None:
    """GIVEN org A's draft and published form WHEN org B's admin asks THEN every editor route answers 404."""
    draft = _admin_with_draft(client, db)
    saved = _accept_all(client, draft)
    client.post(f"/api/v1/admin/form-drafts/{draft['id']}/publish")
    other = make_user(db, make_org(db, "B課"), role="admin")
    reviewer = make_user(db, make_org(db, "C課"), role="reviewer")
    db.commit()
    login(client, other)
    base = f"/api/v1/admin/form-drafts/{draft['id']}"
    for method, url, kwargs in [
        ("get", base, {}),
        ("get", f"{base}/pages/1.png", {}),
        ("get", f"{base}/yaml", {}),
        ("get", f"{base}/check.png", {}),
        ("put", base, {"json": {"layout": saved["layout"]}}),
        ("post", f"{base}/publish", {}),
        ("post", f"{base}/trial", {}),
        ("get", f"/admin/forms/drafts/{draft['id']}", {}),
        ("get", "/api/v1/admin/forms/setai_ichiran/versions", {}),
    ]:
        assert getattr(client, method)(url, **kwargs).status_code == 404, url
    assert client.get("/api/v1/admin/forms").json() == []
    assert client.get("/api/v1/admin/form-drafts").json() == []
    login(client, reviewer)
    assert client.get(base).status_code == 403


def test_a_published_form_opens_as_a_draft_and_publishes_as_the_next_version(
    client: TestClient, db: Session
) -> None:
    """GIVEN version 1 published from the editor WHEN the form is opened again, one label changed and
    published THEN version 2 exists, version 1 keeps its label, and the reopened draft knows the printed rules."""
    draft = _admin_with_draft(client, db)
    _accept_all(client, draft)
    client.post(f"/api/v1/admin/form-drafts/{draft['id']}/publish")
    reopened = client.post("/api/v1/admin/form-drafts/from-form", data={"code": "setai_ichiran"}).json()
    assert reopened["id"] != draft["id"] and len(reopened["layout"]["fields"]) == 19
    assert reopened["snap"]["1"]["x"] and reopened["snap"]["1"]["y"]
    fields = reopened["layout"]["fields"]
    layout = dict(reopened["layout"], fields=[dict(fields[0], label="郵便番号（現住所）"), *fields[1:]])
    assert (
        client.put(f"/api/v1/admin/form-drafts/{reopened['id']}", json={"layout": layout}).status_code == 200
    )
    assert client.post(f"/api/v1/admin/form-drafts/{reopened['id']}/publish").json()["version"] == 2
    diff = client.get("/api/v1/admin/forms/setai_ichiran/diff", params={"old": 1, "new": 2}).json()
    assert [c["change"] for c in diff["changes"]] == ["changed"]
    assert client.post("/api/v1/admin/form-drafts/from-form", data={"code": "nothing"}).status_code == 404


def test_a_two_page_template_gives_proposals_and_pictures_for_both_pages(
    client: TestClient, db: Session
) -> None:
    """GIVEN a two-page blank form with circled options WHEN uploaded THEN page 2 has proposals and a picture,
    circled options come as choice fields with one box per option, and page 3 is 404."""
    from tests.support.blank_forms import kenshin_yoyaku

    org = make_org(db, "健康課")
    admin = make_user(db, org, role="admin")
    db.commit()
    login(client, admin)
    draft = client.post(
        "/api/v1/admin/form-drafts",
        files={"file": ("kenshin_yoyaku.pdf", kenshin_yoyaku()[0], "application/pdf")},
    ).json()
    assert draft["pages"] == 2
    assert {p["name"] for p in draft["proposals"] if p["page"] == 2} == {"remarks", "contact_phone"}
    sex = next(p for p in draft["proposals"] if p["name"] == "sex")
    assert sex["type"] == "choice" and [o["value"] for o in sex["options"]] == ["男", "女"]
    base = f"/api/v1/admin/form-drafts/{draft['id']}"
    assert client.get(f"{base}/pages/2.png").headers["content-type"] == "image/png"
    assert client.get(f"{base}/pages/3.png").status_code == 404
    saved = _accept_all(client, draft)
    assert client.get(f"{base}/check.png").headers["content-type"] == "image/png"
    assert saved["layout"]["pages"] == 2


def test_a_file_that_is_not_a_pdf_is_refused_in_japanese(client: TestClient, db: Session) -> None:
    """GIVEN an admin WHEN a PNG or a broken PDF is uploaded as a template THEN 422 with a Japanese message, no draft."""
    org = make_org(db, "総務課")
    admin = make_user(db, org, role="admin")
    db.commit()
    login(client, admin)
    from tests.support.hostile_pdfs import object_stream_bomb

    for name, data in (
        ("a.png", b"\x89PNG\r\n"),
        ("b.pdf", b"%PDF-1.4 broken"),
        ("c.pdf", object_stream_bomb()),
    ):
        response = client.post("/api/v1/admin/form-drafts", files={"file": (name, data, "application/pdf")})
        assert response.status_code == 422, name
        assert "PDF" in response.json()["detail"]["message"]
    assert client.get("/api/v1/admin/forms").json() == []


def test_the_orphan_sweep_keeps_the_templates_of_drafts(client: TestClient, db: Session, store: Any) -> None:
    """GIVEN a draft WHEN retention's orphan-blob sweep runs with no grace THEN the draft's page still renders."""
    from datetime import UTC, datetime

    from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
    from ocr_service.retention.housekeeping import expire_everything_else

    draft = _admin_with_draft(client, db)
    set_scope(db, SYSTEM_SCOPE)
    expire_everything_else(db, store=store, data_dirs=[], grace_s=0, now=datetime.now(UTC))
    db.commit()
    page = client.get(f"/api/v1/admin/form-drafts/{draft['id']}/pages/1.png")
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
