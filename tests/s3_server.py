"""A real S3 API on 127.0.0.1 for tests: moto's server, behind a small recording proxy.

Every request from resizer (parent, workers, Dask workers) goes through the proxy, which
records (method, path, status) so that tests can count writes, and can answer for the store
the way real S3 does when something is wrong: a `rule` may return an error status and S3's
XML error body (AccessDenied, SlowDown, InternalError) for chosen requests, or drop the
If-None-Match condition from a PUT (a store that ignores it).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

# Fake credentials: the secret is a value no file or output may ever contain.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFORTESTS0001",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-3b8c1d-never-printed",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "3",  # botocore's retries, kept short for tests
}

S3_ERRORS = {
    403: ("AccessDenied", "Access Denied"),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


@dataclass
class Request:
    method: str
    bucket: str
    key: str
    query: str
    status: int = 0
    sent: int = 0  # bytes of the answer's body (an object's, or its range)


# A rule sees each request and may answer it: (status) to fail it as S3 would, "strip-if-none-
# match" to forward it without that condition, or None to forward it as it is.
Rule = Callable[[Request], "int | str | None"]


@dataclass
class Proxy:
    target: tuple[str, int]
    requests: list[Request] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writes(self, bucket: str) -> list[Request]:
        """Successful PUTs and DELETEs of objects in `bucket`, in order."""
        with self.lock:
            return [
                r
                for r in self.requests
                if r.bucket == bucket
                and r.key
                and r.method in ("PUT", "POST", "DELETE")
                and 200 <= r.status < 300
            ]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def start_proxy(target: tuple[str, int]) -> tuple[Proxy, ThreadingHTTPServer]:
    proxy = Proxy(target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _handle(self):
            parts = urlsplit(self.path)
            path = unquote(parts.path).lstrip("/")
            bucket, _, key = path.partition("/")
            request = Request(self.command, bucket, key, parts.query)
            # Recorded before it is answered (its status is set before the answer is sent): a
            # test that clears the record after a client saw the answer must not see it later.
            with proxy.lock:
                proxy.requests.append(request)
            body = self._body()
            headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
            answer = None
            for rule in list(proxy.rules):
                answer = rule(request)
                if answer is not None:
                    break
            if isinstance(answer, int):
                self._error(answer, request)
            else:
                if answer == "strip-if-none-match":
                    headers = {k: v for k, v in headers.items() if k.lower() != "if-none-match"}
                self._forward(request, headers, body)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _forward(self, request: Request, headers: dict, body: bytes) -> None:
            headers = {k: v for k, v in headers.items() if k.lower() != "transfer-encoding"}
            headers["Content-Length"] = str(len(body))
            connection = http.client.HTTPConnection(*proxy.target, timeout=60)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                request.status = response.status
                self.send_response(response.status)
                length = str(len(data))
                for name, value in response.getheaders():
                    if name.lower() == "content-length" and self.command == "HEAD":
                        length = value  # the object's size, without a body
                    elif name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    request.sent = len(data)
                    self.wfile.write(data)
            finally:
                connection.close()

        def _error(self, status: int, request: Request) -> None:
            code, message = S3_ERRORS[status]
            data = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message>"
                f"<Resource>/{request.bucket}/{request.key}</Resource>"
                "<RequestId>0</RequestId></Error>"
            ).encode()
            request.status = status
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return proxy, server
