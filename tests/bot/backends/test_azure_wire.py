"""The wire contract of ``AzureBackend``: what a real ``MLClient`` (azure-ai-ml==1.35.2) sends for each
operation, asserted on the requests the in-process fake recorded (method, path, api-version, body fields)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.backends.azure.metrics import MetricsUnavailable
from commands.errors import Conflict, InvalidInput, NotFound, Unavailable
from commands.models import (
    ChatMessage,
    ChatRequest,
    DatasetRef,
    EndpointState,
    Hyperparameters,
    JobState,
    MetricPoint,
    Task,
)
from tests.bot.backends.fake_azure import (
    META,
    PHI,
    WORKSPACE_GUID,
    AzureWorld,
    Reply,
    error_body,
    make_spec,
    make_world,
)

TRAIN = '{"messages": [{"role": "user", "content": "Bonjour"}, {"role": "assistant", "content": "Salut"}]}\n'


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> AzureWorld:
    return make_world(monkeypatch)


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(TRAIN * 3, encoding="utf-8")
    return path


def _job_put(world: AzureWorld) -> dict[str, Any]:
    puts = world.fake.calls("PUT", r"/jobs/[^/]+$")
    assert len(puts) == 1, [p.path for p in puts]
    assert puts[0].api_version == "2024-10-01-preview"
    props: dict[str, Any] = puts[0].body["properties"]
    return props


def _finish(world: AzureWorld, job_id: str) -> None:
    world.fake.advance(4)
    assert world.backend.get_job(job_id).state is JobState.SUCCEEDED


# ---- base models -------------------------------------------------------------------------------------------
def test_catalogue_reads_registry_tags_and_hits_the_wire_once_per_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    world = make_world(monkeypatch, catalog_ttl_s=600, clock=lambda: now[0])
    models = {m.name: m for m in world.backend.list_base_models()}
    assert set(models) == {PHI, META}
    meta = models[META]
    assert meta.source == "azureml-meta" and meta.needs_subscription
    assert meta.model_id == f"azureml://registries/azureml-meta/models/{META}/versions/4"
    assert meta.deploy_regions == ("eastus2", "westus3", "northcentralus")
    assert not models[PHI].needs_subscription  # Microsoft's registry: no marketplace subscription
    first = len(world.fake.requests)
    listing = world.fake.calls("GET", rf"/registries/azureml-meta/models/{META}/versions$")
    assert listing[0].query["$orderBy"] == "createdtime desc" and listing[0].query["$top"] == "1"
    assert listing[0].api_version == "2021-10-01-dataplanepreview"

    for _ in range(50):
        world.backend.list_base_models()
        world.backend.get_base_model(PHI)
    now[0] += 599
    world.backend.list_base_models()
    assert len(world.fake.requests) == first  # served from the cache
    now[0] += 2
    world.backend.list_base_models()
    assert len(world.fake.requests) > first  # TTL over: reloaded


def test_models_missing_from_a_registry_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(monkeypatch, models=[f"azureml/{PHI}", "azureml/Phi-9-does-not-exist", "nosuchreg/X"])
    assert [m.name for m in world.backend.list_base_models()] == [PHI]
    with pytest.raises(NotFound, match="finetune models"):
        world.backend.get_base_model("Phi-9-does-not-exist")


def test_the_registry_calls_log_with_the_requests_ref(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue resolves models on a thread pool: its lines still carry the Slack request's ref."""
    from bot.runtime.logs import ContextFilter, log_context

    seen: list[tuple[str, str | None]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.getMessage(), getattr(record, "ref", None)))

    handler = Keep()
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("bot.backends.azure.catalogue")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        world = make_world(monkeypatch, models=[f"azureml/{PHI}", "azureml/Phi-9-a", "azureml/Phi-9-b"])
        with log_context(ref="abc123"):
            assert [m.name for m in world.backend.list_base_models()] == [PHI]
    finally:
        logger.removeHandler(handler)
    left_out = [(m, ref) for m, ref in seen if "left out" in m]
    assert len(left_out) == 2 and {ref for _, ref in left_out} == {"abc123"}


