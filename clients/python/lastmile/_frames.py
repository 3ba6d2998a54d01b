"""Rows in and out: a DataFrame, records, a dict of columns or an ndarray becomes a pandas-records
body, and the answer comes back as the same kind of thing. pandas and numpy are optional."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._http import LastmileError


def optional(name: str) -> Any:
    """The module if it is installed, else None."""
    try:
        return __import__(name)
    except ImportError:
        return None


def require_pandas(what: str) -> Any:
    pd = optional("pandas")
    if pd is None:
        raise LastmileError(f"{what} needs pandas: pip install pandas (or pass records, a list of dicts)")
    return pd


def _plain(value: Any) -> Any:
    """A numpy value or array as plain Python; NaN as None (JSON has no NaN: the server reads null
    in a float input as a missing value)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _dumps(rows: List[Dict[str, Any]]) -> bytes:
    return json.dumps(rows, default=_plain, allow_nan=True, separators=(",", ":")).encode("utf-8")


class Rows:
    """An inference request's body and how to shape its answer like the input."""

    def __init__(self, body: bytes, kind: str, count: int, index: Any = None):
        self.body = body
        self.kind = kind  # frame | records | columns | array
        self.count = count
        self.index = index


def encode(data: Any, single_input: Optional[str] = None) -> Rows:
    """The pandas-records body for ``data``. ``single_input`` names the pipeline's input for an
    ndarray (rows along the first axis)."""
    pd = optional("pandas")
    np = optional("numpy")
    if pd is not None and isinstance(data, pd.DataFrame):
        # pandas writes NaN as null and 64-bit integers exactly; floats with 15 significant digits
        # (its most), more than the 9 a float32 input needs.
        body = data.to_json(orient="records", double_precision=15).encode("utf-8")
        return Rows(body, "frame", len(data), data.index)
    if np is not None and isinstance(data, np.ndarray):
        if single_input is None:
            raise LastmileError("an ndarray needs a pipeline with exactly one input: pass a DataFrame or a dict of columns")
        if data.ndim == 0:
            raise LastmileError("an ndarray of rows needs at least one dimension (rows first)")
        rows = data.tolist()
        return Rows(_dumps([{single_input: r} for r in rows]), "array", len(rows))
    if isinstance(data, dict):
        columns = {k: _plain(v) for k, v in data.items()}
        lengths = {k: len(v) for k, v in columns.items() if isinstance(v, list)}
        if len(lengths) != len(columns):
            bad = [k for k in columns if k not in lengths]
            raise LastmileError(f"a dict of columns needs a list of row values per input; {bad} are not lists")
        if len(set(lengths.values())) > 1:
            raise LastmileError(f"columns of different lengths: {lengths}")
        n = next(iter(lengths.values()), 0)
        return Rows(_dumps([{k: columns[k][i] for k in columns} for i in range(n)]), "columns", n)
    if isinstance(data, (list, tuple)) and all(isinstance(r, dict) for r in data):
        return Rows(_dumps([{k: _plain(v) for k, v in r.items()} for r in data]), "records", len(data))
    raise LastmileError(
        f"cannot send {type(data).__name__}: pass a DataFrame, a list of dicts (records), a dict of columns or an ndarray"
    )


