"""Bad input of every kind: a plain-text 4xx that names the problem, never a 500 (SPEC.md §2, §3, §8)."""
from __future__ import annotations

import io
import json
import time
import zipfile
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from helpers import MARKDOWN, b64, create, finish

from web import files

MISSING_ID = "00000000-0000-0000-0000-000000000000"
LIMIT = 1000


def zip_archive() -> bytes:
    """A small zip file, a type the service does not take."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def assert_plain(response, status: int, text: str | None = None, contains: tuple[str, ...] = ()) -> str:
    """The response is a plain-text answer with this status, this body or these parts; returns the body."""
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:300]
    assert response.content_type.startswith("text/plain"), response.content_type
    assert "<html" not in body.lower() and "Traceback" not in body
    if text is not None:
        assert body == text
    for part in contains:
        assert part in body, body[:300]
    return body


def names_field(body: str, *names: str) -> bool:
    """Whether a 400 body names one of the given spellings of a field."""
    return any(name.lower() in body.lower() for name in names)


@pytest.fixture
def small_client(app_config, request):
    """A client of a service whose MAX_FILE_BYTES is 1000 (set before the app is built)."""
    app_config["MAX_FILE_BYTES"] = LIMIT
    return request.getfixturevalue("client")


@pytest.fixture
def succeeded_task(app, client, auth) -> str:
    """The id of a task forced to Succeeded."""
    task_id = create(client, auth)["task_id"]
    finish(app, task_id)
    return task_id


# --- The shape of a JSON body -------------------------------------------------------------

@pytest.mark.parametrize("body", [b'{"file": ', b"[]", b'["a"]', b'"just text"', b"null", b"5", b"",
                                  b"\xff\xfe{}"],
                         ids=["malformed", "array", "array-of-string", "string", "null", "number", "empty",
                              "not-utf8"])
def test_create_body_that_is_not_a_json_object(client, auth, body):
    """A body that is not a JSON object is a 400 that says JSON was expected."""
    response = client.post("/api/v1/task/parse", data=body,
                           headers={**auth, "Content-Type": "application/json"})
    assert_plain(response, 400, contains=("JSON",))


def test_create_body_that_is_a_form(client, auth):
    """A form-encoded body on the JSON route is a 400 that says JSON was expected."""
    response = client.post("/api/v1/task/parse", data={"file": b64(MARKDOWN)}, headers=auth)
    assert_plain(response, 400, contains=("JSON",))


def test_deeply_nested_json_is_a_400(client, auth):
    """JSON nested deeper than the parser allows is a 400, not a 500."""
    response = client.post("/api/v1/task/parse", data=b"[" * 100_000,
                           headers={**auth, "Content-Type": "application/json"})
    assert_plain(response, 400, contains=("JSON",))


# --- The `file` field --------------------------------------------------------------------

@pytest.mark.parametrize(("body", "text", "contains"), [
    ({}, None, ("file",)),
    ({"file": None}, None, ("file",)),
    ({"file": 5}, None, ("file",)),
    ({"file": {"data": "abc"}}, None, ("file",)),
    ({"file": ["abc"]}, None, ("file",)),
    ({"file": "!!! not base64 !!!"}, None, ("Invalid base64 data", "data URL", "http(s)://")),
    ({"file": "===="}, None, ("Invalid base64 data", "data URL", "http(s)://")),
    ({"file": b64(zip_archive())}, "Unsupported file type: application/zip", ()),
    ({"file": b64(bytes(range(256)) * 4)}, "Unsupported file type: application/octet-stream", ()),
    ({"file": "data:application/zip;base64," + b64(zip_archive())},
     "Unsupported file type: application/zip", ()),
    ({"file": "data:text/plain,hello"}, None, ("data URL",)),
    ({"file": ""}, None, ("file",)),
    ({"file": "data:text/plain;base64,"}, None, ("empty",)),
    ({"file": "http://"}, None, ("URL",)),
    ({"file": "https://example.com:99999/a.pdf"}, None, ("URL",)),
    ({"file": b64(MARKDOWN), "file_name": 5}, None, ("file_name",)),
], ids=["missing", "null", "number", "object", "array", "garbage-base64", "padding-only", "zip",
        "binary", "zip-data-url", "data-url-not-base64", "empty-string", "empty-document", "url-no-host",
        "url-bad-port", "file_name-number"])
def test_create_with_a_bad_file(client, auth, body, text, contains):
    """A missing, mistyped, undecodable, empty or unsupported document is a 400 naming the problem."""
    response = client.post("/api/v1/task/parse", json=body, headers=auth)
    assert_plain(response, 400, text, contains)


def test_url_with_a_nul_byte_is_an_invalid_url(client, auth):
    """A `file` URL holding a NUL byte is refused with a 400 naming `file`, on every database."""
    response = client.post("/api/v1/task/parse", json={"file": "https://example.com/a\x00b.pdf"},
                           headers=auth)
    assert_plain(response, 400, contains=("file",))


@pytest.mark.parametrize("file_name", ["a\x00b.md", "\x00"], ids=["inside", "alone"])
def test_file_name_with_a_nul_byte_is_never_a_500(client, auth, file_name):
    """A NUL byte in `file_name` is either taken or a 400 naming the field, never a 500."""
    response = client.post("/api/v1/task/parse", json={"file": b64(MARKDOWN), "file_name": file_name},
                           headers=auth)
    if response.status_code != 200:
        assert_plain(response, 400, contains=("file_name",))


# --- Configuration fields (SPEC.md §8) -----------------------------------------------------

BAD_CONFIGURATION = [
    ({"chunk_processing": {"target_length": "512"}}, ["chunk_processing.target_length"]),
    ({"chunk_processing": {"target_length": 51.2}}, ["chunk_processing.target_length"]),
    ({"chunk_processing": {"target_length": True}}, ["chunk_processing.target_length"]),
    ({"chunk_processing": {"target_length": -1}}, ["chunk_processing.target_length"]),
    ({"chunk_processing": {"target_length": 0}}, ["chunk_processing.target_length"]),
    ({"chunk_processing": {"tokenizer": {"Enum": "Nope"}}}, ["chunk_processing.tokenizer"]),
    ({"chunk_processing": {"tokenizer": "Nope"}}, ["chunk_processing.tokenizer"]),
    ({"chunk_processing": {"tokenizer": 5}}, ["chunk_processing.tokenizer"]),
    ({"chunk_processing": {"ignore_headers_and_footers": "no"}},
     ["chunk_processing.ignore_headers_and_footers"]),
    ({"chunk_processing": "big"}, ["chunk_processing"]),
    ({"high_resolution": "yes"}, ["high_resolution"]),
    ({"high_resolution": 1}, ["high_resolution"]),
    ({"ocr_strategy": "Maybe"}, ["ocr_strategy"]),
    ({"segmentation_strategy": "Paragraph"}, ["segmentation_strategy"]),
    ({"error_handling": "Ignore"}, ["error_handling"]),
    ({"expires_in": -1}, ["expires_in"]),
    ({"expires_in": "3600"}, ["expires_in"]),
    ({"expires_in": 1.5}, ["expires_in"]),
    ({"segment_processing": "Markdown"}, ["segment_processing"]),
    ({"segment_processing": ["Table"]}, ["segment_processing"]),
    ({"segment_processing": {"table": {"format": "Pdf"}}},
     ["segment_processing.table.format", "segment_processing.Table.format"]),
    ({"segment_processing": {"list_item": {"strategy": "Magic"}}},
     ["segment_processing.list_item.strategy", "segment_processing.ListItem.strategy"]),
    ({"segment_processing": {"Table": "Html"}}, ["segment_processing.Table"]),
    ({"llm_processing": {"temperature": "hot"}}, ["llm_processing.temperature"]),
    ({"llm_processing": {"temperature": "0.5"}}, ["llm_processing.temperature"]),
    ({"llm_processing": {"temperature": True}}, ["llm_processing.temperature"]),
    ({"llm_processing": {"max_completion_tokens": 0}}, ["llm_processing.max_completion_tokens"]),
    ({"llm_processing": {"fallback_strategy": "Sometimes"}}, ["llm_processing.fallback_strategy"]),
    ({"llm_processing": "gpt"}, ["llm_processing"]),
    ({"pipeline": "Other"}, ["pipeline"]),
]
BAD_CONFIGURATION_IDS = [
    "target_length-string", "target_length-float", "target_length-bool", "target_length-negative",
    "target_length-zero", "tokenizer-unknown-enum", "tokenizer-unknown-name", "tokenizer-number",
    "ignore_headers-string", "chunk_processing-string", "high_resolution-yes", "high_resolution-1",
    "ocr_strategy", "segmentation_strategy", "error_handling", "expires_in-negative", "expires_in-string",
    "expires_in-float", "segment_processing-string", "segment_processing-list", "table-format",
    "list_item-strategy", "table-string", "temperature-string", "temperature-numeric-string",
    "temperature-bool", "max_completion_tokens-zero",
    "fallback_strategy", "llm_processing-string", "pipeline",
]


@pytest.mark.parametrize(("fields", "names"), BAD_CONFIGURATION, ids=BAD_CONFIGURATION_IDS)
def test_create_with_a_bad_configuration_field(client, auth, fields, names):
    """A known field with a wrong type or value is a 400 whose text names the field, and no task."""
    response = client.post("/api/v1/task/parse", json={"file": b64(MARKDOWN), **fields}, headers=auth)
    body = assert_plain(response, 400)
    assert names_field(body, *names), body
    assert client.get("/api/v1/tasks", headers=auth).json == []


@pytest.mark.parametrize(("fields", "names"), [
    ({"high_resolution": "yes"}, ["high_resolution"]),
    ({"chunk_processing": {"target_length": "512"}}, ["chunk_processing.target_length"]),
    ({"segment_processing": {"table": {"format": "Pdf"}}},
     ["segment_processing.table.format", "segment_processing.Table.format"]),
    ({"expires_in": -5}, ["expires_in"]),
], ids=["high_resolution", "target_length", "table-format", "expires_in"])
def test_update_with_a_bad_configuration_field(client, auth, succeeded_task, fields, names):
    """PATCH with a bad field is a 400 naming it, and leaves the task as it was."""
    before = client.get(f"/api/v1/task/{succeeded_task}", headers=auth).json
    response = client.patch(f"/api/v1/task/{succeeded_task}/parse", json=fields, headers=auth)
    body = assert_plain(response, 400)
    assert names_field(body, *names), body
    after = client.get(f"/api/v1/task/{succeeded_task}", headers=auth).json
    assert (after["status"], after["message"]) == ("Succeeded", before["message"])
    assert after["configuration"] == {**before["configuration"],
                                      "input_file_url": after["configuration"]["input_file_url"]}


@pytest.mark.parametrize("body", [b"{", b"[]", b"null"], ids=["malformed", "array", "null"])
def test_update_body_that_is_not_a_json_object(client, auth, succeeded_task, body):
    """PATCH with a body that is not a JSON object is a 400 that says JSON was expected."""
    response = client.patch(f"/api/v1/task/{succeeded_task}/parse", data=body,
                            headers={**auth, "Content-Type": "application/json"})
    assert_plain(response, 400, contains=("JSON",))


def test_unknown_fields_are_ignored(client, auth):
    """Fields the service does not know are ignored (SPEC.md §8), at the top and inside objects."""
    response = client.post("/api/v1/task/parse", headers=auth, json={
        "file": b64(MARKDOWN), "colour": "blue", "model": {"any": 1},
        "chunk_processing": {"target_length": 100, "shape": "round"},
        "segment_processing": {"Table": {"format": "Markdown", "sparkle": True}, "Hologram": {}},
    })
    assert response.status_code == 200, response.text
    configuration = response.json["configuration"]
    assert "colour" not in configuration and "model" not in configuration
    assert configuration["chunk_processing"]["target_length"] == 100
    assert "shape" not in configuration["chunk_processing"]
    assert configuration["segment_processing"]["Table"]["format"] == "Markdown"
    assert "sparkle" not in configuration["segment_processing"]["Table"]
    assert "Hologram" not in configuration["segment_processing"]


@pytest.mark.parametrize("expires_in", [10**15, 10**30], ids=["1e15", "1e30"])
def test_expires_in_too_large_for_a_date_is_never_a_500(client, auth, expires_in):
    """An expires_in no date can hold is refused at create, or the task can still be cancelled."""
    response = client.post("/api/v1/task/parse", json={"file": b64(MARKDOWN), "expires_in": expires_in},
                           headers=auth)
    if response.status_code != 200:
        assert_plain(response, 400, contains=("expires_in",))
        return
    cancel = client.get(f"/api/v1/task/{response.json['task_id']}/cancel", headers=auth)
    assert_plain(cancel, 200, "Task cancelled")


# --- Size (MAX_FILE_BYTES) -----------------------------------------------------------------

def document_of(size: int) -> bytes:
    """A Markdown document of exactly `size` bytes."""
    head = b"# Title\n\n"
    return head + b"a" * (size - len(head))


def test_document_at_the_limit_is_accepted(small_client, auth):
    """A document of exactly MAX_FILE_BYTES is taken."""
    response = small_client.post("/api/v1/task/parse", json={"file": b64(document_of(LIMIT))}, headers=auth)
    assert response.status_code == 200, response.text


def test_base64_document_over_the_limit(small_client, auth):
    """A base64 document one byte over MAX_FILE_BYTES is a 413 that states the limit."""
    response = small_client.post("/api/v1/task/parse", json={"file": b64(document_of(LIMIT + 1))},
                                 headers=auth)
    assert_plain(response, 413, contains=(str(LIMIT),))


def test_data_url_document_over_the_limit(small_client, auth):
    """A data URL document over MAX_FILE_BYTES is a 413 that states the limit."""
    url = "data:text/markdown;base64," + b64(document_of(5 * LIMIT))
    response = small_client.post("/api/v1/task/parse", json={"file": url}, headers=auth)
    assert_plain(response, 413, contains=(str(LIMIT),))


def test_uploaded_document_over_the_limit(small_client, auth):
    """A multipart upload over MAX_FILE_BYTES is a 413 that states the limit."""
    response = small_client.post("/api/v1/task", headers=auth,
                                 data={"file": (io.BytesIO(document_of(LIMIT + 1)), "big.md")})
    assert_plain(response, 413, contains=(str(LIMIT),))


def test_request_body_far_over_the_limit(small_client, auth):
    """A body too large to read at all is a 413 that states the limit, not Werkzeug's HTML page."""
    response = small_client.post("/api/v1/task/parse", data=b"x" * 2_000_000,
                                 headers={**auth, "Content-Type": "application/json"})
    assert_plain(response, 413, contains=(str(LIMIT),))


