"""Deliveries written on the database driver's own connection, beside SQLAlchemy.

Profiling `bench.intake` with a client light enough not to be the bottleneck showed storing a
delivery costing `serve` more than all of Flask and waitress's work on the request, most of it in
SQLAlchemy's statement execution (connection, transaction and result objects, compiled-cache
lookups) around a single INSERT. The INSERT here is the same statement, built once per batch
size; the values go through the columns' own bind processors, so a row is stored exactly as
SQLAlchemy would store it and every other query of the store reads it unchanged.

On PostgreSQL the statement carries the server's own placeholders ($1, $2, ...) and goes through
psycopg's raw cursor: psycopg converts `%s` queries of more than 50 parameters (six rows) anew on
every execution (its cache's limit, `MAX_CACHED_STATEMENT_PARAMS`), in Python, and that cost more
than the rest of the write (8 rows: 0.5 ms of CPU instead of 0.75-1.06 ms). An array per column
(`unnest`) was tried too: psycopg's list dumping made even one row twice as expensive.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from jsm_autopilot.errors import StoreUnavailable

# Far below every backend's limit on parameters in one statement (SQLite: 32,766; PostgreSQL: 65,535).
ROWS_PER_STATEMENT = 500


class _Dropped(Exception):
    """The server closed the connection; writing the batch again is safe, as a stored row is skipped."""


class DeliveryWriter:
    """INSERT ... ON CONFLICT (key) DO NOTHING (RETURNING key on PostgreSQL), for a batch of rows,
    in one statement and one commit. `lock` queues the write behind this process's other writers (SQLite)."""

    def __init__(self, engine: Engine, table: Table, columns: tuple[str, ...], key: str, lock: AbstractContextManager):
        self.engine, self.lock = engine, lock
        dialect = engine.dialect
        self._processors = [(name, table.c[name].type.bind_processor(dialect)) for name in columns]
        quote = dialect.identifier_preparer.quote
        # PostgreSQL's own numbered placeholders, which psycopg's raw cursor sends as they are.
        self._raw_cursor = dialect.name == "postgresql"
        self._width = len(columns)
        self._cursor = dialect.loaded_dbapi.RawCursor if self._raw_cursor else (lambda driver_connection: driver_connection.cursor())
        self._head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in columns)}) VALUES "
        # SQLite without RETURNING: it hands back each returned row in a step of its own, and each
        # step lets go of the interpreter lock and waits to take it back. Which rows were new is
        # known without them (`_new_keys`).
        self._tail = f" ON CONFLICT ({quote(key)}) DO NOTHING" + (f" RETURNING {quote(key)}" if self._raw_cursor else "")
        self._key_at = columns.index(key)
        self._new_since = f"SELECT {quote(key)} FROM {quote(table.name)} WHERE rowid > ? AND rowid <= ?"
        self._statements: dict[int, str] = {}
        self._driver_error = dialect.loaded_dbapi.Error
        # Held from one batch to the next: a pool checkout and return cost more CPU than the INSERT
        # of a batch of four. One leader writes at a time (GroupCommit), so one connection serves.
        self._connection = None

    def _statement(self, rows: int) -> str:
        statement = self._statements.get(rows)
        if statement is None:
            if self._raw_cursor:
                numbered = iter(range(1, rows * self._width + 1))
                values = ", ".join("(" + ", ".join(f"${next(numbered)}" for _ in range(self._width)) + ")" for _ in range(rows))
            else:
                values = ", ".join(["(" + ", ".join(["?"] * self._width) + ")"] * rows)
            statement = self._statements[rows] = self._head + values + self._tail
        return statement

    def _parameters(self, rows: list[dict]) -> list:
        flat = []
        for values in rows:
            for name, process in self._processors:
                value = values[name]
                flat.append(process(value) if process is not None else value)
        return flat

    def write(self, rows: list[dict]) -> set:
        """The keys that were new."""
        statements = [(self._statement(len(chunk)), self._parameters(chunk))
                      for chunk in (rows[start:start + ROWS_PER_STATEMENT] for start in range(0, len(rows), ROWS_PER_STATEMENT))]
        try:
            return self._write_once(statements)
        except _Dropped:
            pass  # the server dropped an idle connection (a restart, an idle timeout): once more on a new one
        try:
            return self._write_once(statements)
        except _Dropped as dropped:
            raise StoreUnavailable(f"cannot store the delivery: {dropped}") from None

    def _write_once(self, statements: list[tuple[str, list]]) -> set:
        with self.lock:
            connection = self._connection
            if connection is None:
                try:
                    connection = self._connection = self.engine.raw_connection()
                except (SQLAlchemyError, self._driver_error) as error:
                    raise StoreUnavailable(f"cannot store the delivery: {error}") from None
            try:
                return self._insert(connection, statements)
            except self._driver_error as error:
                dropped = self.engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
                self._connection = None
                connection.invalidate(error)  # never back into the pool half-way through a transaction
                connection.close()
                if dropped:
                    raise _Dropped(error) from None
                raise StoreUnavailable(f"cannot store the delivery: {error}") from None

    def close(self) -> None:
        with self.lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _new_keys(self, cursor, parameters: list) -> list:
        """SQLite: the keys this INSERT stored. All of them when it stored a row for each (a
        re-delivery is rare); else the rows it numbered, one past the table's largest rowid each
        (SQLite's rule for a table without AUTOINCREMENT, and one writer at a time)."""
        keys = parameters[self._key_at::self._width]
        stored = cursor.rowcount
        if stored == len(keys):
            return keys
        if stored <= 0:
            return []
        last = cursor.lastrowid
        return [row[0] for row in cursor.execute(self._new_since, (last - stored, last)).fetchall()]

    def _insert(self, connection, statements: list[tuple[str, list]]) -> set:
        cursor = self._cursor(connection.dbapi_connection)
        try:
            new = set()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                if self._raw_cursor:
                    new.update(row[0] for row in cursor.fetchall())
                else:
                    new.update(self._new_keys(cursor, parameters))
            connection.commit()  # the intake engine is in autocommit: nothing left to do there
            return new
        finally:
            cursor.close()