def test_regions_tag_parsing_tolerates_json_and_spacing() -> None:
    from bot.backends.azure.catalogue import parse_regions

    assert parse_regions('["East US 2", "westus3"]') == ("eastus2", "westus3")
    assert parse_regions("eastus2;  swedencentral,eastus2") == ("eastus2", "swedencentral")
    assert parse_regions(None) == ()


# ---- upload ------------------------------------------------------------------------------------------------
def test_upload_writes_utf8_with_bom_through_the_blob_client_and_creates_a_data_asset(
    world: AzureWorld, train_file: Path
) -> None:
    ref = world.backend.upload_dataset(train_file, name="Sales Train", task=Task.CHAT_COMPLETION)
    assert ref.kind == "asset" and ref.value.startswith("azureml:sales-train:") and ref.name == "train.jsonl"

    ds = world.fake.calls("GET", r"/datastores/workspaceblobstore$")
    assert ds and ds[0].api_version == "2024-10-01-preview"
    secrets = world.fake.calls("POST", r"/listSecrets$")
    assert secrets[0].body == {"expirableSecret": True, "expireAfterHours": 1}
    blob_puts = [r for r in world.fake.calls("PUT") if r.host.endswith(".blob.core.windows.net")]
    uploaded = [r.body for r in blob_puts if r.query.get("comp") != "metadata"]
    assert len(uploaded) == 1
    assert uploaded[0].startswith(b"\xef\xbb\xbf") and uploaded[0][3:] == train_file.read_bytes()
    assert "sig=" in blob_puts[0].url  # the SAS from listSecrets authorises the upload

    data_put = world.fake.calls("PUT", r"/data/sales-train/versions/[0-9a-f]+$")
    assert data_put[0].api_version == "2023-04-01-preview"
    props = data_put[0].body["properties"]
    assert props["dataType"] == "uri_file"
    assert props["dataUri"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert props["dataUri"].endswith("/train.jsonl")

    again = world.backend.upload_dataset(train_file, name="Sales Train", task=Task.CHAT_COMPLETION)
    assert again == ref
    assert len(world.fake.calls("PUT", r"/data/")) == 1  # same content: the existing asset is reused


def test_upload_keeps_an_existing_bom_and_refuses_non_utf8(world: AzureWorld, tmp_path: Path) -> None:
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + TRAIN.encode())
    world.backend.upload_dataset(bom, name="bom", task=Task.CHAT_COMPLETION)
    body = next(r.body for r in world.fake.calls("PUT") if r.host.endswith("blob.core.windows.net"))
    assert body.count(b"\xef\xbb\xbf") == 1
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"x": "café"}\n'.encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        world.backend.upload_dataset(latin, name="latin", task=Task.CHAT_COMPLETION)


# ---- submit ------------------------------------------------------------------------------------------------
def test_submit_subscribes_then_creates_the_finetuning_job(world: AzureWorld) -> None:
    spec = make_spec(
        validation=DatasetRef(kind="asset", value="azureml:slack-valid:2"),
        hyperparameters=Hyperparameters(n_epochs=3, batch_size=4, learning_rate_multiplier=0.5),
        suffix="sales",
    )
    job = world.backend.submit_job(spec)
    assert job.id == "ftbot-job-1" and job.state is JobState.QUEUED and job.service_status == "NotStarted"

    sub_put = world.fake.calls("PUT", r"/marketplaceSubscriptions/")
    assert len(sub_put) == 1 and sub_put[0].api_version == "2024-01-01-preview"
    assert sub_put[0].body == {"properties": {"modelId": f"azureml://registries/azureml-meta/models/{META}"}}
    order = [id(r) for r in world.fake.requests]
    assert order.index(id(sub_put[0])) < order.index(id(world.fake.calls("PUT", r"/jobs/")[0]))

    props = _job_put(world)
    assert props["jobType"] == "FineTuning"
    assert props["experimentName"] == "ftbot"
    assert props["tags"]["slack_channel"] == "C0123" and props["tags"]["slack_user"] == "U0456"
    assert props["tags"]["ftbot.base_model"] == META
    details = props["fineTuningDetails"]
    assert details["taskType"] == "chatCompletion"
    assert details["modelProvider"] == "Custom"
    assert details["model"] == {
        "uri": f"azureml://registries/azureml-meta/models/{META}/versions/4",
        "jobInputType": "mlflow_model",
    }
    assert details["trainingData"]["jobInputType"] == "uri_file"
    assert details["trainingData"]["uri"].endswith("/workspaces/ftbot-project/data/slack-train/versions/1")
    assert details["validationData"]["uri"].endswith("/data/slack-valid/versions/2")
    assert details["hyperParameters"] == {
        "per_device_train_batch_size": "4",
        "learning_rate": "0.00001",
        "num_train_epochs": "3",
    }
    assert props["outputs"]["registered_model"] == {
        "assetName": "llama-3-1-8b-ft-sales",
        "jobOutputType": "mlflow_model",
    }
    assert not any("mlflow.source.git" in k for k in props.get("properties", {}))  # git metadata patched out


