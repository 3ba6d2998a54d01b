"""Drift assays (preview, definition, backfill, results, chart) and explanations, checked against
values worked out here from the documented formulas."""

import math
import time

import numpy as np
import pandas as pd

from conftest import B, W


def test_preview_psi_against_the_formula(lm):
    # Provided edges 0, 1, 2, 3 without outlier bins: [0,1), [1,2), [2,3] (the last closed).
    baseline = [0.5, 0.5, 1.5, 2.5, 2.5, 2.5, 3.0]  # 2, 1, 4 of 7
    window = [0.1, 1.2, 1.3, 1.4, 2.9]  # 1, 3, 1 of 5
    p = lm.workspace("default").preview_assay(
        baseline,
        window,
        summarizer={"bin_mode": "provided", "edges": [0, 1, 2, 3], "add_outlier_edges": False, "metric": "psi"},
        warning_threshold=0.1,
        alert_threshold=0.5,
    )
    b = [2 / 7, 1 / 7, 4 / 7]
    w = [1 / 5, 3 / 5, 1 / 5]
    psi = sum((wi - bi) * math.log(wi / bi) for wi, bi in zip(w, b))  # 0.976...
    assert p["score"] == pytest_approx(psi)
    assert p["status"] == "alert"
    assert p["bins"]["baseline"] == pytest_approx(b)
    assert p["bins"]["window"] == pytest_approx(w)


def pytest_approx(v):
    import pytest

    return pytest.approx(v, rel=1e-9, abs=1e-12)


def test_assay_defined_run_and_charted(linear, name):
    ws = linear.workspace
    start = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=1)
    linear.infer(pd.DataFrame({"x": [[float(i), 0.0, 0.0] for i in range(20)]}))
    assay = ws.create_assay(
        name,
        "linear",
        "in.x[0]",
        baseline=np.linspace(0, 19, 40),
        window={"width": "1m", "start": start.to_pydatetime()},
        summarizer={"bin_mode": "equal", "num_bins": 4},
    )
    assert assay.info["iopath"] == "in.x[0]" and assay.info["baseline_values"] == 40
    end = start + pd.Timedelta(minutes=3)
    deadline = time.monotonic() + 60
    while True:  # the rows reach the log at its next flush
        assay.run(start.to_pydatetime(), end.to_pydatetime())
        results = assay.results()
        if (results["status"] != "no_data").any() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert list(results.columns[:2]) == ["window_start", "window_end"]
    assert pd.api.types.is_datetime64_any_dtype(results["window_start"])
    assert (results["status"] != "no_data").any()
    assert assay.chart().startswith("<svg")
    assert "<svg" in assay.chart(kind="bins")._repr_svg_()
    assert assay.id in [a.id for a in ws.assays()]
    assert ws.assay(assay.id).info["name"] == name
    assay.delete()


def test_kernel_shap_on_a_linear_model_is_w_times_x_minus_mean(linear):
    reference = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5], [1.5, 2.5, -2.0], [4.0, 0.0, 1.0], [-2.0, 3.0, 0.0]])
    rows = np.array([[1.0, 1.0, 1.0], [5.0, -3.0, 2.0]])
    df = linear.explain(
        "kernel_shap",
        rows=pd.DataFrame({"x": list(rows)}),
        reference=pd.DataFrame({"x": list(reference)}),
        background=5,
        progress=False,
    )
    mean = reference.mean(axis=0)
    expected = (rows - mean) * W
    assert list(df.columns) == ["prediction", "base_value", "x[0]", "x[1]", "x[2]"]
    np.testing.assert_allclose(df[["x[0]", "x[1]", "x[2]"]].to_numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(df["prediction"], rows @ W + B, rtol=1e-5)
    np.testing.assert_allclose(df["base_value"], mean @ W + B, rtol=1e-5)
    assert df.attrs["report"]["method"] == "kernel_shap"


def test_permutation_importance_ranks_by_weight_times_spread(linear):
    reference = pd.DataFrame({"x": [[float(i), float(i % 3), float(-i)] for i in range(12)]})
    df = linear.explain("permutation", reference=reference, repeats=3, progress=False)
    assert list(df.columns) == ["feature", "importance_mean", "importance_std"]
    # |w|·spread: x[0] 2·(0..11), x[2] 0.5·(0..11), x[1] 1·(0..2): x[0] first, x[1] last.
    assert list(df["feature"]) == ["x[0]", "x[2]", "x[1]"]
