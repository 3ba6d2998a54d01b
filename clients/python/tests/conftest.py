"""The suite runs against a real lastmile server: LASTMILE_URL, LASTMILE_API_KEY (an admin key of
workspace default) and LASTMILE_FIXTURES (linear.onnx, rows.parquet), which
test/clients/python-sdk.test.ts sets up (`npx vitest run test/clients/python-sdk.test.ts`)."""

import os
import uuid

import numpy as np
import pytest

import lastmile

# linear.onnx: y = x · W + B for x float32 [N, 3].
W = np.array([2.0, -1.0, 0.5])
B = 0.25


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: run through test/clients/python-sdk.test.ts, which starts the server")
    return value


@pytest.fixture(scope="session")
def url() -> str:
    return _env("LASTMILE_URL")


@pytest.fixture(scope="session")
def api_key() -> str:
    return _env("LASTMILE_API_KEY")


@pytest.fixture(scope="session")
def fixtures() -> str:
    return _env("LASTMILE_FIXTURES")


@pytest.fixture(scope="session")
def lm(url: str, api_key: str) -> lastmile.Client:
    with lastmile.Client(url, api_key) as client:
        yield client


@pytest.fixture(scope="session")
def linear(lm: lastmile.Client, fixtures: str) -> lastmile.Pipeline:
    """Pipeline default/linear on linear.onnx, deployed."""
    ws = lm.workspace("default")
    ws.upload_model("linear", os.path.join(fixtures, "linear.onnx"))
    p = ws.pipeline("linear")
    p.create([{"model": "linear"}])
    p.deploy()
    return p


@pytest.fixture()
def name() -> str:
    """A fresh name for what a test creates."""
    return "t" + uuid.uuid4().hex[:10]