def test_submit_without_validation_data_works_around_the_sdk_bug(world: AzureWorld) -> None:
    world.backend.submit_job(make_spec(model=PHI))
    details = _job_put(world)["fineTuningDetails"]
    assert details.get("validationData") is None
    assert "hyperParameters" not in details or not details["hyperParameters"]  # all Default: service chooses
    assert world.fake.calls(path_regex="/marketplaceSubscriptions") == []  # Phi: no subscription


def test_existing_subscription_is_reused(world: AzureWorld) -> None:
    world.fake.add_subscription(
        "meta-llama-3-1-8b-instruct", f"azureml://registries/azureml-meta/models/{META}"
    )
    world.backend.submit_job(make_spec())
    assert world.fake.calls("GET", r"/marketplaceSubscriptions/meta-llama-3-1-8b-instruct$")
    assert world.fake.calls("PUT", r"/marketplaceSubscriptions/") == []


def test_submit_with_a_url_passes_it_through_without_download(world: AzureWorld) -> None:
    url = "https://acct.blob.core.windows.net/data/train.jsonl?sv=2024&sig=SECRET"
    world.backend.submit_job(
        make_spec(model=PHI, training=DatasetRef(kind="url", value=url, name="train.jsonl"))
    )
    assert _job_put(world)["fineTuningDetails"]["trainingData"]["uri"] == url
    assert [r for r in world.fake.requests if "blob.core.windows.net" in r.host] == []
    with pytest.raises(InvalidInput, match="https"):
        world.backend.submit_job(
            make_spec(
                "ftbot-job-2", model=PHI, training=DatasetRef(kind="url", value="http://example.com/t.jsonl")
            )
        )


def test_submit_with_a_local_file_uploads_it_first(world: AzureWorld, train_file: Path) -> None:
    world.backend.submit_job(make_spec(model=PHI, training=DatasetRef(kind="file", value=str(train_file))))
    uri = _job_put(world)["fineTuningDetails"]["trainingData"]["uri"]
    assert "/data/ftbot-job-1-train/versions/" in uri
    assert world.fake.calls("PUT", r"/data/ftbot-job-1-train/versions/")


def test_submit_is_idempotent_on_the_name(world: AzureWorld) -> None:
    first = world.backend.submit_job(make_spec(model=PHI))
    again = world.backend.submit_job(make_spec(model=PHI))
    assert again.id == first.id
    assert len(world.fake.calls("PUT", r"/jobs/")) == 1


def test_a_conflict_on_create_adopts_the_existing_job(world: AzureWorld) -> None:
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.inject("GET", r"/jobs/ftbot-job-1$", 404, error_body("UserError", "not found", "NotFound"))
    job = world.backend.submit_job(
        make_spec(model=PHI)
    )  # GET says missing, PUT says 409: a racing submit won
    assert job.id == "ftbot-job-1"
    assert [r.method for r in world.fake.calls(path_regex=r"/jobs/ftbot-job-1$")][-3:] == [
        "PUT",
        "GET",
        "GET",
    ]


