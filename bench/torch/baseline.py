#!/usr/bin/env python3
"""PyTorch peer for the engine bench: rebuild an ONNX model as torch modules and time it.

Reads MODEL.onnx, rebuilds the network from its initializers with onnx.numpy_helper (only the
ops the bench models use: Gemm, Relu, Softmax, Conv, MaxPool, Add, GlobalAveragePool, Flatten,
Identity), checks the output against onnxruntime's on one random batch, then times end-to-end
host->host inference (numpy in, tensor to device, forward, back to host as numpy) at each batch
size: warm-up, then repeats until --seconds and --min-iters have both passed; median reported.
TF32 is off, so CUDA numbers are fp32 like onnxruntime's.

The check's reference is onnxruntime (python) when it is importable, else the batch that the
bench wrote beside the model (MODEL.check-x.npy and onnxruntime-node's MODEL.check-y.npy).
Tolerance: |torch - ref| <= 1e-3*|ref| + 1e-4*max|ref| elementwise (fp32 with another summation
order differs by ~1e-6 relative; a wrong layer differs by O(1)).

Prints one JSON object per line: {"kind": "info"}, {"kind": "check"}, then one
{"kind": "timing"} per batch. Exits 1 when the check fails. Works with torch 1.13 and 2.x, no
network. Example:

    python3 bench/torch/baseline.py /tmp/m/wide_mlp.onnx --batches 1,256 --seconds 1
"""

import argparse
import json
import os
import sys
import time

# OpenMP workers that spin between parallel regions starved the busy threads on a 2-core VM
# (Debian's torch 1.13: an MLP at batch 1024 took 45 ms instead of 1.3 ms); sleeping workers cost
# a few µs at batch 1. Set before torch loads its OpenMP runtime; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

RTOL = 1e-3
ATOL_OF_MAX = 1e-4


def attributes(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def symmetric_pads(node, pads, spatial):
    pads = list(pads) if pads else [0] * (2 * spatial)
    if pads[:spatial] != pads[spatial:]:
        raise ValueError(f"{node.name}: asymmetric pads {pads} are not supported")
    return tuple(pads[:spatial])


class Step(nn.Module):
    """One ONNX node: a callable over its input tensors (a module where the node has weights)."""

    def __init__(self, fn, inputs, output, module=None):
        super().__init__()
        self.fn = fn
        self.inputs = list(inputs)
        self.output = output
        self.module = module


class OnnxNet(nn.Module):
    """The ONNX graph as a sequence of torch calls, in the graph's (topological) node order."""

    def __init__(self, model):
        super().__init__()
        graph = model.graph
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < 13:
            raise ValueError(f"opset {opset}: Softmax/Flatten semantics before 13 are not handled")
        consts = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
        self.input_name = next(i.name for i in graph.input if i.name not in consts)
        self.output_name = graph.output[0].name
        self.const_names = {}
        self.steps = nn.ModuleList()
        used = set()
        for node in graph.node:
            step = self._step(node, attributes(node), consts, used)
            self.steps.append(step)
        # Initializers read by plain ops (an Add with a constant) travel as buffers.
        for i, name in enumerate(sorted(n for s in self.steps for n in s.inputs if n in consts)):
            if name not in self.const_names:
                self.const_names[name] = f"const{i}"
                self.register_buffer(f"const{i}", consts[name])

    def _step(self, node, a, consts, used):
        op, ins, out = node.op_type, list(node.input), node.output[0]
        if op == "Gemm":
            if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                raise ValueError(f"{node.name}: only Gemm with transA=0, alpha=beta=1 is supported")
            w = consts[ins[1]] if a.get("transB", 0) else consts[ins[1]].t().contiguous()
            lin = nn.Linear(w.shape[1], w.shape[0], bias=len(ins) > 2)
            with torch.no_grad():
                lin.weight.copy_(w)
                if len(ins) > 2:
                    lin.bias.copy_(consts[ins[2]].reshape(-1))
            return Step(None, ins[:1], out, lin)
        if op == "Conv":
            w = consts[ins[1]]
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or w.dim() != 4:
                raise ValueError(f"{node.name}: only 2-D Conv with explicit pads is supported")
            group = a.get("group", 1)
            conv = nn.Conv2d(
                w.shape[1] * group,
                w.shape[0],
                tuple(w.shape[2:]),
                stride=tuple(a.get("strides", [1, 1])),
                padding=symmetric_pads(node, a.get("pads"), 2),
                dilation=tuple(a.get("dilations", [1, 1])),
                groups=group,
                bias=len(ins) > 2,
            )
            with torch.no_grad():
                conv.weight.copy_(w)
                if len(ins) > 2:
                    conv.bias.copy_(consts[ins[2]])
            return Step(None, ins[:1], out, conv)
        if op == "MaxPool":
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or a.get("storage_order", 0):
                raise ValueError(f"{node.name}: only MaxPool with explicit pads is supported")
            pool = nn.MaxPool2d(
                tuple(a["kernel_shape"]),
                stride=tuple(a.get("strides", [1, 1])),
                padding=symmetric_pads(node, a.get("pads"), 2),
                dilation=tuple(a.get("dilations", [1, 1])),
                ceil_mode=bool(a.get("ceil_mode", 0)),
            )
            return Step(None, ins, out, pool)
        if op == "Relu":
            return Step(F.relu, ins, out)
        if op == "Softmax":
            axis = a.get("axis", -1)
            return Step(lambda x: torch.softmax(x, dim=axis), ins, out)
        if op == "Add":
            return Step(torch.add, ins, out)
        if op == "GlobalAveragePool":
            return Step(lambda x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True), ins, out)
        if op == "Flatten":
            axis = a.get("axis", 1)
            return Step(lambda x: x.reshape(int(np.prod(x.shape[:axis])), -1), ins, out)
        if op == "Identity":
            return Step(lambda x: x, ins, out)
        raise ValueError(f"{node.name}: op {op} is not supported by this baseline")

    def forward(self, x):
        env = {self.input_name: x}
        for name, buf in self.const_names.items():
            env[name] = getattr(self, buf)
        for s in self.steps:
            args = [env[i] for i in s.inputs]
            env[s.output] = s.module(*args) if s.module is not None else s.fn(*args)
        return env[self.output_name]


