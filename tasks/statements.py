"""The hot single statements, compiled once by SQLAlchemy and run on the database driver.

A GET, an API key check, a worker's claim, heartbeat and finish are each one statement. Through
SQLAlchemy's Connection each call costs more Python than the query costs the database (an
execution context, a result object, events, a transaction): about 0.4 ms against 0.2 ms. Here
SQLAlchemy still builds, compiles and types every statement (once per database kind), and each
call only binds its values, runs the SQL on a pooled connection of the autocommit engine and
converts the row with the column types' own result processors.

Autocommit: each statement is its own transaction, so it must be one that is correct alone
(every write here is a single guarded UPDATE); statements that must commit together run inside
`transaction()`. A driver error comes out as SQLAlchemy's exception (IntegrityError, ...), and
the connection it happened on is dropped from the pool.

The setting HOT_STATEMENTS (environment or app config) turns this fast path off, for
bench/api.py to measure what it is worth: `core` runs each statement through SQLAlchemy's
Connection.execute on the same autocommit pools, `off` the ordinary way, in a transaction on the
application's engine (BEGIN ... COMMIT); `transaction()` is then the engine's own. docs/database.md
has the figures, and how to add a query.
"""
from __future__ import annotations

import os
from collections import namedtuple
from contextlib import contextmanager

from flask import Flask, current_app
from sqlalchemy import exc

from models import db

AUTOCOMMIT_BIND = "autocommit"
RELAXED_BIND = "relaxed"  # autocommit too, and its commits do not wait for the disk (drivers/postgresql.py)
HOT_STATEMENTS_MODES = ("on", "core", "off")


def configure_hot_statements(app: Flask) -> None:
    """Read HOT_STATEMENTS (test config, else the environment; `on` unless said otherwise)."""
    mode = str(app.config.get("HOT_STATEMENTS", os.environ.get("HOT_STATEMENTS", "on"))).strip().lower()
    if mode not in HOT_STATEMENTS_MODES:
        raise RuntimeError(f"Invalid HOT_STATEMENTS={mode!r}: expected one of {', '.join(HOT_STATEMENTS_MODES)}")
    app.config["HOT_STATEMENTS"] = mode


def autocommit_engine(durable: bool = True):
    """The engine whose connections commit every statement by itself."""
    return db.engines[AUTOCOMMIT_BIND if durable else RELAXED_BIND]


class _Compiled:
    """One statement compiled for one database kind, with its value converters."""

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("statements with expanding parameters cannot be prepared")
        self.sql = compiled.string
        self.positions = compiled.positiontup  # the parameter order, for positional drivers
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items()
                         if not bind.required}
        self.bind_processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind_processors[name] = processor
        columns = list(statement.exported_columns)
        self.returns_rows = bool(columns)
        self.row = namedtuple("Row", [column.key for column in columns])
        self.result_processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                                  for column in columns]

    def arguments(self, params: dict):
        values = {**self.defaults, **params}
        for name, process in self.bind_processors.items():
            values[name] = process(values[name])
        return values if self.positions is None else [values[name] for name in self.positions]

    def convert(self, raw: tuple):
        return self.row(*[value if process is None or value is None else process(value)
                          for process, value in zip(self.result_processors, raw)])


class Transaction:
    """Several prepared statements in one transaction: on a driver cursor of an autocommit
    connection, or (fast path off) on a SQLAlchemy Connection."""

    def __init__(self, cursor=None, connection=None):
        self.cursor = cursor
        self.connection = connection


@contextmanager
def transaction():
    """BEGIN ... COMMIT around the prepared statements run with the yielded Transaction."""
    if current_app.config["HOT_STATEMENTS"] != "on":
        with db.engine.begin() as connection:
            yield Transaction(connection=connection)
        return
    engine = autocommit_engine()
    connection = engine.raw_connection()
    try:
        try:
            cursor = _cursor(engine, connection)
        except exc.DBAPIError as error:
            connection.invalidate(error.orig)
            raise
        try:
            _execute(engine, cursor, "BEGIN", None)
            yield Transaction(cursor)
            _execute(engine, cursor, "COMMIT", None)
        except BaseException:
            try:
                cursor.execute("ROLLBACK")
            except engine.dialect.loaded_dbapi.Error as error:
                connection.invalidate(error)
            raise
        finally:
            cursor.close()
    finally:
        connection.close()


def _cursor(engine, connection):
    """A driver cursor; a connection that cannot give one (closed, broken) raises SQLAlchemy's error."""
    try:
        return connection.cursor()
    except engine.dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(None, None, error, engine.dialect.loaded_dbapi.Error,
                                      dialect=engine.dialect) from error


def _execute(engine, cursor, sql: str, arguments, returns_rows: bool = False) -> list[tuple]:
    """Run SQL on a driver cursor; its rows. Driver errors come out as SQLAlchemy's."""
    try:
        cursor.execute(sql, arguments) if arguments is not None else cursor.execute(sql)
        # Known from the statement: asking the cursor (`description`) costs more than the fetch.
        return cursor.fetchall() if returns_rows else []
    except engine.dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(sql, arguments, error, engine.dialect.loaded_dbapi.Error,
                                      dialect=engine.dialect) from error


class Prepared:
    """A statement to run many times with different values: alone in autocommit, or in a Transaction."""

    def __init__(self, statement, durable: bool = True):
        """durable=False: the commit does not wait for the disk; only for writes whose loss in
        a database crash is harmless (a claim, a heartbeat, a progress message)."""
        self.statement = statement
        self.durable = durable
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def rows(self, params: dict, within: Transaction | None = None) -> list:
        """Run the statement; its rows (attribute access by column key)."""
        if within is not None and within.connection is not None:
            return self._through_sqlalchemy(within.connection, params)
        mode = current_app.config["HOT_STATEMENTS"]
        if mode != "on":
            engine = autocommit_engine(self.durable) if mode == "core" else db.engine
            with engine.begin() as connection:
                return self._through_sqlalchemy(connection, params)
        engine = autocommit_engine(self.durable)
        compiled = self._compile(engine.dialect)
        arguments = compiled.arguments(params)
        if within is not None:
            raw_rows = _execute(engine, within.cursor, compiled.sql, arguments, compiled.returns_rows)
        else:
            connection = engine.raw_connection()
            try:
                cursor = _cursor(engine, connection)
                try:
                    raw_rows = _execute(engine, cursor, compiled.sql, arguments, compiled.returns_rows)
                finally:
                    cursor.close()
            except exc.DBAPIError as error:
                # The connection's state is unknown after a driver error: never pool it again.
                connection.invalidate(error.orig)
                raise
            finally:
                connection.close()
        return [compiled.convert(raw) for raw in raw_rows]

    def _through_sqlalchemy(self, connection, params: dict) -> list:
        """The fast path off: SQLAlchemy's own execution."""
        result = connection.execute(self.statement, params)
        return result.all() if result.returns_rows else []

    def one_or_none(self, params: dict, within: Transaction | None = None):
        """The single row, or None."""
        rows = self.rows(params, within)
        if len(rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return rows[0] if rows else None

    def scalar(self, params: dict, within: Transaction | None = None):
        """The first column of the single row, or None."""
        row = self.one_or_none(params, within)
        return None if row is None else row[0]