# --- Multipart upload ----------------------------------------------------------------------

def test_upload_without_a_file_part(client, auth):
    """A multipart upload with no `file` part is a 400 naming the part."""
    response = client.post("/api/v1/task", data={"high_resolution": "true"}, headers=auth)
    assert_plain(response, 400, contains=("file",))


def test_upload_that_is_not_multipart(client, auth):
    """A JSON body on the upload route is a 400 naming the missing `file` part."""
    response = client.post("/api/v1/task", json={"file": b64(MARKDOWN)}, headers=auth)
    assert_plain(response, 400, contains=("file",))


def test_upload_of_an_empty_file(client, auth):
    """An empty uploaded file is a 400 that says so."""
    response = client.post("/api/v1/task", data={"file": (io.BytesIO(b""), "empty.md")}, headers=auth)
    assert_plain(response, 400, contains=("empty",))


def test_upload_of_an_unsupported_type(client, auth):
    """An uploaded zip is a 400 naming its type."""
    response = client.post("/api/v1/task", data={"file": (io.BytesIO(zip_archive()), "a.zip")}, headers=auth)
    assert_plain(response, 400, "Unsupported file type: application/zip")


@pytest.mark.parametrize(("part", "value"), [
    ("high_resolution", "yes"),
    ("chunk_processing", "{not json"),
    ("chunk_processing", json.dumps({"target_length": "long"})),
    ("expires_in", json.dumps("3600")),
    ("segment_processing", json.dumps({"table": {"format": "Pdf"}})),
], ids=["high_resolution", "chunk_processing-not-json", "target_length", "expires_in-string", "table-format"])
def test_upload_with_a_bad_config_part(client, auth, part, value):
    """A config part with a wrong value is a 400 naming the field."""
    response = client.post("/api/v1/task", headers=auth,
                           data={"file": (io.BytesIO(MARKDOWN), "doc.md"), part: value})
    assert_plain(response, 400, contains=(part,))


