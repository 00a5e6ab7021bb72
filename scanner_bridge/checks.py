"""``scanner-bridge check``: configuration, server, TLS, token and folders, one Japanese line per problem."""

from __future__ import annotations

import os
import ssl
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from scanner_bridge.client import ServerClient, TransportError, ssl_context
from scanner_bridge.config import BridgeConfig, ConfigError, read_token


def _check_url(config: BridgeConfig) -> list[str]:
    parts = urlsplit(config.server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            f"サーバー URL「{config.server_url}」が正しくありません（https://ホスト名 の形で指定してください）。"
        ]
    if config.ca_bundle is not None:
        try:
            ssl_context(config.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            return [
                f"CA バンドル {config.ca_bundle} を読み込めません（PEM 形式の証明書ファイルを指定してください）: {exc}"
            ]
    return []


def _check_server(config: BridgeConfig) -> list[str]:
    try:
        answer = ServerClient(config, token=None).healthz()
    except TransportError as exc:
        if exc.tls:
            return [
                f"サーバー {config.server_url} の証明書を検証できません"
                f"（CA バンドル {config.ca_bundle or '（システム既定）'} がこのサーバーの認証局か確認してください）: {exc}"
            ]
        return [
            f"サーバー {config.server_url} に接続できません（URL・ネットワーク・プロキシを確認してください）: {exc}"
        ]
    if answer.status != 200 or answer.body.get("status") != "ok":
        return [
            f"サーバー URL {config.server_url} は OCR サービスではありません（/healthz が HTTP {answer.status}）。"
        ]
    return []


def _check_token(config: BridgeConfig, *, server_ok: bool) -> list[str]:
    try:
        token = read_token(config.token_file)
    except ConfigError as exc:
        return exc.problems
    except OSError as exc:
        return [f"トークンファイル {config.token_file} を読み取れません: {exc.strerror or exc}"]
    if not server_ok:
        return []  # cannot judge the token without the server; the server line already says why
    try:
        answer = ServerClient(config, token=token).whoami()
    except TransportError as exc:
        return [f"トークンを確認できません（サーバーとの通信に失敗しました）: {exc}"]
    if answer.status == 401:
        return [
            "トークンが無効か失効しています（管理者に ocr-service user token で再発行を依頼してください）。"
        ]
    if answer.status == 403:
        return ["トークンの利用者に取り込み（operator）の権限がありません。"]
    if answer.status != 200:
        return [f"トークンを確認できません（HTTP {answer.status}）。"]
    return _check_form_codes(config, ServerClient(config, token=token))


def _check_form_codes(config: BridgeConfig, client: ServerClient) -> list[str]:
    """A folder mapped to a form the server does not know would send every scan to the quarantine."""
    wanted = [folder for folder in config.hot_folders if folder.form_code]
    if not wanted:
        return []
    try:
        answer = client.forms()
    except TransportError as exc:
        return [f"様式の一覧を取得できません: {exc}"]
    known = {str(item.get("code")) for item in answer.body.get("items", []) if isinstance(item, dict)}
    return [
        f"スキャン先フォルダ {folder.path} の様式コード「{folder.form_code}」はサーバーに登録されていません。"
        for folder in wanted
        if folder.form_code not in known
    ]


def _check_writable(folder: Path, label: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return [f"{label} {folder} がありません。"]
    except NotADirectoryError:
        return [f"{label} {folder} はフォルダではないため読み取れません。"]
    except OSError as exc:
        return [f"{label} {folder} を読み取れません: {exc.strerror or exc}"]
    del names
    probe = folder / f".scanner-bridge-check-{uuid.uuid4().hex[:8]}.tmp"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return [
            f"{label} {folder} に書き込めません（取り込んだファイルを移動するため変更の権限が必要です）: {exc.strerror or exc}"
        ]
    return []


def _check_folders(config: BridgeConfig) -> list[str]:
    problems: list[str] = []
    for folder in config.hot_folders:
        problems += _check_writable(folder.path, "スキャン先フォルダ")
    for path, label in (
        (config.state_dir, "作業フォルダ（state_dir）"),
        (config.spool_dir, "スプールフォルダ"),
        (config.quarantine_path, "隔離フォルダ"),
    ):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problems.append(f"{label} {path} を作成できません: {exc.strerror or exc}")
            continue
        problems += _check_writable(path, label)
    return problems


def run_checks(config: BridgeConfig) -> list[str]:
    """Every problem found, one Japanese line each; an empty list means ready to run."""
    problems = _check_url(config)
    server_problems = _check_server(config) if not problems else []
    problems += server_problems
    problems += _check_token(config, server_ok=not problems)
    problems += _check_folders(config)
    return problems
