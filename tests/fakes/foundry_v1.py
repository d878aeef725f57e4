"""The v1 data plane of the fake Azure OpenAI resource (``/openai/v1/…``): models, files, fine-tuning
jobs with events and checkpoints, chat completions on deployments (whole, or streamed as server-sent events
with ``stream: true``), model deletion."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.bot.backends.fake_azure.wire import Reply
from tests.fakes.foundry import _err, multipart
from tests.support.sse import SSE_HEADERS, chat_chunks, sse

if TYPE_CHECKING:
    from tests.fakes.foundry import FakeFoundry

TERMINAL = ("succeeded", "failed", "cancelled")
#: the content filter's results on every answer
SAFE = {"hate": {"filtered": False, "severity": "safe"}}


def _page(items: list[dict[str, Any]], query: Mapping[str, str], default: int = 20) -> dict[str, Any]:
    """A cursor page: ``after`` an id, ``limit`` items, ``has_more``."""
    start = 0
    after = query.get("after")
    if after:
        ids = [i["id"] for i in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    limit = int(query.get("limit", default))
    chunk = items[start : start + limit]
    return {"object": "list", "data": chunk, "has_more": start + limit < len(items)}


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


class DataPlane:
    def __init__(self, fake: FakeFoundry) -> None:
        self.fake = fake

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        with self.fake.lock:
            return self._route(method, path.rstrip("/"), query, headers, body)

    def _route(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        if method == "GET" and path == "/models":
            return Reply(200, {"object": "list", "data": self.fake.models})
        if method == "DELETE" and path.startswith("/models/"):
            return self._delete_model(path.removeprefix("/models/"))
        if path == "/files":
            if method == "POST":
                return self._upload(headers.get("content-type", ""), body)
            files = [
                f for f in self.fake.files.values() if f["purpose"] == query.get("purpose", f["purpose"])
            ]
            return Reply(200, {**_page([_public(f) for f in files], query, 10000), "first_id": None})
        match = re.fullmatch(r"/files/([^/]+)/content", path)
        if match and method == "GET":
            item = self.fake.files.get(match.group(1))
            if item is None:
                return _err("NotFound", f"File {match.group(1)} not found.", 404)
            return Reply(200, bytes(item.get("_content", b"")), {"content-type": "application/octet-stream"})
        match = re.fullmatch(r"/files/([^/]+)", path)
        if match and method == "GET":
            return self._file(match.group(1))
        if path == "/fine_tuning/jobs":
            if method == "POST":
                return self._create_job(json.loads(body))
            newest_first = sorted(self.fake.jobs.values(), key=lambda j: j["created_at"], reverse=True)
            return Reply(200, _page([_public(j) for j in newest_first], query))
        match = re.fullmatch(r"/fine_tuning/jobs/([^/]+)(?:/(\w+))?", path)
        if match:
            return self._job(method, match.group(1), match.group(2), query)
        if method == "POST" and path == "/chat/completions":
            return self._chat(json.loads(body))
        return _err("NotFound", f"no route {method} {path}", 404)

    # ---- files -------------------------------------------------------------------------------------
    def _upload(self, content_type: str, body: bytes) -> Reply:
        form = multipart(content_type, body)
        if form.get("purpose") != "fine-tune" or "file" not in form:
            return _err("invalidPayload", "purpose and file are required", 400)
        filename, content = form["file"]
        file_id = f"file-{uuid.uuid4().hex}"
        self.fake.files[file_id] = {
            "id": file_id,
            "object": "file",
            "purpose": "fine-tune",
            "filename": filename,
            "bytes": len(content),
            "created_at": self.fake.clock,
            "status": "pending",
            "_content": content,
        }
        return Reply(200, _public(self.fake.files[file_id]))

    def _file(self, file_id: str) -> Reply:
        item = self.fake.files.get(file_id)
        if item is None:
            return _err("NotFound", f"File {file_id} not found.", 404)
        if item["status"] == "pending":  # processed on the next look
            reason = next(
                (r for part, r in self.fake.rejected_files.items() if part in item["filename"]), None
            )
            item["status"] = "error" if reason else "processed"
            if reason:
                item["status_details"] = reason
        return Reply(200, _public(item))

    # ---- jobs --------------------------------------------------------------------------------------
    def _create_job(self, body: dict[str, Any]) -> Reply:
        model = next((m for m in self.fake.models if m["id"] == body.get("model")), None)
        if model is None or not model["capabilities"]["fine_tune"] or "trainingType" not in body:
            return _err("invalidPayload", "The specified base model does not support fine-tuning.", 400)
        for key in ("training_file", "validation_file"):
            file_id = body.get(key)
            if file_id is None and key == "validation_file":
                continue
            item = self.fake.files.get(str(file_id))
            if item is None or item["status"] != "processed":
                return _err("invalidPayload", f"{key} {file_id} is not a processed file.", 400)
        job_id = f"ftjob-{uuid.uuid4().hex}"
        job = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": self.fake.clock,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {"n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1},
            "model": body["model"],
            "organization_id": None,
            "result_files": None,
            "seed": body.get("seed", 105),
            "status": "pending",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "estimated_finish": None,
            "integrations": None,
            "metadata": body.get("metadata"),
            "method": body.get("method"),
            "suffix": body.get("suffix"),
            "_body": body,
        }
        self.fake.jobs[job_id] = job
        self.fake.events[job_id] = []
        self.fake._event(job_id, "Job enqueued. Waiting for jobs ahead to complete.")
        return Reply(200, _public(job))

    def _job(self, method: str, job_id: str, action: str | None, query: Mapping[str, str]) -> Reply:
        job = self.fake.jobs.get(job_id)
        if job is None:
            return _err("NotFound", f"Fine-tuning job {job_id} not found.", 404)
        if method == "GET" and action is None:
            if self.fake.auto_advance:
                self.fake.clock += 1
                self.fake._advance_job(job)
            return Reply(200, _public(job))
        if method == "GET" and action == "events":
            newest_first = sorted(self.fake.events[job_id], key=lambda e: e["created_at"], reverse=True)
            return Reply(200, _page(newest_first, query))
        if method == "GET" and action == "checkpoints":
            return Reply(200, _page(self._checkpoints(job), query, 10))
        if method == "POST" and action in ("cancel", "pause", "resume"):
            return self._act(job, action)
        return _err("NotFound", f"no route {method} {action}", 404)

    def _act(self, job: dict[str, Any], action: str) -> Reply:
        status = job["status"]
        if action == "cancel":
            if status in TERMINAL:
                return _err("unexpectedEntityState", f"The job is {status}.", 400)
            job.update(status="cancelled", finished_at=self.fake.clock)
            self.fake._event(job["id"], "Job cancelled.")
        elif action == "pause":
            if status != "running" or job.get("_steps", 0) < 1:
                return _err(
                    "unexpectedEntityState", "Only a running job that has trained a step can pause.", 400
                )
            job["status"] = "pausing"
        else:
            if status != "paused":
                return _err("unexpectedEntityState", "Job needs to be in paused state.", 400)
            job["status"] = "resuming"
        return Reply(200, _public(job))

    def _checkpoints(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        if job["status"] not in TERMINAL or not job.get("fine_tuned_model"):
            return []
        steps = [10 * (i + 1) for i in range(job.get("_steps", 0))]
        out = []
        for step in reversed(steps):  # newest first, as Azure lists them
            last = step == steps[-1]
            out.append(
                {
                    "id": f"ftchkpt-{job['id'][6:14]}{step:04d}",
                    "created_at": job["created_at"] + step,
                    "fine_tuned_model_checkpoint": job["fine_tuned_model"]
                    if last
                    else f"{job['fine_tuned_model']}:ckpt-step-{step}",
                    "step_number": step,
                    "metrics": {"step": step, "train_loss": round(10 / step, 3), "valid_loss": -1},
                    "fine_tuning_job_id": job["id"],
                    "object": "fine_tuning.job.checkpoint",
                }
            )
        return out

    # ---- inference and models ----------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> Reply:
        name = str(body.get("model"))
        dep = self.fake.deployments.get(name)
        if dep is None:
            return _err(
                "DeploymentNotFound", f"The API deployment for this resource does not exist: {name}", 404
            )
        if dep["properties"]["provisioningState"] != "Succeeded" or self.fake.not_ready_answers > 0:
            self.fake.not_ready_answers = max(0, self.fake.not_ready_answers - 1)
            return _err("DeploymentNotReady", "The deployment is not ready yet.", 400)
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        words = len(prompt.split())
        answer = f"echo: {prompt}"[: 4 * int(body.get("max_tokens") or 16)]
        usage = {"prompt_tokens": words, "completion_tokens": 3, "total_tokens": words + 3}
        if body.get("stream"):  # OpenAI's chunks; the usage last when stream_options asks for it
            with_usage = (body.get("stream_options") or {}).get("include_usage")
            model = dep["properties"]["model"]["name"]
            chunks = chat_chunks(answer, model=model, usage=usage if with_usage else None, filters=SAFE)
            return Reply(200, sse(chunks), SSE_HEADERS)
        return Reply(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": self.fake.clock,
                "model": dep["properties"]["model"]["name"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": answer},
                        "content_filter_results": SAFE,
                    }
                ],
                "usage": usage,
            },
        )

    def _delete_model(self, model: str) -> Reply:
        known = {j.get("fine_tuned_model") for j in self.fake.jobs.values()}
        if model not in known or model in self.fake.deleted_models:
            return _err("NotFound", f"Model {model} not found.", 404)
        self.fake.deleted_models.append(model)
        return Reply(200, {"id": model, "object": "model", "deleted": True})
