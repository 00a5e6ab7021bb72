"""Acceptance for the scanner bridge: the real API process (uvicorn, embedded SQLite) and the real
bridge process, files dropped the way scanners and copy tools drop them, faults injected.

Timings are shortened through the bridge's own configuration (0.2 s polls, 1 s backoff cap);
the worker does not run: an upload only has to be accepted and recorded exactly once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from tests.factories import pdf_bytes
from tests.support.bridge_rig import (
    Api,
    Proc,
    bridge_config,
    bridge_proc,
    start_proxy,
    token_file,
    wait_for,
)
from tests.support.tls import private_ca_pems

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    server = Api(tmp_path_factory.mktemp("api"))
    server.seed()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture()
def procs() -> Iterator[list[Proc]]:
    """Every bridge or proxy a test starts; all are stopped afterwards, even when the test failed."""
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.stop(signal.SIGKILL)


def _encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text="secret"))))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _image(fmt: str, seed: int, pages: int = 1) -> bytes:
    frames = [Image.new("L", (300, 420), (seed * 7 + i) % 250) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format=fmt, save_all=pages > 1, append_images=frames[1:], dpi=(200, 200))
    return out.getvalue()


def _slow_write(path: Path, data: bytes, *, chunks: int = 10, pause: float = 0.2) -> None:
    """A scanner writing a multi-page PDF page by page: the file grows for ~2 s."""
    step = max(1, len(data) // chunks)
    with path.open("wb") as handle:
        for start in range(0, len(data), step):
            handle.write(data[start : start + step])
            handle.flush()
            time.sleep(pause)


def _copy_then_rename(path: Path, data: bytes) -> None:
    """A copy tool: write under a temporary name, then rename to the final one."""
    temp = path.with_name(f"~{path.stem}.tmp")
    _slow_write(temp, data, chunks=3, pause=0.15)
    os.replace(temp, path)


def _in_threads(jobs: list[tuple[Path, bytes]], writer: object) -> None:
    threads = [threading.Thread(target=writer, args=job) for job in jobs]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file()] if folder.exists() else []


def test_hundred_files_in_bursts_each_valid_one_becomes_one_document(
    api: Api, tmp_path: Path, procs: list[Proc]
) -> None:
    """GIVEN the bridge watching two hot folders (one mapped to form 'simple') WHEN 100 files arrive in
    bursts — 40 at once, 10 written slowly in chunks, 30 copied under a temporary name and renamed, then
    PDFs and scanner images with one non-PDF, one encrypted PDF and two identical files — THEN every valid
    file is a document exactly once, the spool is empty, the two refused files sit in the quarantine with
    a Japanese reason, and the journal gives every file its fate; the token is never logged."""
    mapped, plain = tmp_path / "乳幼児健診", tmp_path / "その他"
    mapped.mkdir()
    plain.mkdir()
    state = tmp_path / "state"
    config = bridge_config(
        tmp_path / "bridge.toml",
        server_url=api.url,
        token_file=token_file(tmp_path / "token", api.token),
        state_dir=state,
        folders=[(mapped, "simple"), (plain, None)],
        name="burst-bridge",
    )
    bridge = bridge_proc(tmp_path, config)
    procs.append(bridge)
    bridge.start()

    valid: dict[str, bytes] = {}  # file name → content
    burst1 = {f"b1-{i:03d}.pdf": pdf_bytes(text=f"burst1 {i}") for i in range(40)}
    for name, data in burst1.items():
        (mapped / name).write_bytes(data)
    valid |= burst1
    time.sleep(1.0)
    burst2 = {f"slow-{i:02d}.pdf": pdf_bytes(pages=3, text=f"slow {i}") for i in range(10)}
    _in_threads([(plain / name, data) for name, data in burst2.items()], _slow_write)
    valid |= burst2
    burst3 = {f"copy-{i:02d}.pdf": pdf_bytes(text=f"copied {i}") for i in range(30)}
    _in_threads([(plain / name, data) for name, data in burst3.items()], _copy_then_rename)
    valid |= burst3
    burst4 = {f"b4-{i:02d}.pdf": pdf_bytes(text=f"burst4 {i}") for i in range(12)}
    burst4 |= {
        "scan-a.png": _image("PNG", 1),
        "scan-b.png": _image("PNG", 2),
        "scan-c.jpg": _image("JPEG", 3),
    }
    burst4["scan-d.tif"] = _image("TIFF", 4, pages=3)
    twin = pdf_bytes(text="twin")
    burst4 |= {"twin-1.pdf": twin, "twin-2.pdf": twin}
    for name, data in burst4.items():
        (mapped / name).write_bytes(data)
    valid |= burst4
    refused = {"memo.docx": b"PK\x03\x04" + b"\x00" * 300, "locked.pdf": _encrypted_pdf()}
    for name, data in refused.items():
        (plain / name).write_bytes(data)
    assert len(valid) + len(refused) == 100

    expected = {_sha(d) for d in valid.values()}
    assert len(expected) == 97
    quarantine, spool = state / "quarantine", state / "spool"

    def settled() -> bool:
        shas = {d["sha256"] for d in api.documents()}
        return (
            expected <= shas
            and len(list(quarantine.glob("*.txt"))) == 2
            and not _files_in(spool)
            and not _files_in(mapped)
            and not _files_in(plain)
        )

    assert wait_for(settled, 150, interval=1.0), bridge.log()[-4000:]
    documents = api.documents()
    assert len(documents) == 97 and len({d["sha256"] for d in documents}) == 97
    by_sha = {d["sha256"]: d for d in documents}
    by_name = {name: by_sha[_sha(data)] for name, data in valid.items()}
    assert all(by_name[n]["form_id"] for n in burst1) and not any(by_name[n]["form_id"] for n in burst2)
    assert by_name["scan-d.tif"]["page_count"] == 3 and by_name["slow-00.pdf"]["page_count"] == 3

    notes = {p.name: p.read_text(encoding="utf-8-sig") for p in quarantine.glob("*.txt")}
    assert any("memo.docx" in n and "not_pdf" in n for n in notes.values()), notes
    assert any("locked.pdf" in n and "encrypted" in n and "パスワード" in n for n in notes.values()), notes
    assert sorted(p.name.split("_", 1)[1] for p in _files_in(quarantine) if p.suffix != ".txt") == [
        "locked.pdf",
        "memo.docx",
    ]

    fates: dict[str, str] = {}
    for line in (state / "journal.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "fate" in record:
            assert record["name"] not in fates, f"{record['name']} has two fates"
            fates[record["name"]] = record["fate"]
    assert set(fates) == set(valid) | set(refused)
    assert fates["memo.docx"] == fates["locked.pdf"] == "quarantined"
    assert sorted(fates[n] for n in ("twin-1.pdf", "twin-2.pdf")) == ["duplicate", "uploaded"]
    assert list(fates.values()).count("uploaded") == 97

    status = bridge_status(config)
    assert status["queued"] == 0 and status["quarantined"] == 2
    assert status["fates"] == {"uploaded": 97, "duplicate": 1, "quarantined": 2}
    assert wait_for(lambda: any(b["name"] == "burst-bridge" for b in api.bridges()), 10)
    assert api.receipt_sources() == {"burst-bridge"}
    assert api.token not in bridge.log() and api.token[5:] not in bridge.log()


def bridge_status(config: Path) -> dict[str, object]:
    from tests.support.bridge_rig import run_bridge_cli

    result = run_bridge_cli(config, "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    value: dict[str, object] = json.loads(result.stdout)
    return value


def test_faults_lose_nothing_and_double_nothing(api: Api, tmp_path: Path, procs: list[Proc]) -> None:
    """GIVEN the bridge behind a fault-injecting proxy WHEN (1) it is killed -9 while an upload is in flight
    (the server committed, the answer never came) and restarted, (2) the API is stopped and restarted,
    (3) the server answers 503 for a while, (4) the hot folder's disk is full (every bridge write ENOSPC)
    THEN after each fault every file is a document exactly once and the spool ends empty."""
    proxy, proxy_port, mode = start_proxy(tmp_path, upstream_port=api.port)
    procs.append(proxy)
    hot, state = tmp_path / "hot", tmp_path / "state"
    hot.mkdir()
    spool = state / "spool"
    full_disk = tmp_path / "disk-full.flag"
    config = bridge_config(
        tmp_path / "bridge.toml",
        server_url=f"http://127.0.0.1:{proxy_port}",
        token_file=token_file(tmp_path / "token", api.token),
        state_dir=state,
        folders=[(hot, "simple")],
        name="fault-bridge",
    )
    sent: dict[str, bytes] = {}

    def drop(phase: str, count: int = 3) -> set[str]:
        batch = {f"{phase}-{i}.pdf": pdf_bytes(text=f"fault {phase} {i}") for i in range(count)}
        for name, data in batch.items():
            (hot / name).write_bytes(data)
        sent.update(batch)
        return {_sha(d) for d in batch.values()}

    def server_shas() -> list[str]:
        return [d["sha256"] for d in api.documents()]

    def delivered(shas: set[str]) -> bool:
        return shas <= set(server_shas()) and not _files_in(spool) and not _files_in(hot)

    def start_bridge() -> Proc:
        proc = bridge_proc(tmp_path, config, full_disk_flag=full_disk)
        procs.append(proc)
        proc.start()
        return proc

    # (1) kill -9 while the server has committed the upload but the answer is held back.
    mode.write_text("stall 4")
    bridge = start_bridge()
    phase1 = drop("kill")
    assert wait_for(lambda: bool(phase1 & set(server_shas())), 30), bridge.log()[-3000:]
    bridge.stop(signal.SIGKILL)
    in_flight = phase1 & set(server_shas())
    assert len(in_flight) == 1 and len(_files_in(spool)) >= 2, (
        "the killed upload's copy must still be spooled"
    )
    mode.write_text("pass")
    bridge = start_bridge()
    assert wait_for(lambda: delivered(phase1), 30), bridge.log()[-3000:]
    journal = [
        json.loads(line) for line in (state / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [r["fate"] for r in journal if r.get("sha256") in in_flight and "fate" in r] == ["duplicate"]

    # (2) the API stops for a while (the proxy answers 502), then comes back.
    api.stop()
    phase2 = drop("api-down")
    assert wait_for(lambda: len(_files_in(spool)) == 6 and not _files_in(hot), 20)  # 3 data + 3 state files
    time.sleep(1.5)
    api.start()
    assert wait_for(lambda: delivered(phase2), 30), bridge.log()[-3000:]

    # (3) the server answers 503 for a while.
    mode.write_text("503")
    phase3 = drop("busy")
    assert wait_for(lambda: "503 POST /api/v1/documents" in proxy.log(), 20)
    time.sleep(3)
    assert not phase3 & set(server_shas()) and len(_files_in(spool)) == 6
    mode.write_text("pass")
    assert wait_for(lambda: delivered(phase3), 30), bridge.log()[-3000:]

    # (4) the disk is full: the bridge cannot write, so it must not take the files; it keeps running.
    full_disk.touch()
    phase4 = drop("full")
    time.sleep(3)
    assert bridge.alive() and len(_files_in(hot)) == 3 and not _files_in(spool)
    assert "No space left on device" in bridge.log()
    full_disk.unlink()
    assert wait_for(lambda: delivered(phase4), 30), bridge.log()[-3000:]

    shas = server_shas()
    mine = [s for s in shas if s in {_sha(d) for d in sent.values()}]
    assert len(mine) == len(sent) == 12 and len(set(mine)) == 12, "each file exactly once"
    assert not list((state / "quarantine").iterdir())
    retries = [r for r in journal_records(state) if r["event"] == "retry"]
    errors = [str(r["error"]) for r in retries]
    assert any("503" in e for e in errors) and any("502" in e for e in errors)


def test_repeated_kill9_while_taking_and_sending(api: Api, tmp_path: Path, procs: list[Proc]) -> None:
    """GIVEN 30 files arriving WHEN the bridge is killed -9 five times at arbitrary moments (taking, hashing,
    uploading) and restarted each time THEN every file is a document exactly once and the spool is empty."""
    hot, state = tmp_path / "hot", tmp_path / "state"
    hot.mkdir()
    config = bridge_config(
        tmp_path / "bridge.toml",
        server_url=api.url,
        token_file=token_file(tmp_path / "token", api.token),
        state_dir=state,
        folders=[(hot, None)],
        name="kill-bridge",
        stable_polls=2,
    )
    files = {f"k-{i:02d}.pdf": pdf_bytes(pages=2, text=f"kill loop {i}") for i in range(30)}
    for name, data in files.items():
        (hot / name).write_bytes(data)
    expected = {_sha(d) for d in files.values()}
    for pause in (0.9, 0.6, 1.1, 0.7, 0.8):
        bridge = bridge_proc(tmp_path, config)
        procs.append(bridge)
        bridge.start()
        time.sleep(pause)
        bridge.stop(signal.SIGKILL)
    bridge = bridge_proc(tmp_path, config)
    procs.append(bridge)
    bridge.start()

    def delivered() -> bool:
        return expected <= {d["sha256"] for d in api.documents()} and not _files_in(state / "spool")

    assert wait_for(delivered, 60), bridge.log()[-3000:]
    mine = [d["sha256"] for d in api.documents() if d["sha256"] in expected]
    assert len(mine) == 30 and not _files_in(hot)
    fates = [r for r in journal_records(state) if "fate" in r]
    assert {str(r["name"]) for r in fates} == set(files)


def journal_records(state: Path) -> list[dict[str, object]]:
    lines = (state / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_check_names_each_misconfiguration_in_one_japanese_line(
    api: Api, tmp_path: Path, procs: list[Proc]
) -> None:
    """GIVEN a TLS front end with a private CA WHEN `scanner-bridge check` runs with the right CA THEN OK;
    with a wrong CA, a malformed or unreachable URL, a revoked token, an unreadable or missing folder, a
    folder mapped to a form the server does not have THEN
    exactly one Japanese NG line each (two faults: two lines). Through an HTTP proxy it works too."""
    from tests.support.bridge_rig import free_port, run_bridge_cli

    ca_a, ca_b, cert, key = private_ca_pems(tmp_path)
    tls_proxy, tls_port, _mode = start_proxy(tmp_path, upstream_port=api.port, tls=(cert, key))
    plain_proxy, plain_port, _plain_mode = start_proxy(tmp_path, upstream_port=api.port)
    procs += [tls_proxy, plain_proxy]
    hot = tmp_path / "hot"
    hot.mkdir()
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    good = token_file(tmp_path / "token", api.token)
    revoked = token_file(tmp_path / "revoked", api.revoked_token)

    def check(name: str, **overrides: object) -> tuple[int, list[str], str]:
        values: dict[str, object] = {
            "server_url": f"https://127.0.0.1:{tls_port}",
            "token_file": good,
            "state_dir": tmp_path / f"state-{name}",
            "folders": [(hot, "simple")],
            "ca_bundle": str(ca_a),
            **overrides,
        }
        config = bridge_config(tmp_path / f"{name}.toml", **values)  # type: ignore[arg-type]
        result = run_bridge_cli(config, "check")
        lines = result.stdout.splitlines()
        return result.returncode, [line for line in lines if line.startswith("NG: ")], result.stdout

    code, ng, out = check("good")
    assert code == 0 and ng == [] and out.startswith("OK: "), out
    cases: dict[str, tuple[dict[str, object], str]] = {
        "wrong-ca": ({"ca_bundle": str(ca_b)}, "証明書を検証できません"),
        "malformed-url": ({"server_url": "127.0.0.1:8000/ocr"}, "正しくありません"),
        "unreachable": ({"server_url": f"http://127.0.0.1:{free_port()}"}, "接続できません"),
        "revoked": ({"token_file": revoked}, "失効"),
        "not-a-folder": ({"folders": [(not_a_folder, None)]}, "読み取れません"),
        "missing-folder": ({"folders": [(tmp_path / "nowhere", None)]}, "ありません"),
        "unknown-form": ({"folders": [(hot, "no_such_form")]}, "登録されていません"),
    }
    for name, (overrides, words) in cases.items():
        code, ng, out = check(name, **overrides)
        assert code == 1 and len(ng) == 1 and words in ng[0], (name, out)
        assert any("\u3040" <= ch <= "\u30ff" for ch in ng[0]), ng[0]
        assert api.token not in out and api.revoked_token not in out
    code, ng, out = check("two-faults", token_file=revoked, folders=[(not_a_folder, None)])
    assert code == 1 and len(ng) == 2, out

    code, ng, out = check(
        "via-proxy", server_url=api.url, proxy=f"http://127.0.0.1:{plain_port}", ca_bundle=""
    )
    assert code == 0, out
    assert f"GET {api.url}/api/v1/auth/me 200" in plain_proxy.log()
