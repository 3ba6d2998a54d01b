"""A pandas DataFrame through lastmile the way Wallaroo's SDK sends and reads it.

Run by test/clients/wallaroo-pandas.test.ts with Debian's python3-pandas:
    /usr/bin/python3 wallaroo_pandas_roundtrip.py <inference URL of the `mixed` pipeline>

The request and the reading of the answer follow the SDK's wallaroo/deployment.py
(`Deployment._init_infer_params`, `_infer_with_pandas`, `_hack_pandas_dataframe_order`); the SDK
itself is not installable here (no PyPI), so the few lines it runs are repeated below. The frame
the answer must equal is computed here from the input with numpy, never from the answer.

The pipeline `mixed` (deployed by the test, non_finite_inputs: pass) takes a float32 [N],
flag bool [N], k int64 [N] and v float32 [N,3], answers a2 = 2a, k1 = k + 1, nflag = not flag,
vs = v / 2, and validates `in.k < 10` and `out.a2 > 0`.
"""
import gzip
import json
import sys
import time
import urllib.parse
import urllib.request
import zlib

import numpy as np
import pandas as pd

# deployment.py's constant.
PANDAS_RECORDS_HEADER = "application/json; format=pandas-records"


def init_infer_params(dataset=None, dataset_exclude=None, dataset_separator=None):
    """Deployment._init_infer_params, verbatim in effect."""
    params = dict()
    default_dataset_exclude = ["metadata"]
    if dataset is not None:
        if "metadata" in dataset:
            default_dataset_exclude = []
    params["dataset[]"] = dataset or ["*"]
    params["dataset.exclude[]"] = (
        [*dataset_exclude, *default_dataset_exclude]
        if dataset_exclude is not None
        else default_dataset_exclude
    )
    params["dataset.separator"] = dataset_separator or "."
    return params


def query_string(params):
    """How httpx (and requests) put a dict of lists in the URL: one key per list item, urlencoded."""
    items = []
    for key, value in params.items():
        for v in value if isinstance(value, list) else [value]:
            items.append((key, v))
    return urllib.parse.urlencode(items)


def hack_pandas_dataframe_order(df):
    """deployment.py's _hack_pandas_dataframe_order, verbatim."""
    order = {"time": 0, "in": 1, "out": 2}

    def key_col(name):
        parts = name.split(".")
        return [order.get(parts[0], len(order)), *parts[1:]]

    reorder = list(df.columns)
    reorder.sort(key=key_col)
    return df[reorder]


def infer_with_pandas(url, tensor):
    """_infer_with_pandas: to_json(orient="records") in, from_records + the two conversions out."""
    params = init_infer_params()
    query = query_string(params)
    assert query == "dataset%5B%5D=%2A&dataset.exclude%5B%5D=metadata&dataset.separator=.", query
    input_records = tensor.to_json(orient="records")
    request = urllib.request.Request(
        f"{url}?{query}",
        data=input_records.encode(),
        method="POST",
        # The SDK's Content-Type, and what httpx sends on every request besides.
        headers={
            "Content-Type": PANDAS_RECORDS_HEADER,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": "python-httpx/0.27.0",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as res:
        status = res.status
        body = res.read()
        encoding = res.headers.get("Content-Encoding")
    assert status == 200, (status, body[:500])
    if encoding == "gzip":  # httpx decodes these itself
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    data = json.loads(body)
    data_df = pd.DataFrame.from_records(data)
    if "time" in data_df:
        data_df["time"] = pd.to_datetime(data_df["time"], unit="ms")
    if "check_failures" in data_df:
        data_df["check_failures"] = data_df["check_failures"].apply(len)
    return input_records, hack_pandas_dataframe_order(data_df)


def main():
    url = sys.argv[1]
    df = pd.DataFrame(
        {
            "a": [0.5, np.nan, -1.25, 3.1],  # float64 with a missing value
            "flag": [True, False, True, False],  # bool
            "k": np.array([3, 12, -7, 9], dtype=np.int64),  # int64
            "v": [[0.1, 0.2, 0.3], [1.0, -1.0, 2.5], [0.0, 4.0, -0.75], [9.5, 0.25, 0.001]],  # lists
        }
    )
    before = pd.Timestamp(time.time() * 1000 // 1, unit="ms")
    sent, got = infer_with_pandas(url, df)
    after = pd.Timestamp(time.time() * 1000 // 1 + 1, unit="ms")
    assert '"a":null' in sent, sent  # pandas writes the missing value as null

    # The answer, computed from the input: lastmile runs the model in float32.
    f32 = np.float32
    a = df["a"].astype(f32)
    v = [np.array(row, dtype=f32) for row in df["v"]]
    a2 = a * f32(2)
    fails = (df["k"] >= 10).astype(np.int64) + (~(a2 > 0)).astype(np.int64)  # NaN > 0 is False
    expected = pd.DataFrame(
        {
            "time": got["time"],  # checked below: one request, one time, in [before, after]
            "in.a": a.astype(np.float64),
            "in.flag": df["flag"],
            "in.k": df["k"],
            "in.v": [[float(x) for x in row] for row in v],
            "out.a2": a2.astype(np.float64),
            "out.k1": df["k"] + 1,
            "out.nflag": ~df["flag"],
            "out.vs": [[float(x) for x in row * f32(0.5)] for row in v],
            "check_failures": fails,
        }
    )
    assert list(got.columns) == list(expected.columns), list(got.columns)
    assert got["time"].nunique() == 1, got["time"]
    assert before <= got["time"].iloc[0] <= after, (before, got["time"].iloc[0], after)
    pd.testing.assert_frame_equal(got, expected, check_dtype=True)
    print("pandas round trip: ok")
    print(got.to_string())


if __name__ == "__main__":
    main()
