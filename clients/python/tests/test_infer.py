"""Inference: the answer follows the input (DataFrame, records, dict of columns, ndarray), keeps
the DataFrame's index and row order, and its values are the model's, recomputed here in float64."""

import asyncio

import numpy as np
import pandas as pd
import pytest

import lastmile

from conftest import B, W

X = np.array([[1.0, 2.0, 3.0], [-4.5, 0.0, 8.0], [0.1, -0.2, 0.3], [7.0, 7.0, -7.0]])
EXPECTED = X @ W + B  # 1.75, -4.75, 0.8, 3.75


def test_dataframe_in_dataframe_out_same_index_and_order(linear):
    df = pd.DataFrame({"x": list(X)}, index=pd.Index([30, 10, 20, 5], name="id"))
    out = linear.infer(df)
    assert list(out.columns) == ["time", "in.x", "out.y", "check_failures"]
    assert list(out.index) == [30, 10, 20, 5] and out.index.name == "id"
    assert pd.api.types.is_datetime64_any_dtype(out["time"])
    np.testing.assert_allclose([y[0] for y in out["out.y"]], EXPECTED, rtol=1e-6)
    np.testing.assert_allclose(np.stack(out["in.x"].to_numpy()), X.astype(np.float32), rtol=0)
    assert list(out["check_failures"]) == [[], [], [], []]


def test_records_dict_and_ndarray(linear):
    records = linear.infer([{"x": list(r)} for r in X[:2]])
    assert [r["out.y"][0] for r in records] == pytest.approx([1.75, -4.75], rel=1e-6)
    columns = linear.infer({"x": X[2:].tolist()})
    assert list(columns) == ["time", "in.x", "out.y", "check_failures"]
    assert [y[0] for y in columns["out.y"]] == pytest.approx([0.8, 3.75], rel=1e-6)
    arr = linear.infer(X.astype(np.float32))
    assert isinstance(arr, np.ndarray) and arr.shape == (4, 1)
    np.testing.assert_allclose(arr[:, 0], EXPECTED, rtol=1e-6)


def test_unequal_columns_and_unknown_kinds_are_refused_before_sending(linear):
    with pytest.raises(lastmile.LastmileError, match="columns of different lengths"):
        linear.infer({"x": [[1, 2, 3]], "k": [1, 2]})
    with pytest.raises(lastmile.LastmileError, match="cannot send str"):
        linear.infer("x=1,2,3")


def test_a_validation_failure_shows_in_check_failures(lm, fixtures, name):
    import os

    ws = lm.workspace("default")
    ws.upload_model(name, os.path.join(fixtures, "linear.onnx"))
    p = ws.pipeline(name)
    p.create([{"model": name}, {"validations": {"y_small": "out.y < 3"}}])
    p.deploy()
    out = p.infer(pd.DataFrame({"x": list(X)}))
    # y < 3: rows 0 (1.75), 1 (-4.75) and 2 (0.8) pass, row 3 (3.75) fails.
    assert [len(c) for c in out["check_failures"]] == [0, 0, 0, 1]
    p.undeploy()


def test_async_client_scores_concurrently(url, api_key, linear):
    async def main():
        async with lastmile.AsyncClient(url, api_key) as lm:
            p = lm.workspace("default").pipeline("linear")
            status = await p.status()
            frames = await asyncio.gather(*(p.infer(pd.DataFrame({"x": [list(X[i])]})) for i in range(4)))
            return status, frames

    status, frames = asyncio.run(main())
    assert status["state"] == "ready"
    np.testing.assert_allclose([f["out.y"].iloc[0][0] for f in frames], EXPECTED, rtol=1e-6)
