"""Shared fixtures: real smoke-scale shard outputs, made once per test session."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from repro.config import compose
from repro.run import run


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    """A directory holding results/smoke/f_principle/<shard>/ from a real smoke run (a few seconds).
    Tests copy it (fixture `smoke_copy`) before changing anything."""
    root = tmp_path_factory.mktemp("smoke")
    with contextlib.chdir(root):
        run(compose(["experiment=f_principle", "scale=smoke", "tracking=disabled", f"data_dir={root}/data"]))
    return root


@pytest.fixture
def smoke_copy(smoke_results, tmp_path, monkeypatch) -> Path:
    """A private copy of the smoke shard outputs, with the working directory set to it."""
    shutil.copytree(smoke_results / "results", tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def file_server(tmp_path):
    """A real HTTP server on 127.0.0.1 for the download tests (pooch talks HTTP through requests, so nothing is
    patched): `root / name` is served at `base + "ok/" + name`; under `base + "down/"` every request answers 503;
    under `base + "drop/"` the server announces the whole file, sends half of it and closes the connection.
    Yields (base, root, seen): `seen` lists the paths requested, in order."""
    root = tmp_path / "server"
    root.mkdir()
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            seen.append(self.path)
            mode, _, name = self.path.lstrip("/").partition("/")
            file = root / name
            if mode == "down" or not file.is_file():
                self.send_error(503 if mode == "down" else 404)
                return
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if mode == "drop" else body)
            if mode == "drop":
                self.close_connection = True

        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root, seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port_url():
    """A URL nothing listens on (a port bound and released): connecting is refused at once, as offline."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