def input_shape(model, batch):
    inits = {t.name for t in model.graph.initializer}
    x = next(i for i in model.graph.input if i.name not in inits)
    dims = x.type.tensor_type.shape.dim
    return x.name, [batch] + [d.dim_value for d in dims[1:]]


def reference(path, model):
    """(input, expected output, what produced it) for the check."""
    stem = path[: -len(".onnx")] if path.endswith(".onnx") else path
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        name, shape = input_shape(model, 2)
        x = np.random.default_rng(11).uniform(-2, 2, size=shape).astype(np.float32)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return x, sess.run(None, {name: x})[0], f"onnxruntime {ort.__version__} (python, CPU)"
    if os.path.exists(f"{stem}.check-x.npy") and os.path.exists(f"{stem}.check-y.npy"):
        x, y = np.load(f"{stem}.check-x.npy"), np.load(f"{stem}.check-y.npy")
        return x, y, f"onnxruntime-node output in {os.path.basename(stem)}.check-y.npy"
    return None, None, "none: onnxruntime is not importable and no .check-*.npy beside the model"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="path to an ONNX file")
    p.add_argument("--batches", default="1", help="comma-separated batch sizes")
    p.add_argument("--seconds", type=float, default=1.0, help="time per batch size, after warm-up")
    p.add_argument("--min-iters", type=int, default=10, help="at least this many timed runs per batch")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per core available)")
    args = p.parse_args()

    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    # Some builds start with one thread; onnxruntime uses every core, so torch should too.
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    model = onnx.load(args.model)
    name = model.graph.name or os.path.basename(args.model)
    net = OnnxNet(model).eval().to(device)

    def infer(x_host):
        x = torch.from_numpy(x_host).to(device)
        y = net(x).cpu().numpy()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return y

    emit = lambda obj: print(json.dumps(obj), flush=True)  # noqa: E731
    emit({
        "kind": "info",
        "model": name,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "device": device.type,
        "deviceName": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "ompWaitPolicy": os.environ["OMP_WAIT_POLICY"],
        "tf32": False,
    })
    with torch.inference_mode():
        x, want, source = reference(args.model, model)
        if x is None:
            emit({"kind": "check", "model": name, "ok": False, "reference": source})
            sys.exit(1)
        got = infer(x)
        err = np.abs(got.astype(np.float64) - want)
        scale = float(np.abs(want).max())
        worst = float((err / (RTOL * np.abs(want) + ATOL_OF_MAX * scale + 1e-30)).max())
        ok = got.shape == want.shape and worst <= 1
        emit({
            "kind": "check",
            "model": name,
            "ok": bool(ok),
            "reference": source,
            "batch": int(x.shape[0]),
            "maxAbsErr": float(err.max()),
            "maxAbsRef": scale,
            "worstOverTolerance": worst,
            "tolerance": f"|torch-ref| <= {RTOL}*|ref| + {ATOL_OF_MAX}*max|ref|",
        })
        if not ok:
            sys.exit(1)

        rng = np.random.default_rng(1)
        for batch in (int(b) for b in args.batches.split(",")):
            x = rng.uniform(-2, 2, size=input_shape(model, batch)[1]).astype(np.float32)
            for _ in range(args.warmup):
                infer(x)
            samples = []
            start = time.perf_counter()
            while len(samples) < args.min_iters or time.perf_counter() - start < args.seconds:
                t0 = time.perf_counter()
                infer(x)
                samples.append((time.perf_counter() - t0) * 1000)
            samples.sort()
            q = lambda f: samples[min(len(samples) - 1, int(f * len(samples)))]  # noqa: E731, as bench/lib.ts
            median = q(0.5)
            emit({
                "kind": "timing",
                "model": name,
                "device": device.type,
                "batch": batch,
                "iterations": len(samples),
                "medianMs": median,
                "p10Ms": q(0.1),
                "p90Ms": q(0.9),
                "rowsPerSecond": batch * 1000 / median,
            })


if __name__ == "__main__":
    main()
