"""Builds the OpenAPI 3.1 document from the app's own routes and the marshmallow schemas of schemas.py.

Paths come from the app's URL map and each summary from its view's docstring, request bodies and
query parameters from the schemas the views load them with: what the service does and what the
document says come from the same code. A route with no entry in OPERATIONS is left out, and
tests/test_openapi.py fails until it has one."""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from apidocs.operations import ERRORS, OPERATIONS, SECURITY_SCHEME, TAGS, TITLE, UPLOAD_PARTS, V1_PREFIX
from apidocs.responses import (
    TaskResponseSchema,
    WebhookDeliverySchema,
    WebhookEndpointSchema,
    WebhookSecretSchema,
)
from schemas import (
    SEGMENT_TYPES,
    TOKENIZERS,
    ConfigurationSchema,
    CreateTaskSchema,
    FallbackStrategyField,
    SegmentProcessingField,
    TokenizerField,
    UploadSchema,
)
from webhooks.api import EndpointSchema

IGNORED_METHODS = {"HEAD", "OPTIONS"}
_CONVERTER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


class DocumentedFields(MarshmallowPlugin):
    """The marshmallow plugin, taught the shapes of schemas.py's own field types."""

    def init_spec(self, spec):
        super().init_spec(spec)
        self.converter.add_attribute_function(custom_field_shapes)


def custom_field_shapes(self, field, ret, **kwargs) -> dict:
    if isinstance(field, TokenizerField):
        return {"anyOf": [
            {"type": "string", "enum": list(TOKENIZERS)},
            {"type": "object", "required": ["Enum"], "additionalProperties": False,
             "properties": {"Enum": {"type": "string", "enum": list(TOKENIZERS)}}},
            {"type": "object", "required": ["String"], "additionalProperties": False,
             "properties": {"String": {"type": "string", "minLength": 1}}},
        ]}
    if isinstance(field, SegmentProcessingField):
        # Keys are also read in snake_case (`list_item`); any other key is ignored, as upstream does.
        entry = ret["additionalProperties"]
        return {"properties": {name: entry for name in SEGMENT_TYPES}, "additionalProperties": True,
                "description": "Segment type (`ListItem`, or `list_item`) to its generation settings"}
    if isinstance(field, FallbackStrategyField):
        return {"anyOf": [
            {"type": "string", "enum": ["None", "Default"]},
            {"type": "object", "required": ["Model"], "additionalProperties": False,
             "properties": {"Model": {"type": "string"}}},
        ]}
    return {}


def openapi_path(rule: str) -> str:
    """`/task/<task_id>` as `/task/{task_id}`."""
    return _CONVERTER.sub(r"{\1}", rule)


def operation_id(view: str, method: str, methods: list[str], path: str, on_both_prefixes: bool) -> str:
    """Unique across both prefixes: `cancel_task`, `cancel_task_post`, `cancel_task_v1`."""
    name = view if len(methods) == 1 or method == "GET" else f"{view}_{method.lower()}"
    return f"{name}_v1" if on_both_prefixes and path.startswith(V1_PREFIX + "/") else name


def build_spec(app: Flask, version: str) -> dict:
    """The OpenAPI 3.1 document of every documented route of `app`."""
    spec = APISpec(title=TITLE, version=version, openapi_version="3.1.0", plugins=[DocumentedFields()], info={
        "description": "A self-hosted, Chunkr-compatible document task service. Every task route is served at the "
                       "root (as the chunkr-ai 0.3.7 client calls it) and under `/api/v1`. Every error is plain text.",
    }, servers=[{"url": "/", "description": "This service"}], security=[{"ApiKey": []}])
    for tag in TAGS:
        spec.tag(tag)
    spec.components.security_scheme("ApiKey", SECURITY_SCHEME)
    spec.components.security_scheme("MetricsToken", {"type": "http", "scheme": "bearer",
                                                      "description": "The METRICS_TOKEN setting"})
    for name, response in ERRORS.items():
        spec.components.response(name, response)
    spec.components.schema("TaskResponse", schema=TaskResponseSchema)
    spec.components.schema("Configuration", schema=ConfigurationSchema)
    spec.components.schema("CreateTask", schema=CreateTaskSchema)
    spec.components.schema("Upload", schema=UploadSchema)
    spec.components.schema("WebhookEndpointRequest", schema=EndpointSchema)
    spec.components.schema("WebhookEndpoint", schema=WebhookEndpointSchema)
    spec.components.schema("WebhookSecret", schema=WebhookSecretSchema)
    spec.components.schema("WebhookDelivery", schema=WebhookDeliverySchema)
    upload = upload_schema(spec)
    paths: dict[str, dict] = {}
    rules = sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)
    views = [rule.endpoint.rsplit(".", 1)[-1] for rule in rules]
    for rule in rules:
        view = rule.endpoint.rsplit(".", 1)[-1]
        documented = OPERATIONS.get(view)
        if documented is None:
            continue
        path = openapi_path(rule.rule)
        methods = sorted(set(rule.methods) - IGNORED_METHODS)
        summary = summary_of(app.view_functions[rule.endpoint])
        for method in methods:
            operation = _resolved(documented[method], upload)
            operation["operationId"] = operation_id(view, method, methods, path, views.count(view) > 1)
            if summary:
                operation["summary"] = summary
            if path.startswith(V1_PREFIX + "/") and "tasks" in operation.get("tags", []):
                operation["tags"] = [f"tasks under {V1_PREFIX}"]
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    for name in ("Configuration", "CreateTask", "Upload"):
        nullable_configuration(document["components"]["schemas"][name]["properties"])
    return document


def nullable_configuration(properties: dict) -> dict:
    """A null configuration field means "not given" (ConfigurationSchema.drop_nulls): say so."""
    for name in ConfigurationSchema().fields:
        shape = properties[name]
        if "$ref" in shape or "anyOf" in shape:
            alternatives = shape.pop("anyOf", None) or [{"$ref": shape.pop("$ref")}]
            shape["anyOf"] = [*alternatives, {"type": "null"}] if {"type": "null"} not in alternatives else alternatives
        elif "null" not in shape.get("type", []):
            shape["type"] = [shape["type"], "null"]
        if "enum" in shape and None not in shape["enum"]:
            shape["enum"].append(None)
    return properties


def summary_of(view) -> str:
    """The first sentence of a view's docstring."""
    text = " ".join((view.__doc__ or "").split())
    return re.split(r"(?<=\.)\s", text, maxsplit=1)[0].rstrip(".")


def upload_schema(spec: APISpec) -> dict:
    """The multipart form of `POST /task`: the file, its name, and each configuration field as a JSON part."""
    configuration = nullable_configuration(spec.to_dict()["components"]["schemas"]["Upload"]["properties"])
    properties = {**UPLOAD_PARTS, **configuration}
    encoding = {name: {"contentType": "application/json"} for name in configuration}
    return {"schema": {"type": "object", "required": ["file"], "properties": properties}, "encoding": encoding}


def _resolved(operation: dict, upload: dict) -> dict:
    """A copy of an OPERATIONS entry with its component names turned into references."""

    def resolve(value):
        if value == "UPLOAD":
            return upload
        if isinstance(value, dict):
            return {key: (_ref(item) if key in ("schema", "items") and isinstance(item, str) else resolve(item))
                    for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value

    return resolve(operation)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}