def test_upload_with_a_nul_byte_in_the_file_name_is_never_a_500(client, auth):
    """An uploaded file whose name holds a NUL byte is taken or refused with a 400, never a 500."""
    response = client.post("/api/v1/task", headers=auth, data={"file": (io.BytesIO(MARKDOWN), "a\x00.md")})
    if response.status_code != 200:
        assert_plain(response, 400, contains=("file",))


# --- Query strings -------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "text", "field"), [
    ("page=1", "Limit is required when page is provided", None),
    ("page=3", "Limit is required when page is provided", None),
    ("limit=ten", None, "limit"),
    ("limit=-1", None, "limit"),
    ("limit=", None, "limit"),
    ("limit=2.5", None, "limit"),
    ("page=0&limit=5", None, "page"),
    ("page=first&limit=5", None, "page"),
    ("start=yesterday", None, "start"),
    ("start=2024-01-01T00:00:00", None, "start"),
    ("end=2024-13-01T00:00:00Z", None, "end"),
    ("status=Done", None, "status"),
    ("status=Starting,Finished", None, "status"),
    ("status=starting", None, "status"),
    ("include_chunks=maybe", None, "include_chunks"),
    ("base64_urls=2", None, "base64_urls"),
], ids=["page-alone", "page-3-alone", "limit-word", "limit-negative", "limit-empty", "limit-float",
        "page-zero", "page-word", "start-word", "start-no-offset",
        "end-month-13", "status-unknown", "status-one-unknown", "status-lowercase", "include_chunks",
        "base64_urls"])