def test_service_refusal_becomes_invalid_input_with_the_service_message(world: AzureWorld) -> None:
    world.fake.inject(
        "PUT",
        r"/jobs/",
        400,
        error_body(
            "UserError",
            "Meta-Llama-3-8B : Serverless FineTuning not supported in westus.",
            "ModelNotSupportedByMaaS",
        ),
    )
    with pytest.raises(InvalidInput, match="Serverless FineTuning not supported in westus") as err:
        world.backend.submit_job(make_spec(model=PHI))
    assert err.value.__cause__ is not None


# ---- get / cancel ------------------------------------------------------------------------------------------
def test_get_job_normalises_each_status_and_resolves_the_latest_output_model(world: AzureWorld) -> None:
    world.backend.submit_job(make_spec(model=PHI))
    seen = []
    for _ in range(4):
        job = world.backend.get_job("ftbot-job-1")
        seen.append((job.service_status, job.state))
        world.fake.advance()
    assert seen == [
        ("NotStarted", JobState.QUEUED),
        ("Queued", JobState.QUEUED),
        ("Running", JobState.RUNNING),
        ("Completed", JobState.SUCCEEDED),
    ]
    gets = world.fake.calls("GET", r"/jobs/ftbot-job-1$")
    assert {g.api_version for g in gets} == {"2024-01-01-preview", "2024-10-01-preview"}

    # the service registered a second version meanwhile: latest wins, version 1 is not assumed
    world.fake._register_model("llama-3-1-8b-ft-sales", job_name="ftbot-job-1")
    done = world.backend.get_job("ftbot-job-1")
    assert done.output_model == "llama-3-1-8b-ft-sales"
    latest = world.fake.calls("GET", r"/models/llama-3-1-8b-ft-sales/versions$")[-1]
    assert latest.query["$top"] == "1" and latest.query["$orderBy"] == "createdtime desc"
    assert done.base_model == PHI
    assert done.studio_url and "ftbot-job-1" in done.studio_url
    assert done.events[0].kind == "queued" and done.events[-1].kind == "completed"
    assert done.created_at is not None


def test_unknown_status_is_kept_not_crashed_on(world: AzureWorld) -> None:
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.jobs["ftbot-job-1"]["properties"]["status"] = "Hibernating"
    job = world.backend.get_job("ftbot-job-1")
    assert job.state is JobState.UNKNOWN and job.service_status == "Hibernating"


def test_failed_job_carries_the_service_reason(world: AzureWorld) -> None:
    world.fake.fail_models[PHI] = "Training data has 3 examples; at least 10 are required."
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.advance(4)
    job = world.backend.get_job("ftbot-job-1")
    assert job.state is JobState.FAILED and job.service_status == "Failed"
    assert job.error == "Training data has 3 examples; at least 10 are required."
    assert job.events[-1].kind == "failed" and job.output_model is None


