"""``--data`` and ``--validation`` take a dataset the service keeps as well as a URL: a project data asset
(``azureml:NAME:VERSION``, azure) or a file uploaded with purpose fine-tune (``file-…``, foundry); an id
half typed is a usage error, and an id of the other backend's form is refused naming both forms."""

from __future__ import annotations

import pytest

from commands import grammar
from commands.dataset.service_refs import require_backend, service_ref_backend, split_data_asset
from commands.errors import InvalidInput, UsageError

SAS = "https://acct.blob.core.windows.net/c/train.jsonl?sv=2024&sig=abc%2F"


@pytest.mark.parametrize(
    ("data", "validation"),
    [
        ("azureml:support-chats:3", None),
        ("azureml:support_chats.v2:2024-06-01", "azureml:support-valid:1"),
        ("file-181a1cbdcdcf4677ada87f63a0928099", "file-8556c3bb41b7416bb7519b47fcd1dd6b"),
        ("azureml:support-chats:3", SAS),
    ],
)
def test_service_ids_are_taken_as_typed(data: str, validation: str | None) -> None:
    text = f"submit --model m --data {data}" + (f" --validation {validation}" if validation else "")
    parsed = grammar.parse(text)
    assert isinstance(parsed, grammar.Submit)
    assert (parsed.data, parsed.validation) == (data, validation)


def test_an_escaped_link_beside_a_service_id_still_reads_as_its_url() -> None:
    escaped = f"<{SAS.replace('&', '&amp;')}|acct.blob.core.windows.net/c/train.jsonl>"
    parsed = grammar.parse(f"submit --model m --data azureml:chats:1 --validation {escaped}")
    assert isinstance(parsed, grammar.Submit)
    assert (parsed.data, parsed.validation) == ("azureml:chats:1", SAS)


@pytest.mark.parametrize(
    ("text", "flag", "says"),
    [
        ("submit --model m --data azureml:support-chats", "--data", "azureml:NAME:VERSION"),
        ("submit --model m --data azureml:chats:1 --validation azureml:valid", "--validation", "version"),
        ("submit --model m --data file-", "--data", "file-"),
        ("submit --model m --data file-abc/../x", "--data", "letters and digits"),
    ],
)
def test_a_half_typed_service_id_is_a_usage_error_on_its_flag(text: str, flag: str, says: str) -> None:
    with pytest.raises(UsageError) as err:
        grammar.parse(text)
    assert err.value.field == flag and says in err.value.message
    assert err.value.hint is not None and err.value.hint.startswith("/finetune submit")


def test_azureml_urls_are_not_taken_for_data_asset_ids() -> None:
    parsed = grammar.parse("submit --model m --data <azureml://datastores/d/paths/train.jsonl>")
    assert isinstance(parsed, grammar.Submit)
    assert parsed.data == "azureml://datastores/d/paths/train.jsonl"
    assert service_ref_backend(parsed.data) is None


def test_each_form_belongs_to_one_backend() -> None:
    assert service_ref_backend("azureml:chats:2") == "azure"
    assert service_ref_backend("file-abc123") == "foundry"
    assert service_ref_backend(SAS) is None
    assert split_data_asset("azureml:chats:2") == ("chats", "2")
    with pytest.raises(InvalidInput):
        split_data_asset("azureml:chats")


@pytest.mark.parametrize(
    ("value", "backend", "names"),
    [
        ("file-abc123", "azure", ("foundry backend", "file-…", "azure backend", "azureml:NAME:VERSION")),
        (
            "azureml:chats:2",
            "foundry",
            ("azure backend", "azureml:NAME:VERSION", "foundry backend", "file-…"),
        ),
        ("azureml:chats:2", "local", ("azure backend", "local backend", "https URL or an upload")),
    ],
)
def test_the_wrong_backend_is_refused_naming_which_backend_takes_which_form(
    value: str, backend: str, names: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        require_backend(value, backend, field="--data")
    assert refused.value.field == "--data"
    assert all(n in refused.value.message for n in names), refused.value.message


def test_the_right_backend_and_urls_pass() -> None:
    require_backend("azureml:chats:2", "azure")
    require_backend("file-abc123", "foundry")
    require_backend(SAS, "local")
