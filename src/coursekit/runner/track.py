"""Record stored runs in MLflow, so ``mlflow ui`` compares runs across chapters.

Why MLflow: a run of this book is a notebook with parameters, curves, numbers and
files, and MLflow's tracking keeps all four (parameters, metrics with steps, artifacts)
in one local store that its UI compares side by side; TensorBoard keeps the curves but
not the parameters' table or the executed notebook. It is an optional extra
(``pip install mlflow``, or ``mlflow-skinny sqlalchemy alembic`` for tracking without the
UI): nothing else in coursekit imports it.

Each run becomes one MLflow run in the experiment ``coursekit`` of the local store
``_build/mlflow/mlflow.db`` (artifacts in ``_build/mlflow/artifacts``), named
``<chapter> <run id>`` and tagged with chapter, profile, status and key:

- parameters: every parameter of the run, as text;
- metrics: the curves of ``epochs.json`` (``<variant>/<name>`` at step ``epoch``), the
  reproduced numbers of the comparison table (``<experiment>/<variant>/<metric>``),
  the claims that hold and are tested, and the run's seconds;
- artifacts: the executed notebook, ``record.json``, ``epochs.json`` and the figures.

Open it with ``mlflow ui --backend-store-uri sqlite:///_build/mlflow/mlflow.db``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .errors import RunnerError
from .store import StoredRun

__all__ = ["EXPERIMENT", "tracking_uri", "track_run"]

EXPERIMENT = "coursekit"
_ARTIFACTS = ("*.ipynb", "record.json", "epochs.json", "*.png", "*.svg")


def tracking_uri(root: Path) -> str:
    """The local store: ``sqlite:///<root>/_build/mlflow/mlflow.db``."""
    return f"sqlite:///{(root / '_build' / 'mlflow' / 'mlflow.db').resolve()}"


def _mlflow():
    try:
        import mlflow
    except ImportError as exc:
        raise RunnerError(
            "--track needs MLflow: pip install mlflow (or, without its UI, "
            "pip install mlflow-skinny sqlalchemy alembic)") from exc
    return mlflow


def _key(*parts: Any) -> str:
    """An MLflow metric name: letters, digits and ``_-. /`` only.

    >>> _key("A1", "LeNet", "test accuracy (%)")
    'A1/LeNet/test accuracy'
    """
    return "/".join(" ".join(re.sub(r"[^\w\-. ]+", " ", str(p)).split()) or "_"
                    for p in parts)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _metrics(run: StoredRun) -> tuple[list[tuple[str, float, int]], dict[str, float]]:
    """(name, value, step) of every curve point, and the run's final numbers."""
    try:
        epochs = json.loads((run.folder / "epochs.json").read_text("utf-8"))
    except (OSError, ValueError):
        epochs = []
    curves = []
    for row in epochs:
        step = int(row.get("epoch", 0))
        for name, value in row.items():
            if name not in ("run", "epoch") and _number(value) is not None:
                curves.append((_key(row.get("run", "run"), name), float(value), step))
    record = run.record()
    final = {"seconds": run.seconds}
    for row in record.get("comparison") or []:
        value = _number(row.get("reproduced"))
        if value is not None and row.get("metric"):
            final[_key(row.get("experiment", run.chapter), row.get("variant", "-"),
                       row["metric"])] = value
    claims = record.get("claims") or []
    tested = [c for c in claims if c.get("verdict") in ("holds", "does not hold")]
    if tested:
        final["claims_hold"] = float(sum(c["verdict"] == "holds" for c in tested))
        final["claims_tested"] = float(len(tested))
    return curves, final


def track_run(root: Path, run: StoredRun, uri: str | None = None) -> str:
    """Log ``run`` to MLflow (see the module docstring); returns the MLflow run id.

    Raises:
        RunnerError: when MLflow is not installed.
    """
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.tracking.MlflowClient(uri or tracking_uri(root))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        EXPERIMENT, artifact_location=(root / "_build" / "mlflow" / "artifacts"
                                       ).resolve().as_uri())
    tags = {"chapter": run.chapter, "profile": run.profile, "status": run.status,
            "coursekit.run_id": run.id, "coursekit.key": run.key,
            "mlflow.runName": f"{run.chapter} {run.id}"}
    tracked = client.create_run(experiment_id, run_name=tags["mlflow.runName"])
    run_id = tracked.info.run_id
    curves, final = _metrics(run)
    stamp = int(run.meta.get("started_at", 0) * 1000)
    metrics = [Metric(k, v, stamp, step) for k, v, step in curves]
    metrics += [Metric(k, v, stamp, 0) for k, v in final.items()]
    params = [Param(k, str(v)[:6000]) for k, v in run.params.items()]
    for start in range(0, max(len(metrics), 1), 900):  # MLflow takes 1,000 per batch
        client.log_batch(run_id, metrics=metrics[start:start + 900],
                         params=params if start == 0 else [],
                         tags=[RunTag(k, str(v)) for k, v in tags.items()]
                         if start == 0 else [])
    for pattern in _ARTIFACTS:
        for path in sorted(run.folder.glob(pattern)):
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED" if run.ok else "FAILED")
    return run_id
