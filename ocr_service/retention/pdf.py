"""The Japanese PDF of a deletion certificate (削除証明書), rendered from the signed JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

_IPAEX = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)


def _font() -> str:
    if "IPAexGothic" in pdfmetrics.getRegisteredFontNames():
        return "IPAexGothic"
    for path in _IPAEX:
        if path.is_file():
            pdfmetrics.registerFont(TTFont("IPAexGothic", str(path)))
            return "IPAexGothic"
    # Built into reportlab (the viewer supplies the glyphs): still Japanese without the font package.
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    return "HeiseiKakuGo-W5"


def certificate_pdf(document_json: str) -> bytes:
    signed: dict[str, Any] = json.loads(document_json)
    body = signed["certificate"]
    font = _font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"削除証明書 {body['certificate_id']}")
    _width, height = A4
    y = height - 25 * mm

    def line(text: str, size: float = 9.5, gap: float = 5.5) -> None:
        nonlocal y
        if y < 20 * mm:
            pdf.showPage()
            y = height - 20 * mm
        pdf.setFont(font, size)
        pdf.drawString(18 * mm, y, text)
        y -= gap * mm

    line("削除証明書", 18, 11)
    line(f"証明書番号：{body['certificate_id']}")
    line(f"組織：{body['organisation']['name']}（ID {body['organisation']['id']}）")
    line(f"発行日時（UTC）：{body['issued_at']}")
    line(f"契機：{body['trigger']['label_ja']}（{body['trigger']['by']}）")
    if body.get("retention_days"):
        line(f"保存期間：アップロードから {body['retention_days']} 日")
    line(f"削除方法：{body['method']['ja']}")
    line(f"　　　　　{body['method']['standard']}")
    line("削除後の確認：鍵の不存在・暗号化ファイルの不存在・文字データ行の不存在を文書ごとに検査", gap=8)
    line(f"削除した文書（{len(body['documents'])} 件）", 11, 7)
    for index, doc in enumerate(body["documents"], start=1):
        check = doc["verification"]
        ok = (
            "確認済"
            if check["key_absent"] and check["blobs_absent"] and not check["text_rows_remaining"]
            else "不一致"
        )
        line(
            f"{index}. 文書ID {doc['document_id']}　様式 {doc['form_code']} 第{doc['form_version']}版　{doc['page_count']} ページ"
        )
        line(f"　 SHA-256 {doc['sha256']}", 8)
        line(f"　 取込 {doc['uploaded_at']}　出力 {doc['exported_at'] or '—'}　削除 {doc['deleted_at']}", 8)
        line(
            f"　 検査：鍵なし・ファイル {check['blobs_checked']} 件なし・文字データ {check['text_rows_remaining']} 行 → {ok}",
            8,
            7,
        )
    line("", gap=4)
    head = body.get("audit_head")
    if head:
        line(f"操作履歴の署名：通番 {head['seq']} まで（ハッシュ {head['hash'][:16]}…）", 8.5)
    line(f"署名：Ed25519（鍵ID {signed['key_id']}）。検証：ocr-service retention verify 証明書.json", 8.5)
    line("署名値（Base64）：", 8.5, 4.5)
    signature = signed["signature"]
    for start in range(0, len(signature), 90):
        line(signature[start : start + 90], 7.5, 4)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
