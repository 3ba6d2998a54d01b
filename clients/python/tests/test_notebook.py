"""The example notebook runs end to end: its code cells, in order, in one namespace (what a kernel
does), against the test server. Its own asserts check the predictions against PyTorch's."""

import json
import os

import pytest

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "examples", "quickstart.ipynb")


def test_example_notebook_runs(url, api_key, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("LASTMILE_URL", url)
    monkeypatch.setenv("LASTMILE_API_KEY", api_key)
    with open(NOTEBOOK, encoding="utf-8") as f:
        cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 6
    namespace: dict = {}
    for i, cell in enumerate(cells):
        exec(compile("".join(cell["source"]), f"quickstart.ipynb cell {i}", "exec"), namespace)
    assert namespace["p"].status()["state"] == "ready"
    assert len(namespace["scored"]) == 200
