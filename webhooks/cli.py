"""`flask webhooks`: add, list and remove endpoints, show an owner's secret, list deliveries."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from schemas import utc_timestamp
from webhooks import endpoints, outbox

webhooks_cli = AppGroup("webhooks", help="Manage webhook endpoints and see their deliveries.")


@webhooks_cli.command("add")
@click.option("--owner", required=True, help="Whose tasks' events the endpoint receives.")
@click.argument("url")
def add_webhook_command(owner: str, url: str) -> None:
    """Register URL for every task of OWNER; prints its id and its secret (shown this once)."""
    try:
        endpoints.check_url(url, current_app.config["ALLOW_PRIVATE_URLS"], field="url")
    except endpoints.UnsafeUrl as error:
        raise click.ClickException(str(error)) from None
    endpoint = endpoints.add_endpoint(owner, url)
    click.echo(f"{endpoint.id}\t{endpoint.secret}")


@webhooks_cli.command("list")
@click.option("--owner", default=None, help="Only this owner's endpoints.")
def list_webhooks_command(owner: str | None) -> None:
    """Endpoints: id, owner, URL, created (no secrets)."""
    for endpoint in endpoints.list_endpoints(owner):
        click.echo(f"{endpoint.id}\t{endpoint.owner}\t{endpoint.url}\t{utc_timestamp(endpoint.created_at)}")


@webhooks_cli.command("remove")
@click.argument("endpoint_id")
def remove_webhook_command(endpoint_id: str) -> None:
    """Remove an endpoint; its pending deliveries end as failed."""
    try:
        endpoints.remove_endpoint(endpoint_id, None)
    except endpoints.EndpointNotFound:
        raise click.ClickException(f"No webhook endpoint {endpoint_id}") from None
    click.echo(f"Removed webhook endpoint {endpoint_id}")


@webhooks_cli.command("secret")
@click.option("--owner", required=True)
@click.option("--rotate", is_flag=True, help="Replace the secret by a new one.")
def secret_command(owner: str, rotate: bool) -> None:
    """Print the secret signing the events sent to the `webhook_url` of OWNER's tasks."""
    click.echo(endpoints.owner_secret(owner, rotate=rotate))


@webhooks_cli.command("deliveries")
@click.option("--owner", default=None, help="Only this owner's deliveries.")
@click.option("--state", default=None, type=click.Choice(outbox.STATES))
@click.option("--task", "task_id", default=None, help="Only this task's events.")
@click.option("--limit", default=50, type=click.IntRange(1, 10_000))
def deliveries_command(owner: str | None, state: str | None, task_id: str | None, limit: int) -> None:
    """Deliveries, newest first: id, state, attempts, task, status, URL, last error."""
    for delivery in outbox.list_deliveries(owner, limit=limit, state=state, task_id=task_id):
        click.echo(f"{delivery.id}\t{delivery.state}\t{delivery.attempts}\t{delivery.task_id}\t{delivery.status}\t"
                   f"{delivery.url}\t{delivery.last_error or ''}")
