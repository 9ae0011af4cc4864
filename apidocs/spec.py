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

from apidocs.responses import TaskResponseSchema
from schemas import (
    SEGMENT_TYPES,
    STATUSES,
    TOKENIZERS,
    ConfigurationSchema,
    CreateTaskSchema,
    FallbackStrategyField,
    GetQuerySchema,
    ListQuerySchema,
    SegmentProcessingField,
    TokenizerField,
)

TITLE = "Chunkr-compatible document tasks"
V1_PREFIX = "/api/v1"
TEXT = "text/plain"

SECURITY_SCHEME = {
    "type": "apiKey", "in": "header", "name": "Authorization",
    "description": "The API key as it is (`Authorization: <key>`), or `Authorization: Bearer <key>`. "
                   "`flask --app app keys create --owner NAME` prints a new one.",
}


def text(description: str, example: str | None = None) -> dict:
    """A plain-text response (every error, and health, cancel and delete)."""
    media = {"schema": {"type": "string"}}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {TEXT: media}}


ERRORS = {
    "BadRequest": text("Invalid input (the text names the field and what was expected), or a refused "
                       "transition (the text names the task's status)", "Task cannot be deleted: status is Processing"),
    "Unauthorized": text("Authorization header is missing, API key is missing, or Invalid or inactive API key",
                         "Invalid or inactive API key"),
    "NotFound": text("No such task, another owner's task, or an expired one: all answer the same", "Task not found"),
    "TooLarge": text("The document or request is over MAX_FILE_BYTES", "File too large: the limit is 104857600 bytes"),
    "ServerError": text("An unexpected error; the body never holds a traceback", "Internal server error"),
}


