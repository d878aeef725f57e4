"""``commands.dataset.service_refs``: which backend reads a service id, and the exact sentence when one is
malformed or given to the other backend."""

from __future__ import annotations

import pytest

from commands.dataset.service_refs import (
    malformed_ref,
    require_backend,
    service_ref_backend,
    split_data_asset,
)
from commands.errors import InvalidInput

LONG = "azureml:" + "n" * 200 + ":1"


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("azureml:support-data:3", "azure"),
        ("azureml:a.b_c:v1.0", "azure"),
        ("file-abc_123-XY", "foundry"),
        ("azureml:name", None),
        ("azureml://subscriptions/x/data/y", None),
        ("file-", None),
        ("https://example.com/d.jsonl", None),
        ("data.jsonl", None),
    ],
)
def test_service_ref_backend(value: str, backend: str | None) -> None:
    assert service_ref_backend(value) == backend


def test_split_data_asset() -> None:
    assert split_data_asset("azureml:support-data:3") == ("support-data", "3")
    with pytest.raises(InvalidInput) as e:
        split_data_asset("azureml:name")
    assert str(e.value) == "azureml:name is not a data asset id (azureml:NAME:VERSION)."
    assert e.value.names == {"ref": "azureml:name", "form": "azureml:NAME:VERSION"}
    with pytest.raises(InvalidInput) as long:
        split_data_asset("x" * 300)
    assert long.value.names["ref"] == "x" * 120


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("azureml:name", "a data asset is given as azureml:NAME:VERSION (the version too)"),
        ("azureml:name:", "a data asset is given as azureml:NAME:VERSION (the version too)"),
        ("file-", "a file id is file- followed by letters and digits"),
        ("file-a b", "a file id is file- followed by letters and digits"),
        ("azureml:name:1", None),
        ("azureml://registries/x", None),
        ("file-abc", None),
        ("https://x/file-", None),
        ("data.jsonl", None),
    ],
)
def test_malformed_ref(value: str, why: str | None) -> None:
    assert malformed_ref(value) == why


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("azureml:d:1", "azure"),
        ("file-abc", "foundry"),
        ("https://x/d.jsonl", "azure"),
        ("https://x/d.jsonl", "local"),
        ("azureml:name", "local"),
    ],
)
def test_a_backend_takes_its_own_ids_and_urls(value: str, backend: str) -> None:
    require_backend(value, backend)


def test_an_azure_asset_for_the_foundry_backend() -> None:
    with pytest.raises(InvalidInput) as e:
        require_backend("azureml:d:1", "foundry", field="data")
    assert str(e.value) == (
        "azureml:d:1 is a data asset of an Azure AI Foundry project, which only the azure backend reads "
        "(as azureml:NAME:VERSION); this ftbot runs the foundry backend, which takes file-… (a file uploaded "
        "to Azure OpenAI with purpose fine-tune) or an https URL."
    )
    assert e.value.field == "data"
    assert e.value.names == {"data": "azureml:d:1", "form": "azureml:NAME:VERSION", "accepted": "file-…"}


def test_a_foundry_file_for_the_azure_and_local_backends() -> None:
    with pytest.raises(InvalidInput) as azure:
        require_backend("file-abc", "azure")
    assert str(azure.value) == (
        "file-abc is a file uploaded to Azure OpenAI with purpose fine-tune, which only the foundry "
        "backend reads (as file-…); this ftbot runs the azure backend, which takes azureml:NAME:VERSION "
        "(a data asset of an Azure AI Foundry project) or an https URL."
    )
    assert azure.value.field is None
    with pytest.raises(InvalidInput) as local:
        require_backend(LONG, "local", field="data")
    assert str(local.value) == (
        f"{LONG[:120]} is a data asset of an Azure AI Foundry project, which only the azure backend reads "
        "(as azureml:NAME:VERSION); this ftbot runs the local backend, "
        "which takes an https URL or an upload."
    )
    assert local.value.names == {"data": LONG[:120], "form": "azureml:NAME:VERSION"}
