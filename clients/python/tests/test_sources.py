"""Models from PyTorch (exported by the SDK) and scikit-learn (skl2onnx when installed)."""

import numpy as np
import pandas as pd
import pytest

import lastmile


def test_torch_module_uploaded_and_answers_as_torch_does(lm, name):
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    with torch.no_grad():
        module[0].weight.copy_(torch.tensor([[0.5, -1.0, 0.25], [1.5, 0.0, -0.5]]))
        module[0].bias.copy_(torch.tensor([0.1, -0.2]))
    ws = lm.workspace("default")
    version = ws.upload_model(name, module, sample_input=torch.zeros(1, 3))
    assert version["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert version["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]
    p = ws.pipeline(name)
    p.create([{"model": name}])
    p.deploy()
    x = np.array([[1.0, 2.0, 3.0], [-0.5, 0.25, 4.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    out = p.infer(pd.DataFrame({"x": list(x)}))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.stack(out["out.y"].to_numpy()), expected, rtol=1e-5, atol=1e-6)
    assert module.training is True  # the export put it back as it was
    p.undeploy()


def test_torch_module_needs_a_sample_input(lm):
    torch = pytest.importorskip("torch")
    with pytest.raises(lastmile.ModelSourceError, match="sample_input"):
        lm.workspace("default").upload_model("m", torch.nn.Linear(2, 1))


def test_sklearn_estimator_without_skl2onnx_says_what_to_install(lm):
    sklearn = pytest.importorskip("sklearn.linear_model")
    try:
        import skl2onnx  # noqa: F401

        pytest.skip("skl2onnx is installed: the conversion itself is skl2onnx's")
    except ImportError:
        pass
    model = sklearn.LinearRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), np.array([1.0, 2.0, 5.0]))
    with pytest.raises(lastmile.ModelSourceError, match="pip install skl2onnx"):
        lm.workspace("default").upload_model("m", model)


def test_anything_else_is_refused_with_what_is_accepted(lm):
    with pytest.raises(lastmile.ModelSourceError, match="pass a path to an .onnx file"):
        lm.workspace("default").upload_model("m", 42)
