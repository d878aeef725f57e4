"""The doctor's ``local_models`` check: the models offered, the training precision, a folder that holds no
model (fail), the real model's extra missing (warn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backends.local import catalog, smollm2
from bot.doctor.config_checks import check_local_models
from tests.bot.doctor.conftest import probe_for, settings_for
from tests.bot.doctor.fake_arm import FakeArm


@pytest.mark.parametrize(
    ("setting", "native", "said"),
    [
        ("auto", True, "training on CPU in bf16 (FTBOT_LOCAL_PRECISION=auto, native bfloat16)"),
        ("auto", False, "training on CPU in fp32 (FTBOT_LOCAL_PRECISION=auto, no native bfloat16)"),
        ("fp32", True, "training on CPU in fp32 (FTBOT_LOCAL_PRECISION=fp32, native bfloat16)"),
    ],
)
def test_passes_naming_the_models_and_the_precision(
    tmp_path: Path, arm: FakeArm, monkeypatch: pytest.MonkeyPatch, setting: str, native: bool, said: str
) -> None:
    monkeypatch.setattr(catalog, "cpu_bf16", lambda: native)
    monkeypatch.setattr(smollm2, "available", lambda: True)
    check = check_local_models(probe_for(settings_for(tmp_path, FTBOT_LOCAL_PRECISION=setting), arm))
    assert check.status == "pass"
    assert check.detail == f"offered: ftbot-tiny, smollm2-135m-instruct; {said}"


def test_a_folder_without_a_model_fails(tmp_path: Path, arm: FakeArm) -> None:
    settings = settings_for(tmp_path, FTBOT_LOCAL_MODELS=f"gone={tmp_path / 'missing'}")
    check = check_local_models(probe_for(settings, arm))
    assert check.status == "fail"
    assert check.detail == "FTBOT_LOCAL_MODELS names folders with no model in them: gone"


def test_the_real_models_extra_missing_warns_how_to_add_it(
    tmp_path: Path, arm: FakeArm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smollm2, "gguf_path", lambda: None)
    check = check_local_models(probe_for(settings_for(tmp_path), arm))
    assert check.status == "warn"
    assert check.detail.startswith("offered: ftbot-tiny; training on CPU in ")
    assert check.fix is not None and "pip install 'ftbot[smollm2]'" in check.fix


def test_skipped_on_the_other_backends(tmp_path: Path, arm: FakeArm) -> None:
    check = check_local_models(probe_for(settings_for(tmp_path, "foundry"), arm))
    assert check.status == "skip"