def error(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


TASK = {"description": "The task (SPEC.md §7)", "content": {"application/json": {"schema": "TaskResponse"}}}
TASK_ID = {"in": "path", "name": "task_id", "required": True, "schema": {"type": "string"},
           "description": "The task's id (a UUID)"}
AUTHENTICATED = {"401": error("Unauthorized"), "500": error("ServerError")}
PUBLIC = {"security": []}

# Form parts other than the configuration's.
UPLOAD_PARTS = {
    "file": {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream",
             "description": "The document (PDF, image, text, office file)"},
    "file_name": {"type": "string", "description": "The document's name; the part's own file name when absent"},
}

OPERATIONS = {
    "create_task": {"POST": {
        "tags": ["tasks"],
        "description": "`file` is base64, a `data:<mime>;base64,...` URL, or an http(s) URL fetched by the worker. "
                       "Unknown fields are ignored.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": "CreateTask"}}},
        "responses": {"200": TASK, "400": error("BadRequest"), "413": error("TooLarge"), **AUTHENTICATED},
    }},
    "create_task_upload": {"POST": {
        "tags": ["tasks"],
        "description": "A `file` part plus optional configuration parts, each a JSON value "
                       "(a bare string such as `Auto` is taken as that string).",
        "requestBody": {"required": True, "content": {"multipart/form-data": "UPLOAD"}},
        "responses": {"200": TASK, "400": error("BadRequest"), "413": error("TooLarge"), **AUTHENTICATED},
    }},
    "get_task": {"GET": {
        "tags": ["tasks"],
        "parameters": [TASK_ID, {"in": "query", "schema": GetQuerySchema},
                       {"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
                        "description": "The ETag of an earlier answer: 304 while the task is unchanged"}],
        "responses": {
            "200": {**TASK, "headers": {"ETag": {"schema": {"type": "string"}, "description": "A weak tag"}}},
            "304": {"description": "Unchanged since the given ETag; no body"},
            "400": error("BadRequest"), "404": error("NotFound"), **AUTHENTICATED},
    }},
    "update_task": {"PATCH": {
        "tags": ["tasks"],
        "description": "Every field optional, the body too; `segment_processing` merges per segment type. "
                       "Only a Succeeded or Failed task can be updated.",
        "parameters": [TASK_ID],
        "requestBody": {"required": False, "content": {"application/json": {"schema": "Configuration"}}},
        "responses": {"200": {**TASK, "description": "The task, Starting again: `Task queued for update`"},
                      "400": error("BadRequest"), "404": error("NotFound"), "413": error("TooLarge"),
                      **AUTHENTICATED},
    }},
    "cancel_task": {method: {
        "tags": ["tasks"],
        "description": "Only a Starting task can be cancelled; a queued update reverts to the task's earlier state.",
        "parameters": [TASK_ID],
        "responses": {"200": text("Cancelled", "Task cancelled"), "400": error("BadRequest"),
                      "404": error("NotFound"), **AUTHENTICATED},
    } for method in ("GET", "POST")},
    "delete_task": {"DELETE": {
        "tags": ["tasks"],
        "description": "Only a Succeeded, Failed or Cancelled task can be deleted.",
        "parameters": [TASK_ID],
        "responses": {"200": text("Deleted", "Task deleted"), "400": error("BadRequest"),
                      "404": error("NotFound"), **AUTHENTICATED},
    }},
    "list_tasks": {"GET": {
        "tags": ["tasks"],
        "description": "`page` needs `limit`. With neither, the newest 100. `start` and `end` bound `created_at` "
                       f"(inclusive). `status` is a comma-separated list of {', '.join(STATUSES)}; it may be repeated.",
        "parameters": [{"in": "query", "schema": ListQuerySchema}],
        "responses": {"200": {"description": "The caller's tasks, newest first", "content": {"application/json": {
            "schema": {"type": "array", "items": "TaskResponse"}}}},
            "400": error("BadRequest"), **AUTHENTICATED},
    }},
    "index": {"GET": {
        **PUBLIC, "tags": ["service"],
        "responses": {"200": text("What this service is, its version, where the docs and health are"),
                      "302": {"description": "A browser (Accept: text/html) is sent to the task viewer"},
                      "500": error("ServerError")},
    }},
    "health": {"GET": {
        **PUBLIC, "tags": ["service"],
        "responses": {"200": text("Up", "OK - Version 0.1.0"), "500": error("ServerError")},
    }},
    "get_file": {"GET": {
        **PUBLIC, "tags": ["files"],
        "description": "The links a TaskResponse holds; the signature and expiry in the URL are the credential.",
        "parameters": [
            {"in": "path", "name": "task_id", "required": True, "schema": {"type": "string"}},
            {"in": "path", "name": "name", "required": True, "schema": {"type": "string"}},
            {"in": "query", "name": "expires", "required": True, "schema": {"type": "integer"},
             "description": "Unix time after which the link is refused"},
            {"in": "query", "name": "signature", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "The file's bytes with its content type",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "403": text("Missing, invalid or expired signature", "URL expired"),
            "404": text("No such file", "File not found"),
            "500": text("A page image could not be rendered"),
            "503": text("The page-image renderer is busy or past its deadline; retry after Retry-After"),
        },
    }},
    "openapi_document": {"GET": {
        **PUBLIC, "tags": ["service"],
        "responses": {"200": {"description": "This document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
    "docs_page": {"GET": {
        **PUBLIC, "tags": ["service"],
        "responses": {"200": {"description": "Swagger UI showing this document",
                              "content": {"text/html": {"schema": {"type": "string"}}}}},
    }},
}
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


def operation_id(view: str, method: str, methods: list[str], path: str) -> str:
    """Unique across both prefixes: `cancel_task`, `cancel_task_post`, `cancel_task_v1`."""
    name = view if len(methods) == 1 or method == "GET" else f"{view}_{method.lower()}"
    return f"{name}_v1" if path.startswith(V1_PREFIX + "/") else name


def build_spec(app: Flask, version: str) -> dict:
    """The OpenAPI 3.1 document of every documented route of `app`."""
    spec = APISpec(title=TITLE, version=version, openapi_version="3.1.0", plugins=[DocumentedFields()], info={
        "description": "A self-hosted, Chunkr-compatible document task service. Every task route is served at the "
                       "root (as the chunkr-ai 0.3.7 client calls it) and under `/api/v1`. Every error is plain text.",
    }, servers=[{"url": "/", "description": "This service"}], security=[{"ApiKey": []}])
    spec.components.security_scheme("ApiKey", SECURITY_SCHEME)
    for name, response in ERRORS.items():
        spec.components.response(name, response)
    spec.components.schema("TaskResponse", schema=TaskResponseSchema)
    spec.components.schema("Configuration", schema=ConfigurationSchema)
    spec.components.schema("CreateTask", schema=CreateTaskSchema)
    upload = upload_schema(spec)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        view = rule.endpoint.rsplit(".", 1)[-1]
        documented = OPERATIONS.get(view)
        if documented is None:
            continue
        path = openapi_path(rule.rule)
        methods = sorted(set(rule.methods) - IGNORED_METHODS)
        summary = (app.view_functions[rule.endpoint].__doc__ or "").strip().splitlines()[0:1]
        for method in methods:
            operation = _resolved(documented[method], upload)
            operation["operationId"] = operation_id(view, method, methods, path)
            if summary:
                operation["summary"] = summary[0].rstrip(".")
            if path.startswith(V1_PREFIX + "/") and "tasks" in operation.get("tags", []):
                operation["tags"] = [f"tasks under {V1_PREFIX}"]
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    for name in ("Configuration", "CreateTask"):
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


def upload_schema(spec: APISpec) -> dict:
    """The multipart form of `POST /task`: the file, its name, and each configuration field as a JSON part."""
    configuration = nullable_configuration(spec.to_dict()["components"]["schemas"]["Configuration"]["properties"])
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
