"""Model optimization through the SDK: outcome settings, inference with request ids (in workspace
default and in another), feedback (a list of dicts and a DataFrame), outcome metrics checked
against MAE, RMSE and bias worked out here, the promotion rule, decisions, a training set exported
and downloaded, a challenger, and a tiny measured tuning run followed to its end, one call through
the async client."""

import asyncio
import json
import math
import os
import time

import pytest

import lastmile

from conftest import B, W

# Inputs whose predictions y = x · W + B are exact in float32 (multiples of 1/8).
X = [[1.0, 2.0, 3.0], [-4.5, 0.0, 8.0], [0.5, -0.25, 0.125], [7.0, 7.0, -7.0], [2.0, 1.0, -1.0]]
PRED = [sum(w * x for w, x in zip(W.tolist(), row)) + B for row in X]  # 1.75, -4.75, 2.5625, 3.75, 3.25
# Outcomes: the first three by request "ra" (a list of dicts), the last two by "rb" (a DataFrame).
ACTUAL = [2.0, -5.5, 2.5625, 1.0, 4.0]


@pytest.fixture(scope="module")
def pipe(lm, fixtures):
    """A fresh one-model pipeline on linear.onnx, deployed, with regression outcome settings on ``y``."""
    ws = lm.workspace("default")
    name = "opt" + os.urandom(4).hex()
    ws.upload_model(name, os.path.join(fixtures, "linear.onnx"))
    p = ws.pipeline(name)
    p.create([{"model": name}])
    p.deploy()
    yield p
    p.undeploy()
    p.delete()


def _labeled(report):
    """Each arm's (rows, labeled, realized) over every window."""
    return [(a["rows"], a["labeled"], a["realized"]) for w in report["windows"] for a in w["arms"]]


def test_outcomes_feedback_and_metrics(pipe):
    settings = pipe.set_outcome_settings("regression", "y")
    assert settings["settings"]["task"] == "regression" and settings["settings"]["output"] == "y"
    assert pipe.outcome_settings()["settings"]["output"] == "y"
    start = time.time() * 1000 - 60_000

    records = pipe.infer([{"x": row} for row in X[:3]], request_id="ra")
    assert [r["out.y"][0] for r in records] == pytest.approx(PRED[:3], rel=1e-7)
    assert [r["in.x"] for r in records] == X[:3] and [r["check_failures"] for r in records] == [[], [], []]
    answer = pipe.feedback([{"id": "ra", "row": i, "outcome": ACTUAL[i]} for i in range(3)])
    assert answer == {"accepted": 3, "updated": 0}
    # The same row again: the latest outcome wins, counted as an update.
    assert pipe.feedback([{"id": "ra", "row": 2, "outcome": ACTUAL[2]}]) == {"accepted": 1, "updated": 1}

    pd = lastmile._frames.optional("pandas")
    if pd is not None:
        frame = pipe.infer(pd.DataFrame({"x": X[3:]}, index=[10, 11]), request_id="rb")
        assert list(frame.index) == [10, 11]
        assert [y[0] for y in frame["out.y"]] == pytest.approx(PRED[3:], rel=1e-7)
        # row as numpy int64, outcome as float64, a missing key left out.
        fb = pd.DataFrame({"id": ["rb", "rb"], "row": [0, 1], "outcome": ACTUAL[3:]})
        assert pipe.feedback(fb) == {"accepted": 2, "updated": 0}
        n = 5
    else:
        n = 3

    deadline = time.monotonic() + 60
    while True:  # the rows reach the log at its next flush
        report = pipe.outcome_metrics(start=int(start), end=int(time.time() * 1000 + 60_000), window=3600)
        arms = _labeled(report)
        if (arms and arms[0][1] == n) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert report["task"] == "regression"
    assert len(arms) == 1, arms
    rows, labeled, realized = arms[0]
    assert (rows, labeled, realized["n"]) == (n, n, n)
    errors = [p - a for p, a in zip(PRED[:n], ACTUAL[:n])]
    mae = sum(abs(e) for e in errors) / n
    rmse = math.sqrt(sum(e * e for e in errors) / n)
    bias = sum(errors) / n
    assert realized["mae"]["value"] == pytest.approx(mae, rel=1e-12)
    assert realized["rmse"]["value"] == pytest.approx(rmse, rel=1e-12)
    assert realized["bias"]["value"] == pytest.approx(bias, rel=1e-12)
    assert realized["mae"]["low"] <= mae <= realized["mae"]["high"]