def test_list_with_a_bad_query(client, auth, query, text, field):
    """A bad list query is a 400 naming the parameter (or SPEC.md's exact text for page alone)."""
    create(client, auth)
    response = client.get(f"/api/v1/tasks?{query}", headers=auth)
    assert_plain(response, 400, text, (field,) if field else ())


@pytest.mark.parametrize(("query", "field", "listed"), [
    ("page=100000000000000000000&limit=1", "page", 0),
    ("page=10000000000000000&limit=1000", "page", 0),
    ("start=9999-12-31T23:59:59-01:00", "start", 0),
    ("end=9999-12-31T23:59:59-23:59", "end", 1),
], ids=["page-1e20", "page-1e16", "start-after-year-9999", "end-after-year-9999"])
def test_list_query_beyond_what_can_be_stored_is_never_a_500(client, auth, query, field, listed):
    """A page or date past what the database or a datetime holds gets the right list or a 400, never a 500."""
    create(client, auth)
    response = client.get(f"/api/v1/tasks?{query}", headers=auth)
    if response.status_code == 200:
        assert len(response.json) == listed
    else:
        assert_plain(response, 400, contains=(field,))


@pytest.mark.parametrize("query", ["include_chunks=maybe", "include_chunks=", "base64_urls=perhaps"],
                         ids=["include_chunks-word", "include_chunks-empty", "base64_urls-word"])
