"""moto's S3 server on 127.0.0.1 behind a middleware that counts the requests it serves:
boto3's and polars' alike, since they are counted where they arrive.

A process that cannot call `counting()` (a benchmark's subprocess) marks where it is with
a GET of `<endpoint>/_mark/<name>`, which the middleware answers itself; `between_marks`
splits what was served by those marks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

Request = tuple[str, str]  # method, path (bucket and key); ("MARK", name) for a mark
MARK = "/_mark/"


class CountingS3Server:
    """A moto S3 endpoint of its own port (moto's buckets are shared by every server in the
    process); `requests` lists each request served, `paused` leaves requests uncounted."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.paused = False
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1", 0, self._counting(app), True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"

    def _counting(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def counted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            path = environ["PATH_INFO"]
            with self._lock:
                if path.startswith(MARK):
                    self.requests.append(("MARK", path.removeprefix(MARK)))
                elif not self.paused:
                    self.requests.append((environ["REQUEST_METHOD"], path))
            if path.startswith(MARK):
                start_response("204 No Content", [])
                return [b""]
            return app(environ, start_response)

        return counted

    def start(self) -> CountingS3Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def counting(self) -> Iterator[list[Request]]:
        """The requests served while the block runs (filled in when it ends)."""
        start = len(self.requests)
        found: list[Request] = []
        try:
            yield found
        finally:
            with self._lock:
                found.extend(self.requests[start:])

    @contextmanager
    def uncounted(self) -> Iterator[None]:
        self.paused = True
        try:
            yield
        finally:
            self.paused = False


def between_marks(requests: list[Request]) -> dict[str, list[Request]]:
    """The requests served before each mark (and after the one before), by its name."""
    found: dict[str, list[Request]] = {}
    current: list[Request] = []
    for method, path in requests:
        if method == "MARK":
            found[path], current = current, []
        else:
            current.append((method, path))
    return found