def test_bad_feedback_is_refused_whole(pipe):
    pipe.set_outcome_settings("regression", "y")
    with pytest.raises(lastmile.ApiError) as e:
        pipe.feedback([{"id": "ra", "row": 0, "outcome": 1.0}, {"id": "ra", "row": 1, "outcome": "high"}])
    assert e.value.status == 400 and "outcomes[1]" in e.value.message
    with pytest.raises(lastmile.LastmileError, match="cannot send str as feedback"):
        pipe.feedback("id,row,outcome")


def test_a_request_id_names_one_request_in_a_header(pipe):
    # Nothing is sent: a second request would number its rows from 0 again.
    with pytest.raises(lastmile.LastmileError, match="need 3 of chunk_rows=2"):
        pipe.infer([{"x": row} for row in X], request_id="big", chunk_rows=2)
    for bad in ["", " r", "r\n", "caf\u00e9"]:
        with pytest.raises(lastmile.LastmileError, match="printable ASCII"):
            pipe.infer([{"x": X[0]}], request_id=bad)
    with pytest.raises(lastmile.ApiError) as e:  # the server's limit: 256 bytes
        pipe.infer([{"x": X[0]}], request_id="r" * 257)
    assert e.value.status == 400 and "257 bytes" in e.value.message


def test_feedback_by_request_id_in_another_workspace(lm, fixtures):
    ws = lm.create_workspace("opt" + os.urandom(4).hex())
    try:
        ws.upload_model("lin", os.path.join(fixtures, "linear.onnx"))
        p = ws.pipeline("lin")
        p.create([{"model": "lin"}])
        p.deploy()
        try:
            p.set_outcome_settings("regression", "y")
            start = int(time.time() * 1000) - 60_000
            # Exactly chunk_rows rows: one request, row i of X is ("w-1", i).
            records = p.infer([{"x": row} for row in X], request_id="w-1", chunk_rows=len(X))
            assert [r["out.y"][0] for r in records] == pytest.approx(PRED, rel=1e-7)
            picked = [4, 0, 2]
            assert p.feedback([{"id": "w-1", "row": i, "outcome": ACTUAL[i]} for i in picked]) == {"accepted": 3, "updated": 0}
            deadline = time.monotonic() + 60
            while True:  # the rows reach the log at its next flush
                arms = _labeled(p.outcome_metrics(start=start, end=int(time.time() * 1000) + 60_000, window=3600))
                if (arms and arms[0][1] == len(picked)) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert [(rows, labeled) for rows, labeled, _ in arms] == [(len(X), len(picked))]
            mae = sum(abs(PRED[i] - ACTUAL[i]) for i in picked) / len(picked)  # (0.75 + 0.25 + 0) / 3
            assert arms[0][2]["mae"]["value"] == pytest.approx(mae, rel=1e-12)
        finally:
            p.undeploy()
            p.delete()
    finally:
        ws.delete()


def test_promotion_rule_and_decisions(pipe):
    pipe.set_outcome_settings("regression", "y")
    view = pipe.set_promotion_rule(metric="mae", confidence=0.9, tau=0.5, min_samples=10, action="report_only")
    assert view["rule"]["metric"] == "mae" and view["rule"]["confidence"] == 0.9
    assert view["rule"]["interval_s"] == 60  # a default filled in
    got = pipe.promotion_rule()
    assert got["rule"] == view["rule"] and got["pipeline"] == pipe.name
    assert pipe.decisions() == [] and pipe.decisions(limit=5) == []
    pipe.delete_promotion_rule()
    with pytest.raises(lastmile.ApiError) as e:
        pipe.promotion_rule()
    assert e.value.status == 404


