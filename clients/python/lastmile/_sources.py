"""What ``upload_model`` accepts, as ONNX bytes: a path, bytes, a PyTorch module (exported with
``torch.onnx.export``) or a scikit-learn estimator (through skl2onnx when it is installed)."""

from __future__ import annotations

import io
import os
from typing import Any, List, Optional, Sequence

from ._http import LastmileError


class ModelSourceError(LastmileError):
    """The model given to ``upload_model`` cannot be turned into ONNX here; the message says why."""


def _names(given: Optional[Sequence[str]], count: int, stem: str) -> List[str]:
    if given is not None:
        if len(given) != count:
            raise ModelSourceError(f"{len(given)} {stem} names for {count} tensors")
        return list(given)
    return [stem] if count == 1 else [f"{stem}{i}" for i in range(count)]


def _is_torch_module(source: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(source).__mro__)


def _is_sklearn_estimator(source: Any) -> bool:
    return any(c.__module__.startswith("sklearn.") for c in type(source).__mro__) and hasattr(source, "fit")


def onnx_bytes(
    source: Any,
    sample_input: Any = None,
    input_names: Optional[Sequence[str]] = None,
    output_names: Optional[Sequence[str]] = None,
    opset: int = 13,
) -> bytes:
    """ONNX bytes for ``source``. PyTorch: ``sample_input`` (a tensor, or a tuple of them) fixes the
    shapes but the first axis, which stays variable (the batch); inputs are named ``x`` (``x0``,
    ``x1``, … for several) and outputs ``y`` unless named. scikit-learn: one float input ``x`` of
    ``n_features_in_`` columns."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return f.read()
    if _is_torch_module(source):
        return _from_torch(source, sample_input, input_names, output_names, opset)
    if _is_sklearn_estimator(source):
        return _from_sklearn(source, input_names, opset)
    raise ModelSourceError(
        f"cannot upload a {type(source).__name__}: pass a path to an .onnx file, its bytes, "
        "a torch.nn.Module with sample_input=, or a fitted scikit-learn estimator"
    )


def _from_torch(module: Any, sample: Any, input_names: Any, output_names: Any, opset: int) -> bytes:
    import torch

    if sample is None:
        raise ModelSourceError("a PyTorch module needs sample_input= (a tensor shaped like one batch) to export it")
    samples = sample if isinstance(sample, tuple) else (sample,)
    ins = _names(input_names, len(samples), "x")
    was_training = module.training
    module.eval()
    with torch.no_grad():
        out = module(*samples)
    outs = _names(output_names, len(out) if isinstance(out, (tuple, list)) else 1, "y")
    buf = io.BytesIO()
    try:
        torch.onnx.export(
            module,
            samples,
            buf,
            input_names=ins,
            output_names=outs,
            dynamic_axes={n: {0: "N"} for n in ins + outs},
            opset_version=opset,
        )
    finally:
        module.train(was_training)
    return buf.getvalue()


def _from_sklearn(estimator: Any, input_names: Any, opset: int) -> bytes:
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        raise ModelSourceError(
            "a scikit-learn estimator is converted with skl2onnx, which is not installed: "
            "pip install skl2onnx, or convert it yourself and pass the .onnx path or bytes"
        ) from None
    n = getattr(estimator, "n_features_in_", None)
    if n is None:
        raise ModelSourceError("the scikit-learn estimator is not fitted (it has no n_features_in_)")
    name = _names(input_names, 1, "x")[0]
    model = convert_sklearn(estimator, initial_types=[(name, FloatTensorType([None, n]))], target_opset=opset)
    return bytes(model.SerializeToString())
