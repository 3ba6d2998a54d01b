"""Models, pipelines and deployments through the SDK, and the server's errors as exceptions."""

import hashlib
import os

import pytest

import lastmile


def test_upload_by_path_and_bytes_answers_one_version(lm, fixtures, name):
    ws = lm.workspace("default")
    path = os.path.join(fixtures, "linear.onnx")
    with open(path, "rb") as f:
        data = f.read()
    first = ws.upload_model(name, path)
    assert first["name"] == name
    assert first["version"] == 1
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    assert first["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert first["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}]
    # The same bytes again answer the existing version rather than a new one.
    assert ws.upload_model(name, data)["version"] == 1
    assert [v["version"] for v in ws.model(name)["versions"]] == [1]
    assert name in [m["name"] for m in ws.models()]
    ws.delete_model(name)
    assert name not in [m["name"] for m in ws.models()]


def test_pipeline_versions_deploy_status_undeploy(lm, fixtures, name):
    ws = lm.workspace("default")
    ws.upload_model(name, os.path.join(fixtures, "linear.onnx"))
    p = ws.pipeline(name)
    assert p.create([{"model": name}])["version"] == 1
    assert p.create([{"model": name}, {"validations": {"small": "out.y < 100"}}])["version"] == 2
    status = p.deploy(version=1, replicas=2)
    assert (status["state"], status["pipeline_version"], status["replicas"]) == ("ready", 1, 2)
    assert p.status()["models"] == [f"{name}:1"]
    assert [v["version"] for v in p.versions()] == [1, 2]
    p.undeploy()
    with pytest.raises(lastmile.ApiError) as e:
        p.status()
    assert e.value.status == 404
    p.delete()
    assert name not in [x["name"] for x in ws.pipelines()]


def test_server_errors_carry_status_code_and_message(lm, url, name):
    with pytest.raises(lastmile.ApiError) as e:
        lm.workspace("default").pipeline(name).create([{"model": "no_such_model"}])
    assert e.value.status in (400, 404)
    assert "no_such_model" in e.value.message
    # Without a key the server says a key is needed.
    with pytest.raises(lastmile.ApiError) as e:
        lastmile.Client(url, api_key="").workspaces()
    assert e.value.status == 401
    assert e.value.code == "unauthorized"


def test_wrong_input_is_a_400_with_the_servers_message(linear):
    with pytest.raises(lastmile.ApiError) as e:
        linear.infer([{"z": [1.0, 2.0, 3.0]}])
    assert e.value.status == 400
    assert "unknown input 'z'" in e.value.message
    assert "the inputs are x" in e.value.message


def test_keys_create_list_revoke(lm, url, name):
    ws = lm.workspace("default")
    created = ws.create_key(name, "viewer")
    assert created["role"] == "viewer" and created["key"]
    viewer = lastmile.Client(url, created["key"])
    assert [w["name"] for w in viewer.workspaces()] == ["default"]
    with pytest.raises(lastmile.ApiError) as e:
        viewer.create_workspace(name)
    assert e.value.status == 403
    assert created["id"] in [k["id"] for k in ws.keys()]
    ws.revoke_key(created["id"])
    with pytest.raises(lastmile.ApiError) as e:
        viewer.workspaces()
    assert e.value.status == 401


def test_workspaces(lm, name):
    ws = lm.create_workspace(name)
    assert ws.info()["name"] == name
    assert name in [w["name"] for w in lm.workspaces()]
    ws.delete()
    assert name not in [w["name"] for w in lm.workspaces()]
    assert lm.ready() is True


def test_objectives_status_chart_and_rules(lm, fixtures, name):
    ws = lm.workspace("default")
    ws.upload_model(name, os.path.join(fixtures, "linear.onnx"))
    p = ws.pipeline(name)
    slo = {"time_window": "30d", "objectives": [{"name": "fast", "indicator": "latency", "op": "lte", "value": 250, "target": 0.95}]}
    assert p.create([{"model": name}], slo=slo)["slo"]["objectives"][0]["value"] == 250
    p.deploy()
    status = p.slo()
    assert [o["name"] for o in status["objectives"]] == ["fast"]
    assert p.slo_chart("fast").startswith("<svg")
    rules = p.slo_rules()
    assert "groups:" in rules and "lastmile_slo" in rules
    assert 'kind: "PrometheusRule"' in p.slo_rules(format="prometheus-operator")
    p.undeploy()