def test_metrics_come_from_the_reader_or_a_note_linking_the_studio(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [MetricPoint(step=1, train_loss=2.0), MetricPoint(step=2, train_loss=1.5, valid_loss=1.7)]
    world = make_world(monkeypatch, metrics_reader=lambda name: points)
    world.backend.submit_job(make_spec(model=PHI))
    assert world.backend.get_job("ftbot-job-1").metrics_note == "Training has not started yet."
    world.fake.advance(2)
    job = world.backend.get_job("ftbot-job-1")
    assert job.metrics == tuple(points) and job.metrics_note is None

    def unavailable(name: str) -> list[MetricPoint]:
        raise MetricsUnavailable("Training metrics need azureml-mlflow, which is not installed.")

    world = make_world(monkeypatch, metrics_reader=unavailable)
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.advance(2)
    job = world.backend.get_job("ftbot-job-1")
    assert job.metrics == () and job.metrics_note
    assert "azureml-mlflow" in job.metrics_note and "studio page: https://ml.azure.com/" in job.metrics_note


def test_default_metrics_reader_says_so_when_mlflow_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    world = make_world(monkeypatch, metrics_reader=None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # as if the `mlflow` extra were not installed
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.advance(2)
    job = world.backend.get_job("ftbot-job-1")
    assert job.metrics_note and "ftbot[mlflow]" in job.metrics_note and "ml.azure.com" in job.metrics_note


def test_cancel_posts_cancel_once_and_leaves_terminal_jobs_alone(world: AzureWorld) -> None:
    world.backend.submit_job(make_spec(model=PHI))
    job = world.backend.cancel_job("ftbot-job-1")
    cancels = world.fake.calls("POST", r"/jobs/ftbot-job-1/cancel$")
    assert len(cancels) == 1 and cancels[0].api_version == "2023-04-01-preview"
    assert job.service_status == "CancelRequested"
    world.fake.advance()
    assert world.backend.cancel_job("ftbot-job-1").state is JobState.CANCELLED
    assert len(world.fake.calls("POST", r"/cancel$")) == 1


# ---- deploy / endpoints / chat -----------------------------------------------------------------------------
def _trained(world: AzureWorld, model: str = PHI) -> str:
    world.backend.submit_job(make_spec(model=model))
    world.fake.advance(4)
    out = world.backend.get_job("ftbot-job-1").output_model
    assert out
    return out


def test_deploy_creates_a_serverless_endpoint_for_the_latest_model_version(world: AzureWorld) -> None:
    model = _trained(world)
    world.fake._register_model(model, job_name="ftbot-job-1")  # version 2
    ep = world.backend.deploy_model(model, "ftbot-sales-ep")
    assert ep.state is EndpointState.READY and ep.model == model
    assert ep.scoring_uri == "https://ftbot-sales-ep.eastus2.models.ai.azure.com"
    put = world.fake.calls("PUT", r"/serverlessEndpoints/ftbot-sales-ep$")
    assert len(put) == 1 and put[0].api_version == "2024-01-01-preview"
    assert put[0].body["properties"]["modelSettings"]["modelId"] == (
        f"azureml://locations/eastus2/workspaces/{WORKSPACE_GUID}/models/{model}/versions/2"
    )
    assert put[0].body["sku"] == {"name": "Consumption"}
    assert world.fake.calls("GET", r"/fake-operations/")  # the LRO was polled to completion

    with pytest.raises(Conflict) as second:
        world.backend.deploy_model(model, "ftbot-sales-ep2")
    assert second.value.existing == "ftbot-sales-ep"
    assert "one deployment" in second.value.message


def test_deploy_refuses_a_region_the_model_cannot_be_deployed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(monkeypatch, location="westeurope", regions="eastus2, westus3")
    model = _trained(world)
    with pytest.raises(InvalidInput) as err:
        world.backend.deploy_model(model, "ftbot-ep")
    assert "eastus2, westus3" in err.value.message and "westeurope" in err.value.message
    assert world.fake.calls("PUT", r"/serverlessEndpoints/") == []


def test_deploy_of_an_unknown_model_is_not_found(world: AzureWorld) -> None:
    with pytest.raises(NotFound):
        world.backend.deploy_model("no-such-model", "ftbot-ep")


def test_chat_posts_to_the_scoring_uri_with_the_key_and_never_shows_it(
    world: AzureWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = _trained(world)
    world.backend.deploy_model(model, "ftbot-ep")
    key = world.fake.endpoint_keys["ftbot-ep"]["primaryKey"]
    request = ChatRequest(
        messages=(ChatMessage(role="user", content="Hello there"),), temperature=0.2, max_tokens=5
    )
    reply = world.backend.chat("ftbot-ep", request)
    assert (
        reply.content.startswith("echo:") and reply.usage.total_tokens > 0 and reply.finish_reason == "stop"
    )
    sent = world.scoring.requests[-1]
    assert (
        sent.method == "POST"
        and str(sent.url) == "https://ftbot-ep.eastus2.models.ai.azure.com/v1/chat/completions"
    )
    assert sent.headers["authorization"] == key
    body = httpx.Request("POST", "x", content=sent.content).read()
    import json

    payload = json.loads(body)
    assert payload["temperature"] == 0.2 and payload["max_tokens"] == 5
    assert payload["messages"] == [{"role": "user", "content": "Hello there"}]
    assert world.fake.calls("POST", r"/serverlessEndpoints/ftbot-ep/listKeys$")
    assert key not in caplog.text and key not in repr(reply)


def test_chat_429_is_unavailable_with_retry_after(world: AzureWorld) -> None:
    model = _trained(world)
    world.backend.deploy_model(model, "ftbot-ep")
    world.scoring.queue.append(
        httpx.Response(
            429, headers={"Retry-After": "7"}, json={"error": {"code": "429", "message": "Rate limit"}}
        )
    )
    with pytest.raises(Unavailable) as err:
        world.backend.chat("ftbot-ep", ChatRequest(messages=(ChatMessage(role="user", content="hi"),)))
    assert err.value.retry_after == 7 and "200,000 tokens" in err.value.message


def test_chat_reports_content_filter_results(world: AzureWorld) -> None:
    model = _trained(world)
    world.backend.deploy_model(model, "ftbot-ep")
    filtered = {
        "hate": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": True, "severity": "high"},
    }
    world.scoring.queue.append(
        httpx.Response(
            200,
            json={
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "content_filter",
                        "message": {"role": "assistant", "content": ""},
                        "content_filter_results": filtered,
                    }
                ],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3},
            },
        )
    )
    world.scoring.queue.append(
        httpx.Response(
            400,
            json={
                "error": {
                    "code": "content_filter",
                    "message": "The response was filtered",
                    "innererror": {"content_filter_result": {"self_harm": {"filtered": True}}},
                }
            },
        )
    )
    msg = ChatRequest(messages=(ChatMessage(role="user", content="hi"),))
    reply = world.backend.chat("ftbot-ep", msg)
    assert reply.finish_reason == "content_filter" and reply.content_filter
    assert reply.content_filter["completion"] == filtered and "prompt" in reply.content_filter
    blocked = world.backend.chat("ftbot-ep", msg)
    assert blocked.finish_reason == "content_filter"
    assert blocked.content_filter == {
        "prompt": {"self_harm": {"filtered": True}},
        "message": "The response was filtered",
    }


