"""A Parquet file scored as a batch job with progress, and the inference log as a DataFrame."""

import os
import time

import numpy as np
import pandas as pd
import pytest

import lastmile

from conftest import B, W


def fixture_columns(n=1000):
    """The columns test/clients/python-sdk.test.ts wrote to rows.parquet, rebuilt here."""
    i = np.arange(n)
    return i / 10, (i % 7) - 3.0, np.where(i < 500, -i, i) / 100


def test_parquet_file_scored_with_progress(linear, fixtures, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    job = linear.infer_file(os.path.join(fixtures, "rows.parquet"), output=out, output_format="csv", features=["a", "b", "c"])
    assert (job.status, job.rows_done, job.error_count) == ("succeeded", 1000, 0)
    # The last progress line (tqdm's bar when installed, else the SDK's own) shows the whole file done.
    last = capsys.readouterr().err.strip().split("\r")[-1]
    assert "100" in last and "1000 rows" in last
    a, b, c = fixture_columns()
    expected = np.stack([a, b, c], axis=1) @ W + B
    scored = pd.read_csv(out)
    assert len(scored) == 1000
    y = [c for c in scored.columns if "y" in c.split(".")[-1]]
    assert y, f"no y column in {list(scored.columns)}"
    np.testing.assert_allclose(scored[y[0]].astype(float), expected, rtol=1e-5, atol=1e-5)
    frame = job.dataframe()
    assert len(frame) == 1000
    assert job.id in [j.id for j in linear.workspace.jobs()]
    assert linear.client.job(job.id).rows_done == 1000
    job.cancel()  # a finished job: deleted
    with pytest.raises(lastmile.ApiError) as e:
        linear.client.job(job.id)
    assert e.value.status == 404


def test_unknown_file_format_is_refused(linear, tmp_path):
    path = tmp_path / "rows.xlsx"
    path.write_bytes(b"not a table")
    with pytest.raises(lastmile.LastmileError, match="cannot tell the format"):
        linear.infer_file(path)


def test_logs_as_a_dataframe(linear):
    marker = np.array([[11.0, 12.0, 13.0], [-11.0, -12.0, -13.0], [0.5, 0.25, 0.125]])
    start = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
    linear.infer(pd.DataFrame({"x": list(marker)}))
    deadline = time.monotonic() + 60
    while True:  # the log is written every flush interval
        logs = linear.logs(start=start.to_pydatetime(), page_size=2)
        ours = logs[[list(v) in marker.tolist() for v in logs["in.x"]]] if len(logs) else logs
        if len(ours) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(ours) == 3, f"logged rows: {len(logs)}"
    assert {"time", "pipeline_version", "model", "check_failures", "latency_ms", "in.x", "out.y"} <= set(logs.columns)
    assert pd.api.types.is_datetime64_any_dtype(logs["time"])
    np.testing.assert_allclose(sorted(y[0] for y in ours["out.y"]), sorted(marker @ W + B), rtol=1e-6)
    assert len(linear.logs(start=start.to_pydatetime(), limit=2, page_size=1)) == 2
