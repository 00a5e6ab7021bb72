"""Envelope encryption: data keys wrapped by KEKs, rotation under concurrent reads, sealed text."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocr_service.config import get_settings
from ocr_service.keys.kek import KeyRing, UnknownKekError
from ocr_service.keys.keystore import FileKeyStore
from ocr_service.keys.service import Keys
from ocr_service.storage.blobs import LocalBlobStore


def _keys(root: Path, current: str, *old: str) -> Keys:
    return Keys(KeyRing.from_materials(current, list(old)), FileKeyStore(root / "dek"))


def _read_all(keys: Keys, store: LocalBlobStore, blobs: dict[str, tuple[str, bytes]]) -> None:
    for owner, (blob_key, data) in blobs.items():
        assert store.get(blob_key, dek=keys.load(owner)) == data


def test_rotating_twice_under_concurrent_reads_keeps_everything_readable(tmp_path: Path) -> None:
    """GIVEN 30 documents under KEK 1 WHEN the KEK is rotated to 2 and then to 3 while 4 threads
    keep reading THEN no read fails, blobs are untouched, and afterwards KEK 3 alone reads
    everything (KEKs 1 and 2 are no longer needed) while KEK 1 alone reads nothing."""
    store = LocalBlobStore(tmp_path / "blobs")
    first = _keys(tmp_path, "kek-one")
    blobs = {}
    for index in range(30):
        owner = f"{index:032x}"
        data = f"page {index} 山田".encode() * 50
        blobs[owner] = (store.put(data, dek=first.create(owner)), data)
    files_before = {p: p.read_bytes() for p in (tmp_path / "blobs").rglob("*") if p.is_file()}

    for ring in (("kek-two", "kek-one"), ("kek-three", "kek-two")):
        keys = _keys(tmp_path, *ring)
        stop = threading.Event()
        errors: list[BaseException] = []
        reads: list[int] = [0]

        def reader(
            keys: Keys = keys,
            stop: threading.Event = stop,
            errors: list[BaseException] = errors,
            reads: list[int] = reads,
        ) -> None:
            while not stop.is_set():
                try:
                    _read_all(keys, store, blobs)
                    reads[0] += 1
                except BaseException as exc:
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for thread in threads:
            thread.start()
        result = keys.rotate()
        _read_all(keys, store, blobs)
        stop.set()
        for thread in threads:
            thread.join()
        assert errors == [] and reads[0] > 0
        assert result.rewrapped == 30 and result.already_current == 0
        assert keys.rotate().rewrapped == 0  # idempotent

    _read_all(_keys(tmp_path, "kek-three"), store, blobs)
    with pytest.raises(UnknownKekError, match="OCR_STORAGE_KEYS_OLD"):
        _keys(tmp_path, "kek-one").load(next(iter(blobs)))
    assert {p: p.read_bytes() for p in (tmp_path / "blobs").rglob("*") if p.is_file()} == files_before


def test_wrapped_keys_carry_the_kek_id_and_refuse_tampering(tmp_path: Path) -> None:
    """GIVEN a stored data key WHEN its file is inspected or moved to another owner THEN it names
    its KEK by id, holds no key in clear, and unwrapping under another owner fails."""
    keys = _keys(tmp_path, "material")
    dek = keys.create("a" * 32)
    raw = (tmp_path / "dek" / "aa" / f"{'a' * 32}.key").read_bytes()
    assert keys.ring.current.key_id.encode() in raw and dek.secret not in raw
    record = keys.store.read("a" * 32)
    assert record is not None
    with pytest.raises(ValueError):
        keys.ring.current.unwrap(owner="b" * 32, wrapped=record.wrapped)
    keys.destroy("a" * 32)
    assert not keys.exists("a" * 32) and not list((tmp_path / "dek").rglob("*.key"))


def test_keys_rotate_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN keys under an old OCR_STORAGE_KEY WHEN `ocr-service keys rotate` runs with the new key
    and the old one in OCR_STORAGE_KEYS_OLD THEN every key is re-wrapped under the new KEK id."""
    from ocr_service.cli.main import app

    old = _keys(tmp_path / "data" / "keys", "old-material")
    secrets = {f"{index:032x}": old.create(f"{index:032x}").secret for index in range(3)}
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OCR_STORAGE_KEY", "new-material")
    monkeypatch.setenv("OCR_STORAGE_KEYS_OLD", "old-material")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["keys", "rotate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert '"rewrapped": 3' in result.output
    new = _keys(tmp_path / "data" / "keys", "new-material")
    assert {owner: new.load(owner).secret for owner in secrets} == secrets


def test_starting_with_another_storage_key_answers_a_clear_503(
    client: object, db: object, store: LocalBlobStore, settings: object, tmp_path: Path
) -> None:
    """GIVEN a document whose data key is wrapped by another OCR_STORAGE_KEY WHEN it is opened
    THEN 503 with a Japanese message naming OCR_STORAGE_KEYS_OLD and keys rotate, not a 500."""
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from ocr_service.keys.keystore import WrappedKey
    from tests.factories import login, make_form, make_org, make_user
    from tests.helpers import make_recognized_document

    assert isinstance(client, TestClient) and isinstance(db, Session)
    org = make_org(db)
    user = make_user(db, org)
    document = make_recognized_document(
        db, user=user, form=make_form(db, org, store), store=store, values={"name": "x"}
    )
    db.commit()
    keys = Keys.from_settings(settings)  # type: ignore[arg-type]
    foreign = KeyRing.from_materials("some-other-key", []).current
    keys.store.write(
        WrappedKey(
            owner=document.id, kek_id=foreign.key_id, wrapped=foreign.wrap(owner=document.id, dek=b"k" * 32)
        )
    )
    login(client, user)
    response = client.get(f"/api/v1/documents/{document.id}")
    assert response.status_code == 503
    assert "OCR_STORAGE_KEYS_OLD" in response.json()["detail"]["message"]


def test_concurrent_first_use_of_the_installation_key_agrees(tmp_path: Path) -> None:
    """GIVEN no installation key WHEN 8 threads create-or-load it at once THEN all get the same key
    (an overwritten key would make every template encrypted with the loser's key unreadable)."""
    keys = _keys(tmp_path, "material")
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        results.append(keys.load_or_create("installation").secret)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert keys.load("installation").secret == results[0]


def test_retention_days_command_sets_the_organisation_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN an organisation WHEN `retention days --org X --days 3` runs THEN its period is 3 (and back with --default)."""
    from ocr_service.cli.main import app
    from ocr_service.db.migrate import upgrade_database

    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    for name in ("OCR_DATABASE_URL", "OCR_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        upgrade_database(get_settings().resolved_database_url)
        runner = CliRunner()
        assert runner.invoke(app, ["org", "create", "健康推進課"]).exit_code == 0
        result = runner.invoke(app, ["retention", "days", "--org", "健康推進課", "--days", "3"])
        assert result.exit_code == 0 and "3 days" in result.output, result.output
        result = runner.invoke(app, ["retention", "days", "--org", "健康推進課", "--default"])
        assert "5 days (OCR_RETENTION_DAYS default)" in result.output
    finally:
        get_settings.cache_clear()
