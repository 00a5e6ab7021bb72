"""Configuration: TOML, BRIDGE_* overrides, Windows paths, Japanese problems, the token file."""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

import pytest

from scanner_bridge.config import ENV_KEYS, SCALAR_KEYS, ConfigError, load_config, read_token

TOML = """
server_url = "https://ocr.example.lg.jp"
token_file = 'C:\\ProgramData\\scanner-bridge\\token.txt'
state_dir = "C:/ProgramData/scanner-bridge"
name = "健康課スキャナー1"
poll_interval_s = 1.5
stable_polls = 4

[[hot_folders]]
path = 'D:\\Scan\\乳幼児健診'
form_code = "nyuyoji_kenshin"

[[hot_folders]]
path = '\\\\fileserver\\scan\\その他'
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_with_windows_paths_keeps_them_verbatim(tmp_path: Path) -> None:
    """GIVEN a TOML with drive-letter and UNC hot folders WHEN loaded THEN each path is exactly what
    Windows will open (drive, share, Japanese folder names), and the form code belongs to its folder."""
    config = load_config(_write(tmp_path, TOML), env={})
    first, second = config.hot_folders
    assert PureWindowsPath(str(first.path)).parts == ("D:\\", "Scan", "乳幼児健診")
    assert first.form_code == "nyuyoji_kenshin" and second.form_code is None
    unc = PureWindowsPath(str(second.path))
    assert unc.drive == "\\\\fileserver\\scan" and unc.name == "その他"
    assert PureWindowsPath(str(config.token_file)).name == "token.txt"
    assert config.poll_interval_s == 1.5 and config.stable_polls == 4 and config.name == "健康課スキャナー1"


def test_every_scalar_key_has_an_environment_override(tmp_path: Path) -> None:
    """GIVEN BRIDGE_* variables WHEN loaded THEN they win over the file; BRIDGE_HOT_FOLDER replaces the folders."""
    assert {f"BRIDGE_{key.upper()}" for key in SCALAR_KEYS} <= ENV_KEYS
    env = {
        "BRIDGE_SERVER_URL": "http://127.0.0.1:9",
        "BRIDGE_POLL_INTERVAL_S": "0.25",
        "BRIDGE_STABLE_POLLS": "2",
        "BRIDGE_CA_BUNDLE": "/etc/ssl/lgwan.pem",
        "BRIDGE_PROXY": "http://proxy:8080",
        "BRIDGE_HOT_FOLDER": "/srv/scan",
        "BRIDGE_FORM_CODE": "kenshin",
        "BRIDGE_IGNORE_PATTERNS": "*.tmp, *.part",
    }
    config = load_config(_write(tmp_path, TOML), env=env)
    assert config.server_url == "http://127.0.0.1:9" and config.poll_interval_s == 0.25
    assert config.stable_polls == 2 and config.ca_bundle == Path("/etc/ssl/lgwan.pem")
    assert config.proxy == "http://proxy:8080"
    assert [(str(f.path), f.form_code) for f in config.hot_folders] == [("/srv/scan", "kenshin")]
    assert config.ignore_patterns == ("*.tmp", "*.part")


def test_environment_alone_is_enough(tmp_path: Path) -> None:
    """GIVEN no file (docker-compose) WHEN the three required variables are set THEN the config loads."""
    env = {
        "BRIDGE_SERVER_URL": "http://api:8000",
        "BRIDGE_TOKEN_FILE": "/run/secrets/t",
        "BRIDGE_HOT_FOLDER": "/in",
    }
    config = load_config(None, env=env)
    assert config.spool_dir.parent == config.state_dir


def test_problems_are_listed_one_japanese_line_each(tmp_path: Path) -> None:
    """GIVEN a file missing the URL and folders, with a typo'd key and a bad number THEN one line per problem."""
    path = _write(tmp_path, 'token_file = "t"\npoll_intervall_s = 2\nstable_polls = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert any("poll_intervall_s" in p for p in problems)
    assert any("stable_polls" in p for p in problems)
    assert any("サーバー URL" in p for p in problems) and any("スキャン先フォルダ" in p for p in problems)


def test_backslashes_in_double_quotes_get_a_hint(tmp_path: Path) -> None:
    """GIVEN path = "D:\\Scan" in double quotes (a TOML escape error) THEN the message says how to write it."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, 'server_url = "x"\n[[hot_folders]]\npath = "D:\\Scan"\n'), env={})
    assert "単引用符" in caught.value.problems[0]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_token_file_must_be_private_and_not_empty(tmp_path: Path) -> None:
    """GIVEN a token file readable by others, or empty THEN refused; a 0600 file gives the stripped token."""
    token = tmp_path / "token"
    token.write_text("ocrt_secret\n", encoding="utf-8")
    token.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        read_token(token)
    assert "chmod 600" in caught.value.problems[0]
    token.chmod(0o600)
    assert read_token(token) == "ocrt_secret"
    token.write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError):
        read_token(token)


def test_the_shipped_example_and_unit_file_are_usable() -> None:
    """GIVEN the example TOML (Windows paths) and the systemd unit THEN the example loads as is and the
    unit runs `scanner-bridge run` with a `check` before it."""
    here = Path(__file__).resolve().parent.parent
    config = load_config(here / "bridge.example.toml", env={})
    assert [f.form_code for f in config.hot_folders] == ["nyuyoji_kenshin", None]
    assert PureWindowsPath(str(config.hot_folders[0].path)).parts == ("D:\\", "Scan", "乳幼児健診")
    unit = (here / "scanner-bridge.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/scanner-bridge/bin/scanner-bridge run" in unit and "ExecStartPre=" in unit
