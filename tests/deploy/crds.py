"""Validate a custom resource against a CRD's ``openAPIV3Schema`` (deploy/kubernetes/crds/) the way the API
server does on ``kubectl apply``, offline.

The schema files are the Prometheus Operator's own, verbatim. What the API server adds on top, this adds:
- ``apiVersion`` and ``kind`` are the CRD's group/version and kind; ``metadata`` is an ``ObjectMeta``
  (checked here with kubernetes-validate's schema of the pinned Kubernetes version) whose ``name`` is a
  DNS subdomain;
- unknown fields are errors, as with kubectl's default ``--validate=strict`` (server-side field
  validation), except under ``x-kubernetes-preserve-unknown-fields``;
- ``nullable``, ``x-kubernetes-int-or-string`` and the uniqueness of ``x-kubernetes-list-type: map``
  (by ``x-kubernetes-list-map-keys``) and ``set`` lists;
- RE2 patterns that put an inline flag after ``^`` (``^(?i)…``) are rewritten for Python's ``re``.
The schema is OpenAPI 3.0's Schema Object, which jsonschema reads as draft 4. CEL rules
(``x-kubernetes-validations``) are not evaluated; the two schemas shipped have none.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from jsonschema import Draft4Validator, ValidationError
from jsonschema.protocols import Validator

_FLAG_AFTER_CARET = re.compile(r"^\^(\(\?[a-zA-Z]+\))")
#: the API server's rule for a custom resource's name: a DNS subdomain (RFC 1123)
_DNS_SUBDOMAIN = {
    "type": "string",
    "maxLength": 253,
    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
}


def _unique_by(
    validator: Validator, keys: list[str], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        if not isinstance(item, dict):
            continue
        key = json.dumps([item.get(k) for k in keys])
        if key in seen:
            named = {k: item.get(k) for k in keys}
            yield ValidationError(f"duplicate entry for key {named}")
        seen.add(key)


def _list_type(
    validator: Validator, kind: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if kind == "set" and validator.is_type(instance, "array"):
        yield from validator.descend(instance, {"uniqueItems": True})


_ServedValidator = jsonschema.validators.extend(
    Draft4Validator, {"x-kubernetes-list-map-keys": _unique_by, "x-kubernetes-list-type": _list_type}
)


def served(node: Any) -> Any:
    """``node`` (a CRD's schema, or part of it) as the API server applies it; see the module docstring."""
    if isinstance(node, list):
        return [served(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: served(v) for k, v in node.items()}
    strict = not out.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and "additionalProperties" not in out and strict:
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _FLAG_AFTER_CARET.sub(r"\1^", out["pattern"])
    return out


def crd_validator(schema_file: Path, api_version: str, kind: str) -> Validator:
    """A validator of ``kind`` resources (``api_version``) from the ``openAPIV3Schema`` in ``schema_file``."""
    schema = served(json.loads(schema_file.read_text()))
    schema["properties"] = {
        **schema["properties"],
        "apiVersion": {"enum": [api_version]},
        "kind": {"enum": [kind]},
        "metadata": {"type": "object", "required": ["name"], "properties": {"name": _DNS_SUBDOMAIN}},
    }
    schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
    _ServedValidator.check_schema(schema)
    return _ServedValidator(schema)


def validate_custom_resource(validator: Validator, doc: dict[str, Any], kubernetes_version: str) -> None:
    """Raises ``jsonschema.ValidationError`` (the schema) or ``kubernetes_validate.ValidationError``
    (``metadata``)."""
    validator.validate(doc)
    holder = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": copy.deepcopy(doc["metadata"])}
    kubernetes_validate.validate(holder, kubernetes_version, strict=True)
