"""64-bit integers through lastmile's pandas-records route the way Wallaroo's SDK sends and reads them.

Run by test/clients/records-int64.test.ts with Debian's python3-pandas:
    /usr/bin/python3 pandas_int64_roundtrip.py <inference URL of the `wide_ints` pipeline>

The request and the reading of the answer follow the SDK's wallaroo/deployment.py
(`_init_infer_params`, `_infer_with_pandas`: `to_json(orient="records")` in, `json.loads` and
`DataFrame.from_records` out), as test/python/wallaroo_pandas_roundtrip.py repeats them. The
pipeline `wide_ints` answers i2 = i (INT64 [N]) and u2 = u (UINT64 [N]); the frame the answer must
equal is the input's columns, so every value must come back exactly, dtype included: a value
rounded to a double (9223372036854775807 → 9223372036854776000) no longer fits int64 and pandas
reads the column as uint64, and 2^53 + 1 comes back as 2^53.
"""
import json
import sys
import urllib.request

import numpy as np
import pandas as pd

# deployment.py's constant, and the query _init_infer_params makes by default.
PANDAS_RECORDS_HEADER = "application/json; format=pandas-records"
QUERY = "dataset%5B%5D=%2A&dataset.exclude%5B%5D=metadata&dataset.separator=."


def main():
    url = sys.argv[1]
    df = pd.DataFrame(
        {
            "i": np.array([9223372036854775807, -9223372036854775808, 9007199254740993, -2], dtype=np.int64),
            "u": np.array([18446744073709551615, 0, 9007199254740993, 9223372036854775808], dtype=np.uint64),
        }
    )
    sent = df.to_json(orient="records")
    assert '"i":9223372036854775807,"u":18446744073709551615' in sent, sent  # pandas writes them exactly
    request = urllib.request.Request(
        f"{url}?{QUERY}",
        data=sent.encode(),
        method="POST",
        headers={"Content-Type": PANDAS_RECORDS_HEADER, "Accept": "*/*"},
    )
    with urllib.request.urlopen(request, timeout=60) as res:
        assert res.status == 200, res.status
        body = res.read()
    got = pd.DataFrame.from_records(json.loads(body))
    expected = pd.DataFrame({"in.i": df["i"], "in.u": df["u"], "out.i2": df["i"], "out.u2": df["u"]})
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_dtype=True)
    print("pandas int64 round trip: ok")
    print(got[list(expected.columns)].to_string())


if __name__ == "__main__":
    main()
