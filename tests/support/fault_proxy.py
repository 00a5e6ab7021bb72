"""A small reverse proxy that injects faults between the bridge and the API (a separate process).

``python fault_proxy.py PORT UPSTREAM_PORT MODE_FILE [CERT KEY]``. Per request it reads MODE_FILE:
``pass`` forwards; ``503`` answers 503 without forwarding; ``stall N`` forwards, then holds the answer
N seconds (the server has committed; the client has not heard). Absolute-URI requests (a client
using it as its HTTP proxy) are forwarded too. With CERT and KEY it speaks TLS. One line per
request goes to stdout: ``MODE METHOD PATH STATUS``.
"""

from __future__ import annotations

import http.client
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "content-length"}


def main() -> None:
    port, upstream_port, mode_file = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _handle(self) -> None:
            mode = mode_file.read_text().strip() if mode_file.exists() else "pass"
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path = self.path
            if path.startswith("http://") or path.startswith("https://"):
                parts = urlsplit(path)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
            if mode == "503":
                self._reply(503, b'{"detail":"maintenance"}', [("Content-Type", "application/json")])
                print(f"{mode} {self.command} {self.path} 503", flush=True)
                return
            try:
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, path, body=body, headers=headers)
                response = conn.getresponse()
                status, data, out_headers = response.status, response.read(), response.getheaders()
                conn.close()
            except OSError:
                status, data, out_headers = (
                    502,
                    b'{"detail":"bad gateway"}',
                    [("Content-Type", "application/json")],
                )
            if mode.startswith("stall"):
                time.sleep(float(mode.split()[1]))
            print(f"{mode} {self.command} {self.path} {status}", flush=True)
            self._reply(status, data, [(k, v) for k, v in out_headers if k.lower() not in _HOP])

        def _reply(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - stdlib naming

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if len(sys.argv) > 5:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
