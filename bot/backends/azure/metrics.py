"""A fine-tuning job's training metrics (loss, token accuracy per step), read from its MLflow run.

Serverless fine-tuning logs its metrics to the project's MLflow tracking server, from a child run of the
job's run. Reading them needs the optional extra ``mlflow`` (azureml-mlflow); without it, or before the
service reports anything, the job carries a note pointing at its studio page instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from commands.models import JobState, MetricPoint

logger = logging.getLogger(__name__)

MetricsReader = Callable[[str], Sequence[MetricPoint]]

#: MLflow metric names the service logs → ``MetricPoint`` fields
_COLUMNS = {
    "train_loss": "train_loss",
    "loss": "train_loss",
    "train_mean_token_accuracy": "train_mean_token_accuracy",
    "eval_loss": "valid_loss",
    "valid_loss": "valid_loss",
    "validation_loss": "valid_loss",
    "eval_mean_token_accuracy": "valid_mean_token_accuracy",
    "valid_mean_token_accuracy": "valid_mean_token_accuracy",
}


class MetricsUnavailable(Exception):
    """Raised by a metrics reader that cannot read metrics here (e.g. azureml-mlflow is not installed)."""


class MlflowMetrics:
    """The default ``MetricsReader``: the job's MLflow run and its child runs. ``tracking_uri`` is called
    on each read (the workspace's MLflow tracking URI, looked up once by the project)."""

    def __init__(self, tracking_uri: Callable[[], str | None]) -> None:
        self._tracking_uri = tracking_uri

    def __call__(self, name: str) -> list[MetricPoint]:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as e:
            raise MetricsUnavailable(
                "Training metrics need azureml-mlflow, which is not installed (pip install 'ftbot[mlflow]')."
            ) from e
        tracking_uri = self._tracking_uri()
        if not tracking_uri:
            raise MetricsUnavailable("This project has no MLflow tracking URI.")
        client = MlflowClient(tracking_uri=tracking_uri)
        runs = [name]
        try:  # serverless fine-tuning logs from a child run; look at the job's run and its children
            children = client.search_runs(
                experiment_ids=[client.get_run(name).info.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{name}'",
            )
            runs += [r.info.run_id for r in children]
        except Exception:
            logger.debug("no child runs for %s", name, exc_info=True)
        rows: dict[int, dict[str, float]] = {}
        for run_id in runs:
            for key, column in _COLUMNS.items():
                try:
                    history = client.get_metric_history(run_id, key)
                except Exception:  # the metric is not logged by this run
                    logger.debug("no metric %s in run %s", key, run_id)
                    continue
                for point in history:
                    rows.setdefault(int(point.step), {}).setdefault(column, float(point.value))
        return [MetricPoint(step=s, **values) for s, values in sorted(rows.items())]


def job_metrics(
    reader: MetricsReader, name: str, state: JobState, studio_url: str | None
) -> tuple[list[MetricPoint], str | None]:
    """The job's metric points, or none and a note saying why (with the studio page, when known)."""
    where = f" See the job's studio page: {studio_url}" if studio_url else ""
    if state in (JobState.PENDING, JobState.QUEUED):
        return [], "Training has not started yet."
    try:
        points = list(reader(name))
    except MetricsUnavailable as e:
        return [], f"{e}{where}"
    except Exception:
        logger.warning("could not read metrics of job %s", name, exc_info=True)
        return [], f"Training metrics could not be read from Azure.{where}"
    if not points:
        return [], f"Azure has not reported training metrics for this job.{where}"
    return points, None
