"""File names: which ones to skip, and safe names for the quarantine folder (Windows rules).

The original name is only ever shown to people; the spool names its files by id. The
quarantine keeps the original name (staff look for it there), so it is made safe for
Windows, the strictest file system a scanner PC has.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePath, PureWindowsPath

_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
MAX_NAME = 150


def is_ignored(name: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive, as on Windows: 'SCAN.TMP' is as temporary as 'scan.tmp'."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def base_name(original: str) -> str:
    """The last component of a name that may carry either separator (a client path, a UNC path)."""
    return PureWindowsPath(original.replace("/", "\\")).name


def safe_file_name(original: str, *, prefix: str = "") -> str:
    """A name valid on Windows and POSIX, recognisably the original one."""
    name = unicodedata.normalize("NFC", base_name(original))
    name = _FORBIDDEN.sub("_", name).rstrip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if stem.split(".")[0].upper() in _RESERVED or not stem:
        stem = "_" + stem
    suffix = suffix[:16]
    budget = MAX_NAME - len(prefix) - len(suffix) - 1
    stem = stem[:budget]
    return f"{prefix}{stem}.{suffix}" if suffix else f"{prefix}{stem}"


def display_path(path: PurePath) -> str:
    """How a folder is named in heartbeats and journals: as the operator typed it."""
    return str(path)