def test_delete_endpoint_waits_and_tolerates_gone(world: AzureWorld) -> None:
    model = _trained(world)
    world.backend.deploy_model(model, "ftbot-ep")
    world.backend.delete_endpoint("ftbot-ep")
    deletes = world.fake.calls("DELETE", r"/serverlessEndpoints/ftbot-ep$")
    assert len(deletes) == 1 and deletes[0].api_version == "2024-01-01-preview"
    assert "ftbot-ep" not in world.fake.endpoints  # the LRO was waited for
    world.backend.delete_endpoint("ftbot-ep")
    with pytest.raises(NotFound):
        world.backend.get_endpoint("ftbot-ep")


def test_delete_model_refuses_while_deployed_then_archives(world: AzureWorld) -> None:
    model = _trained(world)
    world.backend.deploy_model(model, "ftbot-ep")
    with pytest.raises(Conflict) as err:
        world.backend.delete_model(model)
    assert err.value.existing == "ftbot-ep" and "ftbot-ep" in err.value.message
    world.backend.delete_endpoint("ftbot-ep")
    world.backend.delete_model(model)
    archive = world.fake.calls("PUT", rf"/models/{model}$")
    assert archive and archive[-1].body["properties"]["isArchived"] is True
    assert world.fake.models[model]["archived"]
    with pytest.raises(NotFound):
        world.backend.delete_model("no-such-model")


def test_list_endpoints_maps_states(world: AzureWorld) -> None:
    model = _trained(world)
    world.backend.deploy_model(model, "ftbot-ep")
    world.fake.endpoints["ftbot-ep"]["properties"]["provisioningState"] = "Failed"
    [ep] = world.backend.list_endpoints()
    assert ep.state is EndpointState.FAILED and ep.error
    assert world.fake.calls("GET", r"/serverlessEndpoints$")[-1].api_version == "2024-01-01-preview"


def test_reply_type_is_used_for_injection() -> None:
    # the fake's Reply carries status, body and headers exactly as given
    reply = Reply(503, error_body("ServiceUnavailable", "busy"), {"Retry-After": "2"})
    assert reply.status == 503 and reply.headers["Retry-After"] == "2"
