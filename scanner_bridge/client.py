"""HTTP to the OCR service with the standard library only: TLS with the site's CA bundle,
an optional proxy, the machine token as a bearer header (never logged)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scanner_bridge import __version__
from scanner_bridge.config import BridgeConfig


class TransportError(Exception):
    """No HTTP answer at all: connection refused, DNS, TLS, timeout. Always worth retrying."""

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str:
        detail = self.body.get("detail")
        return str(detail.get("code", "")) if isinstance(detail, dict) else ""

    @property
    def message(self) -> str:
        detail = self.body.get("detail")
        if isinstance(detail, dict):
            return str(detail.get("message", ""))
        return str(detail or "")


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Verifying context; with a bundle, only that CA is trusted (LGWAN private CAs)."""
    return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)


def _multipart(fields: dict[str, str], *, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    # Plain quoted UTF-8 like browsers send (what the server parses), plus RFC 5987 for strict parsers.
    quoted = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"; '
            f"filename*=UTF-8''{quote(filename)}\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class ServerClient:
    def __init__(self, config: BridgeConfig, token: str | None) -> None:
        self._base = config.server_url.rstrip("/")
        self._timeout = config.timeout_s
        proxies = {"http": config.proxy, "https": config.proxy} if config.proxy else {}
        # An explicit (or empty) proxy map: the scanner PC's environment proxies are not used by accident.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(proxies),
            urllib.request.HTTPSHandler(context=ssl_context(config.ca_bundle)),
        )
        self._token = token
        self._name = config.name[:100]

    def _request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str = ""
    ) -> Answer:
        headers = {"User-Agent": f"scanner-bridge/{__version__}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        # The scheme is checked to be http(s) by the config check; never file: or custom schemes.
        request = urllib.request.Request(self._base + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return Answer(response.status, _json(response.read()))
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, _json(exc.read()))
        except urllib.error.URLError as exc:
            reason = exc.reason
            raise TransportError(str(reason), tls=isinstance(reason, ssl.SSLError)) from exc
        except ssl.SSLError as exc:
            raise TransportError(str(exc), tls=True) from exc
        except (OSError, ValueError) as exc:  # timeouts, resets, a half-read body
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    def healthz(self) -> Answer:
        return self._request("GET", "/healthz")

    def whoami(self) -> Answer:
        return self._request("GET", "/api/v1/auth/me")

    def forms(self) -> Answer:
        """The organisation's published forms (``items``: code, version, title)."""
        return self._request("GET", "/api/v1/forms")

    def upload(self, *, data: bytes, filename: str, form_code: str | None) -> Answer:
        fields = {"source": self._name}
        if form_code:
            fields["form_code"] = form_code
        body, content_type = _multipart(fields, filename=filename, data=data)
        return self._request("POST", "/api/v1/documents", body=body, content_type=content_type)

    def heartbeat(self, payload: dict[str, Any]) -> Answer:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self._request("POST", "/api/v1/bridges/heartbeat", body=body, content_type="application/json")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"detail": raw[:200].decode("utf-8", "replace")}
    if isinstance(value, list):
        return {"items": value}
    return value if isinstance(value, dict) else {"detail": value}
