"""What the SDK costs on top of the HTTP call: scoring a DataFrame with ``Pipeline.infer`` against
POSTing the same rows, already serialized, with plain urllib and parsing the JSON answer.

    python3 clients/python/bench/sdk_overhead.py [--url http://127.0.0.1:8080] [--pipeline demo]
        [--results bench/results]   # also write python-sdk-latest.json for `npm run bench:report`

Runs against a server with the demo pipeline (``npm start``): x float32 [N, 4]. Both sides send
pandas-records (the SDK's wire format without pyarrow) in requests of 10,000 rows (the SDK's
``chunk_rows``; a deployment queues at most 65,536 rows by default) and ask for the same columns;
rounds are interleaved and the median of each side reported, with the ratio SDK / plain.
"""

import argparse
import datetime
import json
import os
import platform
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
    ap.add_argument("--results", help="a folder to write python-sdk-<date>.json and python-sdk-latest.json into")
    args = ap.parse_args()
    results = []
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
        results.append({"rows": n, "sdkMs": s * 1000, "plainMs": b * 1000, "ratio": s / b})
    if args.results:
        write(args.results, {"suite": "python-sdk", "machine": machine(), "rounds": args.rounds, "chunkRows": CHUNK,
                             "format": "pandas-records", "rows": results})


def machine() -> dict:
    """What bench/report.ts prints under a section: date, CPU, cores, memory, and Python (for Node's place)."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memoryGiB": round(memory / 2**30),
        "python": platform.python_version(),
        "pandas": pd.__version__,
    }


def write(folder: str, data: dict) -> None:
    os.makedirs(folder, exist_ok=True)
    text = json.dumps(data, indent=2) + "\n"
    stamp = data["machine"]["date"][:19].replace(":", "-")
    for name in (f"python-sdk-{stamp}.json", "python-sdk-latest.json"):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
