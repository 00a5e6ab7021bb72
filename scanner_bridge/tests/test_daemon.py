"""The upload loop against a fake server: exactly-once bookkeeping, refusals, retries in order."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from scanner_bridge.client import Answer, TransportError
from scanner_bridge.config import BridgeConfig, HotFolder
from scanner_bridge.daemon import Backoff, Bridge, is_refusal


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 60.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    for attempt, delay in enumerate(delays):
        ceiling = min(60.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jitter: capped delays still differ
    backoff.reset()
    assert backoff.next_delay() <= 1.0


@pytest.mark.parametrize(
    ("status", "code", "refused"),
    [
        (422, "not_pdf", True),
        (422, "encrypted", True),
        (413, "", True),
        (400, "x", True),
        (422, "", False),
        (401, "not_authenticated", False),
        (403, "forbidden", False),
        (404, "not_found", False),
        (429, "", False),
        (500, "", False),
        (503, "", False),
    ],
)
def test_only_refusals_of_the_file_itself_are_quarantined(status: int, code: str, refused: bool) -> None:
    body: dict[str, Any] = {"detail": {"code": code, "message": "m"}} if code else {}
    assert is_refusal(Answer(status, body)) is refused


class FakeServer:
    def __init__(self) -> None:
        self.answers: list[Answer | Exception] = []
        self.uploads: list[str] = []

    def upload(self, *, data: bytes, filename: str, form_code: str | None) -> Answer:
        self.uploads.append(filename)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            return answer
        import hashlib

        return Answer(201, {"id": f"doc-{filename}", "sha256": hashlib.sha256(data).hexdigest()})

    def heartbeat(self, payload: dict[str, Any]) -> Answer:
        return Answer(200, {})


class _FreeProbe:
    def can_open_exclusively(self, path: Path) -> bool:
        return True


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Bridge, FakeServer, Clock, Path]:
    hot = tmp_path / "hot"
    hot.mkdir()
    config = BridgeConfig(
        server_url="http://x",
        token_file=tmp_path / "t",
        hot_folders=(HotFolder(hot),),
        state_dir=tmp_path / "state",
        stable_polls=1,
    )
    server, clock = FakeServer(), Clock()
    bridge = Bridge(
        config,
        client=server,
        probe=_FreeProbe(),
        clock=clock,
        rng=random.Random(1),
    )
    return bridge, server, clock, hot


def _spool(bridge: Bridge, hot: Path, *names: str) -> None:
    for name in names:
        (hot / name).write_bytes(b"%PDF " + name.encode())
    bridge.poll_folders()
    bridge.poll_folders()
    assert len(bridge.spool.pending()) >= len(names)


def test_uploaded_when_the_server_hash_matches(setup: tuple[Bridge, FakeServer, Clock, Path]) -> None:
    bridge, server, _clock, hot = setup
    _spool(bridge, hot, "a.pdf", "b.pdf")
    bridge.upload_pending()
    assert server.uploads == ["a.pdf", "b.pdf"] and bridge.spool.entries() == []
    assert {f["fate"] for f in bridge.spool.journal.fates().values()} == {"uploaded"}


def test_a_wrong_hash_keeps_the_copy_and_retries(setup: tuple[Bridge, FakeServer, Clock, Path]) -> None:
    bridge, server, clock, hot = setup
    _spool(bridge, hot, "a.pdf")
    server.answers = [Answer(201, {"id": "d", "sha256": "0" * 64})]
    bridge.upload_pending()
    assert len(bridge.spool.pending()) == 1 and bridge.next_upload_at > clock.now
    clock.now = bridge.next_upload_at
    bridge.upload_pending()
    assert bridge.spool.entries() == [] and server.uploads == ["a.pdf", "a.pdf"]


def test_refused_file_goes_to_quarantine_and_the_queue_moves_on(
    setup: tuple[Bridge, FakeServer, Clock, Path],
) -> None:
    bridge, server, _clock, hot = setup
    _spool(bridge, hot, "a.pdf", "b.pdf")
    server.answers = [Answer(422, {"detail": {"code": "not_pdf", "message": "PDF ではありません。"}})]
    bridge.upload_pending()
    assert bridge.spool.entries() == [] and server.uploads == ["a.pdf", "b.pdf"]
    notes = list(bridge.config.quarantine_path.glob("*.txt"))
    assert len(notes) == 1 and "PDF ではありません" in notes[0].read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    "failure",
    [Answer(503, {}), Answer(401, {"detail": {"code": "not_authenticated"}}), TransportError("refused")],
)
def test_failures_back_off_and_keep_the_order(
    setup: tuple[Bridge, FakeServer, Clock, Path], failure: Answer | Exception
) -> None:
    """GIVEN the server fails (503, revoked token, down) THEN nothing is quarantined, the same first file is
    retried after the backoff (never skipped), and the error is reported."""
    bridge, server, clock, hot = setup
    _spool(bridge, hot, "a.pdf", "b.pdf")
    server.answers = [failure, failure]
    bridge.upload_pending()
    bridge.upload_pending()  # still backing off: no request
    assert server.uploads == ["a.pdf"] and bridge.last_error
    clock.now = bridge.next_upload_at
    bridge.upload_pending()
    assert server.uploads == ["a.pdf", "a.pdf"] and len(bridge.spool.pending()) == 2
    clock.now = bridge.next_upload_at
    bridge.upload_pending()
    assert server.uploads == ["a.pdf", "a.pdf", "a.pdf", "b.pdf"] and bridge.spool.entries() == []
    assert not list(bridge.config.quarantine_path.iterdir())
    retries = [r for r in bridge.spool.journal.records() if r["event"] == "retry"]
    assert [r["attempt"] for r in retries] == [1, 2]


def test_temporary_names_are_not_taken(setup: tuple[Bridge, FakeServer, Clock, Path]) -> None:
    bridge, _server, _clock, hot = setup
    (hot / "scan.pdf.tmp").write_bytes(b"half")
    (hot / "~$scan.pdf").write_bytes(b"lock")
    for _ in range(5):
        bridge.poll_folders()
    assert bridge.spool.entries() == [] and len(list(hot.iterdir())) == 2


def test_one_unmovable_file_does_not_block_the_others(
    setup: tuple[Bridge, FakeServer, Clock, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a file the bridge may not move (locked by antivirus, read-only share) THEN the error is reported,
    the file stays where it is, and the other files of the folder are still taken."""
    import os

    bridge, _server, _clock, hot = setup
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name == "a-locked.pdf":
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    (hot / "a-locked.pdf").write_bytes(b"%PDF locked")
    (hot / "b.pdf").write_bytes(b"%PDF b")
    bridge.poll_folders()
    bridge.poll_folders()
    assert [e.name for e in bridge.spool.pending()] == ["b.pdf"]
    assert (hot / "a-locked.pdf").exists() and "a-locked.pdf" in (bridge.last_error or "")


