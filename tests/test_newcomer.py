"""What a newcomer hits first: CLI commands on a fresh data dir, and broken layout files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocr_service.forms.loader import LayoutError, load_layout_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "form_definitions" / "nyuyoji_kenshin"


def _cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env["OCR_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "ocr_service.cli.main", *args],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_forms_import_on_a_fresh_data_dir_says_what_to_do_instead_of_a_traceback(tmp_path: Path) -> None:
    """GIVEN a data dir that does not exist WHEN `forms import` runs THEN the embedded database is created
    and migrated, and the command ends with one clear line (no organisation yet), not a traceback;
    after `org create` and `user create` the same import publishes the form."""
    data = tmp_path / "var"
    first = _cli(["forms", "import", str(SAMPLE / "form.yaml")], data)
    assert first.returncode != 0
    assert "Traceback" not in first.stderr + first.stdout and "unable to open" not in first.stderr
    assert "ocr-service org create" in " ".join(first.stderr.split())
    assert (data / "ocr.sqlite3").is_file()
    script = (
        "from ocr_service.cli.main import app\n"
        "import sys\n"
        "for args in (['org', 'create', '市民課'], ['user', 'create', 'taro', '--org', '市民課', '--role', 'admin',"
        " '--password', 'a-long-password-2026'], ['forms', 'import', sys.argv[1]]):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exc:\n"
        "        if exc.code: raise\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env["OCR_DATA_DIR"] = str(data)
    done = subprocess.run(
        [sys.executable, "-c", script, str(SAMPLE / "form.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_layout_cut_mid_utf8_gives_a_clean_message(tmp_path: Path) -> None:
    """GIVEN a form.yaml cut in the middle of a multi-byte character WHEN loaded THEN a LayoutError
    names the file and says it is not valid UTF-8 (no UnicodeDecodeError escapes)."""
    data = (SAMPLE / "form.yaml").read_bytes()
    cut = data.index("氏名".encode()) + 1
    (tmp_path / "form.yaml").write_bytes(data[:cut])
    (tmp_path / "template.pdf").write_bytes((SAMPLE / "template.pdf").read_bytes())
    with pytest.raises(LayoutError, match="not valid UTF-8"):
        load_layout_file(tmp_path / "form.yaml")


def test_layout_errors_list_every_problem(tmp_path: Path) -> None:
    """GIVEN a layout with a box off the page, a duplicate name and a field on a missing page
    WHEN loaded THEN one error lists all three problems."""
    (tmp_path / "template.pdf").write_bytes((SAMPLE / "template.pdf").read_bytes())
    (tmp_path / "form.yaml").write_text(
        "code: bad\ntitle: 不正\nfields:\n"
        "  - {name: a, label: A, box: [10, 10, 900, 20]}\n"
        "  - {name: a, label: A2, box: [10, 30, 50, 40], page: 3}\n",
        encoding="utf-8",
    )
    with pytest.raises(LayoutError) as caught:
        load_layout_file(tmp_path / "form.yaml")
    message = str(caught.value)
    assert "outside the page" in message and "defined twice" in message and "page 3" in message


def test_migrations_form_one_chain() -> None:
    """GIVEN the Alembic versions of every merged feature THEN they form one chain with a single head
    (two heads make `ocr-service up` and every test database fail)."""
    from alembic.script import ScriptDirectory

    from ocr_service.db.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1
