"""Fine-tuning jobs of the fake service: their state machine, and the workspace models they register."""

from __future__ import annotations

import json
from typing import Any

from tests.bot.backends.fake_azure.state import ServiceState
from tests.bot.backends.fake_azure.wire import (
    JOB_PROGRESS,
    WS_PATH,
    FakeNotFound,
    Recorded,
    Reply,
    error_body,
    now,
)


class JobRoutes(ServiceState):
    """``/jobs`` and ``/models`` of the workspace; ``advance()`` moves jobs through ``_step_job``."""

    def _step_job(self, name: str, job: dict[str, Any]) -> None:
        props = job["properties"]
        status = props["status"]
        if status == "CancelRequested":
            props["status"] = "Canceled"
            return
        if status in ("Completed", "Failed", "Canceled"):
            return
        if status == "Running" and name in self.slow_jobs:
            return
        if status == "Running":
            base = props["properties"].get("azureml.ModelName", "")
            reason = self.job_errors.get(name) or self.fail_models.get(base)
            if reason:
                props["status"] = "Failed"
                self.job_errors[name] = reason
                return
            props["status"] = "Completed"
            props["properties"]["EndTimeUtc"] = now()
            out = props["outputs"]["registered_model"]["assetName"]
            self._register_model(out, job_name=name)
            return
        props["status"] = JOB_PROGRESS[JOB_PROGRESS.index(status) + 1]

    def _register_model(self, name: str, *, job_name: str) -> None:
        entry = self.models.setdefault(name, {"archived": False, "versions": {}})
        entry["archived"] = False
        version = str(len(entry["versions"]) + 1)
        entry["versions"][version] = {
            "id": f"{WS_PATH}/models/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
            "properties": {
                "flavors": {},
                "tags": {},
                "properties": {},
                "jobName": job_name,
                "isArchived": False,
                "modelType": "mlflow_model",
                "modelUri": f"azureml://jobs/{job_name}/outputs/registered_model",
            },
            "systemData": {"createdAt": now(), "lastModifiedAt": now()},
        }

    # ---- jobs ----------------------------------------------------------------------------------------------
    def _job_or_404(self, name: str) -> dict[str, Any]:
        if name not in self.jobs:
            raise FakeNotFound(f"Could not find job {name}")
        return self.jobs[name]

    def _jobs(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest:
            return Reply(200, {"value": list(self.jobs.values())})
        name = rest[0]
        if len(rest) == 2 and rest[1] == "cancel" and r.method == "POST":
            job = self._job_or_404(name)
            if job["properties"]["status"] not in ("Completed", "Failed", "Canceled"):
                job["properties"]["status"] = "CancelRequested"
            return Reply(202)
        if r.method == "GET":
            return Reply(200, self._job_or_404(name))
        if r.method == "PUT":
            if name in self.jobs:
                return Reply(409, error_body("UserError", f"Job {name} already exists", "Conflict"))
            self.jobs[name] = self._new_job(name, r.body["properties"])
            return Reply(201, self.jobs[name], {"Location": r.url})
        raise FakeNotFound(f"no route for {r.method} {r.path}")

    def _new_job(self, name: str, props: dict[str, Any]) -> dict[str, Any]:
        details = json.loads(json.dumps(props["fineTuningDetails"]))
        model_uri = details["model"]["uri"]
        base_name = model_uri.split("/models/")[1].split("/")[0] if "/models/" in model_uri else model_uri
        task = details.get("taskType", "")
        details["taskType"] = task[:1].upper() + task[1:]
        for key in ("trainingData", "validationData", "model"):
            if details.get(key):
                details[key].update({"description": None, "mode": "ReadOnlyMount"})
        out = props["outputs"]["registered_model"]["assetName"]
        service_props = dict(props.get("properties") or {})
        service_props.update(
            {
                "PipelineType": "FineTuning",
                "original_model_id": model_uri,
                "azureml.ModelName": base_name,
                "azureml.PipelineType": "FineTuning",
                "_fineTuningJobType": "MaaS",
                "_outputModelName": out,
                "StartTimeUtc": now(),
            }
        )
        return {
            "id": f"{WS_PATH}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "description": props.get("description"),
                "tags": dict(props.get("tags") or {}),
                "properties": service_props,
                "displayName": props.get("displayName"),
                "status": "NotStarted",
                "experimentName": props.get("experimentName"),
                "services": None,
                "computeId": None,
                "isArchived": False,
                "jobType": "FineTuning",
                "fineTuningDetails": details,
                "queueSettings": None,
                "outputs": {
                    "registered_model": {
                        "description": None,
                        "uri": None,
                        "assetName": out,
                        "mode": "ReadWriteMount",
                        "jobOutputType": "mlflow_model",
                    }
                },
            },
            "systemData": {"createdAt": now(), "createdBy": "ftbot", "createdByType": "User"},
        }

    # ---- workspace models ----------------------------------------------------------------------------------
    def _models(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest:
            raise FakeNotFound("model list is not faked")
        name = rest[0]
        entry = self.models.get(name)
        if len(rest) == 1:  # container
            if entry is None:
                raise FakeNotFound(f"Model container {name} not found")
            if r.method == "PUT":
                entry["archived"] = bool(r.body["properties"].get("isArchived"))
            return Reply(
                200,
                {
                    "id": f"{WS_PATH}/models/{name}",
                    "name": name,
                    "properties": {
                        "isArchived": entry["archived"],
                        "latestVersion": str(len(entry["versions"])),
                        "tags": {},
                        "properties": {},
                    },
                    "systemData": {"createdAt": now()},
                },
            )
        if len(rest) == 2 and rest[1] == "versions":
            if entry is None or entry["archived"]:
                return Reply(200, {"value": []})
            versions = sorted(entry["versions"].values(), key=lambda v: int(v["name"]), reverse=True)
            top = int(r.query.get("$top", len(versions)))
            return Reply(200, {"value": versions[:top]})
        if len(rest) == 3 and rest[1] == "versions":
            if entry is None or rest[2] not in entry["versions"]:
                raise FakeNotFound(f"Model {name}:{rest[2]} not found")
            return Reply(200, entry["versions"][rest[2]])
        raise FakeNotFound(f"no route for {r.path}")
