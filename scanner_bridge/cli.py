"""``scanner-bridge run | check | status`` (also ``python -m scanner_bridge``)."""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path

from scanner_bridge import __version__
from scanner_bridge.checks import run_checks
from scanner_bridge.client import ServerClient
from scanner_bridge.config import BridgeConfig, ConfigError, load_config, read_token
from scanner_bridge.daemon import Bridge
from scanner_bridge.journal import Journal
from scanner_bridge.probe import default_probe


def _default_config_path() -> Path | None:
    if os.environ.get("BRIDGE_CONFIG"):
        return Path(os.environ["BRIDGE_CONFIG"])
    if os.name == "nt":
        candidate = Path(os.environ.get("PROGRAMDATA", "C:/ProgramData")) / "scanner-bridge" / "bridge.toml"
    else:
        candidate = Path("/etc/scanner-bridge/bridge.toml")
    return candidate if candidate.exists() else None


def _setup_logging(config: BridgeConfig, verbose: bool) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if config.log_file is not None:
        config.log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                config.log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
            )
        )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )


def _load(args: argparse.Namespace) -> BridgeConfig | None:
    try:
        return load_config(args.config or _default_config_path())
    except ConfigError as exc:
        for line in exc.problems:
            print(f"NG: {line}")
        return None


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    try:
        token = read_token(config.token_file)
    except ConfigError as exc:
        print(f"NG: {exc.problems[0]}")
        return 2
    except OSError as exc:
        print(f"NG: トークンファイル {config.token_file} を読み取れません: {exc.strerror or exc}")
        return 2
    _setup_logging(config, args.verbose)
    stop = threading.Event()

    def _stop(*_args: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # NSSM / WinSW stop a Windows service with Ctrl+C
    bridge = Bridge(config, client=ServerClient(config, token), probe=default_probe())
    bridge.run(stop)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 1
    problems = run_checks(config)
    for line in problems:
        print(f"NG: {line}")
    if not problems:
        print(f"OK: 設定・サーバー（{config.server_url}）・トークン・フォルダに問題はありません。")
    return 1 if problems else 0


def cmd_status(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 1
    try:
        status = json.loads(config.status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    fates: dict[str, int] = {}
    for record in Journal(config.journal_path).fates().values():
        fate = str(record.get("fate", "queued"))
        fates[fate] = fates.get(fate, 0) + 1
    spooled = len(list(config.spool_dir.glob("*.json"))) if config.spool_dir.exists() else 0
    summary = {
        "name": config.name,
        "version": __version__,
        "queued": spooled,
        "quarantined": len(list(config.quarantine_path.glob("*.txt")))
        if config.quarantine_path.exists()
        else 0,
        "fates": fates,
        "last_success_at": status.get("last_success_at"),
        "last_error": status.get("last_error"),
        "last_error_at": status.get("last_error_at"),
        "status_updated_at": status.get("updated_at"),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(f"ブリッジ: {config.name}（scanner-bridge {__version__}）")
    print(f"送信待ち: {spooled} 件　隔離: {summary['quarantined']} 件　記録: {fates}")
    print(f"最終成功: {summary['last_success_at'] or 'なし'}")
    print(f"最終エラー: {summary['last_error'] or 'なし'} {summary['last_error_at'] or ''}".rstrip())
    print(f"状態ファイル更新: {summary['status_updated_at'] or '（まだ起動していません）'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scanner-bridge", description="Scanner PC → OCR service bridge.")
    parser.add_argument("--version", action="version", version=f"scanner-bridge {__version__}")
    parser.add_argument("--config", "-c", type=Path, default=None, help="TOML file (default: BRIDGE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="watch the hot folders and upload (service mode)")
    run.add_argument("--verbose", "-v", action="store_true")
    run.set_defaults(func=cmd_run)
    sub.add_parser("check", help="check configuration, server, token and folders").set_defaults(
        func=cmd_check
    )
    status = sub.add_parser("status", help="queued / quarantined files, last success and error")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")  # Japanese lines on a cp932 Windows console
    code: int = args.func(args)
    return code
