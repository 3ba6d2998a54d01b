"""One HTTP call to a lastmile server: the API key, timeouts, retries of idempotent calls, and
errors turned into :class:`ApiError` with the server's message. Standard library only."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from typing import IO, Any, Dict, Mapping, Optional, Union

JSON_TYPE = "application/json"
RECORDS_TYPE = "application/json; format=pandas-records"
BYTES_TYPE = "application/octet-stream"

# Answers worth another try of an idempotent call: the server or a proxy in front of it is busy or
# restarting (503 also while a deployment drains).
_RETRY_STATUS = frozenset({502, 503, 504})

Body = Union[bytes, IO[bytes], None]


class LastmileError(Exception):
    """Base of the SDK's errors."""


class ApiError(LastmileError):
    """The server refused a call: ``status`` (HTTP), ``code`` (lastmile's error code), ``message``
    (the server's words: what was wrong and what was expected) and ``details`` when it gave any."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, method: str = "", path: str = ""):
        super().__init__(f"[{status} {code}] {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.method = method
        self.path = path


class LastmileTimeout(LastmileError, TimeoutError):
    """A call, or a wait for a deployment, job or explanation, took longer than its timeout."""


def error_from(status: int, headers: Mapping[str, str], raw: bytes, method: str, path: str) -> ApiError:
    """Read the three error bodies lastmile answers: its own ``{"error": {code, message, details}}``,
    the Open Inference Protocol's ``{"error": "<message>"}`` (code in ``Lastmile-Error-Code``), and
    Wallaroo's engine's ``{"code": <status>, "status": "Error", "error": "<message>"}``."""
    code = {k.lower(): v for k, v in headers.items()}.get("lastmile-error-code") or "http_error"
    message = f"{method} {path}: HTTP {status}"
    details = None
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = str(err.get("code") or code)
            message = str(err.get("message") or message)
            details = err.get("details")
        elif isinstance(err, str):
            message = err
    elif raw:
        text = raw[:500].decode("utf-8", "replace").strip()
        if text:
            message = f"{message}: {text}"
    return ApiError(status, code, message, details, method, path)


class Transport:
    """Calls to one server. ``retries`` applies to idempotent calls only (GET), on connection
    errors and 502/503/504, with exponential backoff from 0.2 s."""

    def __init__(self, url: Optional[str], api_key: Optional[str], timeout: float, retries: int):
        self.url = (url or os.environ.get("LASTMILE_URL") or "http://127.0.0.1:8080").rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("LASTMILE_API_KEY")
        self.timeout = timeout
        self.retries = retries

    def send(
        self,
        method: str,
        path: str,
        body: Body = None,
        content_type: Optional[str] = None,
        length: Optional[int] = None,
        timeout: Optional[float] = None,
        accept: Optional[str] = None,
        sink: Optional[IO[bytes]] = None,
        extra_headers: Optional[Dict[str, str]] = None,
    ) -> "Answer":
        """One call; retried when idempotent. With ``sink``, a successful answer's body is copied
        into it in pieces (a large download never held in memory; emptied again before a retry)
        and the Answer's ``body`` is empty. ``extra_headers`` are sent as well (``X-Request-Id``)."""
        headers: Dict[str, str] = {"user-agent": "lastmile-python/0.1", **(extra_headers or {})}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if content_type:
            headers["content-type"] = content_type
        if accept:
            headers["accept"] = accept
        if length is not None:
            headers["content-length"] = str(length)
        attempts = 1 + (self.retries if method == "GET" else 0)
        for attempt in range(attempts):
            request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=timeout or self.timeout) as res:
                    if sink is None:
                        return Answer(res.status, dict(res.headers.items()), res.read())
                    sink.seek(0)
                    sink.truncate()
                    shutil.copyfileobj(res, sink, 1 << 20)
                    if res.length:  # bytes the Content-Length promised that never came
                        raise http.client.IncompleteRead(b"", res.length)
                    return Answer(res.status, dict(res.headers.items()), b"")
            except urllib.error.HTTPError as e:
                raw = e.read()
                if e.code in _RETRY_STATUS and attempt + 1 < attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise error_from(e.code, dict(e.headers.items()), raw, method, path) from None
            except http.client.IncompleteRead as e:
                # The connection closed before the whole body came (a body streamed into a sink
                # is emptied again by the next try).
                if attempt + 1 < attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise LastmileError(f"{method} {path}: the answer was cut short ({e.expected} bytes missing)") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, TimeoutError) or isinstance(e, TimeoutError):
                    if attempt + 1 < attempts:
                        continue
                    raise LastmileTimeout(f"{method} {path}: no answer within {timeout or self.timeout} s") from None
                if attempt + 1 < attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise LastmileError(f"{method} {self.url}{path}: cannot reach the server ({reason})") from None
        raise AssertionError("unreachable")  # pragma: no cover


class Answer:
    """A successful answer: status, headers (lower-case names) and the body's bytes."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self) -> Any:
        # Python's json reads 64-bit integers exactly and the NaN/Infinity literals lastmile writes.
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def text(self) -> str:
        return self.body.decode("utf-8")
