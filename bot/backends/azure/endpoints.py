"""Serving fine-tuned models: ``ServerlessEndpoint`` and ``serverless_endpoints.begin_create_or_update``
/ ``get`` / ``list`` / ``begin_delete``, chat through ``get_keys`` and
``POST {scoring_uri}/v1/chat/completions`` (whole, or streamed), and archiving a model with
``models.archive``.

Microsoft's "Fine-tune models using serverless API deployments in Azure AI Foundry" sets the rules kept
here: a fine-tuned model has one deployment, in a region its base model's
``maas-finetuning-deploy-regions`` tag lists, and the deployment goes before the model. Endpoint keys are
fetched per call, used for one request and never logged, stored or returned.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from azure.ai.ml.entities import ServerlessEndpoint
from azure.core.exceptions import ResourceNotFoundError

from bot.backends.azure.catalogue import REGISTRY_MODEL, Catalogue
from bot.backends.azure.chat import chat_deltas, chat_reply
from bot.backends.azure.errors import azure_errors
from bot.backends.azure.project import FoundryProject, parse_time
from bot.backends.common import no_skus
from commands.errors import BackendAuthError, Conflict, InvalidInput, NotFound, Unavailable
from commands.models import BaseModelInfo, ChatDelta, ChatReply, ChatRequest, Endpoint, EndpointState

logger = logging.getLogger(__name__)

#: ServerlessEndpoint.provisioning_state (snake_case in the SDK) → EndpointState
ENDPOINT_STATES: dict[str, EndpointState] = {
    "succeeded": EndpointState.READY,
    "failed": EndpointState.FAILED,
    "canceled": EndpointState.FAILED,
    "deleting": EndpointState.DELETING,
}

_MODEL_IN_ID = re.compile(r"/models/([^/]+)(?:/versions/[^/]+)?/?$")


def to_endpoint(endpoint: Any) -> Endpoint:
    """A ``ServerlessEndpoint`` as ftbot's ``Endpoint``."""
    state_text = str(getattr(endpoint, "provisioning_state", "") or "").lower()
    model_id = str(getattr(endpoint, "model_id", "") or "")
    match = _MODEL_IN_ID.search(model_id)
    system = getattr(endpoint, "system_data", None)
    created = parse_time(getattr(system, "created_at", None))
    state = ENDPOINT_STATES.get(state_text, EndpointState.CREATING)
    return Endpoint(
        name=str(endpoint.name),
        model=match.group(1) if match else model_id,
        state=state,
        scoring_uri=getattr(endpoint, "scoring_uri", None),
        created_at=created,
        error=f"Provisioning {state_text}." if state is EndpointState.FAILED else None,
    )


