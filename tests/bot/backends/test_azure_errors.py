"""Every error mapping of ``bot.backends.azure.errors``, driven through the real SDK on the fake service."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.ml import MLClient
from azure.core.exceptions import ClientAuthenticationError

from bot.backends.azure.backend import AzureBackend
from bot.backends.azure.errors import AUTH_HELP, map_azure_error, scrub
from bot.backends.azure.project import client_options
from commands.errors import BackendAuthError, Conflict, FtbotError, InvalidInput, NotFound, Unavailable
from tests.bot.backends.fake_azure import (
    PHI,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    AzureWorld,
    FakeCredential,
    error_body,
    make_spec,
    make_world,
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> AzureWorld:
    return make_world(monkeypatch)


def _raise_on_get_job(
    world: AzureWorld, status: int, body: Any, headers: dict[str, str] | None = None
) -> FtbotError:
    world.fake.inject("GET", r"/jobs/ftbot-x$", status, body, headers=headers)
    with pytest.raises(FtbotError) as err:
        world.backend.get_job("ftbot-x")
    assert err.value.__cause__ is not None  # chained: the traceback stays in the log
    return err.value


def test_404_is_not_found(world: AzureWorld) -> None:
    err = _raise_on_get_job(world, 404, error_body("UserError", "Could not find job", "NotFound"))
    assert isinstance(err, NotFound) and "ftbot-x" in err.message


def test_400_user_error_is_invalid_input_with_the_service_message(world: AzureWorld) -> None:
    err = _raise_on_get_job(
        world,
        400,
        error_body(
            "UserError",
            "Meta-Llama-3-8B : Serverless FineTuning not supported in westus.",
            "ModelNotSupportedByMaaS",
        ),
    )
    assert isinstance(err, InvalidInput)
    assert "Meta-Llama-3-8B : Serverless FineTuning not supported in westus." in err.message


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_name_the_role_and_the_network_provider(world: AzureWorld, status: int) -> None:
    err = _raise_on_get_job(
        world, status, error_body("AuthorizationFailed", "The client does not have authorization")
    )
    assert isinstance(err, BackendAuthError)
    assert "Owner or Contributor" in err.message and "Microsoft.Network" in err.message
    assert "az login" in err.message


def test_429_is_unavailable_with_retry_after(world: AzureWorld) -> None:
    err = _raise_on_get_job(world, 429, error_body("TooManyRequests", "slow down"), {"Retry-After": "17"})
    assert isinstance(err, Unavailable) and err.retry_after == 17 and "17 s" in err.message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable(world: AzureWorld, status: int) -> None:
    err = _raise_on_get_job(world, status, error_body("InternalServerError", "oops"))
    assert isinstance(err, Unavailable) and str(status) in err.message


def test_409_is_conflict(world: AzureWorld) -> None:
    world.fake.inject("PUT", r"/serverlessEndpoints/", 409, error_body("Conflict", "endpoint busy"))
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.advance(4)
    model = world.backend.get_job("ftbot-job-1").output_model
    assert model
    with pytest.raises(Conflict, match="endpoint busy"):
        world.backend.deploy_model(model, "ftbot-ep")


def test_azure_core_retries_5xx_before_giving_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-core's retry policy (not a hand-rolled loop) retries a 503 and then succeeds."""
    world = make_world(monkeypatch)
    options = client_options(
        retry_total=2, retry_backoff_factor=0, polling_interval=0, transport=world.fake.transport()
    )
    ws = MLClient(world.credential, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    backend = AzureBackend(
        ws, registry_factory=world.backend.project.registry_factory, models=[f"azureml/{PHI}"]
    )
    world.fake.inject("GET", r"/serverlessEndpoints$", 503, error_body("ServiceUnavailable", "busy"), times=2)
    assert backend.list_endpoints() == []
    assert len(world.fake.calls("GET", r"/serverlessEndpoints$")) == 3
    world.fake.inject("GET", r"/serverlessEndpoints$", 503, error_body("ServiceUnavailable", "busy"), times=3)
    with pytest.raises(Unavailable):
        backend.list_endpoints()


class _NoCredential:
    def get_token(self, *scopes: str, **_: Any) -> Any:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")


def test_credential_failure_is_backend_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(monkeypatch)
    options = client_options(retry_total=0, polling_interval=0, transport=world.fake.transport())
    ws = MLClient(_NoCredential(), SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    backend = AzureBackend(ws, models=[])
    with pytest.raises(BackendAuthError) as err:
        backend.list_endpoints()
    assert err.value.message == AUTH_HELP
    assert world.fake.calls(path_regex="/serverlessEndpoints") == []  # nothing was sent without a token


def test_messages_never_carry_sas_or_bearer_tokens() -> None:
    from azure.core.exceptions import HttpResponseError

    leaked = (
        "cannot read https://a.blob.core.windows.net/c/t.jsonl?sv=2024&sig=SECRETSIG&se=x; Bearer eyJabc.def"
    )
    assert "SECRETSIG" not in scrub(leaked) and "eyJabc" not in scrub(leaked)
    mapped = map_azure_error(_http_error(HttpResponseError, 400, leaked))
    assert (
        isinstance(mapped, InvalidInput)
        and "SECRETSIG" not in mapped.message
        and "eyJabc" not in mapped.message
    )


def test_unmapped_errors_become_unavailable_and_ftbot_errors_pass_through() -> None:
    from azure.core.exceptions import ServiceRequestError

    assert isinstance(map_azure_error(ServiceRequestError("connection reset")), Unavailable)
    mine = NotFound("x")
    assert map_azure_error(mine) is mine
    assert isinstance(map_azure_error(RuntimeError("?")), Unavailable)


def _http_error(cls: Any, status: int, message: str) -> Any:
    err = cls(message=message)
    err.status_code = status
    return err


def test_from_settings_builds_clients_that_reach_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.runtime.settings import Settings

    world = make_world(monkeypatch)
    settings = Settings(
        FTBOT_BACKEND="azure",
        AZURE_SUBSCRIPTION_ID=SUBSCRIPTION,
        AZURE_RESOURCE_GROUP=RESOURCE_GROUP,
        AZURE_AI_PROJECT=WORKSPACE,
        FTBOT_AZURE_MODELS=f"azureml-meta/Meta-Llama-3.1-8B-Instruct,{PHI}",
    )
    backend = AzureBackend.from_settings(
        settings,
        credential=FakeCredential(),
        retry_total=0,
        polling_interval=0,
        transport=world.fake.transport(),
    )
    names = [m.name for m in backend.list_base_models()]
    assert "Meta-Llama-3.1-8B-Instruct" in names and PHI in names
    assert backend.list_endpoints() == []
    with pytest.raises(InvalidInput, match="AZURE_SUBSCRIPTION_ID"):
        AzureBackend.from_settings(Settings(), credential=FakeCredential())
