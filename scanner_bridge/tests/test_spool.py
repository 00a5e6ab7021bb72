"""The spool never loses a file and never takes one twice, whatever step a crash or a full disk hit."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from scanner_bridge import fsops
from scanner_bridge.config import HotFolder
from scanner_bridge.journal import Journal
from scanner_bridge.spool import Spool, SpoolEntry


@pytest.fixture()
def hot(tmp_path: Path) -> HotFolder:
    folder = tmp_path / "hot"
    folder.mkdir()
    return HotFolder(folder, "kenshin")


@pytest.fixture()
def spool(tmp_path: Path) -> Spool:
    return Spool(
        spool_dir=tmp_path / "spool", quarantine_dir=tmp_path / "q", journal=Journal(tmp_path / "j.jsonl")
    )


def _scan(hot: HotFolder, name: str = "申請書.pdf", data: bytes = b"%PDF-1.4 scan") -> Path:
    path = hot.path / name
    path.write_bytes(data)
    return path


def test_take_moves_hashes_and_journals(spool: Spool, hot: HotFolder) -> None:
    source = _scan(hot)
    entry = spool.take(source, hot)
    assert not source.exists() and spool.data_path(entry).read_bytes() == b"%PDF-1.4 scan"
    assert entry.sha256 == hashlib.sha256(b"%PDF-1.4 scan").hexdigest() and entry.size == 13
    assert [e.id for e in spool.pending()] == [entry.id]
    (taken,) = spool.journal.records()
    assert taken["event"] == "taken" and taken["name"] == "申請書.pdf" and taken["form_code"] == "kenshin"
    assert taken["folder"] == str(hot.path) and taken["sha256"] == entry.sha256


def test_pending_keeps_the_order_files_were_taken(spool: Spool, hot: HotFolder) -> None:
    ids = [spool.take(_scan(hot, f"{i}.pdf", bytes([i])), hot).id for i in range(5)]
    assert [e.id for e in spool.pending()] == ids


def test_across_volumes_the_file_is_copied_then_deleted(
    spool: Spool, hot: HotFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the spool on another volume (rename answers EXDEV) WHEN taking THEN copy, sync, delete source."""
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).parent == hot.path:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    source = _scan(hot)
    entry = spool.take(source, hot)
    assert not source.exists() and spool.data_path(entry).read_bytes() == b"%PDF-1.4 scan"
    assert not list(spool.dir.glob("*.part"))


def test_a_full_disk_leaves_the_file_in_the_hot_folder(
    spool: Spool, hot: HotFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the disk is full (ENOSPC on the first state write) WHEN taking THEN the error surfaces, the
    scan is untouched in the hot folder and the spool is empty."""

    def full(_path: Path, _data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsops, "write_atomic", full)
    source = _scan(hot)
    with pytest.raises(OSError):
        spool.take(source, hot)
    assert source.read_bytes() == b"%PDF-1.4 scan" and list(spool.dir.iterdir()) == []


def _crashed(spool: Spool, hot: HotFolder, *, moved: bool, keep_source: bool) -> tuple[SpoolEntry, Path]:
    """A spool as a kill -9 leaves it in the middle of taking ``source``."""
    source = _scan(hot)
    entry = SpoolEntry(
        id="00000000000000000001-0000-00001",
        name=source.name,
        folder=str(hot.path),
        source=str(source),
        form_code=None,
    )
    (spool.dir / f"{entry.id}.json").write_text(json.dumps(entry.__dict__), encoding="utf-8")
    if moved:
        spool.data_path(entry).write_bytes(source.read_bytes())
        if not keep_source:
            source.unlink()
    return entry, source


def test_recover_undoes_a_take_that_never_moved(spool: Spool, hot: HotFolder) -> None:
    _entry, source = _crashed(spool, hot, moved=False, keep_source=True)
    spool.recover()
    assert source.exists() and list(spool.dir.iterdir()) == []


@pytest.mark.parametrize("keep_source", [True, False])
def test_recover_finishes_a_take_that_moved(spool: Spool, hot: HotFolder, keep_source: bool) -> None:
    """GIVEN a crash after the copy (source still there) or after the rename THEN exactly one copy remains,
    queued in the spool with its hash journaled."""
    entry, source = _crashed(spool, hot, moved=True, keep_source=keep_source)
    spool.recover()
    assert not source.exists()
    (pending,) = spool.pending()
    assert pending.id == entry.id and pending.sha256 == hashlib.sha256(b"%PDF-1.4 scan").hexdigest()
    assert [r["event"] for r in spool.journal.records()] == ["taken", "recovered"]


def test_recover_keeps_both_when_the_source_changed(spool: Spool, hot: HotFolder) -> None:
    """GIVEN the scanner rewrote the file after our copy THEN nothing is deleted (its new content is new)."""
    _entry, source = _crashed(spool, hot, moved=True, keep_source=True)
    source.write_bytes(b"%PDF-1.4 rescanned")
    spool.recover()
    assert source.exists() and len(spool.pending()) == 1


def test_uploaded_entry_is_journaled_before_its_copy_is_deleted(spool: Spool, hot: HotFolder) -> None:
    entry = spool.take(_scan(hot), hot)
    spool.mark_uploaded(entry, document_id="doc1", batch_id=None, duplicate=False)
    assert list(spool.dir.iterdir()) == []
    fate = spool.journal.fates()[entry.id]
    assert fate["fate"] == "uploaded" and fate["document_id"] == "doc1" and fate["name"] == "申請書.pdf"


def test_journal_failure_keeps_the_copy(
    spool: Spool, hot: HotFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the journal cannot be written after an upload THEN the copy stays (the upload is repeated, idempotently)."""
    entry = spool.take(_scan(hot), hot)

    def full(_path: Path, _line: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsops, "append_line", full)
    with pytest.raises(OSError):
        spool.mark_uploaded(entry, document_id="doc1", batch_id=None, duplicate=False)
    assert spool.data_path(entry).exists() and len(spool.pending()) == 1


def test_quarantine_leaves_the_file_and_a_japanese_note(spool: Spool, hot: HotFolder) -> None:
    """GIVEN the server refused a file as encrypted THEN it sits in the quarantine under its own name with a
    UTF-8 (BOM, CRLF) note giving the reason and what to do, and the journal says quarantined."""
    entry = spool.take(_scan(hot, "CON.pdf"), hot)
    target = spool.quarantine(
        entry, code="encrypted", message="パスワード付き（暗号化）PDF は読み取れません。"
    )
    assert target.parent == spool.quarantine_dir and target.name.endswith("_CON.pdf")
    assert target.read_bytes() == b"%PDF-1.4 scan" and list(spool.dir.iterdir()) == []
    raw = target.with_name(target.name + ".txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    note = raw.decode("utf-8-sig")
    assert "暗号化" in note and "パスワードを外して" in note and "CON.pdf" in note
    fate = spool.journal.fates()[entry.id]
    assert fate["fate"] == "quarantined" and fate["code"] == "encrypted"
