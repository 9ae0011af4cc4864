"""The task lifecycle blueprint: create, get, update, cancel, delete and list (SPEC.md §2)."""
from __future__ import annotations

import hashlib
import json
import time

import orjson
from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from models import INPUT_FILE
from observability import logs, metrics
from schemas import (
    ConfigurationSchema,
    CreateTaskSchema,
    GetQuerySchema,
    ListQuerySchema,
    UploadSchema,
    default_configuration,
    merge_configuration,
    utc_timestamp,
)
from tasks import idempotency, lifecycle
from tasks.status import Status
from tasks.wakeup import announce_work
from web.auth import authenticate
from web.errors import BadInput, plain
from web.inputs import InputDocument, checked_document, read_file_field
from web.storage import FileLinks, resolve_output_urls, service_root
from webhooks.endpoints import checked_webhook_url

bp = Blueprint("tasks", __name__)
PREFIXES = {"tasks": "", "api_v1": "/api/v1"}  # blueprint registration name -> URL prefix

_configuration_schema = ConfigurationSchema()
_upload_schema = UploadSchema()
_create_schema = CreateTaskSchema()
_CREATE_FIELDS = frozenset(field.data_key or name for name, field in _create_schema.load_fields.items())
_UPDATE_FIELDS = frozenset(field.data_key or name for name, field in _configuration_schema.load_fields.items())
_UPLOAD_FIELDS = _UPDATE_FIELDS | {"file", "file_name", "webhook_url"}
_get_query = GetQuerySchema()
_list_query = ListQuerySchema()
_GET_DEFAULTS = _get_query.load({})  # most GETs have no query string


@bp.before_request
def require_api_key():
    """Every task route needs a valid key (SPEC.md §3)."""
    authenticate()


def task_response(task, include_chunks: bool = True, base64_urls: bool = False, links: FileLinks | None = None) -> dict:
    """The TaskResponse of SPEC.md §7 for one task.

    Built directly rather than dumped through a marshmallow schema: every field is the server's
    own, so there is nothing to validate, and a GET is mostly this function."""
    links = links or FileLinks(base64_urls)
    task_id = task.task_id
    configuration = dict(task.configuration)
    configuration["input_file_url"] = (
        links.url(task_id, INPUT_FILE) if task.mime_type is not None else task.input_url)
    output = None
    if task.output is not None:
        chunks_ready = include_chunks and task.status == Status.SUCCEEDED.value
        output = resolve_output_urls(task_id, task.output, chunks_ready, links)
    return {
        "task_id": task_id,
        "status": task.status,
        "message": task.message,
        "created_at": utc_timestamp(task.created_at),
        "started_at": utc_timestamp(task.started_at),
        "finished_at": utc_timestamp(task.finished_at),
        "expires_at": utc_timestamp(task.expires_at),
        "task_url": f"{links.root}{PREFIXES[request.blueprint]}/task/{task_id}",
        "configuration": configuration,
        "output": output,
    }


def query_arguments(merged: tuple[str, ...] = ()) -> dict[str, str]:
    """The query string as one value per name: the `merged` names' repeats joined with commas
    (`status=Failed&status=Cancelled` is `status=Failed,Cancelled`), any other repeat refused
    rather than half read."""
    arguments = {}
    for name, values in request.args.lists():
        if len(values) > 1 and name not in merged:
            raise BadInput(f"Query parameter {name} given more than once")
        arguments[name] = ",".join(values)
    return arguments


def _json_body() -> dict:
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(request.get_data(cache=True)) >= limit:
        # A chunked body has no length to refuse it by: werkzeug stops reading at the limit and
        # hands over what it read, which is then no JSON. Its size is the problem to name.
        raise RequestEntityTooLarge()
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise BadInput("Request body is not usable JSON: nested too deeply") from None
    if body is None and request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded") \
            and request.method == "POST":
        raise BadInput(f"Request body must be valid JSON (Content-Type: application/json); to upload a file as "
                       f"multipart/form-data, POST it to {PREFIXES[request.blueprint]}/task")
    if body is None:
        raise BadInput("Request body must be valid JSON (Content-Type: application/json)")
    return body


