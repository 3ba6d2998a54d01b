"""The example notebook runs end to end in a real Jupyter kernel (nbclient with ipykernel) against
the test server; its own cells check the predictions against PyTorch's and the SHAP values' sum."""

import os

import pytest

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "examples", "quickstart.ipynb")
SDK = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_example_notebook_runs(url, api_key, monkeypatch, tmp_path):
    pytest.importorskip("torch")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    # The kernel is another process: it finds the server and the SDK through its environment.
    monkeypatch.setenv("LASTMILE_URL", url)
    monkeypatch.setenv("LASTMILE_API_KEY", api_key)
    monkeypatch.setenv("PYTHONPATH", SDK + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # The scored frame's table and the status record rendered as HTML, as a notebook shows them.
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("out.y" in h for h in html)
    assert any("ready" in h for h in html)
