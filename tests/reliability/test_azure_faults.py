"""Azure faults through the in-process Azure ML wire fake, end to end from Slack: 429 with Retry-After,
500/503, timeouts (including one whose request did reach the service), a failing LRO and a job failing
with a UserError. Transient faults are retried by azure-core's RetryPolicy (not by hand-rolled loops);
every job reaches its terminal state in Slack with the right reason, and nothing is submitted twice
(the job name is the idempotency key)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from azure.ai.ml import MLClient

from bot.backends.azure.backend import AzureBackend
from bot.backends.azure.catalogue import DEPLOY_REGIONS_TAG
from bot.backends.azure.project import client_options
from bot.ui.ids import Action
from commands.models import EndpointState, JobState
from tests.bot.backends.fake_azure import (
    PHI,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    FakeAzureML,
    FakeAzureTransport,
    FakeCredential,
    FakeScoring,
    Reply,
    patch_sdk,
)
from tests.reliability.conftest import APPROVERS, CHANNEL, MakeWorld
from tests.support.world import World, buttons

JOB_PUT = r"/jobs/ft-[^/]+$"


class LossyAzure(FakeAzureML):
    """The wire fake, plus answers that are lost on the way back: the service handles the request, then the
    client sees a read timeout (``lose(method, path_regex, times)``). Counts the jobs it really created."""

    def __init__(self) -> None:
        super().__init__(lro_polls=1)
        self.lost: list[tuple[str, str, list[int]]] = []
        self.created_jobs: list[str] = []

    def lose(self, method: str, path_regex: str, times: int = 1) -> None:
        self.lost.append((method.upper(), path_regex, [times]))

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        reply = super().handle(method, url, headers, body)
        path = url.split("?")[0]
        if method.upper() == "PUT" and "/jobs/" in path and reply.status == 201:
            self.created_jobs.append(path.rsplit("/", 1)[-1])
        for m, pattern, left in self.lost:
            import re

            if left[0] > 0 and m == method.upper() and re.search(pattern, path):
                left[0] -= 1
                raise requests.exceptions.ReadTimeout("the answer was lost on the way back")
        return reply


@dataclass
class Az:
    fake: LossyAzure
    backend: AzureBackend
    world: World
    secrets: Callable[[], list[str]]

    def until(self, check: Callable[[], bool], rounds: int = 60) -> None:
        for _ in range(rounds):
            self.world.tick()
            if check():
                return
            self.fake.advance()
            time.sleep(0.02)
        raise AssertionError("condition not reached")


@pytest.fixture
def az(make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> Az:
    fake = LossyAzure()
    fake.add_registry_model(
        "azureml", PHI, "3", tags={DEPLOY_REGIONS_TAG: "eastus2", "task": "chat-completion"}
    )
    transport = FakeAzureTransport(fake)
    patch_sdk(monkeypatch, transport)
    credential = FakeCredential()
    # azure-core's own RetryPolicy as production configures it, with short backoffs for the test
    options = client_options(
        retry_total=3, retry_backoff_factor=0.01, polling_interval=0, transport=transport
    )
    workspace = MLClient(credential, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    scoring = FakeScoring(fake)
    backend = AzureBackend(
        workspace, registry_factory=lambda name: MLClient(credential, registry_name=name, **options),
        http_client=scoring.client(), models=[f"azureml/{PHI}"], metrics_reader=lambda name: [],
        deploy_wait_s=5,
    )  # fmt: skip
    world = make_world(backend=backend)

    def secrets() -> list[str]:
        keys = [k for pair in fake.endpoint_keys.values() for k in pair.values()]
        return [credential.get_token("x").token, *keys]

    return Az(fake, backend, world, secrets)


def _submit(az: Az) -> str:
    url = az.world.files.url("train.jsonl")
    az.world.slash(f"submit --model {PHI} --data {url}")
    text = az.world.wait_response("Started", timeout=30)
    az.world.fake.responses.clear()
    return text.split("`")[1]


def _card_text(az: Az, job_id: str) -> str:
    card = next(c for c in az.world.fake.channel_messages(CHANNEL) if job_id in json.dumps(c.blocks))
    return json.dumps(card.blocks) + json.dumps([m.blocks for m in az.world.fake.thread(CHANNEL, card.ts)])


def test_throttling_and_server_errors_are_retried_by_azure_core_and_the_job_succeeds(az: Az) -> None:
    az.fake.inject("PUT", JOB_PUT, 429, {"error": {"code": "TooManyRequests", "message": "slow down"}},
                   headers={"Retry-After": "1"}, times=1)  # fmt: skip
    az.fake.inject("PUT", JOB_PUT, 503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, times=1)
    az.fake.inject("GET", JOB_PUT, 500, {"error": {"code": "InternalError", "message": "oops"}}, times=2)
    started = time.monotonic()
    job_id = _submit(az)
    assert time.monotonic() - started >= 1  # Retry-After was honoured
    az.until(lambda: az.world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    puts = az.fake.calls("PUT", JOB_PUT)
    assert [r.path.rsplit("/", 1)[-1] for r in puts] == [job_id] * 3  # 429, 503, then created
    assert az.fake.created_jobs == [job_id]


@pytest.mark.parametrize("lost", [1, 4], ids=["retried-by-azure-core", "retries-exhausted-then-adopted"])
def test_a_submit_whose_answer_was_lost_creates_one_job(az: Az, lost: int) -> None:
    az.fake.lose("PUT", JOB_PUT, times=lost)  # the service created the job; the bot saw a timeout
    # a PENDING job is left to its starter for one lease period before the scheduler retries it
    az.world.services.poller.lease = timedelta(seconds=0.5)
    url = az.world.files.url("train.jsonl")
    az.world.slash(f"submit --model {PHI} --data {url}")
    az.until(lambda: bool(az.world.services.lifecycle.queries.jobs(channel_id=CHANNEL)))
    job_id = az.world.services.lifecycle.queries.jobs(channel_id=CHANNEL)[0].id
    az.until(lambda: az.world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    az.world.tick(2)
    assert az.fake.created_jobs == [job_id]  # one job, whatever the retries: the name is the key
    assert len(az.fake.jobs) == 1
    assert "Deploy" in buttons(next(iter(az.world.fake.channel_messages(CHANNEL))))


def test_a_job_failing_with_a_user_error_shows_the_reason(az: Az) -> None:
    job_id = _submit(az)
    reason = "UserError: Training data line 7 has no assistant message"
    az.fake.job_errors[job_id] = reason
    az.until(lambda: az.world.services.lifecycle.queries.card(job_id).job.state is JobState.FAILED)
    az.world.tick(3)
    job = az.world.services.lifecycle.queries.card(job_id).job
    assert job.error and "line 7 has no assistant message" in job.error
    assert "line 7 has no assistant message" in _card_text(az, job_id)


def test_a_failing_deployment_lro_ends_failed_in_the_thread_and_can_be_retried(az: Az) -> None:
    job_id = _submit(az)
    az.until(lambda: az.world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    original = az.fake._operation_status

    def failing(op_id: str) -> Reply:  # the service gives up on creating the endpoint (once)
        az.fake._operation_status = original  # type: ignore[method-assign]
        for ep in az.fake.endpoints.values():
            ep["properties"]["provisioningState"] = "Failed"
            ep["properties"]["endpointState"] = "Failed"
        return Reply(200, {"status": "Failed", "error": {"code": "InternalError", "message": "capacity"}})

    az.fake._operation_status = failing  # type: ignore[method-assign]
    az.world.click(Action.DEPLOY, job_id, user=APPROVERS[0])
    az.until(lambda: (e := az.world.services.lifecycle.queries.card(job_id).endpoint) is not None
             and e.state is EndpointState.FAILED)  # fmt: skip
    az.world.tick(3)
    endpoint = az.world.services.lifecycle.queries.card(job_id).endpoint
    assert endpoint is not None and endpoint.error
    thread = az.world.fake.thread(CHANNEL, az.world.fake.channel_messages(CHANNEL)[0].ts)
    assert f"Deploying endpoint `{endpoint.name}` failed" in thread[-1].text
    assert "Provisioning failed" in thread[-1].text
    assert "Deploy" in buttons(next(iter(az.world.fake.channel_messages(CHANNEL))))  # it may be tried again
    assert endpoint.name not in az.fake.endpoints  # the broken deployment was removed from Azure
    az.world.click(Action.DEPLOY, job_id, user=APPROVERS[0])
    az.until(lambda: (e := az.world.services.lifecycle.queries.card(job_id).endpoint) is not None
             and e.state is EndpointState.READY)  # fmt: skip


def test_timeouts_while_polling_are_retried_and_nothing_leaks(az: Az) -> None:
    az.fake.lose("GET", JOB_PUT, times=2)  # answered by azure-core's retry
    job_id = _submit(az)
    az.until(lambda: az.world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    az.world.click(Action.DEPLOY, job_id, user=APPROVERS[0])
    az.until(lambda: (e := az.world.services.lifecycle.queries.card(job_id).endpoint) is not None
             and e.state is EndpointState.READY)  # fmt: skip
    endpoint = az.world.services.lifecycle.queries.card(job_id).endpoint
    assert endpoint is not None
    az.world.slash(f"chat {endpoint.name} hello")
    az.world.wait_response("echo")
    az.world.click(Action.TEAR_DOWN, endpoint.name, user=APPROVERS[0])
    az.world.wait_response("torn down")
    az.world.tick(3)
    sent = az.world.fake.all_text()
    with az.world.services.store.transaction() as tx:
        audit = json.dumps([e.model_dump(mode="json") for e in tx.audit_entries()])
    leaked = [s for s in az.secrets() if s in sent or s in audit]
    assert az.fake.endpoint_keys and leaked == []
