"""Which terminal is calling: the client address (X-Forwarded-For only from trusted proxies) and
the client-certificate subject a trusted TLS proxy verified."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ocr_service.config import Settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(value: str) -> IpAddress | None:
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; policies are written in IPv4.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def in_networks(address: str, networks: list[str]) -> bool:
    ip = _parse(address)
    if ip is None:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


@dataclass(frozen=True)
class Terminal:
    ip: str
    cert_subject: str | None
    """Verified client-certificate subject from a trusted proxy; None when there is none."""


def terminal_of(request: HTTPConnection, settings: Settings) -> Terminal:
    """Walk X-Forwarded-For from the right while the hop is a trusted proxy; the first untrusted hop
    is the client. A client cannot forge its address by sending the header itself."""
    peer = request.client.host if request.client else ""
    trusted = settings.trusted_proxies
    if not trusted or not in_networks(peer, trusted):
        return Terminal(ip=peer, cert_subject=None)
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        if _parse(hop) is None:
            break
        client = hop
        if not in_networks(hop, trusted):
            break
    subject = request.headers.get(settings.client_cert_header, "").strip() or None
    return Terminal(ip=client, cert_subject=subject)
