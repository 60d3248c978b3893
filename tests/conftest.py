"""Shared fixtures: a throwaway PostgreSQL database, a moto S3 server and fresh buckets."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import create_engine, text

from tests.support.postgres import PG_HOST
from tests.support.postgres import admin_url as find_admin_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh database `recon_test_<random>` on 127.0.0.1:5432, dropped afterwards.

    Skips when the server is unreachable, unless CI is set: then it fails.
    """
    admin_url, why = find_admin_url()
    if not admin_url:
        message = f"PostgreSQL unreachable at {PG_HOST} ({why})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"recon_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on 127.0.0.1 (a free port), for the whole session.

    The AWS environment points at it (AWS_ENDPOINT_URL, test credentials, us-east-1) and
    ignores any AWS config or profile of the machine, until the session ends.
    """
    from moto.server import ThreadedMotoServer

    requests_log = logging.getLogger("werkzeug")  # one INFO line per request otherwise
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        try:
            yield endpoint
        finally:
            server.stop()
            requests_log.setLevel(level)


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """`s3://name` of a fresh, empty bucket on the moto server."""
    import boto3

    name = f"recon-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture
def webhook():
    """A local webhook receiving JSON POSTs; yields (url, received bodies)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def generated_world(tmp_path_factory: pytest.TempPathFactory):
    """A generated world processed up to a bill-run night (tests.support.nights), shared
    by the night-level tests: they copy it."""
    from tests.support.nights import generated_world

    return generated_world(tmp_path_factory.mktemp("world"))
