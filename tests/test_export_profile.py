"""CSV export profiles: encodings, line endings, quoting, dates, widths, representability and its policy."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.db.base import new_id
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.documents.processing import ensure_pages, save_page_reading
from ocr_service.export.dates import format_date, parse_japanese_date
from ocr_service.export.text import apply_width
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import create_document_key
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes
from tests.helpers import make_confirmed_document, make_recognized_document, png
from workers.pipeline.types import FieldReading, PageReading

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "label": "氏名", "box": [100, 100, 300, 130]},
    {
        "name": "kana",
        "label": "フリガナ",
        "box": [100, 140, 300, 170],
        "type": "katakana",
        "csv_column": "カナ",
    },
    {"name": "born", "label": "生年月日", "box": [100, 180, 300, 210], "type": "date"},
]


def profile_layout(export: dict[str, Any], code: str = "prof", pages: int = 1) -> LayoutSource:
    fields: list[dict[str, Any]] = [dict(f) for f in FIELDS]
    if pages == 2:
        fields[2]["page"] = 2
    layout = FormLayout.model_validate(
        {"code": code, "title": "出力様式", "pages": pages, "fields": fields, "export": export}
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(pages), origin=Path("test"))


def _export(client: TestClient, code: str = "prof") -> Any:
    return client.post(f"/api/v1/forms/{code}/export.csv")


def _setup(
    db: Session, store: BlobStore, export: dict[str, Any], values: dict[str, str | bool]
) -> tuple[Any, Document]:
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, profile_layout(export))
    document = make_confirmed_document(db, user=user, form=form, store=store, values=values)
    db.commit()
    return user, document


def test_dates_parse_from_wareki_and_seireki_and_format_both_ways() -> None:
    """GIVEN dates as written on forms WHEN parsed and formatted THEN the same day in either style."""
    for text in ("令和7年5月12日", "R7.5.12", "2025/05/12", "2025-5-12", "２０２５年５月１２日", "20250512"):
        assert parse_japanese_date(text) == date(2025, 5, 12), text
    assert parse_japanese_date("平成31年5月1日") is None  # after 平成 ended: confirmation refuses it too
    assert parse_japanese_date("令和元年4月30日") is None  # before 令和 began
    assert parse_japanese_date("令和元年5月1日") == date(2019, 5, 1)
    assert parse_japanese_date("2025/02/30") is None
    day = date(2019, 5, 1)
    assert format_date(day, style="wareki", zero_pad=True) == "令和01年05月01日"
    assert format_date(day, style="wareki", zero_pad=False) == "令和1年5月1日"
    assert format_date(date(1989, 1, 7), style="wareki", zero_pad=False) == "昭和64年1月7日"
    assert format_date(day, style="seireki", separator="-", zero_pad=False) == "2019-5-1"


def test_width_rules() -> None:
    """GIVEN mixed-width text WHEN the half or full rule applies THEN letters, digits, spaces and kana convert."""
    assert apply_width("ヤマダ　タロウ１２Ａ", "half") == "ﾔﾏﾀﾞ ﾀﾛｳ12A"
    assert apply_width("ﾔﾏﾀﾞ ﾊﾟﾝ 12", "full") == "ヤマダ　パン　１２"
    assert apply_width("ヤマダ", "keep") == "ヤマダ"


def test_profile_shapes_the_file(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN a profile with own column order and headers, UTF-8 with BOM, LF, quote-all, 和暦 unpadded, half width
    WHEN exported THEN the bytes follow every rule."""
    export = {
        "columns": [
            {"field": "born", "header": "生年月日（和暦）"},
            {"field": "kana"},
            {"field": "$document_id", "header": "ID"},
        ],
        "encoding": "utf-8-sig",
        "line_ending": "lf",
        "quoting": "all",
        "date_style": "wareki",
        "zero_pad": False,
        "width": "half",
    }
    user, document = _setup(
        db, store, export, {"name": "山田", "kana": "ヤマダ　タロウ", "born": "2025/05/12"}
    )
    login(client, user)
    response = _export(client)
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf") and b"\r\n" not in response.content
    assert (
        response.content.decode("utf-8-sig")
        == f'"生年月日（和暦）","カナ","ID"\n"令和7年5月12日","ﾔﾏﾀﾞ ﾀﾛｳ","{document.id}"\n'
    )


