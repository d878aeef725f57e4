"""Check 6: the base models against the project's region (``maas-finetuning-deploy-regions``), the
Marketplace subscription of a non-Microsoft model, and a Foundry resource's fine-tunable models."""

from __future__ import annotations

from pathlib import Path

from bot.backends.azure.catalogue import DEFAULT_MODELS, DEPLOY_REGIONS_TAG
from bot.doctor.runner import CHECKS, run_doctor
from commands.doctor import Check, Status
from tests.bot.doctor.conftest import probe_for, settings_for
from tests.bot.doctor.fake_arm import OPENAI_CONTRIBUTOR, READER, FakeArm

PHI = "Phi-4-mini-instruct"
META = "Meta-Llama-3.1-8B-Instruct"
CONFIGURED = f"azureml/{PHI},azureml-meta/{META}"
MARKETPLACE_ONLY = {
    "actions": ["Microsoft.MarketplaceOrdering/*", "Microsoft.SaaS/register/action"],
    "notActions": [],
    "dataActions": [],
    "notDataActions": [],
}
UP_TO_MODELS = [
    s for s in CHECKS if s.name in ("settings", "credential", "subscription", "project", "role", "models")
]


def add_models(arm: FakeArm, regions: str = "eastus2, westus3") -> None:
    arm.azure_ml.add_registry_model("azureml", PHI, "3", tags={DEPLOY_REGIONS_TAG: regions})
    arm.azure_ml.add_registry_model("azureml-meta", META, "4", tags={DEPLOY_REGIONS_TAG: regions})


def models_check(tmp_path: Path, arm: FakeArm, backend: str = "azure", **settings: str) -> Check:
    probe = probe_for(settings_for(tmp_path, backend, **settings), arm)
    return run_doctor(probe, checks=UP_TO_MODELS).get("models")


def test_models_in_the_projects_region_with_a_marketplace_subscription_pass(
    tmp_path: Path, arm: FakeArm
) -> None:
    add_models(arm)
    arm.azure_ml.add_subscription(
        "meta-llama-3-1-8b-instruct", f"azureml://registries/azureml-meta/models/{META}"
    )
    check = models_check(tmp_path, arm, FTBOT_AZURE_MODELS=CONFIGURED)
    assert check.status is Status.PASS, check
    assert f"{PHI} (deploys in eastus2, westus3)" in check.detail and META in check.detail


def test_a_region_outside_the_deploy_regions_tag_fails_naming_the_allowed_ones(
    tmp_path: Path, arm: FakeArm
) -> None:
    add_models(arm, regions="westus3, northcentralus")
    check = models_check(tmp_path, arm, FTBOT_AZURE_MODELS=f"azureml/{PHI}")
    assert check.status is Status.FAIL
    assert (
        f"{PHI} cannot be fine-tuned in eastus2 (its fine-tunes deploy in westus3, northcentralus)"
        in check.detail
    )
    assert "westus3, northcentralus" in (check.fix or "")


def test_a_marketplace_offer_the_identity_cannot_buy_fails(tmp_path: Path, arm: FakeArm) -> None:
    add_models(arm)
    arm.permissions = [
        {
            "actions": ["Microsoft.MachineLearningServices/*"],
            "notActions": [],
            "dataActions": [],
            "notDataActions": [],
        }
    ]
    check = models_check(tmp_path, arm, FTBOT_AZURE_MODELS=CONFIGURED)
    assert check.status is Status.FAIL
    assert f"{META} needs a Marketplace subscription and this identity cannot buy one" in check.detail
    assert "Microsoft.SaaS/register/action" in check.detail
    assert "billing account allows Marketplace purchases" in (check.fix or "")


def test_a_marketplace_subscription_is_created_later_when_the_identity_may(
    tmp_path: Path, arm: FakeArm
) -> None:
    add_models(arm)
    arm.permissions.append(MARKETPLACE_ONLY)
    check = models_check(tmp_path, arm, FTBOT_AZURE_MODELS=CONFIGURED)
    assert check.status is Status.PASS
    assert "Marketplace subscription is created before the first job" in check.detail
    assert not arm.azure_ml.calls("PUT", "marketplaceSubscriptions")  # the doctor never buys anything


def test_the_default_catalogue_warns_about_models_this_project_cannot_use(
    tmp_path: Path, arm: FakeArm
) -> None:
    add_models(arm)  # of the default list only these two exist in the fake registries
    arm.azure_ml.add_subscription(
        "meta-llama-3-1-8b-instruct", f"azureml://registries/azureml-meta/models/{META}"
    )
    check = models_check(tmp_path, arm)
    assert check.status is Status.WARN, check
    assert PHI in check.detail and "is not in the registry" in check.detail
    assert len(DEFAULT_MODELS) > 2


def test_the_models_check_is_skipped_when_the_role_check_fails(tmp_path: Path, arm: FakeArm) -> None:
    add_models(arm)
    arm.permissions = [READER]
    check = models_check(tmp_path, arm, FTBOT_AZURE_MODELS=CONFIGURED)
    assert check.status is Status.SKIP and "role" in check.detail


def test_foundry_models_marked_fine_tune_in_the_resources_region(tmp_path: Path, arm: FakeArm) -> None:
    arm.permissions.append(OPENAI_CONTRIBUTOR)
    check = models_check(tmp_path, arm, "foundry")
    assert (
        check.status is Status.PASS
        and "1 model(s) can be fine-tuned in eastus2: gpt-4.1-2025-04-14" in check.detail
    )
    check = models_check(tmp_path, arm, "foundry", FTBOT_FOUNDRY_MODELS="gpt-4.1-2025-04-14")
    assert check.status is Status.PASS
    check = models_check(tmp_path, arm, "foundry", FTBOT_FOUNDRY_MODELS="gpt-4o-2024-11-20")
    assert check.status is Status.FAIL
    assert "gpt-4o-2024-11-20 cannot be fine-tuned on this resource in eastus2" in check.detail
    assert "gpt-4.1-2025-04-14" in (check.fix or "")
