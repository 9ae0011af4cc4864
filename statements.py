"""The hot single statements, compiled once by SQLAlchemy and run on the database driver.

A GET, an API key check, a worker's claim, heartbeat and finish are each one statement. Through
SQLAlchemy's Connection each call costs more Python than the query costs the database (an
execution context, a result object, events, a transaction): about 0.4 ms against 0.2 ms. Here
SQLAlchemy still builds, compiles and types every statement (once per database kind), and each
call only binds its values, runs the SQL on a pooled connection of the autocommit engine and
converts the row with the column types' own result processors.

Autocommit: each statement is its own transaction, so it must be one that is correct alone
(every write here is a single guarded UPDATE).
"""
from __future__ import annotations

from collections import namedtuple

from sqlalchemy import exc

from models import db

AUTOCOMMIT_BIND = "autocommit"


def autocommit_engine():
    """The engine whose connections commit every statement by itself."""
    return db.engines[AUTOCOMMIT_BIND]


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


class Prepared:
    """A statement to run alone, in autocommit, many times with different values."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def rows(self, params: dict) -> list:
        """Run the statement; its rows (attribute access by column key)."""
        engine = autocommit_engine()
        compiled = self._compile(engine.dialect)
        arguments = compiled.arguments(params)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, arguments)
                raw_rows = cursor.fetchall() if cursor.description is not None else []
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            # The connection's state is unknown after a driver error: never pool it again.
            connection.invalidate(error)
            raise exc.DBAPIError.instance(compiled.sql, arguments, error,
                                          engine.dialect.loaded_dbapi.Error, dialect=engine.dialect) from error
        finally:
            connection.close()
        return [compiled.convert(raw) for raw in raw_rows]

    def one_or_none(self, params: dict):
        """The single row, or None."""
        rows = self.rows(params)
        if len(rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return rows[0] if rows else None

    def scalar(self, params: dict):
        """The first column of the single row, or None."""
        row = self.one_or_none(params)
        return None if row is None else row[0]
