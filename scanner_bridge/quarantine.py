"""The Japanese note left beside a refused file: what happened and what to do now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")

_WHAT_TO_DO = {
    "not_pdf": "PDF または画像（TIFF・JPEG・PNG）で保存し直して、スキャン先フォルダに入れてください。",
    "encrypted": "PDF のパスワードを外してから、スキャン先フォルダに入れ直してください。",
    "too_large": "ファイルを分割するか解像度を下げてスキャンし直し、スキャン先フォルダに入れてください。",
    "too_many_pages": "ファイルを分割して、スキャン先フォルダに入れ直してください。",
    "truncated": "ファイルが途中で切れています。もう一度スキャンしてください。",
    "corrupt": "ファイルが壊れています。もう一度スキャンしてください。",
    "corrupt_image": "画像ファイルが壊れています。もう一度スキャンしてください。",
    "empty": "空のファイルです。もう一度スキャンしてください。",
    "unknown_form": "このフォルダに設定された様式コードがサーバーに登録されていません。管理者に連絡してください。",
    "no_forms": "サーバーに様式が登録されていません。管理者に連絡してください。",
}
_DEFAULT = "内容を確認し、問題を解消してからスキャン先フォルダに入れ直してください。"


def quarantine_note(*, name: str, folder: str, code: str, message: str, sha256: str) -> bytes:
    """UTF-8 with BOM and CRLF, so every Windows Notepad shows it correctly."""
    lines = [
        "このファイルはサーバーに取り込まれませんでした（隔離）。",
        "",
        f"ファイル名: {name}",
        f"スキャン先フォルダ: {folder}",
        f"日時: {datetime.now(JST).strftime('%Y-%m-%d %H:%M')}",
        f"理由: {message}（{code}）",
        f"対処: {_WHAT_TO_DO.get(code, _DEFAULT)}",
        "",
        "直したファイルをスキャン先フォルダに入れると、改めて送信されます。",
        "このファイルと説明書きは、不要になったら削除してください。",
        f"SHA-256: {sha256}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")
