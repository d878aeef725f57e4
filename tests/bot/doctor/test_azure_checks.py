"""Checks 2-5 through the official management clients against the fake ARM (azure-core transport)."""

from __future__ import annotations

from pathlib import Path

from azure.mgmt.authorization.v2022_04_01.models import Permission

from bot.doctor.azure_checks import allows
from bot.doctor.runner import CHECKS, run_doctor
from commands.doctor import Report, Status
from tests.bot.backends.fake_azure.wire import SUBSCRIPTION
from tests.bot.doctor.conftest import OPENAI_KEY, probe_for, settings_for
from tests.bot.doctor.fake_arm import OPENAI_CONTRIBUTOR, READER, FakeArm, RefusingCredential
from tests.support.harness import BOT_TOKEN

AZURE_CHECKS = ("credential", "subscription", "providers", "project", "role")
ONLY_AZURE = [spec for spec in CHECKS if spec.name in ("settings", *AZURE_CHECKS)]


def azure_report(tmp_path: Path, arm: FakeArm, backend: str = "azure", **kw: object) -> Report:
    probe = probe_for(settings_for(tmp_path, backend, **kw), arm, kw.pop("credential", None))  # type: ignore[arg-type]
    return run_doctor(probe, checks=ONLY_AZURE)


def test_every_azure_check_passes_and_names_the_credential_that_answered(
    tmp_path: Path, arm: FakeArm
) -> None:
    report = azure_report(tmp_path, arm)
    for name in AZURE_CHECKS:
        assert report.get(name).status is Status.PASS, report.get(name)
    assert "AzureCliCredential" in report.get("credential").detail
    assert "hub-based project ftbot-project in eastus2" in report.get("project").detail
    assert "Microsoft.Network" in report.get("providers").detail


def test_no_credential_in_the_chain_fails_and_skips_what_needs_it(tmp_path: Path, arm: FakeArm) -> None:
    probe = probe_for(settings_for(tmp_path, "azure"), arm, RefusingCredential())
    report = run_doctor(probe, checks=ONLY_AZURE)
    check = report.get("credential")
    assert check.status is Status.FAIL and "az login" in (check.fix or "")
    assert "management.azure.com" in check.detail
    for name in ("subscription", "providers", "project", "role"):
        assert report.get(name).status is Status.SKIP
    assert not arm.requests  # nothing was asked of Azure without a token


def test_a_disabled_or_free_trial_or_invisible_subscription_fails(tmp_path: Path, arm: FakeArm) -> None:
    arm.subscription_state = "Disabled"
    check = azure_report(tmp_path, arm).get("subscription")
    assert check.status is Status.FAIL and "Disabled" in check.detail
    arm.subscription_state, arm.quota_id = "Enabled", "FreeTrial_2014-09-01"
    check = azure_report(tmp_path, arm).get("subscription")
    assert check.status is Status.FAIL and "paid" in check.detail
    arm.subscription_visible = False
    report = azure_report(tmp_path, arm)
    assert report.get("subscription").status is Status.FAIL
    assert SUBSCRIPTION in report.get("subscription").detail
    assert report.get("providers").status is Status.SKIP


def test_an_unregistered_provider_fails_with_the_register_command(tmp_path: Path, arm: FakeArm) -> None:
    arm.providers["Microsoft.Network"] = "NotRegistered"
    check = azure_report(tmp_path, arm).get("providers")
    assert check.status is Status.FAIL
    assert "Microsoft.Network (NotRegistered)" in check.detail
    assert check.fix == f"az provider register --namespace Microsoft.Network --subscription {SUBSCRIPTION}"


def test_the_foundry_backend_needs_cognitive_services_registered(tmp_path: Path, arm: FakeArm) -> None:
    arm.providers["Microsoft.CognitiveServices"] = "Registering"
    check = azure_report(tmp_path, arm, "foundry").get("providers")
    assert check.status is Status.FAIL and "Microsoft.CognitiveServices (Registering)" in check.detail


def test_a_hub_a_plain_workspace_or_a_missing_project_fails(tmp_path: Path, arm: FakeArm) -> None:
    arm.workspace_kind = "Hub"
    assert "is a hub" in azure_report(tmp_path, arm).get("project").detail
    arm.workspace_kind = "Default"
    check = azure_report(tmp_path, arm).get("project")
    assert check.status is Status.FAIL and "not a hub-based project" in check.detail
    arm.workspace_kind = None
    check = azure_report(tmp_path, arm).get("project")
    assert check.status is Status.FAIL and "no project ftbot-project" in check.detail


def test_foundry_resource_kind_and_region(tmp_path: Path, arm: FakeArm) -> None:
    arm.location = "swedencentral"
    check = azure_report(tmp_path, arm, "foundry").get("project")
    assert (
        check.status is Status.PASS and check.detail == "AIServices resource ftbot-foundry in swedencentral"
    )
    arm.account_kind = "TextAnalytics"
    check = azure_report(tmp_path, arm, "foundry").get("project")
    assert check.status is Status.FAIL and "not an AIServices (Foundry) or OpenAI resource" in check.detail


def test_a_reader_cannot_write_in_the_resource_group(tmp_path: Path, arm: FakeArm) -> None:
    arm.permissions = [READER]
    check = azure_report(tmp_path, arm).get("role")
    assert check.status is Status.FAIL
    assert "Microsoft.MachineLearningServices/workspaces/jobs/write" in check.detail
    assert "--role Contributor" in (check.fix or "") and "resourceGroups/rg-ftbot" in (check.fix or "")


def test_foundry_without_a_key_needs_the_data_plane_role(tmp_path: Path, arm: FakeArm) -> None:
    check = azure_report(tmp_path, arm, "foundry").get("role")  # Contributor has no data actions
    assert check.status is Status.FAIL and "fine-tunes/write" in check.detail
    assert "Cognitive Services OpenAI Contributor" in (check.fix or "")
    arm.permissions.append(OPENAI_CONTRIBUTOR)
    assert azure_report(tmp_path, arm, "foundry").get("role").status is Status.PASS
    arm.permissions.pop()
    keyed = azure_report(tmp_path, arm, "foundry", AZURE_OPENAI_API_KEY=OPENAI_KEY)
    assert keyed.get("role").status is Status.PASS
    assert "AZURE_OPENAI_API_KEY" in keyed.get("credential").detail


def test_not_actions_take_away_what_actions_give() -> None:
    p = Permission(
        actions=["Microsoft.MachineLearningServices/*"],
        not_actions=["Microsoft.MachineLearningServices/workspaces/jobs/*"],
    )
    assert allows([p], "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write")
    assert not allows([p], "microsoft.machinelearningservices/workspaces/jobs/write")
    assert not allows([p], "Microsoft.MachineLearningServices/workspaces/jobs/write", data=True)


def test_no_detail_or_fix_carries_a_secret(tmp_path: Path, arm: FakeArm) -> None:
    arm.permissions = [READER]
    arm.providers["Microsoft.Network"] = "NotRegistered"
    report = azure_report(tmp_path, arm, "foundry", AZURE_OPENAI_API_KEY=OPENAI_KEY)
    text = str(report.to_json())
    assert OPENAI_KEY not in text and BOT_TOKEN not in text