def test_default_profile_is_cp932_crlf_seireki_and_marks_exported(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a confirmed and a merely recognised document WHEN exported with the default profile
    THEN only the confirmed one is in the CP932/CRLF file with a zero-padded 西暦 date; it becomes 出力済,
    the export is audited (who, form, rows), and a second export has no rows."""
    user, document = _setup(db, store, {}, {"name": "髙橋", "kana": "タカハシ", "born": "令和7年5月2日"})
    set_scope(db, SYSTEM_SCOPE)
    form = db.get_one(FormDefinition, document.form_id)
    pending = make_recognized_document(db, user=user, form=form, store=store, values={"name": "未確認"})
    db.commit()
    login(client, user)
    response = _export(client)
    assert response.status_code == 200
    text = response.content.decode("cp932")
    assert text == f"文書ID,氏名,カナ,生年月日\r\n{document.id},髙橋,タカハシ,2025/05/02\r\n"
    assert pending.id not in text
    db.expire_all()
    assert db.get_one(Document, document.id).status == "exported"
    assert db.get_one(Document, pending.id).status == "recognized"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "export.csv"))
    assert event is not None and event.user_id == user.id
    assert event.detail["rows"] == 1 and event.detail["form"] == "prof@v1"
    assert _export(client).content.decode("cp932") == "文書ID,氏名,カナ,生年月日\r\n"


@pytest.mark.parametrize(
    ("encoding", "value", "bad"),
    [("shift_jis", "髙﨑", "髙"), ("cp932", "𠮷野", "𠮷"), ("shift_jis", "𠮷野", "𠮷")],
)
def test_unrepresentable_values_are_refused_naming_document_and_field(
    client: TestClient, db: Session, store: BlobStore, encoding: str, value: str, bad: str
) -> None:
    """GIVEN a value its encoding cannot hold WHEN exported with policy refuse
    THEN 422 naming document, field and character; no file, and the document stays 確認済."""
    user, document = _setup(db, store, {"encoding": encoding}, {"name": value})
    login(client, user)
    response = _export(client)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "unencodable"
    assert document.id in detail["message"] and "氏名" in detail["message"] and bad in detail["message"]
    assert {p["document"] for p in detail["problems"]} == {document.id}
    db.expire_all()
    assert db.get_one(Document, document.id).status == "confirmed"


def test_cp932_holds_ibm_extensions_that_strict_shift_jis_refuses(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN 髙﨑 and a wave dash WHEN exported as CP932 THEN written (〜 as CP932's ～), never as '?'."""
    user, document = _setup(db, store, {}, {"name": "髙﨑", "kana": "〜"})
    login(client, user)
    response = _export(client)
    assert response.status_code == 200
    assert f"{document.id},髙﨑,～," in response.content.decode("cp932")
    assert b"?" not in response.content


def test_replace_policy_uses_the_admins_mapping_table(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN policy replace and strict Shift_JIS WHEN a character has no mapping THEN refused as before;
    after the admin maps 髙→高 and 𠮷→吉 (a reviewer may not, and '?' is refused) THEN the export replaces them."""
    user, document = _setup(
        db, store, {"encoding": "shift_jis", "unrepresentable": "replace"}, {"name": "髙𠮷"}
    )
    admin = make_user(db, db.get_one(Organisation, user.org_id), role="admin")
    db.commit()
    login(client, user)
    assert _export(client).status_code == 422
    assert (
        client.put("/api/v1/export/char-mappings", json={"source": "髙", "replacement": "高"}).status_code
        == 403
    )
    login(client, admin)
    assert (
        client.put("/api/v1/export/char-mappings", json={"source": "髙", "replacement": "?"}).status_code
        == 422
    )
    assert (
        client.put("/api/v1/export/char-mappings", json={"source": "髙", "replacement": "高"}).status_code
        == 200
    )
    partial = _export(client)
    assert partial.status_code == 422 and "𠮷" in partial.json()["detail"]["message"]
    assert "髙" not in partial.json()["detail"]["message"]
    assert (
        client.put("/api/v1/export/char-mappings", json={"source": "𠮷", "replacement": "吉"}).status_code
        == 200
    )
    response = _export(client)
    assert response.status_code == 200
    assert response.content.decode("shift_jis").split("\r\n")[1] == f"{document.id},高吉,,"
    assert [m["source"] for m in client.get("/api/v1/export/char-mappings").json()] == sorted(["髙", "𠮷"])


def test_multi_page_form_is_one_row(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN a two-page form whose date field is on page 2 WHEN its confirmed document is exported
    THEN one row holds the values of both pages."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, profile_layout({}, code="two", pages=2))
    set_scope(db, SYSTEM_SCOPE)
    document_id = new_id()
    document = Document(
        id=document_id,
        org_id=org.id,
        form_id=form.id,
        uploaded_by=user.id,
        sha256="0" * 64,
        size_bytes=1,
        page_count=2,
        blob_key=store.put(pdf_bytes(2), dek=create_document_key(db, document_id=document_id)),
        status="processing",
    )
    db.add(document)
    db.flush()
    first, second = ensure_pages(db, document=document, layout_pages=2)
    for page, fields in ((first, {"name": "山田", "kana": "ヤマダ"}), (second, {"born": "R7.1.9"})):
        readings = [FieldReading(name=k, value=v, confidence=0.99, crop_png=png()) for k, v in fields.items()]
        reading = PageReading(page_no=page.page_no, status="ok", fields=readings)
        save_page_reading(db, page=page, reading=reading, page_png=png(), store=store)
    document.status = "confirmed"
    db.commit()
    login(client, user)
    lines = _export(client, "two").content.decode("cp932").split("\r\n")
    assert lines[1:] == [f"{document.id},山田,ヤマダ,2025/01/09", ""]


def test_export_columns_must_name_fields_of_the_form() -> None:
    """GIVEN an export profile naming a field the form does not have WHEN the layout is loaded THEN refused."""
    with pytest.raises(ValueError, match="unknown fields: \\['nickname'\\]"):
        profile_layout({"columns": [{"field": "nickname"}]})


def test_variation_selector_is_reported_by_code_point_and_may_be_mapped_to_nothing(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN 葛󠄀飾 with an ideographic variation selector WHEN exported as CP932 THEN refused naming U+E0100;
    after the admin maps the selector to an empty string THEN 葛飾 is written."""
    user, document = _setup(db, store, {"unrepresentable": "replace"}, {"name": "葛\U000e0100飾"})
    admin = make_user(db, db.get_one(Organisation, user.org_id), role="admin")
    db.commit()
    login(client, admin)
    refused = _export(client)
    assert refused.status_code == 422 and "U+E0100" in refused.json()["detail"]["message"]
    assert client.put("/api/v1/export/char-mappings", json={"source": "\U000e0100", "replacement": ""}).is_success
    assert f"{document.id},葛飾,," in _export(client).content.decode("cp932")
