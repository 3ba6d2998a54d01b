"""The transport on its own, against a small local server: retries of idempotent calls only,
the three error bodies lastmile answers, timeouts; and the notebook displays."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import lastmile


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body) of the server's script."""

    def _answer(self):
        self.server.seen.append((self.command, self.path, self.headers.get("authorization")))
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        status, headers, body = self.server.script.pop(0)
        if status == "hang":
            self.server.release.wait(10)
            return
        if status == "short":  # claims the whole body, sends half of it, and closes
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture()
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.script, server.seen, server.release = [], [], threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def url(server):
    return f"http://127.0.0.1:{server.server_address[1]}"


JSON = {"content-type": "application/json"}


def test_a_download_is_streamed_whole_after_a_cut_and_a_refusal_leaves_no_file(scripted, tmp_path):
    body = bytes(range(256)) * 12_289  # about 3 MiB: several pieces of the copy
    scripted.script = [("short", {}, body), (503, JSON, b"{}"), (200, {}, body)]
    p = lastmile.Client(url(scripted), retries=2).workspace("default").pipeline("p")
    p.download_training_set("a.parquet", tmp_path / "a.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == body
    assert [s[1] for s in scripted.seen] == ["/v1/workspaces/default/pipelines/p/training-sets/a.parquet"] * 3
    scripted.script = [(404, JSON, b'{"error":{"code":"not_found","message":"no training set a.parquet"}}')]
    with pytest.raises(lastmile.ApiError, match="no training set"):
        p.download_training_set("a.parquet", tmp_path / "b.parquet")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.parquet"]
    scripted.script = [("short", {}, body)]
    with pytest.raises(lastmile.LastmileError, match="cut short"):
        lastmile.Client(url(scripted), retries=0).workspace("default").pipeline("p").download_training_set("a.parquet", tmp_path / "c.parquet")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.parquet"]


def test_get_is_retried_after_503_and_sends_the_key(scripted):
    scripted.script = [(503, JSON, b'{"error":{"code":"draining","message":"busy"}}'), (200, JSON, b'[{"name":"default"}]')]
    assert lastmile.Client(url(scripted), "k1", retries=2).workspaces() == [{"name": "default"}]
    assert scripted.seen == [("GET", "/v1/workspaces", "Bearer k1"), ("GET", "/v1/workspaces", "Bearer k1")]


def test_post_is_not_retried(scripted):
    scripted.script = [(503, JSON, b'{"error":{"code":"draining","message":"the deployment drains"}}')]
    with pytest.raises(lastmile.ApiError) as e:
        lastmile.Client(url(scripted), retries=3).create_workspace("w")
    assert (e.value.status, e.value.code, e.value.message) == (503, "draining", "the deployment drains")
    assert len(scripted.seen) == 1


@pytest.mark.parametrize(
    "headers, body, code, message",
    [
        (JSON, b'{"error":{"code":"not_found","message":"no pipeline p","details":{"a":1}}}', "not_found", "no pipeline p"),
        ({**JSON, "Lastmile-Error-Code": "invalid_input"}, b'{"error":"shape [2] needs 2 values"}', "invalid_input", "shape [2] needs 2 values"),
        (JSON, b'{"code":400,"status":"Error","error":"Inference failed","source":"engine"}', "http_error", "Inference failed"),
        ({"content-type": "text/html"}, b"<h1>Bad Gateway</h1>", "http_error", "GET /v1/workspaces: HTTP 400: <h1>Bad Gateway</h1>"),
    ],
)
def test_error_bodies(scripted, headers, body, code, message):
    scripted.script = [(400, headers, body)]
    with pytest.raises(lastmile.ApiError) as e:
        lastmile.Client(url(scripted), retries=0).workspaces()
    assert (e.value.status, e.value.code, e.value.message) == (400, code, message)


def test_timeout_and_unreachable(scripted):
    scripted.script = [("hang", {}, b"")]
    with pytest.raises(lastmile.LastmileTimeout):
        lastmile.Client(url(scripted), timeout=0.5, retries=0).workspaces()
    dead = url(scripted)
    scripted.release.set()
    scripted.shutdown()
    scripted.server_close()
    with pytest.raises(lastmile.LastmileError, match="cannot reach the server"):
        lastmile.Client(dead, retries=0).workspaces()


def test_displays():
    r = lastmile.Record({"name": "<b>x</b>", "steps": [{"model": "m"}]})
    assert "&lt;b&gt;x&lt;/b&gt;" in r._repr_html_()
    assert json.dumps([{"model": "m"}]).replace('"', "&quot;") in r._repr_html_()
    assert lastmile.Svg("<svg/>")._repr_svg_() == "<svg/>"
