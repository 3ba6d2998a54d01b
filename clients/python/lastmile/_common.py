"""What the client's calls share: times for the API, query strings, answers as ``Record`` (a
table in Jupyter), and progress shown while a long piece of work is waited for."""

from __future__ import annotations

import datetime as _dt
import html
import json
import sys
import urllib.parse
from typing import Any, Callable, Optional, Union

from . import _frames

When = Union[str, int, float, _dt.datetime, None]

_q = urllib.parse.quote


def _when(t: When) -> Optional[str]:
    """A time for the API: ISO 8601 or ms since the epoch (datetimes without a zone are UTC)."""
    if t is None:
        return None
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return str(int(t.timestamp() * 1000))
    return str(t)


def _query(**params: Any) -> str:
    q = {k: v for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(q) if q else ""


class Record(dict):  # type: ignore[type-arg]
    """A JSON object the server answered, shown as a table in Jupyter."""

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td style='text-align:left'>"
            f"{html.escape(json.dumps(v) if isinstance(v, (dict, list)) else str(v))}</td></tr>"
            for k, v in self.items()
        )
        return f"<table>{rows}</table>"


def _record(value: Any) -> Any:
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [_record(v) for v in value]
    return value


def _progress(enabled: bool, total: float, label: str) -> Callable[[float, str], None]:
    """A progress callback (fraction done, status text): tqdm when installed, a line on stderr otherwise."""
    if not enabled:
        return lambda done, note: None
    tqdm_mod = _frames.optional("tqdm")
    if tqdm_mod is not None:
        bar = tqdm_mod.tqdm(total=total, desc=label, unit="%")
        state = {"at": 0.0}

        def step(done: float, note: str) -> None:
            now = round(done * total, 1)
            bar.update(now - state["at"])
            state["at"] = now
            bar.set_postfix_str(note)
            if done >= 1:
                bar.close()

        return step

    def line(done: float, note: str) -> None:
        sys.stderr.write(f"\r{label}: {done * 100:5.1f}% {note}   ")
        if done >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return line
