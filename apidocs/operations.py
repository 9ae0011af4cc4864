"""What each route answers, for the OpenAPI document: responses with their status codes and plain-text
errors, path and header parameters. Request bodies and query strings are the views' own marshmallow
schemas; a string where a schema goes names a component of the document (apidocs/spec.py)."""
from __future__ import annotations

from schemas import STATUSES, GetQuerySchema, ListQuerySchema
from webhooks.api import DeliveriesQuerySchema

TITLE = "Chunkr-compatible document tasks"
V1_PREFIX = "/api/v1"
TEXT = "text/plain"
TAGS = [
    {"name": "tasks", "description": "The task routes at the root, as the chunkr-ai 0.3.7 client calls them"},
    {"name": f"tasks under {V1_PREFIX}", "description": "The same routes under /api/v1, as the Chunkr docs call them"},
    {"name": "webhooks", "description": "Signed events on every status change of the caller's tasks"},
    {"name": "files", "description": "Stored files, at the signed URLs a task gives"},
    {"name": "service", "description": "Health, metrics, this document"},
]

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
    "IdempotencyConflict": {**text("A request with this Idempotency-Key is still being handled: retry after Retry-After",
                                   "A request with this Idempotency-Key is still being handled; retry it shortly"),
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    "IdempotencyMismatch": text("This Idempotency-Key was used for a different request"),
}


def error(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


TASK = {"description": "The task (SPEC.md §7)", "content": {"application/json": {"schema": "TaskResponse"}}}
IGNORED_FIELDS = {"Warning": {"schema": {"type": "string"}, "description":
                  'Top-level fields this service does not know, accepted and ignored: `299 - "Unknown fields ignored: a, b"`'}}
CREATED = {**TASK, "headers": {**IGNORED_FIELDS, "Idempotent-Replayed": {
    "schema": {"type": "string", "enum": ["true"]}, "description": "The task an earlier request with this key made"}}}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
                   "description": "The same key and request within 24 hours returns the task the first one made"}
CREATE_ERRORS = {"400": error("BadRequest"), "409": error("IdempotencyConflict"), "413": error("TooLarge"),
                 "422": error("IdempotencyMismatch")}
ENDPOINT_ID = {"in": "path", "name": "endpoint_id", "required": True, "schema": {"type": "string"}}
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
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": "CreateTask"}}},
        "responses": {"200": CREATED, **CREATE_ERRORS, **AUTHENTICATED},
    }},
    "create_task_upload": {"POST": {
        "tags": ["tasks"],
        "description": "A `file` part plus optional configuration parts, each a JSON value "
                       "(a bare string such as `Auto` is taken as that string).",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {"multipart/form-data": "UPLOAD"}},
        "responses": {"200": CREATED, **CREATE_ERRORS, **AUTHENTICATED},
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
        "responses": {"200": {**TASK, "description": "The task, Starting again: `Task queued for update`",
                              "headers": IGNORED_FIELDS},
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
    "metrics_page": {"GET": {
        "tags": ["service"], "security": [{"MetricsToken": []}],
        "description": "Served only when METRICS_TOKEN is set (404 otherwise), to `Authorization: Bearer <METRICS_TOKEN>`.",
        "responses": {"200": text("Prometheus's text exposition format"),
                      "401": text("Invalid or missing metrics token"), "404": text("Metrics are off")},
    }},
    "list_webhooks": {"GET": {
        "tags": ["webhooks"],
        "responses": {"200": {"description": "The caller's endpoints, without their secrets", "content": {
            "application/json": {"schema": {"type": "array", "items": "WebhookEndpoint"}}}}, **AUTHENTICATED},
    }},
    "create_webhook": {"POST": {
        "tags": ["webhooks"],
        "description": "Every status change of the caller's tasks is sent to it, signed (Standard Webhooks).",
        "requestBody": {"required": True, "content": {"application/json": {"schema": "WebhookEndpointRequest"}}},
        "responses": {"201": {"description": "The endpoint, with its secret (shown only here)", "content": {
            "application/json": {"schema": "WebhookEndpoint"}}}, "400": error("BadRequest"), **AUTHENTICATED},
    }},
    "delete_webhook": {"DELETE": {
        "tags": ["webhooks"], "parameters": [ENDPOINT_ID],
        "responses": {"200": text("Deleted", "Webhook endpoint deleted"),
                      "404": text("No such endpoint of the caller's", "Webhook endpoint not found"), **AUTHENTICATED},
    }},
    "get_webhook_secret": {"GET": {
        "tags": ["webhooks"],
        "responses": {"200": {"description": "The secret", "content": {"application/json": {"schema": "WebhookSecret"}}},
                      **AUTHENTICATED},
    }},
    "rotate_webhook_secret": {"POST": {
        "tags": ["webhooks"],
        "responses": {"200": {"description": "The new secret", "content": {
            "application/json": {"schema": "WebhookSecret"}}}, **AUTHENTICATED},
    }},
    "list_webhook_deliveries": {"GET": {
        "tags": ["webhooks"], "parameters": [{"in": "query", "schema": DeliveriesQuerySchema}],
        "responses": {"200": {"description": "The caller's deliveries, newest first", "content": {
            "application/json": {"schema": {"type": "array", "items": "WebhookDelivery"}}}},
            "400": error("BadRequest"), **AUTHENTICATED},
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
