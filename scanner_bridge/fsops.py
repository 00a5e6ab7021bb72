"""Every write the bridge makes to disk goes through here: temp file + fsync + rename.

Keeping the disk boundary in one module lets the tests inject a full disk (ENOSPC) into the
real bridge process, and keeps the durability rules in one place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

_ERROR_NOT_SAME_DEVICE = 17  # Windows: MoveFileEx across volumes


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once its directory is synced; Windows has no directory fsync.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".writing")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def is_cross_device(exc: OSError) -> bool:
    return exc.errno == errno.EXDEV or getattr(exc, "winerror", None) == _ERROR_NOT_SAME_DEVICE


def move_file(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``: one atomic rename on the same volume, else copy, sync, delete.

    On the copy path a crash can leave both copies; the spool's recovery then deletes the source
    only if it is byte-identical to the spooled copy.
    """
    try:
        os.replace(source, target)
    except OSError as exc:
        if not is_cross_device(exc):
            raise
        partial = target.with_name(target.name + ".part")
        with source.open("rb") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, target)
        _fsync_dir(target.parent)
        source.unlink()
        return
    _fsync_dir(target.parent)


def unlink_if_exists(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
