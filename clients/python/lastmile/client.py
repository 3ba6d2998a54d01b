"""The lastmile client: workspaces, models, pipelines (deploy, infer, logs, objectives, explain),
batch jobs, assays and API keys, with pandas DataFrames in and out when pandas is installed.

    import lastmile
    with lastmile.Client("http://127.0.0.1:8080") as lm:
        p = lm.workspace("default").pipeline("demo")
        print(p.infer(pandas.DataFrame({"x": [[0.5, -1.2, 3.3, 0.7]]})))
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _frames
from ._common import Record, When, _progress, _q, _query, _record, _when
from ._http import BYTES_TYPE, JSON_TYPE, RECORDS_TYPE, Answer, LastmileError, LastmileTimeout, Transport
from ._optimization import ModelOptimization
from ._sources import onnx_bytes

# Wallaroo's SDK asks every inference for these columns, flat: time, in.*, out.*, check_failures.
_DATASET = "dataset[]=*&dataset.exclude[]=metadata&dataset.separator=."

# A header value that arrives as sent: printable ASCII, no spaces at either end (a request id).
_HEADER_TEXT = re.compile(r"[!-~](?:[ -~]*[!-~])?")

# Batch job file formats by file extension (the server's list: csv, jsonl, arrow, parquet).
_JOB_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".arrow": "arrow", ".arrows": "arrow", ".parquet": "parquet"}


class Svg(str):
    """An SVG chart the server drew: displayed inline in Jupyter, ``save(path)`` to keep it."""

    def _repr_svg_(self) -> str:
        return str(self)

    def save(self, path: Union[str, os.PathLike]) -> None:  # type: ignore[type-arg]
        with open(path, "w", encoding="utf-8") as f:
            f.write(self)


class Client:
    """A lastmile server. ``url`` defaults to ``$LASTMILE_URL`` (else http://127.0.0.1:8080) and
    ``api_key`` to ``$LASTMILE_API_KEY``; ``timeout`` is each call's, in seconds; idempotent calls
    (GET) are retried ``retries`` times on connection errors and 502/503/504. Use it as a context
    manager, or just keep it: it holds no connection between calls."""

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, timeout: float = 60.0, retries: int = 3):
        self._t = Transport(url, api_key, timeout, retries)

    @property
    def url(self) -> str:
        return self._t.url

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release (each call opens and closes its connection); kept for symmetry with AsyncClient."""

    def __repr__(self) -> str:
        return f"lastmile.Client({self.url!r})"

    # The calls every handle makes.
    def _call(self, method: str, path: str, json_body: Any = None, timeout: Optional[float] = None) -> Any:
        body = None if json_body is None else json.dumps(json_body).encode("utf-8")
        answer = self._t.send(method, path, body, JSON_TYPE if body is not None else None, timeout=timeout)
        return _record(answer.json()) if answer.status != 204 else None

    def _raw(self, method: str, path: str, **kw: Any) -> Answer:
        return self._t.send(method, path, **kw)

    # Workspaces
    def workspaces(self) -> List[Record]:
        """The workspaces this key may see."""
        return self._call("GET", "/v1/workspaces")  # type: ignore[no-any-return]

    def create_workspace(self, name: str) -> "Workspace":
        self._call("POST", "/v1/workspaces", {"name": name})
        return Workspace(self, name)

    def workspace(self, name: str = "default") -> "Workspace":
        """A handle on workspace ``name`` (no call is made)."""
        return Workspace(self, name)

    def ready(self) -> bool:
        """Whether the server is ready (not shutting down, no deployment draining)."""
        try:
            return bool(self._call("GET", "/v2/health/ready").get("ready"))
        except LastmileError:
            return False

    def job(self, job_id: str) -> "Job":
        return Job(self, self._call("GET", f"/v1/jobs/{_q(job_id, safe='')}"))


class Workspace:
    """A workspace: its models, pipelines, assays, jobs and keys."""

    def __init__(self, client: Client, name: str):
        self.client = client
        self.name = name
        self._path = f"/v1/workspaces/{_q(name, safe='')}"

    def __repr__(self) -> str:
        return f"<lastmile workspace {self.name!r}>"

    def info(self) -> Record:
        return self.client._call("GET", self._path)  # type: ignore[no-any-return]

    def delete(self) -> None:
        self.client._call("DELETE", self._path)

    # Models
    def upload_model(
        self,
        name: str,
        source: Any,
        sample_input: Any = None,
        input_names: Optional[Sequence[str]] = None,
        output_names: Optional[Sequence[str]] = None,
        opset: int = 13,
    ) -> Record:
        """Upload a model version: ``source`` is a path to an .onnx file, its bytes, a
        ``torch.nn.Module`` (with ``sample_input``, exported to ONNX with a variable first axis) or
        a fitted scikit-learn estimator (needs skl2onnx). Answers the version: name, version,
        sha256, inputs, outputs (the same bytes again answer the existing version)."""
        data = onnx_bytes(source, sample_input, input_names, output_names, opset)
        answer = self.client._raw("POST", f"{self._path}/models/{_q(name, safe='')}", body=data, content_type=BYTES_TYPE)
        return Record(answer.json())

    def models(self) -> List[Record]:
        return self.client._call("GET", f"{self._path}/models")  # type: ignore[no-any-return]

    def model(self, name: str) -> Record:
        """A model with every version (sha256, size, inputs and outputs)."""
        return self.client._call("GET", f"{self._path}/models/{_q(name, safe='')}")  # type: ignore[no-any-return]

    def delete_model(self, name: str) -> None:
        self.client._call("DELETE", f"{self._path}/models/{_q(name, safe='')}")

    # Pipelines
    def pipelines(self) -> List[Record]:
        return self.client._call("GET", f"{self._path}/pipelines")  # type: ignore[no-any-return]

    def pipeline(self, name: str) -> "Pipeline":
        """A handle on pipeline ``name`` (no call is made; ``create`` makes its versions)."""
        return Pipeline(self, name)

    # Jobs
    def jobs(self) -> List["Job"]:
        return [Job(self.client, j) for j in self.client._call("GET", f"{self._path}/jobs")]

    # Assays
    def create_assay(
        self,
        name: str,
        pipeline: str,
        iopath: str,
        baseline: Union[Dict[str, Any], Sequence[float], Any],
        window: Dict[str, Any],
        summarizer: Optional[Dict[str, Any]] = None,
        warning_threshold: Optional[float] = None,
        alert_threshold: Optional[float] = None,
        webhooks: Optional[Sequence[str]] = None,
    ) -> "Assay":
        """Define a drift assay (see the README's Observability section for every field).
        ``baseline``: values (a list, an array or a Series) or ``{"start", "end"}`` of the log."""
        body: Dict[str, Any] = {
            "name": name,
            "pipeline": pipeline,
            "iopath": iopath,
            "baseline": baseline if isinstance(baseline, dict) else {"values": _frames._plain(list(baseline))},
            "window": {k: _when(v) if k == "start" else v for k, v in window.items()},
        }
        for k, v in (
            ("summarizer", summarizer),
            ("warning_threshold", warning_threshold),
            ("alert_threshold", alert_threshold),
            ("webhooks", list(webhooks) if webhooks is not None else None),
        ):
            if v is not None:
                body[k] = v
        return Assay(self, self.client._call("POST", f"{self._path}/assays", body))

    def assays(self) -> List["Assay"]:
        return [Assay(self, a) for a in self.client._call("GET", f"{self._path}/assays")]

    def assay(self, assay_id: Union[int, str]) -> "Assay":
        return Assay(self, self.client._call("GET", f"{self._path}/assays/{assay_id}"))

    def preview_assay(
        self,
        baseline: Sequence[float],
        window: Sequence[float],
        summarizer: Optional[Dict[str, Any]] = None,
        warning_threshold: Optional[float] = None,
        alert_threshold: Optional[float] = None,
    ) -> Record:
        """Score ``window`` against ``baseline`` now, as a scheduled assay would: score, status,
        bins, KS, Wasserstein-1 and Jensen–Shannon (nothing is saved)."""
        body: Dict[str, Any] = {
            "baseline": {"values": _frames._plain(list(baseline))},
            "window": {"values": _frames._plain(list(window))},
        }
        for k, v in (("summarizer", summarizer), ("warning_threshold", warning_threshold), ("alert_threshold", alert_threshold)):
            if v is not None:
                body[k] = v
        return self.client._call("POST", f"{self._path}/assays/preview", body)  # type: ignore[no-any-return]

    # Measured tuning
    def optimization(self, run_id: str) -> Record:
        """A tuning run (``Pipeline.optimize``): its progress, then its report."""
        return self.client._call("GET", f"{self._path}/optimizations/{_q(run_id, safe='')}")  # type: ignore[no-any-return]

    # API keys
    def create_key(self, name: str, role: str = "viewer") -> Record:
        """A new API key (``admin``, ``deployer`` or ``viewer``); its secret, ``key``, is shown this once."""
        return self.client._call("POST", f"{self._path}/keys", {"name": name, "role": role})  # type: ignore[no-any-return]

    def keys(self) -> List[Record]:
        return self.client._call("GET", f"{self._path}/keys")  # type: ignore[no-any-return]

    def revoke_key(self, key_id: str) -> None:
        self.client._call("DELETE", f"{self._path}/keys/{_q(key_id, safe='')}")


class Pipeline(ModelOptimization):
    """A pipeline: its versions, deployment, inference, log, objectives and explanations, and its
    model optimization (outcomes and feedback, challengers, training sets, measured tuning)."""

    def __init__(self, workspace: Workspace, name: str):
        self.workspace = workspace
        self.client = workspace.client
        self.name = name
        self._path = f"{workspace._path}/pipelines/{_q(name, safe='')}"
        self._single_input: Dict[str, Optional[str]] = {}

    def __repr__(self) -> str:
        return f"<lastmile pipeline {self.workspace.name}/{self.name}>"

    def create(self, steps: Sequence[Any], slo: Optional[Dict[str, Any]] = None) -> Record:
        """A new version from ``steps`` (e.g. ``[{"model": "fraud"}]``), with service-level
        objectives when given; a deployed pipeline moves to it (hot swap)."""
        body: Dict[str, Any] = {"steps": list(steps)}
        if slo is not None:
            body["slo"] = slo
        return self.client._call("PUT", self._path, body)  # type: ignore[no-any-return]

    def info(self) -> Record:
        """Every version and the deployment."""
        return self.client._call("GET", self._path)  # type: ignore[no-any-return]

    def versions(self) -> List[Record]:
        return list(self.info()["versions"])

    def delete(self) -> None:
        self.client._call("DELETE", self._path)

    def deploy(
        self,
        version: Optional[int] = None,
        replicas: Optional[int] = None,
        engine: Optional[str] = None,
        batching: Optional[Dict[str, Any]] = None,
        wait: bool = True,
        timeout: float = 120.0,
        **options: Any,
    ) -> Record:
        """Deploy the latest version (or ``version``: a rollback). With ``wait`` (the default),
        returns once the deployment is ready, or raises LastmileTimeout after ``timeout`` seconds.
        Other deploy options (``non_finite_inputs``, ``reset``, ``session``, e.g.
        ``session={"gpu_path": "kernels"}``) pass through."""
        body: Dict[str, Any] = dict(options)
        for k, v in (("version", version), ("replicas", replicas), ("engine", engine), ("batching", batching)):
            if v is not None:
                body[k] = v
        status = self.client._call("POST", f"{self._path}/deploy", body, timeout=timeout)
        if wait:
            deadline = time.monotonic() + timeout
            while status.get("state") != "ready":
                if time.monotonic() > deadline:
                    raise LastmileTimeout(f"{self} is not ready after {timeout} s (state: {status.get('state')})")
                time.sleep(0.25)
                status = self.status()
        return status  # type: ignore[no-any-return]

    def undeploy(self) -> None:
        """Undeploy (queued requests are answered first)."""
        self.client._call("POST", f"{self._path}/undeploy")

    def status(self) -> Record:
        """The deployment: version, models, backend in use, replicas, queue, batching."""
        return self.client._call("GET", f"{self._path}/deployment")  # type: ignore[no-any-return]

    def _input_name(self) -> Optional[str]:
        """The deployed version's only input, for an ndarray (None when it has several)."""
        status = self.status()
        key = str(status["pipeline_version"])
        if key not in self._single_input:
            name, _, version = str(status["models"][0]).rpartition(":")
            mv = self.client._call("GET", f"{self.workspace._path}/models/{_q(name, safe='')}/versions/{version}")
            inputs = mv.get("inputs") or []
            self._single_input[key] = inputs[0]["name"] if len(inputs) == 1 else None
        return self._single_input[key]

    def infer(
        self,
        data: Any,
        timeout: Optional[float] = None,
        dataset: Optional[str] = None,
        chunk_rows: int = 10_000,
        request_id: Optional[str] = None,
    ) -> Any:
        """Score rows. The answer follows the input: a DataFrame gives a DataFrame (same index and
        row order; columns ``time``, ``in.*``, ``out.*``, ``check_failures``), records give records,
        a dict of columns a dict of columns, an ndarray (one-input pipelines) the output's ndarray
        (a dict of them when there are several outputs). More than ``chunk_rows`` rows go as
        several requests, one after another, answered as one. ``dataset``: another Wallaroo
        ``dataset`` query instead of the default columns.

        ``request_id``: the id the inference log keeps with these rows (the ``X-Request-Id``
        header), which ``feedback`` names them by: ``{"id": request_id, "row": i}``, ``i`` the
        row's place in ``data``. The rows must then go as one request (at most ``chunk_rows``),
        else LastmileError before anything is sent: a second request would number its rows from
        0 again. The id is printable ASCII (what a header carries unchanged), at most 256 bytes."""
        np = _frames.optional("numpy")
        single = self._input_name() if np is not None and isinstance(data, np.ndarray) else None
        pieces = [_frames.encode(part, single) for part in _frames.chunks(data, chunk_rows)]
        if request_id is not None and not _HEADER_TEXT.fullmatch(request_id):
            raise LastmileError(
                f"request_id= travels in the X-Request-Id header: printable ASCII, no spaces at either end, not {request_id!r}"
            )
        if request_id is not None and len(pieces) > 1:
            raise LastmileError(
                f"request_id= names one request, and these rows need {len(pieces)} of chunk_rows={chunk_rows}: "
                "pass a larger chunk_rows, or fewer rows per request id"
            )
        headers = None if request_id is None else {"x-request-id": request_id}
        path = f"{self._path}/infer?{dataset or _DATASET}"
        answers = [
            _frames.decode(
                self.client._raw(
                    "POST", path, body=rows.body, content_type=RECORDS_TYPE, timeout=timeout, extra_headers=headers
                ).json(),
                rows,
            )
            for rows in pieces
        ]
        return answers[0] if len(answers) == 1 else _frames.join(answers)

    def infer_file(
        self,
        path: Union[str, os.PathLike],  # type: ignore[type-arg]
        output: Union[str, os.PathLike, None] = None,  # type: ignore[type-arg]
        format: Optional[str] = None,
        output_format: Optional[str] = None,
        features: Optional[Sequence[str]] = None,
        max_error_share: Optional[float] = None,
        progress: bool = True,
        wait: bool = True,
        timeout: Optional[float] = None,
    ) -> "Job":
        """Score a file (CSV, JSON lines, Arrow or Parquet; ``format`` from the extension when not
        given) as a batch job, streamed up. With ``wait``, shows progress (tqdm when installed) until
        it ends, and writes the result to ``output`` when given (``output_format``: another format).
        Returns the job: ``.status``, ``.errors``, ``.download()``, ``.dataframe()``."""
        fmt = format or _JOB_FORMATS.get(os.path.splitext(str(path))[1].lower())
        if fmt is None:
            raise LastmileError(f"cannot tell the format of {path}: pass format= one of csv, jsonl, arrow, parquet")
        query = _query(
            format=fmt,
            features=",".join(features) if features else None,
            max_error_share=max_error_share,
        )
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            answer = self.client._raw(
                "POST", f"{self._path}/jobs{query}", body=f, content_type=BYTES_TYPE, length=size, timeout=timeout
            )
        job = Job(self.client, _record(answer.json()))
        if wait:
            job.wait(timeout=timeout, progress=progress)
            if output is not None:
                job.download(output, format=output_format)
        return job

    def logs(
        self,
        start: When = None,
        end: When = None,
        limit: Optional[int] = None,
        columns: Optional[Sequence[str]] = None,
        page_size: int = 10_000,
    ) -> Any:
        """The inference log between ``start`` and ``end`` (datetimes, ISO strings or ms), every
        page followed, at most ``limit`` rows: a DataFrame (``time`` as datetimes) when pandas is
        installed, else records."""
        path: Optional[str] = self._path + "/logs" + _query(
            start=_when(start),
            end=_when(end),
            columns=",".join(columns) if columns else None,
            limit=min(page_size, limit) if limit else page_size,
            format="json",
        )
        rows: List[Dict[str, Any]] = []
        while path and (limit is None or len(rows) < limit):
            answer = self.client._raw("GET", path)
            rows.extend(answer.json())
            path = _next_link(answer.headers.get("link"))
        rows = rows[:limit] if limit is not None else rows
        return _frames.frame(rows) if _frames.optional("pandas") is not None else rows

    # Objectives
    def slo(self) -> Record:
        """The deployed version's objectives: attainment, error budget left, burn rates, alerts firing."""
        return self.client._call("GET", f"{self._path}/slo")  # type: ignore[no-any-return]

    def slo_chart(self, objective: Optional[str] = None, arm: Optional[str] = None) -> Svg:
        return Svg(self.client._raw("GET", f"{self._path}/slo/chart.svg{_query(objective=objective, arm=arm)}").text())

    def slo_rules(self, format: str = "prometheus") -> str:
        """Prometheus rules equivalent to the built-in alerts (YAML)."""
        return self.client._raw("GET", f"{self._path}/slo/rules{_query(format=format)}").text()

    # Explanations
    def explain(
        self,
        method: str,
        rows: Any = None,
        reference: Any = None,
        progress: bool = True,
        timeout: Optional[float] = None,
        **params: Any,
    ) -> Any:
        """Explain the deployed pipeline: ``method`` is ``permutation`` or ``pdp`` (global, over
        ``reference``) or ``kernel_shap`` / ``permutation_shap`` (local, for ``rows``).
        ``reference``: rows (DataFrame or records) or ``{"start", "end", "limit"}`` of the log; the
        other parameters (``output``, ``nsamples``, ``target``, …) as in the README. Runs as a job
        with progress; answers a DataFrame (importances; PDP points; attributions, one column per
        feature) with the full report in ``.attrs["report"]``, or the report without pandas."""
        body: Dict[str, Any] = {"method": method, **params}
        if rows is not None:
            body["rows"] = _records(rows)
        if reference is not None:
            body["reference"] = reference if isinstance(reference, dict) and "start" in reference else {"rows": _records(reference)}
        job = self.client._call("POST", f"{self._path}/explain?async=true", body)
        path = f"{self.workspace._path}/explanations/{_q(str(job['id']), safe='')}"
        step = _progress(progress, 100.0, f"explain {method}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while job["status"] == "running":
            step(float(job.get("progress") or 0), f"{job.get('evaluated_rows', 0)} model rows")
            if deadline is not None and time.monotonic() > deadline:
                raise LastmileTimeout(f"explanation {job['id']} still running after {timeout} s")
            time.sleep(0.2)
            job = self.client._call("GET", path)
        if job["status"] != "succeeded":
            raise LastmileError(f"explanation {job['id']} failed: {job.get('error')}")
        step(1.0, "done")
        report = Record(job["report"])
        return _report_frame(report) if _frames.optional("pandas") is not None else report


def _records(data: Any) -> List[Dict[str, Any]]:
    """Rows (a DataFrame, records, a dict of columns) as the records an inference body would carry."""
    return json.loads(_frames.encode(data).body)  # type: ignore[no-any-return]


def _report_frame(report: Record) -> Any:
    """An explanation report as a table: one row per feature (permutation), per feature and grid
    point (pdp), or per explained row with a column per feature (SHAP)."""
    pd = _frames.require_pandas("an explanation table")
    method = report["method"]
    if method == "permutation":
        df = pd.DataFrame(
            [{k: i[k] for k in ("feature", "importance_mean", "importance_std")} for i in report["importances"]]
        )
    elif method == "pdp":
        df = pd.DataFrame(
            [
                {"feature": c["feature"], "grid": g, "pdp": p}
                for c in report["curves"]
                for g, p in zip(c["grid"], c["pdp"])
            ]
        )
    else:
        df = pd.DataFrame(
            [dict(zip(report["features"], r["attributions"])) for r in report["rows"]],
            index=pd.Index([r["row"] for r in report["rows"]], name="row"),
        )
        df.insert(0, "prediction", [r["prediction"] for r in report["rows"]])
        df.insert(1, "base_value", report["base_value"])
    df.attrs["report"] = report
    return df


_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _next_link(header: Optional[str]) -> Optional[str]:
    """The path of a ``Link: <…>; rel="next"`` header (relative or absolute)."""
    m = _LINK.search(header or "")
    if not m:
        return None
    url = urllib.parse.urlsplit(m.group(1))
    return url.path + (f"?{url.query}" if url.query else "")


class Job:
    """A batch job: ``status`` (queued, running, succeeded, failed, cancelled), ``rows_done``,
    ``progress``, ``errors`` (the first bad rows), and its result once it has succeeded."""

    def __init__(self, client: Client, info: Dict[str, Any]):
        self.client = client
        self.info = Record(info)
        self.id = str(info["id"])

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["info"][key]
        except KeyError:
            raise AttributeError(key) from None

    def __repr__(self) -> str:
        return f"<lastmile job {self.id} {self.info.get('status')} {self.info.get('rows_done')} rows>"

    def _repr_html_(self) -> str:
        return self.info._repr_html_()

    def refresh(self) -> "Job":
        self.info = Record(self.client._call("GET", f"/v1/jobs/{_q(self.id, safe='')}"))
        return self

    def wait(self, timeout: Optional[float] = None, progress: bool = True, poll: float = 0.25) -> "Job":
        """Wait until the job ends (progress shown); raises LastmileError if it failed or was
        cancelled, LastmileTimeout after ``timeout`` seconds."""
        step = _progress(progress, 100.0, f"job {self.id[:8]}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.info["status"] in ("queued", "running"):
            step(float(self.info.get("progress") or 0), f"{self.info.get('rows_done', 0)} rows")
            if deadline is not None and time.monotonic() > deadline:
                raise LastmileTimeout(f"job {self.id} still {self.info['status']} after {timeout} s")
            time.sleep(poll)
            self.refresh()
        if self.info["status"] != "succeeded":
            raise LastmileError(f"job {self.id} {self.info['status']}: {self.info.get('error')}")
        step(1.0, f"{self.info.get('rows_done', 0)} rows")
        return self

    def download(self, path: Union[str, os.PathLike], format: Optional[str] = None) -> None:  # type: ignore[type-arg]
        """Write the scored file (``format``: csv, jsonl, arrow or parquet; default the input's)."""
        answer = self.client._raw("GET", f"/v1/jobs/{_q(self.id, safe='')}/result{_query(format=format)}")
        with open(path, "wb") as f:
            f.write(answer.body)

    def dataframe(self) -> Any:
        """The result as a DataFrame (fetched as JSON lines; no pyarrow needed)."""
        pd = _frames.require_pandas("a job result as a DataFrame")
        answer = self.client._raw("GET", f"/v1/jobs/{_q(self.id, safe='')}/result?format=jsonl")
        lines = answer.text().splitlines()
        return pd.DataFrame(_frames.columns_of([json.loads(line) for line in lines if line]))

    def cancel(self) -> None:
        """Cancel an active job, or delete a finished one."""
        self.client._call("DELETE", f"/v1/jobs/{_q(self.id, safe='')}")


class Assay:
    """A drift assay: its definition, its window results and charts."""

    def __init__(self, workspace: Workspace, info: Dict[str, Any]):
        self.workspace = workspace
        self.info = Record(info)
        self.id = info["id"]
        self._path = f"{workspace._path}/assays/{self.id}"

    def __repr__(self) -> str:
        return f"<lastmile assay {self.id} {self.info.get('name')!r} on {self.info.get('iopath')}>"

    def _repr_html_(self) -> str:
        return self.info._repr_html_()

    def run(self, start: When, end: When) -> Any:
        """Score every window that fits in [start, end) now (a backfill)."""
        return self.workspace.client._call("POST", f"{self._path}/run", {"start": _when(start), "end": _when(end)})

    def results(self, start: When = None, end: When = None) -> Any:
        """The stored window results: a DataFrame (``window_start``, ``score``, ``status``, …) with pandas, else records."""
        rows = self.workspace.client._call("GET", f"{self._path}/results{_query(start=_when(start), end=_when(end))}")
        if _frames.optional("pandas") is None:
            return rows
        return _frames.frame(rows, time_columns=("window_start", "window_end"))

    def chart(self, kind: str = "scores", window_start: When = None) -> Svg:
        """Score over time with thresholds (``scores``) or baseline vs window bins (``bins``)."""
        query = _query(kind=kind, window_start=_when(window_start))
        return Svg(self.workspace.client._raw("GET", f"{self._path}/chart.svg{query}").text())

    def delete(self) -> None:
        self.workspace.client._call("DELETE", self._path)
