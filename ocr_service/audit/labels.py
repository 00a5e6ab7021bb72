"""Japanese names of audit actions, for the log review screen and its CSV."""

from __future__ import annotations

ACTION_LABELS = {
    "auth.login": "ログイン",
    "auth.logout": "ログアウト",
    "auth.login_failed": "ログイン失敗",
    "auth.lockout": "アカウントロック",
    "auth.mfa_failed": "多要素認証の失敗",
    "auth.me": "ログイン状態の確認",
    "document.upload": "文書の登録",
    "document.list": "文書一覧の表示",
    "document.view": "文書の閲覧",
    "document.page_view": "ページ画像の閲覧",
    "document.crop_view": "項目画像の閲覧",
    "document.recognized": "読取完了",
    "document.failed": "読取失敗",
    "document.delete": "文書の削除",
    "document.process_local": "コマンドでの読取",
    "review.queue_view": "確認キューの表示",
    "review.field_edit": "項目の修正",
    "review.field_accept": "項目の確認",
    "review.confirm": "文書の確認",
    "review.blind_entry_view": "読み合わせ画面の表示",
    "review.blind_entry": "読み合わせ入力",
    "review.arbitration_view": "裁定画面の表示",
    "review.arbitrate": "裁定",
    "export.csv": "CSV 出力",
    "export.mapping_list": "文字置換表の表示",
    "export.mapping_set": "文字置換の登録",
    "export.mapping_delete": "文字置換の削除",
    "form.list": "様式一覧の表示",
    "form.publish": "様式の公開",
    "org.create": "組織の作成",
    "user.create": "利用者の作成",
    "user.token_create": "API トークンの発行",
    "db.upgrade": "データベース更新",
    "request.refused": "拒否された要求",
    "audit.checkpoint": "操作履歴への署名",
    "audit.verify": "操作履歴の検証",
    "audit.verify_failed": "操作履歴の改ざん検知",
    "audit.review_view": "ログ監査の表示",
    "audit.csv_download": "ログ監査 CSV 出力",
    "report.usage": "利用状況報告の作成",
}
"""Japanese names of the actions, for the screen and the CSV (the code stays beside them)."""


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)
