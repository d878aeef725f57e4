"""deploy/: every Kubernetes manifest validates against the schema of a pinned Kubernetes version
(kubernetes-validate, offline: it ships the schemas), the Prometheus Operator resources against the CRD
schemas in deploy/kubernetes/crds/, and every metric an alert, the dashboard or README names is one that
ftbot exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from bot.backends.observed import Observed
from bot.runtime.metrics import Metrics, StoreCollector
from bot.runtime.settings import Settings
from bot.store.db import Database

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"  # the cluster version the manifests are held to
CRD_SCHEMAS = {
    "PrometheusRule": K8S / "crds" / "prometheusrule.schema.json",
    "ServiceMonitor": K8S / "crds" / "servicemonitor.schema.json",
}


def documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d for _, d in documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


@pytest.mark.parametrize(("file", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_validates(file: str, doc: dict[str, Any]) -> None:
    if doc["kind"] in CRD_SCHEMAS:
        jsonschema.validate(doc, json.loads(CRD_SCHEMAS[doc["kind"]].read_text()))
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validators_refuse_a_broken_manifest() -> None:
    deployment = by_kind("Deployment", "ftbot-web")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    rule = json.loads(json.dumps(by_kind("PrometheusRule")))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "ten minutes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, json.loads(CRD_SCHEMAS["PrometheusRule"].read_text()))


def test_kustomization_lists_every_manifest_but_the_migration_job() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "migrate-job.yaml"}


def _container(name: str) -> dict[str, Any]:
    pod = by_kind("Deployment", name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return {"pod": pod, **container}


def test_the_deployments_are_shaped_for_production() -> None:
    assert by_kind("Deployment", "ftbot-web")["spec"]["replicas"] == 2
    assert by_kind("Deployment", "ftbot-scheduler")["spec"]["replicas"] == 1
    for name, role in (("ftbot-web", "web"), ("ftbot-scheduler", "scheduler")):
        c = _container(name)
        assert {"name": "FTBOT_ROLE", "value": role} in c["env"]
        Settings.model_validate({"FTBOT_ROLE": role})  # a value the setting takes
        assert c["readinessProbe"]["httpGet"]["path"] == "/healthz" == c["livenessProbe"]["httpGet"]["path"]
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert c["pod"]["securityContext"]["runAsNonRoot"] is True
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert {"/data", "/tmp"} <= mounts  # where ftbot and prometheus-client write
        assert all("emptyDir" in v for v in c["pod"]["volumes"])
        assert c["pod"]["terminationGracePeriodSeconds"] >= 45  # the scheduler's 30 s drain and more
        assert {"name": "metrics", "containerPort": 9100} in c["ports"]
    config = by_kind("ConfigMap")["data"]
    assert config["FTBOT_METRICS_PORT"] == "9100" and config["FTBOT_LOG_FORMAT"] == "json"


def test_the_secret_example_holds_no_values_and_only_known_names() -> None:
    secret = by_kind("Secret")["stringData"]
    assert all(v == "" for v in secret.values())
    readme = (REPO / "README.md").read_text()
    for name in secret:
        assert f"`{name}`" in readme or name in readme, f"{name} is not in README's settings"
    for name in by_kind("ConfigMap")["data"]:
        assert f"`{name}`" in readme, f"{name} is not in README's settings table"


def _exported(tmp_path: Path) -> set[str]:
    """Every sample name ftbot exports, from its own families (one sample each) and the store's."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.request("command", "ok", 0.01)
    metrics.slack_call("chat.postMessage", "ok")
    metrics.tick_lag.set(1)
    metrics.last_tick.set(1)
    database = Database(f"sqlite:///{tmp_path / 'ftbot.db'}")
    database.migrate()
    registry.register(StoreCollector(database, "local"))

    class Backend:
        kind = "local"

        def get_job(self) -> None:
            return None

    Observed(Backend(), metrics=True).get_job()
    text = generate_latest(registry).decode() + generate_latest().decode()
    database.dispose()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("ftbot_")}


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\bftbot_[a-z_]+\b", expr))


def test_every_metric_an_alert_or_the_dashboard_names_is_exported(tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    rules = by_kind("PrometheusRule")["spec"]["groups"][0]["rules"]
    alerts = {r["alert"] for r in rules}
    assert alerts == {
        "FtbotSlackRateLimited", "FtbotBackendErrors", "FtbotSchedulerLag", "FtbotOutboxBacklog",
        "FtbotJobsFailedByService", "FtbotNoSuccessfulTick",
    }  # fmt: skip
    named = set().union(*(_names(r["expr"]) for r in rules))
    dashboard = json.loads((REPO / "deploy" / "grafana" / "ftbot.json").read_text())
    named |= {n for p in dashboard["panels"] for t in p["targets"] for n in _names(t["expr"])}
    assert named and named <= exported, f"not exported: {sorted(named - exported)}"
    runbook = (REPO / "RUNBOOK.md").read_text()
    for alert in alerts:
        assert f"## {alert}" in runbook


def test_readme_documents_every_family_with_its_labels(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("| `ftbot_requests_total`") :]
    families = (
        "ftbot_requests_total",
        "ftbot_ack_seconds",
        "ftbot_slack_api_calls_total",
        "ftbot_backend_calls_total",
        "ftbot_backend_call_seconds",
        "ftbot_jobs",
        "ftbot_jobs_finished_total",
        "ftbot_endpoints_live",
        "ftbot_scheduler_tick_lag_seconds",
        "ftbot_outbox_pending",
        "ftbot_outbox_oldest_seconds",
        "ftbot_build_info",
    )
    exported = _exported(tmp_path)
    for name in families:
        assert f"`{name}`" in table
        assert name in exported or f"{name}_count" in exported