def test_a_file_that_grew_after_it_was_taken_is_sent_as_it_is_now(
    setup: tuple[Bridge, FakeServer, Clock, Path],
) -> None:
    """GIVEN a writer that kept appending to the spooled file after it was hashed THEN the bridge sends the
    current bytes, compares the server's hash with those, and journals the change (no endless retry)."""
    bridge, server, _clock, hot = setup
    _spool(bridge, hot, "a.pdf")
    (entry,) = bridge.spool.pending()
    with bridge.spool.data_path(entry).open("ab") as late_writer:
        late_writer.write(b" more pages")
    bridge.upload_pending()
    assert bridge.spool.entries() == [] and server.uploads == ["a.pdf"]
    events = [r["event"] for r in bridge.spool.journal.records()]
    assert events == ["taken", "changed", "uploaded"]


def test_the_loop_survives_a_surprise_and_stops_on_request(tmp_path: Path) -> None:
    """GIVEN the real loop WHEN the server client raises an unexpected error once THEN the bridge logs it,
    keeps running, delivers the file on the next pass, and returns when asked to stop."""
    import threading
    import time

    hot = tmp_path / "hot"
    hot.mkdir()
    config = BridgeConfig(
        server_url="http://x",
        token_file=tmp_path / "t",
        hot_folders=(HotFolder(hot),),
        state_dir=tmp_path / "state",
        poll_interval_s=0.05,
        stable_polls=1,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )
    server = FakeServer()
    server.answers = [RuntimeError("bug in a dependency")]
    bridge = Bridge(config, client=server, probe=_FreeProbe(), rng=random.Random(3))
    stop = threading.Event()
    thread = threading.Thread(target=bridge.run, args=(stop,))
    thread.start()
    try:
        (hot / "a.pdf").write_bytes(b"%PDF a")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (len(server.uploads) < 2 or bridge.spool.entries()):
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert server.uploads == ["a.pdf", "a.pdf"] and bridge.spool.entries() == []
    assert bridge.last_error is not None and "RuntimeError" in bridge.last_error
