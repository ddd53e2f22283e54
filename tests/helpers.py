"""Helpers shared by test modules (tests/ is on sys.path, see conftest.py)."""

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Fields of a run record that vary from run to run on the same seed.
VOLATILE = {"time_s", "throughput", "peak_memory_mb", "epoch_time_s", "step_ms", "fit_s",
            "train_s", "seconds", "wall_s", "elapsed_s"}


def stable(node):
    """A record's results without wall times, speeds and memory."""
    if isinstance(node, dict):
        return {k: stable(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [stable(v) for v in node]
    return node


class LocalServer:
    """An HTTP server on 127.0.0.1 that serves `routes` and counts requests.

    A path in `truncate` announces 1000 more bytes than it sends, then closes.
    """

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.hits: Counter[str] = Counter()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,),  # poll, s
                         daemon=True).start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                path = self.path.lstrip("/")
                server.hits[path] += 1
                if path not in server.routes:
                    self.send_error(404)
                    return
                body, cut = server.routes[path], path in server.truncate
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + 1000 * cut))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.close_connection = True

            def log_message(self, *args: object) -> None:  # keep test output quiet
                return None

        return Handler


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No mirror, a throw-away default data dir, and no proxy for 127.0.0.1."""
    for name in ("COURSEKIT_DATA_MIRROR", "COURSEKIT_MANIFESTS", "http_proxy",
                 "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "default_data_dir"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server() -> LocalServer:
    local = LocalServer()
    yield local
    local.httpd.shutdown()
    local.httpd.server_close()
