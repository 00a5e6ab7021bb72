"""The HTTP side of an upload, kept off the event loop and inside a time budget.

Reading the multipart body is async (Starlette spools it to a temporary file); everything
CPU- or disk-heavy after that — PDF inspection, encryption, the object-store write, the
database commit — runs in the upload gate's own threads, so ``/healthz``, logins and
review screens keep answering whatever is being uploaded. A fixed number of threads per
API process, with a bounded waiting line: a flood of uploads is answered 429, not queued
forever, and a hostile PDF that keeps its thread busy past the budget is answered 422
while the thread still counts against capacity until it finishes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message

from ocr_service.documents.service import UploadError

T = TypeVar("T")

# Storing and committing after the inspection deadline may take this much longer before the
# request gives up waiting (a 50 MB object-store write on a slow disk).
COMMIT_GRACE_S = 20.0
_FORM_OVERHEAD_BYTES = 256 * 1024


@dataclass(frozen=True)
class UploadDeadline:
    """``inspect_by``: inspection must be done by then; ``commit_by``: nothing is committed after."""

    inspect_by: float
    commit_by: float

    def check(self, *, stage: str) -> None:
        limit = self.inspect_by if stage == "inspect" else self.commit_by
        if time.monotonic() > limit:
            raise UploadError(
                "PDF の確認が時間内に終わりませんでした。ページ数を減らすか、読み取り直した PDF を取り込んでください。",
                code="too_slow",
            )


class UploadGate:
    """Runs upload work in dedicated threads with a time budget and a bounded waiting line."""

    def __init__(self, *, threads: int, budget_s: float) -> None:
        self.budget_s = budget_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="upload")
        # Running plus waiting: beyond this, answer "busy" at once instead of piling up bodies.
        self._slots = threading.BoundedSemaphore(threads * 2)

    def _call(self, fn: Callable[[UploadDeadline], T], deadline: UploadDeadline) -> T:
        try:
            return fn(deadline)
        finally:
            self._slots.release()

    async def run(self, fn: Callable[[UploadDeadline], T]) -> T:
        if not self._slots.acquire(blocking=False):
            raise UploadError(
                "取り込みが混み合っています。しばらくしてから再度送ってください。", code="busy", status=429
            )
        start = time.monotonic()
        deadline = UploadDeadline(
            inspect_by=start + self.budget_s, commit_by=start + self.budget_s + COMMIT_GRACE_S - 2.0
        )
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn, deadline)
        try:
            # shield: a timed-out request abandons the thread; it stops itself at the next deadline check.
            return await asyncio.wait_for(asyncio.shield(future), timeout=self.budget_s + COMMIT_GRACE_S)
        except TimeoutError:
            deadline.check(stage="commit")
            raise

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class UploadParts:
    file: UploadFile
    filename: str
    form_code: str | None
    source: str | None = None
    """The sending scanner bridge's name (``source`` field), kept on the upload receipt and audit event."""


def _refuse(message: str, code: str, status: int = 422) -> UploadError:
    return UploadError(message, code=code, status=status)


def _too_large(max_bytes: int) -> UploadError:
    return _refuse(f"ファイルが大きすぎます（上限 {max_bytes // (1024 * 1024)} MB）。", "too_large", status=413)


def body_limited(request: Request, *, max_bytes: int) -> Request:
    """The same request, whose body stops being read (413) past the upload limit plus the envelope.

    Content-Length is checked up front; this also covers a chunked body that announces no length,
    which would otherwise be spooled to disk however large it is.
    """
    limit = max_bytes + _FORM_OVERHEAD_BYTES
    receive = request.receive
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(max_bytes)
        return message

    return Request(request.scope, capped)


def check_upload_headers(request: Request, *, max_bytes: int) -> None:
    """Refuse what the headers already show is wrong, before reading a byte of the body."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise _refuse(
            "multipart/form-data の file 項目で PDF を送ってください。", "not_multipart", status=415
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes + _FORM_OVERHEAD_BYTES:
        raise _too_large(max_bytes)


def pick_upload_parts(form: FormData) -> UploadParts:
    """Exactly one ``file`` part with a filename, at most one ``form_code`` and ``source``; else refused."""
    files = form.getlist("file")
    if not files:
        raise _refuse("ファイルが送られていません（file 項目がありません）。", "missing_file")
    if len(files) > 1:
        raise _refuse("file 項目が複数あります。1 回に 1 つのファイルを送ってください。", "duplicate_file")
    (part,) = files
    if not isinstance(part, UploadFile):
        raise _refuse("file 項目にファイル名がありません。ファイルとして送ってください。", "missing_filename")
    if not (part.filename or "").strip():
        raise _refuse("file 項目にファイル名がありません。ファイルとして送ってください。", "missing_filename")
    codes = form.getlist("form_code")
    if len(codes) > 1:
        raise _refuse("form_code 項目が複数あります。", "duplicate_form_code")
    code = codes[0] if codes else None
    if code is not None and (not isinstance(code, str) or len(code) > 64):
        raise _refuse("様式コード（form_code）が正しくありません。", "invalid_form_code")
    sources = form.getlist("source")
    source = sources[0] if len(sources) == 1 else None
    if len(sources) > 1 or (source is not None and (not isinstance(source, str) or len(source) > 100)):
        raise _refuse("送信元（source）が正しくありません。", "invalid_source")
    return UploadParts(
        file=part, filename=part.filename or "", form_code=(code or None), source=(source or None)
    )


def multipart_error(exc: Exception) -> UploadError:
    """Starlette's multipart complaint (English, raised as a 400 with its message) as our refusal."""
    message = str(getattr(exc, "detail", None) or getattr(exc, "message", None) or exc)
    if message.startswith("Part exceeded maximum size"):
        # Starlette treats a part without a filename as a text field, capped at 1 MB.
        return _refuse(
            "ファイル名のない大きな項目があります。PDF はファイル名を付けて file 項目で送ってください。",
            "missing_filename",
        )
    return _refuse("送信データ（multipart）の形式が正しくありません。", "malformed_multipart", status=400)
