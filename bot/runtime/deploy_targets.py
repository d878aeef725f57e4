"""FTBOT_DEPLOY_TARGETS: ``NAME=SUBSCRIPTION/RESOURCE_GROUP/PROJECT`` separated by commas, the projects
(Azure OpenAI accounts on ``foundry``) a fine-tuned model may be deployed to besides the training project,
which is always the target named ``home``."""

from __future__ import annotations

from commands.models import HOME_TARGET, DeployTarget


def parse_targets(text: str) -> list[DeployTarget]:
    """The targets the setting names, in its order; ``ValueError`` saying what is wrong with which item
    (a missing part, a bad or repeated name, ``home``, which is the training project)."""
    targets: list[DeployTarget] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, where = item.partition("=")
        name, parts = name.strip(), [p.strip() for p in where.split("/")]
        if not sep or len(parts) != 3 or not all(parts):
            raise ValueError(f"expected NAME=SUBSCRIPTION/RESOURCE_GROUP/PROJECT, got {item!r}")
        if name.lower() == HOME_TARGET:
            raise ValueError("home is the training project itself; give the other targets other names")
        if any(t.name.lower() == name.lower() for t in targets):
            raise ValueError(f"the target name {name!r} is given twice")
        try:
            targets.append(
                DeployTarget(name=name, subscription_id=parts[0], resource_group=parts[1], project=parts[2])
            )
        except ValueError:
            raise ValueError(
                f"a target's name starts with a letter and has letters, digits, - and _ only, got {name!r}"
            ) from None
    return targets


def with_home(home: DeployTarget | None, targets: list[DeployTarget]) -> list[DeployTarget]:
    """``home`` first, then the others."""
    return ([home] if home is not None else []) + list(targets)