def test_get_with_a_bad_query(client, auth, query):
    """A bad flag on GET of an existing task is a 400 naming the parameter."""
    task_id = create(client, auth)["task_id"]
    response = client.get(f"/api/v1/task/{task_id}?{query}", headers=auth)
    assert_plain(response, 400, contains=(query.partition("=")[0],))


# --- Routing -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/task/parse", "/tasks/extra",
                                  "/api/v1/task/x/y/z", "/files/only-one-part"])
def test_unknown_route_is_a_plain_404(client, auth, path):
    """A path the service does not serve is a plain-text 404, with or without a key."""
    assert_plain(client.get(path, headers=auth), 404)
    assert_plain(client.get(path), 404)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", f"/task/{MISSING_ID}", "GET"),
    ("PUT", f"/api/v1/task/{MISSING_ID}", "DELETE"),
    ("PATCH", f"/api/v1/task/{MISSING_ID}", "GET"),
    ("DELETE", "/tasks", "GET"),
    ("DELETE", "/api/v1/tasks", "GET"),
    ("POST", "/api/v1/tasks", "GET"),
    ("GET", "/api/v1/task", "POST"),
    ("DELETE", f"/api/v1/task/{MISSING_ID}/cancel", "POST"),
    ("POST", "/health", "GET"),
], ids=["put-task", "put-task-v1", "patch-task-without-parse", "delete-tasks", "delete-tasks-v1",
        "post-tasks", "get-upload", "delete-cancel", "post-health"])
def test_wrong_method_is_a_plain_405(client, auth, method, path, allowed):
    """A method a route does not take is a plain-text 405 with an Allow header."""
    response = client.open(path, method=method, headers=auth)
    assert_plain(response, 405)
    assert allowed in response.headers["Allow"]


# --- Authentication (SPEC.md §3) -----------------------------------------------------------

AUTH_ROUTES = [
    ("GET", "/api/v1/tasks"),
    ("GET", "/tasks"),
    ("POST", "/api/v1/task/parse"),
    ("GET", f"/api/v1/task/{MISSING_ID}"),
    ("GET", f"/task/{MISSING_ID}/cancel"),
    ("DELETE", f"/api/v1/task/{MISSING_ID}"),
    ("PATCH", f"/api/v1/task/{MISSING_ID}/parse"),
]