class Endpoints:
    """``deploy_model``, ``get_endpoint``, ``list_endpoints``, ``chat``, ``delete_endpoint`` and
    ``delete_model`` of the backend. ``deploy_wait_s``: how long ``deploy_model`` waits for the endpoint's
    LRO before returning it as ``creating``. ``serving``: the project the endpoints live in, when it is
    not the training ``project`` (a deploy target: the model id stays the training project's, as in
    Microsoft's cross-region sample); ``where`` names it in messages."""

    def __init__(
        self,
        project: FoundryProject,
        catalogue: Catalogue,
        *,
        http_client: httpx.Client,
        deploy_wait_s: float = 900.0,
        serving: FoundryProject | None = None,
        where: str = "this Azure AI Foundry project",
    ) -> None:
        self._project = project
        self._ws = project.ws  # the training project: models and jobs
        self._serving = serving or project  # where the serverless endpoints are
        self._where = where
        self._catalogue = catalogue
        self._http = http_client
        self._deploy_wait_s = deploy_wait_s

    def deploy_model(self, model: str, endpoint_name: str) -> Endpoint:
        """Serve a fine-tuned model from a serverless endpoint. Refuses a region not in the base model's
        ``maas-finetuning-deploy-regions`` tag, and a second endpoint for the same model (one deployment
        per custom model) with ``Conflict(existing=...)``."""
        with azure_errors(f"The model {model}"):
            version = self._ws.models.get(model, label="latest")
        self._check_free(model, endpoint_name)
        ws = self._project.workspace()
        self._check_region(version, self._serving.workspace().location)
        model_id = f"azureml://locations/{ws.location}/workspaces/{ws.guid}/models/{model}/versions/{version.version}"
        endpoint = ServerlessEndpoint(name=endpoint_name, model_id=model_id, tags={"ftbot.model": model})
        with azure_errors(f"The endpoint {endpoint_name}"):
            poller = self._serving.ws.serverless_endpoints.begin_create_or_update(endpoint)
            poller.wait(timeout=self._deploy_wait_s)
            created = (
                poller.result() if poller.done() else self._serving.ws.serverless_endpoints.get(endpoint_name)
            )
        logger.info("deploying %s as serverless endpoint %s", model, endpoint_name)
        return to_endpoint(created)

    def _check_free(self, model: str, endpoint_name: str) -> None:
        """``Conflict`` when the model already has an endpoint, or the name is taken."""
        serving = self._endpoints_serving(model)
        if serving:
            raise Conflict(
                f"{model} is already deployed as {serving[0].name}: "
                "a fine-tuned model can have one deployment.",
                existing=serving[0].name,
            )
        with azure_errors(f"The endpoint {endpoint_name}"):
            try:
                other = self._serving.ws.serverless_endpoints.get(endpoint_name)
            except ResourceNotFoundError:
                other = None
        if other is not None:
            raise Conflict(
                f"An endpoint named {endpoint_name} already exists (serving {to_endpoint(other).model}).",
                existing=endpoint_name,
            )

    def check_region(self, model: str) -> None:
        """``InvalidInput`` naming the allowed regions when ``model``'s fine-tunes cannot be deployed where
        the endpoints live (the base model's ``maas-finetuning-deploy-regions`` tag)."""
        with azure_errors(f"The model {model}"):
            version = self._ws.models.get(model, label="latest")
        self._check_region(version, self._serving.workspace().location)

    def _check_region(self, version: Any, location: str) -> None:
        base = self._base_of(version)
        if base is None or not base.deploy_regions:
            return
        if location not in base.deploy_regions:
            raise InvalidInput(
                f"{base.name} fine-tunes can be deployed only in {', '.join(base.deploy_regions)}; "
                f"{self._where} is in {location}. Use a project in one of those regions."
            )

    def _base_of(self, version: Any) -> BaseModelInfo | None:
        """The base model a fine-tuned model was trained from: its job's ``model`` input (a registry asset
        id)."""
        job_name = getattr(version, "job_name", None)
        if not job_name:
            return None
        with azure_errors(f"The fine-tuning job {job_name}"):
            try:
                job = self._ws.jobs.get(job_name)
            except ResourceNotFoundError:
                return None
        props: Mapping[str, Any] = getattr(job, "properties", None) or {}
        model_path = str(
            getattr(getattr(job, "model", None), "path", "") or props.get("original_model_id") or ""
        )
        match = REGISTRY_MODEL.match(model_path)
        if not match:
            return None
        registry, name, ver = match.groups()
        for info in self._catalogue.list_base_models():
            if info.source == registry and info.name == name:
                return info
        try:
            return self._catalogue.resolve_base_model(registry, name, ver)
        except NotFound:
            return None

    def _endpoints_serving(self, model: str) -> list[Endpoint]:
        return [e for e in self.list_endpoints() if e.model == model and e.state is not EndpointState.DELETED]

    def get_endpoint(self, name: str) -> Endpoint:
        with azure_errors(f"The endpoint {name}"):
            endpoint = self._serving.ws.serverless_endpoints.get(name)
        return to_endpoint(endpoint)

    def list_endpoints(self) -> list[Endpoint]:
        with azure_errors("The serverless endpoints"):
            return [to_endpoint(e) for e in self._serving.ws.serverless_endpoints.list()]

    def delete_endpoint(self, name: str) -> None:
        with azure_errors(f"The endpoint {name}"):
            try:
                self._serving.ws.serverless_endpoints.begin_delete(name).result()
            except ResourceNotFoundError:
                return
        logger.info("deleted serverless endpoint %s", name)

    def delete_model(self, model: str) -> None:
        """Refuses while an endpoint serves the model (the deployment goes first). Otherwise the model is
        archived: azure-ai-ml has no hard delete for workspace models; archiving hides every version."""
        serving = self._endpoints_serving(model)
        if serving:
            raise Conflict(
                f"{model} is still served by {serving[0].name}. Tear the endpoint down first.",
                existing=serving[0].name,
            )
        with azure_errors(f"The model {model}"):
            self._ws.models.archive(model)
        logger.info("archived model %s", model)

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        """``POST {scoring_uri}/v1/chat/completions`` with the endpoint's primary key, as Microsoft's sample
        does. The key is fetched for this call and never logged, stored or put in an error."""
        url, headers = self._scoring(endpoint_name)
        try:
            response = self._http.post(url, json=_payload(request), headers=headers)
        except httpx.HTTPError as e:
            raise Unavailable(f"Could not reach the endpoint {endpoint_name} ({type(e).__name__}).") from e
        return chat_reply(endpoint_name, response)

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        """``chat`` with ``stream: true``: the answer as the endpoint generates it, read from the endpoint
        where it lives (``serving``). ``stream_options.include_usage`` asks for the usage at the end; the
        ``extra-parameters: drop`` header lets an endpoint of the Azure AI model inference API that does not
        know that option ignore it instead of refusing the request. Errors as ``chat``'s, before the first
        piece when the endpoint refuses the request."""
        url, headers = self._scoring(endpoint_name)
        payload = {**_payload(request), "stream": True, "stream_options": {"include_usage": True}}
        headers = {**headers, "Accept": "text/event-stream", "extra-parameters": "drop"}
        try:
            with self._http.stream("POST", url, json=payload, headers=headers) as response:
                yield from chat_deltas(endpoint_name, response)
        except httpx.HTTPError as e:
            raise Unavailable(f"Could not reach the endpoint {endpoint_name} ({type(e).__name__}).") from e

    def _scoring(self, endpoint_name: str) -> tuple[str, dict[str, str]]:
        """The chat completions URL of a ready endpoint and the headers with its key, fetched now."""
        endpoint = self.get_endpoint(endpoint_name)
        if endpoint.state is not EndpointState.READY or not endpoint.scoring_uri:
            raise Unavailable(f"The endpoint {endpoint_name} is not ready yet ({endpoint.state.value}).")
        with azure_errors(f"The endpoint {endpoint_name}"):
            key = self._serving.ws.serverless_endpoints.get_keys(endpoint_name).primary_key
        if not key:
            raise BackendAuthError(f"Azure returned no key for the endpoint {endpoint_name}.")
        url = endpoint.scoring_uri.rstrip("/") + "/v1/chat/completions"
        return url, {"Authorization": key, "Content-Type": "application/json"}


def _payload(request: ChatRequest) -> dict[str, Any]:
    return {
        "messages": [m.model_dump() for m in request.messages],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }


class ServesEndpoints:
    """The endpoint operations of ``EndpointOps`` handed to an ``Endpoints``: the backend's (the training
    project) and a deploy target's. Serverless endpoints take no SKU."""

    kind = "azure"
    endpoints: Endpoints

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        no_skus(self.kind, sku)
        return self.endpoints.deploy_model(model, endpoint_name)

    def get_endpoint(self, name: str) -> Endpoint:
        return self.endpoints.get_endpoint(name)

    def list_endpoints(self) -> list[Endpoint]:
        return self.endpoints.list_endpoints()

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        return self.endpoints.chat(endpoint_name, request)

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        return self.endpoints.chat_stream(endpoint_name, request)

    def delete_endpoint(self, name: str) -> None:
        self.endpoints.delete_endpoint(name)
