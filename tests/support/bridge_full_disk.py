"""Runs the real ``scanner-bridge`` with a disk that is full while FLAG_FILE exists.

``python bridge_full_disk.py FLAG_FILE <scanner-bridge arguments>``. The fault sits at the
bridge's disk boundary (:mod:`scanner_bridge.fsops`: every write it makes): while the flag
exists each write fails with ENOSPC, as on a full disk; renames on the same volume still work.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

from scanner_bridge import fsops
from scanner_bridge.cli import main


def _full_while_flagged(flag: Path, real: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if flag.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    return wrapper


if __name__ == "__main__":
    flag = Path(sys.argv[1])
    fsops.write_atomic = _full_while_flagged(flag, fsops.write_atomic)
    fsops.append_line = _full_while_flagged(flag, fsops.append_line)
    raise SystemExit(main(sys.argv[2:]))
