"""The webhook routes of the caller's owner: endpoints, the owner's secret, deliveries (under /api/v1)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import fields, validate

from schemas import BaseSchema, WebhookUrl, no_nul, utc_timestamp
from web.auth import authenticate
from web.errors import plain
from webhooks import endpoints, outbox

bp = Blueprint("webhooks", __name__)


class EndpointSchema(BaseSchema):
    """The body of an endpoint registration."""

    url = WebhookUrl(required=True)


class DeliveriesQuerySchema(BaseSchema):
    """The query string of the deliveries list."""

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    state = fields.String(validate=validate.OneOf(outbox.STATES))
    task_id = fields.String(validate=[validate.Length(max=36), no_nul])


_endpoint_schema = EndpointSchema()
_deliveries_query = DeliveriesQuerySchema()


@bp.before_request
def require_api_key():
    """Every webhook route needs a valid key, and sees only its owner's endpoints and deliveries."""
    authenticate()


def endpoint_response(endpoint, secret: bool = False) -> dict:
    """An endpoint as JSON; its secret only when it was just made."""
    shown = {"id": endpoint.id, "url": endpoint.url, "created_at": utc_timestamp(endpoint.created_at)}
    return {**shown, "secret": endpoint.secret} if secret else shown


def delivery_response(delivery) -> dict:
    """A delivery as JSON: the event, where it goes, and how its attempts went."""
    return {"id": delivery.id, "event_id": delivery.event_id, "task_id": delivery.task_id,
            "endpoint_id": delivery.endpoint_id, "url": delivery.url, "status": delivery.status,
            "message": delivery.message, "occurred_at": utc_timestamp(delivery.occurred_at),
            "state": delivery.state, "attempts": delivery.attempts,
            "next_attempt_at": utc_timestamp(delivery.next_attempt_at) if delivery.state == outbox.PENDING else None,
            "last_error": delivery.last_error, "delivered_at": utc_timestamp(delivery.delivered_at)}


@bp.get("/webhooks")
def list_webhooks():
    """The caller's endpoints, without their secrets."""
    return jsonify([endpoint_response(endpoint) for endpoint in endpoints.list_endpoints(g.owner)])


@bp.post("/webhooks")
def create_webhook():
    """Register an endpoint for every task of the caller; its secret is shown in this answer only."""
    given = _endpoint_schema.load(request.get_json(silent=True) or {})
    endpoints.check_url(given["url"], current_app.config["ALLOW_PRIVATE_URLS"], field="url")
    endpoint = endpoints.add_endpoint(g.owner, given["url"])
    return jsonify(endpoint_response(endpoint, secret=True)), 201


@bp.delete("/webhooks/<endpoint_id>")
def delete_webhook(endpoint_id: str):
    """Remove one of the caller's endpoints; its pending deliveries end as failed."""
    try:
        endpoints.remove_endpoint(endpoint_id, g.owner)
    except endpoints.EndpointNotFound:
        return plain("Webhook endpoint not found", 404)
    return plain("Webhook endpoint deleted", 200)


@bp.get("/webhooks/secret")
def get_webhook_secret():
    """The secret signing the events sent to the caller's tasks' own `webhook_url` (made at first use)."""
    return jsonify({"secret": endpoints.owner_secret(g.owner)})


@bp.post("/webhooks/secret")
def rotate_webhook_secret():
    """Replace that secret by a new one."""
    return jsonify({"secret": endpoints.owner_secret(g.owner, rotate=True)})


@bp.get("/webhooks/deliveries")
def list_webhook_deliveries():
    """The caller's deliveries, newest first: state, attempts, last error (`state`, `task_id`, `limit`)."""
    query = _deliveries_query.load(request.args.to_dict())
    found = outbox.list_deliveries(g.owner, limit=query["limit"], state=query.get("state"),
                                   task_id=query.get("task_id"))
    return jsonify([delivery_response(delivery) for delivery in found])
