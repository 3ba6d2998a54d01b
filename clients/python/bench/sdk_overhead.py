"""What the SDK costs on top of the HTTP call: scoring a DataFrame with ``Pipeline.infer`` against
POSTing the same rows, already serialized, with plain urllib and parsing the JSON answer.

    python3 clients/python/bench/sdk_overhead.py [--url http://127.0.0.1:8080] [--pipeline demo]

Runs against a server with the demo pipeline (``npm start``): x float32 [N, 4]. Both sides send
pandas-records (the SDK's wire format without pyarrow) in requests of 10,000 rows (the SDK's
``chunk_rows``; a deployment queues at most 65,536 rows by default) and ask for the same columns;
rounds are interleaved and the median of each side reported, with the ratio SDK / plain.
"""

import argparse
import json
import statistics
import time
import urllib.request

import numpy as np
import pandas as pd

import lastmile

CHUNK = 10_000
QUERY = "dataset[]=*&dataset.exclude[]=metadata&dataset.separator=."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--workspace", default="default")
    ap.add_argument("--pipeline", default="demo")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--rows", default="10000,100000")
    args = ap.parse_args()
    p = lastmile.Client(args.url, timeout=600).workspace(args.workspace).pipeline(args.pipeline)
    endpoint = f"{args.url}/v1/workspaces/{args.workspace}/pipelines/{args.pipeline}/infer?{QUERY}"
    rng = np.random.default_rng(1)
    print("| rows | SDK `infer(df)` → DataFrame | urllib, body serialized beforehand, `json.loads` | SDK / plain |")
    print("|---|---|---|---|")
    for n in (int(x) for x in args.rows.split(",")):
        df = pd.DataFrame({"x": list(rng.normal(size=(n, 4)).astype(np.float32))})
        bodies = [
            df.iloc[i : i + CHUNK].to_json(orient="records", double_precision=15).encode() for i in range(0, n, CHUNK)
        ]

        def plain() -> None:
            rows = []
            for body in bodies:
                req = urllib.request.Request(
                    endpoint, data=body, method="POST", headers={"content-type": lastmile._http.RECORDS_TYPE}
                )
                with urllib.request.urlopen(req, timeout=600) as res:
                    rows.extend(json.loads(res.read()))
            assert len(rows) == n

        def sdk() -> None:
            assert len(p.infer(df)) == n

        sdk(), plain()  # warm up both paths
        times = {"sdk": [], "plain": []}
        for _ in range(args.rounds):
            for name, f in (("sdk", sdk), ("plain", plain)):
                t0 = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - t0)
        s, b = statistics.median(times["sdk"]), statistics.median(times["plain"])
        print(f"| {n:,} | {s * 1000:.0f} ms | {b * 1000:.0f} ms | {s / b:.3f}× |")


if __name__ == "__main__":
    main()