def chunks(data: Any, size: int) -> List[Any]:
    """``data`` in pieces of at most ``size`` rows (one piece when it fits, or is not rows)."""
    if size < 1:
        raise LastmileError(f"chunk_rows must be at least 1, not {size}")
    if isinstance(data, dict):
        n = max((len(v) for v in data.values() if hasattr(v, "__len__")), default=0)
        if n <= size:
            return [data]
        return [{k: v[i : i + size] for k, v in data.items()} for i in range(0, n, size)]
    if not hasattr(data, "__len__") or len(data) <= size:
        return [data]
    pd = optional("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        return [data.iloc[i : i + size] for i in range(0, len(data), size)]
    return [data[i : i + size] for i in range(0, len(data), size)]


def join(answers: List[Any]) -> Any:
    """The answers of the pieces of one input, as one answer of the same kind."""
    first = answers[0]
    pd = optional("pandas")
    np = optional("numpy")
    if pd is not None and isinstance(first, pd.DataFrame):
        return pd.concat(answers)
    if np is not None and isinstance(first, np.ndarray):
        return np.concatenate(answers)
    if isinstance(first, list):
        return [r for a in answers for r in a]
    # A dict: of columns (lists) or of output arrays.
    return {k: (np.concatenate([a[k] for a in answers]) if np is not None and isinstance(v, np.ndarray) else [x for a in answers for x in a[k]]) for k, v in first.items()}


def decode(answer: List[Dict[str, Any]], rows: Rows) -> Any:
    """The answer rows (flat: ``time``, ``in.*``, ``out.*``, ``check_failures``) shaped like the input."""
    if len(answer) != rows.count:
        raise LastmileError(f"the server answered {len(answer)} rows for {rows.count}")
    if rows.kind == "frame":
        return frame(answer, index=rows.index)
    if rows.kind == "records":
        return answer
    if rows.kind == "columns":
        return columns_of(answer)
    np = optional("numpy")
    outs = [k for k in (answer[0] if answer else {}) if k.startswith("out.")]
    arrays = {k[4:]: np.asarray([r.get(k) for r in answer]) for k in outs}
    return arrays[outs[0][4:]] if len(outs) == 1 else arrays


def columns_of(rows: Sequence[Dict[str, Any]]) -> Dict[str, List[Any]]:
    """Records as a dict of columns, in the first row's key order (then any later keys)."""
    names: Dict[str, None] = {}
    for r in rows:
        for k in r:
            names.setdefault(k, None)
    return {k: [r.get(k) for r in rows] for k in names}


def frame(rows: Sequence[Dict[str, Any]], index: Any = None, time_columns: Tuple[str, ...] = ("time",)) -> Any:
    """Rows as a DataFrame, columns in order, times (ms since the epoch or ISO 8601) as UTC datetimes."""
    pd = require_pandas("a DataFrame")
    df = pd.DataFrame(columns_of(rows), index=index)
    for c in time_columns:
        if c in df.columns:
            numeric = pd.api.types.is_numeric_dtype(df[c])
            df[c] = pd.to_datetime(df[c], unit="ms", utc=True) if numeric else pd.to_datetime(df[c], utc=True)
    return df


def feedback_records(outcomes: Any) -> List[Dict[str, Any]]:
    """Feedback rows (a DataFrame or a list of dicts with ``id``, ``row``, ``key``, ``outcome``) as
    the JSON items the server takes: numpy and pandas values as plain Python (a float64 written by
    ``json`` as its shortest exact repr), ``id`` as text, a missing value (NaN, None) left out."""
    pd = optional("pandas")
    if pd is not None and isinstance(outcomes, pd.DataFrame):
        columns = {str(c): outcomes[c].tolist() for c in outcomes.columns}
        rows: List[Dict[str, Any]] = [{c: v[i] for c, v in columns.items()} for i in range(len(outcomes))]
    elif isinstance(outcomes, (list, tuple)) and all(isinstance(r, dict) for r in outcomes):
        rows = list(outcomes)
    else:
        raise LastmileError(f"cannot send {type(outcomes).__name__} as feedback: pass a DataFrame or a list of dicts")
    items = []
    for r in rows:
        item: Dict[str, Any] = {}
        for k, v in r.items():
            v = _plain(v)
            if v is None or (pd is not None and not isinstance(v, (list, dict)) and pd.isna(v)):
                continue
            if k == "row" and isinstance(v, float) and v.is_integer():
                v = int(v)  # a column with a missing row is stored as floats by pandas
            if k == "id" and isinstance(v, int):
                v = str(v)
            item[str(k)] = v
        items.append(item)
    return items