def test_training_set_exported_and_downloaded(pipe, tmp_path):
    pipe.set_outcome_settings("regression", "y")
    record = pipe.export_training_set(0, int(time.time() * 1000) + 1000)
    assert record["status"] == "done" and record["reason"] == "request"
    assert record["file"] in [r["file"] for r in pipe.training_sets()]
    out = tmp_path / "train.parquet"
    pipe.download_training_set(record["file"], out)
    data = out.read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1" and len(data) == record["bytes"]
    assert not os.path.exists(f"{out}.part")
    with pytest.raises(lastmile.ApiError) as e:
        pipe.download_training_set("../x.parquet", tmp_path / "nope.parquet")
    assert e.value.status in (400, 404)
    assert not (tmp_path / "nope.parquet").exists() and not (tmp_path / "nope.parquet.part").exists()


def test_a_tiny_tuning_run_followed_to_its_end(pipe):
    seen = []
    run = pipe.optimize(
        backends=["cpu"],
        batch_sizes=[1, 4],
        queue_delays_ms=[0],
        threads=[1],
        graph_optimizations=["all"],
        gpu_paths=["kernels"],  # passed through; webgpu is not measured here, so no point takes one
        search="exhaustive",
        budget_s=20,
        window_ms=100,
        target_p99_ms=60_000,
        progress=seen.append,
    )
    assert run["status"] == "succeeded" and seen and seen[-1]["status"] == "succeeded"
    report = run["report"]
    assert report["grid_points"] == 2 and report["applied"] is False
    table = [(r["backend"], r["max_batch_size"], r["max_queue_delay_ms"], r["threads"]) for r in report["table"]]
    assert set(table) <= {("cpu", 1, 0, 1), ("cpu", 4, 0, 1)}
    assert table, report
    rec = report["recommendation"]  # the target is loose enough for every point to meet it
    assert (rec["backend"], rec["max_batch_size"], rec["max_queue_delay_ms"], rec["threads"]) in table
    assert rec["rows_per_s"] == max(r["rows_per_s"] for r in report["table"] if r["meets_target"])
    assert rec["settings"]["engine"] == "cpu" and rec["settings"]["batching"]["max_batch_size"] == rec["max_batch_size"]
    assert rec["gpu_path"] is None and "gpu_path" not in rec["settings"]["session"]
    assert pipe.workspace.optimization(run["id"])["status"] == "succeeded"
    assert run["id"] in [r["id"] for r in pipe.optimizations(limit=5)]


def test_a_shadow_challenger_reported_through_the_async_client(url, api_key, pipe, fixtures):
    # A second version of the model: the same graph with a doc_string appended (ModelProto field
    # 6, a string), so other bytes, another sha256.
    onnx = open(os.path.join(fixtures, "linear.onnx"), "rb").read() + b"\x32\x02v2"
    second = pipe.workspace.upload_model(pipe.name, onnx)
    assert second["version"] == 2
    deployed = pipe.deploy_challenger(f"{pipe.name}:2", mode="shadow")
    assert deployed["version"] == 2 and "shadow" in json.dumps(deployed["steps"])
    pipe.deploy()  # waits until the new version is ready

    async def main():
        async with lastmile.AsyncClient(url, api_key) as alm:
            p = alm.workspace("default").pipeline(pipe.name)
            answers = await asyncio.gather(*(p.infer([{"x": X[i]}], request_id=f"s{i}") for i in range(3)))
            report = await p.challengers()
            settings = await p.outcome_settings()
            return answers, report, settings

    answers, report, settings = asyncio.run(main())
    assert [a[0]["out.y"][0] for a in answers] == pytest.approx(PRED[:3], rel=1e-7)
    assert report["contest"]["champion"] == f"{pipe.name}:1"
    assert report["contest"]["challenger"] == f"{pipe.name}:2"
    assert settings["pipeline"] == pipe.name
