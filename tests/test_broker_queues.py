"""The embedded broker's queues exist before `ocr-service up` starts the processes that share it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ocr_service.config import Settings, get_settings
from workers.celery_app import declare_queues

_PUBLISH = """
import sys, time
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
url, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
with Connection(url) as connection:
    queue = Queue("ocr", Exchange("ocr", type="direct"), routing_key="ocr")
    connection.Producer().publish({"n": sys.argv[3]}, exchange="ocr", routing_key="ocr", declare=[queue], retry=True)
"""


def _queues(broker: Path) -> set[str]:
    """The queue rows of an embedded broker file (none when its tables do not exist yet)."""
    if not broker.exists():
        return set()
    with sqlite3.connect(broker) as db:
        try:
            return {name for (name,) in db.execute("SELECT name FROM kombu_queue")}
        except sqlite3.OperationalError:
            return set()


def _messages(broker: Path) -> int:
    with sqlite3.connect(broker) as db:
        (count,) = db.execute("SELECT count(*) FROM kombu_message").fetchone()
    return int(count)


def test_declared_queues_take_first_publishes_from_several_processes_at_once(tmp_path: Path) -> None:
    """GIVEN a fresh embedded broker WHEN its queues are declared (twice: `up` run again on the same
    data) THEN both queues exist; AND WHEN four processes then publish their first message at the
    same instant THEN all four publishes succeed and arrive."""
    settings = Settings(data_dir=tmp_path, broker_url="")
    broker = tmp_path / "broker.sqlite3"
    declare_queues(settings)
    declare_queues(settings)
    assert _queues(broker) == {settings.queue_name, settings.maintenance_queue_name}
    start = time.time() + 2.0
    runs = [
        subprocess.Popen([sys.executable, "-c", _PUBLISH, settings.resolved_broker_url, str(start), str(n)])
        for n in range(4)
    ]
    try:
        codes = [run.wait(timeout=60) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert codes == [0, 0, 0, 0]
    assert _messages(broker) == 4


class _Spawned:
    """Stands in for a worker or beat process (the process boundary): records which queues the
    broker held when it was started."""

    seen: ClassVar[list[set[str]]] = []
    broker: ClassVar[Path]

    def __init__(self, argv: list[str], **_kwargs: Any) -> None:
        _Spawned.seen.append(_queues(_Spawned.broker))

    def terminate(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_up_declares_the_queues_before_it_starts_worker_and_beat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a fresh data folder WHEN `ocr-service up` starts THEN the broker already holds both queues
    when the worker and beat are spawned (they would otherwise race the API to create them)."""
    from ocr_service.cli import run

    def stop_at_api(**_kwargs: object) -> None:
        raise KeyboardInterrupt

    for name in [n for n in os.environ if n.startswith("OCR_")]:
        monkeypatch.delenv(name)  # the embedded default, whatever this shell points at
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(subprocess, "Popen", _Spawned)
    monkeypatch.setattr(run, "api", stop_at_api)
    _Spawned.seen, _Spawned.broker = [], tmp_path / "var" / "broker.sqlite3"
    previous = signal.getsignal(signal.SIGTERM)
    get_settings.cache_clear()
    try:
        run.up(port=None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        get_settings.cache_clear()
    expected = {get_settings().queue_name, get_settings().maintenance_queue_name}
    assert _Spawned.seen == [expected, expected]
