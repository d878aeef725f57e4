"""A stateful, in-process fake of the Azure ML service, served to a real ``MLClient`` through azure-core's
``transport=``.

``FakeAzureTransport`` (``wire.py``) is an azure-core ``HttpTransport`` (a ``RequestsTransport`` whose
``requests`` session has an adapter mounted that answers from ``FakeAzureML`` instead of a socket), so
azure-core builds its own response types and the SDK's serialisation, LRO pollers and error mapping all run
for real. ``FakeAzureML`` (``service.py``) routes to one mixin per resource: ``jobs.py``, ``storage.py``,
``endpoints.py``, ``registries.py``, over the state in ``state.py``. Shapes follow azure-ai-ml's own test
recordings: the FineTuning PUT/GET of its ``test_maap_finetuning_job`` (``properties.properties`` with
``original_model_id``, ``azureml.ModelName``, ``_outputModelName``; ``taskType`` echoed capitalised;
``systemData.createdAt``), the datastore/listSecrets/blob HEAD sequence, and the 400 ``UserError``
"Serverless FineTuning not supported in westus" with inner code ``ModelNotSupportedByMaaS``.

State moves only when a test says so (``advance()``), except LROs, which finish after ``lro_polls`` polls.
Every request is recorded (``requests``) so tests can assert method, path, api-version and body fields.
``world.py`` wires a real ``MLClient`` and ``AzureBackend`` to it; ``scoring.py`` answers chat requests.
"""

from tests.bot.backends.fake_azure.scoring import FakeScoring
from tests.bot.backends.fake_azure.service import FakeAzureML
from tests.bot.backends.fake_azure.wire import (
    LOCATION,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WORKSPACE_GUID,
    FakeAzureTransport,
    FakeCredential,
    Recorded,
    Reply,
    error_body,
)
from tests.bot.backends.fake_azure.world import META, PHI, AzureWorld, make_spec, make_world, patch_sdk

__all__ = [
    "LOCATION",
    "META",
    "PHI",
    "RESOURCE_GROUP",
    "SUBSCRIPTION",
    "WORKSPACE",
    "WORKSPACE_GUID",
    "AzureWorld",
    "FakeAzureML",
    "FakeAzureTransport",
    "FakeCredential",
    "FakeScoring",
    "Recorded",
    "Reply",
    "error_body",
    "make_spec",
    "make_world",
    "patch_sdk",
]