@pytest.mark.parametrize(("headers", "text"), [
    ({}, "Authorization header is missing"),
    ({"Authorization": ""}, "API key is missing"),
    ({"Authorization": "   "}, "API key is missing"),
    ({"Authorization": "Bearer "}, "API key is missing"),
    ({"Authorization": "bearer"}, "API key is missing"),
    ({"Authorization": "wrong-key"}, "Invalid or inactive API key"),
    ({"Authorization": "Bearer wrong-key"}, "Invalid or inactive API key"),
    ({"Authorization": "test-key-and-more"}, "Invalid or inactive API key"),
], ids=["no-header", "empty", "blank", "bearer-empty", "bearer-alone", "wrong", "bearer-wrong", "key-prefix"])
@pytest.mark.parametrize(("method", "path"), AUTH_ROUTES, ids=[f"{m} {p}" for m, p in AUTH_ROUTES])
def test_bad_credentials_are_a_401(client, method, path, headers, text):
    """Every task route answers a missing, empty or unknown key with SPEC.md's exact 401."""
    response = client.open(path, method=method, headers=headers, json={"file": b64(MARKDOWN)})
    assert_plain(response, 401, text)


@pytest.mark.parametrize("header", ["Bearer test-key", "bearer test-key", "  test-key  "])
def test_bearer_and_padded_keys_are_accepted(client, header):
    """`Bearer <key>` (any case) and a key with surrounding spaces authenticate."""
    response = client.get("/api/v1/tasks", headers={"Authorization": header})
    assert response.status_code == 200, response.text
    assert response.json == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "wrong-key"}], ids=["no-key", "wrong-key"])
def test_health_needs_no_key(client, headers):
    """GET /health answers `OK - Version ...` whatever the key."""
    body = assert_plain(client.get("/health", headers=headers), 200)
    assert body.startswith("OK - Version ") and len(body) > len("OK - Version ")


# --- Bad task ids --------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/task/a%00b"),
    ("GET", "/api/v1/task/a%00b/cancel"),
    ("DELETE", "/api/v1/task/a%00b"),
    ("PATCH", "/api/v1/task/a%00b/parse"),
    ("GET", "/api/v1/task/" + "x" * 5000),
], ids=["get-nul", "cancel-nul", "delete-nul", "update-nul", "get-very-long"])
def test_task_id_that_cannot_exist_is_not_found(client, auth, method, path):
    """An id holding a NUL byte or far too long is `404 Task not found`, on every database."""
    response = client.open(path, method=method, headers=auth, json={})
    assert_plain(response, 404, "Task not found")


# --- Signed file URLs ----------------------------------------------------------------------

def input_file_path(client, auth) -> str:
    """The path and query of a new task's signed input_file_url."""
    url = urlsplit(create(client, auth)["configuration"]["input_file_url"])
    return f"{url.path}?{url.query}"


def test_signed_file_url_serves_the_document(client, auth):
    """The untouched signed URL serves the input (the baseline for the refusals below)."""
    response = client.get(input_file_path(client, auth))
    assert response.status_code == 200
    assert response.content_type.startswith("text/markdown")
    assert response.data == MARKDOWN


@pytest.mark.parametrize("tamper", [
    lambda path: path[:-1] + ("1" if path.endswith("0") else "0"),
    lambda path: path.replace("signature=", "signature=00"),
    lambda path: path.split("&signature=")[0],
    lambda path: path.replace("expires=", "expires=9"),
    lambda path: path.split("?")[0] + "?" + path.split("&")[1],
    lambda path: path.replace("/input?", "/output.pdf?"),
    lambda path: path.replace(path.split("/")[2], MISSING_ID),
    lambda path: path.split("&signature=")[0] + "&signature=%C3%A9" + path.split("&signature=")[1][2:],
], ids=["signature-changed", "signature-longer", "signature-missing", "expires-changed", "expires-missing",
        "other-file-name", "other-task", "signature-not-ascii"])
def test_tampered_file_url_is_a_403(client, auth, tamper):
    """A signed URL whose signature, expiry, file name or task was changed is a plain 403."""
    assert_plain(client.get(tamper(input_file_path(client, auth))), 403)


def test_expired_file_url_is_a_403(app, client, auth, monkeypatch):
    """A signed URL is refused once its expiry has passed."""
    path = input_file_path(client, auth)
    assert client.get(path).status_code == 200
    later = time.time() + app.config["FILE_URL_SECONDS"] + 60
    monkeypatch.setattr(files, "time", SimpleNamespace(time=lambda: later))
    assert_plain(client.get(path), 403)
