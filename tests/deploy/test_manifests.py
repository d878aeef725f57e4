"""deploy/: every Kubernetes manifest validates against the schema of a pinned Kubernetes version
(kubernetes-validate, offline: it ships the schemas), the Prometheus Operator resources against the
operator's own CRD schemas shipped in deploy/kubernetes/crds/ (as the API server applies them: tests/deploy/
crds.py), and every metric an alert, the dashboard or README names is one that
ftbot exports."""

from __future__ import annotations

import copy
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
from tests.deploy.crds import crd_validator, validate_custom_resource

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"  # the cluster version the manifests are held to
CRDS = K8S / "crds"
CRD_API = "monitoring.coreos.com/v1"
CRD_VALIDATORS = {
    "PrometheusRule": crd_validator(CRDS / "prometheusrule.schema.json", CRD_API, "PrometheusRule"),
    "ServiceMonitor": crd_validator(CRDS / "servicemonitor.schema.json", CRD_API, "ServiceMonitor"),
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
    if doc["kind"] in CRD_VALIDATORS:
        validate_custom_resource(CRD_VALIDATORS[doc["kind"]], doc, KUBERNETES_VERSION)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_refuses_a_broken_manifest() -> None:
    broken = copy.deepcopy(by_kind("Deployment", "ftbot-web"))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


_RULES, _MONITOR = "PrometheusRule", "ServiceMonitor"
_GROUP = ("spec", "groups", 0)
_RULE = (*_GROUP, "rules", 0)
_ENDPOINT = ("spec", "endpoints", 0)
_Path = tuple[str | int, ...]
#: id: (kind, object changed, field dropped from it, fields set on it, field refused (None: the object))
BROKEN: dict[str, tuple[str, _Path, str | None, dict[str, Any], str | None]] = {
    "misspelt field in a rule": (_RULES, _RULE, "annotations", {"anotations": {"summary": "s"}}, None),
    "rule without expr": (_RULES, _RULE, "expr", {}, None),
    "expr not a string": (_RULES, _RULE, None, {"expr": ["up"]}, "expr"),
    "for not a duration": (_RULES, _RULE, None, {"for": "ten minutes"}, "for"),
    "label value not a string": (_RULES, (*_RULE, "labels"), None, {"page": True}, "page"),
    "unknown field in a group": (_RULES, _GROUP, None, {"evaluation_interval": "1m"}, None),
    "group without name": (_RULES, _GROUP, "name", {}, None),
    "two groups of one name": (_RULES, ("spec",), None, {"groups": [{"name": "a"}, {"name": "a"}]}, "groups"),
    "partial response strategy": (
        _RULES, _GROUP, None, {"partial_response_strategy": "drop"}, "partial_response_strategy"
    ),
    "wrong apiVersion": (_RULES, (), None, {"apiVersion": "monitoring.coreos.com/v1beta1"}, "apiVersion"),
    "name not a DNS subdomain": (_RULES, ("metadata",), None, {"name": "Ftbot_Rules"}, "name"),
    "misspelt endpoints": (_MONITOR, ("spec",), "endpoints", {"endpoint": [{"port": "metrics"}]}, None),
    "no selector": (_MONITOR, ("spec",), "selector", {}, None),
    "interval not a duration": (_MONITOR, _ENDPOINT, None, {"interval": "30 seconds"}, "interval"),
    "unknown field in an endpoint": (_MONITOR, _ENDPOINT, None, {"metricsPath": "/metrics"}, None),
    "scheme not http(s)": (_MONITOR, _ENDPOINT, None, {"scheme": "ftp"}, "scheme"),
    "port not a name": (_MONITOR, _ENDPOINT, None, {"port": 9100}, "port"),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN)
def test_the_crd_schemas_refuse_a_broken_resource(case: str) -> None:
    kind, where, dropped, added, refused_field = BROKEN[case]
    doc = copy.deepcopy(by_kind(kind))
    validate_custom_resource(CRD_VALIDATORS[kind], doc, KUBERNETES_VERSION)  # unbroken, it passes
    target: Any = doc
    for step in where:
        target = target[step]
    if dropped:
        del target[dropped]
    target.update(added)
    with pytest.raises(jsonschema.ValidationError) as refused:
        validate_custom_resource(CRD_VALIDATORS[kind], doc, KUBERNETES_VERSION)
    error_at = (*where, refused_field) if refused_field else where
    assert tuple(refused.value.absolute_path) == error_at, refused.value.message


def test_a_custom_resource_metadata_is_checked_as_object_meta() -> None:
    doc = copy.deepcopy(by_kind("PrometheusRule"))
    doc["metadata"]["lables"] = {"team": "ml"}  # misspelt: ObjectMeta has no such field
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_custom_resource(CRD_VALIDATORS["PrometheusRule"], doc, KUBERNETES_VERSION)


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