def note_unknown_fields(given, known) -> None:
    """Remember the top-level fields a create or update ignores, for the Warning header."""
    if isinstance(given, dict):
        g.ignored_fields = [name for name in given if name not in known]


@bp.after_request
def warn_about_ignored_fields(response):
    """Fields a request sent that this service does not know are accepted and ignored, as upstream
    does; the answer names them in a Warning header (code 299, "miscellaneous persistent warning")."""
    ignored = g.pop("ignored_fields", None)
    if ignored:
        names = ", ".join(_printable(name)[:60] for name in ignored[:20]) + (", ..." if len(ignored) > 20 else "")
        response.headers["Warning"] = f'299 - "Unknown fields ignored: {names}"'
    return response


def _printable(name: str) -> str:
    """A field name as header text: printable ASCII, no quotes or backslashes."""
    return "".join(c for c in name if " " <= c <= "~" and c not in '"\\') or "?"


def _start_task(document: InputDocument, given: dict):
    """Create the task (once per Idempotency-Key, when the request carries one); its response."""
    webhook_url = checked_webhook_url(given.pop("webhook_url", None), current_app.config["ALLOW_PRIVATE_URLS"])
    configuration = merge_configuration(default_configuration(current_app.config["DEFAULT_EXPIRES_IN"]), given)
    key = idempotency_key()
    if key is not None:
        made = idempotency.claim(g.owner, key, fingerprint(document, given, webhook_url))
        if made is not None:  # a retry of a request that made its task: that task, as it is now
            response = jsonify(task_response(lifecycle.get_task(made, g.owner)))
            response.headers["Idempotent-Replayed"] = "true"
            return response
    try:
        task = lifecycle.create_task(g.owner, configuration, document.file_name,
                                     document.mime_type, document.url, document.data, idempotency_key=key,
                                     webhook_url=webhook_url)
    except BaseException:
        if key is not None:
            idempotency.release(g.owner, key)
        raise
    announce_work()
    g.created_task_id = task.task_id
    metrics.TASKS_CREATED.inc()
    logs.task_event("created", task.task_id, owner=g.owner, document_type=metrics.document_type(task.mime_type),
                    input="url" if document.url else "inline")
    return jsonify(task_response(task))


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, checked (1 to 255 printable ASCII characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip(" \t")
    if not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise BadInput(f"Idempotency-Key must be 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters")
    return key


def fingerprint(document: InputDocument, given: dict, webhook_url: str | None = None) -> str:
    """What makes two creates the same request: the route, the document (its URL, or a digest of
    its bytes), its name and type, and the configuration given (key order and multipart
    boundaries aside)."""
    parts = {"route": request.endpoint.rpartition(".")[2], "url": document.url, "file_name": document.file_name,
             "mime_type": document.mime_type, "given": given,
             "data": hashlib.sha256(document.data).hexdigest() if document.data is not None else None}
    if webhook_url is not None:
        parts["webhook_url"] = webhook_url
    canonical = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


@bp.post("/task/parse")
def create_task():
    """Create a task from a JSON body whose `file` is base64, a data URL or a URL."""
    body = _json_body()
    given = _create_schema.load(body)
    note_unknown_fields(body, _CREATE_FIELDS)
    document = read_file_field(given.pop("file"), given.pop("file_name", None),
                               current_app.config["MAX_FILE_BYTES"])
    return _start_task(document, given)


@bp.post("/task")
def create_task_upload():
    """Create a task from a multipart upload: a `file` part plus JSON-valued config parts."""
    upload = request.files.get("file")
    if upload is None and request.is_json:
        raise BadInput(f"Missing multipart part: file (this route takes a multipart/form-data upload; to send "
                       f"JSON with the document in `file`, POST it to {PREFIXES[request.blueprint]}/task/parse)")
    if upload is None:
        raise BadInput("Missing multipart part: file")
    parts = {}
    for name, value in request.form.items():
        try:
            parts[name] = json.loads(value)
        except ValueError as error:
            if value.lstrip()[:1] in ("{", "[", '"'):
                raise BadInput(f"Multipart part {name} must be a JSON value ({error}); for example "
                               f"chunk_processing={{\"target_length\": 512}}") from None
            parts[name] = value  # a bare string such as Auto
        except RecursionError:
            raise BadInput(f"Multipart part {name} is not usable JSON: nested too deeply") from None
    given = _upload_schema.load(parts)
    note_unknown_fields(parts, _UPLOAD_FIELDS)
    file_name = parts.get("file_name") if isinstance(parts.get("file_name"), str) else upload.filename
    document = checked_document(upload.read(), file_name or None, current_app.config["MAX_FILE_BYTES"],
                                upload.mimetype)
    return _start_task(document, given)


@bp.get("/task/<task_id>")
def get_task(task_id: str):
    """One task; chunks unless include_chunks=false."""
    query = _get_query.load(query_arguments()) if request.query_string else _GET_DEFAULTS
    if request.if_none_match:  # a poll: answer 304 from the task's state, its output unread
        tag = entity_tag(lifecycle.task_state(task_id, g.owner), query)
        if request.if_none_match.contains_weak(tag):
            response = current_app.response_class(status=304)
            response.set_etag(tag, weak=True)
            return response
    task = lifecycle.get_task(task_id, g.owner)
    links = FileLinks(query["base64_urls"])
    response = jsonify(task_response(task, query["include_chunks"], links=links))
    response.set_etag(entity_tag(task, query, links.root), weak=True)
    return response


def entity_tag(state, query: dict, root: str | None = None) -> str:
    """A task response's ETag (weak: the signed URLs in two equal responses differ in their bytes).
    It changes with the task, with what was asked, with the address URLs are made for, and every
    FILE_URL_SECONDS / 2, so that a client kept on 304s holds URLs valid for half their time."""
    window = int(time.time() // max(current_app.config["FILE_URL_SECONDS"] // 2, 1))
    parts = (state.task_id, state.version, state.status, state.message, query["include_chunks"],
             query["base64_urls"], root or service_root(), window)
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


@bp.patch("/task/<task_id>/parse")
def update_task(task_id: str):
    """Re-queue a finished task with a changed configuration. Every field is optional, the body
    too (no body: run it again as it was); it is read only once the task is found and allows an
    update, so a missing or busy task answers as in every other operation."""

    def merged(stored: dict) -> dict:
        body = _json_body() if request.get_data() else {}
        given = _configuration_schema.load(body)
        note_unknown_fields(body, _UPDATE_FIELDS)
        return merge_configuration(stored, given)

    task = lifecycle.queue_update(task_id, g.owner, merged)
    announce_work()
    metrics.TASKS_UPDATED.inc()
    logs.task_event("updated", task_id, owner=g.owner)
    return jsonify(task_response(task))


@bp.route("/task/<task_id>/cancel", methods=["GET", "POST"])
def cancel_task(task_id: str):
    """Cancel a task that has not started (a queued update reverts)."""
    lifecycle.cancel_task(task_id, g.owner)
    metrics.TASKS_CANCELLED.inc()
    logs.task_event("cancelled", task_id, owner=g.owner)
    return plain("Task cancelled", 200)


@bp.delete("/task/<task_id>")
def delete_task(task_id: str):
    """Delete a finished task and its files."""
    lifecycle.delete_task(task_id, g.owner)
    logs.task_event("deleted", task_id, owner=g.owner)
    return plain("Task deleted", 200)


@bp.get("/tasks")
def list_tasks():
    """The caller's tasks, newest first, optionally paged and filtered."""
    query = _list_query.load(query_arguments(merged=("status",)))
    limit, page = query.get("limit"), query.get("page", 1)
    tasks = lifecycle.list_tasks(g.owner, limit=limit,
                                 offset=(page - 1) * limit if limit else 0,
                                 start=query.get("start"), end=query.get("end"),
                                 statuses=query.get("status"))
    return jsonify([task_response(task, query["include_chunks"], query["base64_urls"]) for task in tasks])
