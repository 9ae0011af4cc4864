"""Alembic environment: migrate the database the Flask app is configured with."""
from alembic import context
from flask import current_app

from tasks.drivers import for_engine

target_metadata = current_app.extensions["migrate"].db.metadata


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(url=current_app.config["SQLALCHEMY_DATABASE_URI"],
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations over the app's engine (in batch mode where the driver says so)."""
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=for_engine(engine).migrate_in_batches,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
