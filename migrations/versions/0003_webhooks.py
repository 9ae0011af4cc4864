"""webhooks: endpoints, owner secrets, the delivery outbox and the triggers that fill it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Every status change of a task (its INSERT, and an UPDATE whose status differs) writes one outbox
row per destination, by a trigger, so in the transaction of the change itself: no code path that
writes a status (lifecycle, claims, leases, hot single statements, chained statements) can forget
it, and a crash after the commit loses no event. The trigger skips owners without an endpoint and
tasks without a webhook_url: for them the hot path gains one index probe (SQLite, in the trigger's
WHEN) or one function call (PostgreSQL) and writes nothing.

On SQLite, a later migration that rebuilds `tasks` in batch mode (copy, drop, rename) drops these
triggers with the old table: it must create them again (the SQL is below).
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# One row per endpoint of the owner, and one for the task's own webhook_url.
_ROWS = """
    SELECT {event_id}, NEW.task_id, NEW.owner, e.id, e.url, NEW.status, NEW.message, {now}, 'pending', 0, {now}
      FROM webhook_endpoints e WHERE e.owner = NEW.owner
    UNION ALL
    SELECT {event_id}, NEW.task_id, NEW.owner, NULL, NEW.webhook_url, NEW.status, NEW.message, {now}, 'pending', 0,
           {now}
     WHERE NEW.webhook_url IS NOT NULL
"""
_COLUMNS = ("webhook_deliveries (event_id, task_id, owner, endpoint_id, url, status, message, occurred_at, state, "
            "attempts, next_attempt_at)")

# SQLite: a trigger's WHEN may hold a subquery, so a task nobody listens to costs one index probe.
# The time in the text form SQLAlchemy's DATETIME writes and reads (milliseconds are enough).
_SQLITE_ROWS = _ROWS.format(event_id="'msg_' || lower(hex(randomblob(16)))",
                            now="strftime('%Y-%m-%d %H:%M:%f', 'now')")
_SQLITE_LISTENED = "(NEW.webhook_url IS NOT NULL OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE owner = NEW.owner))"
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER webhook_outbox_insert AFTER INSERT ON tasks
        WHEN {_SQLITE_LISTENED}
        BEGIN INSERT INTO {_COLUMNS} {_SQLITE_ROWS}; END""",
    f"""CREATE TRIGGER webhook_outbox_update AFTER UPDATE OF status ON tasks
        WHEN OLD.status IS NOT NEW.status AND {_SQLITE_LISTENED}
        BEGIN INSERT INTO {_COLUMNS} {_SQLITE_ROWS}; END""",
)

# PostgreSQL: a trigger's WHEN cannot hold a subquery; the function's INSERT finds no row instead.
# now() is the time of the transaction that made the change.
_POSTGRESQL_ROWS = _ROWS.format(event_id="'msg_' || replace(gen_random_uuid()::text, '-', '')", now="now()")
POSTGRESQL_TRIGGERS = (
    f"""CREATE FUNCTION webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO {_COLUMNS} {_POSTGRESQL_ROWS};
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER webhook_outbox_insert AFTER INSERT ON tasks
       FOR EACH ROW EXECUTE FUNCTION webhook_outbox()""",
    """CREATE TRIGGER webhook_outbox_update AFTER UPDATE OF status ON tasks
       FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION webhook_outbox()""",
)


def upgrade():
    op.add_column('tasks', sa.Column('webhook_url', sa.Text(), nullable=True))
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhook_endpoints_owner', 'webhook_endpoints', ['owner'], unique=False)
    op.create_table('webhook_secrets',
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('owner')
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'], unique=False,
                    postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.create_index('ix_webhook_deliveries_owner', 'webhook_deliveries', ['owner', 'id'], unique=False)
    triggers = POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS webhook_outbox_update ON tasks" if op.get_bind().dialect.name == "postgresql"
               else "DROP TRIGGER IF EXISTS webhook_outbox_update")
    op.execute("DROP TRIGGER IF EXISTS webhook_outbox_insert ON tasks" if op.get_bind().dialect.name == "postgresql"
               else "DROP TRIGGER IF EXISTS webhook_outbox_insert")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS webhook_outbox()")
    op.drop_index('ix_webhook_deliveries_owner', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_secrets')
    op.drop_index('ix_webhook_endpoints_owner', table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('webhook_url')
