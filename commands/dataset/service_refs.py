"""Datasets named by the id the service keeps them under, rather than a URL: an Azure AI Foundry project's
data asset (``azureml:NAME:VERSION``, the ``azure`` backend) or a file uploaded to Azure OpenAI with purpose
``fine-tune`` (``file-…``, the ``foundry`` backend). One place says which form is which and which backend
reads it, for ``/finetune submit --data``, the wizard's "A dataset uploaded before" and ``ftbot submit``.
"""

from __future__ import annotations

import re
from typing import Final

from commands.errors import InvalidInput

#: ``azureml:NAME:VERSION``: a workspace data asset's short id (azure-ai-ml resolves it to the asset's ARM id)
DATA_ASSET: Final = re.compile(
    r"^azureml:([A-Za-z0-9][A-Za-z0-9_.-]{0,254}):([A-Za-z0-9][A-Za-z0-9_.-]{0,63})$"
)
#: ``file-…``: an Azure OpenAI file id
SERVICE_FILE: Final = re.compile(r"^file-[A-Za-z0-9_-]{1,128}$")

#: the form each backend takes, as users type it
FORMS: Final = {"azure": "azureml:NAME:VERSION", "foundry": "file-…"}
_WHAT: Final = {
    "azure": "a data asset of an Azure AI Foundry project",
    "foundry": "a file uploaded to Azure OpenAI with purpose fine-tune",
}


def service_ref_backend(value: str) -> str | None:
    """The backend that reads ``value`` (``"azure"`` or ``"foundry"``), or None when it is no service id
    (a URL, a path)."""
    if DATA_ASSET.match(value):
        return "azure"
    if SERVICE_FILE.match(value):
        return "foundry"
    return None


def split_data_asset(ref: str) -> tuple[str, str]:
    """``azureml:NAME:VERSION`` → ``(NAME, VERSION)``; ``InvalidInput`` for anything else."""
    match = DATA_ASSET.match(ref)
    if match is None:
        raise InvalidInput("{ref} is not a data asset id ({form}).", ref=ref[:120], form=FORMS["azure"])
    return match.group(1), match.group(2)


def malformed_ref(value: str) -> str | None:
    """Why ``value`` looks meant as a service id but is not one (``azureml:name`` without a version), or
    None."""
    if value.startswith("azureml:") and not value.startswith("azureml://") and not DATA_ASSET.match(value):
        return f"a data asset is given as {FORMS['azure']} (the version too)"
    if value.startswith("file-") and not SERVICE_FILE.match(value):
        return "a file id is file- followed by letters and digits"
    return None


def require_backend(value: str, backend: str, *, field: str | None = None) -> None:
    """``InvalidInput`` when ``value`` is a service id that ``backend`` cannot read, saying which backend
    takes which form."""
    owner = service_ref_backend(value)
    if owner is None or owner == backend:
        return
    names = {"data": value[:120], "form": FORMS[owner]}
    if backend in FORMS:
        takes = f"which takes {{accepted}} ({_WHAT[backend]}) or an https URL"
        names["accepted"] = FORMS[backend]
    else:
        takes = "which takes an https URL or an upload"
    raise InvalidInput(
        f"{{data}} is {_WHAT[owner]}, which only the {owner} backend reads (as {{form}}); this ftbot runs "
        f"the {backend} backend, {takes}.",
        field=field,
        **names,
    )
