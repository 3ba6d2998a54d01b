"""A pipeline's model optimization calls (README "Model optimization"): outcome settings and
feedback, outcome metrics, champion vs challenger and the promotion rule, training sets, and
measured tuning. :class:`lastmile.Pipeline` has them all; this module keeps client.py readable."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _frames
from ._common import Record, When, _progress, _q, _query, _when
from ._http import JSON_TYPE, LastmileError, LastmileTimeout

# The most rows the server takes in one feedback request.
MAX_FEEDBACK_ROWS = 100_000


def _when_json(t: When) -> Union[str, int, float]:
    """A time for a JSON body: a datetime as ms since the epoch (UTC without a zone), else as given."""
    if isinstance(t, _dt.datetime):
        return int(_when(t))  # type: ignore[arg-type]
    if t is None:
        raise LastmileError("a time is needed: a datetime, an ISO 8601 string or ms since the epoch")
    return t


class ModelOptimization:
    """The calls of README "Model optimization", mixed into :class:`lastmile.Pipeline`."""

    client: Any
    workspace: Any
    _path: str

    # Ground truth
    def set_outcome_settings(
        self,
        task: str,
        output: str,
        labels: Optional[Sequence[str]] = None,
        key: Optional[str] = None,
        retraining: Optional[Dict[str, Any]] = None,
    ) -> Record:
        """Say what the predictions are: ``task`` (``classification`` or ``regression``), the
        ``output`` holding them, a classifier's class ``labels``, the request input ``key`` to join
        feedback on instead of the request id, and when to export training sets (``retraining``)."""
        body: Dict[str, Any] = {"task": task, "output": output}
        for k, v in (("labels", list(labels) if labels is not None else None), ("key", key), ("retraining", retraining)):
            if v is not None:
                body[k] = v
        return self.client._call("PUT", f"{self._path}/outcomes", body)  # type: ignore[no-any-return]

    def outcome_settings(self) -> Record:
        return self.client._call("GET", f"{self._path}/outcomes")  # type: ignore[no-any-return]

    def delete_outcome_settings(self) -> None:
        self.client._call("DELETE", f"{self._path}/outcomes")

    def feedback(self, outcomes: Any, chunk_rows: int = MAX_FEEDBACK_ROWS) -> Record:
        """Send actual outcomes: a DataFrame or a list of dicts with ``id`` (the request id given to
        ``infer``), ``row`` (the row's index in that request, 0 when left out) and ``outcome`` (a
        label, a class index or a regressor's value), or ``key`` and ``outcome`` when the settings
        join on a key. Sent as JSON written by Python's ``json`` (every float64 exactly); a missing
        value is left out. Answers ``{"accepted", "updated"}``. Each request is all or nothing (a bad
        row is an ApiError naming it); more than ``chunk_rows`` rows go as several requests."""
        if chunk_rows < 1:
            raise LastmileError(f"chunk_rows must be at least 1, not {chunk_rows}")
        items = _frames.feedback_records(outcomes)
        total = Record(accepted=0, updated=0)
        for i in range(0, max(len(items), 1), chunk_rows):
            body = json.dumps({"outcomes": items[i : i + chunk_rows]}, separators=(",", ":")).encode("utf-8")
            answer = self.client._raw("POST", f"{self._path}/feedback", body=body, content_type=JSON_TYPE).json()
            total["accepted"] += answer["accepted"]
            total["updated"] += answer["updated"]
        return total

    def outcome_metrics(self, start: When = None, end: When = None, window: Optional[float] = None) -> Record:
        """Outcome metrics per window of ``window`` seconds, pipeline version and arm: the realized
        ones over the rows with an outcome (accuracy, AUC, log loss, calibration; MAE, RMSE, bias;
        each with its interval) beside the estimate made before outcomes arrived (classifiers)."""
        query = _query(start=_when(start), end=_when(end), window=window)
        return self.client._call("GET", f"{self._path}/outcomes/metrics{query}")  # type: ignore[no-any-return]

    # Champion vs challenger
    def challengers(self, version: Optional[int] = None, start: When = None, end: When = None) -> Record:
        """The contest of ``version`` (the deployed one by default): metrics per arm with intervals,
        latency, the drift between the arms' predictions and the sequential test."""
        query = _query(version=version, start=_when(start), end=_when(end))
        return self.client._call("GET", f"{self._path}/challengers{query}")  # type: ignore[no-any-return]

    def deploy_challenger(self, model: str, mode: str = "shadow", weight: Optional[float] = None) -> Record:
        """Put ``model`` (``name`` or ``name:version``) beside the deployed model as a ``shadow``
        or a ``canary`` with ``weight`` percent of the rows: a new version, hot-swapped in."""
        body: Dict[str, Any] = {"model": model, "mode": mode}
        if weight is not None:
            body["weight"] = weight
        return self.client._call("POST", f"{self._path}/challenger", body)  # type: ignore[no-any-return]

    def set_promotion_rule(self, **rule: Any) -> Record:
        """Set the promotion rule (``confidence``, ``metric``, ``tau``, ``min_samples``,
        ``interval_s``, ``rollback_on``, ``action``, ``auto_challenger``, ``webhooks``, ``champion``,
        ``challenger``: the README's table); answers it with its defaults filled in."""
        return self.client._call("PUT", f"{self._path}/promotion", rule)  # type: ignore[no-any-return]

    def promotion_rule(self) -> Record:
        """The rule and its latest evaluation."""
        return self.client._call("GET", f"{self._path}/promotion")  # type: ignore[no-any-return]

    def delete_promotion_rule(self) -> None:
        self.client._call("DELETE", f"{self._path}/promotion")

    def decisions(self, limit: Optional[int] = None, before: Optional[int] = None) -> List[Record]:
        """The rule's decisions (promotions, rollbacks) with their evidence, newest first: at most
        ``limit``, older than decision id ``before``."""
        return self.client._call("GET", f"{self._path}/decisions{_query(limit=limit, before=before)}")  # type: ignore[no-any-return]

    # Training sets
    def export_training_set(self, start: When, end: When, wait: bool = True, timeout: float = 300.0) -> Record:
        """Export ``[start, end)`` of the log joined with its outcomes as a Parquet training set.
        With ``wait`` (the default), returns its record once written (``rows``, ``labeled_rows``,
        ``schema``, …), raising LastmileError if it failed and LastmileTimeout after ``timeout``
        seconds; without, the record of the running export."""
        body = {"start": _when_json(start), "end": _when_json(end)}
        record: Record = self.client._call("POST", f"{self._path}/training-sets", body)
        deadline = time.monotonic() + timeout
        while wait and record.get("status") == "running":
            if time.monotonic() > deadline:
                raise LastmileTimeout(f"training set {record['file']} still running after {timeout} s")
            time.sleep(0.25)
            record = next((r for r in self.training_sets() if r.get("file") == record["file"]), record)
        if wait and record.get("status") == "failed":
            raise LastmileError(f"training set {record['file']} failed: {record.get('error')}")
        return record

    def training_sets(self) -> List[Record]:
        """The pipeline's training sets, newest first."""
        return self.client._call("GET", f"{self._path}/training-sets")  # type: ignore[no-any-return]

    def download_training_set(self, file: str, path: Union[str, os.PathLike]) -> None:  # type: ignore[type-arg]
        """Write training set ``file`` (its name in ``training_sets()``) to ``path``, streamed: the
        file appears whole (written as ``<path>.part``, then renamed) or not at all."""
        part = f"{os.fspath(path)}.part"
        try:
            with open(part, "wb") as f:
                self.client._raw("GET", f"{self._path}/training-sets/{_q(file, safe='')}", sink=f)
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.remove(part)

    # Measured tuning
    def optimize(
        self,
        apply: bool = False,
        wait: bool = True,
        timeout: Optional[float] = None,
        progress: Union[bool, Callable[[Record], None]] = True,
        poll: float = 0.5,
        **options: Any,
    ) -> Record:
        """Measure the deployed pipeline over backends, batch sizes, queue delays, threads, GPU
        paths (``webgpu`` only) and graph optimization levels, and recommend the settings with the
        most rows/s under a p99 target. ``options`` are the request's fields (``target_p99_ms``,
        ``backends``, ``batch_sizes``, ``queue_delays_ms``, ``threads``, ``graph_optimizations``,
        ``gpu_paths``, ``search``, ``budget_s``, ``window_ms``, …); ``apply``: redeploy with the
        recommendation at the end.
        With ``wait`` (the default), follows the run (progress: points measured, tqdm when
        installed, or a callable given each polled run) until it ends and returns it, its
        ``report`` holding the table and the recommendation; raises LastmileError if it failed,
        LastmileTimeout after ``timeout`` seconds (the server bounds a run by its budget)."""
        run: Record = self.client._call("POST", f"{self._path}/optimize{_query(apply='true' if apply else None)}", options)
        if not wait:
            return run
        show = progress if callable(progress) else None
        step = _progress(progress is True, 100.0, f"optimize {run['id']}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while run["status"] == "running":
            if show is not None:
                show(run)
            step(run["measured_points"] / max(run["max_points"], 1), f"{run['measured_points']} points")
            if deadline is not None and time.monotonic() > deadline:
                raise LastmileTimeout(f"tuning run {run['id']} still running after {timeout} s")
            time.sleep(poll)
            run = self.workspace.optimization(run["id"])
        if show is not None:
            show(run)
        if run["status"] != "succeeded":
            raise LastmileError(f"tuning run {run['id']} {run['status']}: {run.get('error')}")
        step(1.0, f"{run['measured_points']} points")
        return run

    def optimizations(self, limit: Optional[int] = None) -> List[Record]:
        """The pipeline's tuning runs, newest first."""
        return self.client._call("GET", f"{self._path}/optimizations{_query(limit=limit)}")  # type: ignore[no-any-return]
