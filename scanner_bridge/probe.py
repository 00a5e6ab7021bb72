"""When is a scanned file finished? Size and mtime unchanged over N polls, and exclusively openable.

Polling (not change notifications) because hot folders are often SMB shares where
notifications are unreliable. The exclusive-open test is platform specific and sits behind
:class:`ExclusiveProbe` so the Windows logic is unit-tested with a fake ``CreateFile``.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

GENERIC_READ = 0x80000000
DELETE = 0x00010000
OPEN_EXISTING = 3
FILE_ATTRIBUTE_NORMAL = 0x80
SHARE_NONE = 0
# ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
_WIN_BUSY = {5, 32, 33}
_WIN_GONE = {2, 3}


class ExclusiveProbe(Protocol):
    def can_open_exclusively(self, path: Path) -> bool:
        """True when no other process holds the file open (as far as the platform can tell)."""


class WindowsProbe:
    """``CreateFileW`` with share mode 0: fails with a sharing violation while the scanner
    driver, an SMB copy or an editor still holds the file open in any mode."""

    def __init__(
        self,
        create_file: Callable[[str, int, int, int, int, int, int], int] | None = None,
        close_handle: Callable[[int], None] | None = None,
    ) -> None:
        if create_file is None or close_handle is None:
            winapi: Any = importlib.import_module("_winapi")
            create_file, close_handle = winapi.CreateFile, winapi.CloseHandle
        self._create_file = create_file
        self._close_handle = close_handle

    def can_open_exclusively(self, path: Path) -> bool:
        try:
            handle = self._create_file(
                str(path), GENERIC_READ | DELETE, SHARE_NONE, 0, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, 0
            )
        except OSError as exc:
            code = getattr(exc, "winerror", None)
            if code in _WIN_BUSY or code in _WIN_GONE:
                return False
            logger.warning("exclusive open of %s failed: %s", path, exc)
            return False
        self._close_handle(handle)
        return True


class PosixProbe:
    """``flock(LOCK_EX | LOCK_NB)``: catches writers that lock (Samba with strict locking, most
    copy tools). Plain writers are caught by the size/mtime polls instead."""

    def can_open_exclusively(self, path: Path) -> bool:
        fcntl: Any = importlib.import_module("fcntl")
        try:
            with path.open("rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        except OSError:
            return False
        return True


def default_probe() -> ExclusiveProbe:
    return WindowsProbe() if os.name == "nt" else PosixProbe()


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    unchanged_polls: int = 0


class StabilityTracker:
    """Feed it one directory listing per poll; it answers which files are ready to take."""

    def __init__(self, *, required_polls: int, probe: ExclusiveProbe) -> None:
        self._required = required_polls
        self._probe = probe
        self._seen: dict[Path, _Seen] = {}

    def observe(self, listing: Iterable[tuple[Path, int, int]]) -> list[Path]:
        """``listing``: (path, size, mtime_ns) of every candidate now. Returns the ready paths, sorted."""
        current: dict[Path, _Seen] = {}
        ready: list[Path] = []
        for path, size, mtime_ns in listing:
            seen = self._seen.get(path)
            if seen is not None and seen.size == size and seen.mtime_ns == mtime_ns:
                seen.unchanged_polls += 1
            else:
                seen = _Seen(size=size, mtime_ns=mtime_ns)
            current[path] = seen
            # A scanner often creates the file empty and fills it later: wait much longer for those.
            needed = self._required if size > 0 else self._required * 10
            if seen.unchanged_polls >= needed and self._probe.can_open_exclusively(path):
                ready.append(path)
        self._seen = current
        return sorted(ready)

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)
