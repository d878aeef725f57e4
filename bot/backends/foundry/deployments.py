"""Deployments of fine-tuned models through Azure Resource Manager (``accounts/{account}/deployments``):
``begin_create_or_update`` with model format ``OpenAI``, ``get``, ``list`` and ``begin_delete`` of
azure-mgmt-cognitiveservices. A deployment is ftbot's endpoint: same name, idempotent by it.

ARM ``Succeeded`` is not yet ready: until the data plane stops answering ``DeploymentNotReady`` the
endpoint stays ``creating`` (a one-token probe, asked until it passes once). A Developer deployment is
deleted by the service 24 hours after it was made: ``Endpoint.expires_at`` says when.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cognitiveservices.models import Deployment, DeploymentModel, DeploymentProperties, Sku

from bot.backends.foundry.chat import Chat
from bot.backends.foundry.clients import FoundryConfig
from bot.backends.foundry.constants import (
    DEPLOYMENT_SKUS,
    DEVELOPER_LIFETIME,
    MODEL_FORMAT,
    MODEL_VERSION,
    find,
)
from bot.backends.foundry.errors import arm_errors, arm_message, openai_errors
from commands.errors import Conflict, InvalidInput, NotFound
from commands.models import Endpoint, EndpointState

if TYPE_CHECKING:
    import openai
    from azure.core.polling import LROPoller
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

logger = logging.getLogger(__name__)

#: ARM provisioningState → ftbot's endpoint state (Succeeded is READY only once the data plane agrees)
PROVISIONING: dict[str, EndpointState] = {
    "Accepted": EndpointState.CREATING,
    "Creating": EndpointState.CREATING,
    "Moving": EndpointState.CREATING,
    "Succeeded": EndpointState.READY,
    "Failed": EndpointState.FAILED,
    "Canceled": EndpointState.FAILED,
    "Disabled": EndpointState.FAILED,
    "Deleting": EndpointState.DELETING,
}
_GONE = ("Failed", "Canceled", "Deleting")


class Deployments:
    def __init__(
        self,
        arm: CognitiveServicesManagementClient,
        data_plane: openai.OpenAI,
        config: FoundryConfig,
        chat: Chat,
        *,
        source: str | None = None,
    ) -> None:
        """``source``: the ARM id of the account that trained the models, when it is not this one (a
        deploy target: "Deploy a fine-tuned model", cross-region and cross-subscription deployment)."""
        self._source = source
        self._arm = arm
        self._data_plane = data_plane
        self._config = config
        self._chat = chat
        self._where = {"resource_group_name": config.resource_group, "account_name": config.account}
        self._pollers: dict[str, LROPoller[Any]] = {}
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def _errors(self, what: str) -> Any:
        return arm_errors(what, self._config.account)

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        tier = find(DEPLOYMENT_SKUS, sku or self._config.deployment_sku)
        if tier is None:
            raise InvalidInput(
                "Unknown deployment SKU {sku}: use Standard, GlobalStandard or Developer.",
                field="sku",
                sku=str(sku or self._config.deployment_sku),
            )
        for current in self._list():
            served = _model_of(current)
            state = str(current.properties.provisioning_state or "") if current.properties else ""
            if current.name == endpoint_name:
                if served == model:
                    return self._endpoint(current)
                raise Conflict(
                    "The deployment name {endpoint} is taken by another model ({model}).",
                    endpoint=endpoint_name,
                    model=served or "unknown",
                )
            if served == model and state not in _GONE:
                raise Conflict(
                    "{model} is already deployed as {endpoint}.",
                    existing=str(current.name),
                    model=model,
                    endpoint=str(current.name),
                )
        body = Deployment(
            sku=Sku(name=tier.wire, capacity=tier.capacity),
            properties=DeploymentProperties(
                model=DeploymentModel(
                    format=MODEL_FORMAT, name=model, version=MODEL_VERSION, source=self._source
                )
            ),
        )
        with self._errors(f"The deployment {endpoint_name}"):
            try:
                poller = self._arm.deployments.begin_create_or_update(
                    deployment_name=endpoint_name, deployment=body, **self._where
                )
            except HttpResponseError as err:
                if (err.status_code or 0) >= 500:
                    raise self._refused(err, model, endpoint_name) from err
                raise
        with self._lock:
            self._pollers[endpoint_name] = poller
        logger.info("deploying %s as %s (%s)", model, endpoint_name, tier.wire)
        return Endpoint(name=endpoint_name, model=model, state=EndpointState.CREATING)

    def _refused(self, err: HttpResponseError, model: str, name: str) -> InvalidInput:
        """A 500 that outlived the client's retries: the known cause is a wrong model format."""
        message, _ = arm_message(err)
        return InvalidInput(
            f"Azure could not create the deployment {{endpoint}} of {{model}} (HTTP {err.status_code}: "
            f"{message}). A wrong model format causes this: ftbot sent format {MODEL_FORMAT}, and fine-tuned "
            "Azure OpenAI models deploy as format OpenAI (open models as their publisher's).",
            endpoint=name,
            model=model,
        )

    def get_endpoint(self, name: str) -> Endpoint:
        with self._errors(f"The endpoint {name}"):
            try:
                current = self._arm.deployments.get(deployment_name=name, **self._where)
            except ResourceNotFoundError:
                raise NotFound("No endpoint called {endpoint}.", endpoint=name) from None
        return self._endpoint(current)

    def list_endpoints(self) -> list[Endpoint]:
        return [self._endpoint(d, probe=False) for d in self._list()]

    def _list(self) -> list[Deployment]:
        with self._errors("The list of deployments"):
            return list(self._arm.deployments.list(**self._where))

    def _endpoint(self, current: Deployment, *, probe: bool = True) -> Endpoint:
        name = str(current.name)
        provisioning = str(current.properties.provisioning_state or "") if current.properties else ""
        state = PROVISIONING.get(provisioning, EndpointState.CREATING)
        error = None
        if state is EndpointState.READY and probe and not self._data_plane_ready(name):
            state = EndpointState.CREATING
        elif state is EndpointState.FAILED:
            error = self._failure(name, provisioning)
        created = current.system_data.created_at if current.system_data else None
        sku = find(DEPLOYMENT_SKUS, current.sku.name if current.sku else None)
        expires = None
        if sku is not None and sku.name == "Developer" and isinstance(created, datetime):
            expires = created + DEVELOPER_LIFETIME
        return Endpoint(
            name=name,
            model=_model_of(current) or "",
            state=state,
            scoring_uri=self._config.base_url + "chat/completions",
            created_at=created,
            error=error,
            expires_at=expires,
        )

    def _data_plane_ready(self, name: str) -> bool:
        with self._lock:
            if name in self._ready:
                return True
        ready = self._chat.probe(name)
        if ready:
            with self._lock:
                self._ready.add(name)
        return ready

    def _failure(self, name: str, provisioning: str) -> str:
        """The service's reason, from the create operation when this process started it."""
        with self._lock:
            poller = self._pollers.get(name)
        if poller is not None and poller.done():
            try:
                poller.result(timeout=0)
            except HttpResponseError as err:
                return f"Azure could not deploy it: {arm_message(err)[0]}"
        return f"Azure Resource Manager reports the deployment {provisioning}."

    def delete_endpoint(self, name: str) -> None:
        with self._errors(f"The endpoint {name}"), contextlib.suppress(ResourceNotFoundError):
            self._arm.deployments.begin_delete(deployment_name=name, **self._where).result()
        with self._lock:
            self._ready.discard(name)
            self._pollers.pop(name, None)

    def delete_model(self, model: str) -> None:
        """ "You can't delete a customized model if it has an existing deployment": ``Conflict`` naming it."""
        for current in self._list():
            if _model_of(current) == model:
                raise Conflict(
                    "{model} is served by {endpoint}; tear that down first.",
                    existing=str(current.name),
                    model=model,
                    endpoint=str(current.name),
                )
        with openai_errors(f"The model {model}"):
            try:
                self._data_plane.models.delete(model)
            except Exception as err:
                if getattr(err, "status_code", None) == 404:
                    return
                raise


def _model_of(deployment: Deployment) -> str | None:
    props = deployment.properties
    return str(props.model.name) if props is not None and props.model is not None else None
