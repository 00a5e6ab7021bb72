"""Windows rules without Windows: quarantine names checked with PureWindowsPath, and the
exclusive-open probe driven by a fake CreateFile that answers like the Win32 API."""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

import pytest

from scanner_bridge.fsops import is_cross_device
from scanner_bridge.names import MAX_NAME, base_name, is_ignored, safe_file_name
from scanner_bridge.probe import OPEN_EXISTING, SHARE_NONE, PosixProbe, StabilityTracker, WindowsProbe


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("申請書.pdf", "申請書.pdf"),
        ("C:\\Users\\scan\\申請書.pdf", "申請書.pdf"),
        ("\\\\fileserver\\scan\\in\\健診.tif", "健診.tif"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ('ab:c?d*"e<f>|.pdf', "ab_c_d__e_f__.pdf"),
        ("D:申請書.pdf", "申請書.pdf"),  # drive-relative Windows path
        ("trailing dots. . .", "trailing dots"),
        ("bell\x07.pdf", "bell_.pdf"),
    ],
)
def test_quarantine_names_are_valid_windows_names(original: str, expected: str) -> None:
    """GIVEN an original name (paths, reserved device names, forbidden characters) THEN a safe single name."""
    name = safe_file_name(original)
    assert name == expected
    assert PureWindowsPath(name).name == name and PureWindowsPath(name).drive == ""
    assert not PureWindowsPath(name).is_reserved()


def test_long_names_keep_their_extension_and_prefix() -> None:
    name = safe_file_name("あ" * 400 + ".pdf", prefix="20260101-090000_")
    assert len(name) <= MAX_NAME and name.endswith(".pdf") and name.startswith("20260101-090000_")


def test_base_name_takes_either_separator() -> None:
    assert base_name("D:/Scan/a.pdf") == base_name("D:\\Scan\\a.pdf") == "a.pdf"


def test_temporary_names_are_ignored_case_insensitively() -> None:
    patterns = ("*.tmp", "~$*", ".*", "thumbs.db")
    for name in ("SCAN0001.TMP", "~$申請書.pdf", ".scan.pdf.swp", "Thumbs.db"):
        assert is_ignored(name, patterns), name
    assert not is_ignored("scan0001.pdf", patterns)


class _WinError(OSError):
    def __init__(self, winerror: int) -> None:
        super().__init__(13, "simulated Win32 error")
        self.winerror = winerror


def test_windows_probe_asks_for_no_sharing_and_reads_sharing_violations() -> None:
    """GIVEN a fake CreateFile WHEN the file is free THEN True and the handle is closed; WHEN Windows answers
    ERROR_SHARING_VIOLATION (32), ERROR_LOCK_VIOLATION (33) or ERROR_FILE_NOT_FOUND (2) THEN False."""
    calls: list[tuple[object, ...]] = []
    closed: list[int] = []

    def free(*args: object) -> int:
        calls.append(args)
        return 42

    probe = WindowsProbe(create_file=free, close_handle=closed.append)
    assert probe.can_open_exclusively(Path("D:/Scan/a.pdf"))
    (args,) = calls
    assert args[2] == SHARE_NONE and args[4] == OPEN_EXISTING and closed == [42]
    for code in (32, 33, 2, 5):

        def busy(*_args: object, code: int = code) -> int:
            raise _WinError(code)

        assert not WindowsProbe(create_file=busy, close_handle=closed.append).can_open_exclusively(Path("x"))
    assert closed == [42]


def test_cross_device_moves_are_recognised_on_both_platforms() -> None:
    import errno

    assert is_cross_device(OSError(errno.EXDEV, "cross-device link"))
    assert is_cross_device(_WinError(17))  # ERROR_NOT_SAME_DEVICE
    assert not is_cross_device(_WinError(5))


@pytest.mark.skipif(os.name == "nt", reason="flock is POSIX")
def test_posix_probe_sees_a_locking_writer(tmp_path: Path) -> None:
    import fcntl

    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-")
    probe = PosixProbe()
    assert probe.can_open_exclusively(path)
    with path.open("ab") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        assert not probe.can_open_exclusively(path)
    assert probe.can_open_exclusively(path)


class _Probe:
    def __init__(self) -> None:
        self.busy: set[Path] = set()

    def can_open_exclusively(self, path: Path) -> bool:
        return path not in self.busy


def test_a_file_is_ready_only_after_n_unchanged_polls_and_when_free() -> None:
    """GIVEN 3 required polls WHEN a file grows, then stays the same THEN ready on the 3rd unchanged poll,
    not while it is held open; an empty file waits ten times as long."""
    probe = _Probe()
    tracker = StabilityTracker(required_polls=3, probe=probe)
    a, empty = Path("a.pdf"), Path("empty.pdf")
    for size in (10, 20, 30):
        assert tracker.observe([(a, size, size), (empty, 0, 1)]) == []
    assert tracker.observe([(a, 30, 30), (empty, 0, 1)]) == []
    assert tracker.observe([(a, 30, 30), (empty, 0, 1)]) == []
    probe.busy.add(a)
    assert tracker.observe([(a, 30, 30), (empty, 0, 1)]) == []
    probe.busy.clear()
    assert tracker.observe([(a, 30, 30), (empty, 0, 1)]) == [a]
    assert tracker.observe([(a, 30, 31)]) == []  # mtime changed: start again
    for _ in range(31):
        ready = tracker.observe([(empty, 0, 1)])
    assert ready == [empty]
