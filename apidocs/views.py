"""`GET /openapi.json` (also under /api/v1) and `GET /docs`, Swagger UI served from this service."""
from __future__ import annotations

import importlib.util
import os

from flask import Blueprint, Flask, Response, current_app, jsonify, send_from_directory

from apidocs.operations import V1_PREFIX
from apidocs.spec import build_spec
from web.errors import plain
from web.storage import service_root

bp = Blueprint("apidocs", __name__)

# The page runs no inline script and loads nothing from another host: Swagger UI's bundle and its
# stylesheet come from the swagger-ui-py package, the few lines that start it from static/.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-url="openapi.json"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/docs-init.js"></script>
</body>
</html>
"""
_SWAGGER_UI = os.path.join(importlib.util.find_spec("swagger_ui").submodule_search_locations[0], "static")
_OWN = os.path.join(os.path.dirname(__file__), "static")
ASSETS = {"swagger-ui-bundle.js": _SWAGGER_UI, "swagger-ui.css": _SWAGGER_UI, "favicon-32x32.png": _SWAGGER_UI,
          "docs-init.js": _OWN}


def init_app(app: Flask, version: str) -> None:
    """Serve the document of `app` (built on first request, once) and its page."""
    app.extensions["apidocs"] = {"version": version, "document": None}
    app.register_blueprint(bp)


def openapi_spec() -> dict:
    """The document, built once per app: the routes and schemas do not change while it runs."""
    state = current_app.extensions["apidocs"]
    if state["document"] is None:
        state["document"] = build_spec(current_app, state["version"])
    return state["document"]


@bp.get("/openapi.json")
@bp.get(f"{V1_PREFIX}/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this service; no key needed."""
    document = {**openapi_spec(), "servers": [{"url": f"{service_root()}/", "description": "This service"}]}
    response = jsonify(document)
    response.headers["Access-Control-Allow-Origin"] = "*"  # readable by an editor or generator on another origin
    return response


@bp.get("/docs")
def docs_page():
    """The API documentation, rendered by Swagger UI."""
    page = PAGE.format(title=openapi_spec()["info"]["title"])
    return Response(page, mimetype="text/html", headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


@bp.get("/docs/assets/<name>")
def docs_asset(name: str):
    """Swagger UI's files and the script that starts it."""
    folder = ASSETS.get(name)
    if folder is None:
        return plain("Not found", 404)
    response = send_from_directory(folder, name, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
